"""The nbgrader course: build its source assignment from the project's files, generate the
student release with nbgrader, and write the student notebook to ``notebooks/``.

Course folder (``course/``):

- ``nbgrader_config.py``: the course configuration (committed);
- ``source/resnets/``: the source assignment, built by this module from the source notebook,
  the helper modules, the reference outputs and the data (git-ignored);
- ``release/resnets/``: written by ``nbgrader generate_assignment resnets`` (git-ignored);
- ``gradebook.db``: nbgrader's database (git-ignored);
- ``exchange/``: where the Formgrader's Release puts the assignment and students' Submit their
  work, for one user on one machine (git-ignored; see ``docs/instructors.md`` for a JupyterHub).

``python -m resnets_kit.course`` builds the source assignment, runs
``nbgrader generate_assignment`` and copies the released notebook to
``notebooks/Residual_Networks.ipynb``; ``--check`` does the same in a temporary course folder and
exits non-zero when the committed student notebook differs (stale).

In the course copy of the notebook the figures are embedded as cell attachments instead of links
to ``../images/``, so that the released notebook shows them wherever it is opened.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from resnets_kit import REPO_ROOT, dependencies
from resnets_kit.solution import SOURCE_NOTEBOOK

COURSE_ROOT = REPO_ROOT / "course"
ASSIGNMENT = "resnets"
NOTEBOOK_NAME = "Residual_Networks.ipynb"
STUDENT_NOTEBOOK = REPO_ROOT / "notebooks" / NOTEBOOK_NAME
#: Files beside the notebook in the assignment (and in what students receive).
SUPPORT_FILES = (
    "public_tests.py",
    "test_utils.py",
    "resnets_utils.py",
    "resnets_experiments.py",
    "reference_outputs.json",
)
#: The students' pinned requirements, written into the assignment from pyproject.toml, so that a
#: release folder says what it needs (``pip install -r requirements.txt``) without this project.
REQUIREMENTS_FILE = "requirements.txt"
DATA_FILES = ("train_signs.h5", "test_signs.h5")

#: Tag of the markdown cells that hold the model answer of an ungraded question; the course copy
#: replaces their text with ``ANSWER_STUB``, so the model answers stay in the source notebook only.
MODEL_ANSWER_TAG = "model-answer"
ANSWER_STUB = "YOUR ANSWER HERE"

_IMAGE_LINK = re.compile(r"\]\(\.\./images/([A-Za-z0-9_.-]+\.png)\)")


def embed_figures(nb, images_dir: Path = REPO_ROOT / "images"):
    """Replace links to ``../images/NAME.png`` in markdown cells by cell attachments, in place.

    Raises:
        FileNotFoundError: a linked figure does not exist (run ``python -m resnets_kit.figures``).
    """
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        names = _IMAGE_LINK.findall(cell.source)
        if not names:
            continue
        attachments = cell.setdefault("attachments", {})
        for name in names:
            path = images_dir / name
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing; run `python -m resnets_kit.figures`")
            attachments[name] = {"image/png": base64.b64encode(path.read_bytes()).decode("ascii")}
        cell.source = _IMAGE_LINK.sub(r"](attachment:\1)", cell.source)
    return nb


def build_source(root: Path = COURSE_ROOT, data_dir: Path = REPO_ROOT / "datasets") -> Path:
    """Write the source assignment ``root/source/resnets/`` from the project's files.

    Args:
        root: the course folder (holding ``nbgrader_config.py``).
        data_dir: folder with the SIGNS h5 files, copied into the assignment's ``datasets/``
            when present (the notebook's data loading needs them when graded); the Sign
            Language Digits pair in its ``digits/`` subfolder, when present, is copied into
            ``datasets/digits/`` (the notebook's distribution-shift cell reads it).

    Besides the notebook it holds :data:`SUPPORT_FILES` and the students' ``requirements.txt``
    (:data:`REQUIREMENTS_FILE`): nbgrader copies them into the release, which then works alone.

    Returns:
        The assignment folder.
    """
    dest = root / "source" / ASSIGNMENT
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    nb = embed_figures(nbformat.read(SOURCE_NOTEBOOK, as_version=4))
    for cell in nb.cells:
        if MODEL_ANSWER_TAG in cell.metadata.get("tags", []):
            cell.source = ANSWER_STUB
    nbformat.write(nb, dest / NOTEBOOK_NAME)
    for name in SUPPORT_FILES:
        shutil.copy2(REPO_ROOT / name, dest / name)
    (dest / REQUIREMENTS_FILE).write_text(dependencies.requirements_file("student"))
    for src, dst in ((data_dir, dest / "datasets"), (data_dir / "digits", dest / "datasets" / "digits")):
        if all((src / name).exists() for name in DATA_FILES):
            dst.mkdir(parents=True)
            for name in DATA_FILES:
                shutil.copy2(src / name, dst / name)
    return dest


def nbgrader(root: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course folder ``root``; return the finished process.

    Raises:
        RuntimeError: nbgrader exited non-zero; the message holds its output.
    """
    # nbgrader runs `alembic` (installed beside it) by name when it creates a gradebook.
    env = dict(
        os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


#: The course's own exchange folder (``c.Exchange.root`` in the course configuration), where
#: the Formgrader's Release and the students' Submit put files for one user on one machine.
EXCHANGE = "exchange"


def prepare(root: Path = COURSE_ROOT) -> Path:
    """Build the source assignment (:func:`build_source`) and create the course's exchange
    folder (:data:`EXCHANGE`), writable by all as nbgrader's Release and Submit want it (else
    every Release logs that it changed the permissions); return the source assignment folder.
    The Formgrader's Generate then makes the release."""
    source = build_source(root)
    exchange = root / EXCHANGE
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o777)
    return source


def generate(root: Path = COURSE_ROOT) -> Path:
    """Prepare the course (:func:`prepare`) and run ``nbgrader generate_assignment``; return the
    released notebook's path."""
    prepare(root)
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    return root / "release" / ASSIGNMENT / NOTEBOOK_NAME


def fresh_course(parent: Path) -> Path:
    """A new course folder inside ``parent`` holding only the course configuration."""
    root = parent / "course"
    root.mkdir(parents=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if notebooks/ holds a stale student notebook"
    )
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            released = generate(fresh_course(Path(tmp))).read_text()
        if not STUDENT_NOTEBOOK.exists() or STUDENT_NOTEBOOK.read_text() != released:
            print(f"{STUDENT_NOTEBOOK} is stale; run `python -m resnets_kit.course`.", file=sys.stderr)
            return 1
        print(f"{STUDENT_NOTEBOOK} is up to date.")
        return 0
    released = generate(COURSE_ROOT)
    shutil.copy2(released, STUDENT_NOTEBOOK)
    print(f"released {released}\nwrote {STUDENT_NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
