"""Benchmark: grading a class with 1 and 2 workers (seconds per submission, submissions per hour).

Builds a temporary course, submits the reference solution as N students (``--submissions``), and
grades the batch with ``resnets_kit.classgrade`` once per worker count (``--workers``; 1 grades
one submission after another without Dask, more use a local Dask cluster of that many worker
processes), ``--repeats`` times each, every run in a fresh copy of the course. It prints, per
worker count:

- wall: the batch's wall time (grading, merging, feedback and the CSV; with a cluster, also its
  start and stop; the course is built once, before);
- s/submission: the median wall time of one submission's autograde, where it ran;
- submissions/hour: N / wall;
- speed-up: the wall time of 1 worker over this one's.

With ``--repeats`` above 1 each figure is the median over the runs.

    python benchmarks/class_grading.py [--submissions 6] [--workers 1 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from resnets_kit import course
from resnets_kit.classgrade import cli as classgrade_cli


def run_batch(work: Path, pristine: Path, submissions: Path, workers: int, run: int) -> tuple[float, float]:
    """Grade the batch once in a fresh copy of the course; return (wall seconds, median seconds
    per submission)."""
    root = work / f"course-w{workers}-r{run}"
    shutil.copytree(pristine, root)
    out = work / f"out-w{workers}-r{run}" / "grades.csv"
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the command's summary; progress stays on stderr
        results = classgrade_cli.grade_class(submissions, root, out, out.parent / "feedback", workers=workers)
    wall = time.perf_counter() - start
    graded = [r for r in results if r.status == "graded"]
    assert len(graded) == len(results), [(r.student_id, r.status, r.detail) for r in results]
    return wall, statistics.median(r.seconds for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=6, help="class size (default: %(default)s)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default: %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per worker count (default: %(default)s)")
    args = parser.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="class_grading_") as tmp:
        work = Path(tmp)
        pristine = course.fresh_course(work / "pristine")
        course.generate(pristine)
        solution = pristine / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
        submissions = work / "submitted"
        for i in range(args.submissions):
            folder = submissions / f"student{i + 1:03d}" / course.ASSIGNMENT
            folder.mkdir(parents=True)
            shutil.copy2(solution, folder / course.NOTEBOOK_NAME)
        for workers in args.workers:
            runs = [run_batch(work, pristine, submissions, workers, r) for r in range(args.repeats)]
            for r, (wall, per) in enumerate(runs, start=1):
                print(
                    f"workers {workers}, run {r}: wall {wall:.1f} s, {per:.1f} s per submission", flush=True
                )
            rows[workers] = (statistics.median(w for w, _ in runs), statistics.median(p for _, p in runs))
    base = rows.get(1, rows[args.workers[0]])[0]
    print(
        f"\n{args.submissions} submissions (the reference solution), {os.cpu_count()} CPU cores, "
        f"median of {args.repeats} run(s)"
    )
    print(f"{'workers':>7}  {'wall (s)':>8}  {'s/submission':>12}  {'submissions/hour':>16}  {'speed-up':>8}")
    for workers, (wall, per) in rows.items():
        print(
            f"{workers:>7}  {wall:>8.1f}  {per:>12.1f}  {3600 * args.submissions / wall:>16.0f}  "
            f"{base / wall:>8.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
