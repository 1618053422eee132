"""Execute a notebook end to end and report its test accuracy: the project's main job.

``python -m resnets_kit.run_notebook`` runs the source notebook (the reference solution) with the
full training recipe, writes the executed copy to ``runs/`` (git-ignored), and prints the line
``Test accuracy: ...`` that the notebook's evaluation cell (tagged ``test-accuracy``) printed, the
first line printed by the cell tagged ``digits-accuracy`` (the accuracy on the Sign Language Digits
set, or why it was not measured), and the wall time. ``--fast`` sets ``RESNETS_FAST=1``, with which
the notebook trains for 2 epochs on 64 images (the test suite's quick run).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from resnets_kit import REPO_ROOT
from resnets_kit.solution import SOURCE_NOTEBOOK

RUNS_DIR = REPO_ROOT / "runs"
ACCURACY_TAG = "test-accuracy"
#: Tag of the cell that evaluates the model on the second data set (Sign Language Digits).
DIGITS_TAG = "digits-accuracy"
#: Cells with this tag have their printed output echoed while they run (the training epochs).
ECHO_TAG = "echo-output"


class _EchoingClient(NotebookClient):
    """A NotebookClient that also hands the stream output of cells tagged ``echo-output`` to
    ``echo`` as it arrives (nbclient otherwise only returns outputs once a cell is done)."""

    echo = None

    def output(self, outs, msg, display_id, cell_index):
        if self.echo is not None and msg["msg_type"] == "stream":
            if ECHO_TAG in self.nb.cells[cell_index].metadata.get("tags", []):
                self.echo(msg["content"]["text"])
        return super().output(outs, msg, display_id, cell_index)


def cell_text(cell, stream: str | None = None) -> str:
    """The text a code cell printed: all streams, or only ``"stdout"``/``"stderr"``."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and stream in (None, output.get("name")):
            parts.append(output.get("text", ""))
    return "".join(parts)


def execute(
    notebook: Path = SOURCE_NOTEBOOK,
    fast: bool = False,
    timeout: int = 1800,
    output: Path | None = None,
    log=print,
):
    """Execute ``notebook`` in a fresh kernel, in the notebook's folder.

    Args:
        notebook: the notebook to run.
        fast: set ``RESNETS_FAST=1`` for the kernel (short training on a subset).
        timeout: seconds allowed per cell.
        output: where to write the executed notebook (default ``runs/<name>.executed.ipynb``);
            written also when a cell fails, so that the error can be read there.
        log: called with one line per executed cell (its ``grade_id`` and seconds), and with the
            output of cells tagged ``echo-output`` as it is printed; ``None``: silent.

    Returns:
        The executed notebook (``nbformat.NotebookNode``).

    Raises:
        FileNotFoundError: the notebook does not exist.
        nbclient.exceptions.CellExecutionError: a cell raised; the message holds its traceback.
    """
    notebook = Path(notebook)
    if not notebook.exists():
        raise FileNotFoundError(f"notebook not found: {notebook}")
    nb = nbformat.read(notebook, as_version=4)
    output = output or RUNS_DIR / f"{notebook.stem}.executed.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    started = {}

    def on_start(cell, cell_index):
        started[cell_index] = time.perf_counter()

    def on_done(cell, cell_index, execute_reply):
        if log is not None:
            name = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {cell_index}")
            log(f"  [{cell_index:2d}] {name}: {time.perf_counter() - started[cell_index]:.1f} s")

    env_fast = os.environ.get("RESNETS_FAST")
    os.environ["RESNETS_FAST"] = "1" if fast else "0"
    # A kernel on local IPC sockets (not TCP): no network port, and no ipykernel warning about
    # unencrypted TCP on stderr.
    sockets = tempfile.TemporaryDirectory(prefix="resnets-kernel-")
    kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets.name) / "kernel"))
    client = _EchoingClient(
        nb,
        km=kernel,
        timeout=timeout,
        resources={"metadata": {"path": str(notebook.parent)}},
        on_cell_start=on_start,
        on_cell_executed=on_done,
    )
    if log is not None:
        client.echo = lambda text: log(text.rstrip("\n"))
    try:
        client.execute()
    finally:
        # nbclient leaves a kernel manager that it did not create running: shut the kernel down.
        if kernel.has_kernel:
            kernel.shutdown_kernel(now=True)
        sockets.cleanup()
        if env_fast is None:
            os.environ.pop("RESNETS_FAST", None)
        else:
            os.environ["RESNETS_FAST"] = env_fast
        nbformat.write(nb, output)
    return nb


def test_accuracy(nb) -> float:
    """The test accuracy printed by the cell tagged ``test-accuracy`` of an executed notebook.

    Raises:
        ValueError: no such cell, or it printed no ``Test accuracy: <number>`` line.
    """
    for cell in nb.cells:
        if ACCURACY_TAG in cell.metadata.get("tags", []):
            match = re.search(r"Test accuracy: ([0-9.]+)", cell_text(cell, "stdout"))
            if match:
                return float(match.group(1))
    raise ValueError(f"no cell tagged {ACCURACY_TAG!r} printed 'Test accuracy: <number>'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebook", nargs="?", type=Path, default=SOURCE_NOTEBOOK, help="default: %(default)s"
    )
    parser.add_argument("--fast", action="store_true", help="2 epochs on 64 images (RESNETS_FAST=1)")
    parser.add_argument(
        "--timeout", type=int, default=1800, help="seconds allowed per cell (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    out = RUNS_DIR / f"{args.notebook.stem}.executed.ipynb"
    print(f"Executing {args.notebook} ({'fast' if args.fast else 'full'} recipe); per cell:", flush=True)
    start = time.perf_counter()
    try:
        nb = execute(
            args.notebook,
            fast=args.fast,
            timeout=args.timeout,
            output=out,
            log=lambda line: print(line, flush=True),
        )
    except CellExecutionError as err:
        print(f"A cell failed; the executed notebook is in {out}.\n{err}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        if ACCURACY_TAG in cell.metadata.get("tags", []):
            print(cell_text(cell, "stdout").rstrip())
    for cell in nb.cells:
        if DIGITS_TAG in cell.metadata.get("tags", []) and cell_text(cell, "stdout"):
            print(cell_text(cell, "stdout").splitlines()[0])
    print(f"Executed notebook: {out}")
    print(
        f"Test accuracy: {test_accuracy(nb):.4f} on the 120 SIGNS test images; wall time {elapsed / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
