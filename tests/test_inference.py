"""Predictions with the trained ResNet50 are what a learner expects (notebook section 5.2).

``model.predict(x)``, ``model(x, training=False)`` and the own-image helper
(``resnets_utils.predict_image``) all run BatchNorm in inference mode and give the same
probabilities. ``model(x)`` does not: the reference ``ResNet50`` connects its blocks with their
default ``training=True``, the functional model records it, and only an explicit ``training``
argument (which ``predict`` and ``evaluate`` pass) overrides it. The notebook says so; the last
test keeps that statement true.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from resnets_utils import predict_image
from test_utils import ATOL


@pytest.fixture(scope="module")
def trained_like(solution):
    """The reference ResNet50 whose BatchNorm moving statistics are those of a batch of images,
    as after the notebook's recalibration, and 8 other images, as uint8 (8, 64, 64, 3) and
    float32 / 255."""
    import keras

    keras.utils.set_random_seed(7)
    model = solution["ResNet50"](input_shape=(64, 64, 3), classes=6)
    rng = np.random.default_rng(7)
    calibration = rng.random((32, 64, 64, 3), dtype=np.float32)
    batchnorms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in batchnorms:
        layer.momentum = 0.0
    model(calibration, training=True)  # moving statistics := those of this batch
    for layer in batchnorms:
        layer.momentum = 0.99
    images = rng.integers(0, 256, size=(8, 64, 64, 3), dtype=np.uint8)
    return model, images, images.astype(np.float32) / 255.0


def test_predict_and_a_call_with_training_false_give_the_same_probabilities(trained_like):
    """The same within the value checks' tolerance (``test_utils.ATOL``): the traced ``predict``
    and the eager call take different kernels, and ``python benchmarks/numeric_drift.py``
    measures how far apart they are (up to about 1.4e-5 with oneDNN on)."""
    model, _, x = trained_like
    by_predict = model.predict(x, verbose=0)
    by_call = model(x, training=False).numpy()
    np.testing.assert_allclose(by_call, by_predict, rtol=0, atol=ATOL)
    np.testing.assert_allclose(by_predict.sum(axis=1), 1.0, atol=1e-5)


def test_the_own_image_helper_gives_the_probabilities_of_predict(trained_like, tmp_path):
    model, images, x = trained_like
    by_predict = model.predict(x, verbose=0)
    for i, image in enumerate(images):
        path = tmp_path / f"sign_{i}.png"
        Image.fromarray(image).save(path)
        probs, predicted = predict_image(model, path)
        np.testing.assert_allclose(probs, by_predict[i], rtol=0, atol=ATOL, err_msg=f"image {i}")
        assert predicted == int(by_predict[i].argmax())


def test_a_call_without_training_uses_the_batch_statistics_and_moves_the_averages(trained_like):
    """What the notebook explains: ``model(x)`` runs the blocks' BatchNorm layers in training
    mode, so its probabilities differ from ``predict``'s, depend on the other images of the
    batch, and each call moves the moving averages that later predictions use."""
    model, _, x = trained_like
    weights = model.get_weights()
    try:
        by_predict = model.predict(x, verbose=0)
        by_default_call = model(x).numpy()
        assert np.abs(by_default_call - by_predict).max() > 0.01
        first_alone = model(x[:1]).numpy()[0]
        assert np.abs(first_alone - by_default_call[0]).max() > 0.01
        assert np.abs(model.predict(x, verbose=0) - by_predict).max() > 1e-4
    finally:
        model.set_weights(weights)
    np.testing.assert_allclose(model.predict(x, verbose=0), by_predict, rtol=0, atol=1e-6)
