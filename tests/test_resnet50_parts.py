"""ResNet50's layers are graded part by part: a wrong layer costs the point of the part it is in
(stages 1 and 2, stage 3, stage 4, stage 5, the top), not every layer point.

Each mistake of the catalogue in ResNet50 is graded through the autograder's path (the sandbox's
records made in this process, the checks on rebuilt models) and only the layer cell of its own
part may fail.
"""

from __future__ import annotations

import pytest

import public_tests
from qa import mistakes
from resnets_kit.grader.checks import check_records
from resnets_kit.grader.orchestrate import grade_cells
from resnets_kit.grader.plan import grading_plan
from resnets_kit.grader.sandbox import check_function
from resnets_kit.solution import load_solution, solution_sources
from test_utils import RESNET50_PARTS, reference_part, split_parts

PART_CELLS = {
    "stages 1 and 2": "ResNet50_layers_stages_1_2",
    "stage 3": "ResNet50_layers_stage_3",
    "stage 4": "ResNet50_layers_stage_4",
    "stage 5": "ResNet50_layers_stage_5",
    "top": "ResNet50_layers_top",
}


def test_the_source_notebook_grades_each_part_in_its_own_cell():
    plan = grading_plan()
    parts = {c.part: g for g, c in plan.items() if c.function == "ResNet50" and c.part}
    assert parts == PART_CELLS
    assert set(PART_CELLS) == set(RESNET50_PARTS)
    assert "ResNet50_layers" not in plan


def test_the_reference_is_cut_into_its_own_parts():
    rows = public_tests.load_references()["ResNet50"]["summary"]
    split = split_parts(rows, rows)
    assert split == {
        part: [i for i, r in enumerate(rows) if reference_part(r) == part] for part in RESNET50_PARTS
    }


def _failing_layer_cells(mistake_name: str) -> set[str]:
    mistake = mistakes.get(mistake_name)
    plan = {g: c for g, c in grading_plan().items() if c.function == "ResNet50"}
    record = check_function("ResNet50", mistakes.namespace(mistake), load_solution(), None)
    try:
        outcomes = check_records({"ResNet50": record}, plan)
    finally:
        mistakes._release_models()
    return {g for g, o in outcomes.items() if not o.passed and g.startswith("ResNet50_layers")}


@pytest.mark.parametrize(
    "name,part",
    [
        ("ZeroPadding of 2", "stages 1 and 2"),
        ("blocks called with training=False in ResNet50", "stage 3"),
        ("an identity block too many in stage 3", "stage 3"),
        ("identity blocks missing in stage 4", "stage 4"),
        ("stage 5 with stride 1", "stage 5"),
        ("softmax missing on the top layer", "top"),
        ("Flatten missing", "top"),
    ],
)
def test_a_wrong_layer_costs_the_point_of_its_own_part(name, part):
    assert _failing_layer_cells(name) == {PART_CELLS[part]}


def test_an_unknown_part_is_refused():
    with pytest.raises(ValueError, match="unknown part"):
        public_tests.ResNet50_test(lambda **kwargs: None, checks="layers", part="stage 6")


def test_the_grader_grades_the_parts_in_its_own_processes():
    # The whole path of autograde: the sandbox process, then the check process, which reads the
    # grading plan (with each cell's part) from a file.
    cells = {name: code for name, code in solution_sources().items() if name != "setup"}
    cells["ResNet50"] = cells["ResNet50"].replace(
        "X = convolutional_block(X, f=3, filters=[256, 256, 1024], s=2)",
        "X = convolutional_block(X, f=3, filters=[256, 256, 1024], s=1)",
    )
    grade = grade_cells(cells)
    failed = {g for g, o in grade.outcomes.items() if not o.passed}
    assert failed == {"ResNet50_model", PART_CELLS["stage 4"], "ResNet50_hidden"}, failed
