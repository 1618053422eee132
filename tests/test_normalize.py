"""Copied nbgrader cells (resnets_kit.grader.normalize) and submissions that cannot be graded
(submissions.submission_problem), without running nbgrader's autograde: fast.

The full path (nbgrader autograde in a course, the sandbox, the CSV and the feedback) is in
tests/test_student_notebooks.py.
"""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from resnets_kit import course
from resnets_kit.classgrade import reports, submissions
from resnets_kit.grader.normalize import NOTE_MARK, drop_empty_metadata, note_text, resolve_duplicates
from resnets_kit.grader.plan import answer_cells
from resnets_kit.solution import GRADED_FUNCTIONS, SOURCE_NOTEBOOK


def source_notebook() -> nbformat.NotebookNode:
    return nbformat.read(SOURCE_NOTEBOOK, as_version=4)


def index_of(nb, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def copy_cell(nb, grade_id: str, source: str | None = None, *, before: bool = False) -> int:
    """Paste a copy of a cell right after (or before) it, as JupyterLab does (new cell id, same
    metadata); return the copy's index."""
    at = index_of(nb, grade_id)
    cell = copy.deepcopy(nb.cells[at])
    cell.id = "pasted" + cell.id[:6]
    if source is not None:
        cell.source = source
    nb.cells.insert(at if before else at + 1, cell)
    return at if before else at + 1


def with_meta(nb, grade_id: str) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


WRONG = "def identity_block(X, f, filters, training=True, initializer=None):\n    return X\n"


# --- The cause ------------------------------------------------------------------------------------


def test_nbgraders_own_deduplication_fails_the_metadata_check_and_ours_passes_it():
    """nbgrader's DeduplicateIds leaves ``{}`` as the copies' metadata, which CheckCellMetadata
    reads as schema version 0: the submission fails with "nbgrader update ."."""
    from nbgrader.nbgraderformat import SchemaTooOldError
    from nbgrader.preprocessors import CheckCellMetadata, DeduplicateIds

    nb = source_notebook()
    copy_cell(nb, "identity_block")
    copy_cell(nb, "identity_block_shape")
    theirs, _ = DeduplicateIds().preprocess(copy.deepcopy(nb), {})
    assert {} in [c.metadata.get("nbgrader") for c in theirs.cells]
    with pytest.raises(SchemaTooOldError):
        CheckCellMetadata().preprocess(theirs, {})

    resolve_duplicates(nb)
    ours, _ = DeduplicateIds().preprocess(nb, {})
    CheckCellMetadata().preprocess(ours, {})  # does not raise
    assert all(c.metadata.get("nbgrader") != {} for c in ours.cells)


def test_course_config_resolves_copies_after_clearing_outputs_and_before_nbgraders_checks():
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells
    from traitlets.config.loader import PyFileConfigLoader

    from resnets_kit.grader.preprocessors import NormalizeSubmission

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.COURSE_ROOT)).load_config()
    steps = list(config.Autograde.sanitize_preprocessors)
    at = steps.index(NormalizeSubmission)
    assert steps.index(ClearOutput) < at < steps.index(DeduplicateIds)
    assert at < steps.index(OverwriteCells) < steps.index(CheckCellMetadata)


# --- Which copy counts ----------------------------------------------------------------------------


def test_the_last_copy_of_an_answer_cell_is_graded():
    nb = source_notebook()
    original = nb.cells[index_of(nb, "identity_block")].source
    first = copy_cell(nb, "identity_block", WRONG, before=True)
    (duplicate,) = resolve_duplicates(nb, notes=False)
    assert (duplicate.grade_id, duplicate.role, duplicate.ignored) == ("identity_block", "answer", (first,))
    assert duplicate.kept == first + 1
    assert with_meta(nb, "identity_block") == [first + 1]
    assert "nbgrader" not in nb.cells[first].metadata and nb.cells[first].source == WRONG
    assert answer_cells(nb)["identity_block"] == original
    assert set(answer_cells(nb)) == set(GRADED_FUNCTIONS)


def test_a_wrong_last_copy_is_graded_too():
    nb = source_notebook()
    last = copy_cell(nb, "identity_block", WRONG)
    resolve_duplicates(nb, notes=False)
    assert with_meta(nb, "identity_block") == [last]
    assert answer_cells(nb)["identity_block"] == WRONG


def test_a_copy_that_does_not_run_is_not_the_answer():
    """A student who keeps an old version as a raw or markdown cell below the code: the code cell
    is what their kernel ran, so it is graded."""
    nb = source_notebook()
    code_at = index_of(nb, "identity_block")
    original = nb.cells[code_at].source
    last = copy_cell(nb, "identity_block", WRONG)
    nb.cells[last] = nbformat.v4.new_raw_cell(WRONG, metadata=copy.deepcopy(nb.cells[last].metadata))
    (duplicate,) = resolve_duplicates(nb, notes=False)
    assert (duplicate.kept, duplicate.ignored) == (code_at, (last,))
    assert answer_cells(nb)["identity_block"] == original


def test_the_first_copy_of_test_markdown_and_setup_cells_is_kept():
    nb = source_notebook()
    tests = index_of(nb, "identity_block_shape")
    copy_cell(nb, "identity_block_shape")
    copy_cell(nb, "identity_block_shape")
    setup = index_of(nb, "setup")
    copy_cell(nb, "setup")
    copy_cell(nb, "identity-md", before=True)  # pasted above: the pasted copy is the first
    markdown = index_of(nb, "identity-md")
    duplicates = {d.grade_id: d for d in resolve_duplicates(nb, notes=False)}
    assert set(duplicates) == {"setup", "identity-md", "identity_block_shape"}
    assert duplicates["identity_block_shape"].role == "test"
    assert duplicates["setup"].role == duplicates["identity-md"].role == "other"
    assert len(duplicates["identity_block_shape"].ignored) == 2
    assert with_meta(nb, "setup") == [setup]
    assert with_meta(nb, "identity-md") == [markdown]
    assert with_meta(nb, "identity_block_shape") == [tests + 2]  # after the setup and markdown copies
    assert "2 copies" in duplicates["setup"].describe() and "first one" in duplicates["setup"].describe()


def test_notes_above_each_copy_say_which_one_was_graded():
    nb = source_notebook()
    copy_cell(nb, "identity_block", WRONG, before=True)
    copy_cell(nb, "ResNet50_model")
    n_cells = len(nb.cells)
    duplicates = resolve_duplicates(nb)
    assert len(nb.cells) == n_cells + 4
    notes = [(i, c) for i, c in enumerate(nb.cells) if c.metadata.get(NOTE_MARK)]
    assert len(notes) == 4
    for _, note in notes:
        assert note.cell_type == "markdown" and note.source.startswith("> **Grader's note:**")
        assert "nbgrader" not in note.metadata
    texts = [note.source for _, note in notes]
    assert "the copy below of the answer cell `identity_block` was ignored" in texts[0]
    assert "The copy below, the last one that runs, is the one that was graded" in texts[1]
    assert "the other copy was ignored" in texts[1]
    assert "The copy below, the first one, was graded" in texts[2] and "`ResNet50_model`" in texts[2]
    assert "the first copy was graded" in texts[3]
    # each note is right above its copy, and the graded copies keep their metadata
    assert nb.cells[notes[1][0] + 1].metadata["nbgrader"]["grade_id"] == "identity_block"
    assert "nbgrader" not in nb.cells[notes[0][0] + 1].metadata
    assert nb.cells[notes[2][0] + 1].metadata["nbgrader"]["grade_id"] == "ResNet50_model"
    assert [d.grade_id for d in duplicates] == ["identity_block", "ResNet50_model"]
    nbformat.validate(nb)


def test_a_grade_id_edited_into_markup_is_not_rendered_in_a_note():
    nb = nbformat.v4.new_notebook()
    for _ in range(2):
        cell = new_code_cell("x = 1")
        cell.metadata["nbgrader"] = {"grade_id": "<img src=x onerror=alert(1)>`", "solution": True}
        nb.cells.append(cell)
    (duplicate,) = resolve_duplicates(nb)
    for index in (duplicate.kept, *duplicate.ignored):
        text = note_text(duplicate, index)
        assert "<" not in text and "`?img?src?x?onerror?alert?1???`" in text


def test_notes_in_an_nbformat_4_4_notebook_have_no_cell_ids():
    nb = source_notebook()
    copy_cell(nb, "identity_block")
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 4
    for cell in data["cells"]:
        del cell["id"]
    old = nbformat.reads(json.dumps(data), as_version=4)
    resolve_duplicates(old)
    assert not any("id" in cell for cell in old.cells)
    nbformat.validate(old)


def test_a_notebook_without_copies_is_left_unchanged():
    nb = source_notebook()
    nb.cells.insert(5, new_markdown_cell("my own notes"))
    nb.cells.insert(5, new_code_cell("print('scratch')"))
    before = copy.deepcopy(nb)
    assert resolve_duplicates(nb) == []
    assert nb == before


def test_empty_nbgrader_metadata_is_dropped():
    nb = source_notebook()
    nb.cells[3].metadata["nbgrader"] = {}
    nb.cells[4].metadata["nbgrader"] = "corrupt"
    assert drop_empty_metadata(nb) == [3, 4]
    assert "nbgrader" not in nb.cells[3].metadata and "nbgrader" not in nb.cells[4].metadata
    assert drop_empty_metadata(nb) == []


# --- Submissions that cannot be graded ------------------------------------------------------------


def test_a_notebook_with_copied_cells_can_be_graded(tmp_path):
    nb = source_notebook()
    copy_cell(nb, "identity_block")
    path = tmp_path / "copied.ipynb"
    nbformat.write(nb, path)
    assert submissions.submission_problem(path) is None
    assert submissions.notebook_problem(path) == ""
    (line,) = submissions.duplicate_notes(path)
    assert line.startswith("2 copies of the answer cell 'identity_block': the last one")


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("not-json", '{"cells": [ this is not a notebook', "not a valid notebook: "),
        ("empty", "", "not a valid notebook: "),
        (
            "future",
            json.dumps({"nbformat": 9, "nbformat_minor": 0, "cells": [], "metadata": {}}),
            "not a valid",
        ),
    ],
)
def test_a_file_that_is_not_a_notebook_cannot_be_graded(tmp_path, name, content, reason):
    path = tmp_path / f"{name}.ipynb"
    path.write_text(content)
    problem = submissions.submission_problem(path)
    assert problem is not None and problem.reason.startswith(reason)
    assert "ask the student to submit the notebook again" in problem.action
    assert "Jupyter" in problem.advice
    assert submissions.notebook_problem(path) == f"{problem.reason}; {problem.action}"


def test_a_notebook_without_answer_cells_cannot_be_graded(tmp_path):
    nb = source_notebook()
    for cell in nb.cells:  # the code pasted into a new notebook: no nbgrader metadata
        cell.metadata.pop("nbgrader", None)
    path = tmp_path / "new.ipynb"
    nbformat.write(nb, path)
    problem = submissions.submission_problem(path)
    assert problem is not None
    assert problem.reason.startswith(
        "none of the answer cells (identity_block, convolutional_block, ResNet50)"
    )
    assert "released Residual_Networks.ipynb" in problem.action
    assert "answer cells of the Residual_Networks.ipynb you were given" in problem.advice


def test_an_answer_cell_of_the_wrong_type_can_still_be_graded(tmp_path):
    """nbgrader's OverwriteCells turns an answer cell a student made markdown or raw back into a
    code cell, so its code is graded (tests/test_student_notebooks.py grades one)."""
    nb = source_notebook()
    at = index_of(nb, "identity_block")
    nb.cells[at] = nbformat.v4.new_markdown_cell(nb.cells[at].source, metadata=nb.cells[at].metadata)
    path = tmp_path / "markdown.ipynb"
    nbformat.write(nb, path)
    assert submissions.submission_problem(path) is None


def test_the_feedback_page_of_an_invalid_submission_escapes_what_came_from_it():
    problem = submissions.Problem(
        "not a valid notebook: <script>alert(1)</script>", "fix it", "resubmit & check"
    )
    page = reports.problem_feedback("ann", problem)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "resubmit &amp; check" in page and "not graded" in page and "ann" in page
