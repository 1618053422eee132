"""The class grader's command: grade a whole class with one command: nbgrader autograde, feedback and a grades CSV.

Usage::

    python -m resnets_kit.classgrade SUBMISSIONS [--course DIR] [--out grades.csv]
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
:class:`resnets_kit.grader.preprocessors.TrustedGrade` instead of running the notebook in a kernel: the graded
functions run in a sandbox process with limits (``c.TrustedGrade.step_timeout`` seconds per
function, ``c.TrustedGrade.memory_limit_mb``), and the checks run in another process on the
models rebuilt from what the sandbox reported (see :mod:`resnets_kit.grader`).

With ``--workers N`` (N > 1) the submissions are graded N at a time on a local Dask cluster of N
worker processes on 127.0.0.1; with ``--scheduler ADDRESS``, on a running Dask cluster. Each job
grades one student in a scratch copy of the course on its worker, and this process merges its
result into the course folder and gradebook with nbgrader's own steps, so the gradebook, the
feedback and the CSV are those of a run without workers; a job whose worker dies is run again,
and a student whose job took down its worker too often is ``crashed`` (see
:mod:`resnets_kit.classgrade.cluster`). The default, ``--workers 1``, grades one submission after
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
:class:`resnets_kit.grader.preprocessors.NormalizeSubmission` keeps the last copy of an answer cell that runs
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
preprocessor (:mod:`resnets_kit.grader.feedback`) keeps hidden tests out of it. nbgrader's output for
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
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from resnets_kit.classgrade.reports import (
    csv_rows,
    generate_feedback,
    grade_cell_points,
    problem_feedback,
    summary,
    write_csv,
)
from resnets_kit.classgrade.student import DEFAULT_TIMEOUT, Result, autograde_student, place_submission
from resnets_kit.classgrade.submissions import (
    UsageError,
    duplicate_notes,
    find_submissions,
    read_roster,
    submission_problem,
)
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME, fresh_course, generate, nbgrader


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m resnets_kit.classgrade",
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
            (:mod:`resnets_kit.classgrade.cluster`).
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
            from resnets_kit.classgrade.cluster import grade_on_cluster  # imports Dask

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
    cells = grade_cell_points(course_root / "source" / ASSIGNMENT / NOTEBOOK_NAME)
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
