"""The exercise registry (resnets_kit.assignment): every graded function declared once, and every
part of the grading reads it from there."""

from __future__ import annotations

import inspect

import nbformat
import pytest

import public_tests
from resnets_kit import assignment
from resnets_kit.assignment import EXERCISES, GRADED_FUNCTIONS, SOURCE_NOTEBOOK
from resnets_kit.grader.checks import Rebuilt
from resnets_kit.grader.plan import grading_plan
from resnets_kit.solution import def_line, load_solution
from test_utils import Provider


def test_the_registry_lists_the_graded_functions_in_notebook_order():
    nb = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    answers = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert [a for a in answers if a in GRADED_FUNCTIONS] == list(GRADED_FUNCTIONS)
    assert GRADED_FUNCTIONS == ("identity_block", "convolutional_block", "ResNet50")


def test_every_grade_cell_belongs_to_an_exercise_and_points_add_up():
    plan = grading_plan()
    assert {assignment.exercise_of(g) for g in plan} == set(GRADED_FUNCTIONS)
    nb = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    total = sum(
        float(c.metadata["nbgrader"].get("points", 0))
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    points = assignment.points()
    assert sum(points.values()) == total > 0
    assert all(p > 0 for p in points.values())


def test_exercise_of_takes_the_longest_name_and_unknown_names_are_refused():
    assert assignment.exercise_of("ResNet50_layers_stage_3") == "ResNet50"
    assert assignment.exercise_of("identity_block_hidden") == "identity_block"
    assert assignment.exercise_of("setup") is None
    with pytest.raises(KeyError, match="not a graded function.*identity_block"):
        assignment.exercise("ResNet18")


def test_hidden_cases_differ_from_the_public_ones():
    for graded in EXERCISES.values():
        public = {public_tests.case_key(c) for c in graded.public_cases()}
        hidden = {public_tests.case_key(c) for c in graded.hidden_cases()}
        assert public and hidden and not public & hidden, graded.name
        assert graded.cases() == graded.public_cases() + graded.hidden_cases()
    shapes = {tuple(c["shape"][1:3]) for c in EXERCISES["identity_block"].hidden_cases()}
    assert any(h != w for h, w in shapes)  # a non-square input


def test_the_declared_signatures_are_the_notebooks():
    solution = load_solution()
    for graded in EXERCISES.values():
        parameters = inspect.signature(solution[graded.name]).parameters
        assert list(parameters) == list(graded.parameters()), graded.name
        assert def_line(graded.name).startswith(f"def {graded.name}(") and def_line(graded.name).endswith(":")


def test_build_gives_a_block_model_or_a_network():
    solution = load_solution()
    block = EXERCISES["identity_block"]
    case = block.public_cases()[0]
    model = block.build(solution["identity_block"], case)
    assert tuple(model.output.shape[1:]) == tuple(case["shape"][1:3]) + (case["filters"][2],)
    network = EXERCISES["ResNet50"]
    assert network.network and network.uses == ("identity_block", "convolutional_block")


def test_both_providers_are_providers_and_a_function_is_not():
    def function(X):
        return X

    assert isinstance(public_tests.FunctionCalls(function), Provider)
    assert isinstance(Rebuilt("identity_block", {}), Provider)
    assert not isinstance(function, Provider)
