"""Benchmark: how far the reference solution's outputs drift across CPU kernel settings, against the
tolerances of the value checks (``test_utils.RTOL``/``ATOL``).

Runs the reference solution (read from the source notebook) on every block test case, public and
hidden (the exercise registry, ``resnets_kit.assignment``), with ``public_tests.run_block``, once
per setting, each in a fresh process: TensorFlow's oneDNN kernels off and on
(``TF_ENABLE_ONEDNN_OPTS=0``/``1``), with 1 and 2 intra-op threads; also two larger cases (64
channels), whose outputs are compared across the settings only. Then prints, per case, the largest
absolute and relative difference of the outputs against the committed references
(``reference_outputs.json``, ``resnets_kit/grader/hidden_references.json``) and across the
settings, and the tolerance each needs: the smallest ``t`` with ``|received - expected| <= t + t *
|expected|`` everywhere (the value checks use ``numpy.isclose`` with ``atol=ATOL`` and
``rtol=RTOL``).

Per setting, also the largest difference between ``model.predict(x)`` and ``model(x,
training=False)`` of the reference ResNet50 (BatchNorm's moving statistics set from a batch of
32 random images, 8 other images, 3 seeds): the traced ``predict`` and the eager call take
different kernels, and ``tests/test_inference.py`` holds them to the value checks' tolerance.

Last, for each block mistake of the catalogue (``qa.mistakes``) that runs and keeps the
output shape, the tolerance that would let its values pass (largest over the public cases): the
value checks alone catch it when that exceeds the tolerance in force.

    python benchmarks/numeric_drift.py [--threads 1 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = ("identity_block", "convolutional_block")


def _cases(stress: bool = False) -> dict[str, list[dict]]:
    """The block test cases by suite and function: ``{"public identity_block": [...], ...}``;
    with ``stress``, also two larger cases (64 channels, 16 x 16) that have no committed
    reference: their outputs are only compared across the settings."""
    from public_tests import block_case
    from resnets_kit.assignment import EXERCISES

    blocks = ("identity_block", "convolutional_block")
    cases = {f"public {name}": EXERCISES[name].public_cases() for name in blocks}
    cases.update({f"hidden {name}": EXERCISES[name].hidden_cases() for name in blocks})
    if stress:
        cases["stress identity_block"] = [block_case(3, [64, 64, 64], training=True, shape=(8, 16, 16, 64))]
        cases["stress convolutional_block"] = [
            block_case(3, [64, 64, 128], training=False, s=2, shape=(8, 16, 16, 64))
        ]
    return cases


def _child(out: Path, threads: int) -> None:
    """Run every case with the reference solution in this process; write the outputs as JSON."""
    from test_utils import import_tensorflow

    tf = import_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    import public_tests
    from resnets_kit.solution import load_solution

    solution = load_solution()
    outputs = {}
    for suite, cases in _cases(stress=True).items():
        function = solution[suite.split()[1]]
        for case in cases:
            outputs[f"{suite}: {case['name']}"] = public_tests.run_block(function, case).tolist()
    out.write_text(json.dumps({"outputs": outputs, "inference": inference_drift(solution["ResNet50"])}))


def inference_drift(resnet50, seeds: int = 3) -> float:
    """The largest absolute difference between the probabilities of ``model.predict(x)`` and of
    ``model(x, training=False)`` over ``seeds`` seeded ResNet50s (64x64x3, 6 classes), whose
    BatchNorm moving statistics are those of 32 random images (as after the notebook's
    recalibration), on 8 other random images in [0, 1]."""
    import keras

    worst = 0.0
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        model = resnet50(input_shape=(64, 64, 3), classes=6)
        rng = np.random.default_rng(seed)
        batchnorms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        for layer in batchnorms:
            layer.momentum = 0.0
        model(rng.random((32, 64, 64, 3), dtype=np.float32), training=True)
        for layer in batchnorms:
            layer.momentum = 0.99
        x = rng.random((8, 64, 64, 3), dtype=np.float32)
        by_predict = model.predict(x, verbose=0)
        worst = max(worst, float(np.max(np.abs(model(x, training=False).numpy() - by_predict))))
    return worst


def needed_tolerance(received, expected) -> float:
    """The smallest ``t`` with ``|received - expected| <= t + t * |expected|`` for every element."""
    received, expected = np.asarray(received, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(received - expected) / (1.0 + np.abs(expected))))


def _differences(received, expected) -> tuple[float, float, float]:
    """Largest absolute difference, largest relative difference (where |expected| > 1e-3), and the
    tolerance needed."""
    received, expected = np.asarray(received, np.float64), np.asarray(expected, np.float64)
    absolute = np.abs(received - expected)
    big = np.abs(expected) > 1e-3
    relative = float(np.max(absolute[big] / np.abs(expected[big]))) if big.any() else 0.0
    return float(np.max(absolute)), relative, needed_tolerance(received, expected)


def _references() -> dict[str, list]:
    import public_tests
    from resnets_kit.grader.hidden import load_hidden_references

    files = {"public": public_tests.load_references(), "hidden": load_hidden_references()}
    references = {}
    for suite, cases in _cases().items():
        kind, name = suite.split()
        for case, ref in zip(cases, files[kind][name]["cases"], strict=True):
            references[f"{suite}: {case['name']}"] = ref["output"]
    return references


def _run_settings(threads: list[int]) -> tuple[dict[str, dict[str, list]], dict[str, float]]:
    settings, inference = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for onednn, n in itertools.product(("0", "1"), threads):
            label = f"oneDNN={onednn}, {n} thread{'s' if n > 1 else ''}"
            out = Path(tmp) / f"{onednn}-{n}.json"
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="2")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
            command = [sys.executable, __file__, "--child", str(out), "--child-threads", str(n)]
            subprocess.run(command, env=env, cwd=ROOT, check=True)
            data = json.loads(out.read_text())
            settings[label], inference[label] = data["outputs"], data["inference"]
            print(f"ran the reference solution with {label}", flush=True)
    return settings, inference


def _mistake_tolerances() -> list[tuple[str, float | None]]:
    """For each block mistake of the catalogue: the tolerance its values need on the public cases
    (largest over the cases), or None when it does not run or changes the output shape."""
    import public_tests

    if str(ROOT) not in sys.path:  # run as a script: qa/ sits at the repository's root
        sys.path.insert(0, str(ROOT))
    from qa import mistakes

    references = public_tests.load_references()
    cases = {
        "identity_block": public_tests.IDENTITY_CASES,
        "convolutional_block": public_tests.CONVOLUTIONAL_CASES,
    }
    rows = []
    for mistake in mistakes.CATALOGUE:
        if mistake.function not in BLOCKS:
            continue
        function = mistakes.namespace(mistake)[mistake.function]
        needed = []
        for case, ref in zip(cases[mistake.function], references[mistake.function]["cases"], strict=True):
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    output = public_tests.run_block(function, case)
            except Exception:
                needed = None
                break
            if list(output.shape) != ref["output_shape"]:
                needed = None
                break
            needed.append(needed_tolerance(output, ref["output"]))
        rows.append((mistake.name, max(needed) if needed else None))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.child_threads)
        return 0

    import test_utils

    settings, inference = _run_settings(args.threads)
    references = _references()
    labels = list(settings)
    print(f"\ntolerances in force: rtol={test_utils.RTOL}, atol={test_utils.ATOL}\n")
    header = f"{'case':78}  {'max |diff| vs ref':>17}  {'max rel vs ref':>14}  {'across settings':>15}  {'needs t':>8}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for key, expected in references.items():
        versus_ref = [_differences(settings[label][key], expected) for label in labels]
        across = max(
            _differences(settings[a][key], settings[b][key])[0] for a, b in itertools.combinations(labels, 2)
        )
        absolute = max(d[0] for d in versus_ref)
        relative = max(d[1] for d in versus_ref)
        needed = max(d[2] for d in versus_ref)
        worst = max(worst, needed)
        print(f"{key[:78]:78}  {absolute:17.3g}  {relative:14.3g}  {across:15.3g}  {needed:8.2g}")
    worst_stress = 0.0
    for key in settings[labels[0]]:
        if key in references:
            continue
        pairs = [
            _differences(settings[a][key], settings[b][key]) for a, b in itertools.combinations(labels, 2)
        ]
        across = max(d[0] for d in pairs)
        needed = max(d[2] for d in pairs)
        worst_stress = max(worst_stress, needed)
        print(f"{key[:78]:78}  {'-':>17}  {'-':>14}  {across:15.3g}  {needed:8.2g}")
    tolerance = min(test_utils.RTOL, test_utils.ATOL)
    print(f"\nsettings: {'; '.join(labels)}")
    print(f"largest tolerance needed by the reference solution on the test cases: {worst:.3g}")
    print(f"largest tolerance needed across the settings on the larger cases: {worst_stress:.3g}")
    largest = max(worst, worst_stress)
    print(f"margin of the tolerance in force: {tolerance / largest:.0f}x" if largest else "no drift at all")
    print(
        "\nResNet50, predict against a call with training=False (largest |difference| of the probabilities):"
    )
    for label, drift in inference.items():
        print(f"  {label}: {drift:.3g}")

    print("\nblock mistakes of the catalogue: the tolerance their values need (public cases)")
    smallest = None
    for name, needed in _mistake_tolerances():
        if needed is None:
            note = "does not run or changes the output shape"
        elif needed < 1e-6:
            note = f"{needed:.2g}: same values, caught by the layer checks only"
        else:
            note = f"{needed:.2g}" + (
                " (values alone catch it)" if needed > tolerance else " (values alone miss it)"
            )
            smallest = needed if smallest is None else min(smallest, needed)
        print(f"  {name:50} {note}")
    if smallest is not None:
        print(f"\nsmallest value change of a mistake that changes values: {smallest:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
