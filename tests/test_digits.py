"""Tests of the Sign Language Digits conversion, ``resnets_kit.digits``, and of the data command
building the digits pair from a source archive.

The split and the h5 writer are checked against the converted files in
``../shared/datasets/sign-language-digits`` (their order files and their bytes). The download
and conversion path runs on small synthetic archives served from ``file://`` URLs and from an
unreachable port; no test touches the network.
"""

from __future__ import annotations

import csv
import io
import socket
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from resnets_kit import REPO_ROOT, data, digits

SHARED_DIGITS = REPO_ROOT.parent / "shared" / "datasets" / "sign-language-digits"
needs_shared = pytest.mark.skipif(not SHARED_DIGITS.is_dir(), reason=f"{SHARED_DIGITS} is absent")

PREFIX = f"Sign-Language-Digits-Dataset-{digits.SOURCE_COMMIT}/"


def _order(split: str) -> list[tuple[int, str]]:
    with open(SHARED_DIGITS / f"{split}_order.csv", newline="") as fh:
        return [(int(row["label"]), row["source_file"]) for row in csv.DictReader(fh)]


def _jpeg(seed: int, size: int = 100) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_archive(path: Path, per_class: int = 22) -> dict[str, bytes]:
    """A synthetic source archive: ``per_class`` JPEGs in Dataset/0 … Dataset/9, the two relabelled
    files, a README and a non-image file. Returns ``{relative path: bytes}`` of its images."""
    images = {}
    for digit in range(10):
        for k in range(per_class):
            images[f"Dataset/{digit}/IMG_{1000 + 37 * k + digit}.JPG"] = _jpeg(100 * digit + k)
    images["Dataset/2/IMG_5176.JPG"] = _jpeg(9001)  # a 3 (relabelled)
    images["Dataset/3/IMG_5108.JPG"] = _jpeg(9002)  # a 7 (leaves the 0-5 subset)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(PREFIX + "README.md", "Sign Language Digits Dataset\n")
        zf.writestr(PREFIX + "Dataset/0/notes.txt", "not an image\n")
        for name, content in images.items():
            zf.writestr(PREFIX + name, content)
    return images


# --- the conversion, against the shipped files -----------------------------------------------


@needs_shared
def test_split_reproduces_the_shipped_order():
    train, test = _order("train"), _order("test")
    upstream = [PREFIX + path for _, path in train + test]
    upstream += [PREFIX + "Dataset/3/IMG_5108.JPG", PREFIX + "Dataset/7/IMG_1.JPG", PREFIX + "LICENSE"]
    labels = digits.labelled_files(upstream)
    assert labels == {path: label for label, path in train + test}
    assert labels["Dataset/2/IMG_5176.JPG"] == 3
    assert "Dataset/3/IMG_5108.JPG" not in labels
    got_train, got_test = digits.split_files(labels)
    assert got_train == train
    assert got_test == test
    assert digits.order_rows(got_test) == (SHARED_DIGITS / "test_order.csv").read_text().splitlines()


@needs_shared
@pytest.mark.parametrize("split", ["train", "test"])
def test_writer_reproduces_the_known_files_byte_for_byte(tmp_path, split):
    with h5py.File(SHARED_DIGITS / f"{split}_signs.h5", "r") as fh:
        x, y = fh[f"{split}_set_x"][()], fh[f"{split}_set_y"][()]
    out = tmp_path / f"{split}_signs.h5"
    digits.write_signs_h5(out, split, x, y)
    info = data.identify(data.sha256_of(out))
    assert info is not None and (info.dataset, info.split) == ("digits", split)


def test_split_seed_matters():
    labels = {f"Dataset/{d}/IMG_{k}.JPG": d for d in range(6) for k in range(30)}
    train, test = digits.split_files(labels)
    other_train, _ = digits.split_files(labels, seed=digits.SEED + 1)
    assert len(test) == 6 * digits.TEST_PER_CLASS and len(train) == 6 * 10
    assert sorted(train + test) == sorted((d, p) for p, d in labels.items())
    assert [label for label, _ in test].count(0) == digits.TEST_PER_CLASS
    assert train != other_train


def test_split_needs_enough_images_per_class():
    labels = {f"Dataset/{d}/IMG_{k}.JPG": d for d in range(6) for k in range(25)}
    labels = {
        p: d
        for p, d in labels.items()
        if not (d == 4 and p.endswith(("_1.JPG", "_2.JPG", "_3.JPG", "_4.JPG", "_5.JPG")))
    }
    with pytest.raises(digits.ArchiveError, match="class 4 has 20 images"):
        digits.split_files(labels)


def test_writer_rejects_wrong_arrays(tmp_path):
    x = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="split must be"):
        digits.write_signs_h5(tmp_path / "a.h5", "val", x, np.zeros(2))
    with pytest.raises(ValueError, match="x must be uint8"):
        digits.write_signs_h5(tmp_path / "a.h5", "test", x.astype(np.float32), np.zeros(2))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        digits.write_signs_h5(tmp_path / "a.h5", "test", x, np.zeros(3))


def test_convert_archive(tmp_path):
    archive = tmp_path / "source.zip"
    images = make_archive(archive)
    arrays = digits.convert_archive(archive)
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    assert x_test.shape == (120, 64, 64, 3) and x_test.dtype == np.uint8 and y_test.dtype == np.int64
    # 22 per digit; digit 2 loses IMG_5176 to 3 and 3 loses IMG_5108 to 7: 22 22 22 23 22 22
    assert x_train.shape == (6 * 22 + 1 - 120, 64, 64, 3)
    assert np.bincount(y_test).tolist() == [20] * 6
    assert np.bincount(y_train).tolist() == [2, 2, 2, 3, 2, 2]
    labels = digits.labelled_files(PREFIX + name for name in images)
    train, test = digits.split_files(labels)
    assert y_train.tolist() == [label for label, _ in train]
    for i in (0, 57, 119):  # pixels: RGB, LANCZOS resize of the decoded JPEG
        with Image.open(io.BytesIO(images[test[i][1]])) as img:
            want = np.asarray(img.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS))
        np.testing.assert_array_equal(x_test[i], want)


def test_convert_rejects_other_archives(tmp_path):
    not_zip = tmp_path / "page.zip"
    not_zip.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(digits.ArchiveError, match="not a zip archive"):
        digits.convert_archive(not_zip)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("repo/README.md", "nothing here")
    with pytest.raises(digits.ArchiveError, match="no Dataset/<digit>/"):
        digits.convert_archive(empty)


# --- the data command building the pair --------------------------------------------------------


@pytest.fixture
def archive_source(monkeypatch, tmp_path):
    """A synthetic source archive as the only source of the digits set; its converted files are
    made known files (so the test checks the plumbing, not the real digests)."""
    archive = tmp_path / "source.zip"
    make_archive(archive)
    arrays = digits.convert_archive(archive)
    table = {}
    for split, (x, y) in arrays.items():
        path = tmp_path / f"expected_{split}.h5"
        digits.write_signs_h5(path, split, x, y)
        table[data.sha256_of(path)] = data.KnownFile(
            data.sha256_of(path), "digits", "synthetic", split, path.stat().st_size
        )
    monkeypatch.setattr(data, "KNOWN_FILES", table)
    monkeypatch.setattr(data, "LOCAL_FOLDERS", {"signs": [], "digits": []})
    monkeypatch.setattr(data, "MIRRORS", {"signs": [], "digits": []})
    monkeypatch.setattr(data, "SOURCE_ARCHIVES", {"signs": [], "digits": [archive.as_uri()]})
    monkeypatch.delenv("SIGNS_DIR", raising=False)
    return archive


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/source.zip"


def test_data_command_builds_digits_from_the_archive(archive_source, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    urls = [_closed_port_url(), bad.as_uri(), archive_source.as_uri()]
    monkeypatch.setattr(data, "SOURCE_ARCHIVES", {"digits": urls})
    dest = tmp_path / "datasets" / "digits"
    code = data.main(["--dataset", "digits", "--dest", str(dest)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "source archive: failed" in out and "not a zip archive" in out
    assert "verified: Sign Language Digits synthetic train" in out
    assert sorted(p.name for p in dest.iterdir()) == ["test_signs.h5", "train_signs.h5"]
    for split in ("train", "test"):
        assert data.verify_file(dest / f"{split}_signs.h5", dataset="digits").variant == "synthetic"
    code = data.main(["--dataset", "digits", "--dest", str(dest)])
    assert code == 0 and "nothing to do" in capsys.readouterr().out


def test_a_conversion_that_differs_from_the_known_files_leaves_nothing(
    archive_source, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(data, "KNOWN_FILES", dict(data.KNOWN_FILES))
    train = next(k for k, v in data.KNOWN_FILES.items() if v.split == "train")
    del data.KNOWN_FILES[train]  # as if the converted train file came out different
    dest = tmp_path / "datasets" / "digits"
    code = data.main(["--dataset", "digits", "--dest", str(dest)])
    err = capsys.readouterr().err
    assert code == 1
    assert "is not a known train_signs.h5" in err and "Pillow" in err and "Nothing was changed" in err
    assert not dest.exists()
    assert not any(p.suffix in (".part", ".build") for p in tmp_path.rglob("*"))


def test_optional_download_failure_is_a_note(archive_source, tmp_path, capsys, monkeypatch):
    url = _closed_port_url()
    monkeypatch.setattr(data, "SOURCE_ARCHIVES", {"digits": [url]})
    dest = tmp_path / "dest"
    code = data.main(["--dataset", "digits", "--dest", str(dest), "--optional"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.splitlines()[-1].startswith("note: skipped the Sign Language Digits files (optional):")
    assert url in out and "Check the network connection" in out
    assert not dest.exists()
    code = data.main(["--dataset", "digits", "--dest", str(dest)])
    assert code == 1 and "every URL failed" in capsys.readouterr().err


def test_the_real_configuration_builds_from_the_pinned_commit():
    assert data.SOURCE_ARCHIVES["digits"] == list(digits.SOURCE_URLS)
    assert all(digits.SOURCE_COMMIT in url for url in digits.SOURCE_URLS)
    known = {(v.dataset, v.split) for v in data.KNOWN_FILES.values()}
    assert {("digits", "train"), ("digits", "test")} <= known
