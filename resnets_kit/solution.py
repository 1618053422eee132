"""Read the reference solution out of the source notebook.

The source notebook ``notebooks/Residual_Networks_solution.ipynb`` is the single place where the
graded functions' reference solution is written (between nbgrader's ``### BEGIN SOLUTION`` and
``### END SOLUTION`` markers). Scripts and tests that need the solution (reference outputs, the
test suite's deliberate mistakes) take its code from there with :func:`load_solution`.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from resnets_kit.assignment import GRADED_FUNCTIONS, SOURCE_NOTEBOOK

#: ``grade_id`` of the cell with the imports the graded functions need.
SETUP_CELL = "setup"


def _cells_by_id(path: Path) -> dict[str, str]:
    if not path.exists():
        raise FileNotFoundError(f"source notebook not found: {path}")
    import nbformat  # here, not at the top: its import takes ~2 s the grader's check process does not need

    notebook = nbformat.read(path, as_version=4)
    cells = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            cells[grade_id] = cell.source
    return cells


def solution_sources(path: Path = SOURCE_NOTEBOOK) -> dict[str, str]:
    """The code of the setup cell and of each graded function's cell.

    Args:
        path: the source notebook.

    Returns:
        ``{"setup": ..., "identity_block": ..., "convolutional_block": ..., "ResNet50": ...}``,
        the cells' code as written in the notebook.

    Raises:
        FileNotFoundError: the notebook does not exist.
        KeyError: a cell with one of those nbgrader ``grade_id`` values is missing.
    """
    cells = _cells_by_id(path)
    wanted = (SETUP_CELL, *GRADED_FUNCTIONS)
    missing = [name for name in wanted if name not in cells]
    if missing:
        raise KeyError(f"{path} has no cell with nbgrader grade_id {missing}")
    return {name: cells[name] for name in wanted}


def fill_answers(nb, answers: dict[str, str] | None = None):
    """Write answers into a notebook's answer cells (those whose nbgrader ``grade_id`` is a
    graded function), in place; return the notebook.

    Args:
        nb: a version 4 notebook (the release, a submission).
        answers: ``grade_id`` to code (default: the reference solution, :func:`solution_sources`);
            other keys are ignored.
    """
    answers = solution_sources() if answers is None else answers
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in GRADED_FUNCTIONS and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def load_solution(
    path: Path = SOURCE_NOTEBOOK, replace: dict[str, list[tuple[str, str]]] | None = None
) -> dict:
    """Execute the setup cell and the graded cells of the source notebook; return the namespace.

    Args:
        path: the source notebook.
        replace: optional edits applied before execution, ``{cell: [(old, new), ...]}``, used by
            the tests to build deliberate mistakes from the reference solution. Each ``old``
            must occur in that cell's code.

    Returns:
        The namespace dict; ``namespace["identity_block"]`` etc. are the functions.

    Raises:
        ValueError: an ``old`` text of ``replace`` does not occur in its cell.
    """
    sources = solution_sources(path)
    for cell, edits in (replace or {}).items():
        for old, new in edits:
            if old not in sources[cell]:
                raise ValueError(f"text to replace not found in cell {cell!r}: {old!r}")
            sources[cell] = sources[cell].replace(old, new)
    namespace: dict = {"__name__": "resnets_solution"}
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell prints versions
        for name, source in sources.items():
            exec(compile(source, f"<{path.name}:{name}>", "exec"), namespace)
    return namespace


def def_line(name: str, path: Path = SOURCE_NOTEBOOK) -> str:
    """The ``def`` line of a graded function as the source notebook declares it (on one line),
    e.g. ``def ResNet50(input_shape=(64, 64, 3), classes=6):``.

    Raises:
        ValueError: the function's cell does not define it.
    """
    lines = solution_sources(path)[name].splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"def {name}(")), None)
    if start is None:
        raise ValueError(f"the source notebook's {name} cell does not define {name}")
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(":"))
    return " ".join(line.strip() for line in lines[start : end + 1]).replace("( ", "(")
