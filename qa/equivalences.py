"""A catalogue of equivalent answers: rewritings of the reference solution that compute the same
function, each of which must get full marks.

The grader grades behaviour, not spelling. Each :class:`Equivalent` is a small edit of the
reference solution (the graded cell of the source notebook, edited as text like the mistakes of
:mod:`qa.mistakes`) that students really write and that computes exactly the function of
the reference on every graded case: the operands of the Add in the other order, padding 'same'
where it adds no pixel, ``ReLU()`` for ``Activation('relu')``, the shortcut built before the main
path, a stage written as a loop, positional arguments, and so on. The public test of the function
must pass, the hidden test must pass, and the autograder (the sandbox records and the checks on
rebuilt models of :mod:`resnets_kit.grader`) must give all three functions full marks.

A rewriting that computes the same function on some inputs only (``AveragePooling2D((2, 2),
padding='same')`` is the reference on the 2 x 2 map of a 64 x 64 image but not on the 3 x 3 map
of the hidden 96 x 96 case) declares the grade cells that may show the difference in
``differs_in`` and the texts their message must contain in ``expect``: those cells, and only
those, lose points, with a message that names the layer and the setting.

``python -m qa.mutation_score`` prints this catalogue's table after the mistakes';
``tests/test_equivalences.py`` requires every entry to pass.
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass

from qa.mistakes import (
    CB_CONV1,
    CB_SHORTCUT,
    CONV3,
    ID_CONV2,
    _reference,
    _release_models,
    _tests,
    cell_points,
    namespace,
)


@dataclass(frozen=True)
class Equivalent:
    """One rewriting of the reference solution that computes the same function.

    Attributes:
        name: a short name, unique in the catalogue.
        function: the graded function whose cell is edited (``"identity_block"``,
            ``"convolutional_block"`` or ``"ResNet50"``).
        edits: ``((old, new), ...)``, text replacements of that cell, applied in order.
        origin: where students write it this way: a public URL or a short note.
        differs_in: ``grade_id`` of the grade cells whose cases show a difference (empty: none
            does, and every cell must pass).
        expect: texts that the failure message of each cell of ``differs_in`` must contain.
    """

    name: str
    function: str
    edits: tuple[tuple[str, str], ...]
    origin: str
    differs_in: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()


_INIT = "kernel_initializer=initializer(seed=0)"
_ADD = "X = Add()([X, X_shortcut])"
_RELU = "X = Activation('relu')(X)"
_COURSE = "classic course (Coursera DLS C4W2 'Residual Networks')"
_ID_CONV1 = f"X = Conv2D(filters=F1, kernel_size=1, strides=(1, 1), padding='valid', {_INIT})(X)"
_CB_MAIN_START = "    # First component of the main path (given): the stride s is here\n"
_CB_SHORTCUT_LINES = (
    "    ## Shortcut path: CONV2D 1x1 with stride s and F3 filters, then BatchNorm (no ReLU)\n"
    f"    {CB_SHORTCUT}\n"
    "    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n"
)
_STAGE4 = "    X = identity_block(X, 3, [256, 256, 1024])\n"
_AVG = "X = AveragePooling2D((2, 2))(X)"

CATALOGUE: tuple[Equivalent, ...] = (
    # ----------------------------------------------------------------------------- identity_block
    Equivalent(
        "Add with the shortcut first",
        "identity_block",
        ((_ADD, "X = Add()([X_shortcut, X])"),),
        f"{_COURSE}: about half of the published solutions add [X_shortcut, X]",
    ),
    Equivalent(
        "keras.layers.add function",
        "identity_block",
        ((_ADD, "X = keras.layers.add([X, X_shortcut])"),),
        "the functional form of the Add layer (Keras documentation, keras.layers.add)",
    ),
    Equivalent(
        "the + operator",
        "identity_block",
        ((_ADD, "X = X + X_shortcut"),),
        "Keras 3 tensors support +; common in PyTorch-first code",
    ),
    Equivalent(
        "the + operator, shortcut first",
        "identity_block",
        ((_ADD, "X = X_shortcut + X"),),
        "the sum written as in the paper, F(x) + x reversed: x + F(x)",
    ),
    Equivalent(
        "keras.ops.add",
        "identity_block",
        ((_ADD, "X = keras.ops.add(X_shortcut, X)"),),
        "Keras 3 operations (keras.ops) used on Keras tensors",
    ),
    Equivalent(
        "ReLU layer",
        "identity_block",
        ((f"{_ADD}\n    {_RELU}", f"{_ADD}\n    X = keras.layers.ReLU()(X)"),),
        "keras.layers.ReLU, as keras.applications writes some of its networks",
    ),
    Equivalent(
        "keras.ops.relu",
        "identity_block",
        ((f"{_ADD}\n    {_RELU}", f"{_ADD}\n    X = keras.ops.relu(X)"),),
        "Keras 3 operations (keras.ops) used on Keras tensors",
    ),
    Equivalent(
        "Activation with the relu function",
        "identity_block",
        ((f"{_ADD}\n    {_RELU}", f"{_ADD}\n    X = Activation(keras.activations.relu)(X)"),),
        "the activation function object instead of its name",
    ),
    Equivalent(
        "1x1 convolution with padding 'same'",
        "identity_block",
        ((CONV3, CONV3.replace("'valid'", "'same'")),),
        f"{_COURSE}: 'same' copied from the middle convolution; a 1x1 window with stride 1 adds no pixel",
    ),
    Equivalent(
        "strides=1 and a tuple kernel size",
        "identity_block",
        ((ID_CONV2, ID_CONV2.replace("kernel_size=f, strides=(1, 1)", "kernel_size=(f, f), strides=1")),),
        "integer and tuple forms of the same setting",
    ),
    Equivalent(
        "positional arguments",
        "identity_block",
        (
            (
                ID_CONV2,
                "X = Conv2D(F2, (f, f), (1, 1), 'same', kernel_initializer=initializer(seed=0))(X)",
            ),
        ),
        "keras.applications' resnet.py writes Conv2D(filters, kernel_size, ...)",
    ),
    Equivalent(
        "BatchNorm on axis -1",
        "identity_block",
        (
            (
                f"{CONV3}\n    X = BatchNormalization(axis=3)(X, training=training)",
                f"{CONV3}\n    X = BatchNormalization(axis=-1)(X, training=training)",
            ),
        ),
        "axis=-1 is the channels axis of channels_last data, Keras's default",
    ),
    Equivalent(
        "a later BatchNorm without training=training",
        "identity_block",
        (
            (
                f"{CONV3}\n    X = BatchNormalization(axis=3)(X, training=training)",
                f"{CONV3}\n    X = BatchNormalization(axis=3)(X)",
            ),
        ),
        f"{_COURSE}: a forgotten argument; in Keras 3 the BatchNorm runs in the mode of the one before it",
    ),
    Equivalent(
        "a ReLU applied twice",
        "identity_block",
        ((f"{_ADD}\n    {_RELU}", f"{_ADD}\n    {_RELU}\n    {_RELU}"),),
        "a line pasted twice; ReLU(ReLU(x)) = ReLU(x)",
    ),
    Equivalent(
        "the activation given by keyword",
        "identity_block",
        ((f"{_ADD}\n    {_RELU}", f"{_ADD}\n    X = Activation(activation='relu')(X)"),),
        "keyword and positional forms of the same argument",
    ),
    # ------------------------------------------------------------------------ convolutional_block
    Equivalent(
        "shortcut built before the main path",
        "convolutional_block",
        (
            (_CB_SHORTCUT_LINES, ""),
            (_CB_MAIN_START, _CB_SHORTCUT_LINES + "\n" + _CB_MAIN_START),
        ),
        f"{_COURSE}: solutions that compute the shortcut first (the order of the paper's Figure 2)",
    ),
    Equivalent(
        "Add with the shortcut first (convolutional block)",
        "convolutional_block",
        ((_ADD, "X = Add()([X_shortcut, X])"),),
        f"{_COURSE}: about half of the published solutions add [X_shortcut, X]",
    ),
    Equivalent(
        "1x1 convolutions with padding 'same' and stride s",
        "convolutional_block",
        (
            (CB_SHORTCUT, CB_SHORTCUT.replace("'valid'", "'same'")),
            (CB_CONV1, CB_CONV1.replace("'valid'", "'same'")),
            (CONV3, CONV3.replace("'valid'", "'same'")),
        ),
        "'same' everywhere: a 1x1 window never reaches past the input, whatever the stride",
    ),
    Equivalent(
        "integer strides",
        "convolutional_block",
        ((CB_SHORTCUT, CB_SHORTCUT.replace("strides=(s, s)", "strides=s")),),
        "integer and tuple forms of the same setting",
    ),
    Equivalent(
        "sum and ReLU layer, shortcut first",
        "convolutional_block",
        ((f"{_ADD}\n    {_RELU}", "X = keras.layers.ReLU()(X_shortcut + X)"),),
        "the sum and the activation on one line",
    ),
    # ----------------------------------------------------------------------------------- ResNet50
    Equivalent(
        "identity blocks of a stage in a loop",
        "ResNet50",
        ((_STAGE4 * 5, "    for _ in range(5):\n    " + _STAGE4),),
        "a stage written as a loop over its identity blocks",
    ),
    Equivalent(
        "blocks called with keyword arguments",
        "ResNet50",
        (
            (
                "X = convolutional_block(X, f=3, filters=[128, 128, 512], s=2)",
                "X = convolutional_block(X, 3, [128, 128, 512], 2, True)",
            ),
            (
                "X = identity_block(X, 3, [512, 512, 2048])",
                "X = identity_block(X=X, f=3, filters=[512, 512, 2048], training=True)",
            ),
        ),
        "positional and keyword forms of the blocks' arguments, defaults written out",
    ),
    Equivalent(
        "pool size as an integer, strides written out",
        "ResNet50",
        ((_AVG, "X = AveragePooling2D(pool_size=2, strides=2, padding='valid')(X)"),),
        "integer and tuple forms; the default strides and padding written out",
    ),
    Equivalent(
        "stem BatchNorm on axis -1 and a ReLU layer",
        "ResNet50",
        (
            (
                "X = BatchNormalization(axis=3)(X)\n    X = Activation('relu')(X)",
                "X = BatchNormalization(axis=-1)(X)\n    X = keras.layers.ReLU()(X)",
            ),
        ),
        "the stem written in keras.applications' style",
    ),
    Equivalent(
        "average pooling with padding 'same'",
        "ResNet50",
        ((_AVG, "X = AveragePooling2D((2, 2), padding='same')(X)"),),
        f"{_COURSE}: 'same' adds no pixel on the 2 x 2 map of a 64 x 64 image, but adds one on "
        "the 3 x 3 map of a 96 x 96 image",
        differs_in=("ResNet50_hidden",),
        expect=("'layer settings: padding'", "AveragePooling2D", "3 x 3", "padding='valid'"),
    ),
)

_BY_NAME = {e.name: e for e in CATALOGUE}


def get(name: str) -> Equivalent:
    """The entry of the catalogue with this name.

    Raises:
        KeyError: no entry has this name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no equivalent answer named {name!r} in the catalogue") from None


@functools.cache
def test_messages(entry: Equivalent) -> dict[str, str]:
    """Run the public test and the hidden test of the edited function, as the notebook does.

    Returns:
        ``{"public": output, "hidden": output}``: each test's printed output when it passed, or
        ``"FAILED: "`` and its failure message.
    """
    from resnets_kit.grader.hidden import hidden_test

    target = namespace(entry)[entry.function]
    public = _tests()[entry.function]
    results = {}
    try:
        for kind, run in (
            ("public", lambda: public(target)),
            ("hidden", lambda: hidden_test(entry.function, target)),
        ):
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    run()
                results[kind] = out.getvalue()
            except AssertionError as err:
                results[kind] = f"FAILED: {err}"
    finally:
        if entry.function == "ResNet50":
            _release_models()
    return results


@functools.cache
def graded_cells(entry: Equivalent) -> dict[str, tuple[bool, str]]:
    """The autograder's result for each grade cell of the edited function: ``grade_id`` to
    ``(passed, text)``, through the autograder's path (the sandbox's records made in this process
    by :func:`resnets_kit.grader.sandbox.check_function`, then the checks on rebuilt models)."""
    from resnets_kit.grader.checks import check_records
    from resnets_kit.grader.plan import grading_plan
    from resnets_kit.grader.sandbox import check_function

    plan = grading_plan()
    cells = {g: c for g, c in plan.items() if c.function == entry.function}
    try:
        record = check_function(entry.function, namespace(entry), _reference(), None)
        outcomes = check_records({entry.function: record}, cells)
    finally:
        _release_models()
    return {g: (o.passed, o.text) for g, o in outcomes.items()}


def verdict(entry: Equivalent) -> str:
    """``""`` when the entry is graded as it deserves, else the reason.

    Every grade cell of the edited function must pass in the autograder except those of
    ``differs_in``, which must fail with every text of ``expect``; the public test must pass
    unless a public cell is in ``differs_in``; the hidden test likewise.
    """
    points = cell_points()
    problems = []
    for grade_id, (passed, text) in graded_cells(entry).items():
        if grade_id in entry.differs_in:
            if passed:
                problems.append(f"{grade_id} passes, but its case shows a difference")
            missing = [t for t in entry.expect if t not in text]
            if not passed and missing:
                problems.append(f"{grade_id}'s message lacks " + ", ".join(repr(t) for t in missing))
        elif not passed:
            problems.append(
                f"the autograder takes {points[grade_id]:g} points in {grade_id}: {text.splitlines()[0]}"
            )
    messages = test_messages(entry)
    hidden_differs = any(g.endswith("_hidden") for g in entry.differs_in)
    public_differs = any(not g.endswith("_hidden") for g in entry.differs_in)
    for kind, differs in (("public", public_differs), ("hidden", hidden_differs)):
        failed = messages[kind].startswith("FAILED")
        if failed and not differs:
            problems.append(f"the {kind} test fails: {messages[kind].splitlines()[0]}")
        if differs and not failed:
            problems.append(f"the {kind} test passes, but its case shows a difference")
    return "; ".join(problems)


def graded_points(entry: Equivalent) -> tuple[float, float]:
    """``(points, full)`` the autograder gives the edited function."""
    points = cell_points()
    cells = graded_cells(entry)
    return sum(points[g] for g, (passed, _) in cells.items() if passed), sum(points[g] for g in cells)
