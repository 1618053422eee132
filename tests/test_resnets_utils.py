"""Tests of ``resnets_utils``: loading and checking the h5 files, one-hot labels, plots, images.

The h5 files are small ones written in ``tmp_path``; the models are stand-ins with a
``predict`` method, so TensorFlow is not needed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import h5py
import matplotlib
import numpy as np
import pytest
from PIL import Image

import resnets_utils
from resnets_utils import (
    convert_to_one_hot,
    load_dataset,
    load_image,
    plot_samples,
    predict_image,
    show_prediction,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def write_h5(path, **arrays):
    with h5py.File(path, "w") as h5:
        for key, value in arrays.items():
            h5.create_dataset(key, data=value)
    return path


def make_signs(folder, m_train=7, m_test=5, n_classes=6, train=None, test=None):
    """Write a small valid pair of SIGNS files; ``train``/``test`` override or drop (None) keys."""
    rng = np.random.default_rng(0)
    train_arrays = {
        "train_set_x": rng.integers(0, 256, (m_train, 64, 64, 3), dtype=np.uint8),
        "train_set_y": np.arange(m_train, dtype=np.int64) % n_classes,
    }
    test_arrays = {
        "test_set_x": rng.integers(0, 256, (m_test, 64, 64, 3), dtype=np.uint8),
        "test_set_y": np.arange(m_test, dtype=np.int64)[::-1] % n_classes,
        "list_classes": np.arange(n_classes, dtype=np.int64),
    }
    for arrays, changes in ((train_arrays, train or {}), (test_arrays, test or {})):
        for key, value in changes.items():
            if value is None:
                del arrays[key]
            else:
                arrays[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    write_h5(folder / "train_signs.h5", **train_arrays)
    write_h5(folder / "test_signs.h5", **test_arrays)
    return folder


# --- load_dataset ------------------------------------------------------------------------------


def test_load_dataset_returns_the_classic_five_tuple(tmp_path):
    make_signs(tmp_path, m_train=9, m_test=4)
    x_train, y_train, x_test, y_test, classes = load_dataset(tmp_path)
    assert x_train.shape == (9, 64, 64, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (1, 9) and y_train.dtype == np.int64
    assert x_test.shape == (4, 64, 64, 3) and x_test.dtype == np.uint8
    assert y_test.shape == (1, 4) and y_test.dtype == np.int64
    assert classes.tolist() == [0, 1, 2, 3, 4, 5] and classes.dtype == np.int64
    assert y_train.ravel().tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2]
    assert y_test.ravel().tolist() == [3, 2, 1, 0]


def test_load_dataset_accepts_other_sizes_and_label_layouts(tmp_path):
    labels = (np.arange(1116) % 6).reshape(1, 1116).astype(np.int32)  # (1, m) int32
    make_signs(
        tmp_path,
        m_train=1116,
        train={"train_set_y": labels},
    )
    x_train, y_train, *_ = load_dataset(str(tmp_path))
    assert x_train.shape[0] == 1116 and y_train.shape == (1, 1116) and y_train.dtype == np.int64


def test_load_dataset_default_folder_ignores_the_environment(tmp_path, monkeypatch):
    module_folder = Path(resnets_utils.__file__).resolve().parent
    make_signs(tmp_path / "elsewhere")
    # No environment variable changes the folder: load_dataset() reads data_dir or datasets/.
    monkeypatch.setenv("SIGNS_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("SIGNS_DIR", str(tmp_path / "elsewhere"))
    assert resnets_utils._default_data_dir() == module_folder / "datasets"
    monkeypatch.setattr(resnets_utils, "_default_data_dir", lambda: tmp_path / "elsewhere")
    assert load_dataset()[0].shape == (7, 64, 64, 3)


def test_data_dir_that_is_a_file(tmp_path):
    make_signs(tmp_path)
    with pytest.raises(NotADirectoryError) as info:
        load_dataset(tmp_path / "train_signs.h5")
    message = str(info.value)
    assert f"{tmp_path / 'train_signs.h5'} is a file, not a folder" in message
    assert "data_dir is the folder holding train_signs.h5 and test_signs.h5" in message
    assert f"load_dataset({str(tmp_path)!r})" in message
    assert "does not exist" not in message


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m resnets_kit.data") as info:
        load_dataset(tmp_path / "nope")
    assert "nope" in str(info.value) and "make setup" in str(info.value)


@pytest.mark.parametrize("name", ["train_signs.h5", "test_signs.h5"])
def test_missing_file(tmp_path, name):
    make_signs(tmp_path)
    (tmp_path / name).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_dataset(tmp_path)
    message = str(info.value)
    assert name in message
    assert "run `python -m resnets_kit.data` (or `make setup`) to fetch the SIGNS files" in message


MALFORMED = {
    "missing train_set_y": ({"train": {"train_set_y": None}}, "train_signs.h5", "no dataset 'train_set_y'"),
    "missing list_classes": ({"test": {"list_classes": None}}, "test_signs.h5", "no dataset 'list_classes'"),
    "float images": (
        {"train": {"train_set_x": np.zeros((7, 64, 64, 3), np.float32)}},
        "train_signs.h5",
        "dtype float32, expected uint8",
    ),
    "wrong image size": (
        {"test": {"test_set_x": np.zeros((5, 32, 32, 3), np.uint8)}},
        "test_signs.h5",
        "shape (5, 32, 32, 3), expected (m, 64, 64, 3)",
    ),
    "grey images": (
        {"train": {"train_set_x": np.zeros((7, 64, 64), np.uint8)}},
        "train_signs.h5",
        "expected (m, 64, 64, 3)",
    ),
    "too few labels": (
        {"train": {"train_set_y": np.zeros(6, np.int64)}},
        "train_signs.h5",
        "expected (7,) to match 7 images",
    ),
    "float labels": ({"test": {"test_set_y": np.zeros(5, np.float64)}}, "test_signs.h5", "expected integers"),
    "label out of range": (
        {"train": {"train_set_y": np.array([0, 1, 2, 6, 4, 5, 6])}},
        "train_signs.h5",
        "labels [6] outside [0, 6)",
    ),
    "negative label": (
        {"test": {"test_set_y": np.array([0, -1, 2, 3, 4])}},
        "test_signs.h5",
        "labels [-1] outside [0, 6)",
    ),
    "empty classes": (
        {"test": {"list_classes": np.zeros(0, np.int64)}},
        "test_signs.h5",
        "non-empty 1-D integer array",
    ),
}


@pytest.mark.parametrize("case", MALFORMED.keys())
def test_malformed_file(tmp_path, case):
    changes, name, expected = MALFORMED[case]
    make_signs(tmp_path, **changes)
    with pytest.raises(ValueError) as info:
        load_dataset(tmp_path)
    message = str(info.value)
    assert name in message and expected in message
    assert "python -m resnets_kit.data --force" in message


def test_truncated_file(tmp_path):
    make_signs(tmp_path)
    path = tmp_path / "train_signs.h5"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        load_dataset(tmp_path)
    assert "train_signs.h5" in str(info.value)


def test_not_an_hdf5_file(tmp_path):
    make_signs(tmp_path)
    (tmp_path / "test_signs.h5").write_text("<html>404: Not Found</html>")
    with pytest.raises(ValueError, match="is not a readable HDF5 file") as info:
        load_dataset(tmp_path)
    assert "test_signs.h5" in str(info.value)


# --- convert_to_one_hot ------------------------------------------------------------------------


def test_one_hot_layout():
    y = np.array([[1, 0, 5, 2]])
    one_hot = convert_to_one_hot(y, 6)
    assert one_hot.shape == (6, 4) and one_hot.dtype == np.float64
    np.testing.assert_array_equal(one_hot, np.eye(6)[y.reshape(-1)].T)
    np.testing.assert_array_equal(one_hot.argmax(axis=0), [1, 0, 5, 2])
    np.testing.assert_array_equal(convert_to_one_hot([3, 0], 4), [[0, 1], [0, 0], [0, 0], [1, 0]])
    np.testing.assert_array_equal(convert_to_one_hot(np.array([2.0, 1.0]), 3), np.eye(3)[[2, 1]].T)
    assert convert_to_one_hot(np.zeros((1, 0), np.int64), 6).shape == (6, 0)


@pytest.mark.parametrize(
    ("labels", "n_classes", "expected"),
    [
        ([0, 6, 7, 6], 6, r"\[0, 6\).*\[6, 7\]"),
        ([-1, 2], 6, r"\[-1\]"),
        ([0.5, 1.0, 2.5], 6, r"integers, got \[0.5, 2.5\]"),
        ([0.0, np.nan], 6, r"integers, got \[nan\]"),
        (["a", "b"], 6, "dtype <U1"),
        ([True, False], 2, "dtype bool"),
        ([0, 1], 0, "C must be an integer >= 1"),
        ([0, 1], 2.5, "C must be an integer >= 1"),
    ],
)
def test_one_hot_errors(labels, n_classes, expected):
    with pytest.raises(ValueError, match=expected):
        convert_to_one_hot(np.array(labels), n_classes)


# --- plot_samples ------------------------------------------------------------------------------


def test_plot_samples(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (10, 64, 64, 3), dtype=np.uint8)
    y = (np.arange(10) % 6).reshape(1, 10)
    fig = plot_samples(x, y, n=4, ncols=3, seed=3)
    assert isinstance(fig, matplotlib.figure.Figure)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 4 and len(fig.axes) == 6  # 2 rows x 3 columns, 2 left empty
    for ax in shown:
        index = int(ax.get_title().split(":")[0].lstrip("#"))
        assert ax.get_title() == f"#{index}: y = {index % 6}"
    assert [ax.get_title() for ax in plot_samples(x, y, n=4, ncols=3, seed=3).axes] == [
        ax.get_title() for ax in fig.axes
    ]
    fig.savefig(tmp_path / "samples.png")


def test_plot_samples_one_hot_and_clipping():
    x = np.random.default_rng(2).random((3, 64, 64, 3))
    one_hot = convert_to_one_hot(np.array([[2, 0, 1]]), 6)
    fig = plot_samples(x, one_hot, n=10)
    titles = sorted(ax.get_title() for ax in fig.axes if ax.images)
    assert titles == ["#0: y = 2", "#1: y = 0", "#2: y = 1"]
    fig = plot_samples(x, one_hot.T, n=3)  # (m, C) as Keras uses
    assert sorted(ax.get_title() for ax in fig.axes if ax.images) == titles


def test_plot_samples_errors():
    with pytest.raises(ValueError, match="shape"):
        plot_samples(np.zeros((3, 64, 64)), np.zeros(3))
    with pytest.raises(ValueError, match="does not match 3 images"):
        plot_samples(np.zeros((3, 64, 64, 3)), np.zeros((2, 2)))


# --- load_image --------------------------------------------------------------------------------


def test_load_image_crops_and_scales(tmp_path):
    pixels = np.zeros((60, 100, 3), np.uint8)  # height 60, width 100
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:80] = (10, 128, 250)
    pixels[:, 80:] = (0, 0, 255)
    path = tmp_path / "wide.png"
    Image.fromarray(pixels).save(path)
    image = load_image(path)
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    # The centre square holds only the middle colour, scaled like the training data (x / 255).
    np.testing.assert_allclose(image, np.broadcast_to(np.array([10, 128, 250]) / 255, image.shape), atol=1e-6)
    assert load_image(path, size=32).shape == (32, 32, 3)


def test_load_image_applies_exif_orientation(tmp_path):
    pixels = np.zeros((40, 40, 3), np.uint8)
    pixels[:20] = (255, 0, 0)  # top half red
    pixels[20:] = (0, 0, 255)  # bottom half blue
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated by 180 degrees
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path)
    top, bottom = image[:16].mean(axis=(0, 1)), image[-16:].mean(axis=(0, 1))
    assert top[2] > 0.8 and top[0] < 0.2  # blue on top once turned upright
    assert bottom[0] > 0.8 and bottom[2] < 0.2


def test_load_image_modes(tmp_path):
    Image.new("L", (70, 50), 100).save(tmp_path / "grey.png")
    np.testing.assert_allclose(load_image(tmp_path / "grey.png"), 100 / 255, atol=1e-6)
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    np.testing.assert_allclose(load_image(tmp_path / "clear.png"), 1.0)  # transparent -> white


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_load_image_16_bit_grey(tmp_path, suffix):
    # Left half 128 * 257 (mid grey), right half 65535 (white), in a 16-bit grey image.
    pixels = np.full((64, 64), 65535, np.uint16)
    pixels[:, :32] = 128 * 257
    path = tmp_path / f"grey16{suffix}"
    if suffix == ".png":
        Image.fromarray(pixels).save(path)  # Pillow writes mode "I;16"
        assert Image.open(path).mode == "I;16"
    else:
        Image.fromarray(pixels.astype(np.int32)).save(path)  # 32-bit mode "I"
        assert Image.open(path).mode == "I"
    image = load_image(path)
    np.testing.assert_allclose(image[:, :30], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(image[:, 34:], 1.0, atol=1e-6)


def test_load_image_16_bit_grey_with_transparency(tmp_path):
    pixels = np.full((64, 64), 20 * 257, np.uint16)
    pixels[:, :32] = 7  # the transparent value
    path = tmp_path / "grey16-clear.png"
    Image.fromarray(pixels).save(path, transparency=7)
    image = load_image(path)
    np.testing.assert_allclose(image[:, :30], 1.0, atol=1e-6)  # transparent -> white
    np.testing.assert_allclose(image[:, 34:], 20 / 255, atol=1e-6)


def test_load_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg does not exist"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        load_image(tmp_path)
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read .*notes.jpg as an image"):
        load_image(tmp_path / "notes.jpg")
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg", quality=95)
    content = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="cannot read .*cut.jpg as an image"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(ValueError, match="size"):
        load_image(tmp_path / "full.jpg", size=0)


# --- predict_image / show_prediction -----------------------------------------------------------


class FakeModel:
    """Stands in for a Keras model: records its input and returns fixed probabilities."""

    def __init__(self, input_shape=(None, 64, 64, 3), output=None):
        self.input_shape = input_shape
        self.output = np.array([[0.05, 0.1, 0.6, 0.1, 0.1, 0.05]]) if output is None else output
        self.inputs = []

    def predict(self, x, verbose=0):
        self.inputs.append(x)
        return self.output


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "hand.png"
    Image.new("RGB", (120, 90), (200, 150, 100)).save(path)
    return path


def test_predict_image(photo):
    model = FakeModel()
    probs, predicted = predict_image(model, photo)
    assert probs.shape == (6,) and probs.dtype == np.float32
    assert predicted == 2 and isinstance(predicted, int)
    (x,) = model.inputs
    assert x.shape == (1, 64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x[0, 0, 0], np.array([200, 150, 100]) / 255, atol=1e-6)


def test_predict_image_uses_the_model_input_size(photo):
    model = FakeModel(input_shape=(None, 32, 32, 3))
    predict_image(model, photo)
    assert model.inputs[0].shape == (1, 32, 32, 3)


def test_predict_image_rejects_a_malformed_output(photo):
    with pytest.raises(ValueError, match="expected \\(1, number of classes\\)"):
        predict_image(FakeModel(output=np.zeros(6)), photo)


def test_show_prediction(photo):
    fig = show_prediction(FakeModel(), photo)
    assert isinstance(fig, matplotlib.figure.Figure)
    ax_img, ax_bar = fig.axes
    assert ax_img.images and ax_img.get_title() == "hand.png"
    assert len(ax_bar.patches) == 6
    assert ax_bar.get_title() == "predicted: 2 (p = 0.60)"


# --- the module ----------------------------------------------------------------------------------


def test_star_import_and_light_import():
    namespace = {}
    exec("from resnets_utils import *", namespace)
    for name in (
        "load_dataset",
        "convert_to_one_hot",
        "plot_samples",
        "load_image",
        "predict_image",
        "show_prediction",
    ):
        assert callable(namespace[name])
    code = (
        "import sys, resnets_utils; "
        "heavy = [m for m in ('tensorflow', 'keras', 'h5py', 'matplotlib', 'PIL') "
        "if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_confusion_matrix_counts_pairs():
    from resnets_utils import confusion_matrix

    counts = confusion_matrix(np.array([[0, 1, 2, 2, 1]]), np.array([0, 2, 2, 2, 1]), 3)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    assert counts.sum() == 5


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1], [0], "y_true has 2 labels but y_pred has 1"),
        ([0, 6], [0, 1], "y_true has labels [6] outside [0, 6)"),
    ],
)
def test_confusion_matrix_rejects_bad_labels(y_true, y_pred, message):
    from resnets_utils import confusion_matrix

    with pytest.raises(ValueError, match=re.escape(message)):
        confusion_matrix(np.array(y_true), np.array(y_pred), 6)


def test_plot_confusion_matrix_and_misclassified(capsys):
    from resnets_utils import plot_confusion_matrix, plot_misclassified

    X = np.zeros((4, 64, 64, 3), np.uint8)
    fig = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], [0, 1, 2])
    assert "accuracy 0.750" in fig.axes[0].get_title()
    fig = plot_misclassified(X, [0, 1, 1, 2], [0, 1, 2, 2])
    assert "1 of 4 images misclassified" in fig._suptitle.get_text()
    assert plot_misclassified(X[:2], [0, 1], [0, 1]) is None
    assert "All 2 images are classified correctly" in capsys.readouterr().out
