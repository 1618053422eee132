"""One student's autograde: place the submission, run ``nbgrader autograde``, read its status.

Each student gets one status:

- ``graded``: every graded function was run and checked;
- ``timeout``: a graded function ran past its time limit (its test cells score 0, the other
  functions are graded), or the whole submission hit ``--timeout`` (then it scores 0);
- ``out_of_memory``: a graded function went over the memory limit (its test cells score 0);
- ``process_limit``: a graded function started more processes than the sandbox allows (a fork
  bomb; its test cells score 0);
- ``crashed``: a graded function ended the sandbox process (``os._exit``, a signal, a file over
  the size limit; its test cells score 0), or nbgrader itself could not grade the submission (on
  a cluster: or the workers grading it kept dying);
- ``tampered``: the sandbox changed files the grading relies on (only possible where the
  instructor turned the sandbox's confinement off); they were restored and the checks ran on the restored files;
- ``invalid``: the file is not a notebook that nbformat can read and validate, or none of its
  cells is one of the graded answer cells (another notebook, or answers copied into a new one);
  it is not run, the detail says what to do, and the student's feedback page says why
  (:func:`~resnets_kit.classgrade.submissions.submission_problem`);
- ``missing``: a student of ``--roster`` with no submission (or, in nbgrader's layout, a student
  folder without the notebook).

When several functions have verdicts, the status is the first of tampered, crashed,
process_limit, out_of_memory, timeout, and the detail names each function's verdict. Scores come from the
autograded notebook, with nbgrader's own rule (``nbgrader.utils.determine_grade``: a test cell
with an error output scores 0), so the honest parts of a submission keep their points whatever
another function did. The maximum is the total points of the grade cells of the course's source
notebook; test cells a student deleted are added back and graded.

Verdicts are read back from the ``ename`` of the autograded notebook's error outputs
(:data:`resnets_kit.grader.outcomes.VERDICT_ENAMES`). For instructors: ``docs/instructors.md``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from resnets_kit.assignment import exercise_of
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME
from resnets_kit.grader.outcomes import VERDICT_ENAMES, VERDICT_PRECEDENCE
from resnets_kit.grader.process import run_watched

#: The statuses, in the order of the summary.
STATUSES = (
    "graded",
    "timeout",
    "out_of_memory",
    "process_limit",
    "crashed",
    "tampered",
    "invalid",
    "missing",
)
#: Default wall-time limit of one submission's autograde (seconds).
DEFAULT_TIMEOUT = 300


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


def nbgrader_env() -> dict[str, str]:
    """This process's environment, with this Python's folder first on ``PATH``: nbgrader runs
    ``alembic`` (installed beside it) by name when it creates a gradebook."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path)


def run_limited(args: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run a command in a session of its own, killed with its descendants after ``timeout``
    (:func:`resnets_kit.grader.process.run_watched`, which the grading sandbox runs under too).

    Args:
        args: the command.
        cwd: its working folder.
        timeout: wall-time limit in seconds.

    Returns:
        The exit status (None when the limit killed it) and its output (stdout and stderr).
    """
    end = time.monotonic() + timeout
    with tempfile.TemporaryFile("w+") as log:
        watched = run_watched(args, cwd=cwd, env=nbgrader_env(), deadline=lambda: end, output=log)
        log.seek(0)
        return watched.returncode, log.read()


def submission_timestamp(notebook: Path) -> bytes:
    """The ``timestamp.txt`` of a submission: the bytes of the one beside the notebook when it is in
    nbgrader's layout and has one, else the file's modification time (UTC)."""
    own_stamp = notebook.parent / "timestamp.txt"
    if notebook.name == NOTEBOOK_NAME and own_stamp.is_file():
        return own_stamp.read_bytes()
    mtime = datetime.fromtimestamp(notebook.stat().st_mtime, UTC)
    return mtime.strftime("%Y-%m-%d %H:%M:%S.%f UTC").encode()


#: nbgrader's per-submission secret, from which Release and Fetch Feedback name the feedback file.
SECRET_FILE = "submission_secret.txt"


def submission_secret(student_id: str, notebook: Path, stamp: bytes) -> bytes:
    """The ``submission_secret.txt`` of a submission (see :func:`place_submission`): its own when
    it is in nbgrader's layout and has one, else one derived from what only this student's
    submission holds (so that grading it again writes the same)."""
    own = notebook.parent / SECRET_FILE
    if notebook.name == NOTEBOOK_NAME and own.is_file():
        return own.read_bytes()
    digest = hashlib.sha256(b"\0".join([student_id.encode(), stamp, notebook.read_bytes()]))
    return digest.hexdigest().encode()


def place_submission(course_root: Path, student_id: str, notebook: Path) -> None:
    """Copy a submission into the course's ``submitted/`` folder, with a ``timestamp.txt`` and a
    ``submission_secret.txt``.

    The timestamp is the submission's own ``timestamp.txt`` when it has one, else the file's
    modification time. The secret is the submission's own (nbgrader's Submit writes one) when it
    has one, else one derived from the student id, the timestamp and the notebook's bytes: the
    Formgrader's Release Feedback reads it for every student and stopped at the first without one
    (``FileNotFoundError``), so a class collected from an LMS download could not be released
    feedback at all. The student's previous autograded notebook, if any, is removed.

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
        (dest / SECRET_FILE).write_bytes(submission_secret(student_id, notebook, stamp))
    old = course_root / "autograded" / student_id / ASSIGNMENT
    if old.exists():
        shutil.rmtree(old)


def recorded_scores(autograded: Path) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Read the points nbgrader gave each grade cell of an autograded notebook, and its verdicts.

    Args:
        autograded: the autograded notebook.

    Returns:
        ``grade_id`` to points (nbgrader's ``determine_grade``; a cell that needs manual grading
        counts 0), and verdict (``timeout``, ``out_of_memory``, ``process_limit``, ``crashed``,
        ``tampered``) to the
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
    warm=None,
) -> tuple[Result, str]:
    """Autograde one placed submission in its own process and classify the outcome.

    Args:
        course_root: the course folder, with the submission in ``submitted/``.
        student_id: the student's id.
        timeout: wall-time limit of the autograde, seconds.
        wrapper: a command that runs the nbgrader command given after it (e.g.
            :mod:`resnets_kit.grader.reaper` on a Dask worker; not used with ``warm``).
        options: more command-line options of ``nbgrader autograde``.
        warm: a :class:`~resnets_kit.classgrade.warm.WarmWorker` that runs the autograde in a
            fork of its warm process; None: a fresh ``nbgrader`` command.

    Returns:
        The student's result and nbgrader's output.

    Raises:
        RuntimeError: the warm worker died (see :meth:`WarmWorker.autograde`).
    """
    start = time.monotonic()
    args = ["autograde", ASSIGNMENT, "--student", student_id, "--force", *options]
    if warm is not None:
        returncode, log = warm.autograde(args, course_root, timeout)
    else:
        returncode, log = run_limited(
            [*wrapper, sys.executable, "-m", "nbgrader", *args], course_root, timeout
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
        result.status = next(v for v in VERDICT_PRECEDENCE if v in verdicts)
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
