"""The class grader's command: autograde a folder of submissions, write a grades CSV and feedback.

Usage::

    python -m resnets_kit.classgrade SUBMISSIONS [--course DIR] [--out grades.csv]
        [--feedback-dir DIR] [--roster FILE] [--timeout SECONDS]
        [--workers N | --scheduler ADDRESS]

SUBMISSIONS is nbgrader's layout or a flat folder of downloads
(:func:`~resnets_kit.classgrade.submissions.find_submissions`). Each submission is placed in the
course (``--course``, or a temporary one built from the project) and graded by ``nbgrader
autograde`` under the ``--timeout`` wall-time limit (:mod:`~resnets_kit.classgrade.student`), one
after another or on a Dask cluster (:mod:`~resnets_kit.classgrade.cluster`); then feedback pages
and the CSV are written (:mod:`~resnets_kit.classgrade.reports`). Each student gets one of the
statuses :data:`~resnets_kit.classgrade.student.STATUSES`; what each means, the course cycle and
the cluster setup are explained for instructors in ``docs/instructors.md``.

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

from resnets_kit.classgrade import warm as warm_worker
from resnets_kit.classgrade.reports import (
    csv_rows,
    generate_feedback,
    grade_cell_points,
    problem_feedback,
    summary,
    write_csv,
)
from resnets_kit.classgrade.student import (
    DEFAULT_TIMEOUT,
    Result,
    autograde_student,
    place_submission,
)
from resnets_kit.classgrade.submissions import (
    UsageError,
    duplicate_notes,
    find_submissions,
    read_roster,
    submission_problem,
)
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME, fresh_course, generate, nbgrader
from resnets_kit.grader.isolation import confinement
from resnets_kit.grader.outcomes import GradingError


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
    parser.add_argument(
        "--cold",
        action="store_true",
        help="start a fresh `nbgrader autograde` command per student instead of a fork of a warm "
        "worker that imported nbgrader and TensorFlow once (slower; the grades are the same)",
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
    warm: bool = True,
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
        warm: grade in forks of a warm worker that imported nbgrader and TensorFlow once
            (:mod:`resnets_kit.classgrade.warm`, Linux); False: a fresh ``nbgrader autograde``
            command per student. The grades are the same.

    Returns:
        One result per student, sorted by student id.

    Raises:
        UsageError: see :func:`find_submissions`.
        GradingError: grading here cannot confine student code (bubblewrap missing; see
            :func:`~resnets_kit.grader.isolation.confinement`): nobody is graded.
    """
    start = time.monotonic()
    found, empty = find_submissions(submissions, roster)
    if scheduler is None:
        confinement()  # before grading anyone: on a cluster, each worker checks its own machine
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
            worker = warm_worker.start() if warm and to_grade else None
            try:
                for student_id in to_grade:
                    progress.set_postfix_str(student_id)
                    place_submission(course_root, student_id, found[student_id])
                    try:
                        report(*autograde_student(course_root, student_id, timeout, warm=worker))
                    except RuntimeError as err:  # the warm worker died: the rest are graded cold
                        progress.write(f"warning: {err}; grading on without a warm worker", sys.stderr)
                        worker = None
                        report(*autograde_student(course_root, student_id, timeout))
            finally:
                if worker is not None:
                    worker.close()
        else:
            from resnets_kit.classgrade.cluster import grade_on_cluster  # imports Dask

            grade_on_cluster(
                {sid: found[sid] for sid in to_grade},
                course_root,
                timeout,
                report,
                workers=workers,
                scheduler=scheduler,
                warm=warm,
            )
    finally:
        progress.close()
    with_notebook.sort()
    if with_notebook:
        print(f"writing feedback for {len(with_notebook)} students ...", file=sys.stderr)
    for student_id, cause in generate_feedback(course_root, with_notebook, feedback_dir).items():
        print(f"warning: no feedback could be written for {student_id}: {cause}", file=sys.stderr)
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
        0 when the batch completed, 2 for a usage error or a grader that cannot confine student
        code (its message is printed on stderr).
    """
    args = parse_args(argv)
    feedback_dir = args.feedback_dir or args.out.parent / "feedback"
    options = (args.timeout, args.workers, args.scheduler, not args.cold)
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
    except (UsageError, GradingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
