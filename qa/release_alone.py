"""The course release works alone: a student who receives only the release folder (a JupyterHub
with the course's packages installed, not this project) can run every cell and validate.

What a run does:

1. generate the release with nbgrader in a temporary course (``resnets_kit.course``) and copy the
   release folder elsewhere, as a student receives it;
2. fill the three answer cells with the reference solution and set ``fast = True`` (tiny
   experiments, a short training), as a student who finished would run it;
3. execute every cell (``jupyter nbconvert --execute``) and run ``nbgrader validate``, both in the
   copied folder and in an environment with only the students' packages.

The environment, two ways:

- ``guarded`` (default, seconds to set up): this virtual environment, with an import guard
  (a ``sitecustomize`` module on ``PYTHONPATH``, so it is active in the kernel as well) that
  refuses every module outside the students' set: a module of a distribution that is not in the
  closure of ``pyproject.toml``'s ``dependencies`` (``dask``, ``pytest``, ``playwright`` ...; by
  their files in site-packages, see :func:`blocked_files`), and
  any module whose file lies in this repository instead of the release folder (``resnets_kit``,
  ``qa``, the repository's copy of ``resnets_utils``): to the code that runs, they are not
  installed (``import`` raises ``ModuleNotFoundError``, ``importlib.util.find_spec`` answers ``None``).
- ``fresh`` (minutes, downloads from the package index): a new virtual environment made with
  ``python -m venv`` and ``pip install -r requirements.txt`` from the release folder itself.

``python -m qa.release_alone [--env guarded|fresh] [--keep DIR]`` prints what each step did and
exits 1 when a cell fails or validation does not report success.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path

import nbformat
from packaging.requirements import Requirement

from resnets_kit import REPO_ROOT, course, dependencies, run_notebook, solution

#: What ``nbgrader validate`` prints when every test cell passes.
VALIDATE_SUCCESS = "Success! Your notebook passes all the tests."
CELL_TIMEOUT = 900

_GUARD = '''\
"""Import guard of qa.release_alone: only the students' packages and the release folder."""
import importlib.abc
import json
import os
import sys

with open(os.environ["RELEASE_ALONE_GUARD"], encoding="utf-8") as _file:
    _SETTINGS = json.load(_file)
_BLOCKED = frozenset(_SETTINGS["blocked"])
_REPO = os.path.normcase(_SETTINGS["repo"]) + os.sep
_PYTHON = tuple(os.path.normcase(p) + os.sep for p in _SETTINGS["python"])


class _Filtered(importlib.abc.MetaPathFinder):
    """One finder of sys.meta_path, blind to the modules a student does not have."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if not hasattr(self.finder, "find_spec"):
            return None
        spec = self.finder.find_spec(name, path, target)
        origin = os.path.normcase(os.path.abspath(spec.origin)) if spec and spec.origin else ""
        if origin in _BLOCKED:
            return None  # as if not installed: imports raise ModuleNotFoundError, probes get None
        if origin.startswith(_REPO) and not origin.startswith(_PYTHON):
            return None  # the repository's copy of a module: only the release folder's counts
        return spec

    def __getattr__(self, name):  # find_distributions (importlib.metadata), invalidate_caches ...
        return getattr(self.finder, name)


sys.meta_path[:] = [_Filtered(finder) for finder in sys.meta_path]
'''


def normalised(name: str) -> str:
    """A distribution's name as the closure holds it: lower case, ``-`` for ``_`` and ``.``."""
    return name.lower().replace("_", "-").replace(".", "-")


def students_closure() -> set[str]:
    """The distributions the students' set installs here: its requirements whose markers hold on
    this machine, and their dependencies, recursively (extras that a requirement names included).

    Returns:
        Distribution names, :func:`normalised`.
    """

    seen: set[str] = set()
    todo = [(Requirement(entry), ()) for entry in dependencies.requirements("student")]
    while todo:
        requirement, extras = todo.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in extras or ("",)):
            continue
        name = normalised(requirement.name)
        key = name + "[" + ",".join(sorted(requirement.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        wanted = tuple(sorted(requirement.extras))
        for line in requires:
            todo.append((Requirement(line), wanted))
    return {key.partition("[")[0] for key in seen}


def blocked_files(closure: set[str]) -> list[str]:
    """The module files (``.py``, ``.so``, ``.pyd``) of every distribution installed in this
    environment's site-packages that is not in ``closure``: the guard makes them absent.

    Blocking files rather than module names leaves alone a package that another one vendors under
    the same name (setuptools ships its own ``jaraco``), and reads only site-packages, not the
    vendored folders that an imported package may have put on ``sys.path``. The project's own
    modules (``resnets_kit``, ``qa``, the repository's ``resnets_utils``) are refused by path
    instead: they lie in the repository, outside the environment."""
    folders = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    blocked = set()
    for dist in importlib.metadata.distributions(path=folders):
        name = normalised(dist.metadata["Name"] or "")
        if name in closure:
            continue
        for file in dist.files or ():
            if file.suffix in (".py", ".so", ".pyd"):
                blocked.add(os.path.normcase(os.path.abspath(dist.locate_file(file))))
    return sorted(blocked)


def guarded_environment(workdir: Path) -> dict[str, str]:
    """Environment variables that run this Python with the import guard (see the module's text)."""
    guard = workdir / "guard"
    guard.mkdir(parents=True, exist_ok=True)
    (guard / "sitecustomize.py").write_text(_GUARD)
    settings = {
        "blocked": blocked_files(students_closure()),
        "repo": str(REPO_ROOT),
        "python": sorted({sys.prefix, sys.base_prefix}),  # the environment may lie in the repository
    }
    (guard / "settings.json").write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION")}
    return dict(
        env,
        PYTHONPATH=str(guard),
        RELEASE_ALONE_GUARD=str(guard / "settings.json"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        TF_CPP_MIN_LOG_LEVEL="2",
        JUPYTER_CONFIG_DIR=str(workdir / "jupyter-config"),
        IPYTHONDIR=str(workdir / "ipython"),
    )


def fresh_environment(workdir: Path, release: Path) -> dict[str, str]:
    """A new virtual environment with ``pip install -r requirements.txt`` of the release (minutes)."""
    target = workdir / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r",
         str(release / course.REQUIREMENTS_FILE)],
        check=True,
    )  # fmt: skip
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION", "VIRTUAL_ENV")
    }
    return dict(
        env,
        PATH=os.pathsep.join([str(python.parent), env.get("PATH", "")]),
        TF_CPP_MIN_LOG_LEVEL="2",
        JUPYTER_CONFIG_DIR=str(workdir / "jupyter-config"),
        IPYTHONDIR=str(workdir / "ipython"),
    )


def release_copy(workdir: Path) -> Path:
    """Generate the release (nbgrader) in a temporary course and copy its folder to ``workdir/release``."""
    root = course.fresh_course(workdir / "build")
    released = course.generate(root)
    target = workdir / "release"
    shutil.copytree(released.parent, target)
    shutil.rmtree(workdir / "build")
    return target


def fill_answers(notebook: Path) -> None:
    """Put the reference solution into the answer cells and set ``fast = True``, in place."""
    nb = solution.fill_answers(nbformat.read(notebook, as_version=4))
    run_notebook.inject_parameters(nb, fast=True)
    nbformat.write(nb, notebook)


@dataclass
class Report:
    """What a run found: each step's exit status, seconds and the end of its output."""

    executed_ok: bool
    execute_seconds: float
    cell_errors: list[str]
    validate_ok: bool
    validate_seconds: float
    validate_output: str

    @property
    def ok(self) -> bool:
        return self.executed_ok and self.validate_ok and not self.cell_errors


def run(workdir: Path, env_kind: str = "guarded") -> Report:
    """Generate, copy, fill, execute and validate the release in ``workdir`` (see the module's text).

    Raises:
        ValueError: ``env_kind`` is neither ``"guarded"`` nor ``"fresh"``.
        subprocess.CalledProcessError: the fresh environment could not be installed.
    """
    if env_kind not in ("guarded", "fresh"):
        raise ValueError(f"env_kind must be 'guarded' or 'fresh', not {env_kind!r}")
    release = release_copy(workdir)
    notebook = release / course.NOTEBOOK_NAME
    fill_answers(notebook)
    env = guarded_environment(workdir) if env_kind == "guarded" else fresh_environment(workdir, release)
    python = shutil.which("python", path=env["PATH"]) if env_kind == "fresh" else sys.executable

    started = time.perf_counter()
    executed = release / "executed.ipynb"
    result = subprocess.run(
        [python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", course.NOTEBOOK_NAME,
         "--output", executed.name, f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}"],
        cwd=release, env=env, capture_output=True, text=True,
    )  # fmt: skip
    execute_seconds = time.perf_counter() - started
    errors = []
    if executed.exists():
        for index, cell in enumerate(nbformat.read(executed, as_version=4).cells):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    errors.append(f"cell {index}: {output.ename}: {output.evalue}"[:500])
    elif result.returncode != 0:
        errors.append(result.stderr[-2000:])
    executed.unlink(missing_ok=True)

    started = time.perf_counter()
    validated = subprocess.run(
        [python, "-m", "nbgrader", "validate", course.NOTEBOOK_NAME],
        cwd=release, env=env, capture_output=True, text=True,
    )  # fmt: skip
    validate_seconds = time.perf_counter() - started
    output = (validated.stdout + validated.stderr).strip()
    return Report(
        executed_ok=result.returncode == 0,
        execute_seconds=execute_seconds,
        cell_errors=errors,
        validate_ok=validated.returncode == 0 and VALIDATE_SUCCESS in output,
        validate_seconds=validate_seconds,
        validate_output=output[-3000:],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.release_alone", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", choices=("guarded", "fresh"), default="guarded")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        report = run(workdir, args.env)
        print(f"release folder: {sorted(p.name for p in (workdir / 'release').iterdir())}")
        print(f"environment: {args.env}")
        print(
            f"every cell executed: {'yes' if report.executed_ok else 'NO'} ({report.execute_seconds:.0f} s)"
        )
        for error in report.cell_errors:
            print(f"  {error}")
        print(
            f"nbgrader validate: {'success' if report.validate_ok else 'FAILED'} ({report.validate_seconds:.0f} s)"
        )
        lines = report.validate_output.splitlines()
        print("  " + next((line for line in lines if VALIDATE_SUCCESS in line), "\n  ".join(lines[-15:])))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
