"""Hidden tests: the graded functions on other test cases than the public tests.

The source notebook's hidden test cells (between nbgrader's ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``, removed from the student release) call :func:`hidden_test`. The cases
differ from the public ones in every respect a hard-coded or coincidental solution could rely on:
other kernel sizes f, filters with F1, F2 and F3 all different, other strides, non-square inputs
of other sizes, and for ResNet50 another input shape and number of classes. Their expected
outputs are in ``hidden_references.json`` beside this module, written from the reference solution
by ``python -m resnets_kit.references`` (never by hand).

This module is part of the instructor's installation (the project); students receive only the
release folder, without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import public_tests
from public_tests import block_case

HIDDEN_REFERENCE_FILE = Path(__file__).resolve().parent / "hidden_references.json"

HIDDEN_IDENTITY_CASES = [
    block_case(3, [3, 5, 2], training=False, shape=(2, 5, 6, 2)),
    block_case(4, [6, 4, 2], training=True, shape=(2, 7, 7, 2)),
    block_case(1, [2, 7, 4], training=True, initializer=0.05, shape=(3, 3, 5, 4)),
]

HIDDEN_CONVOLUTIONAL_CASES = [
    block_case(3, [4, 2, 5], training=False, s=3, shape=(2, 7, 7, 3)),
    block_case(4, [3, 6, 7], training=True, s=1, shape=(2, 5, 6, 2)),
    block_case(2, [5, 3, 4], training=True, initializer=0.05, s=2, shape=(2, 9, 5, 3)),
]

#: ResNet50 built for 96x96 images and 10 classes (stages end at 23, 12, 6, 3; then 1x1x2048).
HIDDEN_RESNET50_CASE = {"input_shape": [96, 96, 3], "classes": 10}


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
        ValueError: ``name`` is not a graded function.
    """
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
    references = load_hidden_references()
    if name == "identity_block":
        public_tests.identity_block_test(
            target, references=references, cases=HIDDEN_IDENTITY_CASES, label=" (hidden cases)"
        )
    elif name == "convolutional_block":
        public_tests.convolutional_block_test(
            target, references=references, cases=HIDDEN_CONVOLUTIONAL_CASES, label=" (hidden cases)"
        )
    elif name == "ResNet50":
        public_tests.ResNet50_test(
            target, references=references, config=HIDDEN_RESNET50_CASE, label=" (hidden case)"
        )
    else:
        raise ValueError(
            f"no hidden test for {name!r}; choose identity_block, convolutional_block or ResNet50"
        )
