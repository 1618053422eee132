"""Mutants generated mechanically from the reference blocks and ResNet50's own layers: every
setting of every layer changed one at a time, every layer deleted, every layer duplicated; each
graded through the autograder's checks, with a message that must name the layer and the setting.

The hand-written catalogue (:mod:`qa.mistakes`) holds the mistakes students make; this
module makes sure that no layer and no setting escapes, and that a hint describes the layer that
really failed. It works on the sandbox's record of the reference solution (the configuration of
the model each graded case builds, as :func:`resnets_kit.grader.sandbox.check_function` reports it): a
mutant is that record with one change made in every case's configuration, at the same layer. The
checks of :func:`resnets_kit.grader.checks.check_records` then grade it cell by cell, as they grade a
submission.

Whether a mutant changes the computed function is decided independently of the checks, by running
both models: on every case, the output of the model called as it was built, then called with
``training=True`` as ``fit`` calls it, the number of parameters, and the BatchNorm moving
statistics after those calls (momentum shows there). A mutant
that changes nothing (padding 'same' on a 1x1 convolution) must get full marks; one that changes
something must lose points, and the structural cells' message must name the layer (by its role,
as the reference labels it, or by the words the hints use for it) and the setting. A mutant whose
model cannot be built at all (the main path and the shortcut no longer fit at the Add) is
reported by that error, which tells the setting (a stride, a window with padding 'valid', the
channels) but not which layer: for those, the setting is required and the layer is not.

Mutations per layer class (the settings that the per-layer summary records):

- Conv2D: filters, kernel_size, strides, padding, use_bias, activation, the initializer's class
  and its seed;
- BatchNormalization: axis, momentum, epsilon, and the ``training`` argument of its call;
- Activation: the activation; pooling: pool_size, strides, padding; ZeroPadding2D: padding;
- Dense: units, activation, use_bias, the initializer's seed;
- every layer but the input: deleted (its consumers take its input; for an Add, the main path);
  every layer with one input: duplicated (applied twice).

``python -m qa.generated_mutants`` prints one row per mutant and the score;
``tests/test_generated_mutants.py`` requires every mutant to be graded as stated above.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
from dataclasses import dataclass

#: The functions whose reference cells are mutated.
FUNCTIONS = ("identity_block", "convolutional_block", "ResNet50")

#: ResNet50's own layers (its stem and top; its blocks are graded with the reference blocks, so a
#: submission's ResNet50 cannot change what is inside them), by their role in the reference.
RESNET50_ROLES = ("stem_pad", "stem_conv", "stem_bn", "stem_relu", "stem_pool", "avg_pool", "flatten", "top")


@dataclass(frozen=True)
class GeneratedMutant:
    """One mechanical change of the reference record.

    Attributes:
        function: the graded function.
        index: the layer's index in the model (the reference summary's row).
        role: the layer's role in the reference (``"conv2"``, ``"bn3"``, ``"add"``, ...).
        setting: the summary key changed (``"filters"``, ``"training"``, ...), or ``"deleted"`` /
            ``"duplicated"``.
        change: what was done, in words, with the first case's values (``"filters 5 -> 6"``).
        ordinal: which change of that setting (a Conv2D's initializer has two: seed and class).
    """

    function: str
    index: int
    role: str
    setting: str
    change: str
    ordinal: int = 0

    @property
    def name(self) -> str:
        return f"{self.function}: layer {self.index} ({self.role}) {self.change}"


@functools.cache
def reference_record(function: str) -> dict:
    """The sandbox's record of the reference solution for one function (all its cases)."""
    import json

    from resnets_kit.grader.sandbox import check_function
    from resnets_kit.solution import load_solution

    solution = load_solution()
    return json.loads(json.dumps(check_function(function, solution, solution, None)))  # as reported


@functools.cache
def reference_rows(function: str) -> tuple[dict, ...]:
    """The labelled reference summary rows of the first public case (role, where, label)."""
    import public_tests

    reference = public_tests.load_references()[function]
    return tuple(reference["summary"] if function == "ResNet50" else reference["cases"][0]["structure"])


def _layers(config: dict) -> list[dict]:
    return config["config"]["layers"]


def _first_config(function: str) -> dict:
    return next(iter(reference_record(function)["cases"].values()))["config"]


def _history(layer: dict) -> list[list]:
    """The ``keras_history`` entries of a layer's first inbound node, in argument order."""
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    found = []

    def walk(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                found.append(value["config"]["keras_history"])
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(nodes[0].get("args"))
    return found


def _rename_inputs(config: dict, old: str, new: str, skip: str | None = None) -> None:
    """Make every layer (but ``skip``) and the model's outputs that take ``old`` take ``new``."""

    def walk(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__" and value["config"]["keras_history"][0] == old:
                value["config"]["keras_history"][0] = new
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for layer in _layers(config):
        if layer["name"] != skip:
            walk(layer.get("inbound_nodes"))
    outputs = config["config"]["output_layers"]
    for out in outputs if isinstance(outputs[0], list) else [outputs]:
        if out[0] == old:
            out[0] = new


def _setting_changes(layer: dict) -> list[tuple[str, str, object]]:
    """``(summary key, words, function(layer config) -> None)`` for each setting of a layer."""
    cls, cfg = layer["class_name"], layer["config"]
    changes = []

    def put(key, value):
        return lambda c: c.__setitem__(key, value)

    if cls == "Conv2D":
        k, s = cfg["kernel_size"], cfg["strides"]
        changes += [
            ("filters", f"filters {cfg['filters']} -> {cfg['filters'] + 1}", put("filters", cfg["filters"] + 1)),
            ("kernel_size", f"kernel_size {k} -> {[v + 2 for v in k]}", put("kernel_size", [v + 2 for v in k])),
            ("strides", f"strides {s} -> {[1, 1] if s != [1, 1] else [2, 2]}",
             put("strides", [1, 1] if s != [1, 1] else [2, 2])),
            ("padding", f"padding {cfg['padding']!r} -> {'same' if cfg['padding'] == 'valid' else 'valid'!r}",
             put("padding", "same" if cfg["padding"] == "valid" else "valid")),
            ("use_bias", f"use_bias {cfg['use_bias']} -> {not cfg['use_bias']}", put("use_bias", not cfg["use_bias"])),
            ("activation", f"activation {cfg['activation']!r} -> 'relu'", put("activation", "relu")),
        ]  # fmt: skip
        init = cfg["kernel_initializer"]
        seed = init["config"].get("seed")
        changes.append(
            ("initializer", f"initializer seed {seed} -> {(seed or 0) + 1}",
             lambda c: c["kernel_initializer"]["config"].__setitem__("seed", (seed or 0) + 1))
        )  # fmt: skip
        other = "GlorotUniform" if init["class_name"] != "GlorotUniform" else "HeNormal"
        changes.append(
            ("initializer", f"initializer {init['class_name']} -> {other}",
             lambda c: c.__setitem__("kernel_initializer", {
                 "module": "keras.initializers", "class_name": other, "config": {"seed": seed},
                 "registered_name": None}))
        )  # fmt: skip
    elif cls == "BatchNormalization":
        changes += [
            ("axis", f"axis {cfg['axis']} -> 1", put("axis", 1)),
            ("momentum", f"momentum {cfg['momentum']} -> 0.9", put("momentum", 0.9)),
            ("epsilon", f"epsilon {cfg['epsilon']} -> 1e-05", put("epsilon", 1e-05)),
        ]
    elif cls == "Dense":
        changes += [
            ("units", f"units {cfg['units']} -> {cfg['units'] + 1}", put("units", cfg["units"] + 1)),
            ("activation", f"activation {cfg['activation']!r} -> 'linear'", put("activation", "linear")),
            ("use_bias", f"use_bias {cfg['use_bias']} -> {not cfg['use_bias']}", put("use_bias", not cfg["use_bias"])),
        ]  # fmt: skip
        seed = cfg["kernel_initializer"]["config"].get("seed")
        changes.append(
            ("initializer", f"initializer seed {seed} -> {(seed or 0) + 1}",
             lambda c: c["kernel_initializer"]["config"].__setitem__("seed", (seed or 0) + 1))
        )  # fmt: skip
    elif cls == "ZeroPadding2D":
        changes.append(
            ("padding", f"padding {cfg['padding']} -> [[2, 2], [2, 2]]", put("padding", [[2, 2], [2, 2]]))
        )
    elif cls == "Activation":
        changes.append(("activation", f"activation {cfg['activation']!r} -> 'elu'", put("activation", "elu")))
    elif cls in ("MaxPooling2D", "AveragePooling2D"):
        p = cfg["pool_size"]
        changes += [
            ("pool_size", f"pool_size {p} -> {[v + 1 for v in p]}", put("pool_size", [v + 1 for v in p])),
            ("strides", f"strides {cfg['strides']} -> [1, 1]", put("strides", [1, 1])),
            ("padding", f"padding {cfg['padding']!r} -> 'same'", put("padding", "same")),
        ]
    return changes


def generate(function: str) -> list[GeneratedMutant]:
    """Every mutant of one function's reference record, in layer order."""
    rows = reference_rows(function)
    mutants = []
    for index, layer in enumerate(_layers(_first_config(function))):
        role = rows[index].get("role", "")
        if layer["class_name"] == "InputLayer" or (function == "ResNet50" and role not in RESNET50_ROLES):
            continue
        seen: dict[str, int] = {}
        for setting, change, _ in _setting_changes(layer):
            mutants.append(GeneratedMutant(function, index, role, setting, change, seen.get(setting, 0)))
            seen[setting] = seen.get(setting, 0) + 1
        if layer["class_name"] == "BatchNormalization":
            mutants.append(GeneratedMutant(function, index, role, "training", "training argument flipped"))
            if "training" in (layer["inbound_nodes"][0].get("kwargs") or {}):
                mutants.append(
                    GeneratedMutant(function, index, role, "training", "training argument not passed")
                )
        mutants.append(GeneratedMutant(function, index, role, "deleted", "deleted"))
        if len(_history(layer)) == 1:
            mutants.append(GeneratedMutant(function, index, role, "duplicated", "duplicated"))
    return mutants


def _mutate_config(config: dict, mutant: GeneratedMutant) -> dict:
    config = copy.deepcopy(config)
    layers = _layers(config)
    for layer in layers:  # built anew from the tensors they receive, as a submission's layers are
        layer.pop("build_config", None)
    layer = layers[mutant.index]
    if mutant.setting == "deleted":
        source = _history(layer)[0][0]
        _rename_inputs(config, layer["name"], source)
        del layers[mutant.index]
    elif mutant.setting == "duplicated":
        twin = copy.deepcopy(layer)
        twin["name"] = twin["config"]["name"] = layer["name"] + "_twice"
        _rename_inputs(config, layer["name"], twin["name"])

        def point(value):
            if isinstance(value, dict):
                if value.get("class_name") == "__keras_tensor__":
                    value["config"]["keras_history"][0] = layer["name"]
                for item in value.values():
                    point(item)
            elif isinstance(value, list):
                for item in value:
                    point(item)

        point(twin["inbound_nodes"])
        layers.insert(mutant.index + 1, twin)
    elif mutant.setting == "training":
        kwargs = layer["inbound_nodes"][0].setdefault("kwargs", {})
        if mutant.change == "training argument flipped":
            kwargs["training"] = not kwargs.get("training", False)
        else:
            kwargs.pop("training", None)
    else:
        apply = [f for s, _, f in _setting_changes(layer) if s == mutant.setting][mutant.ordinal]
        apply(layer["config"])
    return config


def mutated_record(mutant: GeneratedMutant) -> dict:
    """The reference record with the mutant's change made in every case's configuration."""
    record = copy.deepcopy(reference_record(mutant.function))
    for key, entry in record["cases"].items():
        if "config" in entry:  # the cases build the same layers in the same order
            record["cases"][key] = {"config": _mutate_config(entry["config"], mutant)}
    return record


def _behaviour(config: dict, case: dict):
    """What a case's model computes: the output of its call, its parameter count and the BatchNorm
    moving statistics after the call; or the error its rebuild raises."""
    import keras
    import numpy as np

    import public_tests

    try:
        keras.utils.set_random_seed(0)
        model = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
        x = public_tests.test_input(tuple(case["shape"]))
        # As the block or network is called, then as fit() calls it (training=True, which also
        # moves the BatchNorm statistics: momentum shows there).
        built, trained = np.asarray(model(x)), np.asarray(model(x, training=True))
        output = np.concatenate([built.ravel(), trained.ravel(), np.asarray(built.shape, dtype=built.dtype)])
    except Exception as err:  # the mutant does not build or run: a changed function
        return f"error: {type(err).__name__}"
    stats = [
        np.asarray(v)
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    ]
    return output, model.count_params(), stats


@functools.cache
def _reference_behaviour(function: str, key: str, case_text: str):
    """:func:`_behaviour` of the reference's model for one case (computed once per process)."""
    return _behaviour(reference_record(function)["cases"][key]["config"], json.loads(case_text))


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(a, str) or isinstance(b, str):
        return False
    (out_a, params_a, stats_a), (out_b, params_b, stats_b) = a, b
    return (
        out_a.shape == out_b.shape
        and np.array_equal(out_a, out_b)
        and params_a == params_b
        and len(stats_a) == len(stats_b)
        and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(stats_a, stats_b, strict=True))
    )


def changes_function(mutant: GeneratedMutant) -> bool:
    """Whether the mutant computes something else than the reference on some graded case."""
    import public_tests
    from resnets_kit.assignment import EXERCISES

    graded = EXERCISES[mutant.function]
    if graded.network:
        cases = {public_tests.case_key(c): {"shape": [2, *c["input_shape"]]} for c in graded.cases()}
    else:
        cases = {public_tests.case_key(case): case for case in graded.cases()}
    mutated = mutated_record(mutant)
    for key, case in cases.items():
        before = _reference_behaviour(mutant.function, key, json.dumps(case, sort_keys=True))
        after = _behaviour(mutated["cases"][key]["config"], case)
        if not _same(before, after):
            return True
    return False


#: Words by which the messages name a layer, by its role (besides the reference's own label).
ROLE_WORDS = {
    "conv1": ("main path component 1", "first 1x1 convolution"),
    "conv2": ("main path component 2", "f x f convolution", "middle convolution"),
    "conv3": ("main path component 3", "last CONV2D of the main path", "third component"),
    "shortcut_conv": ("shortcut: CONV2D", "shortcut CONV2D", "shortcut convolution"),
    # A missing BatchNorm is named by the CONV2D it should follow.
    "bn1": ("main path component 1: BatchNorm", "main path component 1: CONV2D 1x1 (F1) is not followed"),
    "bn2": ("main path component 2: BatchNorm", "(F2) is not followed by a BatchNorm"),
    "bn3": ("main path component 3: BatchNorm", "main path component 3: CONV2D 1x1 (F3) is not followed"),
    "shortcut_bn": (
        "shortcut: BatchNorm",
        "shortcut CONV2D is followed by a BatchNorm",
        "(F3) is not followed",
    ),
    "relu1": ("main path component 1: ReLU", "first two components of the main path"),
    "relu2": ("main path component 2: ReLU", "first two components of the main path"),
    "add": ("Add",),
    "out_relu": ("final ReLU",),
    "stem_bn": ("stage 1: BatchNorm", "stage 1: CONV2D 7x7, stride 2 is not followed"),
    "stem_pool": ("MaxPooling2D",),
    "avg_pool": ("AveragePooling2D",),
    "flatten": ("Flatten",),
    "top": ("Dense",),
}

#: Words by which the messages name a setting.
SETTING_WORDS = {
    "filters": ("filters", "channels"),
    "kernel_size": ("kernel_size",),
    "strides": ("strides", "stride"),
    "padding": ("padding",),
    "use_bias": ("use_bias",),
    "activation": ("activation",),
    "initializer": ("initializer",),
    "axis": ("axis",),
    "momentum": ("momentum",),
    "epsilon": ("epsilon",),
    "pool_size": ("pool_size",),
    "units": ("units",),
    "training": ("training",),
    "deleted": ("missing", "layers"),
    "duplicated": ("too many", "layers"),
}


def grade(mutant: GeneratedMutant) -> tuple[bool, dict[str, tuple[bool, str]], str]:
    """Grade one mutant: ``(changes the function, grade_id -> (passed, text), problem)``, where
    ``problem`` is ``""`` when the mutant is graded as it deserves, else the reason."""
    from qa.mistakes import _release_models
    from resnets_kit.grader.checks import check_records
    from resnets_kit.grader.plan import grading_plan

    plan = {g: c for g, c in grading_plan().items() if c.function == mutant.function}
    changed = changes_function(mutant)
    try:
        outcomes = check_records({mutant.function: mutated_record(mutant)}, plan)
    finally:
        _release_models()
    cells = {g: (o.passed, o.text) for g, o in outcomes.items()}
    failed = [text for passed, text in cells.values() if not passed]
    if not changed:
        return (
            changed,
            cells,
            ("an equivalent mutant loses points: " + failed[0].splitlines()[0]) if failed else "",
        )
    if not failed:
        return changed, cells, "not caught: every cell passes"
    structural = [
        text
        for g, (passed, text) in cells.items()
        if not passed and ("_layers" in g or g.endswith("_hidden"))
    ]
    message = (structural or failed)[0]
    label = reference_rows(mutant.function)[mutant.index].get("label", "")
    role_words = (label, *ROLE_WORDS.get(mutant.role, ()))
    problems = []
    # A mutant whose model cannot be built is reported by its error (incompatible shapes at the
    # Add): the error says which setting shrank or widened the path, not which layer did.
    unbuildable = "expected: the function to run without error" in message
    if not unbuildable and not any(word and word in message for word in role_words):
        problems.append(f"the message does not name the layer ({label})")
    if not any(word in message for word in SETTING_WORDS[mutant.setting]):
        problems.append(f"the message does not name the setting ({mutant.setting})")
    return changed, cells, "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
    """Generate and grade every mutant; print one row each and the score. Exit 0 when all are
    graded as they deserve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", choices=FUNCTIONS, action="append", help="only this function's mutants")
    parser.add_argument("--verbose", action="store_true", help="print the message of every mutant")
    args = parser.parse_args(argv)
    mutants = [m for f in args.function or FUNCTIONS for m in generate(f)]
    return 0 if table(mutants, verbose=args.verbose) == 0 else 1


def table(mutants: list[GeneratedMutant], verbose: bool = False) -> int:
    """Grade the mutants, print one row each and the score line; return how many are graded
    wrongly (an equivalent one losing points, another not caught or not named)."""
    wrong = []
    counts = {"changed": 0, "equivalent": 0}
    print(f"{'generated mutant':78}  {'function':8}  {'graded':6}  status")
    for mutant in mutants:
        changed, cells, problem = grade(mutant)
        counts["changed" if changed else "equivalent"] += 1
        points = _points(cells)
        status = "WRONG" if problem else "OK"
        kind = "changes" if changed else "same"
        print(f"{mutant.name[:78]:78}  {kind:8}  {points:6}  {status}", flush=True)
        failed = [text for passed, text in cells.values() if not passed]
        if failed and (verbose or problem):
            print("    " + failed[0].replace("\n", "\n    "))
        if problem:
            wrong.append((mutant, problem))
    for mutant, problem in wrong:
        print(f"\nWRONG {mutant.name}: {problem}")
    print(
        f"\ngenerated mutants: {len(mutants) - len(wrong)}/{len(mutants)} graded as they deserve "
        f"({counts['changed']} change the function: caught, with a message naming the layer and the "
        f"setting; {counts['equivalent']} compute the same: full marks)"
    )
    return len(wrong)


def _points(cells: dict[str, tuple[bool, str]]) -> str:
    from qa.mistakes import cell_points

    points = cell_points()
    got = sum(points[g] for g, (passed, _) in cells.items() if passed)
    return f"{got:g}/{sum(points[g] for g in cells):g}"


if __name__ == "__main__":
    sys.exit(main())
