"""Submissions as they arrive: a roster, student ids from file names, unusable files.

SUBMISSIONS is nbgrader's layout (``<student_id>/resnets/Residual_Networks.ipynb``) or a flat
folder of downloads, one ``<student_id>[_<anything>].ipynb`` per student (rules in
:func:`flat_student_id`). A file that is not a notebook nbformat can read, or that holds none of
the graded answer cells, is ``invalid`` (:func:`submission_problem`). See
``docs/instructors.md`` (grading a class).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from resnets_kit.assignment import GRADED_FUNCTIONS
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME

_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")


class UsageError(Exception):
    """The command line or the folders it names cannot be used; the message says why."""


def read_roster(path: Path) -> list[str]:
    """Read a roster: one student id per line; blank lines and lines starting with ``#`` are
    skipped.

    Args:
        path: the roster file.

    Returns:
        The student ids, in file order, without duplicates.

    Raises:
        UsageError: the file does not exist or holds an id that is not a valid student id.
    """
    if not path.is_file():
        raise UsageError(f"roster {path} does not exist")
    ids: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        student_id = line.strip()
        if not student_id or student_id.startswith("#"):
            continue
        if not _STUDENT_ID.fullmatch(student_id):
            raise UsageError(f"roster {path}, line {number}: {student_id!r} is not a valid student id")
        if student_id not in ids:
            ids.append(student_id)
    return ids


def flat_student_id(file_name: str, roster: list[str] | None = None) -> str:
    """The student id carried by the name of a downloaded notebook.

    Args:
        file_name: e.g. ``alice.ipynb`` or ``alice_Residual_Networks.ipynb``.
        roster: known student ids; when one of them is the file's stem, or starts it followed by
            an underscore, it is the answer (the longest one).

    Returns:
        The student id: the matching roster id, else the stem up to its first underscore.
    """
    stem = file_name[: -len(".ipynb")] if file_name.endswith(".ipynb") else file_name
    matches = [sid for sid in roster or () if stem == sid or stem.startswith(sid + "_")]
    if matches:
        return max(matches, key=len)
    return stem.split("_", 1)[0]


def find_submissions(folder: Path, roster: list[str] | None = None) -> tuple[dict[str, Path], list[str]]:
    """Find the submitted notebooks of a folder, in nbgrader's layout or flat (see the module).

    The folder is in nbgrader's layout when one of its sub-folders has an ``resnets/`` folder;
    otherwise its ``.ipynb`` files are the submissions.

    Args:
        folder: the SUBMISSIONS folder.
        roster: the roster's ids, used to read ids from flat file names.

    Returns:
        The notebook of each student id, and the ids of student folders without the notebook
        (nbgrader's layout only).

    Raises:
        UsageError: the folder does not exist or holds no submission, a student id is not valid,
            or two flat files belong to the same student.
    """
    if not folder.is_dir():
        raise UsageError(f"submissions folder {folder} does not exist")
    children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    student_dirs = [p for p in children if (p / ASSIGNMENT).is_dir()]
    found: dict[str, Path] = {}
    empty: list[str] = []
    if student_dirs:
        for student_dir in student_dirs:
            _check_student_id(student_dir.name, student_dir)
            notebook = student_dir / ASSIGNMENT / NOTEBOOK_NAME
            if notebook.is_file():
                found[student_dir.name] = notebook
            else:
                empty.append(student_dir.name)
        return found, empty
    for path in children:
        if not (path.is_file() and path.name.endswith(".ipynb")):
            continue
        student_id = flat_student_id(path.name, roster)
        _check_student_id(student_id, path)
        if student_id in found:
            raise UsageError(
                f"two submissions for student {student_id!r}: {found[student_id].name} and {path.name}; "
                "keep one of them (file names are read as <student_id>.ipynb or "
                "<student_id>_<anything>.ipynb)"
            )
        found[student_id] = path
    if not found:
        raise UsageError(
            f"no submissions in {folder}: expected <student_id>/{ASSIGNMENT}/{NOTEBOOK_NAME} folders "
            "or <student_id>[_<anything>].ipynb files"
        )
    return found, empty


def _check_student_id(student_id: str, path: Path) -> None:
    if not _STUDENT_ID.fullmatch(student_id):
        raise UsageError(
            f"{path}: {student_id!r} is not a valid student id "
            "(letters, digits, '.', '-', '@', '_', starting with a letter or a digit)"
        )


@dataclass(frozen=True)
class Problem:
    """Why a submission cannot be graded, and what the instructor and the student can do.

    Attributes:
        reason: what is wrong, in one line; it may quote the file (escape it before putting it
            in HTML).
        action: what the instructor can do about it.
        advice: what the student can do about it (shown in their feedback).
    """

    reason: str
    action: str
    advice: str

    def detail(self) -> str:
        """The line of the summary and of the student's log: the reason, then the action."""
        return f"{self.reason}; {self.action}"


def submission_problem(path: Path) -> Problem | None:
    """Why a submitted file cannot be graded as the assignment's notebook, if it cannot.

    A file cannot be graded when nbformat cannot read and validate it as a notebook (not JSON,
    truncated, not a notebook, an unknown nbformat version), or when none of its cells is one of
    the graded answer cells (no cell carries the nbgrader ``grade_id`` of
    :data:`~resnets_kit.solution.GRADED_FUNCTIONS` with ``solution`` set: another notebook, or the
    answers copied into a new notebook, which loses the cells' metadata). Everything else is
    graded: copied cells, cells added, moved or deleted, outputs, older nbformat versions, other
    line endings and other editors' metadata (see :mod:`resnets_kit.grader.normalize`); an answer cell
    whose type was changed is turned back into a code cell by nbgrader and graded.

    Args:
        path: the submitted file.

    Returns:
        None for a notebook that can be graded, else the :class:`Problem`.
    """
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises JSON, validation, encoding and OS errors
        message = str(error).strip().splitlines()
        return Problem(
            f"not a valid notebook: {type(error).__name__}: {message[0] if message else ''}",
            "open the file to see what it is (empty, cut short, another kind of file, or a notebook "
            "broken by editing it as text) and ask the student to submit the notebook again",
            "Your file could not be read as a Jupyter notebook. Open it in Jupyter to check that it "
            f"is your {NOTEBOOK_NAME}, save it (File > Save Notebook), and submit that .ipynb file "
            "again, without editing it in a text editor.",
        )
    answers = set()
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("solution") and meta.get("grade_id") in GRADED_FUNCTIONS:
            answers.add(meta["grade_id"])
    if not answers:
        names = ", ".join(GRADED_FUNCTIONS)
        return Problem(
            f"none of the answer cells ({names}) is in the notebook: no cell has their nbgrader metadata",
            "it is another notebook, or the answers were copied into a new notebook (which loses the "
            "cells' metadata); ask the student to paste their answers into the answer cells of the "
            f"released {NOTEBOOK_NAME} and submit it, or do so yourself in a copy of the released "
            "notebook and grade that copy",
            f"Your notebook has none of the assignment's answer cells ({names}): it may be another "
            "notebook, or your code was copied into a new notebook, whose cells the grader does not "
            f"recognize. Paste your answers into the answer cells of the {NOTEBOOK_NAME} you were "
            "given (download it again if needed), check it with its tests, and submit that notebook.",
        )
    return None


def notebook_problem(path: Path) -> str:
    """Why a file cannot be graded as the assignment's notebook, if it cannot.

    Args:
        path: the submitted file.

    Returns:
        An empty string for a notebook that can be graded, else the reason and what to do
        (:meth:`Problem.detail` of :func:`submission_problem`).
    """
    problem = submission_problem(path)
    return problem.detail() if problem else ""


def duplicate_notes(path: Path) -> list[str]:
    """What grading does with the copied nbgrader cells of a submission, one line per copied cell.

    Args:
        path: a submitted notebook that :func:`submission_problem` accepts.

    Returns:
        :meth:`resnets_kit.grader.normalize.DuplicateCells.describe` of each ``grade_id`` several cells
        share (empty when none does).
    """
    from resnets_kit.grader.normalize import resolve_duplicates

    notebook = nbformat.read(path, as_version=4)
    return [duplicate.describe() for duplicate in resolve_duplicates(notebook, notes=False)]
