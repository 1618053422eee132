"""Shared fixtures: the reference solution, read from the source notebook once per test session,
and the scripts of ``benchmarks/`` as modules."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from test_utils import import_tensorflow

import_tensorflow()  # before anything imports TensorFlow, so that its start-up lines stay quiet


@pytest.fixture(scope="session")
def solution() -> dict:
    """Namespace holding the reference ``identity_block``, ``convolutional_block`` and ``ResNet50``."""
    from resnets_kit.solution import load_solution

    return load_solution()


def _load_benchmark(name: str):
    from resnets_kit import REPO_ROOT

    path = REPO_ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark(name)``: the script ``benchmarks/<name>.py`` imported as a module (the
    folder is not a package; each call imports it afresh)."""
    return _load_benchmark
