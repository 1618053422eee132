"""A fused BatchNorm for Keras 3 on TensorFlow, for measuring (``throughput.py``'s ``*_fusedbn``
variants): TensorFlow's ``FusedBatchNormV3`` in place of Keras's separate operations.

Keras 3's ``BatchNormalization.call`` on TensorFlow casts bf16 inputs to float32, computes the
moments with separate reductions, normalises with separate element-wise operations and casts
back: under the ``mixed_bfloat16`` policy, BatchNorm and its casts took about a quarter of a
training step's operation time (``profile_training.py``; ``benchmarks/README.md``).
``FusedBatchNormV3`` normalises a 4-D NHWC tensor in one operation (bf16 or float32 input,
float32 statistics; oneDNN's batch normalization where oneDNN is on) and has a fused gradient.

The replacement computes what Keras computes (Ioffe and Szegedy 2015, Algorithm 1): in training
mode, the batch's mean and biased variance normalise the input, and the moving averages move
toward the batch's mean and *biased* variance as Keras 3's do (``FusedBatchNormV3`` returns the
unbiased variance; it is scaled by (n - 1) / n); in inference mode, the moving statistics
normalise it. It falls back to Keras's own ``call`` for anything else: masks, batch
renormalization, synchronized BatchNorm, inputs that are not 4-D with the channels last, input
dtypes other than float32 and bfloat16, and weights that are not float32 (a ``bfloat16`` policy,
not ``mixed_bfloat16``).
"""

from __future__ import annotations

import contextlib

__all__ = ["fused_batchnorm", "install", "uninstall"]

_ORIGINAL = {}


def _fused_call(self, inputs, training=None, mask=None):
    import tensorflow as tf

    original = _ORIGINAL["call"]
    rank = len(inputs.shape)
    if mask is not None or self.renorm or self.synchronized or rank != 4 or self.axis % rank != 3:
        return original(self, inputs, training=training, mask=mask)
    x = tf.convert_to_tensor(inputs)
    variables = [self.moving_mean, self.moving_variance]
    variables += [v for v, used in ((self.gamma, self.scale), (self.beta, self.center)) if used]
    if x.dtype not in (tf.float32, tf.bfloat16) or any(v.dtype != "float32" for v in variables):
        return original(self, inputs, training=training, mask=mask)
    channels = x.shape[-1]
    scale = tf.convert_to_tensor(self.gamma) if self.scale else tf.ones([channels], tf.float32)
    offset = tf.convert_to_tensor(self.beta) if self.center else tf.zeros([channels], tf.float32)
    if training and self.trainable:
        empty = tf.constant([], tf.float32)
        y, mean, unbiased, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        n = tf.cast(tf.size(x) // channels, tf.float32)
        variance = unbiased * ((n - 1.0) / tf.maximum(n, 1.0))
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
    else:
        y = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=tf.convert_to_tensor(self.moving_mean),
            variance=tf.convert_to_tensor(self.moving_variance),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=False,
        )[0]
    return tf.cast(y, self.compute_dtype)


def install() -> None:
    """Replace ``keras.layers.BatchNormalization.call`` with the fused one in this process (for
    every layer, built or not; takes effect where a model is traced or called next). Installing
    twice changes nothing."""
    from keras.src.layers.normalization.batch_normalization import BatchNormalization

    if "call" not in _ORIGINAL:
        _ORIGINAL["call"] = BatchNormalization.call
        BatchNormalization.call = _fused_call


def uninstall() -> None:
    """Give ``BatchNormalization`` back its own ``call``."""
    from keras.src.layers.normalization.batch_normalization import BatchNormalization

    if "call" in _ORIGINAL:
        BatchNormalization.call = _ORIGINAL.pop("call")


@contextlib.contextmanager
def fused_batchnorm():
    """Within the block, every ``BatchNormalization`` runs :func:`_fused_call` (see the module's
    docstring); graphs traced inside keep it after the block."""
    install()
    try:
        yield
    finally:
        uninstall()
