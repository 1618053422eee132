"""The nbgrader course: the student notebook is nbgrader's release of the source and up to date;
nbgrader autogrades the reference solution to full marks and the untouched release to zero."""

from __future__ import annotations

import copy
import csv
import shutil

import nbformat
import pytest

from resnets_kit import course, run_notebook


@pytest.fixture(scope="module")
def built_course(tmp_path_factory):
    root = course.fresh_course(tmp_path_factory.mktemp("course"))
    released = course.generate(root)
    return root, released


def test_student_notebook_is_nbgraders_release_of_the_source(built_course):
    _, released = built_course
    assert course.STUDENT_NOTEBOOK.read_text() == released.read_text(), "run `python -m resnets_kit.course`"


def test_release_embeds_the_figures_and_hides_solutions_and_model_answers(built_course):
    _, released = built_course
    nb = nbformat.read(released, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "../images/" not in text
    attached = [name for c in nb.cells for name in c.get("attachments", {})]
    assert sorted(attached) == sorted(
        {"skip_connection.png", "identity_block.png", "convolutional_block.png", "resnet50_stages.png"}
    )
    assert "BEGIN SOLUTION" not in text and "X = identity_block(X, 3, [128, 128, 512])" not in text
    assert text.count(course.ANSWER_STUB) == 3
    assert "1x1 convolution with stride 2 simply skips" not in text  # a model answer


def test_release_keeps_the_parameters_cell_for_students_to_change(built_course):
    """nbgrader keeps the cell tagged ``parameters`` (papermill's convention) with its tag and
    defaults, unlocked, so that the released notebook can be run with other parameters too."""
    root, released = built_course
    source = root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    for path in (source, released):
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[run_notebook.parameters_cell_index(nb)]
        assert run_notebook.notebook_parameters(nb) == {"fast": False}, path
        assert cell.metadata.get("editable", True) is True and cell.metadata["nbgrader"]["locked"] is False
        run_notebook.inject_parameters(nb, fast=True)  # a release can be run with other values


def _with_copied_cells(source) -> nbformat.NotebookNode:
    """The solution with its first answer cell and first test cell each pasted twice, as
    JupyterLab pastes them (same nbgrader metadata, new cell ids); the last answer copy is the
    reference, the first one a wrong variant."""
    nb = nbformat.read(source, as_version=4)
    for role in ("solution", "grade"):
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get(role))
        for n in range(2):
            pasted = copy.deepcopy(nb.cells[at])
            pasted.id = f"pasted-{role}-{n}"
            if role == "solution" and n == 0:
                pasted.source = "def identity_block(*args, **kwargs):\n    raise NotImplementedError\n"
            nb.cells.insert(at + n, pasted)
    return nb


@pytest.mark.slow
def test_autograde_gives_full_marks_to_the_solution_and_zero_to_the_release(built_course):
    """Also with copied cells: the course's own `nbgrader autograde` grades the last copy of an
    answer cell and the first of a test cell (resnets_kit.grader.normalize)."""
    root, released = built_course
    source = root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    for student, notebook in (("solution", source), ("blank", released), ("copied", None)):
        folder = root / "submitted" / student / course.ASSIGNMENT
        folder.mkdir(parents=True)
        if notebook is None:
            nbformat.write(_with_copied_cells(source), folder / course.NOTEBOOK_NAME)
        else:
            shutil.copy2(notebook, folder / course.NOTEBOOK_NAME)
    course.nbgrader(root, "autograde", course.ASSIGNMENT, "--force")
    course.nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert float(rows["solution"]["max_score"]) == 30.0
    assert float(rows["solution"]["score"]) == 30.0
    assert float(rows["copied"]["score"]) == 30.0
    assert float(rows["blank"]["score"]) == 0.0


@pytest.mark.slow
def test_autograde_of_a_correct_submission_logs_nothing_to_act_on(built_course):
    """A release with correct answers, untouched otherwise, autogrades to full marks with no
    warning in nbgrader's log: the plain cells that carry nbgrader ids, the test cells without
    their hidden tests (checksums) and SQLAlchemy's notes on nbgrader's sessions used to log one
    each; a warning left means something an instructor should act on."""
    from resnets_kit.solution import fill_answers

    root, released = built_course
    nb = fill_answers(nbformat.read(released, as_version=4))
    folder = root / "submitted" / "correct" / course.ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / course.NOTEBOOK_NAME)
    result = course.nbgrader(root, "autograde", course.ASSIGNMENT, "--student", "correct", "--force")
    log = result.stdout + result.stderr
    assert "Autograding" in log and "correct" in log, log
    noisy = [line for line in log.splitlines() if "WARN" in line.upper() or "Error" in line]
    assert noisy == [], "\n".join(noisy)
    autograded = nbformat.read(root / "autograded" / "correct" / course.ASSIGNMENT / course.NOTEBOOK_NAME, 4)
    failed = [c for c in autograded.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert failed == []
