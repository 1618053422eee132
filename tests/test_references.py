"""reference_outputs.json is up to date with the reference solution, and the reference ResNet50
has the parameter count of keras.applications.ResNet50."""

from __future__ import annotations

import json

import keras

from resnets_kit import references


def test_reference_outputs_are_up_to_date():
    for path, fresh in references.all_references().items():
        problems = references.differences(json.loads(path.read_text()), fresh)
        assert not problems, f"{path}: " + "; ".join(problems) + " -- run `python -m resnets_kit.references`"


def test_staleness_check_sees_a_changed_value():
    committed = json.loads(references.REFERENCE_FILE.read_text())
    fresh = json.loads(references.REFERENCE_FILE.read_text())
    fresh["identity_block"]["cases"][0]["output"][0][0][0][0] += 0.01
    fresh["ResNet50"]["total_params"] += 1
    problems = references.differences(committed, fresh)
    assert len(problems) == 2


def test_parameter_count_equals_keras_applications(solution):
    ours = solution["ResNet50"](input_shape=(64, 64, 3), classes=6)
    theirs = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)
    assert ours.count_params() == theirs.count_params() == 23_600_006
    committed = json.loads(references.REFERENCE_FILE.read_text())
    assert committed["ResNet50"]["total_params"] == theirs.count_params()
    assert len(ours.layers) == 177
