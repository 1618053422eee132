"""Hidden tests: the graded functions on other test cases than the public tests.

The source notebook's hidden test cells (between nbgrader's ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``, removed from the student release) call :func:`hidden_test`. The cases
are declared in the exercise registry (:data:`resnets_kit.assignment.EXERCISES`); their expected
outputs are in ``hidden_references.json`` beside this module, written from the reference solution
by ``python -m resnets_kit.references`` (never by hand).

This module is part of the instructor's installation (the project); students receive only the
release folder, without it.
"""

from __future__ import annotations

import json
from pathlib import Path

from resnets_kit.assignment import exercise

HIDDEN_REFERENCE_FILE = Path(__file__).resolve().parent / "hidden_references.json"


def load_hidden_references(path: Path = HIDDEN_REFERENCE_FILE) -> dict:
    """Read the hidden tests' reference outputs.

    Raises:
        FileNotFoundError: the file is missing; it is written by ``python -m resnets_kit.references``.
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `python -m resnets_kit.references`.")
    return json.loads(path.read_text())


def hidden_test(name: str, target) -> None:
    """Run the hidden test of one graded function: all its checks on the hidden cases.

    Args:
        name: ``"identity_block"``, ``"convolutional_block"`` or ``"ResNet50"``.
        target: the student's function.

    Raises:
        test_utils.PublicTestFailure: at the first failed check, naming the hidden case.
        KeyError: ``name`` is not a graded function.
    """
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
    graded = exercise(name)  # KeyError for a name that is not graded
    references = load_hidden_references()
    cases = graded.hidden_cases()
    if graded.network:
        graded.test()(target, references=references, config=cases[0], label=" (hidden case)")
    else:
        graded.test()(target, references=references, cases=cases, label=" (hidden cases)")
