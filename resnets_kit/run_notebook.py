"""Execute a notebook end to end and report its test accuracy: the project's main job.

``python -m resnets_kit.run_notebook`` runs the source notebook (the reference solution) with the
full training recipe, writes the executed copy to ``runs/`` (git-ignored), and prints the line
``Test accuracy: ...`` that the notebook's evaluation cell (tagged ``test-accuracy``) printed, the
first line printed by the cell tagged ``digits-accuracy`` (the accuracy on the Sign Language Digits
set, or why it was not measured), and the wall time. ``--fast`` sets the notebook's parameter
``fast = True``: tiny networks in the experiments of section 2.1, and 2 epochs on 64 images in the
training (the test suite's quick run).

Parameters follow papermill's convention: the notebook's parameters are the plain assignments of
its one code cell tagged ``parameters``, and a run overrides them with a code cell tagged
``injected-parameters``, inserted right after that cell (:func:`inject_parameters`).
"""

from __future__ import annotations

import argparse
import ast
import keyword
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
#: Tag of the code cell that holds the notebook's parameters (papermill's convention).
PARAMETERS_TAG = "parameters"
#: Tag of the code cell that :func:`inject_parameters` inserts after it (papermill's name).
INJECTED_TAG = "injected-parameters"
#: The types a parameter value may have: Python literals, and containers of them.
_LITERAL_TYPES = (bool, int, float, complex, str, bytes, type(None), list, tuple, dict, set)


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


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _check_literal(name: str, value, where: str | None = None) -> None:
    """Raise ValueError unless ``value`` is a plain literal that ``repr`` writes back as itself."""
    if type(value) not in _LITERAL_TYPES:
        raise ValueError(
            f"parameter {name!r}: {where or 'the value'} is a {type(value).__name__}, not a plain literal "
            "(bool, int, float, complex, str, bytes, None, or a list, tuple, dict or set of them)"
        )
    if isinstance(value, (list, tuple, set)):
        for item in value:
            _check_literal(name, item, "an item")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_literal(name, key, "a key")
            _check_literal(name, item, "an item")
    else:
        try:
            same = ast.literal_eval(repr(value)) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:  # nan, inf: repr() writes no literal
            raise ValueError(f"parameter {name!r}: {value!r} cannot be written as a Python literal")


def parameters_source(**values) -> str:
    """The code of an injected-parameters cell: one ``name = value`` line per parameter.

    Args:
        **values: the parameters and their values, plain literals only (bool, int, float,
            complex, str, bytes, None, and lists, tuples, dicts and sets of them), so that the
            cell's code is the value itself and not something built by running code.

    Returns:
        The cell's code, starting with the comment line ``# Parameters``.

    Raises:
        ValueError: a name is not a Python identifier (or is a keyword), or a value is not a
            plain literal (e.g. a ``Path``, a NumPy number, ``float("nan")``).
    """
    lines = ["# Parameters"]
    for name, value in values.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{name!r} is not a valid parameter name")
        _check_literal(name, value)
        lines.append(f"{name} = {value!r}")
    return "\n".join(lines) + "\n"


def parameters_cell_index(nb) -> int:
    """The index of the notebook's code cell tagged ``parameters``.

    Raises:
        ValueError: no code cell has the tag, or more than one has it.
    """
    found = [
        i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and PARAMETERS_TAG in _tags(cell)
    ]
    if not found:
        raise ValueError(
            f"the notebook has no code cell tagged {PARAMETERS_TAG!r}: add the tag to the metadata "
            "of the cell that assigns its parameters (metadata.tags)"
        )
    if len(found) > 1:
        raise ValueError(f"{len(found)} code cells are tagged {PARAMETERS_TAG!r} (cells {found}); keep one")
    return found[0]


def notebook_parameters(nb) -> dict:
    """The notebook's parameters and their default values: the plain assignments
    (``name = literal``) of its cell tagged ``parameters``.

    Raises:
        ValueError: no cell tagged ``parameters`` (or several), its code is not plain Python, or
            it assigns something other than a literal.
    """
    cell = nb.cells[parameters_cell_index(nb)]
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as err:
        raise ValueError(f"the cell tagged {PARAMETERS_TAG!r} is not plain Python: {err}") from err
    defaults = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            try:
                defaults[target.id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError) as err:
                raise ValueError(
                    f"the cell tagged {PARAMETERS_TAG!r} assigns {target.id} something other "
                    f"than a literal: {ast.unparse(node.value)}"
                ) from err
    return defaults


def inject_parameters(nb, **values):
    """Override the notebook's parameters the way papermill does, in place.

    Inserts a code cell tagged ``injected-parameters`` right after the code cell tagged
    ``parameters``; it assigns ``values`` (see :func:`parameters_source`), so that the cells after
    it see them instead of the defaults. A cell injected earlier is removed first, so that a
    notebook holds at most one.

    Args:
        nb: the notebook (``nbformat.NotebookNode``, version 4).
        **values: the parameters to override, each a name assigned in the ``parameters`` cell,
            with a plain literal value.

    Returns:
        ``nb``, changed.

    Raises:
        ValueError: the notebook has no code cell tagged ``parameters`` (or several); a name is
            not one of the notebook's parameters (a misspelt parameter would otherwise change
            nothing); a value is not a plain literal.
    """
    defaults = notebook_parameters(nb)
    unknown = [name for name in values if name not in defaults]
    if unknown:
        raise ValueError(
            f"not a parameter of the notebook: {', '.join(unknown)} "
            f"(its parameters: {', '.join(defaults) or 'none'})"
        )
    source = parameters_source(**values)
    nb.cells = [cell for cell in nb.cells if INJECTED_TAG not in _tags(cell)]
    at = parameters_cell_index(nb)
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    if INJECTED_TAG not in {c.get("id") for c in nb.cells}:
        cell.id = INJECTED_TAG
    nb.cells.insert(at + 1, cell)
    return nb


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
        fast: the value of the notebook's parameter ``fast``, injected after its ``parameters``
            cell (``True``: tiny experiments, short training on a subset).
        timeout: seconds allowed per cell.
        output: where to write the executed notebook (default ``runs/<name>.executed.ipynb``);
            written also when a cell fails, so that the error can be read there.
        log: called with one line per executed cell (its ``grade_id`` and seconds), and with the
            output of cells tagged ``echo-output`` as it is printed; ``None``: silent.

    Returns:
        The executed notebook (``nbformat.NotebookNode``).

    Raises:
        FileNotFoundError: the notebook does not exist.
        ValueError: the notebook has no ``parameters`` cell, or ``fast`` is not one of its
            parameters (see :func:`inject_parameters`).
        nbclient.exceptions.CellExecutionError: a cell raised; the message holds its traceback.
    """
    notebook = Path(notebook)
    if not notebook.exists():
        raise FileNotFoundError(f"notebook not found: {notebook}")
    nb = inject_parameters(nbformat.read(notebook, as_version=4), fast=bool(fast))
    output = output or RUNS_DIR / f"{notebook.stem}.executed.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    started = {}

    def on_start(cell, cell_index):
        started[cell_index] = time.perf_counter()

    def on_done(cell, cell_index, execute_reply):
        if log is not None:
            name = cell.metadata.get("nbgrader", {}).get("grade_id")
            name = name or (INJECTED_TAG if INJECTED_TAG in _tags(cell) else f"cell {cell_index}")
            log(f"  [{cell_index:2d}] {name}: {time.perf_counter() - started[cell_index]:.1f} s")

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
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the quick run: fast = True (tiny networks, 2 epochs on 64 images)",
    )
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
