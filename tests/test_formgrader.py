"""The whole course cycle through nbgrader's own web interface, in headless Chromium.

One JupyterLab server runs in a fresh course folder, as ``python -m resnets_kit.bootstrap
formgrader`` starts it: the course's ``nbgrader_config.py`` in its working directory, its exchange
in ``course/exchange/`` (``resnets_kit.course.prepare``). One browser plays the instructor in
nbgrader's Formgrader and the student in JupyterLab's Assignments panel (the same user on one
machine, as on an instructor's laptop), with every request that leaves 127.0.0.1 blocked:

1. Formgrader: Generate, then Release the assignment.
2. Student: Fetch; Validate a notebook whose ``identity_block`` misses the shortcut's ``Add`` (the
   failures are named at ``identity_block``; ResNet50's cells say in one line that the block fails
   its own checks); Validate the solved notebook (success); Submit.
3. Two more submissions arrive as from an LMS download (``place_submission``): the same mistake,
   and a correct notebook whose markdown cells lost their figure attachments.
4. Formgrader: Collect; Autograde each submission; open the Manual Grading page of each (each
   shows its scores and figures, none "Sorry, the formgrader encountered an error"); Generate
   Feedback and Release Feedback.
5. Student: Fetch Feedback and open it: the scores, and the math as MathML (no network needed).

Screenshots go to ``runs/browser/formgrader/``. Skipped, with the reason, when Chromium, Playwright
or the SIGNS files are missing (see ``tests/test_browser.py``).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, Lab, _requirements, wait_for

from qa import mistakes
from resnets_kit import REPO_ROOT, course
from resnets_kit.classgrade.student import place_submission
from resnets_kit.solution import fill_answers, solution_sources
from test_utils import REPORT_WIDTH

pytestmark = pytest.mark.slow

SHOTS = REPO_ROOT / "runs" / "browser" / "formgrader"
#: Seconds allowed for one step of the web interface: an autograde (two processes that import
#: TensorFlow, about 30 to 50 s on 2 cores) or a validation (a kernel, the public tests).
STEP_TIMEOUT = 300
#: The mistake of the wrong notebooks (qa/mistakes.py).
MISTAKE = "shortcut never added"
#: The message of ResNet50's cells when identity_block fails its own checks.
BLOCK_FIRST = "ResNet50: `identity_block` fails its own checks above; fix it first:"
FORMGRADER_ERROR = "Sorry, the formgrader encountered an error"


def notebook_with(release: Path, answers: dict[str, str], figures: bool = True) -> nbformat.NotebookNode:
    """The released notebook with some answer cells (grade_id to source) filled in; without its
    figure attachments when ``figures`` is false."""
    nb = fill_answers(nbformat.read(release, as_version=4), answers)
    for cell in nb.cells:
        if not figures and cell.cell_type == "markdown":
            cell.pop("attachments", None)
    return nb


def mistaken_answers() -> dict[str, str]:
    """The reference solution with the shortcut's Add missing from identity_block."""
    answers = dict(solution_sources())
    for old, new in mistakes.get(MISTAKE).edits:
        assert old in answers["identity_block"]
        answers["identity_block"] = answers["identity_block"].replace(old, new)
    return answers


class Browser:
    """One headless Chromium page, signed in to the server, that reaches nothing but 127.0.0.1."""

    def __init__(self, playwright, lab: Lab, profile: Path):
        self.lab = lab
        self.context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        self.blocked: list[str] = []
        self.context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), self._block)
        self.page = self.context.new_page()
        self.page.set_default_timeout(STEP_TIMEOUT * 1000)
        self.page.goto(f"{lab.base}/login?token={lab.token}")  # the token sets the login cookie
        self.page.wait_for_load_state()

    def close(self) -> None:
        self.context.close()

    def _block(self, route):
        self.blocked.append(route.request.url)
        route.abort()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    # --- Formgrader -------------------------------------------------------------------------

    def formgrader(self, path: str) -> None:
        self.page.goto(f"{self.lab.base}/formgrader/{path}")

    def modal(self, name: str) -> str:
        """Wait for the Formgrader's result dialog, save a screenshot, close it; return its text
        (title first)."""
        self.page.wait_for_selector("#success-modal, #error-modal")
        title = self.page.locator(".modal .modal-title").inner_text().strip()
        text = title + "\n" + self.page.locator(".modal .modal-body").inner_text()
        self.shot(name)
        self.page.locator(".modal button", has_text="OK").click()
        self.page.wait_for_selector(".modal", state="detached")
        return text

    def assignment_action(self, column: str, name: str) -> str:
        """Click the icon of an assignment's column in Manage Assignments; return the dialog."""
        self.formgrader("manage_assignments")
        row = self.page.locator("tr", has=self.page.locator("td.name", has_text=course.ASSIGNMENT))
        row.locator(f"td.{column} a").click()
        return self.modal(name)

    # --- JupyterLab's Assignments panel ---------------------------------------------------------

    def assignments(self):
        self.page.goto(f"{self.lab.base}/lab")
        self.page.wait_for_selector("#jp-MainMenu")
        self.page.get_by_role("menuitem", name="Nbgrader").click()
        self.page.get_by_role("menuitem", name="Assignment List").click()
        self.page.wait_for_selector("#released_assignments_list")
        return self.page

    def validate_in_list(self, name: str) -> str:
        """Click Validate of the fetched notebook in the Assignments panel; return the dialog."""
        page = self.assignments()
        page.locator("#fetched_assignments_list a.assignment-notebooks-link").click()
        page.locator("#fetched_assignments_list button", has_text="Validate").click()
        page.wait_for_selector(".jp-Dialog")
        page.wait_for_timeout(500)
        self.shot(name)
        text = page.locator(".jp-Dialog .jp-Dialog-body").inner_text()
        page.locator(".jp-Dialog button", has_text="Ok").click()
        return text


def failed_cells(dialog: str) -> list[tuple[str, str]]:
    """The (cell source, error) pairs of nbgrader's Validate dialog, split at "The following cell
    failed:"; the cell's source is its first two lines (its comment and its call)."""
    pairs = []
    for block in dialog.split("The following cell failed:")[1:]:
        lines = [line for line in block.strip().splitlines() if line.strip()]
        pairs.append(("\n".join(lines[:2]), "\n".join(lines[2:])))
    return pairs


def test_the_course_cycle_in_the_formgrader(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    root = course.fresh_course(tmp_path)
    course.prepare(root)
    lab = Lab(root, tmp_path / "home", pythonpath=False)
    try:
        lab.wait_until_up()
        with (
            sync_playwright() as playwright,
            contextlib.closing(Browser(playwright, lab, tmp_path / "chromium-profile")) as browser,
        ):
            try:
                _cycle(browser, root, lab)
            except Exception:
                browser.shot("failure")  # where the cycle stopped
                print(lab.output())
                raise
    finally:
        lab.stop()


def _cycle(browser: Browser, root: Path, lab: Lab) -> None:
    from nbgrader.utils import get_username

    student = get_username()  # nbgrader's Submit names the submission after the user
    page = browser.page

    # 1. Generate and Release.
    text = browser.assignment_action("assign", "01_generate")
    assert text.startswith("Success") and "[ERROR]" not in text, text
    released = root / "release" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    assert released.is_file()
    text = browser.assignment_action("release", "02_release")
    assert text.startswith("Success") and "[WARNING]" not in text and "[ERROR]" not in text, text

    # 2. The student fetches, validates a wrong and a solved notebook, submits.
    panel = browser.assignments()
    panel.locator("#released_assignments_list button", has_text="Fetch").click()
    panel.wait_for_selector("#fetched_assignments_list .list_item")
    fetched = root / course.ASSIGNMENT / course.NOTEBOOK_NAME
    wait_for(fetched.is_file, 30, "the fetched notebook")
    nbformat.write(notebook_with(fetched, mistaken_answers()), fetched)
    dialog = browser.validate_in_list("03_validate_missing_add")
    failures = failed_cells(dialog)
    assert failures, dialog
    for source, error in failures:
        assert "convolutional_block" not in source, (source, error)  # the block that is right
        assert "the layers matched" not in error, (source, error)
        assert max(len(line) for line in error.splitlines()) <= REPORT_WIDTH, error
        if "ResNet50_test" in source:
            assert error.startswith(f"PublicTestFailure: {BLOCK_FIRST}"), (source, error)
            assert len(error.splitlines()) <= 2, (source, error)
        else:
            assert "identity_block_test" in source and "identity_block" in error, (source, error)
            assert "Traceback" not in error and "public_tests.py" not in error, error
    layers = next(error for source, error in failures if 'checks="layers"' in source and "identity" in source)
    assert "Add" in layers and "hint: " in layers, layers
    (SHOTS / "validate_missing_add.txt").write_text(dialog)

    nbformat.write(notebook_with(fetched, solution_sources()), fetched)
    dialog = browser.validate_in_list("04_validate_solved")
    assert "Success! Your notebook passes all the tests." in dialog, dialog

    panel = browser.assignments()
    panel.locator("#fetched_assignments_list button", has_text="Submit").click()
    panel.wait_for_selector("#submitted_assignments_list .list_item")
    browser.shot("05_submitted")

    # 3. Two submissions from an LMS download: the mistake, and a notebook without figures.
    others = {"lms-missing-add": (mistaken_answers(), True), "lms-no-figures": (solution_sources(), False)}
    for student_id, (answers, figures) in others.items():
        path = root.parent / "lms" / student_id / course.NOTEBOOK_NAME
        path.parent.mkdir(parents=True)
        nbformat.write(notebook_with(released, answers, figures), path)
        place_submission(root, student_id, path)
    no_figures = (
        root / "submitted" / "lms-no-figures" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    ).read_text()
    assert "attachment:" in no_figures and '"attachments"' not in no_figures

    # 4. Collect, Autograde, Manual Grading, feedback.
    text = browser.assignment_action("collect", "06_collect")
    assert text.startswith("Success") and f"Collecting submission: {student}" in text, text
    browser.formgrader(f"manage_submissions/{course.ASSIGNMENT}")
    students = [student, *others]
    for number, student_id in enumerate(students, 7):
        row = page.locator("tr", has=page.locator("td.student-id", has_text=student_id))
        start = time.monotonic()
        row.locator("td.autograde a").click()
        text = browser.modal(f"{number:02d}_autograde_{student_id}")
        assert text.startswith("Success"), text
        if student_id == student:  # an untouched correct submission: nothing to act on
            assert "[WARNING]" not in text and "[ERROR]" not in text, text
        print(f"\nautograde of {student_id} in the Formgrader: {time.monotonic() - start:.1f} s")
    page.reload()
    scores = {}
    for student_id in students:
        row = page.locator("tr", has=page.locator("td.student-id", has_text=student_id))
        scores[student_id] = row.locator("td.score").inner_text().strip()
    browser.shot("10_submissions")
    assert scores[student] == "30 / 30" and scores["lms-no-figures"] == "30 / 30", scores
    received = float(scores["lms-missing-add"].split("/")[0])
    assert 20 <= received < 30, scores  # identity_block loses points; the other two keep theirs

    browser.formgrader(f"gradebook/{course.ASSIGNMENT}/{Path(course.NOTEBOOK_NAME).stem}")
    page.wait_for_selector("table tbody tr td a")
    links = page.eval_on_selector_all("table tbody tr td a", "links => links.map(a => a.href)")
    pages = {}
    for number, link in enumerate(links, 1):
        page.goto(link)
        page.wait_for_selector(".cell")
        text = page.locator("body").inner_text()
        assert FORMGRADER_ERROR not in text, text[:2000]
        images = page.eval_on_selector_all(".text_cell_render img", "imgs => imgs.map(i => i.naturalWidth)")
        assert images and all(width > 0 for width in images), images  # the figures, restored or not
        # The Formgrader shows each grade cell's autograded score as its input's placeholder
        # (the value is left for a manual score), filled in from the gradebook.
        page.wait_for_function(
            "() => [...document.querySelectorAll('input.score')].every(i => i.placeholder !== '')"
        )
        values = page.eval_on_selector_all("input.score", "inputs => inputs.map(i => Number(i.placeholder))")
        pages[link] = sum(values)
        browser.shot(f"11_manual_grading_{number}")
    # One page per submission, each showing the scores the submissions table shows (anonymized).
    assert sorted(pages.values()) == sorted(float(s.split("/")[0]) for s in scores.values()), pages

    text = browser.assignment_action("generate-feedback", "12_generate_feedback")
    assert text.startswith("Success") and "[WARNING]" not in text and "[ERROR]" not in text, text
    text = browser.assignment_action("release-feedback", "13_release_feedback")
    assert text.startswith("Success") and "[ERROR]" not in text, text

    # 5. The student fetches the feedback and reads it.
    panel = browser.assignments()
    panel.locator("#submitted_assignments_list button", has_text="Fetch Feedback").click()
    panel.locator("#submitted_assignments_list a", has_text="view feedback").wait_for()
    browser.shot("14_fetch_feedback")
    feedback = wait_for(
        lambda: sorted((root / course.ASSIGNMENT / "feedback").rglob("*.html")), 30, "feedback"
    )
    assert len(feedback) == 1, feedback
    # "(view feedback)" shows the feedback's folder in the file browser; the page opens in
    # JupyterLab's HTML viewer, a sandboxed frame that runs no script (so no MathJax there, online
    # or not): the math must already be MathML.
    panel.locator("#submitted_assignments_list a", has_text="view feedback").click()
    page.locator(".jp-DirListing-item", has_text=Path(course.NOTEBOOK_NAME).stem).dblclick()
    frame = page.frame_locator(".jp-HTMLViewer iframe, .jp-MainAreaWidget iframe").last
    frame.locator("math").first.wait_for()
    text = frame.locator("body").inner_text()
    assert "Score: 30.0 / 30.0" in text or "30.0 / 30.0" in text, text[:2000]
    assert frame.locator("math").count() >= 10
    assert "$\\gamma$" not in text and "$$" not in text  # no raw LaTeX
    browser.shot("15_feedback")
