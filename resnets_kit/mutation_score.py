"""Mutation score of the tests: how many mistakes of the catalogue they catch, and with which message.

Usage::

    python -m resnets_kit.mutation_score [--only NAME ...]

For each mistake of :data:`resnets_kit.mistakes.CATALOGUE` (a small edit of the reference
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

The whole catalogue runs in well under a minute on two CPU cores (each ResNet50 mistake builds a
177-layer model once, or twice when the hidden test runs).
"""

from __future__ import annotations

import argparse
import sys

from resnets_kit.mistakes import (
    CATALOGUE,
    Mistake,
    cell_points,
    first_failure,
    get,
    graded_points,
    graded_verdict,
    verdict,
)

_WIDTHS = {"mistake": 44, "function": 19, "caught by": 9, "graded": 8, "status": 6}
_MESSAGE_WIDTH = 110


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def first_line(mistake: Mistake, message: str) -> str:
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


def main(argv: list[str] | None = None, catalogue: tuple[Mistake, ...] = CATALOGUE) -> int:
    """Run the catalogue (or the mistakes named with ``--only``) and print the table and the score.

    Args:
        argv: the command-line arguments (default: ``sys.argv[1:]``).
        catalogue: the mistakes to run (default: the whole catalogue).

    Returns:
        0 when every mistake run is caught as declared, else 1.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this mistake (may be given several times)"
    )
    args = parser.parse_args(argv)
    selected = catalogue
    if args.only:
        try:
            selected = tuple(get(name) for name in args.only)
        except KeyError as err:
            parser.error(str(err.args[0]))

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
    caught = len(selected) - len(missed)
    print(f"\nmutation score: {caught}/{len(selected)} caught")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
