"""Hostile submissions (qa.hostile) graded by the instructor's command: each gets exactly
the points its honest work earns and its named status, the batch completes, the project's
grading files are unchanged afterwards, and no planted secret reaches any report."""

from __future__ import annotations

import os

import pytest

from qa import hostile
from resnets_kit.grader.isolation import isolation_available
from resnets_kit.grader.outcomes import REPORT_TEXT_LIMIT
from resnets_kit.solution import solution_sources


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return hostile.run(tmp_path_factory.mktemp("hostile"))


def test_the_suite_has_at_least_15_distinct_attacks():
    names = [h.name for h in hostile.HOSTILE]
    assert len(names) >= 15 and len(set(names)) == len(names)
    assert {h.status for h in hostile.HOSTILE} >= {
        "graded",
        "timeout",
        "out_of_memory",
        "process_limit",
        "crashed",
    }


@pytest.mark.slow
def test_every_hostile_submission_gets_its_honest_score_and_status(suite):
    rows = suite.rows
    assert rows, "no hostile submission ran"
    wrong = [row for row in rows if not row["ok"]]
    assert not wrong, "\n".join(
        f"{r['name']}: expected {r['expected']:g} ({r['expected_status']}), received {r['received']:g} "
        f"({r['status']}: {r['detail']})"
        for r in wrong
    )


@pytest.mark.slow
def test_no_project_file_changed(suite):
    assert suite.changed == []


@pytest.mark.slow
def test_attacks_earn_nothing_and_honest_parts_keep_their_points(suite):
    for row in suite.rows:
        assert row["received"] <= row["expected"]
        if row["name"] != "deleted-test-cells":
            assert row["expected"] == 20.0  # two honest functions of 10 points each


@pytest.mark.slow
def test_no_planted_secret_reaches_a_report(suite):
    if not isolation_available():
        pytest.skip("unconfined, the reader finds them: that is what confinement is for")
    assert {r["name"] for r in suite.rows} >= {"reader", "writer", "fork-bomb"}
    assert suite.leaks == []


@pytest.mark.slow
def test_the_reader_reads_in_its_feedback_that_it_found_nothing(suite):
    if not isolation_available():
        pytest.skip("unconfined, the reader finds secrets")
    text = suite.excerpts["reader"]
    assert "RuntimeError: uid" in text and "secrets found: none" in text
    assert "uid 0;" not in text
    assert len(text) < 2 * REPORT_TEXT_LIMIT
    assert "nothing outside my folder" in suite.excerpts["writer"]


def test_canaries_are_planted_found_and_removed(tmp_path):
    course_root = tmp_path / "course"
    course_root.mkdir()
    canaries = hostile.plant_canaries(tmp_path, course_root)
    try:
        assert set(canaries.tokens) == set(hostile.CANARY_PLACES)
        report = tmp_path / "feedback" / "report.html"
        report.parent.mkdir()
        report.write_text(f"<pre>{canaries.tokens['gradebook']}</pre>")
        assert hostile.leaks(canaries, [tmp_path]) == [f"gradebook in {report}"]
    finally:
        hostile.remove_canaries(canaries)
    assert not any(p.exists() for p in canaries.files if not p.is_relative_to(tmp_path))
    assert hostile.SECRET_VARIABLE not in os.environ


def test_every_attack_is_python_that_compiles():
    sources = solution_sources()
    for attack in hostile.HOSTILE:
        code = attack.cell(sources[attack.function]) if callable(attack.cell) else attack.cell
        compile(code.replace("GRADEBOOK", "'gradebook.db'"), attack.name, "exec")


@pytest.mark.slow
def test_no_feedback_page_holds_a_submissions_active_html(suite):
    assert "html-injection" in {r["name"] for r in suite.rows}
    assert suite.active_html == []
