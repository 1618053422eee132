"""The checks: validate, rebuild and judge the records the sandbox reported. Runs no student code.

Each recorded configuration is validated against an allow-list of built-in Keras layers and
operations, rebuilt with ``keras.saving.deserialize_keras_object(..., safe_mode=True)`` and
checked by the project's own ``public_tests`` and hidden tests, through :class:`Rebuilt` (a
:class:`test_utils.Provider`), with the same messages as in the notebook.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json

from resnets_kit.assignment import EXERCISES
from resnets_kit.grader.outcomes import RECORDED_TEXT_LIMIT, Outcome, report_text
from resnets_kit.grader.plan import CellCheck, grading_plan

_LAYERS = {
    "InputLayer", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D",
    "Conv2DTranspose", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Add", "Subtract", "Multiply",
    "Average", "Maximum", "Minimum", "Concatenate", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
    "Flatten", "Reshape", "Permute", "Dense", "Dropout", "SpatialDropout2D", "Identity",
}  # fmt: skip
_OP_MODULES = {"keras.src.ops.numpy", "keras.src.ops.nn", "keras.src.ops.math"}
_OBJECT_MODULES = {
    "keras",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.activations",
}
_MARKERS = {"__keras_tensor__", "__tuple__"}
_REFUSED_OPS = {"Cond", "WhileLoop", "Scan", "Map", "Switch", "Fori_loop", "CustomGradient"}


def validate_config(config) -> None:
    """Accept only a functional model of built-in Keras layers and operations.

    Raises:
        ValueError: naming the first class the grading does not rebuild (a ``Lambda`` layer, a
            custom ``Layer`` class, anything outside Keras).
    """
    if not isinstance(config, dict) or config.get("class_name") != "Functional":
        raise ValueError("the function did not build a functional keras.Model")
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise ValueError("the model's configuration has no list of layers")
    for layer in inner["layers"]:
        if not isinstance(layer, dict):
            raise ValueError("a layer's configuration is not an object")
        module, name = layer.get("module"), layer.get("class_name")
        ok = (module == "keras.layers" and name in _LAYERS) or (
            module in _OP_MODULES and isinstance(name, str) and name not in _REFUSED_OPS
        )
        if not ok:
            raise ValueError(
                f"the model contains {module}.{name}, which grading does not accept: use the built-in "
                "keras.layers (no Lambda layers or custom Layer classes) and keras.ops"
            )
        _validate_objects(layer.get("config"))
        for node in layer.get("inbound_nodes") or []:
            _validate_objects(node)


def _validate_objects(value) -> None:
    if isinstance(value, list):
        for item in value:
            _validate_objects(item)
    elif isinstance(value, dict):
        name = value.get("class_name")
        if isinstance(name, str) and "config" in value:
            module = value.get("module")
            if name not in _MARKERS and module not in _OBJECT_MODULES:
                raise ValueError(
                    f"the model uses {module}.{name}, which grading does not accept: use Keras's "
                    "built-in initializers, activations and layers"
                )
            registered = value.get("registered_name")
            if name not in _MARKERS and isinstance(registered, str) and ">" in registered:
                raise ValueError(
                    f"the model uses the custom object {registered}, which grading does not accept"
                )
        for item in value.values():
            _validate_objects(item)


class _Named:
    """A default value reported by name only (it was not plain data)."""

    def __init__(self, name: str | None, text: str):
        if name:
            self.__name__ = report_text(name, RECORDED_TEXT_LIMIT)
        self._text = report_text(text, RECORDED_TEXT_LIMIT)

    def __repr__(self) -> str:
        return self._text

    def __call__(self, *args, **kwargs):
        raise TypeError("a default reported by name cannot be called")


class _Returned:
    """What a ResNet50 function returned when it was not a model."""

    def __init__(self, type_name: str):
        self.returned_type = report_text(type_name, RECORDED_TEXT_LIMIT)


#: Models rebuilt by :func:`structure_model`, by configuration (the last few).
_STRUCTURES: dict[str, object] = {}


def structure_model(config: dict, *, fallback: bool = False):
    """A model rebuilt from its configuration inside a ``keras.StatelessScope``, for checks of
    structure only (a network's checks: :attr:`resnets_kit.assignment.Exercise.network`). Variables
    created in the scope are initialized together when it ends, which takes ResNet50's rebuild from
    about 1.5 s to about 0.9 s here; layers, output shapes and parameter counts are the same as
    those of a plain rebuild. The last few are kept by their configuration, so a model rebuilt
    early from a case's entry (:meth:`~resnets_kit.grader.check_server.Checker.prebuild`) is
    reused by the check of the final record.

    Args:
        config: a ``keras.saving.serialize_keras_object`` configuration.
        fallback: return None instead of raising when it cannot be rebuilt this way.

    Raises:
        ValueError: the configuration is outside the allow-list (:func:`validate_config`).
        Exception: whatever deserializing raises (unless ``fallback``).
    """
    import keras

    text = json.dumps(config, sort_keys=True)
    if text not in _STRUCTURES:
        validate_config(config)
        try:
            with keras.StatelessScope():
                model = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
        except Exception:
            if fallback:
                return None
            raise
        while len(_STRUCTURES) >= 4:
            _STRUCTURES.pop(next(iter(_STRUCTURES)))
        _STRUCTURES[text] = model
    return _STRUCTURES[text]


class Rebuilt:
    """What the checks look at, rebuilt from a sandbox record: a :class:`test_utils.Provider`
    (as ``public_tests.FunctionCalls`` is in the notebook). Models come from their
    configurations; recorded errors are re-raised as :class:`test_utils.RecordedError`.

    Args:
        name: the graded function's name.
        record: its sandbox record (see :mod:`resnets_kit.grader.sandbox`); anything else reads as
            an empty record.
    """

    def __init__(self, name: str, record: dict):
        self.name = name
        self.record = record if isinstance(record, dict) else {}
        self._models: dict[str, object] = {}

    def signature(self):
        import inspect

        params = self.record.get("signature")
        if not isinstance(params, list):
            return None
        try:
            parameters = []
            for p in params:
                default = p["default"]
                if default.get("empty"):
                    value = inspect.Parameter.empty
                elif "value" in default:
                    value = default["value"]
                elif "tuple" in default:
                    value = tuple(default["tuple"])
                else:
                    value = _Named(default.get("name"), str(default.get("repr")))
                parameters.append(
                    inspect.Parameter(str(p["name"]), inspect._ParameterKind[str(p["kind"])], default=value)
                )
            return inspect.Signature(parameters)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def _entry(self, case: dict):
        from public_tests import case_key
        from test_utils import RecordedError

        if self.record.get("error"):
            raise RecordedError(report_text(self.record["error"], RECORDED_TEXT_LIMIT))
        entry = (self.record.get("cases") or {}).get(case_key(case))
        if not isinstance(entry, dict):
            raise RecordedError(f"GradingError: {self.name} was not run on this case")
        if "error" in entry:
            raise RecordedError(report_text(entry["error"], RECORDED_TEXT_LIMIT))
        return entry

    def _rebuild(self, key: str, config, *, weights: bool = True):
        from test_utils import RecordedError

        if key not in self._models:
            import keras

            try:
                validate_config(config)
            except ValueError as err:
                raise RecordedError(f"ValueError: {err}") from None
            model = None if weights else structure_model(config, fallback=True)
            if model is None:
                # (deepcopy: deserializing consumes the dicts)
                model = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
            self._models[key] = model
        return self._models[key]

    def block_model(self, case: dict):
        from public_tests import case_key

        entry = self._entry(case)
        return self._rebuild(case_key(case), entry.get("config"))

    def model(self, config: dict):
        from public_tests import case_key

        entry = self._entry(config)
        if "returned_type" in entry:
            return _Returned(entry["returned_type"])
        # The ResNet50 checks compare structure only (layer_summary, count_params).
        return self._rebuild(case_key(config), entry.get("config"), weights=False)


def check_records(records: dict[str, dict], plan: dict[str, CellCheck] | None = None) -> dict[str, Outcome]:
    """Run every grade cell's checks on rebuilt models. Runs no student code.

    Args:
        records: function name to its sandbox record (a missing function fails its checks).
        plan: the grading plan (default :func:`grading_plan`).

    Returns:
        ``grade_id`` to :class:`Outcome`.
    """
    from resnets_kit.grader.hidden import hidden_test
    from test_utils import PublicTestFailure

    plan = plan or grading_plan()
    outcomes = {}
    targets = {}
    for grade_id, cell in plan.items():
        if cell.function not in targets:
            record = records.get(cell.function) or {
                "error": f"NameError: name '{cell.function}' is not defined"
            }
            targets[cell.function] = Rebuilt(cell.function, record)
        target = targets[cell.function]
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                if cell.hidden:
                    hidden_test(cell.function, target)
                elif cell.part is not None:
                    EXERCISES[cell.function].test()(target, checks=cell.checks, part=cell.part)
                else:
                    EXERCISES[cell.function].test()(target, checks=cell.checks)
            outcomes[grade_id] = Outcome(True, printed.getvalue().strip())
        except PublicTestFailure as failure:
            outcomes[grade_id] = Outcome(False, str(failure))
        except Exception as err:  # the rebuild itself failed: still the submission's doing
            outcomes[grade_id] = Outcome(
                False, f"{cell.function}: could not be checked: {type(err).__name__}: {err}"
            )
    return outcomes
