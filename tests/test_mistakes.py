"""Every mistake of the catalogue (qa/mistakes.py) is caught by the test it declares, with
a message that names it; the catalogue is well formed; the mutation-score command agrees.

The results of :func:`qa.mistakes.first_failure` are cached per process, so each
mistake's model is built once in a test session (tests/test_public_tests.py reads the same cache).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from qa import mistakes, mutation_score
from resnets_kit.solution import GRADED_FUNCTIONS, solution_sources


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: m.name)
def test_mistake_is_caught_by_its_message(mistake):
    result = mistakes.first_failure(mistake)
    assert result is not None, f"{mistake.name!r}: the public and the hidden test both pass"
    kind, message = result
    assert kind == mistake.caught_by, f"{mistake.name!r} caught by the {kind} test:\n{message}"
    for text in mistake.expect:
        assert text in message, f"{mistake.name!r}: {text!r} not in the message:\n{message}"


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: m.name)
def test_autograder_takes_points_only_from_the_mistaken_function(mistake):
    points = mistakes.graded_points(mistake)
    assert mistakes.graded_verdict(mistake, points) == "", points


def test_graded_verdict_names_what_is_wrong():
    mistake = mistakes.get("F1 and F2 swapped")
    full = {"identity_block": 10.0, "convolutional_block": 10.0, "ResNet50": 10.0}
    assert "full marks" in mistakes.graded_verdict(mistake, full)
    assert "convolutional_block" in mistakes.graded_verdict(
        mistake, dict(full, identity_block=2.0, convolutional_block=8.0)
    )


def test_catalogue_is_well_formed():
    catalogue = mistakes.CATALOGUE
    assert len(catalogue) >= 30
    names = [m.name for m in catalogue]
    assert len(set(names)) == len(names), "mistake names must be unique"
    sources = solution_sources()
    for mistake in catalogue:
        assert mistake.function in GRADED_FUNCTIONS, mistake.name
        assert mistake.caught_by in mistakes.KINDS, mistake.name
        assert mistake.expect and mistake.origin and mistake.edits, mistake.name
        code = sources[mistake.function]
        for old, new in mistake.edits:
            assert old in code, f"{mistake.name!r}: {old!r} is not in the cell {mistake.function!r}"
            assert old != new, mistake.name
            code = code.replace(old, new)
        assert mistakes.get(mistake.name) is mistake
    assert {m.function for m in catalogue} == set(GRADED_FUNCTIONS)
    assert {m.caught_by for m in catalogue} == set(mistakes.KINDS)


#: Mistakes of one kind, which may share a hint (their messages differ in where the difference is).
SAME_KIND = (
    {"BatchNorm missing in the main path", "BatchNorm missing after the f x f convolution"},
    {"hard-coded kernel size", "kernel size hard-coded to the first case's f"},
    {"identity blocks missing in stage 4", "an identity block too many in stage 3"},
)


def test_unrelated_mistakes_get_different_messages():
    messages = {m.name: mistakes.first_failure(m)[1] for m in mistakes.CATALOGUE}
    assert len(set(messages.values())) == len(messages), "two mistakes get the very same message"
    by_hint = defaultdict(set)
    for name, message in messages.items():
        by_hint[message.rpartition("\n    hint: ")[2]].add(name)
    for names in by_hint.values():
        if len(names) > 1:
            assert any(names <= kind for kind in SAME_KIND), (
                f"unrelated mistakes share a hint: {sorted(names)}"
            )


def test_verdict_names_what_is_wrong():
    mistake = mistakes.get("final ReLU missing")
    assert mistakes.verdict(mistake, None).startswith("not caught")
    assert mistakes.verdict(mistake, ("hidden", "anything")) == "caught by the hidden test, declared public"
    assert "'final ReLU after the Add'" in mistakes.verdict(mistake, ("public", "another message"))
    assert mistakes.verdict(mistake, ("public", " ".join(mistake.expect))) == ""


def test_mutation_score_reports_every_mistake_caught(capsys):
    assert mutation_score.main(["--table", "mistakes"]) == 0
    out = capsys.readouterr().out
    total = len(mistakes.CATALOGUE)
    assert f"mutation score: {total}/{total} caught" in out
    assert "MISSED" not in out
    for mistake in mistakes.CATALOGUE:
        assert mistake.name[:40] in out


def test_mutation_score_fails_on_a_mistake_that_nothing_catches(capsys):
    # Spelling the f x f kernel as a tuple is no mistake: both tests pass.
    harmless = mistakes.Mistake(
        "kernel size as a tuple",
        "identity_block",
        ((mistakes.ID_CONV2, mistakes.ID_CONV2.replace("kernel_size=f", "kernel_size=(f, f)")),),
        ("anything",),
        origin="a test of the mutation score",
    )
    assert mutation_score.main(["--table", "mistakes"], catalogue=(harmless,)) == 1
    out = capsys.readouterr().out
    assert "MISSED 'kernel size as a tuple'" in out and "not caught" in out
    assert "mutation score: 0/1 caught" in out


def test_mutation_score_runs_one_mistake(capsys):
    assert mutation_score.main(["--only", "F1 and F2 swapped"]) == 0
    out = capsys.readouterr().out
    assert "mutation score: 1/1 caught" in out and "'layer settings: filters'" in out
    with pytest.raises(SystemExit):
        mutation_score.main(["--only", "no such mistake"])
