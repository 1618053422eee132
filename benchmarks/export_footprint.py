"""Benchmark: one grading in the Gradescope layout, inside a container-sized cgroup: peak memory and time.

Exports the Gradescope autograder, lays out a folder like ``/autograder`` for each submission
(the reference solution, and a notebook with one mistake per graded function), and runs
``run_autograder`` inside a cgroup with the given memory limit and CPU share (Gradescope's default
container: 768 MiB and half a CPU; ``--memory-mb`` and ``--cpus`` choose others), with the
sandbox in the ``user`` mode as in Gradescope's containers. Prints, per setting and submission:

- peak: the cgroup's peak memory (what the container's limit counts), MiB;
- wall: the grading's wall time, seconds;
- score: the points of results.json (30 is full marks) and its status; a run the kernel's
  out-of-memory killer cut shows ``killed`` (no results.json, or a grading error);
- OOM kills: how often the cgroup's limit was hit.

Needs root and writable cgroups (v1 ``memory`` and ``cpu`` controllers, or v2): it creates
``resnets-footprint-*`` groups and removes them. ``--python`` is the grading environment's Python
(default: this one); the ``user`` mode needs one that every user can read, as the package's
``setup.sh`` installs (``/opt/resnets-grader/venv/bin/python``).

    python benchmarks/export_footprint.py [--memory-mb 768 1536 3072] [--cpus 0.5 1] [--repeats 1]
                                          [--python PATH] [--mode user] [--cold] [--memory-bomb]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from resnets_kit import course
from resnets_kit.export import gradescope
from resnets_kit.solution import fill_answers, solution_sources

V2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()

#: The repository's root (``qa/`` is imported from there).
ROOT = Path(__file__).resolve().parent.parent


class Group:
    """A memory and CPU cgroup (v2, or v1's ``memory`` and ``cpu`` controllers)."""

    def __init__(self, name: str, memory: int, cpus: float):
        period = 100_000
        if V2:
            self.dirs = [Path("/sys/fs/cgroup") / name]
            self.dirs[0].mkdir()
            (self.dirs[0] / "memory.max").write_text(str(memory))
            (self.dirs[0] / "memory.swap.max").write_text("0")
            (self.dirs[0] / "cpu.max").write_text(f"{int(cpus * period)} {period}")
        else:
            self.dirs = [Path("/sys/fs/cgroup/memory") / name, Path("/sys/fs/cgroup/cpu") / name]
            for folder in self.dirs:
                folder.mkdir()
            (self.dirs[0] / "memory.limit_in_bytes").write_text(str(memory))
            swap = self.dirs[0] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory))
            (self.dirs[1] / "cpu.cfs_period_us").write_text(str(period))
            (self.dirs[1] / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))

    def enter_command(self) -> str:
        """Shell code that moves the shell into the group."""
        return "; ".join(f"echo $$ > {folder}/cgroup.procs" for folder in self.dirs)

    def peak(self) -> int:
        name = "memory.peak" if V2 else "memory.max_usage_in_bytes"
        path = self.dirs[0] / name
        return int(path.read_text()) if path.exists() else 0

    def oom_kills(self) -> int:
        if V2:
            events = dict(line.split() for line in (self.dirs[0] / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0))
        return int((self.dirs[0] / "memory.failcnt").read_text())

    def remove(self) -> None:
        for folder in self.dirs:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


#: One mistake of the catalogue (``qa/mistakes.py``) per graded function.
MISTAKES = ("final ReLU missing", "shortcut without BatchNorm", "stage 5 with stride 1")


def notebooks(folder: Path, memory_bomb: bool = False) -> dict[str, Path]:
    """The graded notebooks: the reference solution, one mistake per graded function, and with
    ``memory_bomb`` the hostile suite's memory bomb (its verdict must be ``out_of_memory``, from the
    grader's own limit, not a kill by the container's)."""
    if str(ROOT) not in sys.path:  # run as a script: qa/ sits at the repository's root
        sys.path.insert(0, str(ROOT))
    from qa import mistakes

    answers = solution_sources()
    for name in MISTAKES:
        mistake = mistakes.get(name)
        for old, new in mistake.edits:
            answers[mistake.function] = answers[mistake.function].replace(old, new)
    paths = {}
    for name, filled in (("reference", None), ("one mistake per function", answers)):
        paths[name] = folder / f"{name.replace(' ', '-')}.ipynb"
        nbformat.write(
            fill_answers(nbformat.read(course.STUDENT_NOTEBOOK, as_version=4), filled), paths[name]
        )
    if memory_bomb:
        from qa import hostile
        from resnets_kit.assignment import SOURCE_NOTEBOOK

        attack = next(h for h in hostile.HOSTILE if h.name == "memory-bomb")
        paths["memory bomb"] = folder / "memory-bomb.ipynb"
        nbformat.write(
            hostile.make_notebook(attack, SOURCE_NOTEBOOK, Path("/nonexistent")), paths["memory bomb"]
        )
    return paths


def grade_once(
    work: Path,
    archive: Path,
    notebook: Path,
    memory: int,
    cpus: float,
    run: int,
    python: str,
    mode: str,
    cold: bool = False,
) -> dict:
    """One grading in a fresh layout inside a fresh cgroup."""
    root = work / f"layout-{run}" / "autograder"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root / "source")
    (root / "submission").mkdir()
    shutil.copyfile(notebook, root / "submission" / course.NOTEBOOK_NAME)
    if cold:  # a fresh container reads TensorFlow's libraries from disk, charged to its cgroup
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    group = Group(f"resnets-footprint-{os.getpid()}-{run}", memory, cpus)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), RESNETS_PYTHON=python, RESNETS_SANDBOX_ISOLATION=mode)
    try:
        start = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", f"{group.enter_command()}; exec bash {root}/source/run_autograder"],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - start
        peak, kills = group.peak(), group.oom_kills()
    finally:
        group.remove()
    results = root / "results" / "results.json"
    document = json.loads(results.read_text()) if results.is_file() else None
    status = document["extra_data"]["status"] if document else f"killed (exit {done.returncode})"
    return {
        "peak": peak,
        "wall": wall,
        "score": document["score"] if document else None,
        "status": status,
        "kills": kills,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memory-mb", type=int, nargs="+", default=[768, 1536, 3072])
    parser.add_argument("--cpus", type=float, nargs="+", default=[0.5])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--python", default=sys.executable, help="the grading environment's Python")
    parser.add_argument("--mode", default="user", help="the sandbox's mode (RESNETS_SANDBOX_ISOLATION)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="drop the page cache before each run (as a fresh container starts)",
    )
    parser.add_argument(
        "--memory-bomb", action="store_true", help="also grade the hostile suite's memory bomb"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("needs root (cgroups, and the sandbox's user mode)")
    with tempfile.TemporaryDirectory(prefix="resnets-footprint-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        archive = gradescope.write_package(work / "gradescope")
        books = notebooks(work, args.memory_bomb)
        print("| container | submission | peak memory (MiB) | wall (s) | score | status | OOM kills |")
        print("|---|---|---|---|---|---|---|")
        run = 0
        for memory_mb in args.memory_mb:
            for cpus in args.cpus:
                for name, path in books.items():
                    rows = []
                    for _ in range(args.repeats):
                        run += 1
                        rows.append(
                            grade_once(
                                work, archive, path, memory_mb * 2**20, cpus, run, args.python, args.mode
                            )
                        )
                    peak = statistics.median(r["peak"] for r in rows) / 2**20
                    wall = statistics.median(r["wall"] for r in rows)
                    score = rows[-1]["score"]
                    print(
                        f"| {memory_mb} MiB, {cpus:g} CPU | {name} | {peak:.0f} | {wall:.1f} | "
                        f"{'-' if score is None else f'{score:g}'} | {rows[-1]['status']} | {rows[-1]['kills']} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
