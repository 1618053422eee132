"""A warm grading worker (:mod:`resnets_kit.classgrade.warm`) grades as a fresh command does, and
nothing a submission does reaches the grading of the next one.

One class is graded by one warm worker, one student after another: the reference solution after
each attack on the grader's state (a patched module, Keras's and Python's globals set, a thread
left running, memory filled, files written). Every reference is graded exactly as the reference
graded by a fresh ``nbgrader autograde`` command (the same status and points, cell by cell, and
the same test-cell outputs), and each attack as it is graded cold, or as the hostile catalogue
expects. Also: a fork past its time limit dies with all it started and the worker grades on; the
warm server dies with the process that started it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from qa import hostile
from resnets_kit import REPO_ROOT, course
from resnets_kit.classgrade import cli as classgrade_cli
from resnets_kit.classgrade import warm
from resnets_kit.classgrade.student import autograde_student, nbgrader_env, place_submission
from resnets_kit.grader.isolation import isolation_available

pytestmark = pytest.mark.skipif(not warm.available(), reason="warm workers need fork and /proc (Linux)")

#: Sets what a later grading in the same process could see: Keras's configuration, the random
#: seeds, a builtin, and an attribute of the test module; then leaves identity_block unwritten.
GLOBALS = (
    "import builtins, keras, numpy, public_tests\n"
    "keras.config.set_epsilon(0.5)\n"
    "keras.utils.set_random_seed(1234)\n"
    "numpy.random.seed(99)\n"
    "builtins.FORGED = 'all checks passed'\n"
    "public_tests.identity_block_test = lambda *a, **k: print('all checks passed')\n\n"
    + hostile.blank("identity_block")
)

#: The attacks, in grading order, each followed by a reference solution: (student id, the
#: hostile catalogue's entry or None for ``GLOBALS``).
ATTACKS = [
    ("b-patched-module", "patched-numpy"),
    ("d-globals", None),
    ("f-lingering-thread", "lingering-thread"),
    ("h-memory-bomb", "memory-bomb"),
    ("j-writer", "writer"),
]
REFERENCES = ["a-reference", "c-reference", "e-reference", "g-reference", "i-reference", "k-reference"]
#: Graded by fresh commands too, to compare.
COLD = ["a-reference", "b-patched-module", "d-globals"]


def _entry(name: str | None) -> hostile.Hostile:
    if name is None:
        return hostile.Hostile("globals", "sets globals", "identity_block", GLOBALS)
    return next(h for h in hostile.HOSTILE if h.name == name)


def _outputs(course_root: Path, student_id: str) -> dict[str, list]:
    """The outputs of the autograded notebook's grade cells (``grade_id`` to outputs)."""
    path = course_root / "autograded" / student_id / course.ASSIGNMENT / course.NOTEBOOK_NAME
    nb = nbformat.read(path, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.get("outputs", [])
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("warm")
    pristine = course.fresh_course(work / "pristine")
    course.generate(pristine)
    source = pristine / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    gradebook = pristine / "gradebook.db"
    submissions = work / "submitted"
    for student_id, name in [*ATTACKS, *((r, "reference") for r in REFERENCES)]:
        folder = submissions / student_id / course.ASSIGNMENT
        folder.mkdir(parents=True)
        if name == "reference":
            shutil.copy2(source, folder / course.NOTEBOOK_NAME)
        else:
            nbformat.write(
                hostile.make_notebook(_entry(name), source, gradebook), folder / course.NOTEBOOK_NAME
            )
    cold_submissions = work / "cold-submitted"
    cold_submissions.mkdir()
    for student_id in COLD:
        shutil.copytree(submissions / student_id, cold_submissions / student_id)
    runs = {}
    for mode, folder in (("warm", submissions), ("cold", cold_submissions)):
        root = work / mode
        shutil.copytree(pristine, root)
        out = work / f"out-{mode}" / "grades.csv"
        results = classgrade_cli.grade_class(folder, root, out, out.parent / "feedback", warm=mode == "warm")
        runs[mode] = (root, {r.student_id: r for r in results})
    return runs


def _same(a, b) -> tuple:
    return (a.status, a.scores, a.detail) == (b.status, b.scores, b.detail), (a, b)


@pytest.mark.slow
@pytest.mark.parametrize("student_id", REFERENCES)
def test_a_reference_after_an_attack_is_graded_as_a_cold_reference(graded, student_id):
    (warm_root, warm_results), (cold_root, cold_results) = graded["warm"], graded["cold"]
    same, detail = _same(warm_results[student_id], cold_results["a-reference"])
    assert same, detail
    assert warm_results[student_id].status == "graded"
    assert sum(warm_results[student_id].scores.values()) == 30
    assert _outputs(warm_root, student_id) == _outputs(cold_root, "a-reference")


@pytest.mark.slow
@pytest.mark.parametrize("student_id", [s for s in COLD if s != "a-reference"])
def test_an_attack_is_graded_warm_as_it_is_cold(graded, student_id):
    (warm_root, warm_results), (cold_root, cold_results) = graded["warm"], graded["cold"]
    same, detail = _same(warm_results[student_id], cold_results[student_id])
    assert same, detail
    assert _outputs(warm_root, student_id) == _outputs(cold_root, student_id)


@pytest.mark.slow
@pytest.mark.parametrize("student_id, name", [a for a in ATTACKS if a[1] is not None])
def test_an_attack_gets_its_honest_score_and_status(graded, student_id, name):
    entry = _entry(name)
    if entry.needs_isolation and not isolation_available():
        pytest.skip("needs the sandbox's namespaces")
    result = graded["warm"][1][student_id]
    expected = hostile.expected_scores(entry)
    assert result.status == entry.expected_status(isolation_available()), result
    by_function = {}
    from resnets_kit.assignment import exercise_of

    for grade_id, points in result.scores.items():
        function = exercise_of(grade_id)
        by_function[function] = by_function.get(function, 0.0) + points
    assert by_function == expected


def _sandboxes() -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if any("resnets_kit.grader.sandbox" in part for part in process.cmdline()):
                found.append(process)
        except psutil.Error:
            pass
    return found


@pytest.mark.slow
def test_a_fork_past_its_time_limit_dies_with_all_it_started_and_the_worker_grades_on(tmp_path):
    root = course.fresh_course(tmp_path / "course")
    course.generate(root)
    notebook = root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    with warm.WarmWorker(env=nbgrader_env()) as worker:
        place_submission(root, "late", notebook)
        result, _ = autograde_student(root, "late", 4.0, warm=worker)
        assert result.status == "timeout", result
        assert not result.autograded
        time.sleep(0.5)
        assert not _sandboxes()
        place_submission(root, "next", notebook)
        result, log = autograde_student(root, "next", 600.0, warm=worker)
        assert (result.status, sum(result.scores.values())) == ("graded", 30), log[-3000:]


def test_the_warm_server_dies_with_the_process_that_started_it():
    code = (
        f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
        "from resnets_kit.classgrade.warm import WarmWorker; "
        "w = WarmWorker(); print(w._process.pid, flush=True); import time; time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        server = psutil.Process(int(parent.stdout.readline()))
        assert server.is_running()
    finally:
        parent.kill()
        parent.wait()
    gone, _ = psutil.wait_procs([server], timeout=10)
    assert gone, "the warm server outlived the process that started it"
