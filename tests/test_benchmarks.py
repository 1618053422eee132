"""Tests of the benchmark scripts in ``benchmarks/`` that read the notebook: they must find the
cells they run, and their summaries must compute what they print. (They print measurements; no
test here asserts a speed.)"""

from __future__ import annotations

import pytest

from resnets_kit.solution import SOURCE_NOTEBOOK, _cells_by_id


@pytest.fixture(scope="module")
def apm(load_benchmark):
    return load_benchmark("accuracy_per_minute")


def test_accuracy_per_minute_finds_the_recipe(apm):
    cells = _cells_by_id(SOURCE_NOTEBOOK)
    assert all(name in cells for name in apm.RECIPE_CELLS)
    recipe = cells["recipe"]
    assert len(apm.EPOCHS_LINE.findall(recipe)) == 1
    assert "seed=0" in recipe  # what --vary-seed replaces
    assert "recalibrate" in cells["fit"] and "callbacks=[recalibrate]" in cells["fit"]


def test_accuracy_per_minute_summary(apm):
    def run(accuracies, step=30.0):
        rows = [
            {"epoch": i + 1, "elapsed_s": 40.0 + step * i, "test_accuracy": acc}
            for i, acc in enumerate(accuracies)
        ]
        return {"epochs": rows, "setup_s": 5.0}

    runs = [run([0.5, 0.96, 0.97]), run([0.5, 0.9, 0.949999988], step=35.0), run([0.4, 0.6, 0.9])]
    text = apm.summarize(runs, 0.95)
    assert "| 2 | 70 | 0.960, 0.900, 0.600 |" in text
    assert "| 3 | 100 | 0.970, 0.950, 0.900 |" in text  # 114/120 in float32 counts as 0.95
    assert "run 1: test accuracy >= 0.95 reached at epoch 2, 70 s; final 0.970 after 100 s" in text
    assert "run 2: test accuracy >= 0.95 reached at epoch 3, 110 s" in text
    assert "run 3: test accuracy >= 0.95 never reached; final 0.900 after 100 s" in text
    assert "time to test accuracy >= 0.95: median 90 s (2 of 3 runs reached it)" in text
    assert "whole recipe: median 100 s over 3 runs" in text


@pytest.mark.slow
def test_first_test_latency_runs_the_first_public_test(load_benchmark):
    latency = load_benchmark("first_test_latency")
    times = latency.run_once(latency.NOTEBOOKS / "Residual_Networks_solution.ipynb")
    assert 0 < times["kernel_s"] < times["setup_s"] < times["first_test_s"]
    assert "identity_block" in times["result"] and "passed" in times["result"]


def test_export_footprint_grades_the_reference_and_a_notebook_with_a_mistake_per_function(
    tmp_path, load_benchmark
):
    import nbformat

    from qa import mistakes
    from resnets_kit.solution import solution_sources

    footprint = load_benchmark("export_footprint")
    books = footprint.notebooks(tmp_path)
    assert set(books) == {"reference", "one mistake per function"}
    reference = solution_sources()

    def answers(path):
        cells = nbformat.read(path, as_version=4).cells
        return {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in cells
            if c.metadata.get("nbgrader", {}).get("solution")
            and c.metadata["nbgrader"]["grade_id"] in reference
        }

    assert answers(books["reference"]) == {name: reference[name] for name in answers(books["reference"])}
    functions = {"identity_block", "convolutional_block", "ResNet50"}
    changed = answers(books["one mistake per function"])
    assert all(changed[name] != reference[name] for name in functions)
    assert {mistakes.get(n).function for n in footprint.MISTAKES} == functions


def test_the_varied_class_of_the_class_grading_benchmark(tmp_path, load_benchmark):
    """20 submissions: references, catalogue mistakes that each change their function's cell, and
    hostile ones; every file a notebook nbformat validates."""
    import nbformat

    from resnets_kit import course
    from resnets_kit.grader.isolation import isolation_available

    bench = load_benchmark("class_grading")
    pristine = course.fresh_course(tmp_path / "pristine")
    (pristine / "source" / course.ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    source = pristine / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    source.write_bytes(SOURCE_NOTEBOOK.read_bytes())
    bench.write_class("varied", 0, pristine, tmp_path / "submitted")
    students = sorted(p.name for p in (tmp_path / "submitted").iterdir())
    assert len(students) == (20 if isolation_available() else 18)
    assert sum(s.startswith("reference-") for s in students) == 6
    assert sum(s.startswith("hostile-") for s in students) >= 3
    original = {
        c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
    }
    mistakes = [s for s in students if s.startswith("mistake-")]
    assert len(mistakes) == 9
    functions = set()
    for student_id in students:
        nb = nbformat.read(tmp_path / "submitted" / student_id / course.ASSIGNMENT / course.NOTEBOOK_NAME, 4)
        nbformat.validate(nb)
        changed = [
            c.metadata["nbgrader"]["grade_id"]
            for c in nb.cells
            if original.get(c.metadata["nbgrader"]["grade_id"]) != c.source
        ]
        if student_id.startswith("reference-"):
            assert changed == []
        elif student_id.startswith("mistake-"):
            assert len(changed) == 1, (student_id, changed)
            functions.update(changed)
    assert functions == {"identity_block", "convolutional_block", "ResNet50"}


def test_numeric_drift_measures_how_far_predict_and_a_call_are_apart(solution, load_benchmark):
    """The drift of the reference ResNet50 is below the value checks' tolerance; a model whose
    ``predict`` differs from its call by 0.01 is measured as 0.01."""
    drift = load_benchmark("numeric_drift").inference_drift
    import keras

    measured = drift(solution["ResNet50"], seeds=1)
    assert measured < 1e-4

    class Shifted(keras.Model):
        def predict(self, x, **kwargs):
            return super().predict(x, **kwargs) + 0.01

    def shifted(input_shape, classes):
        inputs = keras.Input(input_shape)
        x = keras.layers.BatchNormalization()(keras.layers.Conv2D(2, 3)(inputs))
        outputs = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(x))
        return Shifted(inputs, outputs)

    assert drift(shifted, seeds=1) == pytest.approx(0.01, abs=1e-6)
