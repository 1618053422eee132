"""The public tests pass on the reference solution and fail, with the intended message, on
deliberate mistakes built from it (each a small edit of the solution's code in the notebook)."""

from __future__ import annotations

import pytest

import public_tests
from resnets_kit.solution import load_solution
from test_utils import PublicTestFailure

TESTS = {
    "identity_block": public_tests.identity_block_test,
    "convolutional_block": public_tests.convolutional_block_test,
    "ResNet50": public_tests.ResNet50_test,
}

ID_RELU_TAIL = "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)"
ID_CONV2 = "X = Conv2D(filters=F2, kernel_size=f, strides=(1, 1), padding='same', kernel_initializer=initializer(seed=0))(X)"
CB_CONV1 = "strides=(s, s), padding='valid', kernel_initializer=initializer(seed=0))(X)\n"

# name: (function, [(old, new), ...], [texts the failure message must contain])
MISTAKES = {
    "final ReLU missing": (
        "identity_block",
        [(ID_RELU_TAIL, "    X = Add()([X, X_shortcut])")],
        [
            "'layers'",
            "final ReLU after the Add",
            "expected: 3 Activation layers",
            "received: 2 Activation layers",
        ],
    ),
    "ReLU before the Add": (
        "identity_block",
        [
            (
                "    X = BatchNormalization(axis=3)(X, training=training)\n\n    ## Final step: add the shortcut to "
                "the main path, then ReLU\n" + ID_RELU_TAIL,
                "    X = BatchNormalization(axis=3)(X, training=training)\n    X = Activation('relu')(X)\n"
                "    X = Add()([X, X_shortcut])",
            )
        ],
        ["'order of the layers'", "layer 9 (Add (main path + shortcut))", "no ReLU in between"],
    ),
    "BatchNorm called without training=training": (
        "identity_block",
        [
            (
                "    X = BatchNormalization(axis=3)(X, training=training)\n    X = Activation('relu')(X)\n\n"
                "    ## Third",
                "    X = BatchNormalization(axis=3)(X)\n    X = Activation('relu')(X)\n\n    ## Third",
            )
        ],
        ["'layer settings: training'", "main path component 2: BatchNorm", "received: training='not passed'"],
    ),
    "BatchNorm on the wrong axis": (
        "identity_block",
        [
            (
                "    X = BatchNormalization(axis=3)(X, training=training)\n\n    ## Final",
                "    X = BatchNormalization(axis=1)(X, training=training)\n\n    ## Final",
            )
        ],
        ["'layer settings: axis'", "main path component 3: BatchNorm", "channels axis"],
    ),
    "shortcut without BatchNorm": (
        "convolutional_block",
        [("    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n", "")],
        ["'layers'", "expected: 4 BatchNormalization layers", "received: 3", "the shortcut's too"],
    ),
    "stride on the 3x3 convolution": (
        "convolutional_block",
        [
            (CB_CONV1, CB_CONV1.replace("(s, s)", "(1, 1)")),
            ("filters=F2, kernel_size=f, strides=(1, 1)", "filters=F2, kernel_size=f, strides=(s, s)"),
        ],
        [
            "'layer settings: strides'",
            "main path component 1",
            "expected: strides=[2, 2]",
            "first 1x1 convolution",
        ],
    ),
    "shortcut with F1 filters": (
        "convolutional_block",
        [("X_shortcut = Conv2D(filters=F3,", "X_shortcut = Conv2D(filters=F1,")],
        ["incompatible shapes", "F3 filters"],
    ),
    "shortcut added from the main-path tensor": (
        "identity_block",
        [("Add()([X, X_shortcut])", "Add()([X, X])")],
        [
            "'layer settings: inputs'",
            "Add (main path + shortcut)",
            "expected: inputs=[8, 0]",
            "Add()([X, X_shortcut])",
        ],
    ),
    "convolutional block shortcut taken after the main path": (
        "convolutional_block",
        [
            (
                "padding='valid', kernel_initializer=initializer(seed=0))(X_shortcut)",
                "padding='valid', kernel_initializer=initializer(seed=0))(X)",
            )
        ],
        ["'order of the layers'", "shortcut: CONV2D 1x1", "takes the block's input (X_shortcut"],
    ),
    "hard-coded kernel size": (
        "identity_block",
        [(ID_CONV2, ID_CONV2.replace("kernel_size=f", "kernel_size=3"))],
        ["'layer settings: kernel_size'", "main path component 2", "kernel_size=(f, f)"],
    ),
    "initializer passed uncalled": (
        "identity_block",
        [(ID_CONV2, ID_CONV2.replace("initializer(seed=0)", "initializer"))],
        [
            "'layer settings: initializer'",
            "expected: initializer='RandomUniform(seed=0)'",
            "initializer(seed=0)",
        ],
    ),
    "F1 and F2 swapped": (
        "identity_block",
        [(ID_CONV2, ID_CONV2.replace("filters=F2", "filters=F1"))],
        ["'layer settings: filters'", "are F2 and F1 swapped?"],
    ),
    "middle convolution with padding 'valid'": (
        "identity_block",
        [(ID_CONV2, ID_CONV2.replace("'same'", "'valid'"))],
        ["incompatible shapes", "padding='same'"],
    ),
    "kernel size hard-coded to the first case's f": (
        "identity_block",
        [(ID_CONV2, ID_CONV2.replace("kernel_size=f", "kernel_size=2"))],
        ["'layer settings: kernel_size'", "for the case f=3", "kernel_size=(f, f)"],
    ),
    "initializer hard-coded": (
        "identity_block",
        [(ID_CONV2, ID_CONV2.replace("initializer(seed=0)", "random_uniform(seed=0)"))],
        ["'layer settings: initializer'", "constant initializer", "call the initializer given as argument"],
    ),
    "an extra ReLU before the Add": (
        "identity_block",
        [
            (
                "    X = Add()([X, X_shortcut])\n",
                "    X = Activation('relu')(X)\n    X = Add()([X, X_shortcut])\n",
            )
        ],
        ["'layers'", "layer 9: Activation", "one activation too many"],
    ),
    "BatchNorm with another momentum": (
        "convolutional_block",
        [
            (
                "    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)",
                "    X_shortcut = BatchNormalization(axis=3, momentum=0.9)(X_shortcut, training=training)",
            )
        ],
        ["'layer settings: momentum'", "shortcut: BatchNorm", "default momentum"],
    ),
    "blocks called with training=False in ResNet50": (
        "ResNet50",
        [
            (
                "    X = identity_block(X, 3, [128, 128, 512])\n",
                "    X = identity_block(X, 3, [128, 128, 512], training=False)\n",
            )
        ],
        ["'layer settings: training'", "stage 3, identity block", "default training argument"],
    ),
    "identity block where stage 4 needs a convolutional block": (
        "ResNet50",
        [
            (
                "convolutional_block(X, f=3, filters=[256, 256, 1024], s=2)",
                "identity_block(X, 3, [256, 256, 1024])",
            )
        ],
        ["incompatible shapes", "each stage starts with a convolutional block"],
    ),
    "MaxPooling in place of AveragePooling": (
        "ResNet50",
        [("    X = AveragePooling2D((2, 2))(X)\n", "    X = MaxPooling2D((2, 2))(X)\n")],
        ["MaxPooling2D layers", "after stage 5 comes AveragePooling2D"],
    ),
    "GlobalAveragePooling in place of AveragePooling + Flatten": (
        "ResNet50",
        [
            ("    X = AveragePooling2D((2, 2))(X)\n", "    X = keras.layers.GlobalAveragePooling2D()(X)\n"),
            ("    X = Flatten()(X)\n", ""),
        ],
        ["GlobalAveragePooling2D layers", "not GlobalAveragePooling2D"],
    ),
    "identity blocks missing in stage 4": (
        "ResNet50",
        [("    X = identity_block(X, 3, [256, 256, 1024])\n", "")],
        ["'number of blocks per stage'", "(None, 4, 4, 1024)", "6 residual blocks", "received: 1 blocks"],
    ),
    "stage 5 with stride 1": (
        "ResNet50",
        [("filters=[512, 512, 2048], s=2", "filters=[512, 512, 2048], s=1")],
        ["'layer settings: strides'", "stage 5, convolutional block"],
    ),
    "stage 2 with stride 2": (
        "ResNet50",
        [("filters=[64, 64, 256], s=1", "filters=[64, 64, 256], s=2")],
        ["zero or negative", "stage 2's convolutional block uses s=1"],
    ),
}


@pytest.mark.parametrize("name", list(TESTS))
def test_public_test_passes_on_the_reference_solution(solution, name, capsys):
    TESTS[name](solution[name])
    captured = capsys.readouterr()
    assert f"{name}_test: all" in captured.out and "checks passed" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_public_test_names_the_mistake(mistake, solution):
    function, edits, must_contain = MISTAKES[mistake]
    namespace = load_solution(replace={function: edits})
    if function == "ResNet50":  # the blocks come from the reference solution
        namespace["identity_block"] = solution["identity_block"]
        namespace["convolutional_block"] = solution["convolutional_block"]
    with pytest.raises(PublicTestFailure) as caught:
        TESTS[function](namespace[function])
    message = str(caught.value)
    assert message.startswith(f"{function}: the check ")
    for text in must_contain:
        assert text in message, f"{text!r} not in the message:\n{message}"
    assert "expected:" in message and "received:" in message and "hint:" in message


def test_unwritten_function_gets_the_not_implemented_hint():
    import keras

    def identity_block(X, f, filters, training=True, initializer=keras.initializers.random_uniform):
        raise NotImplementedError()

    with pytest.raises(PublicTestFailure, match="not written yet"):
        public_tests.identity_block_test(identity_block)


def test_changed_signature_is_reported():
    import keras

    def convolutional_block(X, f, filters, s=2, initializer=keras.initializers.glorot_uniform):
        return X

    with pytest.raises(PublicTestFailure, match="'signature'.*\n.*a parameter named `training`"):
        public_tests.convolutional_block_test(convolutional_block)


def test_model_that_is_not_a_keras_model_is_reported():
    with pytest.raises(PublicTestFailure, match="returns a model"):
        public_tests.ResNet50_test(lambda input_shape=(64, 64, 3), classes=6: None)


# Equivalent spellings of the reference solution must pass: the tests check the network, not the text.
EQUIVALENT = {
    "ReLU layer, axis=-1, tuple kernel size": (
        "identity_block",
        [
            (
                "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)",
                "    X = Add()([X, X_shortcut])\n    X = keras.layers.ReLU()(X)",
            ),
            (
                "X = BatchNormalization(axis=3)(X, training=training)\n\n    ## Final",
                "X = BatchNormalization(axis=-1)(X, training=training)\n\n    ## Final",
            ),
            (ID_CONV2, ID_CONV2.replace("kernel_size=f", "kernel_size=(f, f)")),
        ],
    ),
    "shortcut built before the main path": (
        "convolutional_block",
        [
            (
                "    X_shortcut = X\n",
                "    X_shortcut = BatchNormalization(axis=3)(Conv2D(filters=F3, kernel_size=1, strides=(s, s), padding='valid', kernel_initializer=initializer(seed=0))(X), training=training)\n",
            ),
            (
                "    X_shortcut = Conv2D(filters=F3, kernel_size=1, strides=(s, s), padding='valid', kernel_initializer=initializer(seed=0))(X_shortcut)\n",
                "",
            ),
            ("    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n", ""),
        ],
    ),
    "keras operations for the Add and the ReLU": (
        "identity_block",
        [
            (
                "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)",
                "    X = keras.ops.relu(X + X_shortcut)",
            )
        ],
    ),
    "keras.ops.add in the convolutional block": (
        "convolutional_block",
        [("    X = Add()([X, X_shortcut])\n", "    X = keras.ops.add(X, X_shortcut)\n")],
    ),
    "stages written as loops": (
        "ResNet50",
        [
            (
                "    X = identity_block(X, 3, [256, 256, 1024])\n" * 5,
                "    for _ in range(5):\n        X = identity_block(X, 3, [256, 256, 1024])\n",
            )
        ],
    ),
}


@pytest.mark.parametrize("variant", list(EQUIVALENT))
def test_equivalent_solution_passes(variant, solution, capsys):
    function, edits = EQUIVALENT[variant]
    namespace = load_solution(replace={function: edits})
    if function == "ResNet50":
        namespace["identity_block"] = solution["identity_block"]
        namespace["convolutional_block"] = solution["convolutional_block"]
    TESTS[function](namespace[function])
    assert "checks passed" in capsys.readouterr().out


def test_resnet50_with_keras_operations_in_the_blocks_passes(solution, capsys):
    edits = [
        (
            "    X = Add()([X, X_shortcut])\n    X = Activation('relu')(X)",
            "    X = keras.ops.relu(X + X_shortcut)",
        )
    ]
    namespace = load_solution(replace={"identity_block": edits, "convolutional_block": edits})
    public_tests.ResNet50_test(namespace["ResNet50"])
    assert "checks passed" in capsys.readouterr().out


def test_changed_default_initializer_is_reported():
    import keras

    def identity_block(X, f, filters, training=True, initializer=keras.initializers.glorot_uniform):
        return X

    with pytest.raises(PublicTestFailure, match="'signature' failed at the default of `initializer`"):
        public_tests.identity_block_test(identity_block)


@pytest.mark.parametrize("name", list(TESTS))
def test_hidden_tests_pass_on_the_reference_solution(solution, name, capsys):
    from resnets_kit.grading import hidden_test

    hidden_test(name, solution[name])
    assert "(hidden case" in capsys.readouterr().out


def test_hidden_tests_catch_a_solution_fitted_to_the_public_cases(solution):
    """A block that hard-codes the public test's kernel size passes the public tests of that
    case but not the hidden ones."""
    from resnets_kit.grading import hidden_test

    edits = [(ID_CONV2, ID_CONV2.replace("kernel_size=f", "kernel_size=2"))]
    namespace = load_solution(replace={"identity_block": edits})
    public_tests.identity_block_test(namespace["identity_block"], checks=["shape", "inference"])
    with pytest.raises(PublicTestFailure, match="kernel_size"):
        hidden_test("identity_block", namespace["identity_block"])


def test_checks_can_be_run_one_by_one(solution, capsys):
    public_tests.identity_block_test(solution["identity_block"], checks="training")
    out = capsys.readouterr().out
    assert "identity_block_test: all 2 checks passed (values for" in out and "training=False" not in out
    with pytest.raises(ValueError, match="unknown checks"):
        public_tests.identity_block_test(solution["identity_block"], checks="speed")


def test_public_test_keeps_stderr_clean(solution, capsys):
    import warnings

    def noisy(X, f, filters, training=True, initializer=public_tests.keras.initializers.random_uniform):
        warnings.warn("a warning from the student's code", stacklevel=1)
        return solution["identity_block"](X, f, filters, training=training, initializer=initializer)

    public_tests.identity_block_test(noisy, checks="shape")
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "a warning from the student's code" in captured.out
