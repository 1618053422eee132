"""The generated mutants (qa/generated_mutants.py): every layer and setting of the
reference blocks is mutated, the oracle tells a changed function from an equivalent one by running
both models, and the grading of a sample of mutants is as it deserves.

Every generated mutant must be graded as it deserves (``python -m qa.generated_mutants``
prints the same table); a sample of each kind also checks what "as it deserves" means.
"""

from __future__ import annotations

import pytest

from qa import generated_mutants as G


def _find(function, role, change):
    return next(m for m in G.generate(function) if m.role == role and m.change.startswith(change))


def test_every_layer_and_setting_is_mutated():
    for function in G.FUNCTIONS:
        mutants = G.generate(function)
        rows = G.reference_rows(function)
        layers = {
            i
            for i, row in enumerate(rows)
            if row["layer"] != "InputLayer"
            and (function != "ResNet50" or row.get("role") in G.RESNET50_ROLES)
        }
        assert {m.index for m in mutants if m.setting == "deleted"} == layers
        for i in layers:
            settings = {m.setting for m in mutants if m.index == i}
            if rows[i]["layer"] == "Conv2D":
                assert {"filters", "kernel_size", "strides", "padding", "use_bias", "initializer"} <= settings
            if rows[i]["layer"] == "BatchNormalization":
                assert {"axis", "momentum", "epsilon", "training"} <= settings
        assert len({m.name for m in mutants}) == len(mutants)
    assert {r.get("role") for r in G.reference_rows("ResNet50")} >= set(G.RESNET50_ROLES)


@pytest.mark.parametrize(
    "function,role,change",
    [
        ("identity_block", "conv2", "filters"),
        ("identity_block", "bn2", "momentum"),
        ("identity_block", "out_relu", "deleted"),
        ("convolutional_block", "shortcut_conv", "use_bias"),
        ("convolutional_block", "bn3", "training argument flipped"),
    ],
)
def test_a_mutant_that_changes_the_function_is_caught_and_named(function, role, change):
    mutant = _find(function, role, change)
    changed, cells, problem = G.grade(mutant)
    assert changed
    assert not all(passed for passed, _ in cells.values())
    assert problem == ""


@pytest.mark.parametrize(
    "function,role", [("identity_block", "conv1"), ("convolutional_block", "shortcut_conv")]
)
def test_a_mutant_that_changes_nothing_gets_full_marks(function, role):
    mutant = _find(function, role, "padding 'valid' -> 'same'")
    changed, cells, problem = G.grade(mutant)
    assert not changed
    assert all(passed for passed, _ in cells.values())
    assert problem == ""


def test_the_oracle_sees_a_changed_seed():
    assert G.changes_function(_find("identity_block", "conv3", "initializer seed"))


@pytest.mark.parametrize(
    "mutant", [m for f in G.FUNCTIONS for m in G.generate(f)], ids=lambda m: m.name.replace(" ", "_")
)
def test_every_generated_mutant_is_graded_as_it_deserves(mutant):
    _, _, problem = G.grade(mutant)
    assert problem == "", problem
