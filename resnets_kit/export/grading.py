"""One notebook file graded by the grader core, without nbgrader: what the exported packages run.

:func:`grade_submission` takes a submitted ``.ipynb`` through the steps that ``nbgrader
autograde`` takes in the course (:mod:`resnets_kit.grader.preprocessors`), in the same order and
with the same functions, so that a notebook gets the same points here as from
``python -m resnets_kit.classgrade``:

1. a file that is not a readable notebook, or holds none of the answer cells, is not graded
   (:func:`~resnets_kit.classgrade.submissions.submission_problem`: status ``invalid``);
2. copied cells are resolved as :class:`~resnets_kit.grader.preprocessors.NormalizeSubmission`
   resolves them (:mod:`resnets_kit.grader.normalize`); an answer cell whose type was changed
   counts as code, as nbgrader's ``OverwriteCells`` turns it back;
3. the answer cells are graded by :func:`~resnets_kit.grader.orchestrate.grade_cells` (sandbox,
   then checks in another process);
4. each test cell of the source notebook scores its points when it passed, else 0 (nbgrader's rule
   for a cell with an error output); its text is the check's message and hint.

Test cells a submission deleted or changed do not matter: every test cell of the source notebook
is graded, from the answers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from resnets_kit.assignment import GRADED_FUNCTIONS, SOURCE_NOTEBOOK, exercise_of
from resnets_kit.grader.limits import DEFAULT_MEMORY_LIMIT, DEFAULT_PROCESS_LIMIT, DEFAULT_STEP_TIMEOUT
from resnets_kit.grader.outcomes import VERDICT_PRECEDENCE, GradingError, report_text

#: Statuses of a graded submission: ``graded`` or a verdict (as the class grader's, see
#: :data:`resnets_kit.classgrade.student.STATUSES`), ``invalid`` (not graded: not a notebook, or no
#: answer cell), ``error`` (the grading itself failed; not the submission's doing).
STATUSES = ("graded", *VERDICT_PRECEDENCE, "invalid", "error")

_HEADING = re.compile(r"^#\s*(?P<title>.*?)\s*\((?P<points>[\d.]+) points?\)\s*:\s*(?P<what>.*)$")


@dataclass(frozen=True)
class TestCell:
    """One test cell of the source notebook: its ``grade_id``, graded function, title (its first
    comment line without the points, e.g. ``Exercise 1, check 2 of 5: every layer of the
    block...``), points and whether its cases are hidden."""

    grade_id: str
    function: str
    title: str
    max_points: float
    hidden: bool


def source_test_cells(source: Path = SOURCE_NOTEBOOK) -> list[TestCell]:
    """The autograded test cells of the source notebook, in notebook order.

    Raises:
        ValueError: a grade cell calls no test (see :func:`resnets_kit.grader.plan.grading_plan`).
    """
    import nbformat

    from resnets_kit.grader.plan import grading_plan

    plan = grading_plan(source)
    cells = []
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id not in plan:
            continue
        first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        match = _HEADING.match(first)
        title = f"{match['title']}: {match['what']}" if match else grade_id
        cells.append(
            TestCell(
                grade_id, plan[grade_id].function, title, float(meta.get("points", 0)), plan[grade_id].hidden
            )
        )
    return cells


@dataclass
class CellResult:
    """A test cell's result: the cell, the points earned, passed or not, the verdict of its function
    (None: it ran and was checked) and the text a student reads (the success line, or the check's
    message and hint; never test code)."""

    cell: TestCell
    points: float
    passed: bool
    verdict: str | None
    text: str


@dataclass
class SubmissionResult:
    """The grading of one file.

    Attributes:
        status: one of :data:`STATUSES`.
        message: what the student reads about the submission as a whole (empty when it was graded
            without a verdict): why it was not graded and what to do, or each verdict's sentence.
        cells: one :class:`CellResult` per test cell of the source notebook, in notebook order
            (each with 0 points when the submission was not graded).
        notes: what grading did with the notebook as submitted (copied cells, an answer cell
            whose type was changed), one line each.
        seconds: wall time of the grading.
        detail: for the instructor's log only: why the grading could not run (status ``error``).
    """

    status: str
    message: str
    cells: list[CellResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""

    @property
    def gradable(self) -> bool:
        """Whether points were decided (not ``invalid``, not ``error``)."""
        return self.status not in ("invalid", "error")

    @property
    def score(self) -> float:
        """The points earned, over all test cells."""
        return sum(c.points for c in self.cells)

    @property
    def max_score(self) -> float:
        """The points of all test cells of the source notebook (30)."""
        return sum(c.cell.max_points for c in self.cells)

    def function_points(self) -> dict[str, float]:
        """Points per graded function (as the class grader's CSV columns)."""
        totals = dict.fromkeys(GRADED_FUNCTIONS, 0.0)
        for result in self.cells:
            totals[exercise_of(result.cell.grade_id) or result.cell.function] += result.points
        return totals


def not_graded(status: str, message: str, started: float) -> SubmissionResult:
    """The result of a submission that was not graded (``invalid`` or ``error``): every test cell
    0 points, ``message`` for the student (capped); ``started``: :func:`time.monotonic` at the start."""
    cells = [CellResult(cell, 0.0, False, None, "not graded") for cell in source_test_cells()]
    return SubmissionResult(status, report_text(message), cells, seconds=time.monotonic() - started)


def grade_submission(
    path: Path,
    *,
    step_timeout: float = DEFAULT_STEP_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    process_limit: int = DEFAULT_PROCESS_LIMIT,
    overlap: bool = True,
) -> SubmissionResult:
    """Grade one submitted notebook file (see the module's docstring for the steps).

    Args:
        path: the submitted ``.ipynb`` file (any name).
        step_timeout: wall-time limit of each graded function in the sandbox, seconds.
        memory_limit: memory limit of the sandbox and of the check process, bytes.
        process_limit: most processes in the sandbox's tree.
        overlap: run the checks beside the sandbox (see
            :func:`~resnets_kit.grader.orchestrate.grade_cells`).

    Returns:
        A :class:`SubmissionResult`; it never raises for what a submission holds. A grading that
        could not run (the sandbox cannot be confined or started) gives status ``error``.
    """
    import nbformat

    from resnets_kit.classgrade.submissions import submission_problem
    from resnets_kit.grader.normalize import drop_empty_metadata, drop_unmarked_metadata, resolve_duplicates
    from resnets_kit.grader.orchestrate import grade_cells
    from resnets_kit.grader.plan import answer_cells

    started = time.monotonic()
    problem = submission_problem(path)
    if problem is not None:
        return not_graded("invalid", f"Not graded: {problem.reason}.\n{problem.advice}", started)
    notebook = nbformat.read(path, as_version=4)
    drop_empty_metadata(notebook)
    drop_unmarked_metadata(notebook)
    notes = [duplicate.describe() for duplicate in resolve_duplicates(notebook, notes=False)]
    for cell in notebook.cells:  # nbgrader's OverwriteCells gives an answer cell its type back
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in GRADED_FUNCTIONS and cell.cell_type != "code":
            notes.append(
                f"the answer cell '{meta['grade_id']}' was a {cell.cell_type} cell: it was graded as code"
            )
            cell.cell_type = "code"
    try:
        grade = grade_cells(
            answer_cells(notebook),
            step_timeout=step_timeout,
            memory_limit=memory_limit,
            process_limit=process_limit,
            overlap=overlap,
        )
    except GradingError as error:
        result = not_graded(
            "error",
            "The grader could not run. This is not your submission's doing; tell your instructor.",
            started,
        )
        result.notes, result.detail = notes, f"grading error: {error}"
        return result
    cells = []
    for cell in source_test_cells():
        outcome = grade.outcomes[cell.grade_id]
        cells.append(
            CellResult(
                cell,
                cell.max_points if outcome.passed else 0.0,
                outcome.passed,
                outcome.verdict,
                outcome.text,
            )
        )
    verdicts = grade.sandbox.verdicts
    status = next((v for v in VERDICT_PRECEDENCE if v in verdicts.values()), "graded")
    message = "\n".join(
        f"{function}: not graded: it {grade.sandbox.details[function]} ({verdict})."
        if verdict != "tampered"
        else f"{function}: {grade.sandbox.details[function]} (tampered)."
        for function, verdict in verdicts.items()
    )
    return SubmissionResult(status, report_text(message), cells, notes, time.monotonic() - started)
