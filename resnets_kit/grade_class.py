"""Grade a whole class with one command: nbgrader autograde, feedback and a grades CSV.

Usage::

    python -m resnets_kit.grade_class SUBMISSIONS [--course DIR] [--out grades.csv]
        [--feedback-dir DIR] [--roster FILE] [--timeout SECONDS]
        [--workers N | --scheduler ADDRESS]

SUBMISSIONS is either

- nbgrader's layout (a ``submitted/`` folder): ``SUBMISSIONS/<student_id>/resnets/
  Residual_Networks.ipynb``, with an optional ``timestamp.txt`` beside each notebook; or
- a flat folder of downloads from a learning-management system, one ``.ipynb`` file per student,
  whose file name carries the student id: ``<student_id>.ipynb`` or
  ``<student_id>_<anything>.ipynb`` (for example ``alice_Residual_Networks.ipynb``). The student
  id is the file name up to its first underscore; with ``--roster``, a file whose name is a
  roster id, or starts with a roster id followed by an underscore, belongs to that student (the
  longest such id wins), so roster ids may contain underscores. Two files of the same student are
  an error: the command stops before grading and names both files.

Student ids are made of letters, digits and ``.``, ``-``, ``@``, ``_``, starting with a letter or
a digit. Files that are not ``.ipynb`` and names starting with a dot are ignored.

Each submission is copied into the course folder (``--course DIR``, an nbgrader course root with
``nbgrader_config.py`` and the source assignment ``source/resnets/``; by default a new temporary
course built from the project) as ``submitted/<student_id>/resnets/Residual_Networks.ipynb`` with
a ``timestamp.txt`` (the submission's own, else the file's modification time), then graded by
``nbgrader autograde resnets --student <student_id> --force`` in its own process group, killed
after ``--timeout`` seconds of wall time (default 300), so that no submission can stop the batch.
Only the notebook is copied: files a student edited beside it (their own ``public_tests.py``)
never reach the grader. The course's ``nbgrader_config.py`` makes autograde use
:class:`resnets_kit.trusted.TrustedGrade` instead of running the notebook in a kernel: the graded
functions run in a sandbox process with limits (``c.TrustedGrade.step_timeout`` seconds per
function, ``c.TrustedGrade.memory_limit_mb``), and the checks run in another process on the
models rebuilt from what the sandbox reported (see :mod:`resnets_kit.trusted`).

With ``--workers N`` (N > 1) the submissions are graded N at a time on a local Dask cluster of N
worker processes on 127.0.0.1; with ``--scheduler ADDRESS``, on a running Dask cluster. Each job
grades one student in a scratch copy of the course on its worker, and this process merges its
result into the course folder and gradebook with nbgrader's own steps, so the gradebook, the
feedback and the CSV are those of a run without workers; a job whose worker dies is run again,
and a student whose job took down its worker too often is ``crashed`` (see
:mod:`resnets_kit.distributed`). The default, ``--workers 1``, grades one submission after
another in this process's course folder, without Dask.

Each student gets one status:

- ``graded``: every graded function was run and checked;
- ``timeout``: a graded function ran past its time limit (its test cells score 0, the other
  functions are graded), or the whole submission hit ``--timeout`` (then it scores 0);
- ``out_of_memory``: a graded function went over the memory limit (its test cells score 0);
- ``crashed``: a graded function ended the sandbox process (``os._exit``, a signal, a file over
  the size limit; its test cells score 0), or nbgrader itself could not grade the submission (on
  a cluster: or the workers grading it kept dying);
- ``tampered``: the sandbox changed files the grading relies on (only possible where the sandbox
  has no namespaces of its own); they were restored and the checks ran on the restored files;
- ``invalid``: the file is not a notebook that nbformat can read and validate, or none of its
  cells is one of the graded answer cells (another notebook, or answers copied into a new one);
  it is not run, the detail says what to do, and the student's feedback page says why
  (:func:`submission_problem`);
- ``missing``: a student of ``--roster`` with no submission (or, in nbgrader's layout, a student
  folder without the notebook).

When several functions have verdicts, the status is the first of tampered, crashed,
out_of_memory, timeout, and the detail names each function's verdict. Scores come from the
autograded notebook, with nbgrader's own rule (``nbgrader.utils.determine_grade``: a test cell
with an error output scores 0), so the honest parts of a submission keep their points whatever
another function did. The maximum is the total points of the grade cells of the course's source
notebook; test cells a student deleted are added back and graded.

Notebooks as students leave them are graded: copied cells (the course's
:class:`resnets_kit.normalize.NormalizeSubmission` keeps the last copy of an answer cell that runs
and the first copy of any other cell, and notes it in the autograded notebook, the feedback and
this command's output), cells added, moved or deleted (deleted test cells are added back), outputs
and execution counts, nbformat 4.4 (no cell ids), Windows line endings, and the metadata that
Notebook 7, JupyterLab or VS Code add.

Feedback: ``nbgrader generate_feedback`` runs once for the students of this batch that have an
autograded notebook (``graded`` and most ``timeout`` ones; other students of the course are left
out with ``--CourseDirectory.student_id_exclude``), then once per student whose feedback is still
missing; each HTML is copied to ``--feedback-dir/<student_id>.html`` (default: ``feedback/``
beside the CSV). An ``invalid`` submission gets a page of its own there that says why it was not
graded and what to do (:func:`problem_feedback`). The course's ``HideHiddenTests``
preprocessor (:mod:`resnets_kit.feedback`) keeps hidden tests out of it. nbgrader's output for
each student is written to ``logs/`` beside the CSV (for an ``invalid`` one: why, and what to do).

The CSV (``--out``, default ``grades.csv``) has one row per student, sorted by student id, with
the columns ``student_id, status, score, max_score`` and one per graded function (the points of
the grade cells whose ``grade_id`` starts with the function's name), with one decimal; it holds no
times or paths, so grading the same folder twice writes the same bytes. A summary (students per
status, wall time, seconds per submission) is printed at the end.

Exit status: 0 when the batch completed, whatever the students' statuses; 2 for a usage error
(SUBMISSIONS missing or empty, duplicate submissions, a bad course folder or roster).

This process never imports TensorFlow: student code runs only in the grading sandbox.
"""

from __future__ import annotations

import argparse
import csv
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from tqdm import tqdm

from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME, fresh_course, generate, nbgrader
from resnets_kit.solution import GRADED_FUNCTIONS

#: The statuses, in the order of the summary.
STATUSES = ("graded", "timeout", "out_of_memory", "crashed", "tampered", "invalid", "missing")
#: The CSV's columns.
COLUMNS = ("student_id", "status", "score", "max_score", *GRADED_FUNCTIONS)
#: Default wall-time limit of one submission's autograde (seconds).
DEFAULT_TIMEOUT = 300
#: Wall-time limit of one feedback run (seconds); feedback runs no student code.
FEEDBACK_TIMEOUT = 600

_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")


class UsageError(Exception):
    """The command line or the folders it names cannot be used; the message says why."""


@dataclass
class Result:
    """The outcome of one student's grading.

    Attributes:
        student_id: the student's id.
        status: one of :data:`STATUSES`.
        scores: points per grade cell (``grade_id`` to points) recorded for the student.
        detail: a short explanation for statuses other than ``graded``; for ``graded``, the
            copied cells of the notebook and which copy counted (or empty).
        seconds: wall time of the student's autograde (0 when not run).
        autograded: whether nbgrader wrote the student's autograded notebook.
    """

    student_id: str
    status: str
    scores: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0
    autograded: bool = False


# --- Submissions --------------------------------------------------------------------------------


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
    line endings and other editors' metadata (see :mod:`resnets_kit.normalize`); an answer cell
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
            f"none of the answer cells ({names}) is in the notebook: no cell has their nbgrader "
            "metadata",
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


def problem_feedback(student_id: str, problem: Problem) -> str:
    """The feedback page of a submission that could not be graded.

    Args:
        student_id: the student's id.
        problem: why it could not be graded.

    Returns:
        A small standalone HTML page that says the notebook was not graded, why and what to do;
        every text that can come from the submission is escaped.
    """
    esc = html.escape
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>Feedback: {esc(ASSIGNMENT)}, {esc(student_id)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.5}"
        ".reason{background:#fdecea;border-left:4px solid #c62828;padding:.5em 1em}</style>\n"
        "</head>\n<body>\n"
        f"<h1>Assignment {esc(ASSIGNMENT)}: not graded</h1>\n"
        f"<p>Student: {esc(student_id)}</p>\n"
        f"<p>Your submission could not be graded, so it has no score yet (0 of the points).</p>\n"
        f"<p class=\"reason\">{esc(problem.reason)}</p>\n"
        f"<p><strong>What to do:</strong> {esc(problem.advice)}</p>\n"
        "</body>\n</html>\n"
    )


def duplicate_notes(path: Path) -> list[str]:
    """What grading does with the copied nbgrader cells of a submission, one line per copied cell.

    Args:
        path: a submitted notebook that :func:`submission_problem` accepts.

    Returns:
        :meth:`resnets_kit.normalize.DuplicateCells.describe` of each ``grade_id`` several cells
        share (empty when none does).
    """
    from resnets_kit.normalize import resolve_duplicates

    notebook = nbformat.read(path, as_version=4)
    return [duplicate.describe() for duplicate in resolve_duplicates(notebook, notes=False)]


# --- Course -------------------------------------------------------------------------------------


def check_course(root: Path) -> None:
    """Check that a folder is a course root this command can use.

    Args:
        root: the course folder given with ``--course``.

    Raises:
        UsageError: ``nbgrader_config.py`` or the source notebook is missing.
    """
    if not (root / "nbgrader_config.py").is_file():
        raise UsageError(f"--course {root}: no nbgrader_config.py (not an nbgrader course root)")
    if not (root / "source" / ASSIGNMENT / NOTEBOOK_NAME).is_file():
        raise UsageError(
            f"--course {root}: no source assignment source/{ASSIGNMENT}/{NOTEBOOK_NAME} "
            "(run `python -m resnets_kit.course`)"
        )


def grade_cells(notebook_path: Path) -> dict[str, float]:
    """The grade cells of a notebook and their points.

    Args:
        notebook_path: a notebook with nbgrader metadata.

    Returns:
        ``grade_id`` to points, for the cells with ``nbgrader.grade`` set, in notebook order.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    cells = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = float(meta.get("points", 0))
    return cells


def exercise_of(grade_id: str) -> str | None:
    """The graded function a grade cell belongs to: the longest function name that starts its
    ``grade_id``, or None."""
    names = [name for name in GRADED_FUNCTIONS if grade_id.startswith(name)]
    return max(names, key=len) if names else None


# --- Grading ------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    # nbgrader runs `alembic` (installed beside it) by name when it creates a gradebook.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path)


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill a process, its process group and every descendant (nbgrader starts its kernels in
    sessions of their own, so the process group alone does not reach them)."""
    import psutil  # installed with IPython

    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()


def run_limited(args: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run a command in a new process group, killed with its descendants after ``timeout``.

    Args:
        args: the command.
        cwd: its working folder.
        timeout: wall-time limit in seconds.

    Returns:
        The exit status (None when the limit killed it) and its output (stdout and stderr).
    """
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            args, cwd=cwd, env=_env(), stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            returncode: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            returncode = None
        log.seek(0)
        return returncode, log.read()


def submission_timestamp(notebook: Path) -> bytes:
    """The ``timestamp.txt`` of a submission: the bytes of the one beside the notebook when it is in
    nbgrader's layout and has one, else the file's modification time (UTC)."""
    own_stamp = notebook.parent / "timestamp.txt"
    if notebook.name == NOTEBOOK_NAME and own_stamp.is_file():
        return own_stamp.read_bytes()
    mtime = datetime.fromtimestamp(notebook.stat().st_mtime, UTC)
    return mtime.strftime("%Y-%m-%d %H:%M:%S.%f UTC").encode()


def place_submission(course_root: Path, student_id: str, notebook: Path) -> None:
    """Copy a submission into the course's ``submitted/`` folder, with a ``timestamp.txt``.

    The timestamp is the submission's own ``timestamp.txt`` when it has one, else the file's
    modification time. The student's previous autograded notebook, if any, is removed.

    Args:
        course_root: the course folder.
        student_id: the student's id.
        notebook: the submitted notebook.
    """
    dest = course_root / "submitted" / student_id / ASSIGNMENT
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / NOTEBOOK_NAME
    if not (target.exists() and target.samefile(notebook)):
        stamp = submission_timestamp(notebook)
        shutil.copyfile(notebook, target)
        (dest / "timestamp.txt").write_bytes(stamp)
    old = course_root / "autograded" / student_id / ASSIGNMENT
    if old.exists():
        shutil.rmtree(old)


#: ``ename`` of the error outputs that carry a verdict, to the verdict (see resnets_kit.trusted).
VERDICT_ENAMES = {
    "CellTimeoutError": "timeout",
    "TimeLimitExceeded": "timeout",
    "MemoryLimitExceeded": "out_of_memory",
    "SandboxCrashed": "crashed",
    "TamperingDetected": "tampered",
}
#: When several verdicts apply, the status shows the first of this order.
_VERDICT_ORDER = ("tampered", "crashed", "out_of_memory", "timeout")


def recorded_scores(autograded: Path) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Read the points nbgrader gave each grade cell of an autograded notebook, and its verdicts.

    Args:
        autograded: the autograded notebook.

    Returns:
        ``grade_id`` to points (nbgrader's ``determine_grade``; a cell that needs manual grading
        counts 0), and verdict (``timeout``, ``out_of_memory``, ``crashed``, ``tampered``) to the
        ``grade_id`` (or ``cell <n>``) of each cell with an error output of that verdict
        (:data:`VERDICT_ENAMES`); the first line of its message follows after ``: ``.
    """
    from nbgrader.utils import determine_grade, is_grade

    notebook = nbformat.read(autograded, as_version=4)
    scores: dict[str, float] = {}
    verdicts: dict[str, list[str]] = {}
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        for output in cell.get("outputs", []):
            verdict = (
                VERDICT_ENAMES.get(output.get("ename", "")) if output.get("output_type") == "error" else None
            )
            if verdict:
                where = meta.get("grade_id") or f"cell {index}"
                first = str(output.get("evalue", "")).strip().splitlines()[:1]
                verdicts.setdefault(verdict, []).append(where + (f": {first[0]}" if first else ""))
                break
        if is_grade(cell):
            points, _ = determine_grade(cell)
            scores[meta["grade_id"]] = float(points or 0)
    return scores, verdicts


def _last_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line):
            return line
    return lines[-1] if lines else "no output"


def autograde_student(
    course_root: Path,
    student_id: str,
    timeout: float,
    *,
    wrapper: list[str] | tuple[str, ...] = (),
    options: list[str] | tuple[str, ...] = (),
) -> tuple[Result, str]:
    """Autograde one placed submission in its own process and classify the outcome.

    Args:
        course_root: the course folder, with the submission in ``submitted/``.
        student_id: the student's id.
        timeout: wall-time limit of the autograde, seconds.
        wrapper: a command that runs the nbgrader command given after it (e.g.
            :mod:`resnets_kit.reaper` on a Dask worker).
        options: more command-line options of ``nbgrader autograde``.

    Returns:
        The student's result and nbgrader's output.
    """
    start = time.monotonic()
    returncode, log = run_limited(
        [
            *wrapper,
            sys.executable,
            "-m",
            "nbgrader",
            "autograde",
            ASSIGNMENT,
            "--student",
            student_id,
            "--force",
            *options,
        ],
        course_root,
        timeout,
    )
    seconds = time.monotonic() - start
    folder = course_root / "autograded" / student_id / ASSIGNMENT
    autograded = folder / NOTEBOOK_NAME
    if returncode != 0 and folder.exists():
        # nbgrader copies the submission there before running it; after a failure or a kill, what
        # is left is not a result (an unexecuted notebook would even look like full marks)
        shutil.rmtree(folder)
    scores, verdicts = recorded_scores(autograded) if autograded.is_file() else ({}, {})
    result = Result(student_id, "graded", scores, seconds=seconds, autograded=autograded.is_file())
    if returncode is None:
        result.status, result.detail = "timeout", f"grading ran past --timeout {timeout:g} s and was stopped"
    elif verdicts:
        result.status = next(v for v in _VERDICT_ORDER if v in verdicts)
        # one line per function: the first cell of each function names the verdict
        seen, lines = set(), []
        for line in verdicts[result.status]:
            function = exercise_of(line.split(":")[0]) or line
            if function not in seen:
                seen.add(function)
                lines.append(line.split(": ", 1)[-1] if ": " in line else line)
        result.detail = "; ".join(lines)
    elif "became unresponsive" in log:
        result.status, result.detail = (
            "timeout",
            "the kernel became unresponsive (nbgrader could not interrupt it)",
        )
    elif returncode != 0 or not autograded.is_file():
        result.status = "crashed"
        if "DeadKernelError" in log or "Kernel died" in log:
            result.detail = "the kernel died"
        else:
            result.detail = f"nbgrader failed: {_last_error(log)}"
    return result, log


def generate_feedback(course_root: Path, student_ids: list[str], feedback_dir: Path) -> list[str]:
    """Write the feedback HTML of some students and copy it to ``feedback_dir/<student_id>.html``.

    One ``nbgrader generate_feedback`` run covers the students (the course's other autograded
    students are excluded); a student whose HTML is then missing gets a run of their own.

    Args:
        course_root: the course folder.
        student_ids: students with an autograded notebook.
        feedback_dir: where the HTML files go.

    Returns:
        The students whose feedback could not be written.
    """
    if not student_ids:
        return []

    def html(student_id: str) -> Path:
        return course_root / "feedback" / student_id / ASSIGNMENT / (Path(NOTEBOOK_NAME).stem + ".html")

    for student_id in student_ids:
        if html(student_id).exists():
            html(student_id).unlink()
    others = sorted(
        p.name
        for p in (course_root / "autograded").iterdir()
        if p.is_dir() and p.name not in set(student_ids)
    )
    command = [sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT, "--force"]
    if others:
        command.append("--CourseDirectory.student_id_exclude=" + ",".join(others))
    run_limited(command, course_root, FEEDBACK_TIMEOUT)
    failed = []
    for student_id in student_ids:
        if not html(student_id).exists():
            run_limited([*command[:5], "--student", student_id, "--force"], course_root, FEEDBACK_TIMEOUT)
        if html(student_id).exists():
            shutil.copyfile(html(student_id), feedback_dir / f"{student_id}.html")
        else:
            failed.append(student_id)
    return failed


# --- Report -------------------------------------------------------------------------------------


def csv_rows(results: list[Result], cells: dict[str, float]) -> list[dict[str, str]]:
    """The CSV rows of the results, sorted by student id.

    Args:
        results: one result per student.
        cells: the assignment's grade cells and their points (the maximum).

    Returns:
        One dict per student, keyed by :data:`COLUMNS`, with the numbers formatted with one
        decimal.
    """
    rows = []
    for result in sorted(results, key=lambda r: r.student_id):
        per_exercise = dict.fromkeys(GRADED_FUNCTIONS, 0.0)
        for grade_id in cells:
            exercise = exercise_of(grade_id)
            if exercise:
                per_exercise[exercise] += result.scores.get(grade_id, 0.0)
        score = sum(result.scores.get(grade_id, 0.0) for grade_id in cells)
        row = {
            "student_id": result.student_id,
            "status": result.status,
            "score": f"{score:.1f}",
            "max_score": f"{sum(cells.values()):.1f}",
        }
        row.update({name: f"{per_exercise[name]:.1f}" for name in GRADED_FUNCTIONS})
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """Write the grades CSV (``\\n`` line ends, so the bytes depend only on the rows).

    Args:
        path: the CSV file.
        rows: rows keyed by :data:`COLUMNS`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def summary(results: list[Result], wall: float) -> str:
    """The summary printed at the end of a batch.

    Args:
        results: one result per student.
        wall: the batch's wall time in seconds.

    Returns:
        Lines with the students per status, the wall time, the seconds per graded submission, and
        one line per student whose status is not ``graded`` or whose result has a detail (a
        graded notebook with copied cells: which copy was graded).
    """
    counts = Counter(result.status for result in results)
    run = [result for result in results if result.seconds > 0]
    per = sum(result.seconds for result in run) / len(run) if run else 0.0
    lines = [
        f"{len(results)} students: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]),
        f"wall time {wall:.1f} s; {len(run)} submissions autograded, {per:.1f} s per submission",
    ]
    for result in sorted(results, key=lambda r: r.student_id):
        if result.status != "graded" or result.detail:
            lines.append(f"  {result.student_id}: {result.status}: {result.detail}")
    return "\n".join(lines)


# --- Command ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m resnets_kit.grade_class",
        description="Autograde every submission of a folder with nbgrader; write grades.csv and feedback.",
    )
    parser.add_argument(
        "submissions",
        type=Path,
        help=f"nbgrader layout (<student_id>/{ASSIGNMENT}/{NOTEBOOK_NAME}) or flat "
        "<student_id>[_<anything>].ipynb files",
    )
    parser.add_argument(
        "--course",
        type=Path,
        help="an nbgrader course root with its source assignment (default: a new temporary course)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("grades.csv"), help="grades CSV (default: grades.csv)"
    )
    parser.add_argument(
        "--feedback-dir", type=Path, help="where <student_id>.html goes (default: feedback/ beside --out)"
    )
    parser.add_argument("--roster", type=Path, help="text file with one student id per line")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"wall-time limit per submission, seconds (default {DEFAULT_TIMEOUT})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="grade on a local Dask cluster of this many worker processes (default 1: one after "
        "another, without Dask)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on a running Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need this "
        "project installed; see README.md)",
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.scheduler and args.workers != 1:
        parser.error("--workers starts a local cluster; it cannot be combined with --scheduler")
    return args


def grade_class(
    submissions: Path,
    course_root: Path,
    out: Path,
    feedback_dir: Path,
    roster: list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 1,
    scheduler: str | None = None,
) -> list[Result]:
    """Grade every submission of a folder in a course and write the CSV, feedback and logs.

    Args:
        submissions: the SUBMISSIONS folder.
        course_root: a course folder with the assignment generated (``release/`` written).
        out: the grades CSV.
        feedback_dir: where the feedback HTML files go.
        roster: student ids expected to submit; those without a submission are ``missing``.
        timeout: wall-time limit of one autograde, seconds.
        workers: 1 grades the submissions one after another in this process's course folder;
            more grades them on a local Dask cluster of that many worker processes
            (:mod:`resnets_kit.distributed`).
        scheduler: the address of a running Dask cluster's scheduler to grade on (``workers`` is
            then not used).

    Returns:
        One result per student, sorted by student id.

    Raises:
        UsageError: see :func:`find_submissions`.
    """
    start = time.monotonic()
    found, empty = find_submissions(submissions, roster)
    log_dir = out.parent / "logs"
    for folder in (feedback_dir, log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    results = [Result(sid, "missing", detail=f"no {NOTEBOOK_NAME} in the student's folder") for sid in empty]
    results += [
        Result(sid, "missing", detail="on the roster, no submission")
        for sid in roster or ()
        if sid not in found and sid not in empty
    ]
    to_grade = []
    notes: dict[str, list[str]] = {}
    for student_id, notebook in sorted(found.items()):
        (feedback_dir / f"{student_id}.html").unlink(missing_ok=True)
        problem = submission_problem(notebook)
        if problem:
            # not run; the student still gets a page that says why, the instructor a log line
            results.append(Result(student_id, "invalid", detail=problem.detail()))
            (feedback_dir / f"{student_id}.html").write_text(problem_feedback(student_id, problem))
            (log_dir / f"{student_id}.log").write_text(
                f"{notebook}: not graded (invalid)\nwhy: {problem.reason}\nwhat to do: {problem.action}\n"
            )
        else:
            notes[student_id] = duplicate_notes(notebook)
            to_grade.append(student_id)
    with_notebook = []
    progress = tqdm(total=len(to_grade), desc="autograde", unit="student", file=sys.stderr)

    def report(result: Result, log: str, note: str = "") -> None:
        (log_dir / f"{result.student_id}.log").write_text(log)
        copied = notes.get(result.student_id)
        if copied:
            note = "; ".join([*([note] if note else []), *copied])
            if not result.detail:
                result.detail = "; ".join(copied)
        results.append(result)
        points = sum(result.scores.values())
        progress.update()
        progress.write(
            f"{result.student_id}: {result.status}, {points:.1f} points, {result.seconds:.1f} s"
            + (f" ({note})" if note else ""),
            sys.stderr,
        )
        if result.autograded:
            with_notebook.append(result.student_id)

    try:
        if workers == 1 and not scheduler:
            for student_id in to_grade:
                progress.set_postfix_str(student_id)
                place_submission(course_root, student_id, found[student_id])
                report(*autograde_student(course_root, student_id, timeout))
        else:
            from resnets_kit.distributed import grade_on_cluster  # imports Dask

            grade_on_cluster(
                {sid: found[sid] for sid in to_grade},
                course_root,
                timeout,
                report,
                workers=workers,
                scheduler=scheduler,
            )
    finally:
        progress.close()
    with_notebook.sort()
    if with_notebook:
        print(f"writing feedback for {len(with_notebook)} students ...", file=sys.stderr)
    for student_id in generate_feedback(course_root, with_notebook, feedback_dir):
        print(f"warning: no feedback could be written for {student_id}", file=sys.stderr)
    cells = grade_cells(course_root / "source" / ASSIGNMENT / NOTEBOOK_NAME)
    results.sort(key=lambda r: r.student_id)
    write_csv(out, csv_rows(results, cells))
    print(summary(results, time.monotonic() - start))
    print(f"grades: {out}\nfeedback: {feedback_dir}/")
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        0 when the batch completed, 2 for a usage error (its message is printed on stderr).
    """
    args = parse_args(argv)
    feedback_dir = args.feedback_dir or args.out.parent / "feedback"
    options = (args.timeout, args.workers, args.scheduler)
    try:
        roster = read_roster(args.roster) if args.roster else None
        find_submissions(args.submissions, roster)  # usage errors before any course is built
        if args.course:
            check_course(args.course)
            course_root = args.course.resolve()
            if not (course_root / "release" / ASSIGNMENT / NOTEBOOK_NAME).is_file():
                nbgrader(course_root, "generate_assignment", ASSIGNMENT, "--force")
            grade_class(args.submissions, course_root, args.out, feedback_dir, roster, *options)
        else:
            with tempfile.TemporaryDirectory(prefix="grade_class_") as tmp:
                print("building a temporary course ...", file=sys.stderr)
                course_root = fresh_course(Path(tmp))
                generate(course_root)
                grade_class(args.submissions, course_root, args.out, feedback_dir, roster, *options)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Run the imported module's main, so that resnets_kit.distributed, which imports it, shares its
    # classes (UsageError, Result) with this command instead of those of a second copy.
    from resnets_kit import grade_class

    sys.exit(grade_class.main())
