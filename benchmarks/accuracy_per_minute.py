"""Benchmark: the notebook's training recipe, test accuracy against wall time.

Runs the training section of the source notebook (cells ``parameters``, with its default
``fast = False``, ``recalibrate``, ``load-data``, ``recipe`` and ``fit``, with the reference
solution's ResNet50) in a fresh Python process per run, and records after each epoch the wall
time since the start of the ``recipe`` cell (model built, compiled, traced and trained so far;
the test evaluation included) and the test accuracy Keras reports for that epoch. The code that
runs is the notebook's own: nothing of the recipe is copied here.

Prints one table: per epoch, the median elapsed time over the runs and each run's test accuracy;
then, per run, the time to the first epoch at a test accuracy of at least ``--target`` and the
final accuracy. The median time to the target is the figure README's performance table quotes.

    python benchmarks/accuracy_per_minute.py [--repeats 3] [--epochs N] [--vary-seed] [--json-out FILE]
    python benchmarks/accuracy_per_minute.py --summarize FILE   # the table of a saved run again

``--epochs`` overrides ``EPOCHS`` of the recipe cell (the learning-rate schedule follows it).
``--vary-seed`` gives run k (0, 1, ...) the seed k in place of the recipe cell's ``seed=0`` (data
order and augmentation; the initial weights come from the network's own seeded initializers), so
the accuracies show the spread over seeds as well as the times.
One run of the 10-epoch recipe takes about 4 to 6 minutes on 2 CPU cores; nothing else should
run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Cells of the source notebook (nbgrader ``grade_id``) that make up the training recipe, in order
#: (``parameters``: the notebook's settings, with their defaults: the full recipe).
RECIPE_CELLS = ("parameters", "recalibrate", "load-data", "recipe", "fit")

#: The line of the recipe cell that sets the number of epochs (``--epochs`` replaces its value).
EPOCHS_LINE = re.compile(r"^EPOCHS = 2 if fast else \d+", re.MULTILINE)


def _strip_magic(source: str) -> str:
    lines = source.splitlines()
    if lines and lines[0].startswith("%%skip_when_grading"):
        lines = lines[1:]
    return "\n".join(lines)


def run_once(epochs: int | None, seed: int | None = None) -> dict:
    """Run the recipe in this process; return per-epoch elapsed seconds and test accuracy.

    Args:
        epochs: the number of epochs, or ``None`` for the notebook's own value.
        seed: replaces every ``seed=0`` of the recipe cell, or ``None`` to keep them.

    Returns:
        ``{"epochs": [{"epoch": 1, "elapsed_s": ..., "test_accuracy": ...}, ...],
        "setup_s": seconds to import TensorFlow, define the functions and load the data}``.

    Raises:
        ValueError: the recipe cell no longer sets ``EPOCHS`` as :data:`EPOCHS_LINE` expects.
    """
    start = time.perf_counter()
    os.chdir(REPO_ROOT / "notebooks")  # the notebook's working folder
    from resnets_kit.solution import SOURCE_NOTEBOOK, _cells_by_id, load_solution

    namespace = load_solution()
    cells = _cells_by_id(SOURCE_NOTEBOOK)
    sources = {name: _strip_magic(cells[name]) for name in RECIPE_CELLS}
    if epochs is not None:
        sources["recipe"], found = EPOCHS_LINE.subn(f"EPOCHS = {int(epochs)}", sources["recipe"])
        if found != 1:
            raise ValueError(
                f"the recipe cell has no line matching {EPOCHS_LINE.pattern!r}; update EPOCHS_LINE"
            )
    if seed is not None:
        sources["recipe"] = sources["recipe"].replace("seed=0", f"seed={int(seed)}")
    for name in ("parameters", "recalibrate", "load-data"):
        exec(compile(sources[name], f"<{name}>", "exec"), namespace)
    setup_s = time.perf_counter() - start

    keras = namespace["keras"]
    records: list[dict] = []
    recipe_start = time.perf_counter()
    exec(compile(sources["recipe"], "<recipe>", "exec"), namespace)

    class Timed(keras.callbacks.Callback):
        """Forwards to the recipe's callback, then records the time and the test accuracy."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def set_model(self, model):
            super().set_model(model)
            self.inner.set_model(model)

        def on_train_batch_end(self, batch, logs=None):
            self.inner.on_train_batch_end(batch, logs)

        def on_epoch_end(self, epoch, logs=None):
            self.inner.on_epoch_end(epoch, logs)
            records.append(
                {
                    "epoch": epoch + 1,
                    "elapsed_s": time.perf_counter() - recipe_start,
                    "test_accuracy": float((logs or {}).get("val_accuracy", float("nan"))),
                }
            )

    namespace["recalibrate"] = Timed(namespace["recalibrate"])
    exec(compile(sources["fit"], "<fit>", "exec"), namespace)
    return {"epochs": records, "setup_s": setup_s}


def _child(epochs: int | None, seed: int | None) -> dict:
    command = [sys.executable, __file__, "--child"]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    if seed is not None:
        command += ["--seed", str(seed)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"a run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict], target: float) -> str:
    """Format the per-epoch table and the time to ``target`` test accuracy of each run."""
    lines = ["| epoch | median elapsed s | test accuracy per run |", "|---|---|---|"]
    n_epochs = min(len(run["epochs"]) for run in runs)
    for i in range(n_epochs):
        rows = [run["epochs"][i] for run in runs]
        elapsed = statistics.median(row["elapsed_s"] for row in rows)
        accs = ", ".join(f"{row['test_accuracy']:.3f}" for row in rows)
        lines.append(f"| {i + 1} | {elapsed:.0f} | {accs} |")
    reached = []
    for k, run in enumerate(runs, start=1):
        # Keras reports accuracy in float32: 114/120 comes back as 0.94999999
        hit = next((row for row in run["epochs"] if row["test_accuracy"] >= target - 1e-6), None)
        last = run["epochs"][-1]
        where = f"reached at epoch {hit['epoch']}, {hit['elapsed_s']:.0f} s" if hit else "never reached"
        lines.append(
            f"run {k}: test accuracy >= {target} {where}; final {last['test_accuracy']:.3f} "
            f"after {last['elapsed_s']:.0f} s (setup {run['setup_s']:.0f} s)"
        )
        if hit:
            reached.append(hit["elapsed_s"])
    finals = [run["epochs"][-1]["elapsed_s"] for run in runs]
    lines.append(f"whole recipe: median {statistics.median(finals):.0f} s over {len(runs)} runs")
    if reached:
        lines.append(
            f"time to test accuracy >= {target}: median {statistics.median(reached):.0f} s "
            f"({len(reached)} of {len(runs)} runs reached it)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="number of runs (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's EPOCHS")
    parser.add_argument(
        "--target", type=float, default=0.95, help="test accuracy to reach (default: %(default)s)"
    )
    parser.add_argument("--vary-seed", action="store_true", help="run k uses seed k (see above)")
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", type=Path, help="also write the runs to this JSON file")
    parser.add_argument(
        "--summarize", type=Path, metavar="JSON", help="print the table of a --json-out file and exit"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.summarize:
        print(summarize(json.loads(args.summarize.read_text()), args.target))
        return 0
    if args.child:
        print(json.dumps(run_once(args.epochs, args.seed)))
        return 0
    runs = []
    for k in range(args.repeats):
        runs.append(_child(args.epochs, k if args.vary_seed else None))
        last = runs[-1]["epochs"][-1]
        print(
            f"run {k + 1}: {last['elapsed_s']:.0f} s, final test accuracy {last['test_accuracy']:.3f}",
            flush=True,
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(runs, indent=1))
    print(summarize(runs, args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
