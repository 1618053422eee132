"""The Gradescope and PrairieLearn packages grade in their own layouts as the class grader does.

One module fixture grades seven notebooks three ways: with ``grade_class`` (nbgrader autograde in
a course), with the Gradescope autograder in a folder laid out like ``/autograder`` (its sandbox in
the ``user`` mode, as in Gradescope's Docker containers where bubblewrap cannot start, where this
Python allows it: see :func:`user_mode_works`; else ``auto``), and with the PrairieLearn question
in a folder laid out like ``/grade`` (``auto``). Secrets are planted in
each layout (the grader copy, Gradescope's submission metadata, PrairieLearn's data, the grading
process's environment); the ``reader`` submission hunts for them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest

from qa import hostile, mistakes
from resnets_kit import assignment, course
from resnets_kit.assignment import GRADED_FUNCTIONS, SOURCE_NOTEBOOK, exercise_of
from resnets_kit.export import gradescope, package, prairielearn
from resnets_kit.export.grading import source_test_cells
from resnets_kit.grader.isolation import isolation_available, setpriv_command
from resnets_kit.solution import fill_answers, solution_sources

pytestmark = pytest.mark.skipif(
    not isolation_available(), reason="the grading sandbox cannot be confined here"
)

#: One mistake of the catalogue per graded function, all in one notebook (the partly correct one).
MISTAKES = ("final ReLU missing", "shortcut without BatchNorm", "stage 5 with stride 1")
#: Hostile submissions of the hostile suite graded here too.
HOSTILE = ("reader", "memory-bomb", "redefined-tests")
#: The secret of the grading process's environment.
SECRET_VARIABLE = hostile.SECRET_VARIABLE


def user_mode_works() -> bool:
    """Whether the sandbox's ``user`` mode starts here: as root, with a Python whose standard library
    every user can read (a Python under ``/root``, as pyenv installs it, is not)."""
    from resnets_kit.grader import isolation
    from resnets_kit.grader.outcomes import GradingError

    before = os.environ.get(isolation.SETTING)
    os.environ[isolation.SETTING] = "user"
    try:
        return isolation.confinement() is not None
    except GradingError:
        return False
    finally:
        if before is None:
            os.environ.pop(isolation.SETTING)
        else:
            os.environ[isolation.SETTING] = before


#: The Gradescope layout's sandbox mode here.
GRADESCOPE_MODE = "user" if os.geteuid() == 0 and user_mode_works() else "auto"


def _with_mistakes(names) -> dict[str, str]:
    answers = solution_sources()
    for name in names:
        mistake = mistakes.get(name)
        for old, new in mistake.edits:
            assert old in answers[mistake.function], (name, old)
            answers[mistake.function] = answers[mistake.function].replace(old, new)
    return answers


def submissions(folder: Path) -> dict[str, Path]:
    """The notebooks graded here, by student id."""
    folder.mkdir(parents=True)
    blank = nbformat.read(course.STUDENT_NOTEBOOK, as_version=4)
    books = {
        "reference": fill_answers(nbformat.read(course.STUDENT_NOTEBOOK, as_version=4)),
        "blank": blank,
        "mistakes": fill_answers(
            nbformat.read(course.STUDENT_NOTEBOOK, as_version=4), _with_mistakes(MISTAKES)
        ),
    }
    # a notebook as students leave it: a first, wrong try of identity_block left above the answer
    copied = fill_answers(nbformat.read(course.STUDENT_NOTEBOOK, as_version=4))
    at = next(
        i
        for i, c in enumerate(copied.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "identity_block"
    )
    first_try = nbformat.from_dict(json.loads(json.dumps(copied.cells[at])))
    first_try.source = _with_mistakes(["final ReLU missing"])["identity_block"]
    first_try.id = "first-try"
    copied.cells.insert(at, first_try)
    books["copied-cells"] = copied
    for name in HOSTILE:
        attack = next(h for h in hostile.HOSTILE if h.name == name)
        books[name] = hostile.make_notebook(attack, SOURCE_NOTEBOOK, Path("/nonexistent/gradebook.db"))
    paths = {}
    for name, book in books.items():
        paths[name] = folder / f"{name}.ipynb"
        nbformat.write(book, paths[name])
    return paths


def _run(script: Path, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def grade_gradescope(root: Path, archive: Path, notebook: Path, tokens: dict[str, str]) -> tuple[dict, str]:
    """Unpack the autograder as Gradescope does, plant the secrets, run ``run_autograder``."""
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root / "source")
    (root / "source" / ".canary-notes.txt").write_text(f"answer key: {tokens['grader_copy']}\n")
    (root / "submission").mkdir()
    shutil.copyfile(notebook, root / "submission" / course.NOTEBOOK_NAME)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": tokens["metadata"]}]}))
    env = {
        "PATH": os.environ["PATH"],
        "AUTOGRADER_ROOT": str(root),
        "RESNETS_PYTHON": sys.executable,
        "RESNETS_SANDBOX_ISOLATION": GRADESCOPE_MODE,
        SECRET_VARIABLE: tokens["environment"],
    }
    stdout = _run(root / "source" / "run_autograder", env)
    return json.loads((root / "results" / "results.json").read_text()), stdout


def grade_prairielearn(
    root: Path, question: Path, notebook: Path, tokens: dict[str, str]
) -> tuple[dict, str]:
    """Lay the job out as PrairieLearn does (``tests/``, ``student/``, ``data/``), run the entry point."""
    shutil.copytree(question / "tests", root / "tests")
    (root / "tests" / ".canary-notes.txt").write_text(f"answer key: {tokens['grader_copy']}\n")
    (root / "student").mkdir()
    shutil.copyfile(notebook, root / "student" / course.NOTEBOOK_NAME)
    (root / "data").mkdir()
    (root / "data" / "data.json").write_text(json.dumps({"params": {}, "token": tokens["metadata"]}))
    env = {
        "PATH": os.environ["PATH"],
        "GRADE_ROOT": str(root),
        "RESNETS_PYTHON": sys.executable,
        SECRET_VARIABLE: tokens["environment"],
    }
    stdout = _run(root / "tests" / "run_grader", env)
    return json.loads((root / "results" / "results.json").read_text()), stdout


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the grading containers' sandbox mode drops to a fresh user: it needs root")
    work = tmp_path_factory.mktemp("export")
    notebooks = submissions(work / "notebooks")
    # the class grader, in a course
    root = course.fresh_course(work / "class")
    course.generate(root)
    for name, path in notebooks.items():
        folder = work / "submitted" / name / course.ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copyfile(path, folder / course.NOTEBOOK_NAME)
    from resnets_kit.classgrade.cli import grade_class

    results = grade_class(work / "submitted", root, work / "grades.csv", work / "feedback")
    by_class = {r.student_id: r for r in results}
    # the packages, in their layouts: a folder every user may pass, as / is in a container
    archive = gradescope.write_package(work / "gradescope")
    question = prairielearn.write_question(work / "prairielearn")
    layouts = Path(tempfile.mkdtemp(prefix="resnets-export-"))
    layouts.chmod(0o755)
    tokens = {
        place: f"canary-{place}-{secrets.token_hex(8)}"
        for place in ("grader_copy", "metadata", "environment")
    }
    graded = {}
    try:
        for name, path in notebooks.items():
            (layouts / name).mkdir(mode=0o755)
            graded[name] = {
                "gradescope": grade_gradescope(layouts / name / "autograder", archive, path, tokens),
                "prairielearn": grade_prairielearn(layouts / name / "grade", question, path, tokens),
                "layouts": layouts / name,
            }
        yield {
            "class": by_class,
            "graded": graded,
            "tokens": tokens,
            "archive": archive,
            "question": question,
        }
    finally:
        shutil.rmtree(layouts, ignore_errors=True)


def class_points(result) -> dict[str, float]:
    return {f: sum(p for g, p in result.scores.items() if exercise_of(g) == f) for f in GRADED_FUNCTIONS}


def gradescope_points(document: dict) -> dict[str, float]:
    totals = dict.fromkeys(GRADED_FUNCTIONS, 0.0)
    for test in document["tests"]:
        totals[test["tags"][0]] += test["score"]
    return totals


def prairielearn_points(document: dict) -> dict[str, float]:
    totals = dict.fromkeys(GRADED_FUNCTIONS, 0.0)
    for test in document.get("tests", []):
        totals[test["description"].split(" ")[0]] += test["points"]
    return totals


def test_every_notebook_gets_the_class_graders_points_per_function_in_both_layouts(graded):
    for name, runs in graded["graded"].items():
        expected = class_points(graded["class"][name])
        gs, _ = runs["gradescope"]
        pl, _ = runs["prairielearn"]
        assert gradescope_points(gs) == expected, name
        assert gs["score"] == sum(expected.values()), name
        assert prairielearn_points(pl) == expected, name
        total = sum(assignment.points().values())
        assert pl["score"] == pytest.approx(sum(expected.values()) / total), name
        assert gs["extra_data"]["status"] == graded["class"][name].status, name


def test_the_reference_earns_full_marks_and_the_blank_release_zero(graded):
    total = sum(assignment.points().values())
    gs, _ = graded["graded"]["reference"]["gradescope"]
    pl, _ = graded["graded"]["reference"]["prairielearn"]
    assert gs["score"] == total and pl["score"] == 1.0
    assert all(t["status"] == "passed" for t in gs["tests"])
    gs, _ = graded["graded"]["blank"]["gradescope"]
    pl, _ = graded["graded"]["blank"]["prairielearn"]
    assert gs["score"] == 0 and pl["score"] == 0 and pl["gradable"] is True
    assert gs["extra_data"]["status"] == "graded"
    assert all("NotImplementedError" in t["output"] or "not written" in t["output"] for t in gs["tests"]), [
        t["output"] for t in gs["tests"]
    ]


def test_one_mistake_per_function_costs_points_in_each_function_and_names_its_layer(graded):
    gs, _ = graded["graded"]["mistakes"]["gradescope"]
    points = gradescope_points(gs)
    full = assignment.points()
    assert all(0 < points[f] < full[f] for f in GRADED_FUNCTIONS), points
    failed = "\n".join(t["output"] for t in gs["tests"] if t["status"] == "failed")
    for name in MISTAKES:
        assert any(text in failed for text in mistakes.get(name).expect), (name, failed)


def test_hidden_checks_are_shown_after_publication_and_public_ones_at_once(graded):
    gs, _ = graded["graded"]["mistakes"]["gradescope"]
    cells = source_test_cells()
    assert [t["name"] for t in gs["tests"]] == [c.title for c in cells]
    for test, cell in zip(gs["tests"], cells, strict=True):
        assert test["visibility"] == ("after_published" if cell.hidden else "visible")
        assert test["max_score"] == cell.max_points
    assert any(c.hidden for c in cells) and any(not c.hidden for c in cells)
    # the top-level output, shown at once, says nothing of the hidden checks' results
    assert "hidden checks' results are shown once grades are published" in gs["output"]


def test_the_results_validate_against_the_graders_schemas(graded):
    gs_schema = json.loads(gradescope.SCHEMA.read_text())
    pl_schema = json.loads(prairielearn.SCHEMA.read_text())
    for name, runs in graded["graded"].items():
        jsonschema.validate(runs["gradescope"][0], gs_schema)
        jsonschema.validate(runs["prairielearn"][0], pl_schema)
        assert len(json.dumps(runs["prairielearn"][0]).encode()) < prairielearn.RESULTS_LIMIT, name


def test_the_schemas_refuse_what_the_graders_would_not_read():
    gs_schema = json.loads(gradescope.SCHEMA.read_text())
    pl_schema = json.loads(prairielearn.SCHEMA.read_text())
    good = {"score": 1.0, "tests": [{"name": "a", "score": 1.0, "max_score": 1.0, "visibility": "visible"}]}
    jsonschema.validate(good, gs_schema)
    for bad in (
        {"tests": [{"name": "a", "visibility": "visible"}]},  # no score anywhere
        {"score": 1.0, "tests": [{"name": "a", "visibility": "after_publish"}]},  # misspelt visibility
        {"score": 1.0, "output_format": "markdown"},
        {"score": 1.0, "tests": [{"name": "a", "max_points": 1}]},  # PrairieLearn's field name
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, gs_schema)
    jsonschema.validate({"gradable": False, "format_errors": ["not a notebook"]}, pl_schema)
    for bad in (
        {"score": 1.5},
        {"message": "no score"},
        {"score": 0.5, "tests": [{"name": "a", "max_score": 1}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, pl_schema)


def test_hostile_submissions_earn_their_honest_points_and_statuses(graded):
    for name in HOSTILE:
        attack = next(h for h in hostile.HOSTILE if h.name == name)
        gs, _ = graded["graded"][name]["gradescope"]
        assert gradescope_points(gs) == hostile.expected_scores(attack), name
        assert gs["extra_data"]["status"] == attack.expected_status(True), name
    gs, _ = graded["graded"]["memory-bomb"]["gradescope"]
    pl, _ = graded["graded"]["memory-bomb"]["prairielearn"]
    assert "(out_of_memory)" in gs["output"] and "(out_of_memory)" in pl["message"]


def test_no_secret_and_no_hidden_test_code_reaches_any_output(graded):
    hidden_code = []
    for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            hidden_code += [
                line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")
            ]
    assert hidden_code
    for name, runs in graded["graded"].items():
        for grader in ("gradescope", "prairielearn"):
            document, stdout = runs[grader]
            for text in (json.dumps(document), stdout):
                for token in graded["tokens"].values():
                    assert token not in text, (name, grader, token)
                for line in hidden_code:
                    assert line not in text, (name, grader, line)
    # the reader did look, and found nothing
    gs, _ = graded["graded"]["reader"]["gradescope"]
    found = [t["output"] for t in gs["tests"] if "secrets found" in t["output"]]
    assert found and all(
        "secrets found: none" in text.replace("\n", " ").replace("    ", "") for text in found
    ), found


def test_each_log_names_the_sandboxs_mode(graded):
    _, stdout = graded["graded"]["reference"]["gradescope"]
    assert stdout.startswith("sandbox: user:" if GRADESCOPE_MODE == "user" else "sandbox: bwrap:"), stdout
    _, stdout = graded["graded"]["reference"]["prairielearn"]
    assert stdout.startswith("sandbox: "), stdout
    full = assignment.points()
    assert "points per function: " + ", ".join(f"{f} {p:g}" for f, p in full.items()) in stdout


def test_the_user_mode_runs_the_graders_own_python_or_says_why(monkeypatch):
    from resnets_kit.grader import isolation
    from resnets_kit.grader.outcomes import GradingError

    monkeypatch.setattr(isolation, "_STATE", {})
    monkeypatch.setenv(isolation.SETTING, "user")
    if os.geteuid() != 0:
        with pytest.raises(GradingError, match="needs a grader run as root"):
            isolation.confinement()
        return
    try:
        how = isolation.confinement()
    except GradingError as error:  # e.g. a Python under /root: the message says so and what to do
        assert "standard library" in str(error) and "every user can read" in str(error)
        return
    assert not how.namespaces and how.as_root
    assert how.describe().startswith("user:")


def test_the_user_mode_drops_to_a_fresh_user_without_capabilities():
    command = setpriv_command(["python", "-c", "pass"], "/usr/bin/setpriv", 123456789)
    assert command[0] == "/usr/bin/setpriv" and command[-3:] == ["python", "-c", "pass"]
    assert {"--reuid=123456789", "--regid=123456789", "--clear-groups", "--no-new-privs"} <= set(command)
    assert "--inh-caps=-all" in command and "--bounding-set=-all" in command


def test_the_grader_copy_and_the_student_data_are_private_while_grading(graded):
    layouts = graded["graded"]["reference"]["layouts"]
    for path in (
        layouts / "autograder" / "source",
        layouts / "autograder" / "submission",
        layouts / "autograder" / "results",
        layouts / "grade" / "tests",
        layouts / "grade" / "data",
    ):
        assert path.stat().st_mode & 0o077 == 0, path
    assert (layouts / "autograder" / "submission_metadata.json").stat().st_mode & 0o077 == 0


def test_the_copied_cell_is_graded_as_the_class_grader_grades_it_and_said(graded):
    gs, _ = graded["graded"]["copied-cells"]["gradescope"]
    assert gs["score"] == sum(assignment.points().values())
    assert "Note: 2 copies of the answer cell 'identity_block'" in gs["output"]


def test_the_packages_hold_the_grader_and_nothing_of_the_students_release(graded):
    with zipfile.ZipFile(graded["archive"]) as zipped:
        names = set(zipped.namelist())
        assert {"setup.sh", "run_autograder", "requirements.txt", "settings.json"} <= names
        assert zipped.getinfo("run_autograder").external_attr >> 16 & 0o111
    assert "resnets_kit/grader/hidden_references.json" in names
    assert not any(n.startswith(("datasets/", "course/", "tests/")) or n.endswith(".h5") for n in names)
    assert "notebooks/Residual_Networks.ipynb" not in names
    settings = json.loads((graded["question"] / "tests" / package.SETTINGS_FILE).read_text())
    assert settings == package.course_limits()
    info = json.loads((graded["question"] / "info.json").read_text())
    assert info["externalGradingOptions"]["entrypoint"] == "/grade/tests/run_grader"
    assert info["externalGradingOptions"]["timeout"] <= 600


def test_an_upload_that_is_not_a_notebook_is_not_graded_and_costs_no_attempt(tmp_path):
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / course.NOTEBOOK_NAME).write_text("{not json")
    result = package.grade_folder(tmp_path / "student", course.NOTEBOOK_NAME)
    assert result.status == "invalid" and not result.gradable
    document = prairielearn.results_document(result)
    jsonschema.validate(document, json.loads(prairielearn.SCHEMA.read_text()))
    assert document["gradable"] is False and "not a valid notebook" in document["format_errors"][0]
    gs = gradescope.results_document(result)
    jsonschema.validate(gs, json.loads(gradescope.SCHEMA.read_text()))
    assert gs["score"] == 0 and "Jupyter notebook" in gs["output"]


def test_a_submission_without_a_notebook_says_what_to_submit(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "answers.py").write_text("print(1)\n")
    result = package.grade_folder(tmp_path / "submission", course.NOTEBOOK_NAME)
    assert result.status == "invalid" and "no .ipynb file" in result.message
    for name in ("a.ipynb", "b.ipynb"):
        (tmp_path / "submission" / name).write_text("{}")
    path, why = package.find_notebook(tmp_path / "submission", course.NOTEBOOK_NAME)
    assert path is None and "several notebooks" in why


def test_the_memory_of_a_small_container_decides_the_limits():
    settings = {"step_timeout": 60, "memory_limit_mb": 4096, "process_limit": 16}
    assert package.grading_options(settings, None)["overlap"] is True
    small = package.grading_options(settings, 768 * 2**20)
    assert small["overlap"] is False and small["memory_limit"] == 768 * 2**20 - package.GRADER_RESERVE
    large = package.grading_options(settings, 6 * 2**30)
    assert large["overlap"] is True and large["memory_limit"] == 4096 * 2**20


def test_exporting_twice_into_the_same_folder_refuses_and_keeps_it(tmp_path):
    first = tmp_path / "gs"
    gradescope.write_package(first)
    before = sorted(p.relative_to(first) for p in first.rglob("*"))
    with pytest.raises(FileExistsError, match="not empty"):
        gradescope.write_package(first)
    assert sorted(p.relative_to(first) for p in first.rglob("*")) == before
    done = subprocess.run(
        [sys.executable, "-m", "resnets_kit.export", "prairielearn", str(first)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "not empty" in done.stderr


def test_the_check_process_runs_the_packages_copy_of_the_grader(tmp_path):
    # a package's Python does not have this project installed: the check process must import the
    # grading code of the copy it was started from, not whatever the environment holds
    copy = package.copy_grader(tmp_path / "copy")
    marker = tmp_path / "marker.txt"
    cli = copy / "resnets_kit" / "grader" / "cli.py"
    cli.write_text(cli.read_text() + f"\nopen({str(marker)!r}, 'w').write(__file__)\n")
    script = (
        f"import sys; sys.path.insert(0, {str(copy)!r})\n"
        "from resnets_kit.grader.check_server import Checker\n"
        "from resnets_kit.grader.plan import grading_plan\n"
        "outcomes = Checker(grading_plan(), 2**31).finish({})\n"
        "print(sum(o.passed for o in outcomes.values()), len(outcomes))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", str(len(source_test_cells()))]
    assert marker.read_text() == str(cli)


def test_the_container_memory_is_read_from_this_processs_own_cgroup(tmp_path):
    (tmp_path / "memory" / "job").mkdir(parents=True)
    (tmp_path / "memory" / "job" / "memory.limit_in_bytes").write_text("805306368\n")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "job2").mkdir()
    (tmp_path / "job2" / "memory.max").write_text("max\n")
    v1 = package._cgroup_files("4:memory:/job\n3:cpu,cpuacct:/job\n", tmp_path)
    assert v1[0] == tmp_path / "memory" / "job" / "memory.limit_in_bytes"
    v2 = package._cgroup_files("0::/job2\n", tmp_path)
    assert v2[0] == tmp_path / "job2" / "memory.max"
    assert isinstance(package.container_memory(), int | type(None))


def test_a_check_process_whose_grader_was_killed_ends(tmp_path):
    # a grader killed from outside (a container stopped, an interrupted benchmark) leaves no check
    # process behind waiting for a job that will never come
    import psutil

    script = (
        "import time\n"
        "from resnets_kit.grader.check_server import Checker\n"
        "from resnets_kit.grader.plan import grading_plan\n"
        "checker = Checker(grading_plan(), 2**31)\n"
        "time.sleep(600)\n"
    )
    grader = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        children = []
        while time.monotonic() < deadline and not children:
            children = psutil.Process(grader.pid).children()
            time.sleep(0.2)
        assert children, "the check process did not start"
        check = children[0]
        time.sleep(1)
    finally:
        grader.kill()
        grader.wait()
    assert psutil.wait_procs([check], timeout=120)[1] == [], "the check process outlived its grader"


def test_a_submitted_link_is_not_followed_and_nothing_it_points_to_is_read(tmp_path):
    # as root the grader could read what the link points to: a file only root may read, or the
    # grader's own copy of the reference solution
    secret = tmp_path / "secret.txt"
    secret.write_text("canary-root-only-0123456789abcdef\n")
    secret.chmod(0o600)
    for target in (secret, SOURCE_NOTEBOOK):
        submission = tmp_path / f"submission-{target.stem}"
        submission.mkdir()
        (submission / course.NOTEBOOK_NAME).symlink_to(target)
        result = package.grade_folder(submission, course.NOTEBOOK_NAME)
        assert result.status == "invalid" and result.score == 0, target
        assert "symbolic link" in result.message and "canary" not in result.message
    # a linked folder is not entered either
    linked = tmp_path / "submission-folder"
    linked.mkdir()
    (linked / "answers").symlink_to(SOURCE_NOTEBOOK.parent, target_is_directory=True)
    path, why = package.find_notebook(linked, course.NOTEBOOK_NAME)
    assert path is None and "no .ipynb file" in why


def test_the_copy_graded_is_a_regular_file_read_without_following_links(tmp_path):
    link = tmp_path / "link.ipynb"
    link.symlink_to(SOURCE_NOTEBOOK)
    assert "symbolic link" in package.private_copy(link, tmp_path / "copy.ipynb")
    os.mkfifo(tmp_path / "pipe.ipynb")
    assert "not a regular file" in package.private_copy(tmp_path / "pipe.ipynb", tmp_path / "copy.ipynb")
    big = tmp_path / "big.ipynb"
    big.write_bytes(b" " * 2048)
    assert "over the" in package.private_copy(big, tmp_path / "copy.ipynb", limit=1024)
    assert package.private_copy(SOURCE_NOTEBOOK, tmp_path / "copy.ipynb") == ""
    assert (tmp_path / "copy.ipynb").read_bytes() == SOURCE_NOTEBOOK.read_bytes()
    assert (tmp_path / "copy.ipynb").stat().st_mode & 0o777 == 0o600


def test_the_notebook_nearest_the_top_is_graded(tmp_path):
    (tmp_path / "A_old").mkdir()
    for folder in (tmp_path, tmp_path / "A_old"):
        (folder / course.NOTEBOOK_NAME).write_text("{}")
    path, _ = package.find_notebook(tmp_path, course.NOTEBOOK_NAME)
    assert path == tmp_path / course.NOTEBOOK_NAME


def test_a_grader_that_cannot_run_writes_no_gradescope_result_and_says_why_to_the_instructor(tmp_path):
    env = dict(os.environ, RESNETS_SANDBOX_ISOLATION="no-such-mode")
    done = {}
    for grader, folder in (("gradescope", "submission"), ("prairielearn", "student")):
        root = tmp_path / grader
        (root / folder).mkdir(parents=True)
        shutil.copyfile(SOURCE_NOTEBOOK, root / folder / course.NOTEBOOK_NAME)
        command = [sys.executable, "-m", "resnets_kit.export", "run", grader, "--root", str(root)]
        done[grader] = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done[grader].returncode == 1, done[grader].stdout + done[grader].stderr
    assert not (tmp_path / "gradescope" / "results" / "results.json").exists()
    why = "grading error: RESNETS_SANDBOX_ISOLATION='no-such-mode' is not a confinement mode"
    assert why in done["gradescope"].stdout
    # PrairieLearn: not gradable (no attempt charged), a short message without the diagnosis
    document = json.loads((tmp_path / "prairielearn" / "results" / "results.json").read_text())
    assert document["gradable"] is False and "tell your instructor" in document["format_errors"][0]
    assert "no-such-mode" not in json.dumps(document)


def test_an_answer_cell_turned_into_markdown_is_graded_as_code_and_said(tmp_path, monkeypatch):
    import resnets_kit.grader.orchestrate as orchestrate
    from resnets_kit.export import grading

    nb = fill_answers(nbformat.read(course.STUDENT_NOTEBOOK, as_version=4))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "identity_block":
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    path = tmp_path / course.NOTEBOOK_NAME
    nbformat.write(nb, path)
    graded = {}

    def grade_cells(cells, **options):  # what would be graded; the sandbox is not needed here
        graded.update(cells)
        raise grading.GradingError("stop here")

    monkeypatch.setattr(orchestrate, "grade_cells", grade_cells)
    result = grading.grade_submission(path)
    assert graded["identity_block"] == solution_sources()["identity_block"]
    assert "the answer cell 'identity_block' was a markdown cell: it was graded as code" in result.notes
