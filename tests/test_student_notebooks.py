"""Notebooks as students really leave them are graded as their answers deserve.

One class is graded once with ``resnets_kit.classgrade`` (the real nbgrader autograde of the
course, the sandbox, the feedback and the CSV): every student starts from the released notebook
with the reference answers pasted into its answer cells, then leaves it the way students do:
cells copied and pasted (answer cells, test cells, locked cells), cells added and moved, outputs
and execution counts, an older nbformat without cell ids, Windows line endings, the metadata of
Notebook 7 and of VS Code, an answer cell turned into markdown. Each must get the points of its
answers; a notebook that has none of the answer cells is ``invalid``, is not run, and its student
gets a feedback page that says why. Expected scores are read from the release's metadata.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import html
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from resnets_kit import assignment, course
from resnets_kit.classgrade import cli as classgrade_cli
from resnets_kit.classgrade import reports
from resnets_kit.classgrade.student import Result
from resnets_kit.grader.normalize import NOTE_MARK
from resnets_kit.solution import GRADED_FUNCTIONS, SOURCE_NOTEBOOK

#: A wrong variant of identity_block: every identity_block test cell fails with it.
WRONG = (
    "def identity_block(X, f, filters, training=True, initializer=random_uniform):\n"
    '    raise NotImplementedError("a variant I was trying")\n'
)
#: Cell timing metadata as Notebook 7 / JupyterLab 4 record it (with "record timing" on).
EXECUTION_META = {
    "iopub.execute_input": "2024-05-02T09:14:03.512345Z",
    "iopub.status.busy": "2024-05-02T09:14:03.511234Z",
    "iopub.status.idle": "2024-05-02T09:14:04.023456Z",
    "shell.execute_reply": "2024-05-02T09:14:04.022345Z",
}


def index_of(nb, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def paste_copy(nb, grade_id: str, source: str | None = None, *, offset: int = 1) -> None:
    """Paste a copy of a cell ``offset`` cells after it (0: right above it), as JupyterLab does:
    same metadata, new cell id."""
    at = index_of(nb, grade_id)
    cell = copy.deepcopy(nb.cells[at])
    if "id" in cell:
        cell.id = f"pasted-{len(nb.cells)}"
    if source is not None:
        cell.source = source
    nb.cells.insert(at + offset, cell)


def as_json(nb, *, minor: int | None = None, ids: bool = True, crlf: bool = False) -> str:
    """The notebook file's text, edited as an older format or another editor writes it."""
    data = json.loads(nbformat.writes(nb))
    if minor is not None:
        data["nbformat_minor"] = minor
    for cell in data["cells"]:
        if not ids:
            cell.pop("id", None)
        if crlf:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = source.replace("\n", "\r\n").splitlines(keepends=True)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    return text.replace("\n", "\r\n") if crlf else text


# --- How students leave notebooks -----------------------------------------------------------------


def copied_answer(nb):
    paste_copy(nb, "identity_block")  # both copies right
    return nb


def copied_answer_wrong_first(nb):
    paste_copy(nb, "identity_block", WRONG, offset=0)  # the wrong try above, the fixed one below
    return nb


def copied_answer_wrong_last(nb):
    paste_copy(nb, "identity_block", WRONG)  # a variant tried below the right answer, left there
    return nb


def copied_tests(nb):
    paste_copy(nb, "identity_block_shape")
    paste_copy(nb, "ResNet50_layers_stage_3", offset=2)
    paste_copy(nb, "ResNet50_layers_stage_3", offset=3)
    return nb


def copied_locked(nb):
    paste_copy(nb, "identity-md", offset=0)
    paste_copy(nb, "setup")
    return nb


def added_cells(nb):
    at = index_of(nb, "conv-md")
    nb.cells[at:at] = [
        new_markdown_cell("My notes: the shortcut keeps the input's shape."),
        new_code_cell("Y = identity_block(X, f=2, filters=[4, 4, 3])\nprint(Y.shape)"),
        new_code_cell("import numpy as np\nscratch = np.zeros((2, 2))"),
    ]
    nb.cells.append(new_markdown_cell("Done!"))
    return nb


def moved_cells(nb):
    markdown = nb.cells.pop(index_of(nb, "conv-md"))
    nb.cells.insert(index_of(nb, "conv-demo") + 1, markdown)
    test = nb.cells.pop(index_of(nb, "ResNet50_model"))
    nb.cells.append(test)
    return nb


def with_outputs(nb):
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = [
            new_output("stream", name="stdout", text="All tests passed!\n"),
            new_output("stream", name="stderr", text="WARNING: something on stderr\n"),
            new_output("execute_result", data={"text/plain": "42"}, execution_count=count),
        ]
    test = nb.cells[index_of(nb, "identity_block_layers")]
    test.outputs.append(new_output("error", ename="AssertionError", evalue="an old run", traceback=["..."]))
    nb.cells[index_of(nb, "identity-demo")].outputs.append(
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    )
    return nb


def nbformat_4_4(nb):
    return as_json(nb, minor=4, ids=False)


def windows_line_endings(nb):
    return as_json(nb, crlf=True)


def notebook_7(nb):
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        if cell.cell_type == "code":
            cell.metadata["execution"] = dict(EXECUTION_META)
            cell.metadata["scrolled"] = True
    nb.cells[index_of(nb, "identity-demo")].metadata["jupyter"] = {"outputs_hidden": True}
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.12.3",
    }
    return nb


def vscode(nb):
    for cell in nb.cells:
        cell.metadata["vscode"] = {"languageId": "python" if cell.cell_type == "code" else "markdown"}
        if cell.cell_type == "code":
            cell.execution_count = None
    nb.metadata["kernelspec"] = {
        "display_name": ".venv (Python 3.11.9)",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.9"}
    nb.metadata["vscode"] = {"interpreter": {"hash": "3f1c0e4d2b5a6978"}}
    return as_json(nb)


def markdown_answer(nb):
    at = index_of(nb, "identity_block")
    nb.cells[at] = new_markdown_cell(nb.cells[at].source, metadata=nb.cells[at].metadata)
    return nb


def new_notebook(nb):
    for cell in nb.cells:  # the code pasted into a new notebook: no cell keeps its nbgrader metadata
        cell.metadata.pop("nbgrader", None)
    return nb


def figures_lost(nb):
    """Saved by an editor that drops cell attachments: the course's figures, and a plot the
    student pasted into a cell of their own."""
    for cell in nb.cells:
        cell.pop("attachments", None)
    nb.cells.append(new_markdown_cell("My training curve: ![plot](attachment:my_plot.png)"))
    return nb


# --- The class ------------------------------------------------------------------------------------


def _never(grade_id: str) -> bool:
    return False


def _identity_block_cells(grade_id: str) -> bool:
    return assignment.exercise_of(grade_id) == "identity_block"


@dataclass
class Student:
    """A student of the test class.

    Attributes:
        student_id: the id (also the folder's name).
        leave: how the student leaves the notebook: an edit of it, or its file's text.
        fails: which test cells must fail (a predicate on grade ids); the rest must pass.
        status: the expected status.
        copied: the grade ids the notebook holds more than once.
    """

    student_id: str
    leave: Callable
    fails: Callable[[str], bool] = _never
    status: str = "graded"
    copied: tuple[str, ...] = ()


STUDENTS = [
    Student("copied-answer", copied_answer, copied=("identity_block",)),
    Student("copied-answer-wrong-first", copied_answer_wrong_first, copied=("identity_block",)),
    Student(
        "copied-answer-wrong-last",
        copied_answer_wrong_last,
        _identity_block_cells,
        copied=("identity_block",),
    ),
    Student("copied-tests", copied_tests, copied=("identity_block_shape", "ResNet50_layers_stage_3")),
    Student("copied-locked", copied_locked, copied=("identity-md", "setup")),
    Student("added-cells", added_cells),
    Student("moved-cells", moved_cells),
    Student("outputs", with_outputs),
    Student("nbformat44", nbformat_4_4),
    Student("crlf", windows_line_endings),
    Student("notebook7", notebook_7),
    Student("vscode", vscode),
    Student("markdown-answer", markdown_answer),
    Student("figures-lost", figures_lost),
    Student("new-notebook", new_notebook, status="invalid"),
]
BY_ID = {s.student_id: s for s in STUDENTS}
GRADED = [s.student_id for s in STUDENTS if s.status == "graded"]


def student_notebook(root: Path | None = None) -> nbformat.NotebookNode:
    """The released notebook with the reference answers pasted into its three answer cells: of
    the course ``root``, or of the project (``notebooks/``) when None."""
    if root is None:
        release_path, source_path = course.STUDENT_NOTEBOOK, SOURCE_NOTEBOOK
    else:
        release_path = root / "release" / course.ASSIGNMENT / course.NOTEBOOK_NAME
        source_path = root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    release = nbformat.read(release_path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    for name in GRADED_FUNCTIONS:
        release.cells[index_of(release, name)].source = source.cells[index_of(source, name)].source
    return release


def html_text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.DOTALL)
    # white space collapsed: reports wrap long message lines (test_utils.wrap_report)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


@dataclass
class Graded:
    root: Path
    cells: dict[str, float]
    out: Path
    feedback: Path
    rows: dict[str, dict[str, str]]
    results: dict[str, Result]
    printed: str


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    """The class graded once by grade_class, in nbgrader's layout."""
    work = tmp_path_factory.mktemp("student_notebooks")
    root = course.fresh_course(work)
    released = course.generate(root)
    cells = reports.grade_cell_points(released)
    submissions = work / "submitted"
    for student in STUDENTS:
        folder = submissions / student.student_id / course.ASSIGNMENT
        folder.mkdir(parents=True)
        left = student.leave(student_notebook(root))
        path = folder / course.NOTEBOOK_NAME
        if isinstance(left, str):
            path.write_bytes(left.encode())
        else:
            nbformat.write(left, path)
    out = work / "out" / "grades.csv"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = classgrade_cli.grade_class(submissions, root, out, out.parent / "feedback")
    with open(out, newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    return Graded(
        root,
        cells,
        out,
        out.parent / "feedback",
        rows,
        {r.student_id: r for r in results},
        printed.getvalue(),
    )


def test_the_notebooks_are_left_as_described():
    """The edits do what they say, without grading (fast)."""
    for student in STUDENTS:
        left = student.leave(student_notebook())
        text = left if isinstance(left, str) else nbformat.writes(left)
        nb = nbformat.reads(text, as_version=4)
        ids = Counter(
            c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells if "nbgrader" in c.metadata
        )
        assert sorted(g for g, n in ids.items() if n > 1) == sorted(student.copied), student.student_id
    assert "\r\n" in windows_line_endings(student_notebook())
    assert '"nbformat_minor": 4' in nbformat_4_4(student_notebook())
    assert '"id":' not in nbformat_4_4(student_notebook())


# --- Grading --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("student_id", GRADED)
def test_each_notebook_gets_the_points_of_its_answers(graded, student_id):
    student = BY_ID[student_id]
    failing = [g for g in graded.cells if student.fails(g)]
    passing = [g for g in graded.cells if g not in failing]
    row = graded.rows[student_id]
    assert row["status"] == "graded", graded.results[student_id].detail
    assert float(row["score"]) == pytest.approx(sum(graded.cells[g] for g in passing)), f"failing: {failing}"
    for function in GRADED_FUNCTIONS:
        own = sum(graded.cells[g] for g in passing if assignment.exercise_of(g) == function)
        assert float(row[function]) == pytest.approx(own), function
    assert (graded.feedback / f"{student_id}.html").is_file()


@pytest.mark.slow
def test_the_first_copy_wrong_and_the_last_right_gets_full_marks_and_the_reverse_does_not(graded):
    assert graded.rows["copied-answer-wrong-first"]["score"] == "30.0"
    wrong_last = graded.rows["copied-answer-wrong-last"]
    assert wrong_last["identity_block"] == "0.0" and wrong_last["score"] == "20.0"
    page = html_text((graded.feedback / "copied-answer-wrong-last.html").read_text())
    assert "a variant I was trying" in page  # the message of the graded (last) copy's error


@pytest.mark.slow
@pytest.mark.parametrize("student_id", [s.student_id for s in STUDENTS if s.copied])
def test_the_autograded_notebook_and_the_feedback_say_which_copy_counted(graded, student_id):
    student = BY_ID[student_id]
    autograded = graded.root / "autograded" / student_id / course.ASSIGNMENT / course.NOTEBOOK_NAME
    nb = nbformat.read(autograded, as_version=4)
    ids = Counter(_grade_id(c) for c in nb.cells if _grade_id(c))
    assert max(ids.values()) == 1, "one cell per grade_id"
    notes = [i for i, c in enumerate(nb.cells) if c.metadata.get(NOTE_MARK)]
    copies = sum(
        1 for c in student.leave(student_notebook(graded.root)).cells if _grade_id(c) in student.copied
    )
    assert len(notes) == copies
    for grade_id in student.copied:
        kept = index_of(nb, grade_id)
        assert nb.cells[kept - 1].metadata.get(NOTE_MARK), f"no note above the graded copy of {grade_id}"
    page = html_text((graded.feedback / f"{student_id}.html").read_text())
    assert page.count("Grader's note:") == copies
    assert "was ignored" in page
    detail = graded.results[student_id].detail
    for grade_id in student.copied:
        assert re.search(
            rf"\d copies of the (answer cell|test cell|cell) {re.escape(repr(grade_id))}", detail
        )
    assert f"{student_id}: graded: " in graded.printed


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@pytest.mark.slow
def test_a_notebook_that_lost_its_figures_is_fed_back_with_them(graded):
    """Without its figures nbconvert could not render the notebook: no feedback at all (and in
    the Formgrader, no Manual Grading page)."""
    page = (graded.feedback / "figures-lost.html").read_text()
    released = course.STUDENT_NOTEBOOK.read_text().count('"image/png"')
    assert page.count("data:image/png;base64,") >= released  # the course's, attached again
    assert "[figure my_plot.png is missing from this notebook]" in html_text(page)


@pytest.mark.slow
def test_a_notebook_without_answer_cells_is_invalid_not_run_and_told_why(graded):
    row = graded.rows["new-notebook"]
    assert (row["status"], row["score"]) == ("invalid", "0.0")
    assert not (graded.root / "autograded" / "new-notebook").exists()
    page = html_text((graded.feedback / "new-notebook.html").read_text())
    assert "not graded" in page and "none of the assignment's answer cells" in page
    log = (graded.out.parent / "logs" / "new-notebook.log").read_text()
    assert "none of the answer cells" in log and "what to do: " in log
    assert "new-notebook: invalid: none of the answer cells" in graded.printed


@pytest.mark.slow
def test_the_class_csv(graded):
    statuses = Counter(row["status"] for row in graded.rows.values())
    assert statuses == {"graded": len(GRADED), "invalid": 1}
    assert sorted(graded.rows) == sorted(BY_ID)
