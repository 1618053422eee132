"""Helpers for the ResNets assignment: load the SIGNS data, one-hot labels, plots, own images.

The SIGNS dataset holds 64x64 RGB photographs of hands showing the digits 0 to 5. It comes as two
HDF5 files in ``datasets/``, placed there by ``python -m resnets_kit.data`` (or ``make setup``):

- ``train_signs.h5``: ``train_set_x`` uint8 (m_train, 64, 64, 3), ``train_set_y`` int (m_train,);
- ``test_signs.h5``: ``test_set_x`` uint8 (m_test, 64, 64, 3), ``test_set_y`` int (m_test,),
  ``list_classes`` int (C,) = ``[0 1 2 3 4 5]``.

:func:`load_dataset` reads the folder given as ``data_dir``, or ``datasets/`` beside this module;
no environment variable changes it.

Typical use::

    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, classes = load_dataset()
    X_train = X_train_orig / 255.0                         # float in [0, 1]
    Y_train = convert_to_one_hot(Y_train_orig, 6).T        # (m_train, 6)

Importing this module is fast: h5py, Pillow and matplotlib are imported inside the functions that
use them, and TensorFlow is never imported here (the prediction helpers only call
``model.predict``).
"""

from __future__ import annotations

import numbers
import os
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGE_SHAPE",
    "load_dataset",
    "convert_to_one_hot",
    "plot_samples",
    "load_image",
    "predict_image",
    "show_prediction",
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_misclassified",
    "skip_when_grading",
]

#: Shape of one image: height, width, RGB channels.
IMAGE_SHAPE = (64, 64, 3)

_FETCH = "run `python -m resnets_kit.data` (or `make setup`) to fetch the SIGNS files"
_REFETCH = (
    "Run `python -m resnets_kit.data --force` (or delete the file and run `make setup`) "
    "to fetch the SIGNS files again"
)


def _default_data_dir() -> Path:
    """The ``datasets/`` folder beside this module."""
    return Path(__file__).resolve().parent / "datasets"


def _read_h5(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read the datasets ``keys`` of the HDF5 file ``path`` into numpy arrays."""
    import h5py

    if not path.is_file():
        where = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{path} {where}: {_FETCH}.")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"{path} is not a readable HDF5 file (truncated or corrupt?): {exc}. {_REFETCH}."
        ) from exc
    with h5:
        missing = [key for key in keys if key not in h5]
        if missing:
            raise ValueError(
                f"{path} has no dataset {', '.join(repr(k) for k in missing)} "
                f"(it has: {', '.join(sorted(h5.keys())) or 'nothing'}), so it is not a SIGNS "
                f"file. {_REFETCH}."
            )
        arrays = {}
        for key in keys:
            node = h5[key]
            if not isinstance(node, h5py.Dataset):
                raise ValueError(f"{path}: {key!r} is a group, not a dataset. {_REFETCH}.")
            try:
                arrays[key] = node[()]
            except OSError as exc:
                raise ValueError(
                    f"{path}: cannot read {key!r} (truncated or corrupt?): {exc}. {_REFETCH}."
                ) from exc
    return arrays


def _check_images(path: Path, key: str, x: np.ndarray) -> None:
    if x.dtype != np.uint8:
        raise ValueError(f"{path}: {key!r} has dtype {x.dtype}, expected uint8. {_REFETCH}.")
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{path}: {key!r} has shape {x.shape}, expected (m, 64, 64, 3). {_REFETCH}.")


def _check_labels(path: Path, key: str, y: np.ndarray, m: int, n_classes: int) -> np.ndarray:
    """Validate labels and return them as int64 of shape (1, m)."""
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{path}: {key!r} has dtype {y.dtype}, expected integers. {_REFETCH}.")
    if y.ndim > 2 or y.size != m or (y.ndim == 2 and 1 not in y.shape):
        raise ValueError(
            f"{path}: {key!r} has shape {y.shape}, expected ({m},) to match {m} images. {_REFETCH}."
        )
    y = y.reshape(1, m).astype(np.int64)
    bad = np.unique(y[(y < 0) | (y >= n_classes)])
    if bad.size:
        raise ValueError(
            f"{path}: {key!r} holds labels {bad[:10].tolist()} outside [0, {n_classes}) "
            f"({n_classes} classes). {_REFETCH}."
        )
    return y


def load_dataset(
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the SIGNS training and test sets.

    Args:
        data_dir: folder holding ``train_signs.h5`` and ``test_signs.h5`` (the folder, not
            one of the files). Default: ``datasets/`` beside this module.

    Returns:
        ``(X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, classes)``:

        - ``X_train_orig``: uint8 (m_train, 64, 64, 3), RGB pixel values 0-255
          (m_train = 1080 for SIGNS);
        - ``Y_train_orig``: int64 (1, m_train), labels in [0, C);
        - ``X_test_orig``: uint8 (m_test, 64, 64, 3) (m_test = 120);
        - ``Y_test_orig``: int64 (1, m_test);
        - ``classes``: int64 (C,), the class labels, ``[0 1 2 3 4 5]`` for SIGNS.

    Raises:
        FileNotFoundError: the folder or a file is missing. The message says how to fetch
            the files.
        NotADirectoryError: ``data_dir`` is a file (e.g. ``datasets/train_signs.h5``), not the
            folder holding the two files.
        ValueError: a file is not a readable HDF5 file, lacks a dataset, or holds arrays of the
            wrong dtype or shape or labels outside [0, C).
    """
    folder = Path(data_dir) if data_dir is not None else _default_data_dir()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"{folder} is a file, not a folder: data_dir is the folder holding train_signs.h5 "
            f"and test_signs.h5, e.g. load_dataset({str(folder.parent)!r})."
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"the data folder {folder} does not exist: {_FETCH}.")
    train_path = folder / "train_signs.h5"
    test_path = folder / "test_signs.h5"
    train = _read_h5(train_path, ("train_set_x", "train_set_y"))
    test = _read_h5(test_path, ("test_set_x", "test_set_y", "list_classes"))

    classes = test["list_classes"]
    if not np.issubdtype(classes.dtype, np.integer) or classes.ndim != 1 or classes.size < 1:
        raise ValueError(
            f"{test_path}: 'list_classes' has dtype {classes.dtype} and shape {classes.shape}, "
            f"expected a non-empty 1-D integer array. {_REFETCH}."
        )
    classes = classes.astype(np.int64)
    n_classes = classes.size

    x_train, x_test = train["train_set_x"], test["test_set_x"]
    _check_images(train_path, "train_set_x", x_train)
    _check_images(test_path, "test_set_x", x_test)
    y_train = _check_labels(train_path, "train_set_y", train["train_set_y"], len(x_train), n_classes)
    y_test = _check_labels(test_path, "test_set_y", test["test_set_y"], len(x_test), n_classes)
    return x_train, y_train, x_test, y_test, classes


def convert_to_one_hot(Y: np.ndarray, C: int) -> np.ndarray:
    """Turn integer labels into one-hot columns.

    Args:
        Y: labels, any shape holding m values (typically (1, m)), integers in [0, C).
            Floats are accepted when every value is a whole number.
        C: number of classes, at least 1.

    Returns:
        float64 array of shape (C, m): column j is the one-hot vector of the j-th label
        (``np.eye(C)[Y.reshape(-1)].T``). Transpose it for Keras, which wants (m, C).

    Raises:
        ValueError: ``C`` is not an integer >= 1, or a label is not an integer or lies outside
            [0, C); the message lists the offending values.
    """
    if isinstance(C, bool) or not isinstance(C, numbers.Integral) or C < 1:
        raise ValueError(f"C must be an integer >= 1 (the number of classes), got {C!r}")
    C = int(C)
    Y = np.asarray(Y)
    labels = Y.reshape(-1)
    if labels.dtype == np.bool_ or not (
        np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)
    ):
        raise ValueError(f"labels must be integers, got an array of dtype {labels.dtype}")
    if np.issubdtype(labels.dtype, np.floating):
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            bad = np.unique(labels[~whole])
            raise ValueError(f"labels must be integers, got {bad[:10].tolist()}")
    bad = np.unique(labels[(labels < 0) | (labels >= C)])
    if bad.size:
        raise ValueError(f"labels must lie in [0, {C}) for C={C}, got {bad[:10].tolist()}")
    return np.eye(C)[labels.astype(np.int64)].T


def _labels_of(Y: np.ndarray, m: int) -> np.ndarray:
    """Labels (m,) from labels of any shape with m values, or from one-hot (C, m) or (m, C)."""
    Y = np.asarray(Y)
    if Y.size == m:
        return Y.reshape(-1)
    if Y.ndim == 2 and Y.shape[1] == m:
        return Y.argmax(axis=0)
    if Y.ndim == 2 and Y.shape[0] == m:
        return Y.argmax(axis=1)
    raise ValueError(f"Y has shape {Y.shape}, which does not match {m} images")


def plot_samples(X: np.ndarray, Y: np.ndarray, n: int = 12, ncols: int = 6, seed: int | None = 0):
    """Show a grid of sample images with their labels.

    Args:
        X: images (m, H, W, 3), uint8 in 0-255 or float in [0, 1].
        Y: labels: m integers of any shape (e.g. (1, m)), or one-hot (C, m) or (m, C).
        n: number of images to show (at most m).
        ncols: number of columns of the grid.
        seed: seed of the random choice of images; ``None`` for a different choice each call.

    Returns:
        The matplotlib Figure (pyplot shows it in a notebook).

    Raises:
        ValueError: ``X`` is not a batch of RGB images, ``Y`` does not match it, or ``n`` or
            ``ncols`` is less than 1.
    """
    import matplotlib.pyplot as plt

    X = np.asarray(X)
    if X.ndim != 4 or X.shape[-1] != 3:
        raise ValueError(f"X must have shape (m, height, width, 3), got {X.shape}")
    if n < 1 or ncols < 1:
        raise ValueError(f"n and ncols must be at least 1, got n={n}, ncols={ncols}")
    m = X.shape[0]
    labels = _labels_of(Y, m)
    n = min(n, m)
    indices = np.sort(np.random.default_rng(seed).choice(m, size=n, replace=False))
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), indices, strict=False):
        ax.imshow(X[i])
        ax.set_title(f"#{i}: y = {int(labels[i])}", fontsize=9)
    fig.tight_layout()
    return fig


def load_image(path: str | os.PathLike[str], size: int = 64) -> np.ndarray:
    """Load an image file the way the training images were prepared.

    The image is turned upright according to its EXIF orientation, converted to RGB
    (transparent areas become white), centre-cropped to a square, resized to
    ``size`` x ``size`` with Pillow's bilinear filter and scaled by 1/255. A 16-bit grey image
    (Pillow mode ``"I;16"``, or ``"I"`` with values in 0-65535) is first scaled to 0-255
    (value / 257); an ``"I"`` image with values outside 0-65535 is stretched from its minimum
    to its maximum.

    Args:
        path: any image file Pillow can read (JPEG, PNG, ...).
        size: side of the output in pixels (64 for the SIGNS model).

    Returns:
        float32 array (size, size, 3), RGB values in [0, 1] (pixel / 255, like the training
        data).

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a file.
        ValueError: the file is not a readable image, or ``size`` is less than 1.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} {'is not a file' if path.exists() else 'does not exist'}")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode == "I" or img.mode.startswith("I;16"):
                img = _wide_grey_to_8_bit(img)
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img.alpha_composite(rgba)
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"cannot read {path} as an image: {exc}") from exc
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / np.float32(255.0)


def _wide_grey_to_8_bit(img):
    """Scale a 16- or 32-bit grey Pillow image to mode "L" (or "LA" when it has a transparent value).

    Pillow's own conversion clips such values at 255, which turns most of the image white.
    """
    from PIL import Image

    values = np.asarray(img).astype(np.float64)
    low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
    if img.mode == "I" and (low < 0 or high > 65535):
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    else:
        scaled = values / 257.0  # 65535 / 257 = 255
    grey = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    key = img.info.get("transparency")
    if isinstance(key, int):
        alpha = Image.fromarray(np.where(values == key, 0, 255).astype(np.uint8))
        return Image.merge("LA", (grey, alpha))
    return grey


def _model_size(model) -> int:
    """The input side length the model expects, or 64 when it cannot be told."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, list | tuple) and len(shape) == 4 and isinstance(shape[1], int):
        return shape[1]
    return IMAGE_SHAPE[0]


def predict_image(model, path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Run a trained classifier on one image file.

    Args:
        model: a Keras model (or anything with ``predict(x, verbose=0)``) that maps a batch
            (1, 64, 64, 3) of float images in [0, 1] to class probabilities (1, C), e.g. the
            ResNet50 of the assignment, which ends with a softmax.
        path: the image file (see :func:`load_image`).

    Returns:
        ``(probabilities, predicted_class)``: a float32 array (C,) (summing to 1 for a softmax
        output) and the index of its largest entry as an ``int``. The probabilities are
        ``model.predict``'s, i.e. BatchNorm in inference mode, the same as
        ``model(x, training=False)``; a plain ``model(x)`` of the assignment's ResNet50 runs its
        blocks' BatchNorm in training mode instead (notebook section 5.2).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or the model does not return one row of
            scores.
    """
    x = load_image(path, size=_model_size(model))[np.newaxis]
    scores = np.asarray(model.predict(x, verbose=0), dtype=np.float32)
    if scores.ndim != 2 or scores.shape[0] != 1:
        raise ValueError(f"the model returned shape {scores.shape}, expected (1, number of classes)")
    probs = scores[0]
    return probs, int(np.argmax(probs))


def show_prediction(model, path: str | os.PathLike[str]):
    """Show an image beside a bar chart of the model's class probabilities.

    Args:
        model: the trained classifier (see :func:`predict_image`).
        path: the image file.

    Returns:
        The matplotlib Figure: the image as the model sees it (64x64), and the probability of
        each class, the predicted class highlighted.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or the model output is malformed.
    """
    import matplotlib.pyplot as plt

    probs, predicted = predict_image(model, path)
    image = load_image(path, size=_model_size(model))
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 3.2), gridspec_kw={"width_ratios": [1, 1.4]})
    ax_img.imshow(image)
    ax_img.axis("off")
    ax_img.set_title(Path(path).name, fontsize=9)
    classes = np.arange(probs.size)
    colors = ["tab:orange" if c == predicted else "tab:blue" for c in classes]
    ax_bar.bar(classes, probs, color=colors)
    ax_bar.set_xticks(classes)
    ax_bar.set_xlabel("class (digit)")
    ax_bar.set_ylabel("probability")
    ax_bar.set_ylim(0, 1)
    ax_bar.set_title(f"predicted: {predicted} (p = {probs[predicted]:.2f})")
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, C: int) -> np.ndarray:
    """Count how often each true class is predicted as each class.

    Args:
        y_true: true labels, m integers in [0, C) of any shape (e.g. (1, m)).
        y_pred: predicted labels, m integers in [0, C) of any shape.
        C: number of classes.

    Returns:
        int64 array (C, C): entry [i, j] is the number of examples of class i predicted as j;
        the diagonal holds the correct predictions, and the whole sums to m.

    Raises:
        ValueError: the two label arrays have different sizes, or a label lies outside [0, C).
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.size != y_pred.size:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        bad = np.unique(labels[(labels < 0) | (labels >= C)])
        if bad.size:
            raise ValueError(f"{name} has labels {bad[:10].tolist()} outside [0, {C})")
    counts = np.zeros((C, C), dtype=np.int64)
    np.add.at(counts, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, classes):
    """Show the confusion matrix of a classifier as an annotated heat map.

    Args:
        y_true: true labels, m integers of any shape.
        y_pred: predicted labels, m integers of any shape.
        classes: the class labels, e.g. ``[0, 1, 2, 3, 4, 5]``; their number is C.

    Returns:
        The matplotlib Figure; rows are true classes, columns predicted classes.

    Raises:
        ValueError: as :func:`confusion_matrix`.
    """
    import matplotlib.pyplot as plt

    classes = [int(c) if np.issubdtype(type(c), np.integer) else c for c in np.asarray(classes).tolist()]
    counts = confusion_matrix(y_true, y_pred, len(classes))
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    ax.imshow(counts, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if counts[i, j] > counts.max() / 2 else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=10)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.3f})")
    fig.tight_layout()
    return fig


def plot_misclassified(X, y_true, y_pred, max_images: int = 12, ncols: int = 6):
    """Show the images a classifier got wrong, with their true and predicted labels.

    Args:
        X: images (m, H, W, 3), uint8 in 0-255 or float in [0, 1].
        y_true: true labels, m integers of any shape.
        y_pred: predicted labels, m integers of any shape.
        max_images: show at most this many (the first ones, in data order).
        ncols: number of columns of the grid.

    Returns:
        The matplotlib Figure, or ``None`` when every image is classified correctly (a line
        saying so is printed).

    Raises:
        ValueError: the labels do not match the number of images.
    """
    import matplotlib.pyplot as plt

    X = np.asarray(X)
    y_true = _labels_of(y_true, X.shape[0])
    y_pred = _labels_of(y_pred, X.shape[0])
    wrong = np.flatnonzero(y_true != y_pred)
    if wrong.size == 0:
        print(f"All {X.shape[0]} images are classified correctly.")
        return None
    shown = wrong[:max_images]
    ncols = min(ncols, shown.size)
    nrows = -(-shown.size // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.95 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown, strict=False):
        ax.imshow(X[i])
        ax.set_title(f"#{i}: true {int(y_true[i])}, pred {int(y_pred[i])}", fontsize=8, color="firebrick")
    fig.suptitle(f"{wrong.size} of {X.shape[0]} images misclassified", fontsize=10)
    fig.tight_layout()
    return fig


#: Set by nbgrader while it validates or autogrades a notebook ("validate" or "autograde").
GRADING_ENV = "NBGRADER_EXECUTION"


def skip_when_grading(line: str, cell: str) -> None:
    """IPython cell magic ``%%skip_when_grading``: run the cell, except under nbgrader.

    Marks the long, ungraded cells of the notebook (training, evaluation, saving), so that
    ``nbgrader validate`` and ``nbgrader autograde`` (which set the environment variable
    ``NBGRADER_EXECUTION``) skip them and a submission is graded in seconds. Anywhere else the
    cell runs as if the magic were not there. Registered in IPython when this module is imported.

    Args:
        line: the rest of the magic's line (ignored).
        cell: the cell's code.
    """
    if os.environ.get(GRADING_ENV):
        print(f"(skipped: nbgrader sets {GRADING_ENV}={os.environ[GRADING_ENV]})")
        return
    from IPython import get_ipython

    result = get_ipython().run_cell(cell)
    result.raise_error()


def _register_magic() -> None:
    if "IPython" not in sys.modules:  # plain Python: nothing to register
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(skip_when_grading, magic_kind="cell")


_register_magic()
