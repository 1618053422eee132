"""The course release works alone (qa.release_alone): with only the students' packages and the
release folder, the import guard hides this project and the maintainers' packages, every cell of
the solved release runs, and ``nbgrader validate`` reports success."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from qa import release_alone
from resnets_kit import REPO_ROOT, course

PROBE = """
import importlib.util, json, sys
found = {}
for name in ("resnets_kit", "qa", "dask", "pytest", "playwright", "keras", "nbgrader", "resnets_utils"):
    spec = importlib.util.find_spec(name)
    found[name] = spec.origin if spec else None
try:
    import resnets_kit
    found["import resnets_kit"] = "imported"
except ModuleNotFoundError as error:
    found["import resnets_kit"] = str(error)
import nbgrader.utils  # imports setuptools, whose distutils needs its own vendored jaraco
found["nbgrader.utils"] = "imported"
print(json.dumps(found))
"""


def test_the_guard_hides_the_project_and_the_maintainers_packages(tmp_path):
    # Imported here, setuptools puts its vendored packages (jaraco ...) on sys.path, with their
    # metadata: the guard must not take them for packages a student lacks.
    import setuptools  # noqa: F401

    release = tmp_path / "release"
    release.mkdir()
    shutil.copy2(REPO_ROOT / "resnets_utils.py", release / "resnets_utils.py")
    env = release_alone.guarded_environment(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=release, env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout)
    for hidden in ("resnets_kit", "qa", "dask", "pytest", "playwright"):
        assert found[hidden] is None, (hidden, found[hidden])
    assert found["import resnets_kit"] == "No module named 'resnets_kit'"
    assert found["keras"] and found["nbgrader"] and found["nbgrader.utils"]  # the students' packages
    assert found["resnets_utils"] == str(
        release / "resnets_utils.py"
    )  # the release's copy, not the project's


def test_the_students_closure_holds_what_the_notebook_imports_and_not_the_graders_tools():
    closure = release_alone.students_closure()
    assert {"keras", "numpy", "h5py", "matplotlib", "pillow", "nbgrader", "jupyterlab", "nbclient"} <= closure
    assert not closure & {"dask", "distributed", "pytest", "ruff", "playwright", "uv", "resnets-keras"}


@pytest.mark.slow
def test_the_solved_release_runs_every_cell_and_validates_with_only_the_students_packages(tmp_path):
    report = release_alone.run(tmp_path)
    files = sorted(p.name for p in (tmp_path / "release").iterdir())
    assert course.REQUIREMENTS_FILE in files and "resnets_experiments.py" in files, files
    assert report.executed_ok and not report.cell_errors, report.cell_errors
    assert report.validate_ok, report.validate_output
