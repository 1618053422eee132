"""The grader that does not trust the submission (resnets_kit.trusted and resnets_kit.grader.sandbox):
its plan, its sandbox's isolation and limits, and checks that run on rebuilt models only."""

from __future__ import annotations

import json

import pytest

import public_tests
from resnets_kit import REPO_ROOT
from resnets_kit.grader import check_server, checks, events, guard, orchestrate, plan, sandbox
from resnets_kit.grader import cli as grader_cli
from resnets_kit.solution import GRADED_FUNCTIONS, load_solution, solution_sources


def records_of(namespace: dict) -> dict:
    """Sandbox records of a namespace's functions, made in this process (for tests only)."""
    reference = load_solution()
    return {name: sandbox.check_function(name, namespace, reference, None) for name in GRADED_FUNCTIONS}


@pytest.fixture(scope="module")
def solution_records():
    return records_of(load_solution())


def test_plan_reads_the_17_test_cells_from_the_source_notebook():
    cells = plan.grading_plan()
    assert len(cells) == 17
    assert cells["identity_block_shape"] == plan.CellCheck("identity_block", ("shape",), False)
    assert cells["ResNet50_hidden"] == plan.CellCheck("ResNet50", None, True)
    assert cells["ResNet50_layers_stage_4"] == plan.CellCheck("ResNet50", ("layers",), False, "stage 4")
    assert {c.function for c in cells.values()} == set(GRADED_FUNCTIONS)


def test_parse_test_cell_forms():
    parse = plan.parse_test_cell
    assert parse("identity_block_test(identity_block)") == plan.CellCheck("identity_block", None, False)
    assert parse('ResNet50_test(ResNet50, checks=["model", "layers"])').checks == ("model", "layers")
    assert parse('ResNet50_test(ResNet50, checks="layers", part="top")').part == "top"
    assert parse("x = 1") is None
    with pytest.raises(ValueError, match="literal"):
        parse("hidden_test(name, f)")


def test_checks_on_rebuilt_models_pass_for_the_solution(solution_records):
    json.dumps(solution_records)  # plain data only
    outcomes = checks.check_records(json.loads(json.dumps(solution_records)))
    failed = {g: o.text for g, o in outcomes.items() if not o.passed}
    assert not failed


def test_rebuilt_models_compute_what_the_function_computes(solution_records):
    namespace = load_solution()
    rebuilt = checks.Rebuilt("convolutional_block", solution_records["convolutional_block"])
    for case in public_tests.CONVOLUTIONAL_CASES:
        direct = public_tests.run_block(namespace["convolutional_block"], case)
        again = public_tests.block_output(rebuilt.block_model(case), case)
        assert abs(direct - again).max() == 0.0


def test_a_block_mistake_costs_only_that_block():
    edit = [("Add()([X, X_shortcut])", "Add()([X, X])")]
    records = records_of(load_solution(replace={"identity_block": edit}))
    outcomes = checks.check_records(records)
    for grade_id, outcome in outcomes.items():
        if grade_id.startswith("identity_block") and not grade_id.endswith("_shape"):
            assert not outcome.passed, grade_id
        else:
            assert outcome.passed, (grade_id, outcome.text)  # ResNet50 is graded with the reference blocks


def test_the_signature_is_checked_from_the_record():
    namespace = load_solution(
        replace={"identity_block": [("initializer=random_uniform):", "initializer=glorot_uniform):")]}
    )
    record = sandbox.check_function("identity_block", namespace, namespace, None)
    outcome = checks.check_records({"identity_block": record})["identity_block_shape"]
    assert not outcome.passed
    assert "the default of `initializer`" in outcome.text and "received: GlorotUniform" in outcome.text


def test_recorded_errors_get_the_same_message_as_in_the_notebook():
    record = {"error": None, "signature": None, "cases": {}}
    for case in public_tests.IDENTITY_CASES:
        record["cases"][public_tests.case_key(case)] = {"error": "NotImplementedError: "}
    outcome = checks.check_records({"identity_block": record})["identity_block_shape"]
    assert "replace `raise NotImplementedError()` with your code" in outcome.text


@pytest.mark.parametrize(
    "layer",
    [
        {"module": "keras.layers", "class_name": "Lambda", "config": {}},
        {"module": "__main__", "class_name": "MyBlock", "config": {}},
        {"module": "os", "class_name": "system", "config": {}},
    ],
)
def test_configs_outside_the_allow_list_are_refused(solution_records, layer):
    config = json.loads(
        json.dumps(next(iter(solution_records["identity_block"]["cases"].values()))["config"])
    )
    config["config"]["layers"].append(dict(layer, name="x", inbound_nodes=[]))
    with pytest.raises(ValueError, match="grading does not accept"):
        checks.validate_config(config)


def test_a_custom_initializer_class_is_refused(solution_records):
    config = json.loads(
        json.dumps(next(iter(solution_records["identity_block"]["cases"].values()))["config"])
    )
    conv = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")
    conv["config"]["kernel_initializer"] = {"module": "builtins", "class_name": "eval", "config": {}}
    with pytest.raises(ValueError, match="builtins.eval"):
        checks.validate_config(config)


def test_python_source_turns_magics_into_calls():
    assert "get_ipython()" in plan.python_source("%time x = 1")
    assert plan.python_source("x = 1\n") == "x = 1\n"


def test_sandbox_limits_name_the_function_and_keep_the_others():
    sources = solution_sources()
    cells = {name: sources[name] for name in GRADED_FUNCTIONS}
    cells["identity_block"] = cells["identity_block"].replace(
        '    """\n', '    """\n    while True:\n        pass\n', 1
    )
    result = orchestrate.run_sandbox(cells, step_timeout=8)
    assert result.verdicts == {"identity_block": "timeout"}
    assert set(result.records) == {"convolutional_block", "ResNet50"}
    assert "8 s" in result.details["identity_block"]


def test_guard_restores_changed_files_and_removes_new_ones(tmp_path):
    kept = tmp_path / "kept.py"
    kept.write_text("original")
    snapshot = guard.FileGuard([kept], [(tmp_path, ("*.pth",))])
    kept.write_text("changed")
    (tmp_path / "evil.pth").write_text("import os")
    (tmp_path / "data.txt").write_text("not watched")
    undone = snapshot.restore()
    assert kept.read_text() == "original"
    assert not (tmp_path / "evil.pth").exists() and (tmp_path / "data.txt").exists()
    assert len(undone) == 2


def test_command_line_grades_the_solution(capsys):
    assert grader_cli.main(["grade", str(REPO_ROOT / "notebooks" / "Residual_Networks_solution.ipynb")]) == 0
    out = capsys.readouterr().out
    assert out.count(": pass") == 17 and "verdicts: none" in out


def test_test_files_beside_the_grader_are_never_imported(tmp_path, monkeypatch):
    """A student's edited public_tests.py / test_utils.py in the working folder changes nothing."""
    fake = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"
    for name in ("public_tests.py", "test_utils.py"):
        (tmp_path / name).write_text(fake)
    monkeypatch.chdir(tmp_path)
    grade = orchestrate.grade_notebook(
        REPO_ROOT / "notebooks" / "Residual_Networks.ipynb"
    )  # the blank release
    assert grade.outcomes and not any(o.passed for o in grade.outcomes.values())
    assert all("NotImplementedError" in o.text for o in grade.outcomes.values())


def test_the_record_tracker_takes_only_the_first_record_after_the_functions_own_start():
    tracker = events.RecordTracker(["identity_block", "ResNet50"])
    assert tracker.feed({"done": "identity_block", "record": {"error": "no start"}}) is None
    tracker.feed({"start": "identity_block", "step": "define"})
    assert tracker.feed({"done": "identity_block", "record": {"error": "define step"}}) is None
    tracker.feed({"start": "identity_block", "step": "check"})
    entry = {"config": {"a": 1}}
    assert tracker.feed({"case": "identity_block", "key": "k", "entry": entry}) == (
        "case",
        "identity_block",
        "k",
    )
    assert tracker.feed({"case": "identity_block", "key": "k", "entry": {"config": {}}}) is None
    assert tracker.feed({"done": "ResNet50", "record": {"error": "not its turn"}}) is None
    assert tracker.feed({"done": "identity_block", "record": {"error": None}}) == ("record", "identity_block")
    assert tracker.feed({"done": "identity_block", "record": {"error": "second"}}) is None
    assert tracker.records == {"identity_block": {"error": None}}
    assert tracker.cases == {"identity_block": {"k": entry}}
    tracker.feed({"start": "ResNet50", "step": "check"})
    new = [tracker.feed({"case": "ResNet50", "key": str(i), "entry": {}}) for i in range(50)]
    assert sum(n is not None for n in new) == tracker.MAX_CASES  # a flood of forged cases is cut off
    tracker.feed({"start": "convolutional_block", "step": "check"})
    assert tracker.feed({"done": "convolutional_block", "record": {}}) is None  # not checked in this run


def test_structure_model_has_the_structure_of_the_rebuilt_model_without_weights(solution_records):
    from test_utils import layer_summary

    entry = next(iter(solution_records["ResNet50"]["cases"].values()))
    full = checks.Rebuilt("ResNet50", solution_records["ResNet50"])._rebuild("k", entry["config"])
    light = checks.structure_model(json.loads(json.dumps(entry["config"])))
    assert layer_summary(light) == layer_summary(full)
    assert light.count_params() == full.count_params() == 23_600_006
    assert checks.structure_model(json.loads(json.dumps(entry["config"]))) is light  # kept
    bad = json.loads(json.dumps(entry["config"]))
    bad["config"]["layers"][1]["module"] = "os"
    with pytest.raises(ValueError, match="grading does not accept"):
        checks.structure_model(bad)


def test_the_checker_keeps_an_early_outcome_only_for_the_same_final_record(solution_records):
    wrong = records_of(
        load_solution(replace={"identity_block": [("Add()([X, X_shortcut])", "Add()([X, X])")]})
    )
    checker = check_server.Checker(plan.grading_plan())
    checker.submit("identity_block", wrong["identity_block"])  # a run that then did not end normally
    checker.submit("convolutional_block", solution_records["convolutional_block"])
    for entry in solution_records["ResNet50"]["cases"].values():
        checker.prebuild("ResNet50", entry)
    checker.prebuild("identity_block", next(iter(solution_records["identity_block"]["cases"].values())))
    outcomes = checker.finish(json.loads(json.dumps(solution_records)))
    assert all(o.passed for o in outcomes.values()), {g: o.text for g, o in outcomes.items() if not o.passed}
    assert [f for f, _ in checker.jobs if f] == [
        "identity_block", "convolutional_block", "identity_block", "ResNet50"
    ]  # fmt: skip
    assert [t for f, t in checker.jobs if not f] == ["prebuild", "prebuild", "end"]


def test_the_sandbox_hands_records_and_cases_over_as_they_come():
    class Early:
        def __init__(self):
            self.calls = []

        def submit(self, function, record):
            self.calls.append(("record", function, record))

        def prebuild(self, function, entry):
            self.calls.append(("case", function, entry))

    sources = solution_sources()
    early = Early()
    result = orchestrate.run_sandbox({name: sources[name] for name in GRADED_FUNCTIONS}, early=early)
    submitted = {f: r for kind, f, r in early.calls if kind == "record"}
    assert submitted == result.records and list(submitted) == list(GRADED_FUNCTIONS)
    cases = [(f, entry) for kind, f, entry in early.calls if kind == "case"]
    assert [entry for f, entry in cases if f == "ResNet50"] == list(
        result.records["ResNet50"]["cases"].values()
    )
    assert len(cases) == sum(len(r["cases"]) for r in result.records.values())
    # each case comes before its function's record
    order = [(kind, f) for kind, f, _ in early.calls]
    assert order.index(("case", "ResNet50")) < order.index(("record", "ResNet50"))
