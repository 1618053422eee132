"""Derive the student notebook from the source notebook.

``python -m resnets_kit.release`` writes ``notebooks/Residual_Networks.ipynb``: the source notebook
with every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` replaced by
``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (nbgrader's ``ClearSolutions``), and all
outputs cleared. ``--check`` exits non-zero when the committed student notebook is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from resnets_kit import REPO_ROOT
from resnets_kit.solution import SOURCE_NOTEBOOK

STUDENT_NOTEBOOK = REPO_ROOT / "notebooks" / "Residual_Networks.ipynb"


def clean(nb):
    """Remove outputs and execution counts from every code cell, in place; return ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb


def student_notebook(source: Path = SOURCE_NOTEBOOK):
    """The student version of ``source``: solutions replaced by stubs, no outputs.

    Raises:
        FileNotFoundError: ``source`` does not exist.
    """
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.read(source, as_version=4)
    nb, _ = ClearSolutions().preprocess(nb, {"language": "python"})
    return clean(nb)


def render(nb) -> str:
    """The notebook as the text written to disk (nbformat's JSON, ending with a newline)."""
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the student notebook is stale")
    args = parser.parse_args(argv)
    text = render(student_notebook())
    if args.check:
        if not STUDENT_NOTEBOOK.exists() or STUDENT_NOTEBOOK.read_text() != text:
            print(f"{STUDENT_NOTEBOOK} is stale; run `python -m resnets_kit.release`.", file=sys.stderr)
            return 1
        print(f"{STUDENT_NOTEBOOK} is up to date.")
        return 0
    STUDENT_NOTEBOOK.write_text(text)
    print(f"wrote {STUDENT_NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
