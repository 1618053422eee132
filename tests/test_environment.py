"""requirements.txt (the pins) and environment.yml (conda/Binder) list the same packages."""

from __future__ import annotations

import re
import sys

import yaml

from resnets_kit import REPO_ROOT


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-]+)", line)
            assert match, f"requirements.txt: {line!r} is not pinned as name==version"
            pins[match.group(1).lower()] = match.group(2)
    return pins


def environment() -> tuple[dict, dict[str, str], list[str]]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda = {}
    pip = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = dep["pip"]
        else:
            name, _, version = dep.partition("=")
            conda[name] = version
    pins = {}
    others = []
    for entry in pip:
        if "==" in entry:
            name, version = entry.split("==")
            pins[name.lower()] = version
        else:
            others.append(entry)
    return conda, pins, others


def test_every_requirement_is_pinned_exactly():
    assert requirements(), "requirements.txt lists no packages"


def test_environment_mirrors_requirements():
    conda, pins, others = environment()
    assert pins == requirements()
    assert others == ["-e ."], (
        "environment.yml should install the project itself (pip: -e .) and nothing else"
    )


def test_environment_python_matches_this_python_series():
    conda, _, _ = environment()
    assert conda["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
