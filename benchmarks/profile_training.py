"""Where one training step of ResNet50 spends its time: TensorFlow's profiler, grouped by layer type.

Usage::

    python benchmarks/profile_training.py [--variants ours,ours_bf16] [--steps 3] [--onednn]
                                          [--json-out FILE]

For each variant of ``throughput.py`` (Keras variants only), a fresh process builds the model as
``throughput.py`` does (:func:`throughput.keras_model`), trains one warm-up epoch of 2 batches of
random images (TensorFlow traces the training step), then trains ``--steps`` steps of the
variant's batch size (32 but for ``ours_bs64``) under
TensorFlow's profiler. The profile (an XPlane file) is read back, and the time of every operation
TensorFlow ran is summed by group (:func:`group_of`): the layer type its name scope names
(``Conv2D``, ``BatchNormalization``, ...), forward or backward (the ``gradient_tape`` scope), the
optimizer's updates, the loss, dtype casts, and everything else. Times are operation times
summed over threads, per training step, in milliseconds; with 2 threads they can add up to more
than the wall time of a step, which the table gives too.

``--onednn`` also runs each variant with ``ONEDNN_VERBOSE=1`` and sums oneDNN's ``exec`` lines per
primitive kind (convolution, reorder, batch normalization, ...), per training step, over the
whole run (warm-up epoch included): reorders are layout conversions between TensorFlow's NHWC
and oneDNN's blocked formats.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput  # noqa: E402  (the benchmarks folder is not a package)

#: Operation types counted as dtype casts wherever they run.
CAST_TYPES = ("Cast",)


def group_of(scope: str, op_type: str, layer_types: dict[str, str]) -> str:
    """The group of one operation of a Keras training step.

    Args:
        scope: the operation's name without its type, e.g.
            ``"StatefulPartitionedCall/gradient_tape/functional_1/conv2d_3_1/Conv2DBackpropInput"``.
        op_type: the operation's type (after the ``:`` in the profiler's event name), e.g.
            ``"Conv2DBackpropInput"`` or ``"_MklNativeFusedConv2D"``.
        layer_types: layer name to its class name (``{"conv2d_3": "Conv2D", ...}``).

    Returns:
        ``"<LayerType> forward"``, ``"<LayerType> backward"``, ``"optimizer"``, ``"loss"``,
        ``"cast"`` or ``"other"``.
    """
    if op_type in CAST_TYPES:
        return "cast"
    parts = scope.split("/")
    if any(p in ("adam", "sgd", "optimizer") or p.startswith("adam") for p in parts):
        return "optimizer"
    if any("loss" in p for p in parts):
        return "loss"
    backward = "gradient_tape" in parts
    for part in parts:
        name = part[:-2] if part.endswith("_1") and part[:-2] in layer_types else part
        if name in layer_types:
            return f"{layer_types[name]} {'backward' if backward else 'forward'}"
    return "other"


def op_times(xspace) -> list[tuple[str, str, float]]:
    """Every TensorFlow operation in a profile: ``(scope, op_type, milliseconds)``, read from the
    ``/host:CPU`` plane's executor threads (``tf_Compute`` lines); the profiler's own bookkeeping
    events (names without ``:``) are left out."""
    out = []
    for plane in xspace.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or name.startswith(("ThreadpoolListener", "ExecutorState")):
                    continue
                scope, op_type = name.rsplit(":", 1)
                out.append((scope, op_type, event.duration_ps / 1e9))
    return out


#: Training steps of the warm-up epoch before the profiled steps.
WARMUP_STEPS = 2


def profile_groups(model, steps: int, batch_size: int = 32) -> dict:
    """Train ``model`` (compiled; any input shape, a one-hot output) one warm-up epoch of
    :data:`WARMUP_STEPS` batches of random images in [0, 1], then ``steps`` steps
    under TensorFlow's profiler; return ``{"groups": {group: ms per step}, "wall_ms": wall ms
    per step, "steps": steps}``."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    rng = np.random.default_rng(0)
    n = max(WARMUP_STEPS, steps) * batch_size
    x = rng.random((n, *model.input_shape[1:]), dtype=np.float32)
    classes = model.output_shape[-1]
    y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    warmup = WARMUP_STEPS * batch_size
    model.fit(x[:warmup], y[:warmup], batch_size=batch_size, epochs=1, verbose=0)
    layer_types = {layer.name: type(layer).__name__ for layer in model.layers}
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(
            x[: steps * batch_size], y[: steps * batch_size], batch_size=batch_size, epochs=1, verbose=0
        )
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        xspace = xplane_pb2.XSpace()
        xspace.ParseFromString(Path(path).read_bytes())
    groups: dict[str, float] = collections.defaultdict(float)
    for scope, op_type, ms in op_times(xspace):
        groups[group_of(scope, op_type, layer_types)] += ms / steps
    return {"groups": dict(groups), "wall_ms": 1000 * wall / steps, "steps": steps}


def onednn_totals(log: str, steps: int) -> dict[str, float]:
    """Sum oneDNN's verbose ``exec`` lines (``onednn_verbose,...,exec,cpu,<kind>,...,<ms>``) per
    primitive kind; return milliseconds per training step (``steps`` steps in the whole log)."""
    totals: dict[str, float] = collections.defaultdict(float)
    for line in log.splitlines():
        fields = line.strip().split(",")
        if not fields[0].startswith("onednn_verbose") or "exec" not in fields:
            continue
        at = fields.index("exec")
        try:
            kind, ms = fields[at + 2], float(fields[-1])
        except (IndexError, ValueError):
            continue
        totals[kind] += ms / steps
    return dict(totals)


def table(results: dict[str, dict]) -> str:
    """A markdown table: one row per group (largest first in the first variant), one pair of
    columns (ms per step, share) per variant, then the wall time per step."""
    names = list(results)
    first = results[names[0]]["groups"]
    groups = sorted({g for r in results.values() for g in r["groups"]}, key=lambda g: -first.get(g, 0.0))
    head = "| group | " + " | ".join(f"{n} ms/step | share" for n in names) + " |"
    lines = [head, "|---|" + "---|---|" * len(names)]
    for group in groups:
        cells = []
        for n in names:
            total = sum(results[n]["groups"].values()) or 1.0
            ms = results[n]["groups"].get(group, 0.0)
            cells.append(f"{ms:.1f} | {100 * ms / total:.0f}%")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append("| wall per step | " + " | ".join(f"{results[n]['wall_ms']:.0f} | " for n in names) + " |")
    for n in names:
        if results[n].get("onednn"):
            parts = sorted(results[n]["onednn"].items(), key=lambda kv: -kv[1])
            lines.append(
                f"\noneDNN primitives, {n} (ms/step): " + ", ".join(f"{k} {v:.0f}" for k, v in parts)
            )
    return "\n".join(lines)


def _child(name: str, steps: int, onednn: bool) -> dict:
    env = throughput.child_env(name)
    command = [sys.executable, os.path.abspath(__file__), "--child", name, "--steps", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=throughput.REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if onednn:
        env["ONEDNN_VERBOSE"] = "1"
        verbose = subprocess.run(command, capture_output=True, text=True, env=env, cwd=throughput.REPO_ROOT)
        if verbose.returncode != 0:
            raise RuntimeError(f"variant {name} with ONEDNN_VERBOSE=1 failed (exit {verbose.returncode})")
        result["onednn"] = onednn_totals(verbose.stdout + verbose.stderr, steps + WARMUP_STEPS)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="ours,ours_bf16", help="throughput.py's Keras variants")
    parser.add_argument("--steps", type=int, default=3, help="profiled training steps (default: %(default)s)")
    parser.add_argument("--onednn", action="store_true", help="also sum oneDNN's verbose log")
    parser.add_argument("--json-out", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        from test_utils import import_tensorflow

        import_tensorflow()
        variant = throughput.VARIANTS[args.child]
        model = throughput.keras_model(variant)
        print(json.dumps(profile_groups(model, args.steps, variant.batch_size)))
        return 0
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [
        n for n in names if throughput.VARIANTS.get(n) is None or throughput.VARIANTS[n].framework != "keras"
    ]
    if unknown:
        parser.error(f"not Keras variants of throughput.py: {', '.join(unknown)} (see throughput.py --list)")
    results = {}
    for name in names:
        results[name] = _child(name, args.steps, args.onednn)
        print(f"profiled {name}: {results[name]['wall_ms']:.0f} ms per step", flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
