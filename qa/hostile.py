"""Hostile submissions: attempts to fool, crash or escape the grader, each with its expected outcome.

Every submission starts from the reference solution (full marks) and attacks the grading from one
graded function's cell, whose own work is left undone (a blank function, as in the student
release) unless the entry says otherwise. The expected outcome is what the honest work earns:
0 points for the attacking function, full points for the two others, and a named status.

``python -m qa.hostile`` builds a course, writes the submissions into a folder in
nbgrader's layout, grades them with :mod:`resnets_kit.classgrade` (the instructor's command),
and prints one row per submission: expected and received score, expected and received status,
and whether they agree; then the wall time. It also checks that the project's grading files are
byte-identical before and after. Exit status 0 when everything agrees, 1 otherwise.

Usage::

    python -m qa.hostile [--work DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from resnets_kit import REPO_ROOT, assignment
from resnets_kit.assignment import GRADED_FUNCTIONS
from resnets_kit.classgrade import cli as classgrade_cli
from resnets_kit.solution import def_line

#: Each graded function's ``def`` line as the notebook declares it (the exercise registry's).
SIGNATURES = {name: def_line(name) for name in GRADED_FUNCTIONS}


def blank(function: str) -> str:
    """The function as the student release has it: not written yet."""
    return f"{SIGNATURES[function]}\n    raise NotImplementedError()\n"


def body_first(function: str, code: str):
    """An edit of a reference answer cell: ``code`` (one or more lines) runs first in the body."""

    def edit(source: str) -> str:
        lines = source.split("\n")
        at = next(
            i for i, line in enumerate(lines) if line.startswith(SIGNATURES[function][:-1].split("(")[0])
        )
        # the body starts after the docstring: insert right after the signature line, indented
        body = ["    " + line for line in code.strip("\n").split("\n")]
        return "\n".join(lines[: at + 1] + body + lines[at + 1 :])

    return edit


@dataclass(frozen=True)
class Hostile:
    """One hostile submission.

    Attributes:
        name: its student id (letters, digits and dashes).
        attack: what it tries, in one line.
        function: the graded function whose cell carries the attack; it earns 0 points.
        cell: the new code of that function's cell, or an edit (a function of the reference
            cell's code) for attacks inside an otherwise correct function.
        status: the expected status in the grades CSV.
        other_cells: ``grade_id`` to the new source of another cell (a test or locked cell), an
            edit of its source, or None to delete the cell.
        needs_isolation: run only where the sandbox has its own namespaces (the attack would
            reach the grader's own processes otherwise).
        zero: whether ``function`` earns 0 points (False: its work is correct and must keep them).
        status_unisolated: the expected status where the sandbox has no namespaces (its writes
            then succeed, and the guard restores the files: ``tampered``), if it differs.
    """

    name: str
    attack: str
    function: str
    cell: object
    status: str = "graded"
    other_cells: dict = field(default_factory=dict)
    needs_isolation: bool = False
    zero: bool = True
    status_unisolated: str | None = None

    def expected_status(self, isolated: bool) -> str:
        """The expected status, with or without the sandbox's namespaces."""
        return self.status if isolated or self.status_unisolated is None else self.status_unisolated


ALWAYS_EQUAL = '''
class AlwaysEqual:
    """Equal to everything, with every attribute a test might read."""
    shape = (3, 4, 4, 3)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    def __iter__(self): return iter([])
    def __len__(self): return 0
    def __array__(self, *args, **kwargs):
        import numpy
        return numpy.zeros((3, 4, 4, 3), dtype="float32")

'''

#: forged-report's ResNet50: correct, but first appends a made-up "done" event for
#: identity_block (every case "built" as a one-layer model) to the sandbox's report.
FORGED = (
    "import json as _json\n"
    "_fake = {'class_name': 'Functional', 'module': 'keras.src.models.functional', 'config': "
    "{'layers': [], 'input_layers': [], 'output_layers': []}}\n"
    "with open('events.jsonl', 'a') as _fh:\n"
    "    _fh.write(_json.dumps({'done': 'identity_block', 'record': {'error': None, "
    "'signature': None, 'cases': {}}}) + '\\n')"
)


HOSTILE: tuple[Hostile, ...] = (
    Hostile(
        "always-equal",
        "returns an object whose __eq__ is always true (and that looks like any array)",
        "identity_block",
        ALWAYS_EQUAL + SIGNATURES["identity_block"] + "\n    return AlwaysEqual()\n",
    ),
    Hostile(
        "patched-numpy",
        "patches numpy.allclose, numpy.isclose and numpy.array_equal to always agree",
        "identity_block",
        "import numpy as np\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(b), dtype=bool)\n"
        "np.array_equal = lambda *a, **k: True\n\n" + blank("identity_block"),
    ),
    Hostile(
        "patched-testing",
        "patches numpy.testing's assertions to do nothing",
        "convolutional_block",
        "import numpy.testing\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n\n" + blank("convolutional_block"),
    ),
    Hostile(
        "patched-builtins",
        "patches builtins.abs, builtins.print and AssertionError",
        "identity_block",
        "import builtins\n"
        "builtins.abs = lambda x: 0\n"
        "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "builtins.print = lambda *a, **k: None\n\n" + blank("identity_block"),
    ),
    Hostile(
        "redefined-tests",
        "redefines the public and hidden test functions to print success",
        "identity_block",
        "import public_tests\n"
        "import resnets_kit.grader.hidden\n"
        "def _passed(*args, **kwargs):\n"
        "    print('identity_block_test: all 4 checks passed')\n"
        "public_tests.identity_block_test = _passed\n"
        "resnets_kit.grader.hidden.hidden_test = _passed\n"
        "identity_block_test = _passed\n"
        "hidden_test = _passed\n\n" + blank("identity_block"),
    ),
    Hostile(
        "edited-locked-cell",
        "replaces its test cells (locked) by a printed success line",
        "identity_block",
        blank("identity_block"),
        other_cells={
            "identity_block_shape": "print('identity_block_test: the check passed (signature; output shape).')",
            "identity_block_layers": "print('identity_block_test: the check passed.')",
        },
    ),
    Hostile(
        "deleted-test-cells",
        "deletes two of its test cells (they are added back and graded: its work is correct)",
        "convolutional_block",
        lambda source: source,
        other_cells={"convolutional_block_hidden": None, "convolutional_block_training": None},
        zero=False,
    ),
    Hostile(
        "fake-print",
        "prints the success lines of every test",
        "identity_block",
        "print('identity_block_test: all 4 checks passed')\n"
        "print('All tests passed!')\n\n" + blank("identity_block"),
    ),
    Hostile(
        "input-transformer",
        "registers an IPython input transformer that blanks every later cell",
        "identity_block",
        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n\n"
        + blank("identity_block"),
    ),
    Hostile(
        "sys-exit",
        "calls sys.exit() inside the function",
        "ResNet50",
        body_first("ResNet50", "import sys\nsys.exit(0)"),
    ),
    Hostile(
        "os-exit",
        "calls os._exit() inside the function, ending the process",
        "convolutional_block",
        body_first("convolutional_block", "import os\nos._exit(0)"),
        status="crashed",
    ),
    Hostile(
        "infinite-loop",
        "loops forever inside the function",
        "identity_block",
        body_first("identity_block", "while True:\n    pass"),
        status="timeout",
    ),
    Hostile(
        "memory-bomb",
        "allocates memory until something stops it",
        "identity_block",
        body_first("identity_block", "hog = []\nwhile True:\n    hog.append(bytearray(2**28))"),
        status="out_of_memory",
    ),
    Hostile(
        "huge-allocation",
        "asks for a terabyte at once",
        "convolutional_block",
        body_first("convolutional_block", "hog = bytearray(2**40)"),
        status="out_of_memory",
    ),
    Hostile(
        "output-flood",
        "prints without end when its cell runs",
        "identity_block",
        "while True:\n    print('All tests passed! ' * 1000)\n\n" + blank("identity_block"),
        status="timeout",
    ),
    Hostile(
        "file-flood",
        "writes a 1 GiB file inside the function (the write fails at the 64 MiB file-size limit)",
        "ResNet50",
        body_first("ResNet50", "with open('flood.bin', 'wb') as fh:\n    fh.write(b'0' * 2**30)"),
    ),
    Hostile(
        "gradebook-write",
        "sets every score in the course's gradebook to 100 with sqlite3",
        "identity_block",
        "import sqlite3\n"
        "try:\n"
        "    db = sqlite3.connect(GRADEBOOK)\n"
        "    db.execute('UPDATE grade SET auto_score = 100')\n"
        "    db.commit()\n"
        "except Exception:\n"
        "    pass\n\n" + blank("identity_block"),
        status_unisolated="tampered",
    ),
    Hostile(
        "overwrite-tests",
        "overwrites the project's test files with tests that always pass",
        "identity_block",
        "import public_tests, test_utils, resnets_kit.grader.hidden, resnets_kit.grader.checks\n"
        "for module in (public_tests, test_utils, resnets_kit.grader.hidden, resnets_kit.grader.checks):\n"
        "    try:\n"
        "        with open(module.__file__, 'a') as fh:\n"
        "            fh.write('\\nidentity_block_test = hidden_test = lambda *a, **k: None\\n')\n"
        "    except OSError:\n"
        "        pass\n\n" + blank("identity_block"),
        status_unisolated="tampered",
    ),
    Hostile(
        "hard-coded-outputs",
        "returns the public test's expected output, read from reference_outputs.json",
        "identity_block",
        "import json\n"
        "import public_tests\n"
        "_ref = json.loads(public_tests.REFERENCE_FILE.read_text())\n\n"
        + SIGNATURES["identity_block"]
        + "\n    return keras.ops.convert_to_tensor(np.array(_ref['identity_block']['cases'][0]['output']))\n",
    ),
    Hostile(
        "forged-report",
        "writes a made-up result for identity_block into the sandbox's report",
        "identity_block",
        blank("identity_block"),
        other_cells={"ResNet50": body_first("ResNet50", FORGED)},
    ),
    Hostile(
        "lingering-thread",
        "starts a thread that never ends and keeps rewriting the sandbox's report",
        "identity_block",
        "import threading\n\n"
        "def _forever():\n"
        "    while True:\n"
        "        with open('events.jsonl', 'a') as fh:\n"
        "            fh.write('not json\\n')\n\n"
        "threading.Thread(target=_forever).start()\n\n" + blank("identity_block"),
    ),
    Hostile(
        "misdirected-blame",
        "reports a made-up start of ResNet50 and a junk result for convolutional_block, then exits",
        "identity_block",
        "import json, os\n"
        "with open('events.jsonl', 'a') as fh:\n"
        "    fh.write(json.dumps({'start': 'convolutional_block', 'step': 'check'}) + '\\n')\n"
        "    fh.write(json.dumps({'done': 'convolutional_block', 'record': {'error': 'junk'}}) + '\\n')\n"
        "    fh.write(json.dumps({'start': 'ResNet50', 'step': 'check'}) + '\\n')\n"
        "os._exit(0)\n\n" + blank("identity_block"),
        status="crashed",
    ),
    Hostile(
        "kill-all",
        "sends SIGKILL to every process it can reach (kill -9 -1): in its PID namespace, none",
        "ResNet50",
        body_first("ResNet50", "import os, signal\nos.kill(-1, signal.SIGKILL)"),
        needs_isolation=True,
    ),
)


def make_notebook(hostile: Hostile, source_notebook: Path, gradebook: Path) -> nbformat.NotebookNode:
    """The submission's notebook, from the course's source notebook (the reference solution)."""
    nb = nbformat.read(source_notebook, as_version=4)
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == hostile.function:
            cell.source = hostile.cell(cell.source) if callable(hostile.cell) else hostile.cell
            cell.source = cell.source.replace("GRADEBOOK", repr(str(gradebook)))
        elif grade_id in hostile.other_cells:
            new = hostile.other_cells[grade_id]
            if new is None:
                continue
            cell.source = new(cell.source) if callable(new) else new
        cells.append(cell)
    nb.cells = cells
    return nb


def expected_scores(hostile: Hostile) -> dict[str, float]:
    """Points per graded function that the submission's honest work earns."""
    points = assignment.points()
    return {f: 0.0 if (f == hostile.function and hostile.zero) else points[f] for f in GRADED_FUNCTIONS}


def fingerprint() -> dict[str, str]:
    """sha256 of the project's grading files (modules, references, notebooks)."""
    package = REPO_ROOT / "resnets_kit"
    files = [
        *REPO_ROOT.glob("*.py"),
        *REPO_ROOT.glob("*.json"),
        *package.rglob("*.py"),
        *package.rglob("*.json"),
    ]
    files += [*(REPO_ROOT / "resnets_kit").glob("*.json"), *(REPO_ROOT / "notebooks").glob("*.ipynb")]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)}


def selected(only: list[str] | None = None) -> list[Hostile]:
    """The hostile submissions to run: all (or those named), those needing isolation only where
    the sandbox is isolated."""
    from resnets_kit.grader.isolation import isolation_available

    chosen = [h for h in HOSTILE if not only or h.name in only]
    if not isolation_available():
        chosen = [h for h in chosen if not h.needs_isolation]
    return chosen


def run(
    work: Path, only: list[str] | None = None, timeout: float = 300, step_timeout: float = 20
) -> tuple[list[dict], float, list[str]]:
    """Build a course, grade the hostile submissions with grade_class, compare with expectations.

    Args:
        work: an empty folder for the course, the submissions and the grades.
        only: names of the submissions to run (default: all).
        timeout: wall-time limit of one submission (grade_class's ``--timeout``), seconds.
        step_timeout: the sandbox's limit per graded function, seconds (the course default is 60).

    Returns:
        One row per submission (name, attack, expected/received score and status, ok), the wall
        time of grading the batch in seconds, and the project files that changed (none expected).
    """
    from resnets_kit import course

    before = fingerprint()
    root = course.fresh_course(work)
    with open(root / "nbgrader_config.py", "a") as fh:  # endless loops are cut sooner than by default
        fh.write(f"\nc.TrustedGrade.step_timeout = {step_timeout}\n")
    course.generate(root)
    source = root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    submissions = work / "submitted"
    chosen = selected(only)
    from resnets_kit.grader.isolation import isolation_available

    isolated = isolation_available()
    for hostile in chosen:
        folder = submissions / hostile.name / course.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make_notebook(hostile, source, root / "gradebook.db"), folder / course.NOTEBOOK_NAME)
    out = work / "grades.csv"
    start = time.monotonic()
    results = classgrade_cli.grade_class(submissions, root, out, work / "feedback", timeout=timeout)
    wall = time.monotonic() - start
    by_id = {r.student_id: r for r in results}
    rows = []
    for hostile in chosen:
        result = by_id[hostile.name]
        expected = expected_scores(hostile)
        received = {
            f: sum(p for g, p in result.scores.items() if assignment.exercise_of(g) == f)
            for f in GRADED_FUNCTIONS
        }
        status = hostile.expected_status(isolated)
        ok = result.status == status and all(abs(received[f] - expected[f]) < 1e-9 for f in GRADED_FUNCTIONS)
        rows.append(
            {
                "name": hostile.name,
                "attack": hostile.attack,
                "expected": sum(expected.values()),
                "received": sum(received.values()),
                "expected_status": status,
                "status": result.status,
                "detail": result.detail,
                "ok": ok,
            }
        )
    after = fingerprint()
    changed = sorted(p for p in before if before[p] != after.get(p))
    return rows, wall, changed


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 unless every submission got its expected score and status."""
    parser = argparse.ArgumentParser(prog="python -m qa.hostile", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--work", type=Path, help="folder for the course and submissions (default: temporary)"
    )
    parser.add_argument("--only", nargs="*", help="run only these submissions")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hostile_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows, wall, changed = run(work, args.only)
    print()
    print(
        "| submission | attack | expected score | received score | expected status | received status | agrees |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['name']} | {row['attack']} | {row['expected']:g} | {row['received']:g} | "
            f"{row['expected_status']} | {row['status']} | {'yes' if row['ok'] else 'NO'} |"
        )
    agree = sum(row["ok"] for row in rows)
    print(f"\n{agree}/{len(rows)} hostile submissions got exactly their expected score and status")
    print(f"grading the suite: {wall:.1f} s wall time ({wall / max(len(rows), 1):.1f} s per submission)")
    print("project files unchanged" if not changed else f"CHANGED project files: {changed}")
    return 0 if agree == len(rows) and not changed else 1


if __name__ == "__main__":
    sys.exit(main())
