"""Why shortcuts help, measured: gradient norms and training loss of plain and residual networks.

He et al. (2015) observed that a deeper *plain* network trains worse than a shallower one (its
*training* error is higher: Section 1 and Figure 1 on CIFAR-10, Section 4.1 and Figure 4 on
ImageNet), and that the same networks with identity shortcuts do not suffer from this: the deeper
residual network trains better. This module reproduces both effects at a size that runs in about
a minute on two CPU cores, on the SIGNS images:

- :func:`gradient_norm_experiment`: the norm of the loss gradient of every convolution, first to
  last, in a 50-layer plain network and the same network with shortcuts, at initialisation and
  after a few training steps;
- :func:`training_loss_experiment`: the training loss over the first epochs of plain and
  residual networks at two depths (20 and 56 layers, the depths of He et al.'s Figure 1).

The networks (:func:`build_network`) are small versions of He et al.'s CIFAR-10 networks
(Section 4.2): a stem convolution, then a stack of 3x3 convolutions of one width, each followed by
BatchNorm and ReLU; the residual version adds an identity shortcut around every two convolutions
(the basic block of Figure 2, the left block of Figure 5), and the plain version has exactly the
same layers without the shortcuts. Depth counts the weighted layers, as in the paper: the
convolutions plus the final dense layer.

Command line::

    python -m resnets_experiments --out DIR [--fast]

runs both experiments on the SIGNS training images (``datasets/train_signs.h5``), writes
``gradient_norms.png`` and ``training_loss.png`` to ``DIR``, and prints the measured numbers and
the wall time of each experiment. ``--fast`` uses tiny settings (a smoke test, seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FAST_SETTINGS",
    "GRADIENT_SETTINGS",
    "LOSS_SETTINGS",
    "TrainingRun",
    "build_network",
    "conv_layers",
    "describe_gradient_norms",
    "describe_training_loss",
    "gradient_norm_experiment",
    "gradient_norms",
    "kernel_norms",
    "main",
    "plot_gradient_norms",
    "plot_training_loss",
    "prepare_data",
    "train",
    "training_loss_experiment",
]

#: Settings of :func:`gradient_norm_experiment` used by the command line and the notebook.
GRADIENT_SETTINGS = {"depth": 50, "width": 8, "steps": 20, "batch_size": 32}
#: Settings of :func:`training_loss_experiment` used by the command line and the notebook.
LOSS_SETTINGS = {"depths": (20, 56), "width": 8, "epochs": 3, "batch_size": 32}
#: Tiny settings for smoke tests (``--fast``, the notebook's quick run): seconds, no visible effect.
FAST_SETTINGS = {
    "gradient": {"depth": 8, "width": 4, "steps": 2, "batch_size": 16},
    "loss": {"depths": (4, 8), "width": 4, "epochs": 1, "batch_size": 16, "max_examples": 64},
}

KINDS = ("plain", "residual")
_COLOURS = {"plain": "#c0392b", "residual": "#2471a3"}


def _keras():
    """Import Keras with TensorFlow's start-up log lines kept off stderr."""
    from test_utils import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def build_network(
    depth: int,
    width: int = 8,
    residual: bool = False,
    *,
    batchnorm: bool = True,
    input_shape: tuple[int, int, int] = (64, 64, 3),
    classes: int = 6,
    seed: int = 0,
):
    """A plain or residual convolutional network of a given depth (He et al. 2015, Section 4.2).

    Layers, for ``depth = 2 + 2n`` (``n`` blocks)::

        stem:   CONV2D 3x3 stride 2 -> BatchNorm -> ReLU -> MAXPOOL 2x2        (H/4 x W/4 x width)
        n x     CONV2D 3x3 -> BatchNorm -> ReLU -> CONV2D 3x3 -> BatchNorm -> [+ shortcut] -> ReLU
        head:   BatchNorm -> global average pooling -> DENSE (classes, softmax)

    With ``residual=True`` each block adds its input before the last ReLU (an identity shortcut
    every 2 convolutions, He et al. Figure 2); with ``residual=False`` the layers are the same,
    without the ``Add`` (no extra weights either way, so with the same ``seed`` both networks
    start from the same weights). The head's BatchNorm keeps the scale of the features that reach
    the classifier independent of depth (the sum along the shortcuts grows with the number of
    blocks). All convolutions have ``width`` filters, 'same' padding and Keras's default
    initialisation (Glorot uniform); with BatchNorm they have no bias.

    Layer names: ``conv1``, ``bn1``, ``relu1``, ``pool1`` for the stem; ``block{i}_conv{j}``,
    ``block{i}_bn{j}``, ``block{i}_relu{j}`` and, when residual, ``block{i}_add`` for block
    ``i = 1..n`` and ``j = 1, 2``; ``head_bn``, ``head_pool``, ``head_dense``.

    Args:
        depth: number of weighted layers (convolutions plus the dense layer), an even integer
            >= 4; there are ``depth - 1`` convolutions. 50 matches ResNet50's depth.
        width: number of filters of every convolution, >= 1.
        residual: add the identity shortcuts.
        batchnorm: put a BatchNormalization after every convolution (and in the head); without
            it, the convolutions have biases.
        input_shape: (height, width, channels) of the images, height and width >= 4.
        classes: number of classes, >= 2.
        seed: seed of the weight initialisation (``keras.utils.set_random_seed``, which also
            seeds Python's and NumPy's global generators).

    Returns:
        A ``keras.Model`` from float32 images ``(m, *input_shape)`` to class probabilities
        ``(m, classes)`` float32; named ``residual{depth}`` or ``plain{depth}``.

    Raises:
        ValueError: ``depth`` is not an even integer >= 4, or ``width``, ``classes`` or
            ``input_shape`` are out of range.
    """
    keras = _keras()
    from keras import layers

    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 4 or depth % 2:
        raise ValueError(f"depth must be an even integer >= 4 (2 + 2 per block), got {depth!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes!r}")
    if len(input_shape) != 3 or min(input_shape[:2]) < 4:
        raise ValueError(f"input_shape must be (height >= 4, width >= 4, channels), got {input_shape!r}")

    keras.utils.set_random_seed(seed)

    def conv(x, name, strides=1):
        return layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=not batchnorm, name=name)(x)

    def norm(x, name):
        return layers.BatchNormalization(name=name)(x) if batchnorm else x

    inputs = keras.Input(shape=input_shape, name="images")
    x = conv(inputs, "conv1", strides=2)
    x = norm(x, "bn1")
    x = layers.ReLU(name="relu1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    for i in range(1, (depth - 2) // 2 + 1):
        shortcut = x
        x = conv(x, f"block{i}_conv1")
        x = norm(x, f"block{i}_bn1")
        x = layers.ReLU(name=f"block{i}_relu1")(x)
        x = conv(x, f"block{i}_conv2")
        x = norm(x, f"block{i}_bn2")
        if residual:
            x = layers.Add(name=f"block{i}_add")([x, shortcut])
        x = layers.ReLU(name=f"block{i}_relu2")(x)
    x = norm(x, "head_bn")
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = layers.Dense(classes, activation="softmax", name="head_dense")(x)
    return keras.Model(inputs, outputs, name=f"{'residual' if residual else 'plain'}{depth}")


def conv_layers(model) -> list:
    """The ``Conv2D`` layers of ``model``, first (nearest the input) to last.

    Args:
        model: a Keras model, e.g. from :func:`build_network`.

    Returns:
        The list of ``keras.layers.Conv2D`` layers in the order of ``model.layers`` (for a
        functional model, the order in which they process the input).
    """
    keras = _keras()
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def prepare_data(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels in the form the experiments use.

    Args:
        X: images (m, 64, 64, 3), uint8 in 0-255 (as ``load_dataset`` returns them) or float in
            [0, 1].
        Y: integer labels, shape (m,) or (1, m) (as ``load_dataset`` returns them).

    Returns:
        ``(x, y)``: float32 (m, 64, 64, 3) in [0, 1], and int64 (m,).

    Raises:
        ValueError: the numbers of images and labels differ, or X is not 4-D.
    """
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"X must have shape (m, height, width, channels), got {X.shape}")
    x = X.astype(np.float32) / 255.0 if X.dtype == np.uint8 else X.astype(np.float32)
    y = np.asarray(Y).reshape(-1).astype(np.int64)
    if y.size != x.shape[0]:
        raise ValueError(f"{x.shape[0]} images but {y.size} labels")
    return x, y


def gradient_norms(model, x, y) -> np.ndarray:
    """The norm of the loss gradient with respect to each convolution's kernel, first to last.

    The loss is the mean sparse categorical cross-entropy (natural log) of ``model`` on the batch
    ``(x, y)`` in training mode (BatchNorm normalises with the batch statistics, as during
    training). For convolution ``l`` with kernel ``W_l`` the value is the Frobenius (L2) norm
    ``||dL/dW_l|| = sqrt(sum of squared entries)``. The model is left unchanged: the BatchNorm
    moving averages that the training-mode call updates are restored.

    Args:
        model: a Keras model with ``Conv2D`` layers and softmax outputs ``(m, C)``.
        x: float32 images ``(m, H, W, channels)`` in [0, 1].
        y: integer labels ``(m,)`` in [0, C).

    Returns:
        float64 array ``(n_conv,)``, one non-negative norm per ``Conv2D`` layer in the order of
        :func:`conv_layers` (index 0: the layer nearest the input).

    Raises:
        ValueError: the model has no ``Conv2D`` layer.
    """
    keras = _keras()
    import tensorflow as tf

    convs = conv_layers(model)
    if not convs:
        raise ValueError(f"model {model.name!r} has no Conv2D layer")
    kernels = [layer.kernel for layer in convs]
    saved = [v.numpy() for v in model.non_trainable_variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, kernels)
    for variable, value in zip(model.non_trainable_variables, saved, strict=True):
        variable.assign(value)
    return np.array([float(tf.norm(g)) for g in grads], dtype=np.float64)


def kernel_norms(model) -> np.ndarray:
    """The Frobenius (L2) norm of each convolution's kernel, first to last.

    Args:
        model: a Keras model with ``Conv2D`` layers.

    Returns:
        float64 array ``(n_conv,)`` in the order of :func:`conv_layers`.
    """
    return np.array([float(np.linalg.norm(layer.kernel.numpy())) for layer in conv_layers(model)])


@dataclass
class TrainingRun:
    """What :func:`train` measured.

    Attributes:
        step_losses: float64 ``(steps,)``, the training loss (mean cross-entropy, in nats) of
            each step's batch, computed in training mode before that step's update.
        epoch_losses: float64 ``(epochs,)``, the mean of the step losses of each epoch (an
            epoch cut short by ``max_steps`` averages the steps it ran).
        steps_per_epoch: number of steps in a full epoch (``m // batch_size``).
        seconds: wall time of the training in seconds, including the one-off tracing of the
            step function (most of the time for a short run).
    """

    step_losses: np.ndarray
    epoch_losses: np.ndarray
    steps_per_epoch: int
    seconds: float


def train(
    model,
    x,
    y,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    optimizer: str = "sgd",
    learning_rate: float = 0.1,
    max_steps: int | None = None,
    seed: int = 0,
) -> TrainingRun:
    """Train ``model`` on ``(x, y)`` and record the loss of every step.

    The default optimizer is He et al.'s (Section 3.4 and 4.2): SGD with momentum 0.9 and
    learning rate 0.1 (constant here, no weight decay). Each epoch visits the examples in a new
    random order (NumPy generator seeded with ``seed``) in batches of ``batch_size``; the last
    incomplete batch is dropped, so that every step has the same batch shape and the step
    function is traced once. The loss is the mean sparse categorical cross-entropy in training
    mode.

    Args:
        model: a Keras model with softmax outputs ``(m, C)``; trained in place.
        x: float32 images ``(m, H, W, channels)`` in [0, 1].
        y: integer labels ``(m,)`` in [0, C).
        epochs: number of passes over the data, >= 1.
        batch_size: examples per step, 1 <= batch_size <= m.
        optimizer: ``"sgd"`` (momentum 0.9) or ``"adam"``.
        learning_rate: the optimizer's (constant) learning rate, > 0.
        max_steps: stop after this many steps in all (``None``: no limit), >= 1.
        seed: seed of the order of the examples.

    Returns:
        A :class:`TrainingRun`.

    Raises:
        ValueError: ``epochs`` < 1, ``batch_size`` out of range, ``max_steps`` < 1, a
            non-positive ``learning_rate`` or an unknown ``optimizer``.
        FloatingPointError: the loss became NaN or infinite (training diverged).
    """
    keras = _keras()
    import tensorflow as tf

    m = len(x)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not 1 <= batch_size <= m:
        raise ValueError(f"batch_size must be between 1 and the number of examples ({m}), got {batch_size}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 or None, got {max_steps}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=0.9)
    elif optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        return loss

    rng = np.random.default_rng(seed)
    steps_per_epoch = m // batch_size
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    step_losses, epoch_losses = [], []
    start = time.perf_counter()
    while len(step_losses) < total:
        order = rng.permutation(m)
        losses = []
        for i in range(min(steps_per_epoch, total - len(step_losses))):
            batch = order[i * batch_size : (i + 1) * batch_size]
            loss = float(step(x[batch], y[batch]))
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"training {model.name} diverged at step {len(step_losses) + 1} (loss {loss}); "
                    "lower the learning rate"
                )
            losses.append(loss)
            step_losses.append(loss)
        epoch_losses.append(float(np.mean(losses)))
    return TrainingRun(
        step_losses=np.array(step_losses, dtype=np.float64),
        epoch_losses=np.array(epoch_losses, dtype=np.float64),
        steps_per_epoch=steps_per_epoch,
        seconds=time.perf_counter() - start,
    )


def gradient_norm_experiment(
    x,
    y,
    *,
    depth: int = 50,
    width: int = 8,
    steps: int = 20,
    batch_size: int = 32,
    learning_rate: float = 0.1,
    batchnorm: bool = True,
    seed: int = 0,
) -> dict:
    """Per-layer gradient norms of a plain and a residual network, at initialisation and after
    a few training steps (the gradient flow behind He et al. 2015, Section 1 and Section 4.1).

    Both networks (:func:`build_network` with the same ``depth``, ``width`` and ``seed``, so the
    same initial weights) are measured with :func:`gradient_norms` on one probe batch (the first
    ``batch_size`` examples of a seeded permutation), trained for ``steps`` steps with
    :func:`train` (SGD, momentum 0.9), and measured again on the same probe batch.

    Args:
        x: float32 images ``(m, 64, 64, 3)`` in [0, 1] (see :func:`prepare_data`).
        y: integer labels ``(m,)``.
        depth: weighted layers of each network (even, >= 4); there are ``depth - 1`` norms.
        width: filters per convolution.
        steps: training steps between the two measurements, >= 1.
        batch_size: examples per training step and in the probe batch.
        learning_rate: SGD's learning rate.
        batchnorm: build the networks with BatchNorm (as ResNet50) or without.
        seed: seed of the weights, the probe batch and the order of the examples.

    Returns:
        ``{"settings": {...}, "norms": {kind: {"init": a, "trained": a}}, "kernel_norms":
        {kind: {"init": a, "trained": a}}, "losses": {kind: l}, "seconds": s}`` for ``kind`` in
        ``("plain", "residual")``. Each ``a`` is a float64 array ``(depth - 1,)``, first
        convolution to last: under ``norms`` the gradient norms ``||dL/dW||``, under
        ``kernel_norms`` the weight norms ``||W||``. ``l`` holds the ``(steps,)`` training
        losses; ``seconds`` is the wall time of the experiment.

    Raises:
        ValueError: invalid ``depth``, ``width``, ``steps`` or ``batch_size``.
        FloatingPointError: a training run diverged.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    start = time.perf_counter()
    probe = np.random.default_rng(seed).permutation(len(x))[:batch_size]
    epochs = -(-steps // max(len(x) // batch_size, 1))
    result = {
        "settings": {
            "depth": depth,
            "width": width,
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "batchnorm": batchnorm,
            "seed": seed,
        },
        "norms": {},
        "kernel_norms": {},
        "losses": {},
    }
    for kind in KINDS:
        model = build_network(depth, width, residual=kind == "residual", batchnorm=batchnorm, seed=seed)
        norms = {"init": gradient_norms(model, x[probe], y[probe])}
        weights = {"init": kernel_norms(model)}
        run = train(
            model, x, y, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            max_steps=steps, seed=seed,
        )  # fmt: skip
        norms["trained"] = gradient_norms(model, x[probe], y[probe])
        weights["trained"] = kernel_norms(model)
        result["norms"][kind], result["kernel_norms"][kind] = norms, weights
        result["losses"][kind] = run.step_losses
    result["seconds"] = time.perf_counter() - start
    return result


def training_loss_experiment(
    x,
    y,
    *,
    depths: Sequence[int] = (20, 56),
    width: int = 8,
    epochs: int = 3,
    batch_size: int = 32,
    learning_rate: float = 0.1,
    max_examples: int | None = None,
    seed: int = 0,
) -> dict:
    """Training loss over the first epochs of plain and residual networks at several depths
    (He et al. 2015, Figure 1 and Figure 4: the deeper plain network has the higher training
    loss; with shortcuts, the deeper network trains at least as well as the shallower one).

    Every network (:func:`build_network` with BatchNorm) is trained with :func:`train` (SGD,
    momentum 0.9) from the same seed, on the same examples in the same order.

    Args:
        x: float32 images ``(m, 64, 64, 3)`` in [0, 1].
        y: integer labels ``(m,)``.
        depths: the depths to compare (each even, >= 4); the default pair is Figure 1's.
        width: filters per convolution.
        epochs: epochs of training, >= 1.
        batch_size: examples per step.
        learning_rate: SGD's learning rate.
        max_examples: train on the first ``max_examples`` examples only (``None``: all).
        seed: seed of the weights and of the order of the examples.

    Returns:
        ``{"settings": {...}, "runs": {(kind, depth): TrainingRun}, "seconds": s}`` with
        ``kind`` in ``("plain", "residual")``; ``seconds`` is the wall time of the experiment.

    Raises:
        ValueError: an invalid depth, ``width``, ``epochs`` or ``batch_size``.
        FloatingPointError: a training run diverged.
    """
    start = time.perf_counter()
    if max_examples is not None:
        x, y = x[:max_examples], y[:max_examples]
    runs = {}
    for depth in depths:
        for kind in KINDS:
            model = build_network(depth, width, residual=kind == "residual", seed=seed)
            runs[(kind, depth)] = train(
                model, x, y, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
            )
    return {
        "settings": {
            "depths": tuple(depths),
            "width": width,
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "examples": len(x),
            "seed": seed,
        },
        "runs": runs,
        "seconds": time.perf_counter() - start,
    }


def _figure(width: float, height: float, ncols: int):
    """A pyplot figure with ``ncols`` axes in one row (shown by ``plt.show()`` in a notebook, like
    the figures of ``resnets_utils``; close it with ``plt.close(fig)`` elsewhere)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), dpi=100, squeeze=False)
    return fig, axes[0]


def _save(fig, path) -> None:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", metadata={"Software": None})


def plot_gradient_norms(result: dict, path: str | Path | None = None):
    """Plot the per-layer gradient norms of :func:`gradient_norm_experiment` on a log scale.

    Left: at initialisation; right: after the training steps. In each, the plain network (red)
    and the residual network (blue), from convolution 1 (nearest the input) to the last.

    Args:
        result: the dict returned by :func:`gradient_norm_experiment`.
        path: if given, the figure is also written there as PNG (folders are created).

    Returns:
        The matplotlib ``Figure``, made with pyplot: ``plt.show()`` shows it in a notebook;
        ``plt.close(fig)`` releases it.
    """
    settings = result["settings"]
    fig, axes = _figure(11, 4, ncols=2)
    titles = {"init": "at initialisation", "trained": f"after {settings['steps']} training steps"}
    for ax, when in zip(axes, ("init", "trained"), strict=True):
        for kind in KINDS:
            norms = result["norms"][kind][when]
            layer = np.arange(1, norms.size + 1)
            ax.semilogy(layer, norms, "o-", ms=3, lw=1.4, color=_COLOURS[kind], label=kind)
        ax.set_xlabel("convolution (1 = nearest the input)")
        ax.set_title(titles[when], fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("gradient norm ||dL/dW|| (log scale)")
    axes[0].legend()
    bn = "with BatchNorm" if settings["batchnorm"] else "without BatchNorm"
    fig.suptitle(
        f"Gradient norm of each convolution: {settings['depth']}-layer networks {bn}, width "
        f"{settings['width']}, one SIGNS batch of {settings['batch_size']} (SGD {settings['learning_rate']:g})",
        fontsize=11,
    )
    fig.tight_layout()
    _save(fig, path)
    return fig


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` values (over fewer at the start)."""
    window = max(int(window), 1)
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.maximum(np.arange(values.size) + 1 - window, 0)
    hi = np.arange(values.size) + 1
    return (cumsum[hi] - cumsum[lo]) / (hi - lo)


def plot_training_loss(result: dict, path: str | Path | None = None):
    """Plot the training loss of :func:`training_loss_experiment` against epochs.

    Left: the plain networks; right: the residual networks (the layout of He et al. 2015,
    Figure 4). Thin lines: the loss of each step; thick lines: its moving average over a third
    of an epoch. The shallower network is dashed, the deeper one solid; the dotted grey line is
    the loss of a uniform guess, ln 6.

    Args:
        result: the dict returned by :func:`training_loss_experiment`.
        path: if given, the figure is also written there as PNG (folders are created).

    Returns:
        The matplotlib ``Figure``, made with pyplot (see :func:`plot_gradient_norms`).
    """
    settings = result["settings"]
    depths = sorted(settings["depths"])
    fig, axes = _figure(11, 4, ncols=2)
    styles = ["--", "-.", ":"]  # shallower networks; the deepest is solid
    top = float(np.log(6))
    for ax, kind in zip(axes, KINDS, strict=True):
        for i, depth in enumerate(depths):
            run = result["runs"][(kind, depth)]
            style = "-" if i == len(depths) - 1 else styles[i % len(styles)]
            epoch = np.arange(1, run.step_losses.size + 1) / run.steps_per_epoch
            ax.plot(epoch, run.step_losses, style, lw=0.6, alpha=0.35, color=_COLOURS[kind])
            ax.plot(epoch, _smooth(run.step_losses, run.steps_per_epoch / 3), style, lw=2,
                    color=_COLOURS[kind], label=f"{kind}-{depth}")  # fmt: skip
            top = max(top, float(np.percentile(run.step_losses, 99)))
        ax.axhline(np.log(6), color="grey", lw=0.8, ls=":")
        ax.text(0.99, np.log(6), "uniform guess (ln 6)", color="grey", fontsize=8, ha="right", va="bottom",
                transform=ax.get_yaxis_transform())  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_title(f"{kind} networks", fontsize=11)
        ax.legend(loc="lower left")
        ax.grid(True, alpha=0.3)
    for ax in axes:
        ax.set_ylim(0, min(top, 4.0) * 1.08)
    axes[0].set_ylabel("training loss (cross-entropy)")
    fig.suptitle(
        f"Training loss on SIGNS ({settings['examples']} images): width {settings['width']}, "
        f"batch {settings['batch_size']}, SGD {settings['learning_rate']:g} with momentum 0.9",
        fontsize=11,
    )
    fig.tight_layout()
    _save(fig, path)
    return fig


def describe_gradient_norms(result: dict) -> str:
    """A few lines summarising :func:`gradient_norm_experiment`: for each network and moment,
    the gradient norm of the first, middle and last convolution and the first/last ratio."""
    settings = result["settings"]
    lines = [
        f"Gradient norms, {settings['depth']}-layer networks ({settings['depth'] - 1} convolutions), "
        f"at initialisation and after {settings['steps']} steps; {result['seconds']:.1f} s"
    ]
    for when in ("init", "trained"):
        for kind in KINDS:
            norms = result["norms"][kind][when]
            mid = norms.size // 2
            lines.append(
                f"  {'initial' if when == 'init' else 'trained'} {kind:8s}: conv 1 {norms[0]:.2e}, "
                f"conv {mid + 1} {norms[mid]:.2e}, conv {norms.size} {norms[-1]:.2e}; "
                f"first/last {norms[0] / norms[-1]:.2g}"
            )
    for kind in KINDS:
        weights = result["kernel_norms"][kind]
        lines.append(
            f"  weight norm ||W|| of conv 1, {kind:8s}: {weights['init'][0]:.3g} initially, "
            f"{weights['trained'][0]:.3g} after training"
        )
    return "\n".join(lines)


def describe_training_loss(result: dict) -> str:
    """A few lines summarising :func:`training_loss_experiment`: each network's mean training
    loss per epoch and its training time."""
    settings = result["settings"]
    lines = [f"Training loss per epoch (mean over the epoch's steps); {result['seconds']:.1f} s"]
    for depth in sorted(settings["depths"]):
        for kind in KINDS:
            run = result["runs"][(kind, depth)]
            losses = " ".join(f"{loss:.3f}" for loss in run.epoch_losses)
            label = f"{kind}-{depth}:"
            lines.append(f"  {label:13s} {losses}  ({run.seconds:.1f} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: run both experiments on SIGNS, write the two figures, print the numbers.

    Returns:
        0 on success; 1 when the SIGNS files cannot be loaded (the message says how to fetch
        them).
    """
    parser = argparse.ArgumentParser(
        prog="python -m resnets_experiments",
        description="Measure gradient norms and training loss of plain and residual networks on SIGNS; "
        "write gradient_norms.png and training_loss.png.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two PNG files")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="folder holding train_signs.h5 (default: datasets/)")  # fmt: skip
    parser.add_argument("--fast", action="store_true", help="tiny settings: a smoke test of a few seconds")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    import resnets_utils

    try:
        X_train, Y_train, *_ = resnets_utils.load_dataset(args.data_dir)
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    x, y = prepare_data(X_train, Y_train)
    gradient_settings = FAST_SETTINGS["gradient"] if args.fast else GRADIENT_SETTINGS
    loss_settings = FAST_SETTINGS["loss"] if args.fast else LOSS_SETTINGS

    gradients = gradient_norm_experiment(x, y, **gradient_settings)
    path = args.out / "gradient_norms.png"
    plt.close(plot_gradient_norms(gradients, path))
    print(describe_gradient_norms(gradients))
    print(f"wrote {path}\n", flush=True)

    losses = training_loss_experiment(x, y, **loss_settings)
    path = args.out / "training_loss.png"
    plt.close(plot_training_loss(losses, path))
    print(describe_training_loss(losses))
    print(f"wrote {path}")
    print(
        f"\nWall time: gradient-norm experiment {gradients['seconds']:.1f} s, "
        f"training-loss experiment {losses['seconds']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
