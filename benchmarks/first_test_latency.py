"""Benchmark: seconds from opening the notebook to the first public test's result.

Starts a fresh Jupyter kernel in ``notebooks/`` (as JupyterLab does when a student opens the
notebook), then runs the cells of the source notebook in order, as a student does, up to and
including the first public test cell (``identity_block_test(...)``), and records the wall time from
the kernel's start to the end of that cell; the kernel's start-up is included. The cells marked
``%%skip_when_grading`` before it (the optional experiments of section 2.1, which take minutes on
purpose) are left out, as a student heading for the first exercise would.

Prints each run's times (kernel start, setup cell, first test) and the median. With
``--student``, the student notebook (``notebooks/Residual_Networks.ipynb``) is used; its first
test then reports the unfinished exercise, which takes about as long.

    python benchmarks/first_test_latency.py [--repeats 3] [--student]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
FIRST_TEST = "identity_block_test("


def run_once(path: Path) -> dict[str, float]:
    """Time one run: ``{"kernel_s", "setup_s", "first_test_s"}``, seconds since the kernel's start.

    Raises:
        ValueError: the notebook has no cell calling ``identity_block_test``.
    """
    notebook = nbformat.read(path, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.lstrip().startswith("%%skip_when_grading"):
            continue
        cells.append(cell)
        if FIRST_TEST in cell.source:
            break
    else:
        raise ValueError(f"{path} has no cell calling {FIRST_TEST}...)")
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    times = {}
    start = time.perf_counter()
    with client.setup_kernel():
        times["kernel_s"] = time.perf_counter() - start
        for index, cell in enumerate(cells):
            client.execute_cell(cell, notebook.cells.index(cell))
            if index == 0:
                times["setup_s"] = time.perf_counter() - start
        times["first_test_s"] = time.perf_counter() - start
    result = "".join(out.get("text", "") for out in cells[-1].outputs if out.get("output_type") == "stream")
    times["result"] = result.strip().splitlines()[-1] if result.strip() else "(no output)"
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="number of runs (default: %(default)s)")
    parser.add_argument("--student", action="store_true", help="use the student notebook")
    args = parser.parse_args(argv)
    name = "Residual_Networks.ipynb" if args.student else "Residual_Networks_solution.ipynb"
    runs = []
    for k in range(args.repeats):
        times = run_once(NOTEBOOKS / name)
        runs.append(times)
        print(
            f"run {k + 1}: kernel {times['kernel_s']:.1f} s, setup cell done {times['setup_s']:.1f} s, "
            f"first public test done {times['first_test_s']:.1f} s ({times['result'][:70]})",
            flush=True,
        )
    first = [t["first_test_s"] for t in runs]
    print(
        f"open to first public test ({name}): median {statistics.median(first):.1f} s "
        f"(min {min(first):.1f}, max {max(first):.1f}, {len(first)} runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
