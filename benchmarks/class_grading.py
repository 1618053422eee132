"""Benchmark: grading a class with 1 and 2 workers, warm and cold (seconds per submission,
submissions per hour).

Builds a temporary course and a class (``--class``): ``varied`` (default) has 20 submissions, 6
reference solutions, 9 mistakes of the catalogue (``qa/mistakes.py``, spread over the three
functions) and 5 hostile ones (``qa/hostile.py``: a patched module, a thread left running, a
memory bomb, a writer and a fork bomb, the last two where the sandbox has its namespaces);
``reference`` has ``--submissions`` copies of the reference solution. It grades the class with
``resnets_kit.classgrade`` once per worker count (``--workers``; 1 grades one submission after
another without Dask, more use a local Dask cluster of that many worker processes) and mode
(``--modes``: ``warm``, forks of a worker that imported nbgrader and TensorFlow once; ``cold``, a
fresh ``nbgrader autograde`` command per submission), ``--repeats`` times each, the settings
interleaved, every run in a fresh copy of the course. It prints, per mode and worker count:

- wall: the batch's wall time (grading, merging, feedback and the CSV; with a cluster, also its
  start and stop; the course is built once, before);
- s/submission: wall / number of submissions;
- median autograde s: the median wall time of one submission's autograde, where it ran;
- submissions/hour: 3600 / (s/submission);
- speed-up: the wall time of cold grading on 1 worker over this one's;

and whether every run gave every student the same status and points.

    python benchmarks/class_grading.py [--class varied] [--modes warm cold] [--workers 1 2] [--repeats 1]
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


def run_batch(
    work: Path, pristine: Path, submissions: Path, workers: int, mode: str, run: int
) -> tuple[float, float, dict]:
    """Grade the class once in a fresh copy of the course; return (wall seconds, median seconds
    of one autograde, student id to (status, points))."""
    root = work / f"course-{mode}-w{workers}-r{run}"
    shutil.copytree(pristine, root)
    out = work / f"out-{mode}-w{workers}-r{run}" / "grades.csv"
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the command's summary; progress stays on stderr
        results = classgrade_cli.grade_class(
            submissions, root, out, out.parent / "feedback", workers=workers, warm=mode == "warm"
        )
    wall = time.perf_counter() - start
    grades = {r.student_id: (r.status, round(sum(r.scores.values()), 6)) for r in results}
    shutil.rmtree(root)
    return wall, statistics.median(r.seconds for r in results), grades


def write_class(kind: str, size: int, pristine: Path, submissions: Path) -> None:
    """Write the class's notebooks in nbgrader's layout (see the module's docstring)."""
    import sys

    import nbformat

    from resnets_kit import REPO_ROOT

    if str(REPO_ROOT) not in sys.path:  # run as a script: qa/ sits at the repository's root
        sys.path.insert(0, str(REPO_ROOT))
    from qa import hostile, mistakes
    from resnets_kit.grader.isolation import isolation_available

    source = pristine / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME

    def place(student_id: str, nb=None) -> None:
        folder = submissions / student_id / course.ASSIGNMENT
        folder.mkdir(parents=True)
        if nb is None:
            shutil.copy2(source, folder / course.NOTEBOOK_NAME)
        else:
            nbformat.write(nb, folder / course.NOTEBOOK_NAME)

    if kind == "reference":
        for i in range(size):
            place(f"student{i + 1:03d}")
        return
    for i in range(6):
        place(f"reference-{i + 1}")
    for i, mistake in enumerate(mistakes.CATALOGUE[:: max(1, len(mistakes.CATALOGUE) // 9)][:9]):
        nb = nbformat.read(source, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == mistake.function:
                for old, new in mistake.edits:
                    cell.source = cell.source.replace(old, new)
        place(f"mistake-{i + 1}", nb)
    names = ["patched-numpy", "lingering-thread", "memory-bomb", "writer", "fork-bomb"]
    for entry in hostile.HOSTILE:
        if entry.name in names and (isolation_available() or not entry.needs_isolation):
            place(f"hostile-{entry.name}", hostile.make_notebook(entry, source, pristine / "gradebook.db"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--class",
        dest="kind",
        choices=("varied", "reference"),
        default="varied",
        help="the class (default: %(default)s)",
    )
    parser.add_argument(
        "--submissions", type=int, default=6, help="class size of --class reference (default: %(default)s)"
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default: %(default)s)"
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("warm", "cold"),
        default=["warm", "cold"],
        help="(default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting (default: %(default)s)")
    args = parser.parse_args(argv)
    runs: dict[tuple[str, int], list] = {}
    with tempfile.TemporaryDirectory(prefix="class_grading_") as tmp:
        work = Path(tmp)
        pristine = course.fresh_course(work / "pristine")
        course.generate(pristine)
        submissions = work / "submitted"
        write_class(args.kind, args.submissions, pristine, submissions)
        size = len(list(submissions.iterdir()))
        for r in range(args.repeats):
            for workers in args.workers:
                for mode in args.modes:
                    wall, per, grades = run_batch(work, pristine, submissions, workers, mode, r)
                    runs.setdefault((mode, workers), []).append((wall, per, grades))
                    print(
                        f"{mode}, workers {workers}, run {r + 1}: wall {wall:.1f} s, "
                        f"{per:.1f} s per autograde",
                        flush=True,
                    )
    rows = {
        key: (statistics.median(w for w, _, _ in values), statistics.median(p for _, p, _ in values))
        for key, values in runs.items()
    }
    base_key = ("cold", 1) if ("cold", 1) in rows else next(iter(rows))
    base = rows[base_key][0]
    every = [grades for values in runs.values() for _, _, grades in values]
    print(
        f"\n{size} submissions (class: {args.kind}), {os.cpu_count()} CPU cores, median of {args.repeats} run(s)"
    )
    print(
        f"{'mode':>4}  {'workers':>7}  {'wall (s)':>8}  {'s/submission':>12}  {'median autograde s':>18}  "
        f"{'submissions/hour':>16}  {'speed-up':>8}"
    )
    for (mode, workers), (wall, per) in rows.items():
        print(
            f"{mode:>4}  {workers:>7}  {wall:>8.1f}  {wall / size:>12.2f}  {per:>18.1f}  "
            f"{3600 * size / wall:>16.0f}  {base / wall:>8.2f}"
        )
    print(f"speed-up: against {base_key[0]} grading on {base_key[1]} worker(s)")
    same = all(grades == every[0] for grades in every)
    print(f"the same status and points for every student in every run: {'yes' if same else 'NO'}")
    if not same:
        for student_id in sorted(every[0]):
            seen = {str(grades.get(student_id)) for grades in every}
            if len(seen) > 1:
                print(f"  {student_id}: {sorted(seen)}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
