"""Every equivalent answer of the catalogue (qa/equivalences.py) gets full marks, in the
notebook's tests and through the autograder's path; the canonical form behind it is right.

The results of :func:`qa.equivalences.test_messages` and ``graded_cells`` are cached per
process, so each entry's models are built once in a test session.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa import equivalences, mutation_score
from resnets_kit.solution import GRADED_FUNCTIONS, solution_sources
from test_utils import (
    align_to_reference,
    canonical_settings,
    collapse_repeated_relus,
    compare_summaries,
    layer_summary,
    same_padding_adds_nothing,
)


@pytest.mark.parametrize("entry", equivalences.CATALOGUE, ids=lambda e: e.name)
def test_equivalent_answer_is_graded_as_it_deserves(entry):
    assert equivalences.verdict(entry) == ""
    points, full = equivalences.graded_points(entry)
    if not entry.differs_in:
        assert points == full


def test_the_reference_solution_passes_without_notes():
    for entry in equivalences.CATALOGUE[:1]:
        reference = equivalences.Equivalent("reference", entry.function, (), "the reference")
        messages = equivalences.test_messages(reference)
        assert "note:" not in messages["public"] + messages["hidden"], messages
    for function in ("convolutional_block", "ResNet50"):
        reference = equivalences.Equivalent("reference", function, (), "the reference")
        assert all("note:" not in text for _, text in equivalences.graded_cells(reference).values())


def test_catalogue_is_well_formed():
    catalogue = equivalences.CATALOGUE
    assert len(catalogue) >= 20
    names = [e.name for e in catalogue]
    assert len(set(names)) == len(names), "names must be unique"
    sources = solution_sources()
    for entry in catalogue:
        assert entry.function in GRADED_FUNCTIONS and entry.origin and entry.edits, entry.name
        assert bool(entry.differs_in) == bool(entry.expect), entry.name
        code = sources[entry.function]
        for old, new in entry.edits:
            assert old in code, f"{entry.name!r}: {old!r} is not in the cell {entry.function!r}"
            assert old != new, entry.name
            code = code.replace(old, new)
        assert equivalences.get(entry.name) is entry
    assert {e.function for e in catalogue} == set(GRADED_FUNCTIONS)


def test_an_answer_graded_wrongly_is_reported(capsys):
    # Declared equivalent, but the stride of the shortcut changes the function: WRONG.
    wrong = equivalences.Equivalent(
        "shortcut stride 1",
        "convolutional_block",
        (
            (
                "strides=(s, s), padding='valid', kernel_initializer=initializer(seed=0))(X_shortcut)",
                "strides=(1, 1), padding='valid', kernel_initializer=initializer(seed=0))(X_shortcut)",
            ),
        ),
        "a test of the equivalence table",
    )
    assert "takes" in equivalences.verdict(wrong)
    assert mutation_score.main(["--table", "equivalences"], equivalents=(wrong,)) == 1
    out = capsys.readouterr().out
    assert "WRONG 'shortcut stride 1'" in out and "equivalence score: 0/1" in out


def test_mutation_score_prints_both_tables(capsys):
    entries = (equivalences.get("Add with the shortcut first"),)
    assert (
        mutation_score.main(["--only", "final ReLU missing", "--only", entries[0].name], equivalents=entries)
        == 0
    )
    out = capsys.readouterr().out
    assert "mutation score: 1/1 caught" in out
    assert "equivalence score: 1/1 graded as they deserve" in out
    assert "other order" in out  # the note the student reads


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9])
@pytest.mark.parametrize("window,stride", [(1, 1), (1, 2), (1, 3), (2, 2), (3, 2), (3, 1), (2, 1), (7, 2)])
def test_same_padding_adds_nothing_exactly_when_keras_agrees(size, window, stride):
    import keras

    if window > size:
        return
    x = np.random.default_rng(0).normal(size=(1, size, size, 1)).astype("float32")
    outputs = [
        np.asarray(keras.layers.AveragePooling2D(window, strides=stride, padding=padding)(x))
        for padding in ("same", "valid")
    ]
    same = outputs[0].shape == outputs[1].shape and np.allclose(outputs[0], outputs[1])
    assert same_padding_adds_nothing((size, size), (window, window), (stride, stride)) == same


def _block(solution, order="main first", add="main first"):
    """The reference identity block's rows, or a variant whose Add takes the shortcut first."""
    import keras

    X = keras.Input((4, 4, 3))
    shortcut = X
    Y = keras.layers.Conv2D(3, 1)(X)
    Y = keras.layers.BatchNormalization(axis=3)(Y)
    operands = [Y, shortcut] if add == "main first" else [shortcut, Y]
    Y = keras.layers.Activation("relu")(keras.layers.Add()(operands))
    return layer_summary(keras.Model(X, Y))


def test_alignment_pairs_add_operands_by_what_feeds_them(solution):
    expected = _block(solution)
    received = _block(solution, add="shortcut first")
    assert expected != received
    aligned, notes = align_to_reference(expected, received)
    assert [r["inputs"] for r in aligned] == [r["inputs"] for r in expected]
    assert notes and "other order" in notes[0]
    assert compare_summaries("identity_block", expected, received)


def test_alignment_refuses_graphs_of_another_shape(solution):
    expected = _block(solution)
    received = [dict(r) for r in expected]
    received[4]["inputs"] = [received[4]["inputs"][0], received[4]["inputs"][0]]  # Add(X, X)
    assert align_to_reference(expected, received) is None
    assert align_to_reference(expected, received[:-1]) is None


def test_canonical_settings_keep_padding_that_adds_pixels():
    rows = [
        {"layer": "InputLayer", "output_shape": [None, 3, 3, 8], "inputs": []},
        {
            "layer": "AveragePooling2D",
            "pool_size": [2, 2],
            "strides": [2, 2],
            "padding": "same",
            "inputs": [0],
        },
        {"layer": "InputLayer", "output_shape": [None, 2, 2, 8], "inputs": []},
        {
            "layer": "AveragePooling2D",
            "pool_size": [2, 2],
            "strides": [2, 2],
            "padding": "same",
            "inputs": [2],
        },
    ]
    canonical, notes = canonical_settings(rows)
    assert [r.get("padding") for r in canonical] == [None, "same", None, "valid"]
    assert [note[0] for note in notes] == [3]
    assert rows[3]["padding"] == "same"  # the given rows are unchanged


def test_a_relu_of_a_relu_is_dropped_and_what_it_fed_is_renumbered():
    relu = {"layer": "Activation", "activation": "relu"}
    rows = [
        {"layer": "InputLayer", "inputs": []},
        dict(relu, inputs=[0]),
        dict(relu, inputs=[1]),
        dict(relu, inputs=[2]),
        {"layer": "Add", "inputs": [3, 0]},
    ]
    collapsed, notes = collapse_repeated_relus(rows)
    assert [r["layer"] for r in collapsed] == ["InputLayer", "Activation", "Add"]
    assert collapsed[2]["inputs"] == [1, 0]
    assert len(notes) == 2
    tanh = [rows[0], {"layer": "Activation", "activation": "tanh", "inputs": [0]}, dict(relu, inputs=[1])]
    assert collapse_repeated_relus(tanh) == (tanh, [])


def test_a_batchnorm_without_training_takes_the_mode_of_the_one_before():
    bn = {"layer": "BatchNormalization", "inputs": [0]}
    rows = [
        dict(bn, training="not passed"),
        dict(bn, training=True),
        dict(bn, training="not passed"),
        dict(bn, training=False),
        dict(bn, training="not passed"),
    ]
    canonical, notes = canonical_settings(rows)
    assert [r["training"] for r in canonical] == ["not passed", True, True, False, False]
    assert [note[:3] for note in notes] == [(2, "training", "not passed"), (4, "training", "not passed")]


def test_the_call_context_rule_is_what_keras_does():
    # A block whose second BatchNorm is called without training: in Keras 3 it runs in the mode of
    # the first, so its outputs equal those of the block that passes training to both.
    import keras

    def block(second):
        X = keras.Input((4, 4, 3))
        Y = keras.layers.BatchNormalization(axis=3)(keras.layers.Conv2D(3, 1)(X), training=True)
        Y = keras.layers.Conv2D(3, 1)(Y)
        Y = keras.layers.BatchNormalization(axis=3)(Y, **second)
        return keras.Model(X, Y)

    x = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    passed = np.asarray(block({"training": True})(x))
    keras.utils.set_random_seed(0)
    inherited = np.asarray(block({})(x))
    keras.utils.set_random_seed(0)
    inference = np.asarray(block({"training": False})(x))
    assert np.allclose(passed, inherited)
    assert not np.allclose(passed, inference)
