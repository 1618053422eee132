"""resnets_experiments: the plain and residual networks, per-layer gradient norms, the short
training runs, the two experiments, their plots and the command line. Small networks and random
images, so that the whole file runs in well under a minute."""

from __future__ import annotations

import h5py
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import resnets_experiments as E

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def batch():
    """16 random 64x64 RGB images in [0, 1] and their labels, two or three of each class."""
    rng = np.random.default_rng(0)
    x = rng.random((16, 64, 64, 3), dtype=np.float32)
    y = np.arange(16, dtype=np.int64) % 6
    return x, y


def layer_names(model, cls):
    return [layer.name for layer in model.layers if isinstance(layer, cls)]


# --- build_network ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [4, 10])
def test_network_has_depth_minus_one_convolutions_in_order(depth):
    model = E.build_network(depth, width=4, residual=True)
    names = [layer.name for layer in E.conv_layers(model)]
    blocks = (depth - 2) // 2
    expected = ["conv1"] + [f"block{i}_conv{j}" for i in range(1, blocks + 1) for j in (1, 2)]
    assert names == expected
    assert len(names) + 1 == depth  # the convolutions and the dense layer
    assert model.output_shape == (None, 6)


def test_residual_network_adds_a_shortcut_every_two_convolutions_and_plain_does_not():
    import keras

    residual = E.build_network(10, width=4, residual=True)
    plain = E.build_network(10, width=4, residual=False)
    assert layer_names(residual, keras.layers.Add) == [f"block{i}_add" for i in range(1, 5)]
    assert layer_names(plain, keras.layers.Add) == []
    # each Add sums the block's second BatchNorm and the block's input (the previous block's output)
    add = residual.get_layer("block2_add")
    inbound = {tensor._keras_history.operation.name for tensor in add.input}
    assert inbound == {"block2_bn2", "block1_relu2"}
    # otherwise the same layers, and, from the same seed, the same weights
    same = [type(layer).__name__ for layer in residual.layers if not isinstance(layer, keras.layers.Add)]
    assert same == [type(layer).__name__ for layer in plain.layers]
    for a, b in zip(residual.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_network_without_batchnorm_has_biases_and_no_batchnorm():
    import keras

    model = E.build_network(6, width=4, residual=False, batchnorm=False)
    assert layer_names(model, keras.layers.BatchNormalization) == []
    assert all(layer.use_bias for layer in E.conv_layers(model))
    with_bn = E.build_network(6, width=4, residual=False)
    assert len(layer_names(with_bn, keras.layers.BatchNormalization)) == 6  # 5 convolutions + head
    assert not any(layer.use_bias for layer in E.conv_layers(with_bn))


@pytest.mark.parametrize("depth", [3, 5, 2, 0, 4.0, True])
def test_invalid_depth_is_rejected(depth):
    with pytest.raises(ValueError, match="depth must be an even integer >= 4"):
        E.build_network(depth)


def test_invalid_width_is_rejected():
    with pytest.raises(ValueError, match="width"):
        E.build_network(4, width=0)


# --- gradient_norms --------------------------------------------------------------------------


def test_gradient_norms_are_the_l2_norms_of_each_kernels_gradient_first_to_last(batch):
    import keras
    import tensorflow as tf

    x, y = batch
    model = E.build_network(8, width=4, residual=True)
    norms = E.gradient_norms(model, x, y)
    assert norms.dtype == np.float64 and norms.shape == (7,)
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    # An independent computation, layer by layer (catches a reversed order, a squared norm, ...)
    kernels = [model.get_layer(name).kernel for name in ("conv1", "block2_conv1", "block3_conv2")]
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    expected = [np.sqrt(np.sum(np.square(g.numpy()))) for g in tape.gradient(loss, kernels)]
    np.testing.assert_allclose(norms[[0, 3, 6]], expected, rtol=1e-4)
    assert not np.allclose(norms[0], norms[-1], rtol=0.05)  # so that a reversed order shows


def test_gradient_norms_leave_the_model_unchanged(batch):
    x, y = batch
    model = E.build_network(6, width=4, residual=False)
    before = [w.copy() for w in model.get_weights()]  # kernels and BatchNorm moving statistics
    E.gradient_norms(model, x, y)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_shortcuts_carry_the_gradient_to_the_first_layers_without_batchnorm(batch):
    # 30 layers, no BatchNorm: the plain network's gradients vanish (the signal shrinks at every
    # layer); with shortcuts the first convolution gets a gradient orders of magnitude larger.
    x, y = batch
    plain = E.gradient_norms(E.build_network(30, width=4, batchnorm=False), x, y)
    residual = E.gradient_norms(E.build_network(30, width=4, residual=True, batchnorm=False), x, y)
    assert plain.shape == residual.shape == (29,)
    assert residual[0] > 100 * plain[0]
    assert np.median(residual) > 100 * np.median(plain)


def test_shortcuts_keep_the_gradient_norms_level_with_batchnorm(batch):
    # 30 layers with BatchNorm: the plain network's gradient norm grows by orders of magnitude
    # from the last convolution to the first; the residual one's much less.
    x, y = batch
    plain = E.gradient_norms(E.build_network(30, width=4), x, y)
    residual = E.gradient_norms(E.build_network(30, width=4, residual=True), x, y)
    plain_ratio, residual_ratio = plain[0] / plain[-1], residual[0] / residual[-1]
    assert plain_ratio > 30
    assert plain_ratio > 10 * residual_ratio


# --- train -----------------------------------------------------------------------------------


def test_train_records_one_loss_per_step_and_is_reproducible(batch):
    x, y = batch
    runs = [
        E.train(E.build_network(6, width=4, residual=True), x, y, epochs=3, batch_size=4, max_steps=10)
        for _ in range(2)
    ]
    run = runs[0]
    assert run.steps_per_epoch == 4
    assert run.step_losses.shape == (10,) and run.step_losses.dtype == np.float64
    np.testing.assert_allclose(run.epoch_losses, [run.step_losses[:4].mean(), run.step_losses[4:8].mean(),
                                                  run.step_losses[8:].mean()])  # fmt: skip
    assert np.all(run.step_losses > 0)
    assert run.seconds > 0
    np.testing.assert_allclose(runs[1].step_losses, run.step_losses, rtol=1e-4)


def test_train_lowers_the_loss_on_a_small_batch(batch):
    x, y = batch
    run = E.train(E.build_network(6, width=8, residual=True), x, y, epochs=25, batch_size=16,
                  optimizer="adam", learning_rate=1e-2)  # fmt: skip
    assert run.step_losses[-5:].mean() < 0.5 * run.step_losses[:3].mean()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 17}, "batch_size"),
        ({"max_steps": 0}, "max_steps"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"learning_rate": 0.0}, "learning_rate"),
    ],
)
def test_train_rejects_invalid_settings(batch, kwargs, message):
    x, y = batch
    with pytest.raises(ValueError, match=message):
        E.train(E.build_network(4, width=2), x, y, **{"batch_size": 4, **kwargs})


def test_prepare_data_scales_images_and_flattens_labels():
    X = np.full((3, 64, 64, 3), 255, dtype=np.uint8)
    x, y = E.prepare_data(X, np.array([[0, 5, 2]]))
    assert x.dtype == np.float32 and x.max() == 1.0
    assert y.tolist() == [0, 5, 2] and y.dtype == np.int64
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        E.prepare_data(X, [0, 1])


# --- the experiments and their plots ---------------------------------------------------------


def test_gradient_norm_experiment_and_its_plot(batch, tmp_path):
    x, y = batch
    result = E.gradient_norm_experiment(x, y, depth=6, width=4, steps=2, batch_size=8)
    for kind in ("plain", "residual"):
        for when in ("init", "trained"):
            assert result["norms"][kind][when].shape == (5,)
            assert result["kernel_norms"][kind][when].shape == (5,)
        assert not np.allclose(result["norms"][kind]["init"], result["norms"][kind]["trained"])
        assert result["losses"][kind].shape == (2,)
    # same initial weights for both networks
    np.testing.assert_array_equal(
        result["kernel_norms"]["plain"]["init"], result["kernel_norms"]["residual"]["init"]
    )
    assert result["seconds"] > 0
    fig = E.plot_gradient_norms(result, tmp_path / "sub" / "gradient_norms.png")
    assert (tmp_path / "sub" / "gradient_norms.png").read_bytes().startswith(PNG_SIGNATURE)
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "log"]
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), result["norms"]["plain"]["init"])
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), np.arange(1, 6))
    plt.close(fig)
    text = E.describe_gradient_norms(result)
    assert "conv 1 " in text and "first/last" in text


def test_training_loss_experiment_and_its_plot(batch, tmp_path):
    x, y = batch
    result = E.training_loss_experiment(x, y, depths=(4, 6), width=4, epochs=2, batch_size=8)
    assert set(result["runs"]) == {("plain", 4), ("residual", 4), ("plain", 6), ("residual", 6)}
    for run in result["runs"].values():
        assert run.step_losses.shape == (4,) and run.epoch_losses.shape == (2,)
    fig = E.plot_training_loss(result, tmp_path / "training_loss.png")
    assert (tmp_path / "training_loss.png").read_bytes().startswith(PNG_SIGNATURE)
    assert [ax.get_title() for ax in fig.axes] == ["plain networks", "residual networks"]
    plt.close(fig)
    assert "residual-6" in E.describe_training_loss(result)


def write_signs_like(folder, m=24):
    """A tiny data set in the SIGNS layout."""
    rng = np.random.default_rng(1)
    folder.mkdir()
    for split, n in (("train", m), ("test", 6)):
        with h5py.File(folder / f"{split}_signs.h5", "w") as h5:
            h5[f"{split}_set_x"] = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
            h5[f"{split}_set_y"] = np.arange(n, dtype=np.int64) % 6
            if split == "test":
                h5["list_classes"] = np.arange(6, dtype=np.int64)
    return folder


def test_command_line_writes_both_figures_and_prints_the_times(tmp_path, capsys):
    data = write_signs_like(tmp_path / "data")
    assert E.main(["--out", str(tmp_path / "out"), "--data-dir", str(data), "--fast"]) == 0
    out = capsys.readouterr().out
    for name in ("gradient_norms.png", "training_loss.png"):
        assert (tmp_path / "out" / name).read_bytes().startswith(PNG_SIGNATURE)
    assert "Wall time: gradient-norm experiment" in out and "training-loss experiment" in out


def test_command_line_without_data_says_how_to_fetch_it(tmp_path, capsys):
    assert E.main(["--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "missing")]) == 1
    assert "resnets_kit.data" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
