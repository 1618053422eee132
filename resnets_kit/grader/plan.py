"""The grading plan: which checks each test cell of the source notebook runs.

Read from the cells' code (:func:`parse_test_cell`): ``identity_block_test(identity_block,
checks="shape")``, ``ResNet50_test(ResNet50, checks="layers", part="stage 3")`` or
``hidden_test("identity_block", identity_block)``; and the answer cells a submission holds.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from resnets_kit.assignment import GRADED_FUNCTIONS
from resnets_kit.solution import SOURCE_NOTEBOOK


@dataclass(frozen=True)
class CellCheck:
    """What one test cell checks: a graded function, which checks, public or hidden cases."""

    function: str
    checks: tuple[str, ...] | None
    hidden: bool
    part: str | None = None


def parse_test_cell(source: str) -> CellCheck | None:
    """Read which checks a test cell runs from its code, or None if it calls no test.

    Recognised calls: ``<function>_test(<function>, checks=..., part=...)`` (``checks`` a string
    literal or a list or tuple of them; absent: all checks; ``part``, for ResNet50, a string
    literal naming the part of the network whose layers are checked) and
    ``hidden_test("<function>", <function>)``.

    Raises:
        ValueError: the cell calls a test in another form.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"test cell is not valid Python: {err}") from err
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name = node.func.id
        if name == "hidden_test":
            if not node.args or not isinstance(node.args[0], ast.Constant):
                raise ValueError("hidden_test must be called with the function's name as a literal")
            return CellCheck(node.args[0].value, None, True)
        if name.endswith("_test") and name[: -len("_test")] in GRADED_FUNCTIONS:
            checks, part = None, None
            for keyword in node.keywords:
                if keyword.arg == "checks":
                    value = ast.literal_eval(keyword.value)
                    checks = (value,) if isinstance(value, str) else tuple(value)
                if keyword.arg == "part":
                    part = ast.literal_eval(keyword.value)
            return CellCheck(name[: -len("_test")], checks, False, part)
    return None


def grading_plan(path: Path = SOURCE_NOTEBOOK) -> dict[str, CellCheck]:
    """``grade_id`` to :class:`CellCheck` for every autograded test cell of the source notebook.

    Raises:
        ValueError: a grade cell calls no test, or in a form :func:`parse_test_cell` cannot read.
    """
    import nbformat  # here, not at the top: its import takes ~2 s the check process does not need

    notebook = nbformat.read(path, as_version=4)
    plan = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            check = parse_test_cell(cell.source)
            if check is None:
                raise ValueError(f"grade cell {meta.get('grade_id')!r} calls no test")
            plan[meta["grade_id"]] = check
    return plan


def answer_cells(notebook) -> dict[str, str]:
    """The code of the graded answer cells of a notebook (nbgrader ``solution`` cells whose
    ``grade_id`` is a graded function's name); a deleted cell is absent from the result."""
    cells = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id") in GRADED_FUNCTIONS:
            cells[meta["grade_id"]] = cell.source
    return cells


def python_source(cell_source: str) -> str:
    """A notebook cell's code as plain Python (IPython magics become ``get_ipython()`` calls,
    which fail in the sandbox like any other error)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(cell_source)
    except Exception:
        return cell_source
