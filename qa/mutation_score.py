"""Mutation score of the tests: how many mistakes of the catalogue they catch, and with which
message; and the equivalence score: how many equivalent answers get full marks.

Usage::

    python -m qa.mutation_score [--only NAME ...] [--table mistakes|equivalences|generated|both|all]

For each mistake of :data:`qa.mistakes.CATALOGUE` (a small edit of the reference
solution), runs the public test of the edited function and, if it passes, the hidden test; then
prints one row per mistake: its name, the function, the test that caught it, the points the
autograder gives that function (out of 10; the other two functions must keep full marks), OK or
MISSED, and
the first line of the failure message (which check failed, and where), with the message's hint
on a second line. A mistake is MISSED when
the autograder gives the function full marks or takes points from another function, when
no test fails, when the other test than the declared one catches it, or when the message lacks
one of the texts that name the mistake; the reason and the whole message follow the table. The
last line is ``mutation score: N/M caught``. The exit status is 0 when every mistake is caught,
1 otherwise.

Then, for each equivalent answer of :data:`qa.equivalences.CATALOGUE` (a rewriting of
the reference solution that computes the same function), one row: its name, the function, the
points the autograder gives it, OK or WRONG, and the note the test prints (or, for an answer that
differs on some cases only, the message of the cell that shows the difference). An answer is WRONG
when the autograder takes points in a cell whose case shows no difference, or when the public or
hidden test fails there. The last line is ``equivalence score: N/M graded as they deserve``.

Last (``--table all``, the default, without ``--only``), the mutants generated mechanically from
the reference blocks (:mod:`qa.generated_mutants`), with the line ``generated mutants:
N/M graded as they deserve``. The exit status is 0 when every table is complete, 1 otherwise.

Both catalogues run in a few minutes on two CPU cores (each ResNet50 entry builds a 177-layer
model once, or twice when the hidden test runs).
"""

from __future__ import annotations

import argparse
import sys

from qa import equivalences
from qa.mistakes import (
    CATALOGUE,
    Mistake,
    cell_points,
    first_failure,
    graded_points,
    graded_verdict,
    verdict,
)

_WIDTHS = {"mistake": 44, "function": 19, "caught by": 9, "graded": 8, "status": 6}
_MESSAGE_WIDTH = 110


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def first_line(mistake, message: str) -> str:
    """The first line of a failure message (the check and where it failed) without the function's
    name (the table has a column for it), cut to :data:`_MESSAGE_WIDTH` characters."""
    line = message.split("\n", 1)[0]
    for prefix in (f"{mistake.function}: ", "the check "):
        if line.startswith(prefix):
            line = line[len(prefix) :]
    return _cut(line, _MESSAGE_WIDTH)


def hint_line(message: str) -> str:
    """The hint of a failure message, cut to :data:`_MESSAGE_WIDTH` characters (``""`` if none)."""
    _, found, hint = message.rpartition("\n    hint: ")
    return _cut("hint: " + hint.split("\n", 1)[0], _MESSAGE_WIDTH) if found else ""


def _row(*cells: str) -> str:
    widths = list(_WIDTHS.values())
    padded = [_cut(cell, width).ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "  ".join(padded + list(cells[len(widths) :])).rstrip()


def _mistakes_table(selected: tuple[Mistake, ...]) -> int:
    """Print the mistakes' table and score; return how many were missed."""
    print(_row(*_WIDTHS, "message: the check that failed and where, then the hint"))
    print(_row(*("-" * width for width in _WIDTHS.values()), "-" * 20))
    missed = []
    for mistake in selected:
        result = first_failure(mistake)
        problem = verdict(mistake, result)
        points = graded_points(mistake)
        problem = problem or graded_verdict(mistake, points)
        kind, message = result if result else ("-", "")
        status = "MISSED" if problem else "OK"
        full = sum(v for g, v in cell_points().items() if g.startswith(mistake.function))
        graded = f"{points[mistake.function]:g}/{full:g}"
        print(_row(mistake.name, mistake.function, kind, graded, status, first_line(mistake, message)))
        if message:
            print(_row("", "", "", "", "", hint_line(message)), flush=True)
        if problem:
            missed.append((mistake, problem, message))
    for mistake, problem, message in missed:
        print(f"\nMISSED {mistake.name!r} ({mistake.function}, declared {mistake.caught_by}): {problem}")
        if message:
            print("    " + message.replace("\n", "\n    "))
    print(f"\nmutation score: {len(selected) - len(missed)}/{len(selected)} caught")
    return len(missed)


def _equivalences_table(selected: tuple[equivalences.Equivalent, ...]) -> int:
    """Print the equivalent answers' table and score; return how many were graded wrongly."""
    widths = {"equivalent answer": 44, "function": 19, "differs in": 9, "graded": 8, "status": 6}
    print(
        "  ".join(h.ljust(w) for h, w in widths.items())
        + "  what the student reads: the note, or the message of the cell that differs"
    )
    print("  ".join("-" * w for w in widths.values()) + "  " + "-" * 20)
    wrong = []
    for entry in selected:
        problem = equivalences.verdict(entry)
        points, full = equivalences.graded_points(entry)
        cells = equivalences.graded_cells(entry)
        failed = [text for grade_id, (passed, text) in cells.items() if not passed]
        notes: list[str] = []
        for _, text in cells.values():
            for line in text.splitlines():
                if line.strip().startswith("note: "):
                    notes.append(line.strip()[len("note: ") :])
                elif notes and line.startswith(" " * 10) and line.strip():  # a wrapped note goes on
                    notes[-1] += " " + line.strip()
        shown = first_line(entry, failed[0]) if failed else (notes[0] if notes else "")
        differs = "hidden" if entry.differs_in else "-"
        status = "WRONG" if problem else "OK"
        cells_text = [entry.name, entry.function, differs, f"{points:g}/{full:g}", status]
        print(
            "  ".join(_cut(c, w).ljust(w) for c, w in zip(cells_text, widths.values(), strict=True))
            + "  "
            + _cut(shown, _MESSAGE_WIDTH)
        )
        if failed:
            print(" " * (sum(widths.values()) + 2 * len(widths)) + hint_line(failed[0]), flush=True)
        if problem:
            wrong.append((entry, problem))
    for entry, problem in wrong:
        print(f"\nWRONG {entry.name!r} ({entry.function}): {problem}")
    print(f"\nequivalence score: {len(selected) - len(wrong)}/{len(selected)} graded as they deserve")
    return len(wrong)


def main(
    argv: list[str] | None = None,
    catalogue: tuple[Mistake, ...] = CATALOGUE,
    equivalents: tuple[equivalences.Equivalent, ...] = equivalences.CATALOGUE,
) -> int:
    """Run the catalogues (or the entries named with ``--only``) and print the tables and scores.

    Args:
        argv: the command-line arguments (default: ``sys.argv[1:]``).
        catalogue: the mistakes to run (default: the whole catalogue).
        equivalents: the equivalent answers to run (default: the whole catalogue).

    Returns:
        0 when every mistake run is caught as declared and every equivalent answer is graded as
        it deserves, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this entry (may be given several times)"
    )
    parser.add_argument(
        "--table",
        choices=("mistakes", "equivalences", "generated", "both", "all"),
        default="all",
        help="which tables to print: both = mistakes and equivalences; all = those and the generated mutants",
    )
    args = parser.parse_args(argv)
    mistakes_run = catalogue if args.table in ("mistakes", "both", "all") else ()
    equivalents_run = equivalents if args.table in ("equivalences", "both", "all") else ()
    generated_run = args.table in ("generated", "all") and not args.only
    if args.only:
        names = set(args.only)
        known = {m.name for m in catalogue} | {e.name for e in equivalents}
        unknown = sorted(names - known)
        if unknown:
            parser.error(f"no mistake or equivalent answer named {unknown[0]!r}")
        mistakes_run = tuple(m for m in mistakes_run if m.name in names)
        equivalents_run = tuple(e for e in equivalents_run if e.name in names)
    problems = 0
    if mistakes_run or args.table == "mistakes":
        problems += _mistakes_table(mistakes_run)
    if equivalents_run or args.table == "equivalences":
        if mistakes_run or args.table == "mistakes":
            print()
        problems += _equivalences_table(equivalents_run)
    if generated_run:
        from qa import generated_mutants

        print()
        problems += generated_mutants.table(
            [m for f in generated_mutants.FUNCTIONS for m in generated_mutants.generate(f)]
        )
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
