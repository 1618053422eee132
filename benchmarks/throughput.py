"""Training throughput of ResNet50 on SIGNS-sized data: ours against keras.applications and PyTorch.

Usage::

    python benchmarks/throughput.py [--variants ours,keras_apps,torch] [--repeats 3]
                                     [--epochs 1] [--n-train 1080] [--torch-python PATH]
                                     [--baseline keras_apps] [--json-out FILE] [--list]

Each run starts a fresh Python process (so no run inherits another's threads, caches or traced
graphs), trains one warm-up epoch (TensorFlow traces the training step during it) and then
``--epochs`` timed epochs on ``--n-train`` random 64x64x3 images in [0, 1] with 6 classes, batch
32, Adam(1e-3) and the categorical cross-entropy, as the notebook does. Variants are interleaved
round-robin, and the order rotates at each repeat, so slow phases of a shared machine hit every
variant alike.

The table gives, per variant, the median over runs of each run's median timed epoch, images per
second, the time to the end of the first training step (start-up: graph tracing in TensorFlow),
and the ratio of its epoch time to ``keras_apps``'s, taken per repeat (the two runs next to each
other) and then the median: below 1.0 is faster than ``keras.applications.ResNet50``.

The networks:

- ``ours``: the notebook's ResNet50 (the reference solution, read from the source notebook);
  He et al. 2015, Table 1, 50-layer column, with the course's 3x3 max-pooling ('valid') and
  2x2 average pooling; 23,600,006 parameters for 64x64x3 inputs and 6 classes.
- ``keras_apps``: ``keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3),
  classes=6)``, the same parameter count ('same' max-pooling, global average pooling).
- ``torch``: :func:`torch_resnet50`, ours written in PyTorch layer for layer (conv biases,
  BatchNorm epsilon 1e-3 and momentum 0.01 like Keras's defaults), channels_last memory format.
  Needs ``torch`` (``pip install -r benchmarks/requirements.txt``, a CPU build); the runs use
  ``--torch-python`` (default: this interpreter).

Settings variants of ours (see :data:`VARIANTS`): ``ours_bf16`` (Keras ``mixed_bfloat16``
policy), ``ours_xla`` (``jit_compile=True``), ``ours_bs64`` (batch 64), ``ours_1thread`` (one
intra-op thread), ``ours_onednn_off`` (``TF_ENABLE_ONEDNN_OPTS=0``), ``ours_tf_default``
(``TF_ENABLE_ONEDNN_OPTS`` unset, where every other Keras run gets the notebook's settings,
``test_utils.tensorflow_environment()``), ``ours_fusedbn`` and ``ours_bf16_fusedbn``
(BatchNorm as TensorFlow's ``FusedBatchNormV3``, in float32 and with ``mixed_bfloat16``),
``ours_prebuilt`` (Adam's
variables created before ``fit``, as the notebook does: one trace of the training step instead
of two), ``torch_bf16`` (PyTorch ``autocast(bfloat16)``). ``--baseline NAME`` takes the ratios to another variant, and
``--summarize FILE`` prints the table of a ``--json-out`` file again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from resnets_kit import REPO_ROOT

__all__ = [
    "VARIANTS",
    "Variant",
    "child_env",
    "keras_model",
    "main",
    "run_variant",
    "summarize",
    "torch_resnet50",
]

#: Image side and number of classes of SIGNS.
IMAGE_SIZE, CLASSES = 64, 6


@dataclass(frozen=True)
class Variant:
    """One benchmarked configuration.

    Attributes:
        framework: ``"keras"`` or ``"torch"``.
        model: ``"ours"`` or ``"keras_apps"`` (Keras only).
        batch_size: images per training step.
        options: extra settings: ``policy`` (a Keras dtype policy name), ``jit_compile``
            (bool), ``intra_threads`` (int), ``build_optimizer`` (bool: create the optimizer's
            variables before ``fit``, so that the training step is traced once),
            ``fused_batchnorm`` (bool: BatchNorm as ``FusedBatchNormV3``, ``fused_batchnorm.py``),
            ``autocast_bf16`` (bool, PyTorch).
        env: environment variables of the run's process (read when TensorFlow loads), on top of
            the notebook's (``test_utils.tensorflow_environment()``, which every Keras run gets);
            ``None`` removes a variable.
        about: one line for the table.
    """

    framework: str
    model: str
    about: str
    batch_size: int = 32
    options: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)


#: The variants ``--variants`` accepts.
VARIANTS: dict[str, Variant] = {
    "ours": Variant("keras", "ours", "the notebook's ResNet50, float32 (the default)"),
    "keras_apps": Variant("keras", "keras_apps", "keras.applications.ResNet50, float32"),
    "torch": Variant("torch", "ours", "the same network in PyTorch, float32, channels_last"),
    "torch_bf16": Variant("torch", "ours", "PyTorch, autocast(bfloat16)", options={"autocast_bf16": True}),
    "ours_bf16": Variant(
        "keras", "ours", "ours, mixed_bfloat16 policy", options={"policy": "mixed_bfloat16"}
    ),
    "ours_xla": Variant("keras", "ours", "ours, jit_compile=True (XLA)", options={"jit_compile": True}),
    "ours_bs64": Variant("keras", "ours", "ours, batch 64", batch_size=64),
    "ours_prebuilt": Variant(
        "keras",
        "ours",
        "ours, Adam's variables created before fit (optimizer.build), as in the notebook",
        options={"build_optimizer": True},
    ),
    "ours_1thread": Variant("keras", "ours", "ours, one intra-op thread", options={"intra_threads": 1}),
    "ours_onednn_off": Variant(
        "keras", "ours", "ours, TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels)", env={"TF_ENABLE_ONEDNN_OPTS": "0"}
    ),
    "ours_fusedbn": Variant(
        "keras",
        "ours",
        "ours, BatchNorm as TensorFlow's FusedBatchNormV3 (fused_batchnorm.py)",
        options={"fused_batchnorm": True},
    ),
    "ours_bf16_fusedbn": Variant(
        "keras",
        "ours",
        "ours, mixed_bfloat16 policy and FusedBatchNormV3",
        options={"policy": "mixed_bfloat16", "fused_batchnorm": True},
    ),
    "ours_tf_default": Variant(
        "keras",
        "ours",
        "ours, TF_ENABLE_ONEDNN_OPTS unset (TensorFlow's own choice: Eigen on AVX2-only processors)",
        env={"TF_ENABLE_ONEDNN_OPTS": None},
    ),
}

DEFAULT_VARIANTS = ("ours", "keras_apps", "torch")


def _data(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    labels = rng.integers(0, CLASSES, n)
    return x, labels


def keras_model(variant: Variant):
    """The compiled Keras model of a Keras variant: its thread count and dtype policy set, seed 0,
    Adam(1e-3) and the categorical cross-entropy (Adam's variables built now when the variant
    says so). Changes this process's Keras settings (the policy): one variant per process."""
    opts = variant.options
    if "intra_threads" in opts:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(opts["intra_threads"])
    import keras

    if "policy" in opts:
        keras.mixed_precision.set_global_policy(opts["policy"])
    if opts.get("fused_batchnorm"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import fused_batchnorm

        fused_batchnorm.install()
    keras.utils.set_random_seed(0)
    if variant.model == "ours":
        from resnets_kit.solution import load_solution

        model = load_solution()["ResNet50"](input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classes=CLASSES)
    else:
        model = keras.applications.ResNet50(
            weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classes=CLASSES
        )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="categorical_crossentropy",
        jit_compile=opts.get("jit_compile", "auto"),
    )
    if opts.get("build_optimizer"):
        model.optimizer.build(model.trainable_variables)
    return model


def _run_keras(variant: Variant, n_train: int, epochs: int) -> dict:
    import keras
    import numpy as np

    model = keras_model(variant)
    x, labels = _data(n_train)
    y = np.eye(CLASSES, dtype=np.float32)[labels]
    marks: dict[str, float] = {}
    epoch_times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks.setdefault("first_step", time.perf_counter())

        def on_epoch_begin(self, epoch, logs=None):
            marks["epoch_start"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - marks["epoch_start"])

    start = time.perf_counter()
    history = model.fit(
        x, y, batch_size=variant.batch_size, epochs=1 + epochs, shuffle=True, verbose=0, callbacks=[Clock()]
    )
    return {
        "params": int(model.count_params()),
        "first_step_s": marks["first_step"] - start,
        "warmup_epoch_s": epoch_times[0],
        "epoch_s": epoch_times[1:],
        "loss": [float(v) for v in history.history["loss"]],
    }


def torch_resnet50(classes: int = CLASSES):
    """Our ResNet50 in PyTorch, layer for layer (NCHW parameters; use channels_last for speed).

    Same layers, shapes and parameter count as the notebook's Keras ResNet50 (He et al. 2015,
    Table 1): zero padding 3, 7x7/2 convolution, BatchNorm, ReLU, 3x3/2 max-pooling ('valid'),
    stages of [3, 4, 6, 3] bottleneck blocks (a convolutional block first, the stride on its first
    1x1 convolution and on the shortcut's 1x1 convolution, then identity blocks), 2x2 average
    pooling, a dense layer to ``classes`` logits. Convolutions have biases (Keras's default);
    BatchNorm uses epsilon 1e-3 and momentum 0.01 (Keras's 0.99 written PyTorch's way). The
    softmax is left to the loss (``torch.nn.CrossEntropyLoss`` takes logits).

    Args:
        classes: number of output logits.

    Returns:
        A ``torch.nn.Module`` mapping float32 (m, 3, 64, 64) images to (m, classes) logits.

    Raises:
        ModuleNotFoundError: PyTorch is not installed (``pip install -r benchmarks/requirements.txt``).
    """
    from torch import nn

    def bn(channels):
        return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)

    class Block(nn.Module):
        def __init__(self, c_in, filters, stride, shortcut_conv):
            super().__init__()
            f1, f2, f3 = filters
            self.main = nn.Sequential(
                nn.Conv2d(c_in, f1, 1, stride=stride),
                bn(f1),
                nn.ReLU(),
                nn.Conv2d(f1, f2, 3, padding=1),
                bn(f2),
                nn.ReLU(),
                nn.Conv2d(f2, f3, 1),
                bn(f3),
            )
            self.shortcut = (
                nn.Sequential(nn.Conv2d(c_in, f3, 1, stride=stride), bn(f3))
                if shortcut_conv
                else nn.Identity()
            )
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.main(x) + self.shortcut(x))

    layers = [nn.ZeroPad2d(3), nn.Conv2d(3, 64, 7, stride=2), bn(64), nn.ReLU(), nn.MaxPool2d(3, stride=2)]
    c_in = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        filters = (width, width, 4 * width)
        layers.append(Block(c_in, filters, stride, shortcut_conv=True))
        layers += [Block(4 * width, filters, 1, shortcut_conv=False) for _ in range(blocks - 1)]
        c_in = 4 * width
    layers += [nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2048, classes)]
    return nn.Sequential(*layers)


def torch_parameter_count(model) -> int:
    """Parameters counted as Keras counts them: weights plus BatchNorm moving statistics."""
    import torch

    stats = sum(
        m.running_mean.numel() + m.running_var.numel()
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    )
    return sum(p.numel() for p in model.parameters()) + stats


def _run_torch(variant: Variant, n_train: int, epochs: int) -> dict:
    import torch

    torch.manual_seed(0)
    model = torch_resnet50().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, labels = _data(n_train)
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    targets = torch.from_numpy(labels)
    bf16 = variant.options.get("autocast_bf16", False)
    generator = torch.Generator().manual_seed(0)
    marks: dict[str, float] = {}
    epoch_times, losses = [], []
    model.train()
    start = time.perf_counter()
    for _ in range(1 + epochs):
        epoch_start = time.perf_counter()
        order = torch.randperm(n_train, generator=generator)
        total = 0.0
        for i in range(0, n_train, variant.batch_size):
            idx = order[i : i + variant.batch_size]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(model(images[idx]), targets[idx])
            loss.backward()
            optimizer.step()
            total += float(loss) * len(idx)
            marks.setdefault("first_step", time.perf_counter())
        epoch_times.append(time.perf_counter() - epoch_start)
        losses.append(total / n_train)
    return {
        "params": torch_parameter_count(model),
        "first_step_s": marks["first_step"] - start,
        "warmup_epoch_s": epoch_times[0],
        "epoch_s": epoch_times[1:],
        "loss": losses,
    }


def run_variant(name: str, n_train: int = 1080, epochs: int = 1) -> dict:
    """Train one variant in this process and time it.

    Args:
        name: a key of :data:`VARIANTS`.
        n_train: number of random training images (1080 is SIGNS's training set).
        epochs: timed epochs after the warm-up epoch.

    Returns:
        ``{"variant", "params", "first_step_s", "warmup_epoch_s", "epoch_s": [s, ...],
        "loss": [per epoch]}``; times in seconds, wall clock.

    Raises:
        KeyError: unknown variant name.
        ModuleNotFoundError: a PyTorch variant without PyTorch installed.
    """
    variant = VARIANTS[name]
    run = _run_keras if variant.framework == "keras" else _run_torch
    return {"variant": name, "n_train": n_train, **run(variant, n_train, epochs)}


def child_env(name: str) -> dict[str, str]:
    """The environment of a variant's run: the notebook's TensorFlow settings
    (``test_utils.tensorflow_environment()``) where this process's environment does not set them,
    then the variant's own (``None`` removes a variable), and the repository on ``PYTHONPATH``."""
    from test_utils import tensorflow_environment

    env = {**tensorflow_environment(), **os.environ, **VARIANTS[name].env}
    env = {key: value for key, value in env.items() if value is not None}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _child(name: str, n_train: int, epochs: int, python: str) -> dict:
    command = [python, os.path.abspath(__file__), "--child", name, "--n-train", str(n_train)]
    command += ["--epochs", str(epochs)]
    env = child_env(name)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict], baseline: str = "keras_apps") -> str:
    """Format runs (as :func:`run_variant` returns them, each with a ``repeat`` key) as a table."""
    names = list(dict.fromkeys(run["variant"] for run in runs))
    by_name = {name: [r for r in runs if r["variant"] == name] for name in names}
    base = {r["repeat"]: statistics.median(r["epoch_s"]) for r in by_name.get(baseline, [])}
    n_train = runs[0]["n_train"]
    lines = [
        f"| variant | runs | epoch s, median (min-max) | images/s | first step s | ratio to {baseline} | parameters |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        rows = by_name[name]
        epochs = [statistics.median(r["epoch_s"]) for r in rows]
        med = statistics.median(epochs)
        ratios = [statistics.median(r["epoch_s"]) / base[r["repeat"]] for r in rows if r["repeat"] in base]
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
        first = statistics.median(r["first_step_s"] for r in rows)
        lines.append(
            f"| {name} | {len(rows)} | {med:.1f} ({min(epochs):.1f}-{max(epochs):.1f}) | "
            f"{n_train / med:.0f} | {first:.1f} | {ratio} | {rows[0]['params']:,} |"
        )
    lines.append("")
    lines += [f"- {name}: {VARIANTS[name].about}" for name in names if name in VARIANTS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring); return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/throughput.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="comma-separated names")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per run, after one warm-up epoch")
    parser.add_argument("--n-train", type=int, default=1080, help="training images per epoch")
    parser.add_argument("--torch-python", default=sys.executable, help="Python with PyTorch installed")
    parser.add_argument("--baseline", default="keras_apps", help="the variant the ratios refer to")
    parser.add_argument("--json-out", help="also write every run to this JSON file")
    parser.add_argument("--summarize", metavar="JSON", help="print the table of a --json-out file and exit")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        for name, variant in VARIANTS.items():
            print(f"{name:14s} {variant.about}")
        return 0
    if args.summarize:
        with open(args.summarize) as fh:
            print(summarize(json.load(fh), args.baseline))
        return 0
    if args.child:
        print(json.dumps(run_variant(args.child, args.n_train, args.epochs)))
        return 0
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; --list shows them")
    if args.repeats < 1 or args.epochs < 1 or args.n_train < 1:
        parser.error("--repeats, --epochs and --n-train must be at least 1")
    runs = []
    for repeat in range(args.repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            python = args.torch_python if VARIANTS[name].framework == "torch" else sys.executable
            run = {**_child(name, args.n_train, args.epochs, python), "repeat": repeat}
            runs.append(run)
            print(
                f"repeat {repeat + 1}, {name}: epoch {statistics.median(run['epoch_s']):.1f} s, "
                f"first step {run['first_step_s']:.1f} s",
                flush=True,
            )
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(runs, fh, indent=1)
    print(summarize(runs, args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
