"""Public tests for the ResNet50 assignment: ``identity_block_test``, ``convolutional_block_test``
and ``ResNet50_test``.

Each test runs the student's function on deterministic inputs and initializers, then checks, in
order: the signature, the output shape, the structure (a per-layer summary of the layers the
function builds: class, inputs, settings, output shape, parameter count) and the output values
with ``training=False`` and ``training=True``. The first failed check raises
:class:`test_utils.PublicTestFailure` (an ``AssertionError``) whose message names the check, what
was expected, what was received and the likely mistake. When every check passes the test prints
one line saying so.

The expected values live in ``reference_outputs.json``, written by
``python -m resnets_kit.references`` from the reference solution; they are never typed by hand.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import re
from pathlib import Path

import numpy as np

from test_utils import (
    RESNET50_PARTS,
    Provider,
    PublicTestFailure,
    RecordedError,
    compare_part,
    compare_summaries,
    compare_values,
    failure,
    import_tensorflow,
    layer_summary,
    quiet_stderr,
    wrap_report,
)

tf = import_tensorflow()
import keras  # noqa: E402  (after the quiet TensorFlow import)

REFERENCE_FILE = Path(__file__).resolve().parent / "reference_outputs.json"

# ---------------------------------------------------------------------------------------------
# Test cases: the single definition used both by the tests and by the script that writes the
# reference outputs.
# ---------------------------------------------------------------------------------------------


def test_input(shape=(3, 4, 4, 3)) -> np.ndarray:
    """A deterministic float32 input batch with varied values in [-1, 1] (no random generator)."""
    n = int(np.prod(shape))
    return np.sin(0.37 * np.arange(n, dtype=np.float64) + 0.5).reshape(shape).astype(np.float32)


def constant_initializer(value=0.1):
    """An initializer factory with the ``initializer(seed=0)`` call form of the graded functions,
    returning ``keras.initializers.Constant(value)`` whatever the seed."""

    def make(seed=0):
        return keras.initializers.Constant(value)

    make.__name__ = f"constant_initializer({value})"
    return make


def block_case(
    f: int, filters: list[int], training: bool, initializer=None, s=None, shape=(3, 4, 4, 3)
) -> dict:
    """One test case of a block function: its arguments and a name that states them.

    ``initializer`` is ``None`` for the function's default, or a number for
    :func:`constant_initializer` with that value; ``s`` is given for a convolutional block only.
    """
    name = (
        f"f={f}, filters={list(filters)}" + (f", s={s}" if s is not None else "") + f", training={training}"
    )
    if initializer is not None:
        name += ", constant initializer"
    case = {"name": name, "shape": list(shape), "f": f, "filters": list(filters), "training": training}
    if s is not None:
        case["s"] = s
    case["initializer"] = initializer
    return case


IDENTITY_CASES = [
    block_case(2, [4, 5, 3], training=False),
    block_case(2, [4, 5, 3], training=True),
    block_case(3, [2, 3, 3], training=True, initializer=0.1),
]

CONVOLUTIONAL_CASES = [
    block_case(2, [2, 4, 6], training=False, s=2),
    block_case(2, [2, 4, 6], training=True, s=2),
    block_case(3, [3, 5, 4], training=True, initializer=0.1, s=1),
]

RESNET50_CASE = {"input_shape": [64, 64, 3], "classes": 6}


def case_kwargs(case: dict) -> dict:
    """Keyword arguments of a block call for one test case (input tensor excluded)."""
    kwargs = {"f": case["f"], "filters": list(case["filters"]), "training": case["training"]}
    if "s" in case:
        kwargs["s"] = case["s"]
    if case["initializer"] is not None:
        kwargs["initializer"] = constant_initializer(case["initializer"])
    return kwargs


def build_block(function, case: dict):
    """Call a block function on a symbolic ``keras.Input`` of the case's shape (batch axis left
    free) and return the ``keras.Model`` from that input to the block's output."""
    X = keras.Input(shape=tuple(case["shape"][1:]))
    Y = function(X, **case_kwargs(case))
    return keras.Model(X, Y)


@contextlib.contextmanager
def full_float32():
    """Compute in full float32 within the ``with`` block: TensorFloat-32, which TensorFlow uses by
    default for float32 convolutions and matrix products on NVIDIA GPUs since Ampere (10 bits of
    mantissa: relative errors near 1e-3, ten times the tolerance of the checks), is turned off,
    then set back as it was. No effect on a CPU."""
    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(enabled)


def block_output(model, case: dict) -> np.ndarray:
    """The output of a block model (from :func:`build_block`) on the case's input
    (:func:`test_input`), as a float32 numpy array of shape (batch, height, width, channels).
    BatchNormalization runs in the mode the block called it with (``training=``). Computed in
    full float32 (:func:`full_float32`), so that a GPU gives a CPU's values within the tolerance."""
    with full_float32():
        return np.asarray(model(test_input(tuple(case["shape"]))))


def run_block(function, case: dict) -> np.ndarray:
    """Build a block function's model for one case and return its output on the case's input."""
    return block_output(build_block(function, case), case)


def block_summary(function, case: dict) -> list[dict]:
    """Per-layer summary of the layers a block function builds on a symbolic input."""
    return layer_summary(build_block(function, case))


def case_key(case: dict) -> str:
    """A text that identifies a test case (block case or ResNet50 configuration)."""
    return json.dumps(case, sort_keys=True)


class FunctionCalls:
    """What the checks look at, obtained by calling a student's function in this process.

    A :class:`test_utils.Provider`. The grader uses another one (the function called in a
    separate process, its models rebuilt from their configuration); the checks are the same.
    """

    def __init__(self, function):
        self.function = function
        self._models: dict[str, object] = {}

    def signature(self) -> inspect.Signature | None:
        """The function's signature, or None if Python cannot tell it."""
        try:
            return inspect.signature(self.function)
        except (TypeError, ValueError):
            return None

    def block_model(self, case: dict):
        """The block's model for a case (built once, then reused)."""
        key = case_key(case)
        if key not in self._models:
            self._models[key] = build_block(self.function, case)
        return self._models[key]

    def model(self, config: dict):
        """What ``function(input_shape=..., classes=...)`` returns for a ResNet50 configuration."""
        return self.function(input_shape=tuple(config["input_shape"]), classes=config["classes"])


def _source(target) -> Provider:
    """The provider of models for the checks: ``target`` itself if it is a
    :class:`test_utils.Provider`, else :class:`FunctionCalls` of the function ``target``."""
    return target if isinstance(target, Provider) else FunctionCalls(target)


def load_references(path: Path = REFERENCE_FILE) -> dict:
    """Read the reference outputs written by ``python -m resnets_kit.references``."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing. It ships with the assignment; restore it (or regenerate it with "
            "`python -m resnets_kit.references`)."
        )
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------
# The checks shared by the tests
# ---------------------------------------------------------------------------------------------

_ERROR_HINTS = [
    (
        "NotImplementedError",
        "the function is not written yet: replace `raise NotImplementedError()` with your code.",
    ),
    (
        "incompatible shapes",
        "the main path and the shortcut must have the same shape at the Add: check "
        "padding='same' on the f x f convolution, the strides (s only on the first 1x1 convolution and the "
        "shortcut), and that the last convolutions have F3 filters.",
    ),
    (
        "unexpected keyword argument 'dtype'",
        "a Keras layer received an initializer factory instead of an "
        "initializer: pass kernel_initializer=initializer(seed=0) (called), not initializer.",
    ),
    (
        "unexpected keyword argument 'training'",
        "keep the `training` parameter in the function's signature "
        "and pass it on to every BatchNormalization: BatchNormalization(axis=3)(X, training=training).",
    ),
    (
        "zero or negative",
        "the height and width shrank to nothing before the end of the network: too many "
        "stride-2 steps (stage 2's convolutional block uses s=1) or pooling with the wrong size.",
    ),
    (
        "cannot be used as input to a TensorFlow function",
        "a TensorFlow function (tf.add, tf.nn.relu, ...) was called on a Keras tensor: tf.keras 2 "
        "allowed it, Keras 3 does not. Use a Keras layer, Add()([X, X_shortcut]) or Activation('relu'), "
        "or a Keras operation, keras.ops.add or keras.ops.relu.",
    ),
    (
        "KerasTensor",
        "use only Keras layers (keras.layers) on the tensors inside the function, not "
        "TensorFlow or NumPy operations.",
    ),
    (
        "required positional argument: 'pool_size'",
        "in Keras 3 the pooling layers have no default pool size (tf.keras 2 used (2, 2)): give it, "
        "for example AveragePooling2D((2, 2)).",
    ),
    (
        "Only input tensors may be passed as positional arguments",
        "Keras 3 takes a layer's `training` argument only by keyword (tf.keras 2 also took it "
        "positionally): write BatchNormalization(axis=3)(X, training=training).",
    ),
    (
        "has no attribute 'set_learning_phase'",
        "Keras 3 has no set_learning_phase (tf.keras 2 had): the mode is the `training` argument "
        "of each call, BatchNormalization(axis=3)(X, training=training).",
    ),
    (
        "has no attribute 'output_shape'",
        "Keras 3 layers have no output_shape attribute (tf.keras 2 had): use the tensor's shape, X.shape.",
    ),
    (
        "No module named 'keras.",
        "this module of tf.keras 2 is gone in Keras 3: import layers from keras.layers, for example "
        "from keras.layers import Add.",
    ),
    (
        "Unrecognized keyword arguments",
        "a keyword argument that this Keras 3 layer does not take (older Keras spellings such as "
        "init=, border_mode= or subsample= are gone): use the names of the layer's documentation, "
        "kernel_initializer=, padding=, strides=.",
    ),
    (
        "too many positional arguments",
        "a layer received several tensors as separate arguments: Add takes one list of tensors, "
        "Add()([X, X_shortcut]).",
    ),
]


_MODEL_ERROR_HINTS = [
    (
        "name 'training' is not defined",
        "ResNet50 has no training parameter: call the blocks with their default training argument, "
        "identity_block(X, 3, [...]).",
    ),
    (
        "inputs.shape=[None 1 1 ",
        "the height and width shrank to 1 x 1 before the AveragePooling2D: a stride-2 step too many "
        "(stage 2's convolutional block uses s=1; those of stages 3, 4 and 5 use s=2).",
    ),
    (
        "zero or negative",
        "a pooling window larger than its input: for 64 x 64 images stage 5 ends with a 2 x 2 volume, "
        "which AveragePooling2D((2, 2)) turns into 1 x 1.",
    ),
    (
        "incompatible shapes",
        "a residual block received an input whose shape it cannot keep: each stage starts with a "
        "convolutional block (it changes the number of channels to F3), and the identity blocks of a "
        "stage use the same filters [F1, F2, F3] as its convolutional block.",
    ),
]


_BLOCK_ERROR_HINTS = [
    (
        "zero or negative",
        "a convolution's window is larger than its input, with padding 'valid': in a block only the "
        "f x f convolution has a window larger than 1x1, and it uses padding='same'; the first and "
        "third convolutions of the main path and the shortcut convolution have kernel_size=1.",
    ),
]


_ADD_SHAPES = re.compile(r"incompatible shapes\. Received shapes \(([^()]*)\) and \(([^()]*)\)")


def _dims(text: str) -> tuple[int, ...]:
    """``"None, 3, 3, 3"`` -> ``(3, 3, 3)``: the sizes of a shape without its batch axis."""
    sizes = [part.strip() for part in text.split(",") if part.strip()]
    return tuple(int(size) for size in sizes if size.isdigit())[-3:]


def _add_shapes_hint(name: str, message: str, cases: list[dict], references: dict | None) -> str | None:
    """A hint for a block whose Add failed on incompatible shapes, from the two shapes in the
    error (main path first, as in ``Add()([X, X_shortcut])``) and the failing case's arguments.

    Returns:
        The hint, or ``None`` when the message is not such an error.
    """
    match = _ADD_SHAPES.search(message)
    if not match:
        return None
    first_line = message.split("\n", 1)[0]
    named = [i for i, case in enumerate(cases) if case["name"] in first_line]
    index = max(named, key=lambda i: len(cases[i]["name"])) if named else 0
    case = cases[index]
    ref_case = (references or load_references())[name]["cases"][index]
    expected = tuple(ref_case["output_shape"][-3:])
    main, shortcut = _dims(match.group(1)), _dims(match.group(2))
    if len(main) != 3 or len(shortcut) != 3:
        return None
    size, channels = expected[:2], expected[2]
    f, s = case["f"], case.get("s", 1)
    if main[2] != channels and main[:2] == size:
        filters = list(case["filters"])
        which = (
            f" (F{filters.index(main[2]) + 1}, the filters of an earlier component: is the last CONV2D of "
            "the main path missing, or given another component's filters?)"
            if main[2] in filters[:2]
            else ""
        )
        return (
            f"the main path ends with {main[2]} channels{which} and the shortcut with {shortcut[2]}: both "
            f"must end with F3 = {channels} channels; the last CONV2D of the main path has F3 filters."
        )
    if main[:2] != size:
        said = f"the main path comes out with height and width {main[:2]} instead of {size}"
        if all(m > e for m, e in zip(main[:2], size, strict=True)):
            return (
                f"{said}: the first 1x1 convolution of the main path carries the stride s = {s} (is it "
                "missing, or without its stride?)."
            )
        by_padding = f > 1 and all(m == e - (f - 1) for m, e in zip(main[:2], size, strict=True))
        by_stride = any(
            all(m == -(-e // k) for m, e in zip(main[:2], size, strict=True)) for k in range(2, max(size) + 1)
        )
        if by_padding and not by_stride:
            return (
                f"{said}: it shrank by f - 1 = {f - 1}, as an f x f convolution with padding 'valid' "
                "does; the f x f convolution keeps the height and width with padding='same'."
            )
        shrink = {e - m for m, e in zip(main[:2], size, strict=True)}
        by_window = len(shrink) == 1 and min(shrink) > 0 and not by_padding
        if by_stride and by_window and name == "identity_block":
            k = min(shrink) + 1
            return (
                f"{said}: a stride shrank it, or a {k} x {k} window with padding 'valid' where the block "
                "has a 1x1 convolution; every convolution of an identity block has stride 1, and its first "
                "and third have kernel_size=1."
            )
        if by_stride and not by_padding and name == "identity_block":
            return f"{said}: a stride shrank it; every convolution of an identity block has stride 1."
        if by_window:
            k = min(shrink) + 1
            return (
                f"{said}: a stride too many, or a {k} x {k} window with padding 'valid' where the block has "
                "a 1x1 convolution; only the first 1x1 convolution of the main path carries the stride s, "
                "and the 1x1 convolutions have kernel_size=1."
            )
        if by_stride and not by_padding:
            return (
                f"{said}: a stride too many; only the first 1x1 convolution of the main path carries the "
                "stride s, the other convolutions of the main path use strides=(1, 1)."
            )
        return (
            f"{said}: the f x f convolution keeps the height and width (padding='same', strides=(1, 1)); "
            "of the main path, only the first 1x1 convolution of a convolutional block carries a stride."
        )
    if name == "identity_block":
        return (
            f"the shortcut has shape {shortcut} instead of the block's input shape {expected}: in an "
            "identity block the shortcut is the block's input X itself (saved as X_shortcut before the main path)."
        )
    if shortcut[2] != channels:
        missing = (
            " (as many as the block's input: is the shortcut CONV2D missing?)"
            if shortcut[2] == case["shape"][-1] and shortcut[:2] == tuple(case["shape"][1:3])
            else ""
        )
        return (
            f"the shortcut ends with {shortcut[2]} channels instead of F3 = {channels}{missing}: the shortcut "
            "CONV2D has F3 filters, like the last CONV2D of the main path."
        )
    return (
        f"the shortcut comes out with height and width {shortcut[:2]} instead of {size}: the shortcut "
        "CONV2D needs the stride s as well, like the first 1x1 convolution of the main path."
    )


def _explain_add_shapes(err: AssertionError, name: str, cases: list[dict], references: dict | None) -> None:
    """Replace the generic hint of a failure at a block's Add by one that says which path has the
    wrong shape and why (changes ``err`` in place)."""
    message = str(err)
    hint = _add_shapes_hint(name, message, cases, references)
    if hint and "\n    hint: " in message:
        err.args = (message.rsplit("\n    hint: ", 1)[0] + f"\n    hint: {hint}",)


def _call(function_name: str, call, check: str):
    """Run ``call()``; turn an exception into a failure that quotes it and gives a hint."""
    try:
        return call()
    except AssertionError:
        raise
    except Exception as err:  # a student's function can raise anything
        text = err.text if isinstance(err, RecordedError) else f"{type(err).__name__}: {err}"
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Keras colours its errors
        hints = (_MODEL_ERROR_HINTS if function_name == "ResNet50" else _BLOCK_ERROR_HINTS) + _ERROR_HINTS
        hint = next(
            (h for pattern, h in hints if pattern in text),
            "read the error above; it comes from your code.",
        )
        raise failure(
            function_name, check, "", "the function to run without error", text.strip(), hint
        ) from err


def _show(value) -> str:
    """A readable form of a default value: the name of a class or function, else its repr."""
    if value is inspect.Parameter.empty:
        return "no default"
    return getattr(value, "__name__", None) or repr(value)


def _check_signature(signature: inspect.Signature | None, name: str, parameters: dict) -> None:
    if signature is None:
        return
    for parameter, default in parameters.items():
        if parameter not in signature.parameters:
            raise failure(
                name,
                "signature",
                "",
                f"a parameter named `{parameter}`",
                f"parameters {list(signature.parameters)}",
                "keep the function's signature as given; the tests call it by these names.",
            )
        if default is not inspect.Parameter.empty:
            received = signature.parameters[parameter].default
            if received != default and not (
                callable(default)
                and getattr(received, "__name__", None) == getattr(default, "__name__", None)
            ):
                raise failure(
                    name,
                    "signature",
                    f"the default of `{parameter}`",
                    _show(default),
                    _show(received),
                    "keep the defaults of the signature as given.",
                )


#: The checks of a block test, in the order they run; a grade cell may run a subset.
BLOCK_CHECKS = ("shape", "layers", "inference", "training")
#: The checks of the ResNet50 test.
MODEL_CHECKS = ("model", "layers")


def _report(test: str, done: list[str], notes: list[str] = ()) -> None:
    """Print the line that says a test passed, naming its checks, then one line per note on an
    equivalent spelling (never a deduction: the checks passed)."""
    count = "the check" if len(done) == 1 else f"all {len(done)} checks"
    lines = [f"{test}: {count} passed ({'; '.join(done)})."]
    lines += [f"    note: {note}." for note in dict.fromkeys(notes)]
    print(wrap_report("\n".join(lines)))


def _selected(checks, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if checks is None:
        return allowed
    checks = (checks,) if isinstance(checks, str) else tuple(checks)
    unknown = [c for c in checks if c not in allowed]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; choose from {list(allowed)}")
    return checks


_REQUIRED = inspect.Parameter.empty

#: Each graded function's parameters as the notebook declares them: name to default
#: (``inspect.Parameter.empty``: required). The signature check compares against these.
SIGNATURES = {
    "identity_block": {
        "X": _REQUIRED,
        "f": _REQUIRED,
        "filters": _REQUIRED,
        "training": True,
        "initializer": keras.initializers.random_uniform,
    },
    "convolutional_block": {
        "X": _REQUIRED,
        "f": _REQUIRED,
        "filters": _REQUIRED,
        "s": 2,
        "training": True,
        "initializer": keras.initializers.glorot_uniform,
    },
    "ResNet50": {"input_shape": (64, 64, 3), "classes": 6},
}


#: The hint of a values check when the block's layers differ from the specification as well:
#: the values cannot match then, and "the layers matched" would be false.
LAYERS_DIFFER_HINT = (
    "the layers differ from the specification, so the values cannot match: the layers check "
    "names the first difference; fix it first."
)


def _replace_hint(err: AssertionError, hint: str) -> None:
    """Put ``hint`` in place of the hint of a failure's message (changes ``err`` in place)."""
    message = str(err).rsplit("\n    hint: ", 1)[0]
    err.args = (f"{message}\n    hint: {hint}",)


def _layers_match(source: Provider, name: str, cases: list[dict], ref: dict) -> bool:
    """Whether a block's layers match the reference in every case (its layers check passes)."""
    try:
        for case, ref_case in zip(cases, ref["cases"], strict=True):
            context = {"filters": case["filters"], "f": case["f"], "s": case.get("s", 1)}
            compare_summaries(name, ref_case["structure"], layer_summary(source.block_model(case)), context)
    except Exception:  # a failed comparison, or the function fails to build
        return False
    return True


def _block_test(
    target, name: str, cases: list[dict], references: dict | None, checks, label: str, signature: dict
) -> None:
    checks = _selected(checks, BLOCK_CHECKS)
    source = _source(target)
    references = references or load_references()
    ref = references[name]
    done: list[str] = []
    notes: list[str] = []

    if "shape" in checks:
        _check_signature(source.signature(), name, signature)
        first = cases[0]
        output = _call(
            name,
            lambda: block_output(source.block_model(first), first),
            f"runs on an input of shape {tuple(first['shape'])}",
        )
        expected_shape = tuple(ref["cases"][0]["output_shape"])
        if output.shape != expected_shape:
            raise failure(
                name,
                "output shape",
                f"case {first['name']}",
                expected_shape,
                output.shape,
                "the output keeps the batch size; its height and width are divided by the stride "
                "(s in a convolutional block, 1 in an identity block) and it has F3 channels.",
            )
        done += ["signature", "output shape"]

    if "layers" in checks:
        for case, ref_case in zip(cases, ref["cases"], strict=True):
            context = {"filters": case["filters"], "f": case["f"], "s": case.get("s", 1)}
            received = _call(
                name,
                lambda case=case: layer_summary(source.block_model(case)),
                f"builds on a symbolic keras.Input ({case['name']})",
            )
            notes += compare_summaries(name, ref_case["structure"], received, context, case=case["name"])
        done.append(f"layers, one by one ({len(cases)} cases)")

    for mode in ("inference", "training"):
        if mode not in checks:
            continue
        for case, ref_case in zip(cases, ref["cases"], strict=True):
            if case["training"] != (mode == "training"):
                continue
            output = _call(
                name,
                lambda case=case: block_output(source.block_model(case), case),
                f"runs for {case['name']}",
            )
            if case["training"]:
                hint = (
                    "the layers matched, but the values with training=True differ: check that every "
                    "BatchNormalization is called with training=training."
                )
            else:
                hint = (
                    "the layers matched, but the values differ: check which tensor feeds each layer "
                    "and the order of the operations (the last ReLU comes after the Add)."
                )
            try:
                compare_values(name, f"values for {case['name']}", ref_case["output"], output, hint)
            except AssertionError as err:  # test_utils.PublicTestFailure
                if "layers" not in checks and not _layers_match(source, name, cases, ref):
                    _replace_hint(err, LAYERS_DIFFER_HINT)
                raise
            done.append(f"values for {case['name']}")

    _report(f"{name}_test{label}", done, notes)


# ---------------------------------------------------------------------------------------------
# The public tests
# ---------------------------------------------------------------------------------------------


@quiet_stderr
def identity_block_test(
    target, checks=None, references: dict | None = None, cases: list[dict] | None = None, label: str = ""
) -> None:
    """Check a student's ``identity_block(X, f, filters, training=True, initializer=random_uniform)``.

    Args:
        target: the student's function.
        checks: which checks to run, a subset of :data:`BLOCK_CHECKS` (``"shape"``: signature and
            output shape; ``"layers"``: every layer in every case; ``"inference"``/``"training"``:
            the values with ``training=False``/``True``); ``None``: all of them.
        references: the reference outputs (read from ``reference_outputs.json`` when ``None``).
        cases: the test cases (default: the public ones); the references must hold their outputs.
        label: added to the test's name in the line printed on success.

    Raises:
        test_utils.PublicTestFailure: at the first failed check, with expected, received and a hint.
    """
    signature = SIGNATURES["identity_block"]
    cases = cases or IDENTITY_CASES
    try:
        _block_test(target, "identity_block", cases, references, checks, label, signature)
    except AssertionError as err:  # test_utils.PublicTestFailure
        _explain_add_shapes(err, "identity_block", cases, references)
        raise


@quiet_stderr
def convolutional_block_test(
    target, checks=None, references: dict | None = None, cases: list[dict] | None = None, label: str = ""
) -> None:
    """Check a student's ``convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform)``.

    Args:
        target: the student's function.
        checks: which checks to run, a subset of :data:`BLOCK_CHECKS` (``"shape"``: signature and
            output shape; ``"layers"``: every layer in every case; ``"inference"``/``"training"``:
            the values with ``training=False``/``True``); ``None``: all of them.
        references: the reference outputs (read from ``reference_outputs.json`` when ``None``).
        cases: the test cases (default: the public ones); the references must hold their outputs.
        label: added to the test's name in the line printed on success.

    Raises:
        test_utils.PublicTestFailure: at the first failed check, with expected, received and a hint.
    """
    signature = SIGNATURES["convolutional_block"]
    cases = cases or CONVOLUTIONAL_CASES
    try:
        _block_test(target, "convolutional_block", cases, references, checks, label, signature)
    except AssertionError as err:  # test_utils.PublicTestFailure
        _explain_add_shapes(err, "convolutional_block", cases, references)
        raise


@quiet_stderr
def ResNet50_test(
    target,
    checks=None,
    references: dict | None = None,
    config: dict | None = None,
    label: str = "",
    part: str | None = None,
) -> None:
    """Check a student's ``ResNet50(input_shape=(64, 64, 3), classes=6)`` layer by layer.

    Builds the model, then compares its per-layer summary (class, inputs, output shape, parameter
    count, and per layer type: padding, strides, kernel size, filters, activation, initializer,
    BatchNorm axis and training argument, pool size) with the reference, and its total number of
    parameters (23,600,006 for the reference, as ``keras.applications.ResNet50`` with 6 classes).

    Args:
        target: the student's ``ResNet50`` function (or a built ``keras.Model``).
        checks: a subset of :data:`MODEL_CHECKS` (``"model"``: the signature, a ``keras.Model``
            and its parameter count; ``"layers"``: every layer); ``None``: both.
        references: the reference outputs (read from ``reference_outputs.json`` when ``None``).
        config: the arguments to build the model with (default :data:`RESNET50_CASE`).
        label: added to the test's name in the line printed on success.
        part: with ``checks="layers"``, check only the layers of this part of the network (a key
            of ``test_utils.RESNET50_PARTS``: ``"stages 1 and 2"``, ``"stage 3"``, ``"stage 4"``,
            ``"stage 5"``, ``"top"``), so that a wrong layer costs the points of its own part;
            ``None``: all layers.

    Raises:
        test_utils.PublicTestFailure: at the first failed check, with expected, received and a hint;
            or, when a block that the student's ``ResNet50`` calls fails its own checks (a
            mistake in the block, not in ResNet50), one line that names the block: the grader
            builds ResNet50 with the reference blocks, so that a block's mistake costs only
            the block's points.
    """
    checks = _selected(checks, MODEL_CHECKS)
    if part is not None and part not in RESNET50_PARTS:
        raise ValueError(f"unknown part {part!r}; choose from {list(RESNET50_PARTS)}")
    references = references or load_references()
    try:
        _model_test(target, checks, references, config, label, part)
    except AssertionError as err:  # test_utils.PublicTestFailure
        blocks = [] if _raised_by_itself(err, target) else _failing_blocks(target)
        if not blocks:
            raise
        names = " and ".join(f"`{block}`" for block in blocks)
        verb, them = ("fails its", "it") if len(blocks) == 1 else ("fail their", "them")
        raise PublicTestFailure(
            f"ResNet50: {names} {verb} own checks above; fix {them} first: ResNet50 is graded with "
            "the reference blocks."
        ) from None


def _raised_by_itself(err: AssertionError, target) -> bool:
    """Whether the error behind a failure of ``target`` (a student's ``ResNet50``) was raised in
    its own code (a stub's ``NotImplementedError``, say) rather than in a block it called."""
    cause = err.__cause__
    if cause is None or not inspect.isfunction(target):
        return False
    codes = {target.__code__: "itself"}
    for name in ("identity_block", "convolutional_block"):
        block = target.__globals__.get(name)
        if inspect.isfunction(block):
            codes[block.__code__] = name
    last, tb = None, cause.__traceback__
    while tb is not None:
        last = codes.get(tb.tb_frame.f_code, last)
        tb = tb.tb_next
    return last == "itself"


def _failing_blocks(target) -> list[str]:
    """The block functions that a student's ``ResNet50`` calls (``identity_block`` and
    ``convolutional_block``, from the function's globals: the notebook's) and that fail their own
    public checks (the public cases and references, whatever ResNet50 was checked against); none
    when ``target`` is not a plain function (as in the grader, where ResNet50 is built with the
    reference blocks)."""
    failing: list[str] = []
    if not inspect.isfunction(target):
        return failing
    for name, test in (
        ("identity_block", identity_block_test),
        ("convolutional_block", convolutional_block_test),
    ):
        block = target.__globals__.get(name)
        if not inspect.isfunction(block):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                test(block)
        except Exception:  # a failed check, or anything the block raised
            failing.append(name)
    return failing


def _model_test(target, checks, references: dict, config: dict | None, label: str, part: str | None) -> None:
    """The checks of :func:`ResNet50_test` on ``target``."""
    ref = references["ResNet50"]
    config = config or RESNET50_CASE
    name = "ResNet50"
    if isinstance(target, keras.Model):
        model = target
    else:
        source = _source(target)
        if "model" in checks:
            _check_signature(source.signature(), name, SIGNATURES[name])
        model = _call(
            name,
            lambda: source.model(config),
            f"builds the model (input_shape={tuple(config['input_shape'])}, classes={config['classes']})",
        )
    if not isinstance(model, keras.Model):
        raise failure(
            name,
            "returns a model",
            "",
            "a keras.Model",
            getattr(model, "returned_type", type(model).__name__),
            "end with model = Model(inputs=X_input, outputs=X) and return model.",
        )
    done: list[str] = []
    notes: list[str] = []
    if "layers" in checks:
        received = _call(name, lambda: layer_summary(model), "summarises the model")
        if part is None:
            notes = compare_summaries(name, ref["summary"], received, {"model": True})
            done.append(f"{len(received)} layers, one by one")
        else:
            notes = compare_part(name, ref["summary"], received, part, {"model": True})
            done.append(f"the layers of {part}, one by one")
    if "model" in checks:
        total = model.count_params()
        if total != ref["total_params"]:
            raise failure(
                name,
                "number of parameters",
                "",
                f"{ref['total_params']:,}",
                f"{total:,}",
                "compare model.summary() with the specification stage by stage.",
            )
        done.insert(0, f"signature, a keras.Model with {total:,} parameters")
    _report(f"{name}_test{label}", done, notes)
