"""Benchmark: seconds to autograde one submission with nbgrader, cold and warm (medians).

Builds a temporary course (``resnets_kit.course``), submits the reference solution as one
student, then runs ``nbgrader autograde resnets --student solution --force`` several times per
mode, the modes interleaved: ``cold``, a fresh command (nbgrader, its check process and the
sandbox each start Python and import what they need); ``warm``, the same application in a fork of
a warm worker that imported nbgrader and TensorFlow once (``resnets_kit.classgrade.warm``, as
``python -m resnets_kit.classgrade`` grades; the worker's own start is not counted). It prints
each run's wall time and, per mode, the median.

    python benchmarks/grading_time.py [--repeats 5] [--modes cold warm]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from resnets_kit import course
from resnets_kit.classgrade import warm
from resnets_kit.classgrade.student import nbgrader_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="number of timed runs per mode (default: %(default)s)"
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("cold", "warm"),
        default=["cold", "warm"],
        help="(default: %(default)s)",
    )
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {mode: [] for mode in args.modes}
    command = ["autograde", course.ASSIGNMENT, "--student", "solution", "--force"]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = course.fresh_course(Path(tmp))
        course.generate(root)
        folder = root / "submitted" / "solution" / course.ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy2(
            root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME, folder / course.NOTEBOOK_NAME
        )
        worker = stack.enter_context(warm.WarmWorker(env=nbgrader_env())) if "warm" in args.modes else None
        for i in range(args.repeats):
            for mode in args.modes:
                start = time.perf_counter()
                if mode == "cold":
                    course.nbgrader(root, *command)
                else:
                    code, log = worker.autograde(command, root, 600.0)
                    if code != 0:
                        raise RuntimeError(f"warm autograde failed (exit status {code}):\n{log}")
                times[mode].append(time.perf_counter() - start)
                print(f"{mode}, run {i + 1}: {times[mode][-1]:.1f} s", flush=True)
    for mode, values in times.items():
        median = statistics.median(values)
        print(
            f"{mode}: autograde of one submission: median {median:.1f} s (min {min(values):.1f}, "
            f"max {max(values):.1f}, {len(values)} runs); {3600 / median:.0f} submissions per hour on one worker"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
