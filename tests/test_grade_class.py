"""Grading a class with ``python -m resnets_kit.classgrade``: statuses, scores per test cell,
feedback without hidden tests, flat LMS folders, reproducible CSVs and usage errors.

A temporary course is built once (with a 20 s per-cell limit, so that an endless loop is cut
quickly); the submissions are made from its source notebook (the reference solution) and its
release with one cell's source edited. Expected scores are never typed in: each partly correct
submission names the test cells it must fail, and its score is the total minus their points, read
from the release notebook's metadata.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output

from resnets_kit import REPO_ROOT, assignment, course
from resnets_kit.classgrade import cli as classgrade_cli
from resnets_kit.classgrade import reports, submissions
from resnets_kit.grader.feedback import HIDDEN_PLACEHOLDER, strip_hidden_blocks
from resnets_kit.grader.preprocessors import HideHiddenTests
from resnets_kit.solution import GRADED_FUNCTIONS

#: Per-cell time limit of the test course (seconds).
CELL_TIMEOUT = 20
#: A roster id that submits nothing.
ABSENT = "absent"


# --- Submissions --------------------------------------------------------------------------------


def _unchanged(source: str) -> str:
    return source


def _never(grade_id: str) -> bool:
    return False


def _always(grade_id: str) -> bool:
    return True


def replace_with(code: str):
    """An edit that replaces the whole cell by ``code``."""
    return lambda source: code


def prepend(code: str):
    """An edit that puts ``code`` at the top of the cell."""
    return lambda source: code + source


def drop_line_after(anchor: str, target: str):
    """An edit that removes the first line containing ``target`` after the first line containing
    ``anchor``."""

    def edit(source: str) -> str:
        lines = source.split("\n")
        start = next(i for i, line in enumerate(lines) if anchor in line)
        drop = next(i for i in range(start + 1, len(lines)) if target in lines[i])
        return "\n".join(lines[:drop] + lines[drop + 1 :])

    return edit


def insert_after(anchor: str, code: str):
    """An edit that inserts the line ``code`` after the first line containing ``anchor``, with the
    same indentation."""

    def edit(source: str) -> str:
        lines = source.split("\n")
        at = next(i for i, line in enumerate(lines) if anchor in line)
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
        return "\n".join(lines[: at + 1] + [indent + code] + lines[at + 1 :])

    return edit


def is_cell_of(*functions: str, except_suffix: tuple[str, ...] = ()):
    """A predicate on grade ids: a test cell of one of ``functions``, unless its id ends with one
    of ``except_suffix``."""

    def predicate(grade_id: str) -> bool:
        return assignment.exercise_of(grade_id) in functions and not grade_id.endswith(except_suffix)

    return predicate


@dataclass
class Submission:
    """A submission of the test class.

    Attributes:
        student_id: the student's id (no underscore, so that it also works as a flat file name).
        base: ``"source"`` (the reference solution) or ``"release"`` (the untouched student copy).
        grade_id: the cell to edit (None: no edit).
        edit: the edit of that cell's source.
        fails: which test cells must fail (a predicate on grade ids); the rest must pass.
        status: the expected status.
    """

    student_id: str
    base: str
    grade_id: str | None = None
    edit: object = _unchanged
    fails: object = _never
    status: str = "graded"


SUBMISSIONS = [
    Submission("solution", "source"),
    Submission("blank", "release", fails=_always),
    # ResNet50 is graded with the reference blocks, so a block's mistake costs only that block's points.
    Submission(
        "identity-raises",
        "source",
        "identity_block",
        replace_with(
            "def identity_block(X, f, filters, training=True, initializer=random_uniform):\n"
            '    raise NotImplementedError("identity_block is not written yet")\n'
        ),
        is_cell_of("identity_block"),
    ),
    # The output shape is wrong (stride 2, other channels), so every convolutional_block cell fails.
    Submission(
        "conv-input",
        "source",
        "convolutional_block",
        replace_with(
            "def convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform):\n"
            "    return X\n"
        ),
        is_cell_of("convolutional_block"),
    ),
    Submission(
        "resnet-none",
        "source",
        "ResNet50",
        replace_with("def ResNet50(input_shape=(64, 64, 3), classes=6):\n    return None\n"),
        is_cell_of("ResNet50"),
    ),
    # Without the final ReLU the signature and output shape are right (the "_shape" cell passes),
    # but a layer is missing and the values differ (negative outputs survive), so the other
    # identity_block cells fail.
    Submission(
        "identity-norelu",
        "source",
        "identity_block",
        drop_line_after("Add()", "Activation"),
        is_cell_of("identity_block", except_suffix=("_shape",)),
    ),
    # An extra ReLU on the shortcut: same shape and parameters, one layer too many, and other values
    # (the shortcut's negative values are cut in both the training=False and training=True cases).
    Submission(
        "conv-shortcut-relu",
        "source",
        "convolutional_block",
        insert_after("X_shortcut = BatchNormalization", "X_shortcut = Activation('relu')(X_shortcut)"),
        is_cell_of("convolutional_block", except_suffix=("_shape",)),
    ),
    # identity_block's cell runs past the time limit: its cells fail with the verdict, the other
    # functions are graded in a new sandbox and keep their points.
    Submission(
        "loop",
        "source",
        "identity_block",
        prepend("while True:\n    pass\n"),
        is_cell_of("identity_block"),
        status="timeout",
    ),
    # The sandbox dies while defining identity_block: its cells fail, the rest are graded.
    Submission(
        "crash",
        "source",
        "identity_block",
        prepend("import os\n\nos._exit(1)\n"),
        is_cell_of("identity_block"),
        status="crashed",
    ),
]
INVALID = "garbage"
BY_ID = {s.student_id: s for s in SUBMISSIONS}


def make_notebook(sub: Submission, root: Path) -> nbformat.NotebookNode:
    """The notebook of a submission, from the course's source or release notebook."""
    folder = "source" if sub.base == "source" else "release"
    nb = nbformat.read(root / folder / course.ASSIGNMENT / course.NOTEBOOK_NAME, as_version=4)
    if sub.grade_id:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == sub.grade_id)
        new = sub.edit(cell.source)
        assert new != cell.source, f"the edit of {sub.student_id} changed nothing"
        cell.source = new
    return nb


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def html_text(page: str) -> str:
    """The text of an HTML page: tags removed, entities decoded (syntax highlighting splits code
    into many tags, so code is searched in this text)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.DOTALL)
    # white space collapsed: reports wrap long message lines (test_utils.wrap_report)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


@dataclass
class Graded:
    root: Path
    cells: dict[str, float]
    submissions: Path
    out: Path
    feedback: Path
    rows: dict[str, dict[str, str]]
    returncode: int
    workdir: Path


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    """The test class graded once, in nbgrader's layout, with a roster."""
    work = tmp_path_factory.mktemp("grade_class")
    root = course.fresh_course(work)
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(
            f"\n# Test course: cut endless loops quickly.\nc.TrustedGrade.step_timeout = {CELL_TIMEOUT}\n"
        )
    released = course.generate(root)
    cells = reports.grade_cell_points(released)
    submissions = work / "submitted"
    for sub in SUBMISSIONS:
        folder = submissions / sub.student_id / course.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make_notebook(sub, root), folder / course.NOTEBOOK_NAME)
    invalid = submissions / INVALID / course.ASSIGNMENT
    invalid.mkdir(parents=True)
    (invalid / course.NOTEBOOK_NAME).write_text('{"cells": [ this is not a notebook')
    roster = work / "roster.txt"
    roster.write_text("\n".join([*BY_ID, INVALID, ABSENT]) + "\n")
    out = work / "out" / "grades.csv"
    code = classgrade_cli.main(
        [str(submissions), "--course", str(root), "--out", str(out), "--roster", str(roster)]
    )
    return Graded(root, cells, submissions, out, out.parent / "feedback", read_rows(out), code, work)


# --- The batch ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_batch_completes_with_one_sorted_row_per_student(graded):
    assert graded.returncode == 0
    assert graded.cells, "the release notebook has no grade cells"
    assert sum(graded.cells.values()) == 30.0
    with open(graded.out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == reports.COLUMNS
    ids = [row[0] for row in rows[1:]]
    assert ids == sorted([*BY_ID, INVALID, ABSENT])
    assert {row["max_score"] for row in graded.rows.values()} == {"30.0"}


@pytest.mark.slow
@pytest.mark.parametrize("student_id", list(BY_ID))
def test_status_and_scores_per_test_cell(graded, student_id):
    sub = BY_ID[student_id]
    failing = [grade_id for grade_id in graded.cells if sub.fails(grade_id)]
    passing = [grade_id for grade_id in graded.cells if grade_id not in failing]
    row = graded.rows[student_id]
    assert row["status"] == sub.status, f"failing cells expected: {failing}"
    expected = sum(graded.cells[g] for g in passing)
    assert float(row["score"]) == pytest.approx(expected), f"failing cells expected: {failing}"
    for function in GRADED_FUNCTIONS:
        own = sum(graded.cells[g] for g in passing if assignment.exercise_of(g) == function)
        assert float(row[function]) == pytest.approx(own), f"{function}; failing cells expected: {failing}"


@pytest.mark.slow
def test_partial_submissions_each_fail_some_cells_and_pass_others(graded):
    partial = [s for s in SUBMISSIONS if s.status == "graded" and s.grade_id]
    assert len(partial) >= 5
    for sub in partial:
        failing = [g for g in graded.cells if sub.fails(g)]
        assert 0 < len(failing) < len(graded.cells), sub.student_id


@pytest.mark.slow
def test_invalid_and_missing_submissions(graded):
    assert graded.rows[INVALID]["status"] == "invalid"
    assert graded.rows[ABSENT]["status"] == "missing"
    for student_id in (INVALID, ABSENT):
        assert graded.rows[student_id]["score"] == "0.0"
    assert not (graded.root / "autograded" / INVALID).exists(), "an invalid file must not be run"


@pytest.mark.slow
def test_feedback_for_each_submitted_student(graded):
    written = sorted(p.stem for p in graded.feedback.glob("*.html"))
    # every valid notebook is graded in part; the invalid one gets a page that says why
    expected = sorted([*(s.student_id for s in SUBMISSIONS), INVALID])
    assert written == expected


@pytest.mark.slow
def test_an_invalid_submission_gets_a_feedback_page_and_a_log_that_say_why(graded):
    text = html_text((graded.feedback / f"{INVALID}.html").read_text())
    assert "not graded" in text and "not a valid notebook: NotJSONError" in text
    assert "could not be read as a Jupyter notebook" in text
    log = (graded.out.parent / "logs" / f"{INVALID}.log").read_text()
    assert "not a valid notebook" in log and "what to do: " in log and "submit the notebook again" in log


@pytest.mark.slow
def test_feedback_and_csv_name_the_verdict(graded):
    loop = html_text((graded.feedback / "loop.html").read_text())
    assert "TimeLimitExceeded" in loop and f"ran longer than the limit of {CELL_TIMEOUT} s" in loop
    crash = html_text((graded.feedback / "crash.html").read_text())
    assert "SandboxCrashed" in crash and "exit status 1" in crash
    assert (graded.rows["loop"]["status"], graded.rows["crash"]["status"]) == ("timeout", "crashed")


@pytest.mark.slow
def test_feedback_shows_failed_checks_but_never_hidden_test_code(graded):
    source = nbformat.read(graded.root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME, as_version=4)
    hidden = {}  # grade_id -> code lines of its hidden blocks
    n_blocks = 0
    for cell in source.cells:
        kept, blocks = strip_hidden_blocks(cell.source)
        n_blocks += blocks
        if blocks:
            hidden[cell.metadata["nbgrader"]["grade_id"]] = [
                " ".join(line.split())  # as html_text gives it
                for line in cell.source.split("\n")
                if line.strip() and line.strip() not in kept and "HIDDEN TESTS" not in line
            ]
    if not hidden:
        pytest.skip("the notebook has no hidden tests (test_hide_hidden_tests_* covers the preprocessor)")
    student = "identity-raises"
    failing_hidden = [g for g in hidden if BY_ID[student].fails(g)]
    assert failing_hidden, "the student must fail a cell with hidden tests"
    text = html_text((graded.feedback / f"{student}.html").read_text())
    # Sanity: the same check finds the hidden code when the autograded notebook is exported plainly.
    autograded = graded.root / "autograded" / student / course.ASSIGNMENT / course.NOTEBOOK_NAME
    plain = html_text(HTMLExporter().from_filename(str(autograded))[0])
    for grade_id, lines in hidden.items():
        for line in lines:
            assert line in plain
            assert line not in text, f"hidden test code of {grade_id} in the feedback: {line!r}"
    assert text.count(HIDDEN_PLACEHOLDER) == n_blocks
    assert "NotImplementedError" in text and "identity_block is not written yet" in text
    for grade_id in graded.cells:  # every check is listed with its score
        assert f"Grade cell: {grade_id}" in text


@pytest.mark.slow
def test_flat_folder_gives_the_same_rows_and_a_rerun_the_same_bytes(graded):
    flat = graded.workdir / "flat"
    flat.mkdir()
    student = "resnet-none"
    shutil.copy2(
        graded.submissions / student / course.ASSIGNMENT / course.NOTEBOOK_NAME,
        flat / f"{student}_{course.NOTEBOOK_NAME}",
    )
    shutil.copy2(
        graded.submissions / INVALID / course.ASSIGNMENT / course.NOTEBOOK_NAME, flat / f"{INVALID}.ipynb"
    )
    (flat / "notes.txt").write_text("not a submission")
    outputs = []
    for run in ("first", "second"):
        out = graded.workdir / f"flat-{run}" / "grades.csv"
        assert classgrade_cli.main([str(flat), "--course", str(graded.root), "--out", str(out)]) == 0
        outputs.append(out)
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    rows = read_rows(outputs[0])
    assert sorted(rows) == [INVALID, student]
    for student_id, row in rows.items():
        assert row == graded.rows[student_id]


@pytest.mark.slow
def test_wall_time_limit_stops_a_submission_in_a_default_course(tmp_path):
    import psutil

    folder = tmp_path / "submitted" / "slow" / course.ASSIGNMENT
    folder.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "notebooks" / course.NOTEBOOK_NAME, folder / course.NOTEBOOK_NAME)
    out = tmp_path / "grades.csv"
    assert classgrade_cli.main([str(tmp_path / "submitted"), "--out", str(out), "--timeout", "3"]) == 0
    row = read_rows(out)["slow"]
    assert (row["status"], row["score"]) == ("timeout", "0.0")
    assert not (tmp_path / "feedback" / "slow.html").exists()
    leftovers = [p.cmdline() for p in psutil.Process().children(recursive=True)]
    assert not [cmd for cmd in leftovers if any(w in part for part in cmd for w in ("nbgrader", "sandbox"))]


# --- Without grading ----------------------------------------------------------------------------


def test_usage_errors_exit_2_with_a_message(tmp_path, capsys):
    assert classgrade_cli.main([str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert classgrade_cli.main([str(tmp_path / "empty")]) == 2
    assert "no submissions" in capsys.readouterr().err
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("alice.ipynb", "alice_Residual_Networks.ipynb"):
        nbformat.write(new_notebook(), flat / name)
    assert classgrade_cli.main([str(flat)]) == 2
    err = capsys.readouterr().err
    assert "two submissions for student 'alice'" in err and "alice_Residual_Networks.ipynb" in err
    (flat / "alice.ipynb").unlink()
    assert classgrade_cli.main([str(flat), "--course", str(tmp_path / "empty")]) == 2
    assert "nbgrader_config.py" in capsys.readouterr().err
    assert classgrade_cli.main([str(flat), "--roster", str(tmp_path / "none.txt")]) == 2
    assert "roster" in capsys.readouterr().err


def test_student_ids_of_flat_file_names():
    assert submissions.flat_student_id("alice.ipynb") == "alice"
    assert submissions.flat_student_id("alice_Residual_Networks.ipynb") == "alice"
    assert submissions.flat_student_id("bob_12_late_Residual_Networks.ipynb") == "bob"
    roster = ["ann_lee", "ann"]
    assert submissions.flat_student_id("ann_lee_Residual_Networks.ipynb", roster) == "ann_lee"
    assert submissions.flat_student_id("ann_Residual_Networks.ipynb", roster) == "ann"
    assert submissions.flat_student_id("carl_x.ipynb", roster) == "carl"


def test_grading_driver_does_not_import_tensorflow():
    code = "import sys, resnets_kit.classgrade; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


def test_course_config_registers_hide_hidden_tests_and_sanitize_markdown_before_the_html_export():
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config.loader import PyFileConfigLoader

    from resnets_kit.grader.preprocessors import SanitizeMarkdown

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.COURSE_ROOT)).load_config()
    assert config.GenerateFeedback.preprocessors == [
        GetGrades,
        HideHiddenTests,
        SanitizeMarkdown,
        CSSHTMLHeaderPreprocessor,
    ]
    assert config.HTMLExporter.sanitize_html is True


# --- HideHiddenTests on a hand-made notebook ----------------------------------------------------


def _hand_made_notebook() -> nbformat.NotebookNode:
    source = (
        "check_public(f)\n"
        "### BEGIN HIDDEN TESTS\n"
        "secret_case = [7, 11, 13]  # the hidden case\n"
        'assert f(secret_case) == 31, "f fails a hidden case"\n'
        "### END HIDDEN TESTS\n"
        "print('done')"
    )
    error = new_output(
        "error",
        ename="AssertionError",
        evalue="f fails a hidden case",
        traceback=[
            "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
            "Traceback (most recent call last)",
            '      3 secret_case = [7, 11, 13]  # the hidden case\n----> 4 assert f(secret_case) == 31, "f fails"',
            "\x1b[31mAssertionError\x1b[39m: f fails a hidden case",
        ],
    )
    cell = new_code_cell(source, outputs=[error])
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "f_hidden", "points": 1, "solution": False}
    timeout = new_code_cell("while True:\n    pass", outputs=[])
    timeout.outputs.append(new_output("error", ename="CellTimeoutError", evalue="", traceback=["long"]))
    return new_notebook(cells=[cell, timeout])


def test_hide_hidden_tests_strips_hidden_blocks_and_tracebacks():
    nb, _ = HideHiddenTests().preprocess(_hand_made_notebook(), {})
    cell, timeout = nb.cells
    assert cell.source == f"check_public(f)\n{HIDDEN_PLACEHOLDER}\nprint('done')"
    assert cell.outputs[0].traceback == ["AssertionError: f fails a hidden case"]
    assert timeout.outputs[0].traceback == ["CellTimeoutError"]
    assert timeout.source == "while True:\n    pass"


def test_hide_hidden_tests_keeps_hidden_code_out_of_the_html():
    exporter = HTMLExporter()
    exporter.register_preprocessor(HideHiddenTests(), enabled=True)
    page, _ = exporter.from_notebook_node(_hand_made_notebook())
    text = html_text(page)
    assert "secret_case" not in text and "== 31" not in text and "BEGIN HIDDEN" not in text
    assert HIDDEN_PLACEHOLDER in text and "AssertionError: f fails a hidden case" in text
    plain = html_text(HTMLExporter().from_notebook_node(_hand_made_notebook())[0])
    assert "secret_case" in plain  # the same check finds it without the preprocessor


def test_strip_hidden_blocks_keeps_indentation_and_hides_an_unclosed_block():
    source = (
        "def t():\n    x = 1\n"
        "    ### BEGIN HIDDEN TESTS\n    assert x == 1\n    ### END HIDDEN TESTS\n"
        "    return x"
    )
    assert strip_hidden_blocks(source) == (f"def t():\n    x = 1\n    {HIDDEN_PLACEHOLDER}\n    return x", 1)
    assert strip_hidden_blocks("a\n### BEGIN HIDDEN TESTS\nsecret") == (f"a\n{HIDDEN_PLACEHOLDER}", 1)
    assert strip_hidden_blocks("no blocks") == ("no blocks", 0)
