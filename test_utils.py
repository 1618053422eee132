"""Helpers behind ``public_tests.py``: a quiet TensorFlow import, per-layer summaries of Keras
models, and comparisons that explain a mismatch (what was expected, what was received, and a hint
at the likely mistake).

Nothing here is graded code: students never need to edit this file.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import io
import os
import re
import sys
import sysconfig
import tempfile
import textwrap
import traceback
import warnings
from collections import Counter
from typing import Protocol, runtime_checkable

#: Public tests pass when received values match the reference within these tolerances
#: (``numpy.allclose`` semantics: ``|received - expected| <= ATOL + RTOL * |expected|``).
#: Measured with ``python benchmarks/numeric_drift.py`` (TensorFlow 2.21 on CPU, oneDNN off and
#: on, 1 and 2 intra-op threads): the reference solution's outputs need at most 2.3e-7 on the
#: public and hidden cases (the 7-digit rounding of the committed references; the four settings
#: give identical outputs there) and 2.8e-6 across the settings on larger blocks (64 channels,
#: 16 x 16), so 1e-4 leaves a margin of 36x; every mistake of the catalogue that changes the
#: values (qa/mistakes.py) moves them by 0.39 or more.
RTOL = 1e-4
ATOL = 1e-4


#: Longest line of a failure as students read it (the notebook's cell output, Validate's dialog,
#: Manual Grading, feedback), characters: longer lines are wrapped, not cut at the right edge.
REPORT_WIDTH = 88
_LABEL = re.compile(r"(?:expected|received|hint|note): ")


def wrap_report(text: str, width: int = REPORT_WIDTH) -> str:
    """``text`` with every line longer than ``width`` characters wrapped at spaces.

    A continuation line keeps the line's indentation and lines up after its label
    (``expected: ``, ``received: ``, ``hint: ``, ``note: ``), so that a message reads as a block
    wherever it is shown: in a cell's output, in nbgrader's Validate dialog and in the HTML of
    Manual Grading and feedback, which show text as it is and cut long lines at the right edge.
    A word longer than ``width`` (a long shape, a path) is broken.

    Args:
        text: a message, possibly several lines.
        width: the longest line, characters (at least 20).

    Returns:
        The wrapped text (the same text when no line is too long).
    """
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        body = line.lstrip(" ")
        indent = line[: len(line) - len(body)]
        label = _LABEL.match(body)
        hang = indent + " " * (len(label.group(0)) if label else 4)
        lines += textwrap.wrap(
            line, width, subsequent_indent=hang, break_on_hyphens=False, drop_whitespace=True
        ) or [line]
    return "\n".join(lines)


def _library_files() -> tuple[str, ...]:
    """Path prefixes of the code that is not a student's: this module, ``public_tests.py``,
    Python's standard library and installed packages."""
    here = os.path.dirname(os.path.abspath(__file__))
    paths = sysconfig.get_paths()
    prefixes = {os.path.join(here, "test_utils.py"), os.path.join(here, "public_tests.py")}
    prefixes |= {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    with contextlib.suppress(Exception):  # site may be disabled (python -S)
        import site

        prefixes |= {*site.getsitepackages(), site.getusersitepackages()}
    return tuple(sorted(prefixes))


def own_frames(tb) -> list[str]:
    """The frames of a traceback that run a student's code, formatted for reading.

    Frames of the public tests, of this module, of Python's library and of installed packages
    (Keras, TensorFlow) are left out; a notebook cell is named as IPython names it
    (``Cell In[5], line 27``).

    Args:
        tb: a traceback object (``exception.__traceback__``), or None.

    Returns:
        Two lines per frame kept, ``"  <file>, line <n>, in <function>"`` and its source line.
    """
    library = _library_files()
    names = None
    with contextlib.suppress(Exception):
        names = get_ipython().compile.format_code_name  # noqa: F821  (IPython's global)
    lines = []
    for frame in traceback.extract_tb(tb):
        filename = frame.filename
        if filename.startswith(library) or filename.startswith("<frozen"):
            continue
        where = f'File "{filename}"'
        with contextlib.suppress(Exception):
            label = names(filename) if names else None
            if label:
                where = " ".join(label)
        lines.append(f"  {where}, line {frame.lineno}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return lines


class PublicTestFailure(AssertionError):
    """Raised by a public test when one of its checks fails; the message explains the check.

    In a notebook (and so in nbgrader's Validate, which runs one) IPython shows it through
    :meth:`_render_traceback_`: the message first, wrapped at :data:`REPORT_WIDTH`, then only the
    student's own frames of the error that caused it; the frames of the tests are left out.
    """

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this failure in place of a traceback."""
        name = type(self).__name__
        text = wrap_report(f"{name}: {self}")
        lines = [f"\x1b[0;31m{name}\x1b[0m" + text[len(name) :]]
        cause = self.__cause__
        frames = own_frames(cause.__traceback__) if cause is not None else []
        if frames:
            lines.append(f"The {type(cause).__name__} was raised in your code:")
            lines += frames
        return lines


@runtime_checkable
class Provider(Protocol):
    """What the checks of ``public_tests`` look at, whatever made it.

    ``public_tests.FunctionCalls`` calls the student's function in this process (the notebook);
    the grader's ``Rebuilt`` (``resnets_kit.grader.checks``) rebuilds the models the grading
    sandbox reported, and re-raises the errors it recorded as :class:`RecordedError`.
    """

    def signature(self) -> inspect.Signature | None:
        """The function's signature, or None if it cannot be told."""

    def block_model(self, case: dict):
        """The ``keras.Model`` a block function builds for a block case (from a ``keras.Input``
        of the case's shape to the block's output)."""

    def model(self, config: dict):
        """What the network function returns for ``{"input_shape": [h, w, c], "classes": n}``."""


class RecordedError(Exception):
    """An error a student's function raised in another process, re-raised where it is checked.

    ``text`` is the error as it was written there, ``"<ExceptionType>: <message>"``; the checks
    report it exactly as they report an error raised in this process.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def tensorflow_environment() -> dict[str, str]:
    """The environment variables :func:`import_tensorflow` sets where they are unset.

    - ``TF_CPP_MIN_LOG_LEVEL=2``: TensorFlow's C++ info and warning lines stay off stderr.
    - ``TF_ENABLE_ONEDNN_OPTS=1`` on x86-64 processors: TensorFlow's oneDNN kernels. On Linux,
      TensorFlow 2.21 turns them on by itself only on processors with AVX-512 VNNI, AVX-512 BF16,
      AVX-VNNI or AMX, and runs Eigen's kernels on the others (most laptops' AVX2 processors),
      where one training epoch of the notebook's ResNet50 takes about 2.9 times as long
      (``python benchmarks/throughput.py --variants ours,ours_tf_default --baseline
      ours_tf_default``). On ARM processors TensorFlow's own choice is kept.

    Returns:
        Variable name to value (strings), for the processor this Python runs on.
    """
    import platform

    settings = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    if platform.machine().lower() in ("x86_64", "amd64"):
        settings["TF_ENABLE_ONEDNN_OPTS"] = "1"
    return settings


def import_tensorflow():
    """Import TensorFlow with its native start-up log lines kept off stderr, and return it.

    TensorFlow 2.21 writes an informational oneDNN notice to file descriptor 2 while it is
    imported, before ``TF_CPP_MIN_LOG_LEVEL`` takes effect. In a notebook that text shows up as
    red stderr output (and nbgrader gives a test cell with any stderr output 0 points). This
    function redirects file descriptor 2 to a temporary file during the import, and sets the
    variables of :func:`tensorflow_environment` that are unset (``TF_CPP_MIN_LOG_LEVEL=2``, so
    that later C++ info and warning lines stay quiet too, and oneDNN's kernels on x86-64); a
    value the user set is kept. If the import fails, the captured text is written back to stderr
    and the error is raised unchanged. Once TensorFlow is imported, the variables no longer
    change anything.

    Returns:
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    for name, value in tensorflow_environment().items():
        os.environ.setdefault(name, value)
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved_fd = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved_fd, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
    return tensorflow


def quiet_stderr(test):
    """Decorator for a public test: nothing it runs reaches stderr.

    nbgrader gives a test cell 0 points when the cell wrote anything to stderr, and TensorFlow,
    Keras or a student's code may print warnings there while the test runs. The decorated test
    runs with Python warnings recorded, ``sys.stderr`` captured and file descriptor 2 (native
    TensorFlow logs) redirected to a temporary file; whatever was captured is then printed on
    stdout under a note, so nothing is lost. Exceptions pass through unchanged.
    """

    @functools.wraps(test)
    def run(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841  (IPython and pytest hide this frame)
        captured = io.StringIO()
        with tempfile.TemporaryFile() as native, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Unclosed sockets or files of earlier work are reported when garbage is collected,
            # at random moments: not the test's business.
            warnings.simplefilter("ignore", ResourceWarning)
            sys.stderr.flush()
            saved_fd = os.dup(2)
            os.dup2(native.fileno(), 2)
            try:
                with contextlib.redirect_stderr(captured):
                    return test(*args, **kwargs)
            finally:
                sys.stderr.flush()
                os.dup2(saved_fd, 2)
                os.close(saved_fd)
                native.seek(0)
                text = captured.getvalue() + native.read().decode(errors="replace")
                text += "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
                if text.strip():
                    print(f"note: messages written to stderr while {test.__name__} ran:\n{text.rstrip()}")

    return run


# ---------------------------------------------------------------------------------------------
# Per-layer summaries
# ---------------------------------------------------------------------------------------------

_CONFIG_KEYS = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation"),
    "Dense": ("units", "activation"),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "ZeroPadding2D": ("padding",),
    "Activation": ("activation",),
    "Dropout": ("rate",),
}


def _plain(value):
    """Turn tuples (also nested) into lists so that summaries compare equal to their JSON form."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _initializer(layer):
    init = getattr(layer, "kernel_initializer", None)
    if init is None:
        return None
    name = type(init).__name__
    if callable(init) and not hasattr(init, "get_config"):
        return name
    seed = init.get_config().get("seed") if hasattr(init, "get_config") else None
    return f"{name}(seed={seed})"


def _regularizer(layer):
    """``None``, or the kernel regularizer as text, e.g. ``"L2(l2=0.0001)"``."""
    reg = getattr(layer, "kernel_regularizer", None)
    if reg is None:
        return None
    config = reg.get_config() if hasattr(reg, "get_config") else {}
    values = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in config.items())
    return f"{type(reg).__name__}({values})"


def _inbound(layer, index):
    """Indices of the layers feeding ``layer`` (in argument order) and the ``training`` argument.

    ``training`` is the value the layer was called with when the graph was built (True/False),
    or the string ``"not passed"`` for a layer that accepts ``training`` but was called without.
    """
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return [], None
    node = nodes[0]
    inputs = [index.get(id(parent.operation), -1) for parent in node.parent_nodes]
    training = None
    if getattr(layer, "_call_has_training_arg", False):
        kwargs = getattr(node.arguments, "kwargs", {}) or {}
        training = kwargs.get("training", "not passed")
        if training is not None and not isinstance(training, (bool, str)):
            training = bool(training)
    return inputs, training


#: Keras operations (keras.ops.*, or operators on Keras tensors) that compute what a layer computes.
_OPERATIONS = {"Add": "Add", "Relu": "Activation"}


def _is_plain_relu(config: dict) -> bool:
    return (
        config.get("max_value") is None and not config.get("negative_slope") and not config.get("threshold")
    )


def layer_summary(model) -> list[dict]:
    """One row per layer of a Keras functional model, in ``model.layers`` order.

    Each row is a dict with ``layer`` (class name), ``output_shape`` (list, batch axis ``None``),
    ``params`` (int), ``inputs`` (indices of the layers that feed this one, in argument order),
    and per layer type what matters for the assignment: Conv2D ``filters``, ``kernel_size``,
    ``strides``, ``padding``, ``dilation_rate``, ``activation``, ``use_bias``, ``initializer``,
    ``kernel_regularizer`` (``None`` or e.g. ``"L2(l2=0.0001)"``);
    BatchNormalization ``axis``, ``momentum``, ``epsilon`` and ``training`` (the argument it was
    called with); pooling ``pool_size``, ``strides``,
    ``padding``; ZeroPadding2D ``padding``; Activation ``activation`` (a plain ``ReLU`` layer is
    summarised as ``Activation('relu')``); Dense ``units``,
    ``activation``, ``use_bias``, ``initializer``, ``kernel_regularizer``. Keras operations on Keras tensors (``X + Y``,
    ``keras.ops.add``, ``keras.ops.relu``) appear as the Add and Activation layers they are
    equivalent to. Keras 3 has no ``layer.output_shape``; this uses ``layer.output.shape``.

    Args:
        model: a ``keras.Model`` built with the functional API.

    Returns:
        A list of dicts of JSON-compatible values.
    """
    # Keras 3 lists operations such as `X + Y` or keras.ops.relu in model.operations, not in
    # model.layers; they compute the same as the Add and Activation('relu') layers.
    operations = list(getattr(model, "operations", model.layers))
    index = {id(op): i for i, op in enumerate(operations)}
    rows = []
    for layer in operations:
        name = type(layer).__name__
        output = layer.output
        shape = output.shape if hasattr(output, "shape") else None
        inputs, training = _inbound(layer, index)
        row = {
            "layer": name,
            "output_shape": _plain(tuple(shape)) if shape is not None else None,
            "params": int(layer.count_params()) if getattr(layer, "built", False) else 0,
            "inputs": inputs,
        }
        if not hasattr(layer, "count_params"):  # a keras operation, not a layer
            row["layer"] = _OPERATIONS.get(name, f"keras.ops.{name}")
            if row["layer"] == "Activation":
                row["activation"] = "relu"
            rows.append(row)
            continue
        config = layer.get_config()
        if name == "ReLU" and _is_plain_relu(config):
            # keras.layers.ReLU() computes exactly Activation('relu'): summarise it the same way.
            row["layer"], name, config = "Activation", "Activation", {"activation": "relu"}
        for key in _CONFIG_KEYS.get(name, ()):
            row[key] = _plain(config.get(key))
        if name in ("Conv2D", "Dense"):
            row["use_bias"] = config.get("use_bias")
            row["initializer"] = _initializer(layer)
            row["kernel_regularizer"] = _regularizer(layer)
        if name == "BatchNormalization":
            axis = config.get("axis")
            axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
            rank = len(layer.input.shape) if hasattr(layer, "input") else 4
            row["axis"] = axis % rank if isinstance(axis, int) else _plain(axis)
            row["momentum"] = config.get("momentum")
            row["epsilon"] = config.get("epsilon")
            row["training"] = training
        rows.append(row)
    return rows


def describe_row(row: dict | None) -> str:
    """A one-line description of a summary row, e.g. ``Conv2D(filters=4, kernel_size=[1, 1], ...)``."""
    if row is None:
        return "no layer here"
    skip = {"layer", "output_shape", "params", "inputs", "role", "where", "label", "index"}
    details = ", ".join(
        f"{k}={v!r}"
        for k, v in row.items()
        if k not in skip and not (k == "kernel_regularizer" and v is None)
    )
    return (
        f"{row['layer']}({details}) -> output shape {tuple(row['output_shape'] or ())}, "
        f"{row['params']} parameters"
    )


# ---------------------------------------------------------------------------------------------
# Hints: the likely mistake behind a difference, by the role of the layer in the reference
# ---------------------------------------------------------------------------------------------

_MAIN_CONVS = {"conv1": 1, "conv2": 2, "conv3": 3}


def _conv_hint(role: str, key: str, expected, received, context: dict) -> str:
    filters = context.get("filters")
    if key == "filters" and role in _MAIN_CONVS and filters:
        k = _MAIN_CONVS[role]
        if received in filters and filters.index(received) + 1 != k:
            other = filters.index(received) + 1
            return (
                f"main-path component {k} must use F{k} = {filters[k - 1]} filters, but received "
                f"F{other} = {received}: are F{k} and F{other} swapped?"
            )
        return f"main-path component {k} uses F{k} filters (filters = [F1, F2, F3])."
    if key == "filters" and role == "shortcut_conv":
        return "the shortcut convolution must output F3 channels, so that it can be added to the main path."
    if key == "kernel_size":
        if role == "conv2":
            return (
                "the middle convolution of the main path is f x f: use kernel_size=(f, f) from "
                "the argument f, not a fixed number."
            )
        if role == "conv3":
            return (
                "the third component is a 1x1 convolution (kernel_size=(1, 1)); only the middle one is f x f."
            )
        if role == "shortcut_conv":
            return (
                "the shortcut convolution is 1x1 (kernel_size=(1, 1)) with stride s; only the middle "
                "convolution of the main path is f x f."
            )
        if role == "stem_conv":
            return "the first convolution of ResNet50 is 7x7 with stride 2."
        return "this convolution is 1x1: kernel_size=(1, 1)."
    if key == "strides":
        if role == "conv1" or role == "shortcut_conv":
            return (
                "in a convolutional block the stride s goes on the first 1x1 convolution of the "
                "main path and on the shortcut convolution (strides=(s, s)); in an identity block "
                "every stride is 1."
            )
        if role == "stem_conv":
            return "the first convolution of ResNet50 is 7x7 with stride 2."
        return (
            "only the first 1x1 convolution of the main path and the shortcut convolution carry "
            "the stride s; this convolution uses strides=(1, 1)."
        )
    if key == "padding":
        if role == "conv2":
            return "the f x f convolution uses padding='same', so that its output keeps the height and width."
        if role == "stem_conv":
            return (
                "the 7x7 convolution of stage 1 keeps the default padding='valid': the ZeroPadding2D((3, 3)) "
                "before it already adds the border."
            )
        return (
            "this 1x1 convolution uses padding='valid' (with a 1x1 window, 'same' would add no pixel either)."
        )
    if key == "initializer":
        return _initializer_hint(expected, received)
    if key == "activation":
        return "Conv2D layers have no activation of their own here; apply ReLU with an Activation layer."
    return ""


#: What a Conv2D gets when no kernel_initializer is passed (as summarised by layer_summary).
_KERAS_DEFAULT_INITIALIZER = "GlorotUniform(seed=None)"


def _initializer_hint(expected, received) -> str:
    """The likely mistake behind another kernel initializer than the reference's."""
    expected_class = str(expected).split("(")[0]
    received_class = str(received).split("(")[0]
    call = "pass kernel_initializer=initializer(seed=0), with the initializer given as argument"
    if received == _KERAS_DEFAULT_INITIALIZER and expected_class == "GlorotUniform":
        return (
            "the kernel initializer has no seed: either kernel_initializer is missing (Keras's default "
            f"is an unseeded GlorotUniform) or the initializer is used without seed=0; {call}."
        )
    if received == _KERAS_DEFAULT_INITIALIZER:
        return f"no kernel_initializer was passed, so Keras's default (an unseeded GlorotUniform) is used; {call}."
    if received_class == expected_class and "seed=None" in str(received) and "seed=0" in str(expected):
        return (
            "the initializer given as argument is used, but without seed=0 (passed uncalled, or "
            f"called without the seed); {call}."
        )
    return (
        f"a fixed initializer is used instead of the one given as argument (here a {expected_class}); "
        f"{call}, whatever initializer the block receives."
    )


def _call_hint(row: dict, key: str) -> str:
    """Hints for a difference inside a block of ResNet50: the likely mistake is in the call."""
    if key == "training":
        return "call the blocks with their default training argument: identity_block(X, 3, [...])."
    if key == "kernel_size" and row.get("role") == "conv2":
        return "every block of ResNet50 uses f = 3: identity_block(X, 3, filters), convolutional_block(X, f=3, ...)."
    if key == "initializer":
        return "call the blocks with their default initializer (do not pass one)."
    if key == "filters":
        return (
            "the stages use filters [64, 64, 256], [128, 128, 512], [256, 256, 1024] and [512, 512, 2048], "
            "the same list for the convolutional block and the identity blocks of a stage."
        )
    if key == "strides":
        return "the convolutional blocks use s = 1 in stage 2 and s = 2 in stages 3, 4 and 5."
    return ""


def hint_for(row: dict, key: str, expected, received, context: dict | None = None) -> str:
    """The likely mistake behind ``received != expected`` for attribute ``key`` of a reference row.

    Args:
        row: the reference summary row (with ``role`` when known).
        key: the attribute that differs (``"filters"``, ``"strides"``, ``"inputs"``, ...).
        expected: the reference value.
        received: the student's value.
        context: extra facts of the test case, such as ``{"filters": [F1, F2, F3], "f": f, "s": s}``.

    Returns:
        A hint in one or two sentences, or a generic hint when no specific one applies.
    """
    context = context or {}
    role = row.get("role", "")
    layer = row["layer"]
    if context.get("model") and "block" in (row.get("where") or ""):
        hint = _call_hint(row, key)
        if hint:
            return hint
    if key == "kernel_regularizer":
        return "the specification has no weight regularization: leave out kernel_regularizer."
    if key == "use_bias":
        return (
            f"this {layer} keeps its bias, Keras's default use_bias=True, as in the specification "
            "(the parameter count includes it): leave out use_bias."
        )
    if layer == "Conv2D":
        hint = _conv_hint(role, key, expected, received, context)
        if hint:
            return hint
    if layer == "BatchNormalization":
        if key == "axis":
            return "normalise over the channels axis: BatchNormalization(axis=3) (channels_last)."
        if key == "training":
            if role == "stem_bn":
                return (
                    "the stage 1 BatchNorm is called as given, BatchNormalization(axis=3)(X), without a "
                    "training argument."
                )
            if received == "not passed":
                return (
                    "this BatchNorm is called without the training argument: call every "
                    "BatchNormalization of the block as BatchNormalization(axis=3)(X, training=training), "
                    "so that the block follows its training argument."
                )
            return (
                f"training is hard-coded here (training={received!r}): pass the block's own argument on, "
                "BatchNormalization(axis=3)(X, training=training), so that the block follows the mode "
                "it is called with."
            )
        if key == "params":
            return (
                "BatchNormalization(axis=3) with its default settings has 4 parameters per channel "
                "(gamma, beta, moving mean, moving variance); check the axis and keep the defaults."
            )
        if key in ("momentum", "epsilon"):
            return "keep BatchNormalization's default momentum and epsilon: BatchNormalization(axis=3)."
    if layer == "Activation" and key == "activation":
        return "the blocks use ReLU activations: Activation('relu')."
    if layer == "Dense":
        if key == "activation" and received in (None, "linear"):
            return (
                "the top layer has no activation: it must output class probabilities, so it uses "
                "activation='softmax'."
            )
        if key == "activation":
            return f"the top layer outputs class probabilities that sum to 1: activation='softmax', not {received!r}."
        if key == "units":
            return "the top layer has one unit per class: Dense(classes, ...)."
        if key == "initializer":
            return "the top layer uses kernel_initializer=glorot_uniform(seed=0)."
    if layer in ("MaxPooling2D", "AveragePooling2D"):
        if role == "avg_pool" and key == "padding":
            size = context.get("input_size")
            on = f"on its {size[0]} x {size[1]} input " if size else ""
            return (
                f"AveragePooling2D keeps its default padding='valid': {on}padding='same' adds a border of "
                "zeros that the last windows average over (on the 2 x 2 map of a 64 x 64 image it adds "
                "none, on an odd-sized map it does)."
            )
        if key == "padding":
            return "MaxPooling2D of stage 1 keeps its default padding='valid': MaxPooling2D((3, 3), strides=(2, 2))."
        if role == "avg_pool" and key == "pool_size":
            return "after stage 5 average over 2 x 2 windows: AveragePooling2D((2, 2))."
        if role == "avg_pool":
            return (
                "after stage 5 use AveragePooling2D(pool_size=(2, 2)) (strides default to the pool "
                "size, padding 'valid')."
            )
        return "stage 1 ends with MaxPooling2D((3, 3), strides=(2, 2))."
    if layer == "ZeroPadding2D":
        return "ResNet50 starts with ZeroPadding2D((3, 3))."
    if layer == "InputLayer" and key == "output_shape":
        return "the model's input has the shape given as argument: Input(input_shape), not a fixed shape."
    if key == "inputs":
        if layer == "Add" and isinstance(received, list) and len(set(received)) < len(received):
            return (
                "both inputs of the Add are the same tensor: the Add combines the main path (after its "
                "last BatchNorm) with the shortcut, X_shortcut."
            )
        if layer == "Add":
            return (
                "the Add combines the main path (after its last BatchNorm) and the shortcut, in "
                "this order: Add()([X, X_shortcut]); the shortcut is the block's input X (identity "
                "block) or the input after the shortcut CONV2D and BatchNorm (convolutional block)."
            )
        if role == "shortcut_conv":
            return "the shortcut starts from the block's input (save it as X_shortcut before the main path)."
        return (
            "this layer is fed by the wrong tensor: follow the main path in order, each layer "
            "taking the previous output."
        )
    if key == "output_shape":
        return (
            "the output shape differs: check strides, padding and the number of filters of the "
            "layers before this one."
        )
    if key == "params":
        return "the number of parameters differs: check the number of filters and the kernel size."
    return "compare this layer's settings with the specification in the notebook."


def role_text(row: dict) -> str:
    """Where a reference row sits, e.g. ``stage 3, convolutional block: main path CONV2D 1x1``."""
    parts = [p for p in (row.get("where"), row.get("label")) if p]
    return ": ".join(parts)


def _missing_hint(row: dict) -> str:
    role = row.get("role", "")
    if role == "out_relu":
        return "apply the final ReLU after the Add: Activation('relu') on the sum."
    if role == "shortcut_conv":
        return (
            "the shortcut CONV2D is followed by a BatchNormalization(axis=3) too (and by no activation) "
            "before the Add."
        )
    if role in _MAIN_CONVS:
        return (
            "each CONV2D of the main path is followed by a BatchNormalization(axis=3), before its ReLU "
            "if it has one."
        )
    if role.startswith("bn") or role == "shortcut_bn":
        return "every CONV2D of the block is followed by a BatchNormalization(axis=3), the shortcut's too."
    if role.startswith("relu"):
        return "the first two components of the main path end with a ReLU activation."
    if role == "add":
        return "add the shortcut to the main path with Add()([X, X_shortcut]) before the final ReLU."
    if role == "flatten":
        return "after AveragePooling2D, Flatten() turns the (1, 1, 2048) volume into a vector for the Dense layer."
    if role == "avg_pool":
        return "after stage 5 use AveragePooling2D((2, 2)), then Flatten()."
    if role in ("shortcut_conv",):
        return "the convolutional block's shortcut has a CONV2D 1x1 (F3 filters, stride s) followed by BatchNorm."
    return "a layer of the specification is missing here."


# ---------------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------------


def failure(function: str, check: str, where: str, expected, received, hint: str) -> PublicTestFailure:
    """Build the exception a public test raises, with a message a student can act on.

    Args:
        function: the graded function's name, e.g. ``"identity_block"``.
        check: the check that failed, e.g. ``"structure"`` or ``"values with training=False"``.
        where: the place of the difference (a layer, an output element), or ``""``.
        expected: what the reference solution gives (any printable value).
        received: what the student's function gave.
        hint: the likely mistake, without giving the solution away.

    Returns:
        A :class:`PublicTestFailure` (an ``AssertionError``) to raise.
    """
    lines = [f"{function}: the check '{check}' failed" + (f" at {where}" if where else "") + "."]
    lines.append(f"    expected: {expected}")
    lines.append(f"    received: {received}")
    if hint:
        lines.append(f"    hint: {hint}")
    return PublicTestFailure("\n".join(lines))


def _stage_counts(rows: list[dict]) -> Counter:
    """Number of residual blocks (Add layers) per number of output channels (F3 of the stage's
    blocks: 256, 512, 1024, 2048), in the order of the stages. Channels, not whole shapes, so that
    a layer of the stem that changes the height and width does not look like a stage's blocks."""
    return Counter((r["output_shape"] or [None])[-1] for r in rows if r["layer"] == "Add")


_EXTRA_HINTS = {
    "GlobalAveragePooling2D": "use AveragePooling2D((2, 2)) followed by Flatten(), not GlobalAveragePooling2D.",
    "Activation": (
        "one activation too many: the first two components of the main path end with a ReLU, the "
        "third does not (its BatchNorm goes straight into the Add), the shortcut has none, and the "
        "block ends with one ReLU after the Add."
    ),
    "MaxPooling2D": (
        "ResNet50 has one MaxPooling2D, at the end of stage 1; after stage 5 comes AveragePooling2D((2, 2))."
    ),
    "BatchNormalization": "each CONV2D is followed by exactly one BatchNormalization; nothing else is.",
    "Dropout": "the specification has no Dropout layer.",
    "Dense": "the network has a single Dense layer, the softmax top layer.",
}


def _order_hint(row: dict) -> str:
    role = row.get("role", "")
    if role == "add":
        return (
            "the Add comes right after the last BatchNorm of the main path (no ReLU in between); "
            "the ReLU is applied to the sum."
        )
    if role == "out_relu":
        return "the block ends with the ReLU applied to the sum of the main path and the shortcut."
    if role.startswith("relu"):
        return (
            "each of the first two components of the main path is CONV2D -> BatchNorm -> ReLU, in this order."
        )
    if role.startswith("bn") or role == "shortcut_bn":
        return "each CONV2D is directly followed by its BatchNormalization."
    if role == "flatten":
        return "Flatten comes after the AveragePooling2D and before the Dense top layer."
    if role == "shortcut_conv":
        return (
            "the shortcut CONV2D takes the block's input (X_shortcut, saved before the main path), "
            "not a tensor of the main path."
        )
    return "the layers are in another order than in the specification."


def _consumers(rows: list[dict]) -> dict[int, list[int]]:
    """For each row index, the indices of the rows it feeds."""
    consumers: dict[int, list[int]] = {i: [] for i in range(len(rows))}
    for j, row in enumerate(rows):
        for i in row.get("inputs") or []:
            if i in consumers:
                consumers[i].append(j)
    return consumers


def _conv_without_batchnorm(expected: list[dict], received: list[dict]) -> tuple[int, dict | None] | None:
    """A received Conv2D that no BatchNormalization follows, and the reference row it stands for.

    In a block, the role follows from the graph: a CONV2D fed by the block's input (row 0) is the
    first of the main path or the shortcut's, one that feeds the Add is the last of the main path or
    the shortcut's. In ResNet50 (rows labelled with ``where``) the reference row is left unknown.

    Returns:
        ``(index in received, reference row or None)``, or ``None`` when every Conv2D has its BatchNorm.
    """
    consumers = _consumers(received)
    for j, row in enumerate(received):
        if row["layer"] != "Conv2D":
            continue
        fed = [received[k]["layer"] for k in consumers[j]]
        if "BatchNormalization" in fed:
            continue
        if any("where" in r for r in expected):
            return j, None
        from_input = row.get("inputs") == [0]
        if "Add" in fed:
            role = "shortcut_conv" if from_input else "conv3"
        elif "Activation" in fed:
            role = "conv1" if from_input else "conv2"
        else:
            return j, None
        reference = next((r for r in expected if r.get("role") == role), None)
        return j, reference
    return None


def _shortcut_side(rows: list[dict], start: int) -> bool:
    """Whether the branch that ends at row ``start`` is a block's shortcut (at most one CONV2D
    between the block's input and it) rather than its main path (three)."""
    convs, i = 0, start
    seen = set()
    while rows[i].get("inputs") and i not in seen:
        seen.add(i)
        if rows[i]["layer"] == "Conv2D":
            convs += 1
        i = rows[i]["inputs"][0]
        if rows[i]["layer"] in ("Add", "InputLayer", "MaxPooling2D"):  # the block's input
            break
    return convs <= 1


def _extra_activation(received: list[dict]) -> tuple[int, str] | None:
    """A received ReLU where the specification has none, and a hint that says where it sits:
    right before an Add (on the main path or on the shortcut), or right after another ReLU."""
    consumers = _consumers(received)
    for j, row in enumerate(received):
        if row["layer"] != "Activation":
            continue
        if any(received[k]["layer"] == "Add" for k in consumers[j]):
            if _shortcut_side(received, j):
                return j, (
                    "a ReLU on the shortcut: the shortcut has no activation; it goes into the Add as it "
                    "is (after its BatchNorm in a convolutional block)."
                )
            return j, (
                "a ReLU on the main path just before the Add: the third component of the main path has "
                "no ReLU, its BatchNorm goes straight into the Add; the block's last ReLU comes after the Add."
            )
        inputs = row.get("inputs") or []
        if inputs and received[inputs[0]]["layer"] == "Activation":
            return j, "two ReLUs in a row: the block ends with one ReLU, applied to the sum after the Add."
    return None


def _first_missing(expected, exp_classes, rec_classes, name):
    """The first reference layer of class ``name`` left without a counterpart by an alignment."""
    matcher = difflib.SequenceMatcher(a=exp_classes, b=rec_classes, autojunk=False)
    for op, i1, i2, _, _ in matcher.get_opcodes():
        for i in range(i1, i2):
            if op in ("delete", "replace") and exp_classes[i] == name:
                return expected[i]
    return expected[exp_classes.index(name)]


def _first_extra(exp_classes, rec_classes, name):
    """Index of the first layer of class ``name`` in the student's list that an alignment with
    the reference leaves without a counterpart."""
    matcher = difflib.SequenceMatcher(a=exp_classes, b=rec_classes, autojunk=False)
    for op, _, _, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            if op in ("insert", "replace") and rec_classes[j] == name:
                return j
    return [j for j, c in enumerate(rec_classes) if c == name][-1]


def _counterpart(expected, exp_classes, rec_classes, j: int) -> dict | None:
    """The reference row that an alignment of the class sequences pairs with received row ``j``."""
    matcher = difflib.SequenceMatcher(a=exp_classes, b=rec_classes, autojunk=False)
    for op, i1, _, j1, j2 in matcher.get_opcodes():
        if op == "equal" and j1 <= j < j2:
            return expected[i1 + j - j1]
    return None


def _between(expected, received, exp_classes, rec_classes, j: int) -> str:
    """Where an extra received layer sits, by the reference layers around it: ``", between A and
    B"`` (the layer feeding it and the first it feeds), or ``""`` when neither has a counterpart."""
    inputs = received[j].get("inputs") or []
    before = _counterpart(expected, exp_classes, rec_classes, inputs[0]) if inputs else None
    after_index = next(iter(_consumers(received)[j]), None)
    after = _counterpart(expected, exp_classes, rec_classes, after_index) if after_index is not None else None
    names = [role_text(r) for r in (before, after) if r is not None and role_text(r)]
    if len(names) == 2:
        return f", between {names[0]} and {names[1]}"
    if names and before is not None:
        return f", after {names[0]}"
    if names:
        return f", before {names[0]}"
    return ""


def _compare_layer_lists(function, expected, received, exp_classes, rec_classes) -> None:
    """Explain why the sequences of layer classes differ: a layer missing, extra, or out of order."""
    exp_counts, rec_counts = Counter(exp_classes), Counter(rec_classes)
    if exp_counts != rec_counts:
        classes = list(dict.fromkeys(exp_classes + rec_classes))
        # A layer class that the specification does not use at all says most about the mistake.
        classes.sort(key=lambda name: (exp_counts.get(name, 0) > 0, rec_counts[name] <= exp_counts[name]))
        for name in classes:
            n_exp, n_rec = exp_counts.get(name, 0), rec_counts.get(name, 0)
            if n_rec < n_exp:
                row = _first_missing(expected, exp_classes, rec_classes, name)
                where = f"the {name} layers"
                hint = _missing_hint(row)
                if name == "BatchNormalization":  # several BatchNorms look alike: find the bare CONV2D
                    bare = _conv_without_batchnorm(expected, received)
                    if bare is not None:
                        j, reference = bare
                        conv = (
                            role_text(reference)
                            if reference
                            else f"layer {received[j].get('index', j)}: {describe_row(received[j])}"
                        )
                        where += f" ({conv} is not followed by a BatchNorm)"
                        if reference:
                            hint = _missing_hint(reference)
                else:
                    where += f" (likely missing: {role_text(row)})"
                raise failure(
                    function, "layers", where, f"{n_exp} {name} layers", f"{n_rec} {name} layers", hint
                )
            if n_rec > n_exp:
                position = _first_extra(exp_classes, rec_classes, name)
                hint = _EXTRA_HINTS.get(
                    name, "your function builds a layer that the specification does not have; remove it."
                )
                activation = _extra_activation(received) if name == "Activation" else None
                extra = None if activation else _extra_layer(expected, received, name)
                if activation is not None:
                    position, where_hint = activation
                    hint = f"one activation too many, {where_hint}"
                if extra is not None:
                    position, between = extra
                    if between.startswith(", a second"):
                        hint = f"the same {name} is applied twice in a row here; the specification applies it once."
                else:
                    between = _between(expected, received, exp_classes, rec_classes, position)
                raise failure(
                    function,
                    "layers",
                    f"the {name} layers (layer {received[position].get('index', position)}: "
                    f"{describe_row(received[position])}{between})",
                    f"{n_exp} {name} layers",
                    f"{n_rec} {name} layers",
                    hint,
                )
    for i, (exp_class, rec_class) in enumerate(zip(exp_classes, rec_classes, strict=True)):
        if exp_class != rec_class:
            row = expected[i]
            raise failure(
                function,
                "order of the layers",
                f"layer {row.get('index', i)} ({role_text(row)})",
                describe_row(row),
                describe_row(received[i]),
                _order_hint(row),
            )


def compare_summaries(
    function: str, expected: list[dict], received: list[dict], context=None, case: str = ""
) -> list[str]:
    """Compare a student's per-layer summary with the reference; raise at the first difference.

    Both summaries are first put in a canonical form in which spellings that compute the same
    function on this case are the same: a ReLU applied to a ReLU's output is dropped
    (:func:`collapse_repeated_relus`); the received layers are listed in the reference's order
    when the two graphs have the same shape, whatever order the code created them in and
    whichever order the operands of an Add come in (:func:`align_to_reference`); padding 'same'
    that adds no pixel on the layer's input is 'valid', and a BatchNorm called without
    ``training`` gets the mode it runs in (:func:`canonical_settings`).
    Then layers are aligned by class name (so that a missing, extra or misplaced layer is
    reported as such), and compared attribute by attribute in a fixed order: layer class,
    inputs, the per-type settings, output shape, parameter count.

    Args:
        function: the graded function's name, for the message.
        expected: the reference rows (from ``reference_outputs.json``), with ``role``/``where``.
        received: rows from :func:`layer_summary` of the student's model.
        context: facts of the test case used by the hints (``filters``, ``f``, ``s``; ``model``
            when the rows are those of a whole network).
        case: the test case's name, added to the first line of the message.

    Returns:
        Notes on the equivalent spellings found (one line each), for the success message.

    Raises:
        PublicTestFailure: at the first difference, with expected/received and a hint.
    """
    try:
        return _compare_summaries(function, expected, received, context or {})
    except PublicTestFailure as err:
        if not case:
            raise
        first, _, rest = str(err).partition("\n")
        raise PublicTestFailure(f"{first[:-1]}, for the case {case}.\n{rest}") from None


#: Row keys that say where a layer sits rather than what it is.
_POSITION_KEYS = ("inputs", "role", "where", "label", "index")


# ---------------------------------------------------------------------------------------------
# The canonical form: spellings that compute the same function compare equal
# ---------------------------------------------------------------------------------------------


def same_padding_adds_nothing(size, window, strides, dilation=(1, 1)) -> bool:
    """Whether ``padding='same'`` adds no pixel for a window on an input of this height and width,
    so that it computes exactly what ``padding='valid'`` computes.

    TensorFlow's 'same' pads ``max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)`` pixels along
    an axis of size ``n`` (window ``k``, stride ``s``, dilation ``d``); with no padding, its output
    is the 'valid' output (a 1x1 window with any stride; a pooling window that tiles the input).

    Args:
        size: the input's (height, width) in pixels; ``None`` entries (unknown) make it False.
        window: the (height, width) of the kernel or pooling window.
        strides: the (vertical, horizontal) strides.
        dilation: the dilation rates (1 for pooling).

    Returns:
        True when neither axis gets a padding pixel.
    """
    for n, k, s, d in zip(size, window, strides, dilation, strict=False):
        if not isinstance(n, int) or not all(isinstance(v, int) and v > 0 for v in (k, s, d)):
            return False
        if max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0) > 0:
            return False
    return True


def _input_size(rows: list[dict], row: dict):
    """(height, width) of the tensor feeding a row, from the output shape of the row before it."""
    inputs = row.get("inputs") or []
    if not inputs or not 0 <= inputs[0] < len(rows):
        return None
    shape = rows[inputs[0]].get("output_shape") or []
    return tuple(shape[1:3]) if len(shape) == 4 else None


def _is_relu(row: dict) -> bool:
    return row.get("layer") == "Activation" and row.get("activation") == "relu"


def _idempotent_pair(rows: list[dict], row: dict) -> bool:
    """Whether ``row`` applies a ReLU to a ReLU's output, or a Flatten to a Flatten's (applied
    twice, either computes what it computes once)."""
    inputs = row.get("inputs") or []
    if len(inputs) != 1 or not 0 <= inputs[0] < len(rows):
        return False
    before = rows[inputs[0]]
    return (_is_relu(row) and _is_relu(before)) or (row.get("layer") == before.get("layer") == "Flatten")


def collapse_repeated_relus(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """The rows without a ReLU applied to the output of another ReLU (ReLU(ReLU(x)) = ReLU(x)) or
    a Flatten applied to a Flatten's: whatever it fed takes the first one's output instead, and
    the indices are renumbered.

    Returns:
        ``(rows, notes)``: new rows (the given ones are unchanged) and a note per ReLU removed.
    """
    drop = {j: row["inputs"][0] for j, row in enumerate(rows) if _idempotent_pair(rows, row)}
    if not drop:
        return rows, []

    def source(i: int) -> int:
        while i in drop:
            i = drop[i]
        return i

    kept = [i for i in range(len(rows)) if i not in drop]
    new_index = {old: new for new, old in enumerate(kept)}
    collapsed = []
    for i in kept:
        row = dict(rows[i])
        row["inputs"] = [new_index.get(source(k), -1) for k in row.get("inputs") or []]
        collapsed.append(row)
    notes = [
        f"layer {j} applies a ReLU to the output of a ReLU, which changes nothing (ReLU(ReLU(x)) = ReLU(x)); "
        "the notebook applies it once"
        if _is_relu(rows[j])
        else f"layer {j} flattens an output that is already flat, which changes nothing; the notebook "
        "flattens once"
        for j in sorted(drop)
    ]
    return collapsed, notes


def canonical_settings(rows: list[dict]) -> tuple[list[dict], list[tuple[int, str, object, str]]]:
    """The rows with each setting in a canonical form, and notes on what was rewritten.

    - Padding 'same' that adds no pixel on the layer's input (:func:`same_padding_adds_nothing`)
      becomes 'valid'.
    - A BatchNorm called without ``training`` runs in the mode of the call that reaches it: in
      Keras 3 a layer called without ``training`` takes the value of the last layer called before
      it with one in the same model call (the call context), so after a BatchNorm called with
      ``training=training`` it follows the same mode. Its ``training`` becomes that value; before
      any such layer it stays ``"not passed"``.

    (Other spellings are already one in the summaries: ``ReLU()`` and ``keras.ops.relu`` are
    ``Activation('relu')``, ``X + Y`` and ``keras.ops.add`` are ``Add``, integer and tuple sizes
    are lists, axis -1 is axis 3.)

    Args:
        rows: summary rows in the model's order (the order Keras runs them in).

    Returns:
        ``(rows, notes)``: new rows (the given ones are unchanged) and ``(index, setting, value as
        written, text)`` notes.
    """
    canonical, notes = [], []
    mode = None  # the training value set by the last layer called with one
    for i, row in enumerate(rows):
        row = dict(row)
        if row.get("padding") == "same":
            window = row.get("kernel_size") or row.get("pool_size")
            size = _input_size(rows, row)
            dilation = row.get("dilation_rate") or [1, 1]
            if (
                window
                and size
                and same_padding_adds_nothing(size, window, row.get("strides") or window, dilation)
            ):
                row["padding"] = "valid"
                notes.append(
                    (
                        i,
                        "padding",
                        "same",
                        "here 'same' adds no pixel (a 1x1 window, or windows that tile the input)",
                    )
                )
        if row.get("training") in (True, False):
            mode = row["training"]
        elif row.get("training") == "not passed" and mode is not None:
            row["training"] = mode
            notes.append(
                (
                    i,
                    "training",
                    "not passed",
                    "called without training=training; it computes the same, since in Keras 3 it runs in "
                    "the mode of the BatchNorm called before it (the call context), but the notebook passes "
                    "training=training to each BatchNorm, which does not depend on that order",
                )
            )
        canonical.append(row)
    return canonical, notes


def _structure_keys(rows: list[dict]) -> list[str]:
    """For each row, a key of the subgraph that ends there: the layer classes and how they are
    connected, with the operands of an Add (a sum: commutative) in a canonical order. Settings
    are left out, so that two graphs of the same shape get the same keys whatever they differ in."""
    import hashlib

    keys: list[str | None] = [None] * len(rows)

    def key(i: int) -> str:
        todo = [i]
        while todo:  # iteratively, inputs first: a graph deeper than the recursion limit is fine
            k = todo[-1]
            if keys[k] is not None:
                todo.pop()
                continue
            inputs = [j for j in rows[k].get("inputs") or [] if 0 <= j < len(rows)]
            pending = [j for j in inputs if keys[j] is None and j not in todo]
            if pending:
                todo.extend(pending)
                continue
            parts = [keys[j] or "?" for j in inputs]
            if rows[k]["layer"] == "Add":
                parts.sort()
            text = f"{rows[k]['layer']}({','.join(parts)};{len(rows[k].get('inputs') or [])})"
            keys[k] = hashlib.sha1(text.encode()).hexdigest()[:16]
            todo.pop()
        return keys[i]

    for i in range(len(rows)):
        key(i)
    return keys  # type: ignore[return-value]


def _pairing(expected: list[dict], received: list[dict]) -> tuple[dict[int, int], list[int]] | None:
    """Pair each reference row with the received row in the same place of a graph of the same
    shape, walking both from the output back (see :func:`align_to_reference`).

    Returns:
        ``(reference index -> received index, reference indices of the Add layers whose operands
        come in the other order)``, or ``None`` when the graphs differ in shape.
    """
    if not expected or len(expected) != len(received):
        return None
    e_keys, r_keys = _structure_keys(expected), _structure_keys(received)
    if e_keys[-1] != r_keys[-1]:
        return None
    mapping: dict[int, int] = {}
    swapped: list[int] = []
    todo = [(len(expected) - 1, len(received) - 1)]
    while todo:
        i, j = todo.pop()
        if i in mapping:
            if mapping[i] != j:
                return None
            continue
        mapping[i] = j
        e_in, r_in = list(expected[i].get("inputs") or []), list(received[j].get("inputs") or [])
        if len(e_in) != len(r_in):
            return None
        if expected[i]["layer"] == "Add" and len(e_in) == 2:
            straight = [e_keys[a] for a in e_in] == [r_keys[b] for b in r_in]
            crossed = [e_keys[a] for a in e_in] == [r_keys[b] for b in reversed(r_in)]
            if crossed and not straight:
                r_in.reverse()
                swapped.append(i)
        todo.extend(zip(e_in, r_in, strict=True))
    if len(mapping) != len(expected) or len(set(mapping.values())) != len(received):
        return None
    return mapping, swapped


def _without_row(rows: list[dict], j: int) -> list[dict]:
    """The rows without row ``j``: what it fed takes its (first) input instead; renumbered."""
    source = (rows[j].get("inputs") or [-1])[0]
    reduced = []
    for i, row in enumerate(rows):
        if i == j:
            continue
        row = dict(row)
        inputs = [source if k == j else k for k in row.get("inputs") or []]
        row["inputs"] = [k - 1 if k > j else k for k in inputs]
        reduced.append(row)
    return reduced


def _extra_layer(expected: list[dict], received: list[dict], name: str) -> tuple[int, str] | None:
    """A received layer of class ``name`` without which the graph is the reference's, and where it
    sits (``", a second Conv2D right after main path component 3: ..."``); layers applied to the
    output of a layer of their own class are tried first."""
    candidates = [j for j, row in enumerate(received) if row["layer"] == name and row.get("inputs")]
    candidates.sort(key=lambda j: received[received[j]["inputs"][0]]["layer"] != name)
    for j in candidates:
        paired = _pairing(expected, _without_row(received, j))
        if paired is None:
            continue
        inverse = {r: e for e, r in paired[0].items()}
        k = received[j]["inputs"][0]
        reference = expected[inverse[k - 1 if k > j else k]]
        if received[k]["layer"] == name:
            return j, f", a second {name} right after {role_text(reference)}"
        return j, f", right after {role_text(reference)}"
    return None


def align_to_reference(expected: list[dict], received: list[dict]) -> tuple[list[dict], list[str]] | None:
    """The received rows in the reference's order, when the two graphs have the same shape.

    Keras lists a model's layers in an order that depends on how the code was written (the
    shortcut built before or after the main path, the operands of an Add in either order). Walking
    both graphs from their output back to the input, each received layer is paired with the
    reference layer in the same place; the operands of an Add are paired by what feeds them, not
    by their order. The received rows are then listed in the reference's order, with ``inputs``
    renumbered to the reference's indices (an Add's in the reference's order).

    Returns:
        ``(rows, notes)`` (the notes say what was reordered), or ``None`` when the graphs differ
        in shape (a layer missing, extra or fed by another tensor): then no pairing is attempted.
    """
    paired = _pairing(expected, received)
    if paired is None:
        return None
    mapping, swapped = paired
    inverse = {j: i for i, j in mapping.items()}
    aligned = []
    for i in range(len(expected)):
        row = dict(received[mapping[i]])
        inputs = [inverse.get(k, -1) for k in row.get("inputs") or []]
        if i in swapped:
            inputs.reverse()
        row["inputs"] = inputs
        aligned.append(row)
    notes = [
        f"the notebook writes Add()([X, X_shortcut]); yours adds the same two tensors in the other "
        f"order (layer {expected[i].get('index', i)}, {role_text(expected[i]) or 'Add'}), which computes the same sum"
        for i in swapped
    ]
    if any(mapping[i] != i for i in mapping) and not swapped:
        notes.append(
            "your layers are created in another order than the notebook's; they are connected the same way"
        )
    return aligned, notes


def _compare_summaries(function: str, expected: list[dict], received: list[dict], context: dict) -> list[str]:
    """Compare the canonical forms of the two summaries (see :func:`compare_summaries`)."""
    expected, _ = collapse_repeated_relus(expected)
    received, notes = collapse_repeated_relus(received)
    aligned = align_to_reference(expected, received)
    if aligned is not None:
        received, order_notes = aligned
        notes += order_notes
    written = expected
    expected, _ = canonical_settings(expected)
    received, setting_notes = canonical_settings(received)
    _compare_rows(function, expected, received, context)  # the rows now correspond by index
    for index, key, value, text in setting_notes:
        if written[index].get(key) == value:  # the notebook writes it this way too: nothing to note
            continue
        where = role_text(expected[index]) if aligned is not None else ""
        if key == "training":
            shown = expected[index].get("index", index)
            notes.append(f"layer {shown}" + (f" ({where})" if where else "") + f" is {text}")
            continue
        notes.append(
            f"the notebook writes {key}={written[index].get(key)!r} at layer {expected[index].get('index', index)}"
            + (f" ({where})" if where else "")
            + f"; yours, {key}={value!r}, computes the same: {text}"
        )
    return notes


def _compare_rows(function: str, expected: list[dict], received: list[dict], context: dict) -> None:
    exp_classes = [r["layer"] for r in expected]
    rec_classes = [r["layer"] for r in received]
    if exp_classes != rec_classes:
        if function == "ResNet50":
            exp_counts, rec_counts = _stage_counts(expected), _stage_counts(received)
            if exp_counts != rec_counts:
                for shape, n in exp_counts.items():  # shape: the number of output channels
                    if rec_counts.get(shape) != n:
                        raise failure(
                            function,
                            "number of blocks per stage",
                            f"the stage whose blocks output {shape} channels"
                            if shape
                            else f"{context.get('part', 'a stage')}",
                            f"{n} residual blocks (1 convolutional block + {n - 1} identity blocks)",
                            f"{rec_counts.get(shape, 0)} blocks with {shape} output channels; blocks per "
                            f"number of channels: {dict(rec_counts)}",
                            "each stage is one convolutional block followed by identity blocks: 2, 3, 5 "
                            "and 2 identity blocks in stages 2 to 5; a stage needs a convolutional block "
                            "first because its output channels (and size) change.",
                        )
        _compare_layer_lists(function, expected, received, exp_classes, rec_classes)
    for i, (exp_row, rec_row) in enumerate(zip(expected, received, strict=True)):
        keys = [
            k
            for k in exp_row
            if k not in ("layer", "role", "where", "label", "index", "output_shape", "params")
        ]
        keys += ["output_shape", "params"]
        for key in keys:
            if exp_row.get(key) != rec_row.get(key):
                where = f"layer {exp_row.get('index', i)} ({role_text(exp_row)})"
                if key == "padding":
                    context = dict(context, input_size=_input_size(received, rec_row))
                hint = hint_for(exp_row, key, exp_row.get(key), rec_row.get(key), context)
                raise failure(
                    function,
                    f"layer settings: {key}",
                    where,
                    f"{key}={exp_row.get(key)!r}",
                    f"{key}={rec_row.get(key)!r}",
                    hint,
                )


def compare_values(function: str, check: str, expected, received, hint: str) -> None:
    """Compare an output array with the reference within ``RTOL``/``ATOL``.

    Raises:
        PublicTestFailure: naming the shape, or the first differing element with both values and
            the largest absolute difference.
    """
    import numpy as np

    expected = np.asarray(expected, dtype=np.float64)
    received = np.asarray(received, dtype=np.float64)
    if expected.shape != received.shape:
        raise failure(function, check, "output shape", expected.shape, received.shape, hint)
    close = np.isclose(received, expected, rtol=RTOL, atol=ATOL)
    if not close.all():
        bad = tuple(int(i) for i in np.argwhere(~close)[0])
        diff = float(np.max(np.abs(received - expected)))
        raise failure(
            function,
            check,
            f"output element {bad} (largest difference {diff:.4g}, tolerance rtol={RTOL}, atol={ATOL})",
            f"{expected[bad]:.6g}",
            f"{received[bad]:.6g}",
            hint,
        )


# ---------------------------------------------------------------------------------------------
# ResNet50's layers stage by stage: a wrong layer costs the points of its own stage
# ---------------------------------------------------------------------------------------------

#: The parts of ResNet50 whose layers are graded separately, and the reference ``where`` texts
#: (their first words) that belong to each.
RESNET50_PARTS = {
    "stages 1 and 2": ("stage 1", "stage 2"),
    "stage 3": ("stage 3",),
    "stage 4": ("stage 4",),
    "stage 5": ("stage 5",),
    "top": ("top",),
}


def reference_part(row: dict) -> str | None:
    """The part of ResNet50 (a key of :data:`RESNET50_PARTS`) a labelled reference row is in."""
    stage = (row.get("where") or "").split(",")[0]
    return next((part for part, stages in RESNET50_PARTS.items() if stage in stages), None)


def split_parts(expected: list[dict], received: list[dict]) -> dict[str, list[int]] | None:
    """The indices of the received rows in each part of ResNet50.

    ResNet50 is graded with the reference blocks, so each block ends with a ReLU fed by an Add,
    and Keras lists a block's layers together (they lie between the block's input and output).
    The received rows are cut into the stem (up to the first tensor that feeds two layers: the
    first block's input), the blocks (each up to its final ReLU), and the top (after the last
    block). A block belongs to the stage whose reference blocks output as many channels (F3),
    else to the stage of the block before it.

    Returns:
        Part name to received row indices, or ``None`` when the rows cannot be cut this way.
    """
    consumers = _consumers(received)
    first_input = next((i for i in range(len(received)) if len(consumers[i]) >= 2), None)
    ends = [
        j
        for j, row in enumerate(received)
        if row["layer"] == "Activation" and row.get("inputs") and received[row["inputs"][0]]["layer"] == "Add"
    ]
    if first_input is None or not ends or ends[0] <= first_input:
        return None
    channels = {}
    for row in expected:
        if (
            row["layer"] == "Activation"
            and row.get("inputs")
            and expected[row["inputs"][0]]["layer"] == "Add"
        ):
            channels.setdefault((row.get("output_shape") or [None])[-1], reference_part(row))
    parts: dict[str, list[int]] = {part: [] for part in RESNET50_PARTS}
    parts["stages 1 and 2"] += list(range(first_input + 1))
    start, current = first_input + 1, "stages 1 and 2"
    for end in ends:
        current = channels.get((received[end].get("output_shape") or [None])[-1], current)
        parts[current] += list(range(start, end + 1))
        start = end + 1
    parts["top"] += list(range(start, len(received)))
    return parts


def _part_rows(rows: list[dict], indices: list[int]) -> list[dict]:
    """The rows of one part as a summary of their own: a first row stands for the tensor that
    feeds the part (an ``InputLayer`` with that tensor's shape; the model's own input when the
    part holds it); ``index`` keeps each row's place in the whole model, for the messages."""
    kept = [i for i in indices if rows[i]["layer"] != "InputLayer"]
    local = {old: new + 1 for new, old in enumerate(kept)}
    feeding = sorted({k for i in kept for k in rows[i].get("inputs") or [] if k not in local})
    first = feeding[0] if feeding else 0
    part = [dict(rows[first], layer="InputLayer", params=0, inputs=[], index=first)]
    for key in list(part[0]):
        if key not in ("layer", "output_shape", "params", "inputs", "index", "where", "label", "role"):
            del part[0][key]
    for i in kept:
        row = dict(rows[i], index=i)
        row["inputs"] = [local.get(k, 0) for k in rows[i].get("inputs") or []]
        part.append(row)
    return part


def compare_part(
    function: str, expected: list[dict], received: list[dict], part: str, context=None
) -> list[str]:
    """Compare the layers of one part of ResNet50 (a key of :data:`RESNET50_PARTS`) with the
    reference, like :func:`compare_summaries` does for the whole model.

    The part is compared as a summary of its own, fed by the tensor that feeds it. When that
    tensor has another shape than the reference's (an earlier part differs), the output shapes
    and parameter counts of this part follow from it and are not compared: its layers' own
    settings and connections are, so that a wrong layer costs the points of its own part only.

    Raises:
        PublicTestFailure: at the first difference in this part.
        ValueError: ``part`` is not a part of ResNet50.
    """
    if part not in RESNET50_PARTS:
        raise ValueError(f"unknown part {part!r}; choose from {list(RESNET50_PARTS)}")
    expected, _ = collapse_repeated_relus(expected)
    received, notes = collapse_repeated_relus(received)
    split = split_parts(expected, received)
    if split is None:  # not cut into blocks: the whole model is this part's business
        return notes + compare_summaries(function, expected, received, context)
    ref_indices = [i for i, row in enumerate(expected) if reference_part(row) == part]
    exp_part = _part_rows(expected, ref_indices)
    rec_part = _part_rows(received, split[part])
    if exp_part[0]["output_shape"] != rec_part[0]["output_shape"]:
        for row in exp_part + rec_part:
            row["output_shape"], row["params"] = None, None
    return notes + compare_summaries(function, exp_part, rec_part, dict(context or {}, part=part))
