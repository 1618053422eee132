"""The figures in images/ match what ``python -m resnets_kit.figures`` draws, byte for byte."""

import shutil

import pytest

from resnets_kit import REPO_ROOT, figures

IMAGES = REPO_ROOT / "images"
REGENERATE = "run `python -m resnets_kit.figures` and commit images/"


def test_diagrams_are_up_to_date():
    stale = figures.stale_figures(IMAGES, figures.DIAGRAMS)
    assert stale == [], f"stale or missing figures: {stale}; {REGENERATE}"


def test_signs_samples_is_up_to_date():
    if figures.find_train_file(required=False) is None:
        pytest.skip(
            "no SIGNS training file (datasets/train_signs.h5); run `python -m resnets_kit.data` first"
        )
    stale = figures.stale_figures(IMAGES, figures.DATA_FIGURES)
    assert stale == [], f"stale or missing figures: {stale}; {REGENERATE}"


def test_check_reports_modified_and_missing_figures(tmp_path, capsys):
    for path in IMAGES.glob("*.png"):
        shutil.copy(path, tmp_path / path.name)
    modified = tmp_path / "identity_block.png"
    data = bytearray(modified.read_bytes())
    data[len(data) // 2] ^= 0xFF
    modified.write_bytes(bytes(data))
    (tmp_path / "resnet50_stages.png").unlink()

    status = figures.main(["--check", "--out", str(tmp_path)])

    err = capsys.readouterr().err
    assert status != 0
    assert "stale:   identity_block.png" in err
    assert "missing: resnet50_stages.png" in err
    assert "skip_connection.png" not in err
    assert "convolutional_block.png" not in err
    assert "python -m resnets_kit.figures" in err
    # --check writes nothing.
    assert not (tmp_path / "resnet50_stages.png").exists()
    assert modified.read_bytes() == bytes(data)
