"""Hostile submissions (qa.hostile) graded by the instructor's command: each gets exactly
the points its honest work earns and its named status, the batch completes, and the project's
grading files are unchanged afterwards."""

from __future__ import annotations

import pytest

from qa import hostile


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return hostile.run(tmp_path_factory.mktemp("hostile"))


def test_the_suite_has_at_least_15_distinct_attacks():
    names = [h.name for h in hostile.HOSTILE]
    assert len(names) >= 15 and len(set(names)) == len(names)
    assert {h.status for h in hostile.HOSTILE} >= {"graded", "timeout", "out_of_memory", "crashed"}


@pytest.mark.slow
def test_every_hostile_submission_gets_its_honest_score_and_status(suite):
    rows, wall, changed = suite
    assert rows, "no hostile submission ran"
    wrong = [row for row in rows if not row["ok"]]
    assert not wrong, "\n".join(
        f"{r['name']}: expected {r['expected']:g} ({r['expected_status']}), received {r['received']:g} "
        f"({r['status']}: {r['detail']})"
        for r in wrong
    )


@pytest.mark.slow
def test_no_project_file_changed(suite):
    _, _, changed = suite
    assert changed == []


@pytest.mark.slow
def test_attacks_earn_nothing_and_honest_parts_keep_their_points(suite):
    rows, _, _ = suite
    for row in rows:
        assert row["received"] <= row["expected"]
        if row["name"] != "deleted-test-cells":
            assert row["expected"] == 20.0  # two honest functions of 10 points each
