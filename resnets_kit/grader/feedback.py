"""Feedback without hidden tests: what :class:`~resnets_kit.grader.preprocessors.HideHiddenTests` does.

nbgrader's feedback is the autograded notebook rendered to HTML, so by default it shows the full
source of every test cell, hidden tests included (jupyter/nbgrader#917), and the tracebacks of
failing checks quote the lines that failed, hidden ones too. ``HideHiddenTests`` runs in the
feedback step, after the grades are read and before the HTML export. In every code cell it

- replaces each block between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (delimiter
  lines included) by the single comment line ``# hidden tests ran here``;
- replaces the traceback of every error output by one line, ``"<ename>: <evalue>"`` (just
  ``"<ename>"`` when the error has no value), so that a failed check still shows its message.

The course registers it in ``course/nbgrader_config.py``::

    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

The autograded notebooks and the gradebook keep everything; only the feedback is changed.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode

#: The line that stands in for a removed hidden-tests block.
HIDDEN_PLACEHOLDER = "# hidden tests ran here"


def strip_hidden_blocks(
    source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS"
) -> tuple[str, int]:
    """Replace each hidden-tests block of a cell's source by :data:`HIDDEN_PLACEHOLDER`.

    A block runs from a line containing ``begin`` to the next line containing ``end``, both
    included (the same rule as nbgrader's ``ClearHiddenTests``). The placeholder keeps the
    indentation of the ``begin`` line. A block left open runs to the end of the source, so that
    nothing after an unmatched ``begin`` line is shown.

    Args:
        source: the cell's source.
        begin: text that marks the first line of a block.
        end: text that marks the last line of a block.

    Returns:
        The new source and the number of blocks removed.
    """
    lines = []
    in_block = False
    blocks = 0
    for line in source.split("\n"):
        if not in_block and begin in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(indent + HIDDEN_PLACEHOLDER)
            in_block = True
            blocks += 1
        elif in_block:
            if end in line:
                in_block = False
        else:
            lines.append(line)
    return "\n".join(lines), blocks


def short_traceback(output: NotebookNode) -> list[str]:
    """The one-line traceback that replaces an error output's traceback.

    Args:
        output: an output of type ``error`` (with ``ename`` and ``evalue``).

    Returns:
        ``["<ename>: <evalue>"]``, or ``["<ename>"]`` when ``evalue`` is empty.
    """
    ename = output.get("ename", "Error")
    evalue = output.get("evalue", "")
    return [f"{ename}: {evalue}" if evalue else ename]
