"""The grader's nbgrader preprocessors, registered in ``course/nbgrader_config.py``.

- :class:`NormalizeSubmission` (autograde's sanitize step): one cell per ``grade_id``
  (:mod:`resnets_kit.grader.normalize`).
- :class:`TrustedGrade` (autograde, in place of nbgrader's ``Execute``): each test cell's output
  is its result from :func:`resnets_kit.grader.orchestrate.grade_cells`; no kernel runs.
- :class:`HideHiddenTests` (``generate_feedback``): hidden tests' code and tracebacks stay out of
  the feedback (:mod:`resnets_kit.grader.feedback`).
- :class:`SanitizeMarkdown` (``generate_feedback``): a submission's markdown cannot run code in the
  feedback page.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer, List, Unicode

from resnets_kit.grader.feedback import (
    mend_attachments,
    sanitize_markdown,
    short_traceback,
    strip_hidden_blocks,
)
from resnets_kit.grader.limits import DEFAULT_MEMORY_LIMIT, DEFAULT_PROCESS_LIMIT, DEFAULT_STEP_TIMEOUT
from resnets_kit.grader.normalize import (
    drop_empty_metadata,
    drop_unmarked_metadata,
    resolve_duplicates,
    restore_test_cells,
)
from resnets_kit.grader.orchestrate import grade_cells
from resnets_kit.grader.outcomes import VERDICT_ERRORS, Outcome
from resnets_kit.grader.plan import answer_cells


def _outputs(outcome: Outcome) -> list:
    """A test cell's outputs for its outcome: the success line, or an error output whose ``ename``
    is ``PublicTestFailure`` or the verdict's (:data:`~resnets_kit.grader.outcomes.VERDICT_ERRORS`)."""
    if outcome.passed and not outcome.verdict:
        return [nbformat.v4.new_output("stream", name="stdout", text=outcome.text + "\n")]
    if outcome.passed:  # tampered, but the checks passed on the restored files
        return [nbformat.v4.new_output("stream", name="stdout", text=outcome.text + "\n")]
    ename = VERDICT_ERRORS.get(outcome.verdict or "", "PublicTestFailure")
    return [
        nbformat.v4.new_output(
            "error",
            ename=ename,
            evalue=outcome.text,
            traceback=short_traceback({"ename": ename, "evalue": outcome.text}),
        )
    ]


class NormalizeSubmission(NbGraderPreprocessor):
    """One cell per ``grade_id`` before nbgrader checks the metadata.

    Registered in ``c.Autograde.sanitize_preprocessors`` after ``ClearOutput`` and before
    ``DeduplicateIds``: a student who copied and pasted a cell otherwise fails autograde as a
    whole (see :mod:`resnets_kit.grader.normalize`). Each duplicated ``grade_id`` is logged as a
    warning with the copy that counts.
    """

    def preprocess(self, nb, resources):
        """Resolve the duplicated cells of ``nb`` and add the notes, in place; return ``nb`` and
        ``resources``."""
        for index in drop_empty_metadata(nb):
            self.log.warning("Cell %d had empty nbgrader metadata; it is a plain cell now", index)
        drop_unmarked_metadata(nb)  # plain cells to nbgrader; it would warn about each
        for duplicate in resolve_duplicates(nb):
            self.log.warning("Duplicated cell: %s", duplicate.describe())
        self._restore_hidden_tests(nb, resources)
        return nb, resources

    def _restore_hidden_tests(self, nb, resources) -> None:
        """Put the hidden tests back into each test cell that is exactly as released, in place.

        A test cell with hidden tests differs from its source in every honest submission (the
        release does not hold them), so nbgrader's ``OverwriteCells`` logged "Attribute
        'checksum' ... has changed!" for each, and then did this itself. Cells changed in any
        other way are left for ``OverwriteCells``, whose warning then means something.
        """
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.preprocessors import ClearHiddenTests

        info = resources.get("nbgrader") or {}
        if not all(info.get(key) for key in ("db_url", "notebook", "assignment")):
            return
        clear = ClearHiddenTests(parent=self)
        with Gradebook(info["db_url"]) as gradebook:
            for cell in nb.cells:
                meta = cell.get("metadata", {}).get("nbgrader")
                if not (isinstance(meta, dict) and meta.get("grade") and meta.get("locked")):
                    continue
                try:
                    source = gradebook.find_source_cell(
                        meta.get("grade_id"), info["notebook"], info["assignment"]
                    )
                except MissingEntry:
                    continue
                released = nbformat.v4.new_code_cell(source.source, metadata={"nbgrader": dict(meta)})
                clear.preprocess_cell(released, {}, 0)
                if cell.source == released.source:
                    cell.source = source.source


class TrustedGrade(NbGraderPreprocessor):
    """Grade a notebook without running it in a kernel.

    Registered in place of ``Execute`` in ``c.Autograde.autograde_preprocessors``. Test cells a
    submission deleted are added back, and figures its markdown cells name but lack are attached
    again (:func:`~resnets_kit.grader.feedback.mend_attachments`); each autograded test cell's
    output becomes its result from
    :func:`~resnets_kit.grader.orchestrate.grade_cells` (see :func:`_outputs`); other code cells
    are left without output.
    """

    step_timeout = Float(DEFAULT_STEP_TIMEOUT, help="Wall-time limit of each graded function (s).").tag(
        config=True
    )
    memory_limit_mb = Integer(
        DEFAULT_MEMORY_LIMIT // 2**20, help="Memory limit of the grading sandbox (MiB)."
    ).tag(config=True)
    process_limit = Integer(
        DEFAULT_PROCESS_LIMIT, help="Most processes in the grading sandbox (its own included)."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        """Grade ``nb`` and write each test cell's result as its output, in place; return ``nb``
        and ``resources``.

        Raises:
            resnets_kit.grader.outcomes.GradingError: the grading itself failed (not the
                submission); nbgrader then reports the submission as not graded.
        """
        restored = restore_test_cells(nb)
        if restored:
            self.log.warning("Test cells missing from the submission were added back: %s", restored)
        # After nbgrader's OverwriteCells, which may bring back a locked cell's figure link:
        # without the figures, Manual Grading and feedback could not show the notebook at all.
        for change in mend_attachments(nb):
            self.log.info("Figure attachment: %s", change)
        db_url = (resources.get("nbgrader") or {}).get("db_url", "")
        course_root = (
            Path(db_url.replace("sqlite:///", "")).parent if db_url.startswith("sqlite:///") else None
        )
        grade = grade_cells(
            answer_cells(nb),
            step_timeout=self.step_timeout,
            memory_limit=self.memory_limit_mb * 2**20,
            course_root=course_root,
            process_limit=self.process_limit,
        )
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            cell.execution_count = None
            cell.outputs = _outputs(grade.outcomes[grade_id]) if grade_id in grade.outcomes else []
        self.log.info(
            "Graded in a sandbox in %.1f s; verdicts: %s",
            grade.sandbox.seconds,
            grade.sandbox.verdicts or "none",
        )
        return nb, resources


class _FeedbackStep(NbGraderPreprocessor):
    """A preprocessor of the feedback step. nbconvert's HTML exporter configures
    ``NbConvertBase.display_data_priority`` for every preprocessor; nbgrader's base class declares
    that trait without ``config=True``, so each run logged "Config option 'display_data_priority'
    not recognized". Declared configurable here, as nbgrader's own ``GetGrades`` does."""

    display_data_priority = List(NbGraderPreprocessor.class_traits()["display_data_priority"].default()).tag(
        config=True
    )


class HideHiddenTests(_FeedbackStep):
    """Keep hidden tests' code and tracebacks out of the feedback (``nbgrader generate_feedback``).

    Registered in ``c.GenerateFeedback.preprocessors`` before the HTML export: in every code cell
    each hidden-tests block becomes one comment line and each error traceback one line
    ``"<ename>: <evalue>"`` (see :mod:`resnets_kit.grader.feedback`). The autograded notebooks
    and the gradebook keep everything.
    """

    begin_test_delimeter = Unicode(
        "BEGIN HIDDEN TESTS", help="The text that marks the first line of a hidden-tests block"
    ).tag(config=True)

    end_test_delimeter = Unicode(
        "END HIDDEN TESTS", help="The text that marks the last line of a hidden-tests block"
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        """Strip the hidden blocks of a code cell and shorten its error tracebacks, in place;
        return the cell and the (unchanged) resources."""
        if cell.cell_type != "code":
            return cell, resources
        cell.source, _ = strip_hidden_blocks(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output.traceback = short_traceback(output)
        return cell, resources


class SanitizeMarkdown(_FeedbackStep):
    """Make the markdown cells' HTML inert in the feedback (``nbgrader generate_feedback``).

    nbgrader's feedback template renders markdown cells without nbconvert's sanitizer; this
    escapes the tags and removes the attributes that could run code in a reader's browser (see
    :func:`~resnets_kit.grader.feedback.sanitize_markdown`). Outputs are sanitized by nbconvert
    itself (``c.HTMLExporter.sanitize_html = True``). The autograded notebooks keep everything.
    """

    def preprocess(self, nb, resources):
        """Restore the figures the markdown cells name but lack (an autograded notebook graded
        before they were restored at autograde, see :func:`mend_attachments`), then sanitize
        each markdown cell; in place, return ``nb`` and ``resources``."""
        for change in mend_attachments(nb):
            self.log.info("Figure attachment: %s", change)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        """Sanitize a markdown cell's source in place; return the cell and the resources."""
        if cell.cell_type == "markdown":
            cell.source = sanitize_markdown(cell.source)
        return cell, resources
