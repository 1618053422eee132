"""Shared fixtures: the reference solution, read from the source notebook once per test session."""

from __future__ import annotations

import pytest

from test_utils import import_tensorflow

import_tensorflow()  # before anything imports TensorFlow, so that its start-up lines stay quiet


@pytest.fixture(scope="session")
def solution() -> dict:
    """Namespace holding the reference ``identity_block``, ``convolutional_block`` and ``ResNet50``."""
    from resnets_kit.solution import load_solution

    return load_solution()
