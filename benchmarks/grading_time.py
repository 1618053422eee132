"""Benchmark: seconds to autograde one submission with nbgrader (median of several runs).

Builds a temporary course (``resnets_kit.course``), submits the reference solution as one
student, then runs ``nbgrader autograde resnets --student solution --force`` several times and
prints each wall time and the median. Each run starts a fresh kernel and executes the whole
notebook, with the training cells skipped as under any nbgrader run.

    python benchmarks/grading_time.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from resnets_kit import course


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="number of timed runs (default: %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = course.fresh_course(Path(tmp))
        course.generate(root)
        folder = root / "submitted" / "solution" / course.ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy2(
            root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME, folder / course.NOTEBOOK_NAME
        )
        times = []
        for i in range(args.repeats):
            start = time.perf_counter()
            course.nbgrader(root, "autograde", course.ASSIGNMENT, "--student", "solution", "--force")
            times.append(time.perf_counter() - start)
            print(f"run {i + 1}: {times[-1]:.1f} s", flush=True)
    print(
        f"autograde of one submission: median {statistics.median(times):.1f} s "
        f"(min {min(times):.1f}, max {max(times):.1f}, {len(times)} runs)"
    )
    print(f"submissions per hour, one worker: {3600 / statistics.median(times):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
