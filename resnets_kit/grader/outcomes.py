"""What grading says about a submission: verdicts, the result of a test cell, grading errors.

A verdict is charged to one graded function when its code broke a limit or the rules
(``timeout``, ``out_of_memory``, ``process_limit``, ``crashed``, ``tampered``); it travels through nbgrader as the
``ename`` of the test cells' error output (:data:`VERDICT_ERRORS`) and is read back from there by
the class grader (:data:`VERDICT_ENAMES`, the same table inverted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Verdicts of a graded function, besides ``None`` (it ran and was checked).
VERDICTS = ("timeout", "out_of_memory", "process_limit", "crashed", "tampered")
#: When several functions have verdicts, a submission's status is the first of this order.
VERDICT_PRECEDENCE = ("tampered", "crashed", "process_limit", "out_of_memory", "timeout")
#: The ``ename`` of the error output a test cell gets for each verdict.
VERDICT_ERRORS = {
    "timeout": "TimeLimitExceeded",
    "out_of_memory": "MemoryLimitExceeded",
    "process_limit": "ProcessLimitExceeded",
    "crashed": "SandboxCrashed",
    "tampered": "TamperingDetected",
}
#: ``ename`` of an error output to its verdict: :data:`VERDICT_ERRORS` inverted, plus
#: ``CellTimeoutError`` (nbclient's, when a cell of a notebook executed in a kernel times out).
VERDICT_ENAMES = {ename: verdict for verdict, ename in VERDICT_ERRORS.items()} | {
    "CellTimeoutError": "timeout"
}


#: Longest text of a test cell's result (characters): what a submission controls in it (error
#: messages, layer names) cannot flood a report.
REPORT_TEXT_LIMIT = 2000
#: Longest text kept of one thing a submission reported (an error message, a name), characters.
RECORDED_TEXT_LIMIT = 500
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def report_text(text: object, limit: int = REPORT_TEXT_LIMIT) -> str:
    """``text`` as plain text for a report: terminal escape sequences and control characters
    (newlines and tabs kept) removed, cut to ``limit`` characters with a note saying so.

    Reports show it as text (nbgrader's feedback escapes it as HTML); this keeps a submission's
    strings from styling a report, hiding lines or growing it without bound.
    """
    text = _CONTROL.sub("", _ANSI.sub("", str(text)))
    if len(text) > limit:
        text = text[:limit] + f" [... cut at {limit} characters]"
    return text


class GradingError(RuntimeError):
    """The grading itself failed (not the submission): the message says what to fix."""


@dataclass
class Outcome:
    """A test cell's result: passed or not, and the text to show (success line or message)."""

    passed: bool
    text: str
    verdict: str | None = None

    def __post_init__(self):
        self.text = report_text(self.text)
