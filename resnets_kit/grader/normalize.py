"""Submissions as students leave them: copied nbgrader cells resolved before nbgrader checks them.

In JupyterLab, Notebook 7 and VS Code, copying and pasting a cell copies its metadata, so a
student who duplicates a test cell, or the graded answer cell to try a variant, submits a notebook
in which two cells carry the same nbgrader ``grade_id``. nbgrader 0.9 cannot grade it: in the
sanitize step of ``nbgrader autograde`` its ``DeduplicateIds`` preprocessor keeps the *last* copy
and sets the other copies' metadata to an empty dict (``cell.metadata.nbgrader = {}``) instead of
removing it; ``CheckCellMetadata`` then reads that empty dict as schema version 0 and raises
``SchemaTooOldError``, so the whole submission fails with "use an old version of the nbgrader
metadata format ... nbgrader update ." and no grade (jupyter/nbgrader#1083).

:class:`~resnets_kit.grader.preprocessors.NormalizeSubmission` runs in that sanitize step, after
nbgrader clears the outputs and before ``DeduplicateIds`` (see ``course/nbgrader_config.py``),
so it applies to the course's ``nbgrader autograde`` whoever runs it. For each ``grade_id`` held
by several cells (:func:`resolve_duplicates`):

- an **answer** (nbgrader ``solution``) cell: the copy that runs last is graded, i.e. the last
  copy that is a code cell (the last copy when none is); this is the code the student's kernel
  last defined, and the copy :func:`resnets_kit.grader.plan.answer_cells` reads;
- a **test** (``grade``) cell, or any other cell with nbgrader metadata (a locked markdown or
  setup cell): the first copy is kept;
- every other copy loses its nbgrader metadata and becomes a plain cell, which nbgrader ignores;
- a markdown note (a cell of its own, marked with :data:`NOTE_MARK` in its metadata) is inserted
  above each copy: above the graded one, how many copies there were and that the others were
  ignored; above each ignored one, that it was ignored and which copy was graded. The notes are
  part of the autograded notebook, so nbgrader's feedback shows them.

Cells whose ``nbgrader`` metadata is empty or not a mapping (what ``DeduplicateIds`` leaves behind
when a student resubmits a notebook it processed) lose it too, for the same reason.

The notebook is changed in place; nothing else in it (sources, other metadata, order) changes.

Test cells a submission deleted are added back from the source notebook before grading
(:func:`restore_test_cells`), so that they are graded like the others.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell

from resnets_kit.grader.plan import grading_plan
from resnets_kit.solution import SOURCE_NOTEBOOK

#: Key set to ``True`` in the metadata of the note cells this module inserts.
NOTE_MARK = "resnets_grader_note"

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class DuplicateCells:
    """The copies of one ``grade_id`` in a submission and which one counts.

    Attributes:
        grade_id: the nbgrader ``grade_id`` the copies share.
        role: ``"answer"`` (a ``solution`` cell), ``"test"`` (a ``grade`` cell) or ``"other"``.
        kept: index of the copy that keeps its metadata, in the notebook as submitted.
        ignored: indices of the copies that lost it, in the notebook as submitted.
    """

    grade_id: str
    role: str
    kept: int
    ignored: tuple[int, ...]

    @property
    def copies(self) -> int:
        """How many cells carried the ``grade_id``."""
        return 1 + len(self.ignored)

    def describe(self) -> str:
        """One line for the instructor's log, e.g. ``2 copies of the answer cell 'identity_block':
        the last one (cell 9) was graded, the other (cell 8) ignored`` (cells counted from 1, in
        the notebook as submitted)."""
        which = "last" if self.role == "answer" else "first"
        verb = "kept" if self.role == "other" else "graded"
        others = ", ".join(str(i + 1) for i in self.ignored)
        plural = "s" if len(self.ignored) > 1 else ""
        return (
            f"{self.copies} copies of the {_ROLE_NAMES[self.role]} {self.grade_id!r}: the {which} one "
            f"(cell {self.kept + 1}) was {verb}, the other{plural} (cell{plural} {others}) ignored"
        )


_ROLE_NAMES = {"answer": "answer cell", "test": "test cell", "other": "cell"}


def _nbgrader_meta(cell: NotebookNode) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def _safe(grade_id: str) -> str:
    """The grade id as shown in a note: characters other than letters, digits, ``_.-`` become
    ``?`` (notes are markdown, and a submission's metadata is the student's to edit)."""
    return _SAFE_ID.sub("?", grade_id)[:80]


def note_text(duplicate: DuplicateCells, index: int) -> str:
    """The markdown of the note inserted above one copy of a duplicated cell.

    Args:
        duplicate: the copies of a ``grade_id``.
        index: the index of the copy the note is for (``duplicate.kept`` or one of
            ``duplicate.ignored``).

    Returns:
        A markdown blockquote starting with ``**Grader's note:**``.
    """
    name = f"{_ROLE_NAMES[duplicate.role]} `{_safe(duplicate.grade_id)}`"
    n = duplicate.copies
    others = "the other copy was" if n == 2 else f"the other {n - 1} copies were"
    if duplicate.role == "answer":
        if index == duplicate.kept:
            body = (
                f"this notebook has {n} copies of the {name}. The copy below, the last one that "
                f"runs, is the one that was graded; {others} ignored."
            )
        else:
            body = (
                f"the copy below of the {name} was ignored: only the last copy that runs is graded "
                "(it has a note like this one above it)."
            )
    else:
        verb = "kept" if duplicate.role == "other" else "graded"
        if index == duplicate.kept:
            body = (
                f"this notebook has {n} copies of the {name}. The copy below, the first one, was "
                f"{verb}; {others} ignored."
            )
        else:
            body = f"the copy below of the {name} was ignored: the first copy was {verb}."
    return f"> **Grader's note:** {body}"


def resolve_duplicates(nb: NotebookNode, *, notes: bool = True) -> list[DuplicateCells]:
    """Leave one cell per nbgrader ``grade_id`` in a notebook, in place (rules in the module's
    docstring).

    Args:
        nb: a version 4 notebook (``nbformat.read(..., as_version=4)``).
        notes: insert a markdown note above each copy of a duplicated cell.

    Returns:
        One :class:`DuplicateCells` per ``grade_id`` that several cells carried, in the order of
        their first copy; indices refer to the notebook as it was passed in.
    """
    groups: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader_meta(cell)
        grade_id = meta.get("grade_id") if meta else None
        if isinstance(grade_id, str) and grade_id:
            groups.setdefault(grade_id, []).append(index)
    duplicates = []
    for grade_id, indices in groups.items():
        if len(indices) < 2:
            continue
        metas = [_nbgrader_meta(nb.cells[i]) for i in indices]
        if any(meta.get("solution") for meta in metas):
            role = "answer"
            runs = [i for i in indices if nb.cells[i].cell_type == "code"]
            kept = (runs or indices)[-1]
        else:
            role = "test" if any(meta.get("grade") for meta in metas) else "other"
            kept = indices[0]
        ignored = tuple(i for i in indices if i != kept)
        for i in ignored:
            del nb.cells[i].metadata["nbgrader"]
        duplicates.append(DuplicateCells(grade_id, role, kept, ignored))
    if notes and duplicates:
        inserts = {i: note_text(d, i) for d in duplicates for i in (d.kept, *d.ignored)}
        for index in sorted(inserts, reverse=True):
            note = new_markdown_cell(inserts[index])
            note.metadata[NOTE_MARK] = True
            if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 5) < 5:
                del note["id"]  # cell ids came with nbformat 4.5; older notebooks must not have them
            nb.cells.insert(index, note)
    return duplicates


def drop_empty_metadata(nb: NotebookNode) -> list[int]:
    """Remove ``nbgrader`` metadata that is empty or not a mapping from every cell, in place.

    Args:
        nb: a version 4 notebook.

    Returns:
        The indices of the cells changed.
    """
    changed = []
    for index, cell in enumerate(nb.cells):
        metadata = cell.get("metadata", {})
        if "nbgrader" in metadata and not (isinstance(metadata["nbgrader"], dict) and metadata["nbgrader"]):
            del metadata["nbgrader"]
            changed.append(index)
    return changed


#: The nbgrader flags of a cell; a cell with none of them set is a plain cell to nbgrader.
FLAGS = ("grade", "solution", "locked", "task")


def drop_unmarked_metadata(nb: NotebookNode) -> list[int]:
    """Remove ``nbgrader`` metadata that sets none of :data:`FLAGS` from every cell, in place.

    The source notebook names a few plain cells this way (the parameters cell, the model answers
    of the written questions); nbgrader stores no such cell in the gradebook, so at autograde its
    ``OverwriteCells`` logged "Cell '<id>' does not exist in the database" for each of them in
    every submission, and removed the id itself. Removing it first keeps that log for real cases.

    Returns:
        The indices of the cells changed.
    """
    changed = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta and not any(meta.get(flag) for flag in FLAGS):
            del cell.metadata["nbgrader"]
            changed.append(index)
    return changed


#: The first line of a test cell the grader added back to a submission.
RESTORED_NOTE = "# This test cell was missing from the submission; the grader added it back.\n"


def restore_test_cells(notebook, source: Path = SOURCE_NOTEBOOK) -> list[str]:
    """Add back the autograded test cells a submission deleted, copied from the source notebook
    (after the last remaining cell of the same function), so that they are graded like the
    others; return their ``grade_id``.

    (nbgrader's own ``OverwriteCells.add_missing_cells`` fails with ``KeyError: 'grade_id'`` on
    notebooks that also have unlocked cells with nbgrader metadata, as this one does.)
    """
    import nbformat

    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells}
    missing = [g for g in grading_plan(source) if g not in present]
    if not missing:
        return []
    originals = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(source, as_version=4).cells
    }
    for grade_id in missing:
        cell = copy.deepcopy(originals[grade_id])
        cell.source = RESTORED_NOTE + cell.source
        function = grading_plan(source)[grade_id].function
        positions = [
            i
            for i, c in enumerate(notebook.cells)
            if str(c.metadata.get("nbgrader", {}).get("grade_id", "")).startswith(function)
        ]
        notebook.cells.insert(positions[-1] + 1 if positions else len(notebook.cells), cell)
    return missing
