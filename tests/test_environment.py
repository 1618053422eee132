"""The dependency sets of pyproject.toml, the set-up without make, and environment.yml (conda/Binder).

The resolution test asks the package index (PyPI) whether every set installs, from wheels only,
on every supported platform and Python (``uv pip compile --python-platform``: nothing is
downloaded beyond metadata, nothing installed); it is skipped, saying so, when the index cannot
be reached.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker

from resnets_kit import REPO_ROOT, bootstrap, dependencies

STUDENT_PACKAGES = {"keras", "numpy", "h5py", "matplotlib", "pillow", "jupyterlab", "nbgrader", "ipykernel"}
NOT_FOR_STUDENTS = {"pytest", "ruff", "playwright", "dask", "distributed", "uv", "psutil"}


def names(which: str) -> set[str]:
    return {dependencies.pin(entry)[0] for entry in dependencies.requirements(which)}


def test_each_set_is_pinned_and_holds_the_one_before():
    student, instructor, maintainer = (names(which) for which in dependencies.SETS)
    assert STUDENT_PACKAGES <= student, STUDENT_PACKAGES - student
    assert {"tensorflow", "tensorflow-cpu"} <= student
    assert student < instructor < maintainer
    assert not student & NOT_FOR_STUDENTS, student & NOT_FOR_STUDENTS
    assert {"dask", "distributed", "psutil"} <= instructor and not instructor & {"pytest", "ruff"}
    assert NOT_FOR_STUDENTS <= maintainer


def test_tensorflow_markers_pick_exactly_one_package_per_platform():
    entries = [
        e for e in dependencies.requirements("student") if dependencies.pin(e)[0].startswith("tensorflow")
    ]
    assert len(entries) == 2
    for sys_platform, machine, expected in [
        ("linux", "x86_64", "tensorflow-cpu"),
        ("win32", "AMD64", "tensorflow-cpu"),
        ("darwin", "arm64", "tensorflow"),
        ("linux", "aarch64", "tensorflow"),
    ]:
        chosen = [
            dependencies.pin(e)[0]
            for e in entries
            if Marker(dependencies.pin(e)[2]).evaluate(
                {"sys_platform": sys_platform, "platform_machine": machine}
            )
        ]
        assert chosen == [expected], (sys_platform, machine, chosen)


def test_an_unpinned_requirement_or_a_missing_group_is_an_error(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["numpy>=2"]\n')
    with pytest.raises(ValueError, match="'numpy>=2' is not pinned as name==version"):
        dependencies.requirements("student", pyproject)
    pyproject.write_text('[project]\ndependencies = ["numpy==2.4.6"]\n')
    with pytest.raises(ValueError, match="has no group 'grading'"):
        dependencies.requirements("instructor", pyproject)
    with pytest.raises(ValueError, match="no dependency set 'teacher'"):
        dependencies.requirements("teacher", pyproject)


def test_the_gpu_set_swaps_tensorflow_for_its_cuda_build():
    gpu = dependencies.gpu_requirements(dependencies.requirements("student"))
    version = dependencies.pin(dependencies.requirements("student")[0])[1]
    assert gpu[0] == f"tensorflow[and-cuda]=={version}"
    assert not [e for e in gpu[1:] if dependencies.pin(e)[0].startswith("tensorflow")]
    with pytest.raises(bootstrap.SetupError, match="Linux only.*WSL2"):
        bootstrap.install_plan("student", gpu=True, platform="win32")


def test_this_environment_has_the_pinned_versions():
    wrong = []
    for entry in dependencies.requirements("maintainer"):
        name, version, marker = dependencies.pin(entry)
        if marker and not Marker(marker).evaluate():
            continue
        installed = importlib.metadata.version(name)
        if installed != version:
            wrong.append(f"{name} {installed} (pinned {version})")
    assert not wrong, f"installed versions differ from pyproject.toml: {wrong}; run `make setup`"


def test_every_set_resolves_on_every_supported_platform():
    uv = Path(sys.executable).parent / "uv"
    assert uv.exists(), f"{uv} is missing: install the maintainers' set (make setup)"
    try:
        results = dependencies.resolve_all(str(uv))
    except dependencies.IndexUnreachable as error:
        pytest.skip(f"the package index is unreachable, so resolution cannot be checked: {error}")
    failures = [
        f"{which} set on {name}, Python {python}: {dependencies.failure_cause(text)}"
        for (which, name, python), (ok, text) in results.items()
        if name in dependencies.PLATFORMS and not ok
    ]
    assert not failures, "\n".join(failures)
    for (which, name, python), (ok, text) in results.items():
        if name in dependencies.UNSUPPORTED_PLATFORMS:
            assert not ok and "tensorflow" in dependencies.failure_cause(text), (which, name, python, text)


def test_environment_yml_installs_the_project_and_its_python_series():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in conda
    assert pip == [{"pip": ["-e ."]}], (
        "environment.yml installs the project (its pins come from pyproject.toml)"
    )


# --- the set-up without make --------------------------------------------------------------------


def test_the_bootstrap_needs_only_the_standard_library():
    """``python -S`` (no site-packages) runs it: a fresh Python, as on a student's Windows laptop."""
    result = subprocess.run(
        [sys.executable, "-S", "-m", "resnets_kit.bootstrap", "--venv", "v", "setup", "--dry-run"],
        cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(" -m venv " in line for line in lines), lines
    pip = next(line for line in lines if " -m pip install " in line and " -e " not in line)
    assert "nbgrader==" in pip and "pytest==" not in pip, pip
    assert any("-m resnets_kit.data --dataset digits --optional" in line for line in lines), lines


def test_the_makefile_sets_up_through_the_bootstrap():
    result = subprocess.run(
        ["make", "-n", "setup", "SIGNS_DIR=/data/signs"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "-m resnets_kit.bootstrap --venv .venv setup --for maintainer --signs-dir" in result.stdout


def test_windows_paths_and_an_up_to_date_environment(tmp_path, capsys):
    assert bootstrap.venv_python(Path("v"), windows=True) == Path("v/Scripts/python.exe")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    entries = bootstrap.install_plan("student")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    (venv / bootstrap.STAMP).write_text(bootstrap.stamp_text(entries, version))
    bootstrap.setup(venv, "student", data=False, dry_run=True)
    assert "already installed" in capsys.readouterr().out
    bootstrap.setup(venv, "instructor", data=False, dry_run=True)  # another set: pip runs again
    assert "-m pip install" in capsys.readouterr().out


def test_an_unsupported_python_gets_a_clear_message():
    code = (
        "import sys; sys.version_info = (3, 10, 0, 'final', 0); from resnets_kit import bootstrap; "
        "sys.exit(bootstrap.main(['setup', '--dry-run']))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "needs Python 3.11 or 3.12" in result.stderr, result.stderr


def test_lab_starts_as_root_too_and_takes_jupyterlabs_options(monkeypatch, capsys):
    """JupyterLab refuses to start as root (a container, a cloud machine) without --allow-root."""
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    assert bootstrap.lab_options() == ["--allow-root"]
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert bootstrap.lab_options() == []
    with pytest.raises(SystemExit) as info:
        bootstrap.main(["run", "--port", "1"])  # only `lab` passes options on
    assert info.value.code == 2 and "unrecognized arguments: --port 1" in capsys.readouterr().err


def test_switching_to_and_from_the_gpu_build_removes_the_other_tensorflow(tmp_path, capsys):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    bootstrap.setup(venv, "student", gpu=True, data=False, dry_run=True)
    lines = capsys.readouterr().out.splitlines()
    assert "uninstall --yes tensorflow-cpu" in lines[0] and "tensorflow[and-cuda]==" in lines[1], lines
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    gpu_plan = bootstrap.install_plan("student", gpu=True)
    (venv / bootstrap.STAMP).write_text(bootstrap.stamp_text(gpu_plan, version))
    bootstrap.setup(venv, "student", data=False, dry_run=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("uninstall --yes tensorflow") and "tensorflow-cpu==" in lines[1], lines


def test_the_ready_message_names_the_windows_launcher():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert bootstrap.launcher(windows=True) == f"py -{version}"
    assert bootstrap.launcher(windows=False) == Path(sys.executable).name


def test_jupyterlab_runs_with_the_environments_scripts_on_path(tmp_path):
    """nbgrader's gradebook runs `alembic` by name: without the venv's scripts folder on PATH the
    Formgrader cannot open the gradebook."""
    from resnets_kit.bootstrap import venv_env

    python = tmp_path / ".venv" / "bin" / "python"
    env = venv_env(python)
    assert env["PATH"].split(os.pathsep)[0] == str(python.parent)
    assert env["PATH"].endswith(os.environ.get("PATH", ""))
