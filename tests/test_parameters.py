"""The notebook's parameters: one code cell tagged ``parameters`` (papermill's convention) holds
its settings with plain defaults for students, no cell reads a switch from the environment, and
``run_notebook.inject_parameters`` overrides them with a cell inserted right after that cell.
(That nbgrader's release keeps the cell is tested in test_course.py; that a run of the notebook
uses the injected values, in test_notebooks.py and test_recipe.py.)"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from resnets_kit import course
from resnets_kit.run_notebook import (
    INJECTED_TAG,
    PARAMETERS_TAG,
    inject_parameters,
    notebook_parameters,
    parameters_cell_index,
    parameters_source,
)
from resnets_kit.solution import SETUP_CELL, SOURCE_NOTEBOOK

NOTEBOOKS = [SOURCE_NOTEBOOK, course.STUDENT_NOTEBOOK]
#: The cells whose behaviour the parameter ``fast`` changes (nbgrader grade_id).
FAST_CELLS = {"vanishing-experiment", "recipe", "save"}


def _notebook():
    """A small notebook: a title, an import, the parameters, a cell that reads them."""
    return new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("import math"),
            new_code_cell(
                "fast = False\nepochs = 8  # the full run\nname: str = 'signs'",
                metadata={"tags": [PARAMETERS_TAG]},
            ),
            new_code_cell("summary = (fast, epochs, name, math.pi > 3)"),
        ]
    )


def _run(nb) -> dict:
    """Execute the notebook's code cells in order in one namespace (plain Python)."""
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, "<cell>", "exec"), namespace)
    return namespace


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _names_read(source: str) -> set[str]:
    code = "\n".join(line for line in source.splitlines() if not line.startswith("%%"))
    return {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}


# --- inject_parameters ------------------------------------------------------------------------------


def test_the_injected_cell_comes_right_after_the_parameters_cell():
    nb = _notebook()
    before = [cell.source for cell in nb.cells]
    assert inject_parameters(nb, fast=True) is nb
    assert len(nb.cells) == len(before) + 1
    injected = nb.cells[3]
    assert injected.cell_type == "code" and injected.metadata["tags"] == [INJECTED_TAG]
    assert injected.source == "# Parameters\nfast = True\n"
    assert [cell.source for i, cell in enumerate(nb.cells) if i != 3] == before  # nothing else moved
    nbformat.validate(nb)


def test_injected_values_override_the_defaults_and_the_rest_keep_theirs():
    nb = _notebook()
    assert notebook_parameters(nb) == {"fast": False, "epochs": 8, "name": "signs"}
    assert _run(copy.deepcopy(nb))["summary"] == (False, 8, "signs", True)
    inject_parameters(nb, fast=True, epochs=2)
    assert _run(nb)["summary"] == (True, 2, "signs", True)


def test_injecting_again_replaces_the_earlier_cell():
    nb = _notebook()
    inject_parameters(nb, fast=True)
    inject_parameters(nb, epochs=3)
    injected = [i for i, cell in enumerate(nb.cells) if INJECTED_TAG in cell.metadata.get("tags", [])]
    assert injected == [3]
    assert _run(nb)["summary"] == (False, 3, "signs", True)


def test_a_notebook_without_a_parameters_cell_raises():
    nb = _notebook()
    nb.cells[2].metadata["tags"] = []
    nb.cells[0].metadata["tags"] = [PARAMETERS_TAG]  # a markdown cell does not count
    with pytest.raises(ValueError, match="no code cell tagged 'parameters'"):
        inject_parameters(nb, fast=True)
    assert len(nb.cells) == 4


def test_two_parameters_cells_raise():
    nb = _notebook()
    nb.cells[1].metadata["tags"] = [PARAMETERS_TAG]
    with pytest.raises(ValueError, match="2 code cells are tagged 'parameters'"):
        inject_parameters(nb, fast=True)


def test_a_misspelt_parameter_raises():
    nb = _notebook()
    with pytest.raises(
        ValueError, match=r"not a parameter of the notebook: fsat \(its parameters: fast, epochs, name\)"
    ):
        inject_parameters(nb, fsat=True)
    assert len(nb.cells) == 4


@pytest.mark.parametrize(
    "value",
    [
        Path("runs"),
        object(),
        float("nan"),
        float("inf"),
        np.float64(0.5),
        np.bool_(True),
        [1, Path("x")],
        {"a": object()},
    ],
    ids=["Path", "object", "nan", "inf", "numpy-float", "numpy-bool", "list-with-Path", "dict-with-object"],
)
def test_a_value_that_is_not_a_plain_literal_raises(value):
    nb = _notebook()
    with pytest.raises(ValueError, match="literal"):
        inject_parameters(nb, fast=value)
    assert len(nb.cells) == 4  # nothing injected


@pytest.mark.parametrize(
    "value", [True, None, -3, 0.25, 1 + 2j, 'it\'s "quoted"\n', b"\x00", [1, (2, 3)], {"a": [1.5]}, {1, 2}]
)
def test_plain_literals_are_written_as_themselves(value):
    line = parameters_source(x=value).splitlines()[1]
    assert line.startswith("x = ")
    written = ast.literal_eval(line[len("x = ") :])
    assert written == value and type(written) is type(value)


@pytest.mark.parametrize("name", ["not a name", "class", "1st"])
def test_an_invalid_parameter_name_raises(name):
    with pytest.raises(ValueError, match="not a valid parameter name"):
        parameters_source(**{name: 1})


def test_a_parameters_cell_that_computes_its_values_raises():
    nb = _notebook()
    nb.cells[2].source = 'import os\nfast = os.environ.get("FAST") == "1"'
    with pytest.raises(ValueError, match="assigns fast something other than a literal"):
        inject_parameters(nb, fast=True)


# --- The notebooks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_has_one_parameters_cell_after_the_imports(path):
    nb = nbformat.read(path, as_version=4)
    at = parameters_cell_index(nb)
    assert _grade_id(nb.cells[at - 1]) == SETUP_CELL
    assert notebook_parameters(nb) == {"fast": False}  # the students' default: the real run
    assert nb.cells[at].metadata["nbgrader"]["locked"] is False  # students may change it
    assert nb.cells[at].metadata.get("editable", True) is True
    assert not any(INJECTED_TAG in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_cells_read_the_parameter_not_the_environment(path):
    nb = nbformat.read(path, as_version=4)
    at = parameters_cell_index(nb)
    readers = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert "os.environ" not in cell.source and "getenv" not in cell.source, _grade_id(cell)
        if i != at and "fast" in _names_read(cell.source):
            assert i > at, f"{_grade_id(cell)} reads fast before the parameters cell"
            readers.add(_grade_id(cell))
    assert readers == FAST_CELLS
