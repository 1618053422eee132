"""What grading says about a submission: verdicts, the result of a test cell, grading errors.

A verdict is charged to one graded function when its code broke a limit or the rules
(``timeout``, ``out_of_memory``, ``crashed``, ``tampered``); it travels through nbgrader as the
``ename`` of the test cells' error output (:data:`VERDICT_ERRORS`) and is read back from there by
the class grader (:data:`VERDICT_ENAMES`, the same table inverted).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Verdicts of a graded function, besides ``None`` (it ran and was checked).
VERDICTS = ("timeout", "out_of_memory", "crashed", "tampered")
#: The ``ename`` of the error output a test cell gets for each verdict.
VERDICT_ERRORS = {
    "timeout": "TimeLimitExceeded",
    "out_of_memory": "MemoryLimitExceeded",
    "crashed": "SandboxCrashed",
    "tampered": "TamperingDetected",
}
#: ``ename`` of an error output to its verdict: :data:`VERDICT_ERRORS` inverted, plus
#: ``CellTimeoutError`` (nbclient's, when a cell of a notebook executed in a kernel times out).
VERDICT_ENAMES = {ename: verdict for verdict, ename in VERDICT_ERRORS.items()} | {
    "CellTimeoutError": "timeout"
}


class GradingError(RuntimeError):
    """The grading itself failed (not the submission): the message says what to fix."""


@dataclass
class Outcome:
    """A test cell's result: passed or not, and the text to show (success line or message)."""

    passed: bool
    text: str
    verdict: str | None = None
