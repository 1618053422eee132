"""Tests of ``benchmarks/fused_batchnorm.py``: the fused BatchNorm runs ``FusedBatchNormV3`` and
computes what Keras's BatchNorm computes (outputs, gradients, moving averages), falls back to
Keras where it does not apply, and is removed after its block. (No test asserts a speed.)"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def fused(load_benchmark):
    from test_utils import import_tensorflow

    import_tensorflow()
    return load_benchmark("fused_batchnorm")


def _layer(shape, **kwargs):
    """A built BatchNormalization (momentum 0.9) with seeded, non-trivial weights."""
    import keras

    layer = keras.layers.BatchNormalization(momentum=0.9, **kwargs)
    layer.build(shape)
    rng = np.random.default_rng(1)
    channels = shape[kwargs.get("axis", -1)]
    values = {
        "gamma": rng.normal(1.0, 0.3, channels),
        "beta": rng.normal(0.0, 0.3, channels),
        "moving_mean": rng.normal(0.0, 0.5, channels),
        "moving_variance": rng.uniform(0.5, 2.0, channels),
    }
    layer.set_weights([values[w.name].astype(np.float32) for w in layer.weights])
    return layer


def _run(layer, x, training):
    """Outputs, gradients (input and the trainable weights) of sum(outputs * w), the moving
    statistics, and the types of the operations of the traced call."""
    import tensorflow as tf

    x = tf.constant(x)
    w = tf.constant(np.random.default_rng(2).normal(size=x.shape).astype(np.float32))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * w)
        return y, tape.gradient(loss, [x, *layer.trainable_weights])

    ops = {op.type for op in step.get_concrete_function(x).graph.get_operations()}
    y, grads = step(x)
    stats = [v.numpy() for v in (layer.moving_mean, layer.moving_variance)]
    return y.numpy(), [g.numpy() for g in grads], stats, ops


@pytest.mark.parametrize(
    "training, settings",
    [
        (True, {}),
        (False, {}),
        (True, {"center": False, "scale": False}),
        (True, {"trainable": False}),  # a frozen layer normalises with its moving statistics
    ],
)
def test_the_fused_batchnorm_computes_what_keras_computes(fused, training, settings):
    shape = (3, 3, 2, 5)  # n = 18 values per channel: a dropped (n - 1) / n shows in the variance
    x = np.random.default_rng(0).normal(0.5, 2.0, shape).astype(np.float32)
    expected = _run(_layer(shape, axis=3, **settings), x, training)
    with fused.fused_batchnorm():
        received = _run(_layer(shape, axis=3, **settings), x, training)
    assert "FusedBatchNormV3" in received[3] and "FusedBatchNormV3" not in expected[3]
    np.testing.assert_allclose(received[0], expected[0], rtol=1e-5, atol=1e-5)
    assert len(received[1]) == len(expected[1])
    for got, want in zip(received[1], expected[1], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for got, want in zip(received[2], expected[2], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_bf16_inputs_give_bf16_outputs_and_gradients_close_to_keras(fused):
    import keras

    shape = (4, 4, 4, 8)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        expected = _run(_layer(shape), keras.ops.cast(x, "bfloat16"), True)
        with fused.fused_batchnorm():
            received = _run(_layer(shape), keras.ops.cast(x, "bfloat16"), True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert "FusedBatchNormV3" in received[3]
    assert received[0].dtype == expected[0].dtype and str(received[0].dtype) == "bfloat16"
    np.testing.assert_allclose(received[0].astype(np.float32), expected[0].astype(np.float32), atol=0.05)
    for got, want in zip(received[1], expected[1], strict=True):  # input, gamma, beta
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=0.05, atol=0.05)
    np.testing.assert_allclose(received[2][1], expected[2][1], rtol=1e-2)


@pytest.mark.parametrize("shape, axis", [((6, 5), -1), ((2, 5, 3, 3), 1)])
def test_other_inputs_fall_back_to_keras(fused, shape, axis):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    expected = _run(_layer(shape, axis=axis), x, True)
    with fused.fused_batchnorm():
        received = _run(_layer(shape, axis=axis), x, True)
    assert "FusedBatchNormV3" not in received[3]
    np.testing.assert_array_equal(received[0], expected[0])
    np.testing.assert_array_equal(received[2][1], expected[2][1])


def test_bfloat16_weights_fall_back_to_keras(fused):
    """Under a ``bfloat16`` policy (the weights in bf16 too) FusedBatchNormV3 would need float32
    statistics: Keras's own call runs."""
    import keras

    shape = (2, 3, 3, 4)
    x = keras.ops.cast(np.random.default_rng(0).normal(size=shape).astype(np.float32), "bfloat16")
    with fused.fused_batchnorm():
        received = _run(_layer(shape, dtype="bfloat16"), x, True)
    expected = _run(_layer(shape, dtype="bfloat16"), x, True)
    assert "FusedBatchNormV3" not in received[3]
    np.testing.assert_array_equal(received[0], expected[0])


def test_the_patch_is_removed_after_its_block(fused):
    import keras

    original = keras.layers.BatchNormalization.call
    with fused.fused_batchnorm():
        assert keras.layers.BatchNormalization.call is not original
        fused.install()  # a second install changes nothing
    assert keras.layers.BatchNormalization.call is original
