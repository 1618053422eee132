"""Tests of the notebook's training recipe code (section 5.1), taken from the source notebook.

``RecalibrateBatchNorm`` compiles its forward pass once with BatchNorm's momentum at 0; these
tests check that the moving statistics really become the statistics of the given images under
the current weights, at every epoch, and that training keeps the layers' own momentum.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnets_kit.solution import SOURCE_NOTEBOOK, _cells_by_id


@pytest.fixture(scope="module")
def recalibrate_class():
    namespace = {"keras": keras, "tf": tf, "BatchNormalization": keras.layers.BatchNormalization}
    exec(compile(_cells_by_id(SOURCE_NOTEBOOK)["recalibrate"], "<recalibrate>", "exec"), namespace)
    return namespace["RecalibrateBatchNorm"]


def _model():
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(axis=3, name="bn")(conv)
    x = keras.layers.Activation("relu")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy")
    return model, keras.Model(inputs, conv)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, (n, 8, 8, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, n)]
    return x, y


class _Snapshot(keras.callbacks.Callback):
    """Records, at each epoch's end, the BatchNorm statistics and those of the images."""

    def __init__(self, conv_model, images):
        super().__init__()
        self.conv_model, self.images, self.rows = conv_model, images, []

    def on_epoch_end(self, epoch, logs=None):
        bn = self.model.get_layer("bn")
        activations = np.asarray(self.conv_model(self.images))
        self.rows.append(
            (
                np.asarray(bn.moving_mean),
                np.asarray(bn.moving_variance),
                activations.mean(axis=(0, 1, 2)),
                activations.var(axis=(0, 1, 2)),
            )
        )


def test_moving_statistics_become_those_of_the_images(recalibrate_class):
    keras.utils.set_random_seed(0)
    model, conv_model = _model()
    x, y = _data()
    images = x[:16]
    recalibrate = recalibrate_class(images, steps_per_epoch=len(x) // 8)
    snapshot = _Snapshot(conv_model, images)
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[recalibrate, snapshot])
    assert model.get_layer("bn").momentum == 0.99  # the layer's own momentum is back
    means = []
    for moving_mean, moving_var, mean, var in snapshot.rows:
        np.testing.assert_allclose(moving_mean, mean, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(moving_var, var, rtol=1e-3, atol=1e-4)
        means.append(mean)
    assert not np.allclose(means[0], means[-1])  # the weights moved, and the statistics followed


def test_without_recalibration_the_moving_statistics_lag(recalibrate_class):
    keras.utils.set_random_seed(0)
    model, conv_model = _model()
    x, y = _data()
    snapshot = _Snapshot(conv_model, x[:16])
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[snapshot])
    moving_mean, _, mean, _ = snapshot.rows[0]
    assert not np.allclose(moving_mean, mean, atol=1e-2)  # momentum 0.99: 5 steps barely move them


def test_training_after_recalibration_uses_the_layer_momentum(recalibrate_class):
    keras.utils.set_random_seed(0)
    model, _ = _model()
    x, y = _data()
    recalibrate = recalibrate_class(x[:16], steps_per_epoch=len(x) // 8)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[recalibrate])
    bn = model.get_layer("bn")
    before = np.asarray(bn.moving_mean).copy()
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)  # one step, momentum 0.99
    after = np.asarray(bn.moving_mean)
    step = np.abs(after - before)
    assert step.max() > 0
    assert np.all(step < 0.05 * (np.abs(before) + 1.0))  # a 1 % step, not a replacement


def test_the_recipe_traces_the_training_step_once(monkeypatch, capsys):
    """Variables created inside the first training step (Adam's moments, the accuracy metric's
    counters) make TensorFlow trace it twice; the recipe creates them beforehand."""
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    from resnets_kit import REPO_ROOT
    from resnets_kit.run_notebook import parameters_source
    from resnets_kit.solution import load_solution

    traces = []
    train_step = TensorFlowTrainer.train_step

    def counted(self, data):
        traces.append(1)  # Python runs this only while TensorFlow traces the step
        return train_step(self, data)

    monkeypatch.setattr(TensorFlowTrainer, "train_step", counted)
    monkeypatch.chdir(REPO_ROOT / "notebooks")
    namespace = load_solution()
    cells = _cells_by_id(SOURCE_NOTEBOOK)
    cells["injected-parameters"] = parameters_source(fast=True)  # 64 images, 2 epochs
    for name in ("parameters", "injected-parameters", "recalibrate", "load-data", "recipe", "fit"):
        code = "\n".join(line for line in cells[name].splitlines() if not line.startswith("%%"))
        exec(compile(code, f"<{name}>", "exec"), namespace)
    assert len(namespace["history"].history["loss"]) == 2
    assert len(traces) == 1
    assert "Test accuracy before training: " in capsys.readouterr().out
