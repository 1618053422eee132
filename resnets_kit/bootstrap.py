"""Set the project up and open it, on Linux, macOS and Windows, with Python alone (no ``make``).

Standard library only: it runs with the Python that will create the virtual environment, before
anything is installed. Run it from the repository's root::

    python -m resnets_kit.bootstrap setup              # .venv, the students' dependencies, the data
    python -m resnets_kit.bootstrap lab                # open the student notebook in JupyterLab
    python -m resnets_kit.bootstrap setup --for instructor | maintainer
    python -m resnets_kit.bootstrap setup --gpu        # Linux with an NVIDIA GPU: TensorFlow's CUDA build
    python -m resnets_kit.bootstrap run | test         # the reference notebook / the test suite

(on Windows ``py -3.11 -m resnets_kit.bootstrap setup``). ``make setup`` runs the same ``setup``
with ``--for maintainer``, so the Makefile and these commands cannot drift apart.

``setup`` does, in order:

1. create the virtual environment (default ``.venv/``) with the running Python, unless it exists;
2. install the pinned requirements of the chosen set (:mod:`resnets_kit.dependencies`, read from
   ``pyproject.toml``), then the project itself, editable and without dependencies. A stamp file
   in the environment (``.venv/.installed``) records what was installed; when the requirements
   and the Python are the same, this step is skipped;
3. the data step: the SIGNS files into ``datasets/`` (``python -m resnets_kit.data``; from a local
   folder with ``--signs-dir``), then the Sign Language Digits set, optional (skipped offline).

Exit status: 0 on success; 1 when a step fails (its command and exit status are printed); 2 for
a usage error or an unsupported Python (3.11 and 3.12 are supported).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

from resnets_kit import REPO_ROOT, dependencies

DEFAULT_VENV = REPO_ROOT / ".venv"
STAMP = ".installed"
STUDENT_NOTEBOOK = Path("notebooks") / "Residual_Networks.ipynb"
#: The nbgrader course folder (its configuration is committed; the rest is built).
COURSE_DIR = REPO_ROOT / "course"
#: The Python versions TensorFlow 2.21 and the pins support: those the resolution checks.
SUPPORTED_PYTHONS = tuple(tuple(int(part) for part in version.split(".")) for version in dependencies.PYTHONS)


class SetupError(RuntimeError):
    """A step of the set-up failed; the message names the command and what to do."""


def venv_python(venv_dir: Path, windows: bool = os.name == "nt") -> Path:
    """The Python of a virtual environment: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    return venv_dir / "Scripts" / "python.exe" if windows else venv_dir / "bin" / "python"


def venv_version(venv_dir: Path) -> str | None:
    """The Python version of a virtual environment (``"3.11.7"``), from its ``pyvenv.cfg``; None
    when there is none (not yet created)."""
    config = venv_dir / "pyvenv.cfg"
    if not config.exists():
        return None
    for line in config.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def install_plan(which: str = "student", gpu: bool = False, platform: str = sys.platform) -> list[str]:
    """The requirements ``setup`` installs for one set (see :mod:`resnets_kit.dependencies`).

    Raises:
        SetupError: ``gpu`` on a platform other than Linux (TensorFlow's CUDA build is Linux-only;
            on Windows, use WSL2).
    """
    entries = dependencies.requirements(which)
    if gpu:
        if not platform.startswith("linux"):
            raise SetupError(
                "--gpu installs TensorFlow's CUDA build, which exists for Linux only; on Windows, "
                "set the project up inside WSL2 (Ubuntu) with --gpu, on macOS leave --gpu out"
            )
        entries = dependencies.gpu_requirements(entries)
    return entries


def stamp_text(entries: list[str], python: str) -> str:
    """What the stamp file records: the requirements and the Python version (JSON)."""
    digest = hashlib.sha256("\n".join(entries).encode()).hexdigest()
    return json.dumps({"python": python, "requirements": entries, "sha256": digest}, indent=1) + "\n"


def _run(command: list[str], dry_run: bool, env: dict[str, str] | None = None) -> None:
    shown = subprocess.list2cmdline(command) if os.name == "nt" else shlex.join(command)
    print(f"+ {shown}", flush=True)
    if dry_run:
        return
    result = subprocess.run(command, cwd=REPO_ROOT, env=env)
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(command)}` exited with status {result.returncode}")


def setup(
    venv_dir: Path = DEFAULT_VENV,
    which: str = "student",
    gpu: bool = False,
    signs_dir: str | None = None,
    data: bool = True,
    dry_run: bool = False,
) -> Path:
    """Create the environment, install a dependency set and the project, place the data.

    Args:
        venv_dir: the virtual environment (created with the running Python when missing).
        which: the dependency set: ``"student"``, ``"instructor"`` or ``"maintainer"``.
        gpu: install TensorFlow's CUDA build (``tensorflow[and-cuda]``) instead of the CPU one.
        signs_dir: a local folder holding the SIGNS h5 files (else the data step's own sources).
        data: run the data step.
        dry_run: print the commands without running them.

    Returns:
        The environment's Python.

    Raises:
        SetupError: a step failed, or the combination is not supported (see :func:`install_plan`).
    """
    entries = install_plan(which, gpu)
    python = venv_python(venv_dir)
    if not python.exists():
        print(f"+ {sys.executable} -m venv {venv_dir}", flush=True)
        if not dry_run:
            venv.EnvBuilder(with_pip=True).create(venv_dir)
    version = venv_version(venv_dir) or f"{sys.version_info.major}.{sys.version_info.minor}"
    stamp = venv_dir / STAMP
    wanted = stamp_text(entries, version)
    if stamp.exists() and stamp.read_text() == wanted:
        print(f"{len(entries)} pinned requirements already installed in {venv_dir} ({stamp.name} matches)")
    else:
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        # tensorflow-cpu and tensorflow share one import package: switching between the CPU and
        # the CUDA build removes the other first, so that the two are never installed together.
        previous = stamp.read_text() if stamp.exists() else ""
        switch = ["tensorflow-cpu"] if gpu else ["tensorflow"] if "tensorflow[and-cuda]" in previous else []
        if switch:
            _run([str(python), "-m", "pip", "uninstall", "--yes", *switch], dry_run)
        _run([*pip, *entries], dry_run)
        # --no-build-isolation: setuptools is already there (nbgrader needs it), so no download.
        _run([*pip, "--no-deps", "--no-build-isolation", "-e", str(REPO_ROOT)], dry_run)
        if not dry_run:
            stamp.write_text(wanted)
    if data:
        _run([str(python), "-m", "resnets_kit.data", *(["--from", signs_dir] if signs_dir else [])], dry_run)
        env = {k: v for k, v in os.environ.items() if k != "SIGNS_DIR"}
        _run([str(python), "-m", "resnets_kit.data", "--dataset", "digits", "--optional"], dry_run, env)
    return python


def launcher(windows: bool = os.name == "nt") -> str:
    """How the user starts this Python again: ``py -3.11`` on Windows (the python.org launcher; the
    interpreter itself is often not on PATH there), else the interpreter's name (``python3``)."""
    if windows:
        return f"py -{sys.version_info.major}.{sys.version_info.minor}"
    return Path(sys.executable).name


def venv_env(python: Path) -> dict[str, str]:
    """This process's environment with the virtual environment's scripts folder first on ``PATH``,
    as an activated environment has it: nbgrader's gradebook runs ``alembic`` by name, so the
    Formgrader fails ("Loading, please wait..." for ever, a ``FileNotFoundError`` in the log)
    when JupyterLab runs from a venv that is not activated."""
    return dict(os.environ, PATH=os.pathsep.join([str(python.parent), os.environ.get("PATH", "")]))


def lab_options() -> list[str]:
    """JupyterLab's options for this user: ``--allow-root`` as root (a container, a cloud
    machine), where JupyterLab would otherwise refuse to start."""
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resnets_kit.bootstrap", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the virtual environment (.venv)")
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser("setup", help="create the environment, install, place the data")
    setup_parser.add_argument(
        "--for", dest="which", choices=list(dependencies.SETS), default="student",
        help="the dependency set: student (default), instructor (adds grading), maintainer (adds tests)",
    )  # fmt: skip
    setup_parser.add_argument("--gpu", action="store_true", help="TensorFlow's CUDA build (Linux, NVIDIA)")
    setup_parser.add_argument("--signs-dir", help="local folder with train_signs.h5 and test_signs.h5")
    setup_parser.add_argument("--no-data", dest="data", action="store_false", help="skip the data step")
    setup_parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    commands.add_parser(
        "lab", help="open the student notebook in JupyterLab (other options go to JupyterLab)"
    )
    commands.add_parser(
        "formgrader",
        help="open JupyterLab in the course folder (course/), for nbgrader's Formgrader; builds the "
        "course first if needed (other options go to JupyterLab)",
    )
    commands.add_parser("run", help="execute the reference notebook, print its test accuracy")
    commands.add_parser("test", help="run the test suite")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("lab", "formgrader"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    if args.command == "setup" and sys.version_info[:2] not in SUPPORTED_PYTHONS:
        supported = " or ".join(f"{major}.{minor}" for major, minor in SUPPORTED_PYTHONS)
        print(
            f"This is Python {sys.version.split()[0]}; the pinned TensorFlow needs Python {supported}. "
            "Install one (python.org, or `py -3.11` on Windows) and run this command with it.",
            file=sys.stderr,
        )
        return 2
    venv_dir = args.venv if args.venv.is_absolute() else Path.cwd() / args.venv
    try:
        if args.command == "setup":
            setup(venv_dir, args.which, args.gpu, args.signs_dir, args.data, args.dry_run)
            print(f"\nReady. Open the notebook with:  {launcher()} -m resnets_kit.bootstrap lab")
            return 0
        python = venv_python(venv_dir)
        if not python.exists():
            raise SetupError(f"{venv_dir} has no Python; run `python -m resnets_kit.bootstrap setup` first")
        if args.command == "formgrader":
            # nbgrader's JupyterLab extension reads nbgrader_config.py from the folder JupyterLab
            # starts in, and the Formgrader manages the course folder it names.
            if not (COURSE_DIR / "release").is_dir():
                built = subprocess.run([str(python), "-m", "resnets_kit.course"], cwd=REPO_ROOT)
                if built.returncode != 0:
                    return built.returncode
            (COURSE_DIR / "exchange").mkdir(exist_ok=True)
            print("In JupyterLab: menu Nbgrader > Formgrader (docs/instructors.md#in-the-formgrader).")
            lab = [str(python), "-m", "jupyterlab", *lab_options(), *extra]
            return subprocess.run(lab, cwd=COURSE_DIR, env=venv_env(python)).returncode
        command = {
            "lab": [
                "-m",
                "jupyterlab",
                str(STUDENT_NOTEBOOK),
                *lab_options(),
                *extra,
            ],
            "run": ["-m", "resnets_kit.run_notebook"],
            "test": ["-m", "pytest"],
        }[args.command]
        return subprocess.run([str(python), *command], cwd=REPO_ROOT, env=venv_env(python)).returncode
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
