"""The public tests pass on the reference solution and on equivalent spellings of it, and fail,
with a message that explains the check, on the catalogue of deliberate mistakes built from it
(qa/mistakes.py: each a small edit of the solution's code in the notebook)."""

from __future__ import annotations

import pytest

import public_tests
from qa import mistakes
from qa.mistakes import ID_CONV2
from resnets_kit.solution import load_solution
from test_utils import PublicTestFailure

TESTS = {
    "identity_block": public_tests.identity_block_test,
    "convolutional_block": public_tests.convolutional_block_test,
    "ResNet50": public_tests.ResNet50_test,
}


@pytest.mark.parametrize("name", list(TESTS))
def test_public_test_passes_on_the_reference_solution(solution, name, capsys):
    TESTS[name](solution[name])
    captured = capsys.readouterr()
    assert f"{name}_test: all" in captured.out and "checks passed" in captured.out
    assert captured.err == ""


PUBLIC_MISTAKES = [m for m in mistakes.CATALOGUE if m.caught_by == "public"]


@pytest.mark.parametrize("mistake", PUBLIC_MISTAKES, ids=lambda m: m.name)
def test_public_test_names_the_mistake(mistake):
    """Each mistake of the catalogue (qa/mistakes.py) that the public tests can see fails
    the public test of its function with a message in the format of test_utils.failure: the
    function, the check, expected, received and a hint (tests/test_mistakes.py checks the texts
    that name each mistake)."""
    result = mistakes.first_failure(mistake)
    assert result is not None and result[0] == "public", f"{mistake.name}: {result}"
    message = result[1]
    assert message.startswith(f"{mistake.function}: the check ")
    assert "\n    expected: " in message and "\n    received: " in message and "\n    hint: " in message


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
    from resnets_kit.grader.hidden import hidden_test

    hidden_test(name, solution[name])
    assert "(hidden case" in capsys.readouterr().out


def test_hidden_tests_catch_a_solution_fitted_to_the_public_cases(solution):
    """A block that hard-codes the public test's kernel size passes the public tests of that
    case but not the hidden ones."""
    from resnets_kit.grader.hidden import hidden_test

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


def test_block_values_are_computed_in_full_float32_and_the_setting_is_restored():
    """On a GPU, TensorFloat-32 would move the values by about 1e-3 (ten times the tolerance):
    the checks turn it off while they compute, and leave the student's setting as it was."""
    tf = public_tests.tf
    seen = []

    def model(x):
        seen.append(tf.config.experimental.tensor_float_32_execution_enabled())
        return x

    for before in (True, False):
        tf.config.experimental.enable_tensor_float_32_execution(before)
        public_tests.block_output(model, public_tests.IDENTITY_CASES[0])
        assert tf.config.experimental.tensor_float_32_execution_enabled() is before
    assert seen == [False, False]
    tf.config.experimental.enable_tensor_float_32_execution(True)  # TensorFlow's default


# ---------------------------------------------------------------------------------------------
# One story: a mistake is reported at the function that has it
# ---------------------------------------------------------------------------------------------


def test_resnet50_names_the_block_that_fails_its_own_checks_in_one_line():
    """With the shortcut's Add missing from identity_block, the notebook's ResNet50 (right, but
    built with that block) fails with one line naming the block, not with a ResNet50 hint."""
    namespace = mistakes.namespace(mistakes.get("shortcut never added"))
    with pytest.raises(PublicTestFailure) as raised:
        public_tests.ResNet50_test(namespace["ResNet50"])
    assert str(raised.value) == (
        "ResNet50: `identity_block` fails its own checks above; fix it first: ResNet50 is graded "
        "with the reference blocks."
    )
    # The same ResNet50 with the reference blocks passes: the message names the only mistake.
    namespace["identity_block"] = load_solution()["identity_block"]
    public_tests.ResNet50_test(namespace["ResNet50"])


def test_a_resnet50_mistake_is_still_reported_at_resnet50(solution):
    namespace = mistakes.namespace(mistakes.get("stage 5 with stride 1"))
    with pytest.raises(PublicTestFailure, match="^ResNet50: the check ") as raised:
        public_tests.ResNet50_test(namespace["ResNet50"])
    assert "fails its own checks" not in str(raised.value)


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_values_check_says_the_layers_differ_when_they_do(mode):
    """Run alone (as its own grade cell runs it), the values check of a block whose layers are
    wrong must not claim that the layers matched."""
    namespace = mistakes.namespace(mistakes.get("shortcut never added"))
    with pytest.raises(PublicTestFailure) as raised:
        public_tests.identity_block_test(namespace["identity_block"], checks=[mode])
    message = str(raised.value)
    assert "the layers matched" not in message
    assert message.endswith("\n    hint: " + public_tests.LAYERS_DIFFER_HINT)


def test_values_check_keeps_its_hint_when_the_layers_match(monkeypatch):
    """(Every mistake of the catalogue that changes the values also changes a layer, so the case
    where only the values differ is made by answering the layers question with yes.)"""
    namespace = mistakes.namespace(mistakes.get("shortcut never added"))
    asked = []
    monkeypatch.setattr(public_tests, "_layers_match", lambda *args: asked.append(args) or True)
    with pytest.raises(PublicTestFailure, match="the layers matched, but the values differ"):
        public_tests.identity_block_test(namespace["identity_block"], checks=["inference"])
    assert asked  # asked only because the values differed and the layers were not checked
    with pytest.raises(PublicTestFailure, match="'layers'"):  # run with its layers check, not asked
        public_tests.identity_block_test(namespace["identity_block"], checks=["layers", "inference"])
    assert len(asked) == 1


# ---------------------------------------------------------------------------------------------
# What a student reads: the message first, wrapped; the tests' own frames left out
# ---------------------------------------------------------------------------------------------


def test_wrap_report_keeps_every_word_and_lines_up_continuations():
    from test_utils import REPORT_WIDTH, wrap_report

    hint = "check which tensor feeds each layer " * 8
    text = f"f: the check 'x' failed.\n    expected: {'1234567890' * 15}\n    hint: {hint.strip()}"
    wrapped = wrap_report(text)
    assert max(len(line) for line in wrapped.splitlines()) <= REPORT_WIDTH
    assert "".join(wrapped.split()) == "".join(text.split())  # nothing lost, only line breaks
    hint_lines = wrapped.split("\n    hint: ", 1)[1].splitlines()
    assert len(hint_lines) > 1 and all(line.startswith(" " * 10) for line in hint_lines[1:])
    assert wrap_report("short\n  lines") == "short\n  lines"


def _stub_module(tmp_path, source: str):
    """A student's function defined in a file of its own (as a notebook cell is)."""
    import importlib.util

    path = tmp_path / "student_cell.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("student_cell", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def test_rendered_failure_shows_the_message_then_only_the_students_frames(tmp_path):
    module, path = _stub_module(
        tmp_path,
        "import keras\n"
        "def add_shortcut(X, shortcut):\n"
        "    return keras.layers.Add()([X, shortcut])\n"
        "def identity_block(X, f, filters, training=True, initializer=keras.initializers.random_uniform):\n"
        "    main = keras.layers.Conv2D(7, 1)(X)\n"
        "    return add_shortcut(main, X)\n",
    )
    with pytest.raises(PublicTestFailure) as raised:
        public_tests.identity_block_test(module.identity_block)
    lines = "\n".join(raised.value._render_traceback_()).splitlines()
    plain = "\n".join(lines).replace("\x1b[0;31m", "").replace("\x1b[0m", "")
    assert plain.startswith(f"PublicTestFailure: {str(raised.value)[:40]}")
    assert "ValueError" in plain and "hint: " in plain  # the message first
    files = [line for line in lines if line.lstrip().startswith("File ")]
    assert [line.split(", in ")[-1] for line in files] == ["identity_block", "add_shortcut"], lines
    assert all(str(path) in line for line in files), lines
    assert "return keras.layers.Add()([X, shortcut])" in plain
    for library in ("public_tests.py", "test_utils.py", "site-packages", "keras"):
        assert not any(library in line for line in files), library


def test_rendered_failure_without_a_cause_is_the_wrapped_message_alone(solution):
    namespace = mistakes.namespace(mistakes.get("shortcut added from the main-path tensor"))
    with pytest.raises(PublicTestFailure) as raised:
        public_tests.identity_block_test(namespace["identity_block"])
    rendered = raised.value._render_traceback_()
    assert len(rendered) == 1
    from test_utils import REPORT_WIDTH

    plain = rendered[0].replace("\x1b[0;31m", "").replace("\x1b[0m", "")
    assert "".join(plain.split()) == "".join(f"PublicTestFailure: {raised.value}".split())
    assert all(len(line) <= REPORT_WIDTH for line in plain.splitlines())


def test_an_unwritten_resnet50_is_reported_at_resnet50_even_with_unwritten_blocks():
    namespace = mistakes.namespace(mistakes.get("stage 5 with stride 1"))
    exec(
        "def identity_block(X, f, filters, training=True, initializer=None):\n"
        "    raise NotImplementedError()\n"
        "def ResNet50(input_shape=(64, 64, 3), classes=6):\n"
        "    raise NotImplementedError()\n",
        namespace,
    )
    with pytest.raises(
        PublicTestFailure, match="(?s)^ResNet50: the check .*NotImplementedError.*not written yet"
    ):
        public_tests.ResNet50_test(namespace["ResNet50"])


def test_a_block_that_raises_inside_resnet50_is_named_in_one_line():
    namespace = load_solution()
    exec(
        "def identity_block(X, f, filters, training=True, initializer=None):\n"
        "    raise NotImplementedError()\n",
        namespace,
    )
    with pytest.raises(PublicTestFailure, match="^ResNet50: `identity_block` fails its own checks above"):
        public_tests.ResNet50_test(namespace["ResNet50"])


@pytest.mark.parametrize("chosen", [None, "0"])
def test_tensorflow_is_imported_with_onednn_on_x86_unless_the_user_chose(chosen):
    """``import_tensorflow`` (the notebook's import through ``public_tests``, the sandbox's, the
    check process's) turns oneDNN's kernels on for x86-64 processors, where TensorFlow's own
    policy leaves AVX2 processors on Eigen's; a value the user set is kept; nothing reaches
    stderr."""
    import os
    import platform
    import subprocess
    import sys

    from resnets_kit import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}
    if chosen is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = chosen
    env["PYTHONPATH"] = str(REPO_ROOT)
    code = (
        "from test_utils import import_tensorflow; import_tensorflow(); import os;"
        "from tensorflow.python.util import _pywrap_util_port as port;"
        "print(port.IsMklEnabled(), os.environ.get('TF_ENABLE_ONEDNN_OPTS', '-'), os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    enabled, value, level = done.stdout.split()
    assert level == "2"
    if chosen is not None:
        assert (enabled, value) == ("False", chosen)
    elif platform.machine().lower() in ("x86_64", "amd64"):
        assert (enabled, value) == ("True", "1")
    else:  # ARM: TensorFlow's own choice
        assert value == "-"
