"""What a class's grading writes: the grades CSV, the summary, the feedback pages.

The CSV has one row per student, sorted by student id, with no times or paths, so grading the
same folder twice writes the same bytes (``docs/instructors.md``).
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import nbformat

from resnets_kit.assignment import GRADED_FUNCTIONS, exercise_of
from resnets_kit.classgrade.student import STATUSES, Result, run_limited
from resnets_kit.classgrade.submissions import Problem
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME

#: The CSV's columns.
COLUMNS = ("student_id", "status", "score", "max_score", *GRADED_FUNCTIONS)
#: Wall-time limit of one feedback run (seconds); feedback runs no student code.
FEEDBACK_TIMEOUT = 600


def grade_cell_points(notebook_path: Path) -> dict[str, float]:
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
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Feedback: {esc(ASSIGNMENT)}, {esc(student_id)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.5}"
        ".reason{background:#fdecea;border-left:4px solid #c62828;padding:.5em 1em}</style>\n"
        "</head>\n<body>\n"
        f"<h1>Assignment {esc(ASSIGNMENT)}: not graded</h1>\n"
        f"<p>Student: {esc(student_id)}</p>\n"
        f"<p>Your submission could not be graded, so it has no score yet (0 of the points).</p>\n"
        f'<p class="reason">{esc(problem.reason)}</p>\n'
        f"<p><strong>What to do:</strong> {esc(problem.advice)}</p>\n"
        "</body>\n</html>\n"
    )


def generate_feedback(course_root: Path, student_ids: list[str], feedback_dir: Path) -> dict[str, str]:
    """Write the feedback HTML of some students and copy it to ``feedback_dir/<student_id>.html``.

    One ``nbgrader generate_feedback`` run covers the students (the course's other autograded
    students are excluded); a student whose HTML is then missing gets a run of their own.

    Args:
        course_root: the course folder.
        student_ids: students with an autograded notebook.
        feedback_dir: where the HTML files go.

    Returns:
        The students whose feedback could not be written, each with the cause: the error that
        stopped nbgrader on their notebook (:func:`failure_cause`).
    """
    if not student_ids:
        return {}

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
    failed = {}
    for student_id in student_ids:
        if not html(student_id).exists():
            status, output = run_limited(
                [*command[:5], "--student", student_id, "--force"], course_root, FEEDBACK_TIMEOUT
            )
            if not html(student_id).exists():
                failed[student_id] = failure_cause(status, output)
                continue
        shutil.copyfile(html(student_id), feedback_dir / f"{student_id}.html")
    return failed


_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception|Notebook|Exit)\w*): (.+)$")


def failure_cause(status: int | None, output: str) -> str:
    """The cause of a failed nbgrader command, from its output: the last exception line
    (``InvalidNotebook: missing attachment: skip_connection.png``), else its last ``ERROR`` log
    line, else its exit status (``None``: it was stopped at its time limit)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _EXCEPTION_LINE.match(line)
        if match:
            return f"{match[1]}: {match[2]}"
    for line in reversed(lines):
        if "ERROR" in line:
            return line
    if status is None:
        return f"stopped after {FEEDBACK_TIMEOUT:g} s"
    return f"nbgrader exited with status {status}"


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
