"""The notebooks: committed clean, with nbgrader metadata and solution markers; the source
notebook runs end to end (fast recipe) with no error and nothing on stderr. (The student
notebook's derivation from the source is tested in test_course.py.)"""

from __future__ import annotations

import re

import nbformat
import pytest

from resnets_kit import course, run_notebook
from resnets_kit.solution import GRADED_FUNCTIONS, SOURCE_NOTEBOOK

NOTEBOOKS = [SOURCE_NOTEBOOK, course.STUDENT_NOTEBOOK]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


def test_source_notebook_marks_each_graded_function_as_a_solution_cell():
    nb = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for name in GRADED_FUNCTIONS:
        cell = by_id[name]
        assert cell.metadata["nbgrader"]["solution"] is True
        assert f"def {name}(" in cell.source
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        tests = [
            c
            for gid, c in by_id.items()
            if gid and gid.startswith(f"{name}_") and c.metadata["nbgrader"]["grade"]
        ]
        assert len(tests) >= 3, f"{name} is graded by several test cells"
        assert sum(c.metadata["nbgrader"]["points"] for c in tests) == 10
        hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
        assert len(hidden) == 1 and "hidden_test(" in hidden[0].source
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert None not in ids, "every cell carries nbgrader metadata with a grade_id"
    assert len(ids) == len(set(ids)), "grade_id values are unique"


def test_notebook_images_exist():
    nb = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    links = [
        m for c in nb.cells if c.cell_type == "markdown" for m in re.findall(r"\]\(([^)]+\.png)\)", c.source)
    ]
    assert links
    for link in links:
        assert (SOURCE_NOTEBOOK.parent / link).resolve().exists(), link


@pytest.mark.slow
def test_source_notebook_runs_end_to_end(tmp_path):
    nb = run_notebook.execute(fast=True, output=tmp_path / "executed.ipynb", log=None)
    accuracy = run_notebook.test_accuracy(nb)
    # the run's parameters: a cell injected right after the parameters cell, and only there
    at = run_notebook.parameters_cell_index(nb)
    injected = [i for i, c in enumerate(nb.cells) if run_notebook.INJECTED_TAG in c.metadata.get("tags", [])]
    assert injected == [at + 1]
    assert "fast = True" in nb.cells[at + 1].source
    assert 0.0 <= accuracy <= 1.0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        stderr = run_notebook.cell_text(cell, "stderr")
        assert stderr == "", f"cell {i} wrote to stderr:\n{stderr}"
        assert all(o.output_type != "error" for o in cell.outputs)
    text = {
        c.metadata["nbgrader"]["grade_id"]: run_notebook.cell_text(c)
        for c in nb.cells
        if c.cell_type == "code" and "nbgrader" in c.metadata
    }
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == 17
    for cell in graded:
        assert "passed (" in run_notebook.cell_text(cell), cell.metadata["nbgrader"]["grade_id"]
    assert "23,600,006 parameters | keras.applications.ResNet50: 23,600,006" in text["resnet-applications"]
    assert "reloaded model gives the same predictions: True" in text["save"]
    figures = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) >= 3  # samples, training curves, own-image prediction
    # the plain-versus-residual experiments (tiny settings): their summaries and both figures
    experiments = next(c for c in nb.cells if _grade_id(c) == "vanishing-experiment")
    assert sum("image/png" in o.get("data", {}) for o in experiments.outputs) == 2
    assert "Gradient norms" in text["vanishing-experiment"]
    assert "Training loss per epoch" in text["vanishing-experiment"]
    # the second data set: its accuracy, or why it could not be measured
    assert text["digits"].startswith(
        ("Sign Language Digits accuracy: ", "The Sign Language Digits files are not")
    )


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")
