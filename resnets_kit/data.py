"""The data command: place the SIGNS h5 files in ``datasets/``, verified by sha256.

Usage::

    python -m resnets_kit.data [--from DIR] [--dest DIR] [--dataset signs|digits] [--force] [--optional]

The command puts ``train_signs.h5`` and ``test_signs.h5`` into the destination folder
(default ``datasets/`` at the repository root for SIGNS, ``datasets/digits/`` for the Sign
Language Digits set, the second data set the notebook evaluates on). It takes them from the first
source that applies:

1. the folder given with ``--from DIR``;
2. the folder named by the environment variable ``SIGNS_DIR``;
3. a local copy found next to the repository, ``../shared/datasets/signs-cs230-jpeg64``
   (``../shared/datasets/sign-language-digits`` for ``--dataset digits``);
4. a download: from pinned public mirrors for SIGNS; for the digits set, the source archive of
   the Sign Language Digits Dataset at a pinned commit, converted to the SIGNS format by
   :mod:`resnets_kit.digits`.

Every file is checked against :data:`KNOWN_FILES`, a table of sha256 digests and sizes of the
known data files; a file converted from the digits archive is checked the same way, so it is kept
only when the conversion reproduced the known files byte for byte.

The two files are placed as a pair: each file still needed is first written to a temporary
``*.part`` file in the destination folder and verified; only when both are verified are
they moved into place with :func:`os.replace` (train, then test). On any failure, including an
interruption, the temporary files are removed and the destination is left as it was (a folder the
command created is removed again). Each rename is atomic; the two renames together are not, but
they are in one folder, one right after the other, and a pair left mixed by a crash between them
is reported as mixed by the next run.

The two files must form a pair: the same dataset and the same variant family of
:data:`KNOWN_FILES` (for example the original SIGNS test file, or its one-byte variant, goes with
the original SIGNS train file, never with the CS230 one). Without ``--force``:

- a destination pair of the requested dataset is kept as it is (nothing is copied);
- a single destination file of the requested dataset is kept, and only the missing file is
  fetched; it must belong to the same family;
- destination files of another dataset, a mixed pair, or a file with an unknown digest are an
  error that says what is there and what to do; nothing is changed.

``--force`` fetches both files and replaces whatever is in the destination.

``--optional`` makes a missing source (no ``--from``, no ``SIGNS_DIR``, no local copy and no
download) or a failed download a note instead of an error: ``make setup`` places the digits set
this way, and goes on without it when it cannot be had (offline, say).

Exit status: 0 on success (or nothing to fetch from, with ``--optional``), 1 on failure
(with a one-paragraph message on stderr), 2 for a usage error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from resnets_kit import REPO_ROOT, digits

__all__ = [
    "DATASETS",
    "DEFAULT_DEST",
    "DEFAULT_DESTS",
    "FILE_NAMES",
    "KNOWN_FILES",
    "LOCAL_FOLDERS",
    "MIRRORS",
    "SOURCE_ARCHIVES",
    "DataError",
    "DownloadError",
    "KnownFile",
    "NoSourceError",
    "copy_verified",
    "download_verified",
    "fetch_dataset",
    "find_local_source",
    "identify",
    "main",
    "sha256_of",
    "verify_file",
]

#: Default destination folder (of the SIGNS files).
DEFAULT_DEST = REPO_ROOT / "datasets"

#: Default destination folder by dataset: the digits set goes beside SIGNS, not in its place.
DEFAULT_DESTS = {"signs": DEFAULT_DEST, "digits": DEFAULT_DEST / "digits"}

#: The two file names, by split.
FILE_NAMES = {"train": "train_signs.h5", "test": "test_signs.h5"}

#: Dataset names accepted by ``--dataset``, with a human-readable description.
DATASETS = {
    "signs": "SIGNS (deeplearning.ai hand signs, digits 0-5)",
    "digits": "Sign Language Digits 0-5 (Apache-2.0, ardamavi/Sign-Language-Digits-Dataset)",
}

#: Short display names of the datasets.
_NAMES = {"signs": "SIGNS", "digits": "Sign Language Digits"}

#: Environment variable naming a local folder that holds the two files.
SOURCE_ENV = "SIGNS_DIR"

#: Network timeout for one download request, in seconds.
DOWNLOAD_TIMEOUT = 60.0

_CHUNK = 1 << 20  # 1 MiB
_FIX = (
    "Pass --from DIR with a folder holding train_signs.h5 and test_signs.h5, "
    f"or set {SOURCE_ENV} to such a folder."
)

#: Where the files of a dataset without a download mirror come from, for the error message.
_NO_MIRROR = {
    "digits": (
        "They come from the Sign Language Digits Dataset (Apache-2.0, "
        "github.com/ardamavi/Sign-Language-Digits-Dataset), converted to the SIGNS format: pass "
        f"--from DIR (or set {SOURCE_ENV}) with a folder holding the converted train_signs.h5 "
        "and test_signs.h5."
    ),
}


@dataclass(frozen=True)
class KnownFile:
    """One known data file.

    Attributes:
        sha256: the file's sha256 digest, 64 lower-case hex characters.
        dataset: ``"signs"`` or ``"digits"`` (see :data:`DATASETS`).
        variant: which version of the data, e.g. ``"original"`` or ``"cs230-jpeg64"``.
        split: ``"train"`` or ``"test"``.
        size: file size in bytes.
        note: extra detail shown to the user, or ``""``.
    """

    sha256: str
    dataset: str
    variant: str
    split: str
    size: int
    note: str = ""

    @property
    def family(self) -> tuple[str, str]:
        """``(dataset, variant)``: a train file and a test file form a pair only when equal."""
        return (self.dataset, self.variant)

    @property
    def family_label(self) -> str:
        """Human-readable name of the family, e.g. ``"SIGNS cs230-jpeg64"``."""
        return f"{_NAMES.get(self.dataset, self.dataset)} {self.variant}"

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``"SIGNS cs230-jpeg64 train"``."""
        text = f"{self.family_label} {self.split}"
        return f"{text} ({self.note})" if self.note else text


#: Known data files, by sha256 (lower-case hex). Provenance: ``shared/datasets/SOURCES.md``.
KNOWN_FILES: dict[str, KnownFile] = {
    known.sha256: known
    for known in [
        # The real deeplearning.ai SIGNS files.
        KnownFile(
            "47480709d99f2ea6ae428ecc491fc6f65ff1d05336736dd859d5565e0ad3cf74",
            "signs",
            "original",
            "train",
            13_281_872,
        ),
        KnownFile(
            "539fb746ed9e947eb244cfca73f4d1b03f9bf5524d609eeed2cd76ddb1b179be",
            "signs",
            "original",
            "test",
            1_477_712,
        ),
        # Same arrays as the real test file; one byte differs (HDF5 superblock consistency flag).
        # Its variant is "original": it pairs with the original train file.
        KnownFile(
            "e964910cbbc3f1f88e59fd8a3aa372f37adcd539009003c76954c46e619b17c8",
            "signs",
            "original",
            "test",
            1_477_712,
            note="one-byte variant, same arrays",
        ),
        # The same photographs, from the Stanford CS230 64x64 JPEG version.
        KnownFile(
            "a268cf29a5ead494438b7109bfd5e21a56acf6267d42d90d6abc66378b52f4d5",
            "signs",
            "cs230-jpeg64",
            "train",
            13_281_776,
        ),
        KnownFile(
            "78d925b71de1940f14f8af4f6ed420ea8d5038116425d6f5a3817b395d60e0a4",
            "signs",
            "cs230-jpeg64",
            "test",
            1_477_616,
        ),
        # Fallback built from the Sign Language Digits Dataset (digits 0-5).
        KnownFile(
            "12602c797f579fe07da9ecfdee6de1ad89b695094688c79df613010b5520b317",
            "digits",
            "0-5",
            "train",
            13_724_432,
        ),
        KnownFile(
            "b6797a2a9c759726550c120909dc4d5fc51efd52303cdee05030c4d90c887089",
            "digits",
            "0-5",
            "test",
            1_477_616,
        ),
    ]
}

#: Local folders searched when neither ``--from`` nor ``SIGNS_DIR`` is given, by dataset.
LOCAL_FOLDERS: dict[str, list[Path]] = {
    "signs": [REPO_ROOT.parent / "shared" / "datasets" / "signs-cs230-jpeg64"],
    "digits": [REPO_ROOT.parent / "shared" / "datasets" / "sign-language-digits"],
}

_RAW = "https://raw.githubusercontent.com"

#: Download mirrors by dataset: a list of ``{split: url}`` pairs at pinned commits, tried in order.
MIRRORS: dict[str, list[dict[str, str]]] = {
    "signs": [
        {
            "train": f"{_RAW}/itsayushthada/Convolution-Neural-Network/"
            "fd28f400f7ac0605657efcfd4f9dc3e354e0abf1/datasets/train_signs.h5",
            "test": f"{_RAW}/itsayushthada/Convolution-Neural-Network/"
            "fd28f400f7ac0605657efcfd4f9dc3e354e0abf1/datasets/test_signs.h5",
        },
        {
            "train": f"{_RAW}/shivanshuman021/HandSigns-Indentifier/"
            "86467f48a34c39a79cc7f933ec8753e73b384478/datasets/train_signs.h5",
            "test": f"{_RAW}/shivanshuman021/HandSigns-Indentifier/"
            "86467f48a34c39a79cc7f933ec8753e73b384478/datasets/test_signs.h5",
        },
        {
            "train": f"{_RAW}/DrAlexSanz/CNN-in-TF/5f0da09b23d8920755c2d0087debebdfe3ce8bf0/train_signs.h5",
            "test": f"{_RAW}/DrAlexSanz/CNN-in-TF/5f0da09b23d8920755c2d0087debebdfe3ce8bf0/test_signs.h5",
        },
    ],
    # No public h5 mirror of the digits files is known: they are built from SOURCE_ARCHIVES.
    "digits": [],
}

#: Datasets built from a source archive (download URLs, tried in order) when no local copy is
#: found; the conversion is :mod:`resnets_kit.digits`, and its output must be a known file.
SOURCE_ARCHIVES: dict[str, list[str]] = {"digits": list(digits.SOURCE_URLS)}

#: The converter of each dataset in :data:`SOURCE_ARCHIVES`: archive path -> {split: (x, y)}.
_CONVERTERS = {"digits": digits.convert_archive}


class DataError(Exception):
    """A data file could not be placed: its message says what went wrong and what to do."""


class NoSourceError(DataError):
    """No source of the files was found: no ``--from``, no ``SIGNS_DIR``, no local copy and no
    download mirror."""


class DownloadError(DataError):
    """Every download (mirror or source archive) failed; nothing was changed."""


Log = Callable[[str], None]


def _short(digest: str) -> str:
    return f"{digest[:8]}…"


def _split_of(name: str) -> str:
    for split, file_name in FILE_NAMES.items():
        if file_name == name:
            return split
    names = ", ".join(sorted(FILE_NAMES.values()))
    raise ValueError(f"cannot tell the split of {name!r}: pass split=, or name the file {names}")


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}.")


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the sha256 digest of a file.

    Args:
        path: the file to hash.

    Returns:
        The digest as 64 lower-case hex characters.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when it does not exist).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def identify(digest: str) -> KnownFile | None:
    """Look a sha256 digest up in :data:`KNOWN_FILES`.

    Args:
        digest: sha256 as hex (any case).

    Returns:
        The matching :class:`KnownFile`, or ``None`` when the digest is unknown.
    """
    return KNOWN_FILES.get(digest.lower())


def _expected_text(split: str, dataset: str | None) -> str:
    rows = [
        f"{info.label}: {digest} ({info.size} bytes)"
        for digest, info in KNOWN_FILES.items()
        if info.split == split and (dataset is None or info.dataset == dataset)
    ]
    return "; ".join(rows) if rows else "(no known file)"


def _check_identity(digest: str, size: int, split: str, dataset: str | None, what: str) -> KnownFile:
    """Return the known file for ``digest`` or raise a DataError describing the mismatch."""
    info = identify(digest)
    name = FILE_NAMES[split]
    if info is None:
        raise DataError(
            f"{what} is not a known {name}: expected sha256 "
            f"{_expected_text(split, dataset)}, got {digest} ({size} bytes). "
            "The file is corrupt, truncated or a different dataset."
        )
    if info.size != size:
        raise DataError(f"{what} has the sha256 of {info.label} but {size} bytes instead of {info.size}.")
    if info.split != split:
        raise DataError(
            f"{what} is {info.label} (sha256 {_short(digest)}), not a {split} file; "
            f"the {split} file must be named {name}."
        )
    if dataset is not None and info.dataset != dataset:
        raise DataError(
            f"{what} is {info.label} (sha256 {_short(digest)}), but --dataset {dataset} "
            f"was asked for; pass --dataset {info.dataset} to use this file."
        )
    return info


def verify_file(
    path: str | os.PathLike[str], split: str | None = None, dataset: str | None = None
) -> KnownFile:
    """Check that a file is a known data file.

    Args:
        path: the file to check.
        split: ``"train"`` or ``"test"``; default: taken from the file name
            (``train_signs.h5`` or ``test_signs.h5``).
        dataset: ``"signs"`` or ``"digits"`` to also require that dataset, or ``None`` for any.

    Returns:
        The matching :class:`KnownFile`.

    Raises:
        DataError: the file is missing or unreadable, its sha256 or size is not that of a known
            file, or it is a known file of another split or dataset. The message gives the
            expected and actual sha256.
        ValueError: ``split`` is not given and the file name is neither ``train_signs.h5``
            nor ``test_signs.h5``.
    """
    path = Path(path)
    if split is None:
        split = _split_of(path.name)
    try:
        size = path.stat().st_size
        digest = sha256_of(path)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}.") from exc
    return _check_identity(digest, size, split, dataset, str(path))


def _stage(
    dest_file: Path,
    split: str,
    dataset: str | None,
    what: str,
    fill: Callable[[object], None],
) -> tuple[Path, KnownFile]:
    """Write a temporary ``*.part`` file beside ``dest_file`` and verify it.

    ``fill(fh)`` writes the content to the open binary file ``fh``. Returns the temporary file
    and what it is; the caller moves it into place with :func:`_commit` or removes it. On any
    failure, including KeyboardInterrupt, the temporary file is removed and the exception
    propagates. The folder of ``dest_file`` must exist.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=dest_file.name + ".", suffix=".part", dir=dest_file.parent)
    part = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        info = _check_identity(sha256_of(part), part.stat().st_size, split, dataset, what)
        os.chmod(part, 0o644)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return part, info


def _commit(part: Path, dest_file: Path) -> None:
    """Move a verified temporary file into place (atomic within one folder)."""
    os.replace(part, dest_file)


def _place(staged: tuple[Path, KnownFile], dest_file: Path) -> KnownFile:
    """Move one staged file into place; remove it if that fails."""
    part, info = staged
    try:
        _commit(part, dest_file)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return info


def _stage_copy(src: Path, dest_file: Path, split: str, dataset: str | None) -> tuple[Path, KnownFile]:
    """Copy ``src`` to a verified temporary file beside ``dest_file``."""
    if not src.is_file():
        raise DataError(f"{src} does not exist (or is not a file).")

    def fill(fh) -> None:
        with open(src, "rb") as source:
            while chunk := source.read(_CHUNK):
                fh.write(chunk)

    try:
        return _stage(dest_file, split, dataset, str(src), fill)
    except OSError as exc:
        raise DataError(f"cannot copy {src} to {dest_file}: {exc.strerror or exc}.") from exc


def copy_verified(
    src: str | os.PathLike[str],
    dest_file: str | os.PathLike[str],
    split: str | None = None,
    dataset: str | None = None,
) -> KnownFile:
    """Copy a local data file into place, atomically and verified.

    Args:
        src: the source file.
        dest_file: where to put it (its folder is created if needed).
        split: ``"train"`` or ``"test"``; default: taken from the name of ``dest_file``.
        dataset: require this dataset (``"signs"`` or ``"digits"``), or ``None`` for any.

    Returns:
        The :class:`KnownFile` that was placed.

    Raises:
        DataError: the source is missing, unreadable or not a known file, or the destination
            cannot be written. Nothing is left at ``dest_file`` or beside it in that case.
        ValueError: ``split`` is not given and the name of ``dest_file`` is neither
            ``train_signs.h5`` nor ``test_signs.h5``.
    """
    src, dest_file = Path(src), Path(dest_file)
    split = split or _split_of(dest_file.name)
    try:
        dest_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest_file.parent}: {exc.strerror or exc}.") from exc
    staged = _stage_copy(src, dest_file, split, dataset)
    try:
        return _place(staged, dest_file)
    except OSError as exc:
        raise DataError(f"cannot copy {src} to {dest_file}: {exc.strerror or exc}.") from exc


def _progress(total: int | None, desc: str):
    """A tqdm progress bar when tqdm is available (it hides itself when stderr is not a tty)."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a project dependency
        return None
    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=None,
        leave=False,
    )


def _download_to(url: str, fh, max_size: int, timeout: float, desc: str) -> None:
    """Stream ``url`` into ``fh``; raise DataError on a short, oversized or failed transfer."""
    request = urllib.request.Request(url, headers={"User-Agent": "resnets-keras-data/0.1"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_size:
            raise DataError(f"the server announces {total} bytes, larger than any known file")
        bar = _progress(total, desc)
        received = 0
        try:
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > max_size:
                    raise DataError(f"more than {max_size} bytes received, larger than any known file")
                fh.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and received != total:
            raise DataError(f"transfer interrupted after {received} of {total} bytes")


def download_verified(
    urls: Iterable[str],
    dest_file: str | os.PathLike[str],
    split: str | None = None,
    dataset: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    log: Log = print,
) -> KnownFile:
    """Download a data file, trying mirrors in order, atomically and verified.

    Each URL is downloaded into a temporary ``*.part`` file beside ``dest_file`` and checked
    against :data:`KNOWN_FILES`; the first URL that yields a known file wins. A URL that fails
    (network error, HTTP error, timeout, wrong bytes) is reported and the next one is tried.

    Args:
        urls: candidate URLs, in order of preference (``http(s)://`` or ``file://``).
        dest_file: where to put the file (its folder is created if needed).
        split: ``"train"`` or ``"test"``; default: taken from the name of ``dest_file``.
        dataset: require this dataset, or ``None`` for any.
        timeout: socket timeout per request, in seconds.
        log: function called with progress messages.

    Returns:
        The :class:`KnownFile` that was placed.

    Raises:
        DataError: every URL failed; the message lists each URL with its error.
        KeyboardInterrupt: propagated after the temporary file is removed.
        ValueError: ``split`` is not given and the name of ``dest_file`` is neither
            ``train_signs.h5`` nor ``test_signs.h5``.
    """
    dest_file = Path(dest_file)
    split = split or _split_of(dest_file.name)
    try:
        dest_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest_file.parent}: {exc.strerror or exc}.") from exc
    staged = _stage_download(urls, dest_file, split, dataset, timeout, log)
    try:
        return _place(staged, dest_file)
    except OSError as exc:
        raise DataError(f"cannot move the download to {dest_file}: {exc.strerror or exc}.") from exc


def _stage_download(
    urls: Iterable[str],
    dest_file: Path,
    split: str,
    dataset: str | None,
    timeout: float,
    log: Log,
) -> tuple[Path, KnownFile]:
    """Download the first URL that yields a known file into a verified temporary file."""
    sizes = [info.size for info in KNOWN_FILES.values() if info.split == split]
    max_size = max(sizes, default=0)
    failures = []
    for url in urls:
        log(f"{dest_file.name}: downloading {url}")

        def fill(fh, url=url) -> None:
            _download_to(url, fh, max_size, timeout, dest_file.name)

        try:
            return _stage(dest_file, split, dataset, "the downloaded file", fill)
        except (OSError, http.client.HTTPException, ValueError, DataError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                reason = f"HTTP {exc.code} {exc.reason}"
            elif isinstance(exc, urllib.error.URLError):
                reason = f"{exc.reason}"
            elif isinstance(exc, DataError):
                reason = str(exc).rstrip(".")
            else:
                reason = f"{type(exc).__name__}: {exc}"
            log(f"{dest_file.name}: failed: {reason}")
            failures.append(f"{url} ({reason})")
    if not failures:
        raise DataError(f"no download URL is known for {dest_file.name}.")
    raise DataError(f"could not download {dest_file.name}; every mirror failed: " + "; ".join(failures) + ".")


_PILLOW_HINT = (
    "The conversion is pinned to the Pillow version of pyproject.toml (JPEG decoding and "
    "LANCZOS resampling may differ in others): install the pinned requirements and try again, "
    "or pass --from DIR with a folder holding the converted train_signs.h5 and test_signs.h5."
)


def _stage_built(
    dataset: str,
    urls: Iterable[str],
    targets: dict[str, Path],
    needed: list[str],
    timeout: float,
    log: Log,
) -> dict[str, tuple[Path, KnownFile]]:
    """Download a source archive, convert it, and stage the ``needed`` splits as verified files.

    The archive goes to a temporary file beside the targets and is removed afterwards. Each
    converted split is written to a temporary ``*.part`` file and checked against
    :data:`KNOWN_FILES` like any other file. The first URL whose archive downloads and converts
    wins; a URL that fails is reported and the next one is tried.

    Raises:
        DownloadError: every URL failed to download or held no usable archive.
        DataError: a converted file is not the known file (the conversion did not reproduce it).
    """
    convert = _CONVERTERS[dataset]
    folder = next(iter(targets.values())).parent
    failures = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix="source.", suffix=".zip.part", dir=folder)
        archive = Path(tmp_name)
        try:
            log(f"{_NAMES[dataset]} source archive: downloading {url}")
            try:
                with os.fdopen(fd, "wb") as fh:
                    _download_to(url, fh, digits.MAX_ARCHIVE_BYTES, timeout, "source archive")
                log("converting the images (about 1,200 JPEG files) to the SIGNS h5 format")
                arrays = convert(archive)
            except (OSError, http.client.HTTPException, ValueError, DataError) as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    reason = f"HTTP {exc.code} {exc.reason}"
                elif isinstance(exc, urllib.error.URLError):
                    reason = f"{exc.reason}"
                else:
                    reason = str(exc).rstrip(".") or type(exc).__name__
                log(f"source archive: failed: {reason}")
                failures.append(f"{url} ({reason})")
                continue
            staged: dict[str, tuple[Path, KnownFile]] = {}
            try:
                for split in needed:
                    x, y = arrays[split]

                    def fill(fh, split=split, x=x, y=y) -> None:
                        built = targets[split].with_name(f"{targets[split].name}.{os.getpid()}.build")
                        try:
                            digits.write_signs_h5(built, split, x, y)
                            with open(built, "rb") as source:
                                while chunk := source.read(_CHUNK):
                                    fh.write(chunk)
                        finally:
                            built.unlink(missing_ok=True)

                    what = f"the {FILE_NAMES[split]} converted from {url}"
                    try:
                        staged[split] = _stage(targets[split], split, dataset, what, fill)
                    except DataError as exc:
                        raise DataError(f"{exc} {_PILLOW_HINT}") from exc
            except BaseException:
                for part, _ in staged.values():
                    part.unlink(missing_ok=True)
                raise
            return staged
        finally:
            archive.unlink(missing_ok=True)
    raise DownloadError(
        f"could not download the {_NAMES[dataset]} source archive; every URL failed: "
        + "; ".join(failures)
        + "."
    )


def find_local_source(dataset: str = "signs") -> Path | None:
    """Return the first folder of :data:`LOCAL_FOLDERS` that holds both files, or ``None``.

    Args:
        dataset: ``"signs"`` or ``"digits"``.

    Returns:
        The folder, or ``None`` when no candidate holds ``train_signs.h5`` and ``test_signs.h5``.
    """
    for folder in LOCAL_FOLDERS.get(dataset, []):
        folder = Path(folder)
        if all((folder / name).is_file() for name in FILE_NAMES.values()):
            return folder
    return None


def _existing_file(dest_file: Path, split: str) -> KnownFile:
    """Identify a file already in the destination; raise DataError unless it is a known file."""
    try:
        size = dest_file.stat().st_size
        digest = sha256_of(dest_file)
    except OSError as exc:
        raise DataError(f"cannot read the existing {dest_file}: {exc.strerror or exc}.") from exc
    info = identify(digest)
    if info is None or info.split != split or info.size != size:
        what = "an unknown file" if info is None else f"{info.label}, not a {split} file"
        raise DataError(
            f"{dest_file} already exists and is {what} (sha256 {digest}); it is left untouched. "
            "Move it away, or pass --force to replace it."
        )
    return info


def _check_kept(dest: Path, found: dict[str, KnownFile], dataset: str) -> None:
    """Raise DataError unless the files ``found`` in ``dest`` can be kept for ``dataset``."""
    wanted = _NAMES[dataset]
    if len(found) == 2 and found["train"].family != found["test"].family:
        raise DataError(
            f"{dest} holds a mixed pair: train_signs.h5 is {found['train'].label} but "
            f"test_signs.h5 is {found['test'].label}; the two files must come from the same "
            f"dataset and variant. Pass --force to replace both with the {wanted} files."
        )
    other = next((info for info in found.values() if info.dataset != dataset), None)
    if other is None:
        return
    if len(found) == 2:
        what, them = f"the {other.family_label} files", "them"
    else:
        what, them = f"only {FILE_NAMES[other.split]}, which is {other.label}", "it"
    raise DataError(
        f"{dest} holds {what}, not the {wanted} files that --dataset {dataset} asks for. "
        f"Pass --force to replace {them} with the {wanted} files, or --dataset {other.dataset} "
        f"to keep {them}."
    )


def _check_pair(found: dict[str, KnownFile], staged: dict[str, KnownFile], origin: str) -> None:
    """Raise DataError unless the kept and the newly obtained files form one pair."""
    pair = {**found, **staged}
    train, test = pair["train"], pair["test"]
    if train.family == test.family:
        return
    if found:
        (kept_split, kept), (new_split, new) = next(iter(found.items())), next(iter(staged.items()))
        raise DataError(
            f"the {FILE_NAMES[new_split]} from {origin} is {new.label}, which does not pair with "
            f"the {FILE_NAMES[kept_split]} in place ({kept.label}): the two files must come from "
            "the same dataset and variant. Nothing was changed. Pass --force with a source "
            "holding a matching pair to replace both."
        )
    raise DataError(
        f"{origin} does not give a matching pair: train_signs.h5 is {train.label} but "
        f"test_signs.h5 is {test.label}; the two files must come from the same dataset and "
        f"variant. Nothing was changed. {_FIX}"
    )


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the created folders, deepest first."""
    created = []
    current = folder
    while not current.exists() and current != current.parent:
        created.append(current)
        current = current.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the destination {folder}: {exc.strerror or exc}.") from exc
    return created


def _remove_folders(created: list[Path]) -> None:
    """Remove the folders :func:`_make_folder` created, as long as they are empty."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


def fetch_dataset(
    dest: str | os.PathLike[str] | None = None,
    source: str | os.PathLike[str] | None = None,
    dataset: str = "signs",
    force: bool = False,
    *,
    timeout: float = DOWNLOAD_TIMEOUT,
    log: Log = print,
) -> dict[str, Path]:
    """Place ``train_signs.h5`` and ``test_signs.h5`` in ``dest``, verified by sha256, as a pair.

    Sources, in order: ``source``; the folder in the environment variable ``SIGNS_DIR``; the
    first folder of :data:`LOCAL_FOLDERS` for ``dataset`` that holds both files; the download
    mirrors of :data:`MIRRORS` (SIGNS), or the source archive of :data:`SOURCE_ARCHIVES`,
    converted by :mod:`resnets_kit.digits` (the digits set).

    Without ``force``, destination files that are known files of ``dataset`` and of one family
    (see :attr:`KnownFile.family`) are kept, and only a missing file is fetched. Destination files
    of another dataset, a mixed pair, and a file with an unknown sha256 are errors. With
    ``force``, both files are fetched and replace whatever is there.

    The files still needed are first written to temporary ``*.part`` files in ``dest`` and
    verified; only when all are verified, and form a pair with any kept file, are they moved into
    place (train, then test). On failure ``dest`` is left as it was.

    Args:
        dest: destination folder; default :data:`DEFAULT_DESTS` of ``dataset``: ``datasets/``
            at the repository root for SIGNS, ``datasets/digits/`` for the digits set.
        source: a folder holding ``train_signs.h5`` and ``test_signs.h5``, or ``None``. Without
            one (and no local copy), SIGNS is downloaded from :data:`MIRRORS` and the digits set
            is built from :data:`SOURCE_ARCHIVES`.
        dataset: ``"signs"`` or ``"digits"``; the files must belong to it.
        force: fetch and replace both files even when they are already in place.
        timeout: socket timeout per download request, in seconds.
        log: function called with one-line progress messages.

    Returns:
        ``{"train": path, "test": path}``, the paths of the two placed files.

    Raises:
        DataError: a source is missing or holds a file that is not a known file of
            ``dataset``, the two files do not form a pair, a file converted from a source
            archive is not the known file, every download failed (:class:`DownloadError`), no
            source is available (:class:`NoSourceError`), or the destination holds files that would be overwritten or
            are not the requested pair. The destination is left as it was.
        KeyboardInterrupt: propagated after any temporary file is removed.
    """
    _check_dataset(dataset)
    dest = Path(dest) if dest is not None else DEFAULT_DESTS[dataset]
    targets = {split: dest / name for split, name in FILE_NAMES.items()}
    if dest.exists() and not dest.is_dir():
        raise DataError(f"the destination {dest} exists and is not a folder; pass --dest DIR.")

    found: dict[str, KnownFile] = {}
    if not force:
        for split, dest_file in targets.items():
            if dest_file.exists():
                found[split] = _existing_file(dest_file, split)
        _check_kept(dest, found, dataset)
        for split, info in found.items():
            log(
                f"{FILE_NAMES[split]}: already in place, verified: {info.label}, sha256 {_short(info.sha256)}"
            )
    needed = [split for split in FILE_NAMES if split not in found]
    if not needed:
        log(f"nothing to do: the {found['train'].family_label} files are in {dest}")
        return targets

    folder = None
    if source is not None and str(source) != "":
        folder, origin = Path(source), "--from"
    elif os.environ.get(SOURCE_ENV):
        folder, origin = Path(os.environ[SOURCE_ENV]), SOURCE_ENV
    else:
        folder = find_local_source(dataset)
        origin = "auto"
        if folder is not None:
            log(f"found a local {dataset} folder: {folder}")

    if folder is not None:
        if not folder.is_dir():
            raise DataError(f"{origin} names {folder}, which is not a folder. {_FIX}")
        missing = [FILE_NAMES[split] for split in needed if not (folder / FILE_NAMES[split]).is_file()]
        if missing:
            raise DataError(f"{folder} has no {' or '.join(missing)} (source: {origin}). {_FIX}")
    elif not MIRRORS.get(dataset) and not SOURCE_ARCHIVES.get(dataset):
        raise NoSourceError(
            f"no local copy of the {_NAMES[dataset]} files was found, and --dataset {dataset} has "
            f"no download mirror. {_NO_MIRROR.get(dataset, _FIX)}"
        )

    created = _make_folder(dest)
    staged: dict[str, tuple[Path, KnownFile]] = {}
    build = folder is None and not MIRRORS.get(dataset)
    try:
        if build:
            try:
                staged.update(_stage_built(dataset, SOURCE_ARCHIVES[dataset], targets, needed, timeout, log))
            except DownloadError as exc:
                raise DownloadError(
                    f"{exc} Nothing was changed. Check the network connection and try again. {_FIX}"
                ) from exc
            except DataError as exc:
                raise DataError(f"{exc} Nothing was changed.") from exc
        for split in needed:
            if build:
                pass
            elif folder is not None:
                src = folder / FILE_NAMES[split]
                log(f"{src.name}: copying from {src}")
                try:
                    staged[split] = _stage_copy(src, targets[split], split, dataset)
                except DataError as exc:
                    raise DataError(f"{exc} Nothing was changed. {_FIX}") from exc
            else:
                urls = [pair[split] for pair in MIRRORS[dataset] if split in pair]
                try:
                    staged[split] = _stage_download(urls, targets[split], split, dataset, timeout, log)
                except DataError as exc:
                    raise DownloadError(
                        f"{exc} Nothing was changed. Check the network connection and try again. {_FIX}"
                    ) from exc
            info = staged[split][1]
            log(f"verified: {info.label}, sha256 {_short(info.sha256)}")
        if folder is not None:
            where = str(folder)
        else:
            where = "the source archive" if build else "the download mirrors"
        _check_pair(found, {split: info for split, (_, info) in staged.items()}, where)
        for split in FILE_NAMES:  # train, then test
            if split in staged:
                try:
                    _commit(staged[split][0], targets[split])
                except OSError as exc:
                    raise DataError(f"cannot move a file into {dest}: {exc.strerror or exc}.") from exc
    except BaseException:
        for part, _ in staged.values():
            part.unlink(missing_ok=True)
        _remove_folders(created)
        raise
    log(f"done: the {staged[needed[0]][1].family_label} files are in {dest}")
    return targets


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnets_kit.data",
        description="Place train_signs.h5 and test_signs.h5 in the datasets folder, verified by "
        "sha256. Sources, in order: --from DIR, the SIGNS_DIR environment variable, a local "
        "copy in ../shared/datasets/, then a download (SIGNS: pinned mirrors; digits: the pinned "
        "source archive, converted and checked against the known sha256).",
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="folder holding train_signs.h5 and test_signs.h5 (overrides SIGNS_DIR)",
    )
    parser.add_argument(
        "--dest",
        metavar="DIR",
        default=None,
        help="destination folder (default: datasets/ for signs, datasets/digits/ for digits)",
    )
    parser.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default="signs",
        help="which dataset to place (default: signs)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="fetch both files again and replace the destination files, even unknown ones "
        "or those of another dataset",
    )
    parser.add_argument(
        "--optional",
        action="store_true",
        help="when no source of the files is found or the download fails, print a note and "
        "exit 0 instead of failing",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the data command.

    Args:
        argv: command-line arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success (or, with ``--optional``, when there is no source or the
        download failed), 1 on
        failure, 130 when interrupted (argparse exits with 2 on a usage error).
    """
    args = _parser().parse_args(argv)
    try:
        fetch_dataset(args.dest, args.source, args.dataset, args.force)
    except (NoSourceError, DownloadError) as exc:
        if not args.optional:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"note: skipped the {_NAMES[args.dataset]} files (optional): {exc}")
        return 0
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; no partial file was left behind.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
