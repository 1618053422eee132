"""The code base passes ruff (configuration in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from resnets_kit import REPO_ROOT


def test_ruff_check_passes():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
