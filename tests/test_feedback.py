"""What the grader writes for people to read: notebooks that lost their figures still render,
feedback math needs no network, and a failure to write feedback names its cause."""

from __future__ import annotations

import copy
import logging

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import InvalidNotebook
from traitlets.config import Config

from resnets_kit import course
from resnets_kit.classgrade.reports import failure_cause
from resnets_kit.grader.feedback import course_figure, markdown2html_mathml, math_to_mathml, mend_attachments
from resnets_kit.grader.normalize import drop_unmarked_metadata
from resnets_kit.grader.preprocessors import HideHiddenTests, SanitizeMarkdown


@pytest.fixture(scope="module")
def released() -> nbformat.NotebookNode:
    """The student notebook, whose markdown cells carry the course's figures as attachments."""
    return nbformat.read(course.STUDENT_NOTEBOOK, as_version=4)


def _render(nb) -> str:
    return HTMLExporter().from_notebook_node(nb)[0]


def _figure_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.get("attachments")]


def test_a_notebook_without_its_figures_renders_once_mended(released):
    nb = copy.deepcopy(released)
    cells = _figure_cells(nb)
    assert len(cells) >= 4
    for index in cells:
        del nb.cells[index]["attachments"]
    with pytest.raises(InvalidNotebook, match="missing attachment"):
        _render(copy.deepcopy(nb))  # what Manual Grading and feedback did
    changes = mend_attachments(nb)
    assert len(changes) == len(cells) and all("attached again" in change for change in changes)
    for index in cells:
        assert nb.cells[index].attachments == released.cells[index].attachments
    assert "data:image/png;base64," in _render(nb)


def test_renamed_or_broken_attachments_become_a_note_and_good_ones_stay(released):
    nb = copy.deepcopy(released)
    first, second, third = _figure_cells(nb)[:3]
    name = next(iter(nb.cells[first].attachments))
    nb.cells[first].attachments = {"image.png": nb.cells[first].attachments[name]}  # renamed
    nb.cells[first].source = nb.cells[first].source.replace(f"attachment:{name}", "attachment:photo1.png")
    nb.cells[second].attachments = {next(iter(nb.cells[second].attachments)): {}}  # emptied
    nb.cells[third].attachments = "not a mapping"
    kept = copy.deepcopy(nb.cells[_figure_cells(released)[3]])
    changes = mend_attachments(nb)
    assert f"cell {first + 1}: attachment 'photo1.png' is missing; shown as a note" in changes, changes
    assert "*[figure photo1.png is missing from this notebook]*" in nb.cells[first].source
    assert nb.cells[second].attachments == released.cells[second].attachments  # a course figure again
    assert nb.cells[third].attachments == released.cells[third].attachments
    assert nb.cells[_figure_cells(released)[3]] == kept
    _render(nb)  # renders


def test_a_missing_image_that_is_not_a_course_figure_is_named_in_text():
    cell = nbformat.v4.new_markdown_cell('Look: ![my plot](attachment:plot.png "title") here.')
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert mend_attachments(nb) == ["cell 1: attachment 'plot.png' is missing; shown as a note"]
    assert cell.source == "Look: *[figure plot.png is missing from this notebook]* here."
    assert course_figure("plot.png") is None and course_figure("../secret.png") is None
    _render(nb)


def test_feedback_math_is_mathml_and_unknown_math_stays_for_mathjax():
    html = markdown2html_mathml(
        {"cell": {}}, "Inline $\\gamma + \\beta$, and\n\n$$\\frac{\\partial L}{\\partial a}$$\n\n`$code$`"
    )
    assert html.count("<math") == 2 and 'display="block"' in html
    assert "<code>$code$</code>" in html  # code is not math
    assert math_to_mathml("\\frac{") is None  # the converter refuses it: left as it was


def test_the_course_renders_feedback_math_as_mathml(released):
    config = Config()
    config.HTMLExporter.filters = {"markdown2html": "resnets_kit.grader.feedback.markdown2html_mathml"}
    html = HTMLExporter(config=config).from_notebook_node(released)[0]
    assert html.count("<math") >= 10
    assert "\\mathcal{L}" not in html  # every formula of the notebook converted


def test_feedback_steps_accept_the_html_exporters_configuration(caplog):
    """nbconvert configures display_data_priority for every preprocessor; nbgrader's base class
    did not declare it configurable, so each feedback run logged 'not recognized'."""
    config = Config()
    config.NbConvertBase.display_data_priority = ["text/plain"]
    with caplog.at_level(logging.WARNING):
        for step in (HideHiddenTests, SanitizeMarkdown):
            assert step(config=config).display_data_priority == ["text/plain"]
    assert "not recognized" not in caplog.text


def test_cells_with_nbgrader_ids_but_no_flags_become_plain(released):
    nb = copy.deepcopy(released)
    unmarked = [
        i
        for i, c in enumerate(nb.cells)
        if "nbgrader" in c.metadata
        and not any(c.metadata.nbgrader.get(f) for f in ("grade", "solution", "locked", "task"))
    ]
    assert unmarked, "the release has plain cells with nbgrader ids (parameters, model answers)"
    assert drop_unmarked_metadata(nb) == unmarked
    assert all("nbgrader" not in nb.cells[i].metadata for i in unmarked)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == len([c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")])


@pytest.mark.parametrize(
    ("status", "output", "cause"),
    [
        (
            1,
            "[GenerateFeedbackApp | ERROR] There was an error processing assignment\n"
            "Traceback (most recent call last):\n  File ...\n"
            "nbconvert.utils.exceptions.InvalidNotebook: missing attachment: skip_connection.png\n",
            "InvalidNotebook: missing attachment: skip_connection.png",
        ),
        (
            1,
            "[GenerateFeedbackApp | ERROR] no such student\n",
            "[GenerateFeedbackApp | ERROR] no such student",
        ),
        (None, "", "stopped after"),
        (3, "", "nbgrader exited with status 3"),
    ],
)
def test_failure_cause_names_what_stopped_nbgrader(status, output, cause):
    assert failure_cause(status, output).startswith(cause)
