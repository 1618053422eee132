"""Build the Sign Language Digits pair (SIGNS h5 format) from its public source archive.

The notebook's second data set is the Sign Language Digits Dataset (Apache License 2.0,
"Copyright 2017 Arda Mavi"; Mavi 2020, arXiv:2011.08927), published as JPEG files in
``github.com/ardamavi/Sign-Language-Digits-Dataset``. The data command
(``python -m resnets_kit.data --dataset digits``) uses this module when no local copy of the
converted files is found: it downloads the repository's archive at the pinned commit
:data:`SOURCE_COMMIT`, converts it with :func:`convert_archive`, and keeps the two h5 files only
if their sha256 digests are the known ones (``resnets_kit.data.KNOWN_FILES``), so a changed
source, a different image decoder or a corrupt download never yields files that look right.

The conversion (the changes to the upstream data, as Apache-2.0 section 4(b) asks):

1. Two label corrections (:data:`RELABEL`): ``Dataset/2/IMG_5176.JPG`` is a 3, and
   ``Dataset/3/IMG_5108.JPG`` is a 7 (so it leaves the 0-5 subset).
2. Digits 0-5 only. Each image is converted to RGB and resized from 100x100 to 64x64 pixels with
   Pillow's LANCZOS filter, then stored as uint8.
3. A stratified split (:func:`split_files`): for each class 0…5 in turn, the file paths are
   sorted and permuted with ``numpy.random.default_rng(2017)``; the first 20 go to the test set,
   the rest to the training set. The training list and then the test list are each permuted with
   the same generator.
4. The SIGNS h5 layout (:func:`write_signs_h5`): ``{split}_set_x`` uint8 (N, 64, 64, 3),
   ``{split}_set_y`` int64 (N,), ``list_classes`` int64 ``[0 1 2 3 4 5]``, contiguous and
   uncompressed, in that order.

Result: 1116 training images (0:185 1:186 2:185 3:186 4:187 5:187) and 120 test images (20 per
class).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = [
    "IMAGE_SIZE",
    "RELABEL",
    "SEED",
    "SOURCE_COMMIT",
    "SOURCE_URLS",
    "TEST_PER_CLASS",
    "ArchiveError",
    "convert_archive",
    "convert_image",
    "labelled_files",
    "order_rows",
    "split_files",
    "write_signs_h5",
]

#: The upstream commit the conversion is pinned to (``master`` of the source repository).
SOURCE_COMMIT = "4b09433ef9d5c60602e8805bb54b8aa2428527f8"

#: Download URLs of the source archive at :data:`SOURCE_COMMIT`, tried in order.
SOURCE_URLS = (
    f"https://codeload.github.com/ardamavi/Sign-Language-Digits-Dataset/zip/{SOURCE_COMMIT}",
    f"https://github.com/ardamavi/Sign-Language-Digits-Dataset/archive/{SOURCE_COMMIT}.zip",
)

#: Largest accepted archive, in bytes (the repository's archive is far smaller).
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024

#: Label corrections of upstream pull request #3 (checked by eye): ``{path: digit}``.
RELABEL = {"Dataset/2/IMG_5176.JPG": 3, "Dataset/3/IMG_5108.JPG": 7}

#: The classes kept, and the seed and test size of the stratified split.
CLASSES = tuple(range(6))
SEED = 2017
TEST_PER_CLASS = 20

#: Side of the square images, in pixels.
IMAGE_SIZE = 64

_MEMBER = re.compile(r"^(?:[^/]+/)?(Dataset/(\d)/[^/]+\.jpe?g)$", re.IGNORECASE)


class ArchiveError(ValueError):
    """The archive is not the Sign Language Digits source: its message says what is missing."""


def labelled_files(paths: Iterable[str]) -> dict[str, int]:
    """Map the image paths of the source tree to their (corrected) digit, digits 0-5 only.

    Args:
        paths: member names of the source archive, e.g.
            ``"Sign-Language-Digits-Dataset-<commit>/Dataset/3/IMG_1118.JPG"`` (a single
            top-level folder is allowed) or ``"Dataset/3/IMG_1118.JPG"``; other files are ignored.

    Returns:
        ``{"Dataset/<d>/<name>": label}`` for the images whose corrected label is 0…5
        (:data:`RELABEL` applied).
    """
    labels = {}
    for path in paths:
        match = _MEMBER.match(path)
        if match is None:
            continue
        relative, digit = match.group(1), int(match.group(2))
        label = RELABEL.get(relative, digit)
        if label in CLASSES:
            labels[relative] = label
    return labels


def split_files(
    labels: Mapping[str, int], seed: int = SEED, test_per_class: int = TEST_PER_CLASS
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The stratified train/test split of the conversion (module docstring, step 3).

    Args:
        labels: ``{path: label}`` as :func:`labelled_files` returns it.
        seed: seed of ``numpy.random.default_rng``.
        test_per_class: test images per class.

    Returns:
        ``(train, test)``: lists of ``(label, path)`` in the order of the h5 files.

    Raises:
        ArchiveError: a class of 0…5 has no more than ``test_per_class`` images.
    """
    rng = np.random.default_rng(seed)
    train: list[tuple[int, str]] = []
    test: list[tuple[int, str]] = []
    for label in CLASSES:
        files = sorted(path for path, value in labels.items() if value == label)
        if len(files) <= test_per_class:
            raise ArchiveError(
                f"class {label} has {len(files)} images, not more than {test_per_class}: this is "
                "not the Sign Language Digits source tree (Dataset/0/ ... Dataset/5/)"
            )
        order = rng.permutation(len(files))
        picked = [(label, files[i]) for i in order]
        test += picked[:test_per_class]
        train += picked[test_per_class:]
    train = [train[i] for i in rng.permutation(len(train))]
    test = [test[i] for i in rng.permutation(len(test))]
    return train, test


def convert_image(data: bytes, size: int = IMAGE_SIZE) -> np.ndarray:
    """Decode one source image and resize it like the conversion does.

    Args:
        data: the bytes of an image file (JPEG in the source).
        size: the output side, in pixels.

    Returns:
        uint8 array of shape ``(size, size, 3)``, RGB, values 0…255: the image converted to RGB
        and resized with Pillow's LANCZOS filter (no crop: the source images are square).

    Raises:
        PIL.UnidentifiedImageError: ``data`` is not an image Pillow can read.
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


def write_signs_h5(path: str | os.PathLike[str], split: str, x: np.ndarray, y: np.ndarray) -> None:
    """Write one split in the SIGNS h5 layout (module docstring, step 4).

    Args:
        path: the file to write (created or truncated).
        split: ``"train"`` or ``"test"``: the dataset names are ``{split}_set_x`` and ``{split}_set_y``.
        x: uint8 images, shape (N, 64, 64, 3).
        y: labels 0…5, shape (N,); stored as int64.

    Raises:
        ValueError: ``split`` is neither ``"train"`` nor ``"test"``, or the arrays do not have
            those shapes and dtypes.
    """
    import h5py

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
        raise ValueError(f"x must be uint8 of shape (N, H, W, 3), got {x.dtype} {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {y.shape}")
    with h5py.File(path, "w") as fh:
        fh.create_dataset(f"{split}_set_x", data=x)
        fh.create_dataset(f"{split}_set_y", data=y.astype(np.int64))
        fh.create_dataset("list_classes", data=np.array(CLASSES, dtype=np.int64))


def convert_archive(archive: str | os.PathLike[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Convert the source archive to the two splits (module docstring, steps 1-3).

    Args:
        archive: the zip file of the source repository (any single top-level folder).

    Returns:
        ``{"train": (x, y), "test": (x, y)}``: uint8 images (N, 64, 64, 3) and int64 labels
        (N,), in the order of the h5 files. Write them with :func:`write_signs_h5`.

    Raises:
        ArchiveError: the file is not a zip archive, or it lacks the ``Dataset/0`` … ``Dataset/5``
            images.
        PIL.UnidentifiedImageError: an image in it cannot be decoded.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{archive} is not a zip archive ({exc})") from exc
    with zf:
        members = {}
        for name in zf.namelist():
            match = _MEMBER.match(name)
            if match:
                members[match.group(1)] = name
        labels = labelled_files(members)
        if not labels:
            raise ArchiveError(f"{archive} holds no Dataset/<digit>/*.JPG images")
        train, test = split_files(labels)
        out = {}
        for split, items in (("train", train), ("test", test)):
            x = np.stack([convert_image(zf.read(members[path])) for _, path in items])
            y = np.array([label for label, _ in items], dtype=np.int64)
            out[split] = (x, y)
    return out


def order_rows(items: list[tuple[int, str]]) -> list[str]:
    """CSV lines ``index,label,source_file`` (with the header) of one split, for provenance."""
    return ["index,label,source_file"] + [f"{i},{label},{path}" for i, (label, path) in enumerate(items)]
