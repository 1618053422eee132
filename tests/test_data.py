"""Tests of the data command, ``resnets_kit.data``.

Most tests use small fake files whose sha256 digests are put in the known-file table, local
folders in ``tmp_path``, and a local HTTP server on 127.0.0.1; none touches the network.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from resnets_kit import REPO_ROOT, data

TRAIN = b"fake SIGNS train file\n" * 700
TEST = b"fake SIGNS test file\n" * 90
TEST_VARIANT = b"fake SIGNS test file, other variant\n" * 50
DIGITS_TRAIN = b"fake digits train file\n" * 650
DIGITS_TEST = b"fake digits test file\n" * 80
OTHER_TEST = b"fake SIGNS test file of another variant family\n" * 40
CORRUPT_TRAIN = TRAIN[:-1] + b"!"

SHARED_SIGNS = REPO_ROOT.parent / "shared" / "datasets" / "signs-cs230-jpeg64"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def write(folder: Path, **files: bytes) -> Path:
    """Write ``train=...``/``test=...`` contents as train_signs.h5/test_signs.h5 in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, content in files.items():
        (folder / data.FILE_NAMES[split]).write_bytes(content)
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.part")) if folder.exists() else []


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Content and modification time of every file in ``folder``."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Known-file table of fake files; no local folder, no mirror, no source archive, no SIGNS_DIR."""
    table = [
        data.KnownFile(sha(TRAIN), "signs", "fake", "train", len(TRAIN)),
        data.KnownFile(sha(TEST), "signs", "fake", "test", len(TEST)),
        data.KnownFile(sha(TEST_VARIANT), "signs", "fake", "test", len(TEST_VARIANT), "variant"),
        data.KnownFile(sha(OTHER_TEST), "signs", "other", "test", len(OTHER_TEST)),
        data.KnownFile(sha(DIGITS_TRAIN), "digits", "fake", "train", len(DIGITS_TRAIN)),
        data.KnownFile(sha(DIGITS_TEST), "digits", "fake", "test", len(DIGITS_TEST)),
    ]
    monkeypatch.setattr(data, "KNOWN_FILES", {k.sha256: k for k in table})
    monkeypatch.setattr(data, "LOCAL_FOLDERS", {"signs": [], "digits": []})
    monkeypatch.setattr(data, "MIRRORS", {"signs": [], "digits": []})
    monkeypatch.setattr(data, "SOURCE_ARCHIVES", {"signs": [], "digits": []})
    monkeypatch.delenv("SIGNS_DIR", raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy"):  # 127.0.0.1 must be reached directly
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = data.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- hashing and identification ------------------------------------------------------------


def test_sha256_of_matches_hashlib(tmp_path):
    path = tmp_path / "f.bin"
    content = os.urandom(3 * (1 << 20) + 17)  # spans several read chunks
    path.write_bytes(content)
    assert data.sha256_of(path) == sha(content)


def test_known_table_is_consistent():
    assert len(data.KNOWN_FILES) == 7
    for digest, info in data.KNOWN_FILES.items():
        assert digest == info.sha256 and len(digest) == 64 and digest == digest.lower()
        assert info.split in data.FILE_NAMES and info.dataset in data.DATASETS
        assert info.size > 0
    # Every family in the table is a complete pair, and the one-byte variant of the original test
    # file belongs to the "original" family, so it pairs with the original train file.
    families = {}
    for info in data.KNOWN_FILES.values():
        families.setdefault(info.family, set()).add(info.split)
    assert all(splits == {"train", "test"} for splits in families.values()), families
    variant = data.identify("e964910cbbc3f1f88e59fd8a3aa372f37adcd539009003c76954c46e619b17c8")
    original = data.identify("47480709d99f2ea6ae428ecc491fc6f65ff1d05336736dd859d5565e0ad3cf74")
    assert variant.family == original.family == ("signs", "original")
    assert variant.family_label == "SIGNS original"
    upper = "A268CF29A5EAD494438B7109BFD5E21A56ACF6267D42D90D6ABC66378B52F4D5"
    assert data.identify(upper).label == "SIGNS cs230-jpeg64 train"
    assert data.identify("0" * 64) is None


def test_verify_file(fake):
    write(fake, train=TRAIN, test=TRAIN)
    assert data.verify_file(fake / "train_signs.h5").split == "train"
    with pytest.raises(data.DataError, match="not a test file"):
        data.verify_file(fake / "test_signs.h5")
    with pytest.raises(data.DataError, match="cannot read"):
        data.verify_file(fake / "nothing" / "train_signs.h5")


# --- local sources ---------------------------------------------------------------------------


def test_copy_from_local_folder(fake, capsys):
    src = write(fake / "src", train=TRAIN, test=TEST)
    dest = fake / "dest"
    code, out, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 0, err
    assert (dest / "train_signs.h5").read_bytes() == TRAIN
    assert (dest / "test_signs.h5").read_bytes() == TEST
    assert f"verified: SIGNS fake train, sha256 {sha(TRAIN)[:8]}…" in out
    assert f"verified: SIGNS fake test, sha256 {sha(TEST)[:8]}…" in out
    assert leftovers(dest) == []


def test_source_from_environment(fake, capsys, monkeypatch):
    src = write(fake / "src", train=TRAIN, test=TEST)
    monkeypatch.setenv("SIGNS_DIR", str(src))
    code, _, err = run(capsys, "--dest", fake / "dest")
    assert code == 0, err
    assert (fake / "dest" / "train_signs.h5").read_bytes() == TRAIN


def test_from_flag_overrides_environment(fake, capsys, monkeypatch):
    monkeypatch.setenv("SIGNS_DIR", str(fake / "does-not-exist"))
    src = write(fake / "src", train=TRAIN, test=TEST)
    code, _, err = run(capsys, "--from", src, "--dest", fake / "dest")
    assert code == 0, err


def test_auto_discovery(fake, capsys, monkeypatch):
    found = write(fake / "shared" / "signs", train=TRAIN, test=TEST)
    incomplete = write(fake / "shared" / "incomplete", train=TRAIN)
    monkeypatch.setattr(data, "LOCAL_FOLDERS", {"signs": [incomplete, found], "digits": []})
    assert data.find_local_source("signs") == found
    assert data.find_local_source("digits") is None
    code, out, err = run(capsys, "--dest", fake / "dest")
    assert code == 0, err
    assert f"found a local signs folder: {found}" in out
    assert (fake / "dest" / "test_signs.h5").read_bytes() == TEST


def test_corrupt_local_file_is_rejected(fake, capsys):
    src = write(fake / "src", train=CORRUPT_TRAIN, test=TEST)
    dest = fake / "dest"
    code, out, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1  # one paragraph
    assert sha(TRAIN) in err and sha(CORRUPT_TRAIN) in err  # expected and got
    assert "--from DIR" in err and "SIGNS_DIR" in err
    assert not (dest / "train_signs.h5").exists()
    assert leftovers(dest) == []


def test_corrupt_file_via_api_leaves_nothing(fake):
    src = write(fake / "src", train=CORRUPT_TRAIN)
    dest_file = fake / "dest" / "train_signs.h5"
    with pytest.raises(data.DataError, match="not a known train_signs.h5"):
        data.copy_verified(src / "train_signs.h5", dest_file)
    assert list(dest_file.parent.iterdir()) == []


def test_file_of_the_other_split_is_rejected(fake, capsys):
    src = write(fake / "src", train=TEST, test=TEST)
    code, _, err = run(capsys, "--from", src, "--dest", fake / "dest")
    assert code == 1
    assert "not a train file" in err
    assert leftovers(fake / "dest") == []


def test_file_of_another_dataset_is_rejected(fake, capsys):
    src = write(fake / "src", train=DIGITS_TRAIN, test=TEST)
    code, _, err = run(capsys, "--from", src, "--dest", fake / "dest")
    assert code == 1
    assert "--dataset digits" in err
    assert not (fake / "dest" / "train_signs.h5").exists()


def test_missing_source_file(fake, capsys):
    src = write(fake / "src", test=TEST)
    code, _, err = run(capsys, "--from", src, "--dest", fake / "dest")
    assert code == 1
    assert "has no train_signs.h5" in err and "--from DIR" in err
    assert not (fake / "dest" / "test_signs.h5").exists()  # nothing copied before the check


def test_source_is_not_a_folder(fake, capsys):
    code, _, err = run(capsys, "--from", fake / "nope", "--dest", fake / "dest")
    assert code == 1
    assert "is not a folder" in err


def test_digits_without_local_copy_asks_for_from(fake, capsys):
    code, _, err = run(capsys, "--dataset", "digits", "--dest", fake / "dest")
    assert code == 1
    assert "no download mirror" in err and "--from" in err
    assert (
        "Sign Language Digits Dataset (Apache-2.0, github.com/ardamavi/Sign-Language-Digits-Dataset)" in err
    )
    assert "a folder holding the converted train_signs.h5 and test_signs.h5" in err
    assert "shared" not in err
    assert err.count("\n") == 1
    assert not (fake / "dest").exists()


def test_unknown_dataset_name(fake):
    with pytest.raises(data.DataError, match="unknown dataset"):
        data.fetch_dataset(fake / "dest", dataset="mnist")


# --- existing destination files --------------------------------------------------------------


def test_idempotent(fake, capsys):
    src = write(fake / "src", train=TRAIN, test=TEST)
    dest = fake / "dest"
    assert run(capsys, "--from", src, "--dest", dest)[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    for p in src.iterdir():  # a second run needs no source
        p.unlink()
    code, out, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 0, err
    assert out.count("already in place") == 2 and "nothing to do" in out
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before


def test_only_the_missing_file_is_fetched(fake, capsys):
    dest = write(fake / "dest", train=TRAIN)
    src = write(fake / "src", test=TEST)  # holds no train file: it is not needed
    code, out, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 0, err
    assert "train_signs.h5: already in place" in out
    assert (dest / "test_signs.h5").read_bytes() == TEST


def test_force_replaces_a_known_file(fake, capsys):
    dest = write(fake / "dest", train=TRAIN, test=TEST_VARIANT)
    src = write(fake / "src", train=TRAIN, test=TEST)
    code, out, _ = run(capsys, "--from", src, "--dest", dest)
    assert code == 0 and (dest / "test_signs.h5").read_bytes() == TEST_VARIANT
    code, out, err = run(capsys, "--from", src, "--dest", dest, "--force")
    assert code == 0, err
    assert (dest / "test_signs.h5").read_bytes() == TEST
    assert "copying" in out


def test_refuses_to_overwrite_an_unknown_file(fake, capsys):
    dest = write(fake / "dest", train=b"my own notes")
    src = write(fake / "src", train=TRAIN, test=TEST)
    code, _, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 1
    assert "already exists and is an unknown file" in err and "--force" in err
    assert sha(b"my own notes") in err
    assert (dest / "train_signs.h5").read_bytes() == b"my own notes"
    assert not (dest / "test_signs.h5").exists()
    code, _, err = run(capsys, "--from", src, "--dest", dest, "--force")
    assert code == 0, err
    assert (dest / "train_signs.h5").read_bytes() == TRAIN


@pytest.mark.parametrize("dataset", ["signs", "digits"])
def test_mixed_pair_in_place_is_an_error(fake, capsys, dataset):
    dest = write(fake / "dest", train=DIGITS_TRAIN, test=TEST)
    before = snapshot(dest)
    code, out, err = run(capsys, "--dataset", dataset, "--dest", dest)
    assert code == 1
    assert "nothing to do" not in out
    assert f"{dest} holds a mixed pair" in err
    assert "Sign Language Digits fake train" in err and "SIGNS fake test" in err
    assert "--force" in err
    assert snapshot(dest) == before


def test_the_other_dataset_in_place_is_an_error(fake, capsys):
    dest = write(fake / "dest", train=TRAIN, test=TEST)
    src = write(fake / "src", train=DIGITS_TRAIN, test=DIGITS_TEST)
    before = snapshot(dest)
    code, out, err = run(capsys, "--dataset", "digits", "--from", src, "--dest", dest)
    assert code == 1
    assert "nothing to do" not in out
    assert f"{dest} holds the SIGNS fake files, not the Sign Language Digits files" in err
    assert "--force" in err and "--dataset signs" in err
    assert snapshot(dest) == before
    code, out, err = run(capsys, "--dataset", "digits", "--from", src, "--dest", dest, "--force")
    assert code == 0, err
    assert (dest / "train_signs.h5").read_bytes() == DIGITS_TRAIN
    assert (dest / "test_signs.h5").read_bytes() == DIGITS_TEST
    code, out, err = run(capsys, "--dataset", "digits", "--dest", dest)
    assert code == 0, err
    assert f"nothing to do: the Sign Language Digits fake files are in {dest}" in out


def test_a_single_file_of_the_other_dataset_is_an_error(fake, capsys):
    dest = write(fake / "dest", train=DIGITS_TRAIN)
    src = write(fake / "src", train=TRAIN, test=TEST)
    code, _, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 1
    assert "holds only train_signs.h5, which is Sign Language Digits fake train" in err
    assert "--force" in err
    assert sorted(p.name for p in dest.iterdir()) == ["train_signs.h5"]


def test_a_pair_from_two_variants_is_rejected(fake, capsys):
    src = write(fake / "src", train=TRAIN, test=OTHER_TEST)
    dest = fake / "dest"
    code, _, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 1
    assert "SIGNS fake train" in err and "SIGNS other test" in err
    assert "same dataset and variant" in err
    assert not dest.exists()


def test_a_fetched_file_must_pair_with_the_kept_one(fake, capsys):
    dest = write(fake / "dest", train=TRAIN)
    src = write(fake / "src", test=OTHER_TEST)
    code, _, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 1
    assert "does not pair with the train_signs.h5 in place (SIGNS fake train)" in err
    assert sorted(p.name for p in dest.iterdir()) == ["train_signs.h5"]


# --- the pair is placed as a whole -----------------------------------------------------------


def test_force_with_a_bad_test_file_changes_nothing(fake, capsys):
    dest = write(fake / "dest", train=TRAIN, test=TEST)
    src = write(fake / "src", train=DIGITS_TRAIN, test=DIGITS_TEST[:-10])  # test truncated
    before = snapshot(dest)
    code, _, err = run(capsys, "--force", "--dataset", "digits", "--from", src, "--dest", dest)
    assert code == 1
    assert "not a known test_signs.h5" in err
    assert snapshot(dest) == before  # the SIGNS pair, untouched
    code, out, err = run(capsys, "--dest", dest)
    assert code == 0, err
    assert f"nothing to do: the SIGNS fake files are in {dest}" in out


def test_a_bad_test_file_leaves_no_train_file(fake, capsys):
    src = write(fake / "src", train=TRAIN, test=TEST[:-10])
    dest = fake / "dest"
    code, _, err = run(capsys, "--from", src, "--dest", dest)
    assert code == 1
    assert not dest.exists()  # the folder the command created is removed again
    existing = write(fake / "existing")
    code, _, err = run(capsys, "--from", src, "--dest", existing)
    assert code == 1
    assert list(existing.iterdir()) == []


def test_a_failed_test_download_leaves_no_train_file(fake, server, capsys, monkeypatch):
    server.routes["/m/train_signs.h5"] = ("ok", TRAIN)
    server.routes["/m/test_signs.h5"] = ("truncated", TEST)
    pair = {split: f"{server.url}/m/{name}" for split, name in data.FILE_NAMES.items()}
    monkeypatch.setattr(data, "MIRRORS", {"signs": [pair], "digits": []})
    dest = write(fake / "dest", train=b"my own notes")
    code, out, err = run(capsys, "--force", "--dest", dest)
    assert code == 1
    assert "transfer interrupted" in err
    assert f"verified: SIGNS fake train, sha256 {sha(TRAIN)[:8]}…" in out
    assert snapshot(dest)["train_signs.h5"][0] == b"my own notes"
    assert sorted(p.name for p in dest.iterdir()) == ["train_signs.h5"]


# --- downloads ---------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        kind, content = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if kind == "truncated":
            self.wfile.write(content[: len(content) // 2])
        else:
            self.wfile.write(content)
        self.wfile.flush()

    def log_message(self, format, *args):
        pass  # keep the test output quiet


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1; set ``server.routes[path] = (kind, bytes)``."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_download_uses_the_first_good_mirror(fake, server, capsys, monkeypatch):
    server.routes.update(
        {
            "/wrong/train_signs.h5": ("ok", CORRUPT_TRAIN),
            "/wrong/test_signs.h5": ("ok", TEST_VARIANT[:100]),
            "/good/train_signs.h5": ("ok", TRAIN),
            "/good/test_signs.h5": ("ok", TEST),
            "/later/train_signs.h5": ("ok", TRAIN),
        }
    )
    mirrors = [
        {split: f"{server.url}/{where}/{name}" for split, name in data.FILE_NAMES.items()}
        for where in ("missing", "wrong", "good", "later")
    ]
    monkeypatch.setattr(data, "MIRRORS", {"signs": mirrors, "digits": []})
    dest = fake / "dest"
    code, out, err = run(capsys, "--dest", dest)
    assert code == 0, err
    assert (dest / "train_signs.h5").read_bytes() == TRAIN
    assert (dest / "test_signs.h5").read_bytes() == TEST
    assert "HTTP 404" in out and sha(CORRUPT_TRAIN) in out
    assert "/later/" not in out  # mirrors after the good one are not tried
    assert f"verified: SIGNS fake train, sha256 {sha(TRAIN)[:8]}…" in out
    assert leftovers(dest) == []


def test_download_failure_leaves_nothing(fake, server, capsys, monkeypatch):
    server.routes["/wrong/train_signs.h5"] = ("ok", CORRUPT_TRAIN)
    server.routes["/cut/train_signs.h5"] = ("truncated", TRAIN)
    urls = [
        f"{server.url}/missing/train_signs.h5",
        f"{server.url}/wrong/train_signs.h5",
        f"{server.url}/cut/train_signs.h5",
    ]
    monkeypatch.setattr(data, "MIRRORS", {"signs": [{"train": u, "test": u} for u in urls]})
    dest = fake / "dest"
    code, _, err = run(capsys, "--dest", dest)
    assert code == 1
    assert "Traceback" not in err
    for url in urls:
        assert url in err
    assert "HTTP 404" in err
    assert sha(CORRUPT_TRAIN) in err and sha(TRAIN) in err  # got and expected
    assert "transfer interrupted" in err
    assert "--from DIR" in err
    assert not dest.exists()


def test_download_from_file_urls(fake, capsys, monkeypatch):
    src = write(fake / "mirror", train=TRAIN, test=TEST)
    pair = {split: (src / name).as_uri() for split, name in data.FILE_NAMES.items()}
    monkeypatch.setattr(data, "MIRRORS", {"signs": [pair], "digits": []})
    code, _, err = run(capsys, "--dest", fake / "dest")
    assert code == 0, err
    assert (fake / "dest" / "train_signs.h5").read_bytes() == TRAIN


def test_unreachable_server(fake, capsys, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/train_signs.h5"
    monkeypatch.setattr(data, "MIRRORS", {"signs": [{"train": url, "test": url}]})
    code, _, err = run(capsys, "--dest", fake / "dest")
    assert code == 1 and url in err
    assert leftovers(fake / "dest") == []


class _InterruptedResponse:
    """A response that delivers one chunk, then the user presses Ctrl-C."""

    headers = {"Content-Length": str(len(TRAIN))}

    def __init__(self):
        self.calls = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, amt=-1):
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt
        return TRAIN[:1000]


def test_interrupted_download_leaves_nothing(fake, capsys, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _InterruptedResponse())
    url = "http://127.0.0.1:9/train_signs.h5"
    monkeypatch.setattr(data, "MIRRORS", {"signs": [{"train": url, "test": url}]})
    dest = fake / "dest"
    with pytest.raises(KeyboardInterrupt):
        data.fetch_dataset(dest, log=lambda message: None)
    assert not dest.exists()
    dest.mkdir()
    code, _, err = run(capsys, "--dest", dest)
    assert code == 130 and "interrupted" in err
    assert list(dest.iterdir()) == []


# --- the command as a process, and the real data -----------------------------------------


def test_command_exits_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "resnets_kit.data",
            "--from",
            str(tmp_path / "nope"),
            "--dest",
            str(tmp_path / "dest"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


@pytest.mark.skipif(not SHARED_SIGNS.is_dir(), reason=f"{SHARED_SIGNS} is absent")
def test_real_copy_then_load_dataset(tmp_path, capsys, monkeypatch):
    from resnets_utils import load_dataset

    monkeypatch.delenv("SIGNS_DIR", raising=False)
    assert data.find_local_source("signs") == SHARED_SIGNS
    paths = data.fetch_dataset(tmp_path)
    out = capsys.readouterr().out
    assert f"found a local signs folder: {SHARED_SIGNS}" in out
    assert "verified: SIGNS cs230-jpeg64 train, sha256 a268cf29…" in out
    assert "verified: SIGNS cs230-jpeg64 test, sha256 78d925b7…" in out
    assert paths == {"train": tmp_path / "train_signs.h5", "test": tmp_path / "test_signs.h5"}

    x_train, y_train, x_test, y_test, classes = load_dataset(tmp_path)
    assert x_train.shape == (1080, 64, 64, 3) and x_train.dtype == "uint8"
    assert y_train.shape == (1, 1080) and y_train.dtype == "int64"
    assert x_test.shape == (120, 64, 64, 3) and x_test.dtype == "uint8"
    assert y_test.shape == (1, 120)
    assert classes.shape == (6,) and classes.tolist() == [0, 1, 2, 3, 4, 5]
    assert sorted(set(y_train.ravel().tolist())) == [0, 1, 2, 3, 4, 5]


# --- the digits set beside SIGNS; --optional -------------------------------------------------


def test_digits_go_to_their_own_folder_beside_signs_by_default(fake, capsys, monkeypatch):
    signs = write(fake / "repo" / "datasets", train=TRAIN, test=TEST)
    monkeypatch.setattr(data, "DEFAULT_DESTS", {"signs": signs, "digits": signs / "digits"})
    monkeypatch.setattr(data, "LOCAL_FOLDERS", {"signs": [], "digits": [fake / "none", fake / "shared"]})
    write(fake / "shared", train=DIGITS_TRAIN, test=DIGITS_TEST)
    code, out, err = run(capsys, "--dataset", "digits")
    assert code == 0, err
    assert f"found a local digits folder: {fake / 'shared'}" in out
    assert (signs / "digits" / "train_signs.h5").read_bytes() == DIGITS_TRAIN
    assert (signs / "digits" / "test_signs.h5").read_bytes() == DIGITS_TEST
    assert (signs / "train_signs.h5").read_bytes() == TRAIN  # SIGNS left in place
    code, out, err = run(capsys, "--dataset", "digits")  # again: the pair in place is kept
    assert code == 0 and "nothing to do" in out


def test_optional_without_a_source_is_a_note(fake, capsys):
    code, out, err = run(capsys, "--dataset", "digits", "--dest", fake / "dest", "--optional")
    assert code == 0
    assert err == ""
    assert out.startswith("note: skipped the Sign Language Digits files (optional): no local copy")
    assert not (fake / "dest").exists()


def test_optional_still_fails_on_a_bad_source(fake, capsys):
    src = write(fake / "src", train=TRAIN, test=DIGITS_TEST)
    code, _, err = run(capsys, "--dataset", "digits", "--from", src, "--dest", fake / "dest", "--optional")
    assert code == 1
    assert "--dataset signs" in err
