"""The student's experience in a real browser.

Each test starts JupyterLab from this environment on 127.0.0.1 with a random free port and a random
token, serving a temporary folder, and opens a notebook in headless Chromium (Debian's ``chromium``
package at ``/usr/bin/chromium``, driven by Playwright; no browser is downloaded).

- The student notebook: a copy of ``notebooks/Residual_Networks.ipynb`` and of ``images/``, in
  which the answer cell of ``identity_block`` holds the reference solution. The test checks that
  every figure of the notebook loads (no broken image), runs the setup cell, the data-loading cell,
  the ``identity_block`` cell and its first public test through the browser, checks that none of
  them shows an error or stderr output and that the test prints its success line, and saves a
  screenshot to ``runs/browser/student_notebook.png``. The notebook's kernel imports the project's
  modules from this checkout (``PYTHONPATH``) and reads the SIGNS files in ``datasets/``.
- nbgrader's Validate button (the notebook toolbar button of the ``@jupyter/nbgrader`` JupyterLab
  extension, backed by the ``nbgrader.server_extensions.validate_assignment`` server extension):
  the served folder is laid out as the release a student receives (the notebook beside
  ``public_tests.py``, ``test_utils.py``, ``resnets_utils.py``, ... and ``datasets/``; no course
  configuration, no ``PYTHONPATH``). With the three answer cells solved, nbgrader's result dialog
  says that the notebook passes all the tests (screenshot ``runs/browser/validate_success.png``);
  with the notebook as released (no answer written), it lists the public test cells, which fail
  on the ``NotImplementedError`` of the answer stubs (screenshot
  ``runs/browser/validate_failures.png``). Both validations must end in seconds, not minutes: under
  nbgrader the training and experiment cells (``%%skip_when_grading``) are skipped.

Skipped, with the reason, when ``/usr/bin/chromium``, the ``playwright`` package or the SIGNS files
are missing; ``.ci/run`` installs Chromium first.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

from qa.release_alone import VALIDATE_SUCCESS
from resnets_kit import REPO_ROOT
from resnets_kit.assignment import GRADED_FUNCTIONS
from resnets_kit.course import DATA_FILES, NOTEBOOK_NAME, STUDENT_NOTEBOOK, SUPPORT_FILES
from resnets_kit.solution import solution_sources
from test_utils import REPORT_WIDTH

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO_ROOT / "runs" / "browser" / "student_notebook.png"
#: The cells run through the browser, in this order (nbgrader grade_id).
CELLS_TO_RUN = ("setup", "load-data", "identity_block", "identity_block_shape")
#: What the first public test prints when it passes (and, in the stderr mime type, errors and stderr).
SUCCESS_LINE = "identity_block_test: all 2 checks passed (signature; output shape)."
STDERR_MIME = "application/vnd.jupyter.stderr"
#: Seconds allowed for the server to start, and for one cell to run (TensorFlow's import is slow).
SERVER_TIMEOUT = 90
CELL_TIMEOUT = 180

#: nbgrader's Validate dialog (@jupyter/nbgrader 0.9.6): its title whatever the result, and
#: the line above each failing cell when some fail (the success text is qa.release_alone.VALIDATE_SUCCESS).
VALIDATE_TITLE = "Validation Results"
VALIDATE_FAILED = "The following cell failed:"
VALIDATE_SUCCESS_SHOT = REPO_ROOT / "runs" / "browser" / "validate_success.png"
VALIDATE_FAILURES_SHOT = REPO_ROOT / "runs" / "browser" / "validate_failures.png"
#: Seconds allowed from the click on Validate to nbgrader's dialog. Measured on 2 CPU cores: 31 s for
#: the solved notebook, 23 s for the untouched one (a new kernel, TensorFlow's import, the models of
#: the public tests), the training and experiment cells (``%%skip_when_grading``) only printing that
#: they are skipped. Run, they take minutes: 1.5 to 3 for the experiments of section 2.1, 4 to 5 for
#: the training. 150 s leaves a slow machine about 5 times the time measured and still tells
#: "skipped" from "trained". (A release folder has no course configuration: the server extension
#: reads nbgrader_config.py from the server's working directory and the Jupyter configuration path,
#: finds none, and nbgrader's default limit of 30 s per cell applies. A cell that did not skip is
#: then interrupted after 30 s, and validation ends in a CellTimeoutError, which the dialog shows
#: instead of the results: the checks of its contents catch that case.)
VALIDATE_BOUND = 150
#: How long the test waits for the dialog at most: longer than the bound, so that a slow validation
#: is measured and reported rather than timed out.
VALIDATE_WAIT = 480


def _requirements() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y --no-install-recommends chromium); .ci/run does this"
        )
    pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is not installed (the maintainers' set: make setup)",
    )
    if not (REPO_ROOT / "datasets" / "train_signs.h5").exists():
        pytest.skip("no SIGNS files in datasets/; run `python -m resnets_kit.data` first")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (JupyterLab is told not to try others)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fill_answers(path: Path, answers: tuple[str, ...]) -> None:
    """Write the reference solution into the answer cells ``answers`` (nbgrader grade_id) of the
    notebook ``path``, each of which must still hold its stub."""
    nb = nbformat.read(path, as_version=4)
    solutions = solution_sources()
    for grade_id in answers:
        answer = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
        assert len(answer) == 1 and "raise NotImplementedError()" in answer[0].source, grade_id
        answer[0].source = solutions[grade_id]
    nbformat.write(nb, path)


def student_copy(root: Path, answers: tuple[str, ...] = ("identity_block",)) -> Path:
    """Copy the student notebook (into ``root/notebooks/``) and ``images/`` into ``root``; fill
    the answer cells ``answers`` with the reference solution. Returns the copied notebook."""
    (root / "notebooks").mkdir()
    path = root / "notebooks" / NOTEBOOK_NAME
    shutil.copy2(STUDENT_NOTEBOOK, path)
    shutil.copytree(REPO_ROOT / "images", root / "images")
    fill_answers(path, answers)
    return path


def release_copy(folder: Path, answers: tuple[str, ...] = ()) -> Path:
    """Lay out ``folder`` as the release folder a student receives (``resnets_kit.course``): the
    student notebook, with the answer cells ``answers`` filled with the reference solution, the
    support files beside it and the SIGNS files in ``datasets/``. Returns the notebook."""
    (folder / "datasets").mkdir(parents=True)
    path = folder / NOTEBOOK_NAME
    shutil.copy2(STUDENT_NOTEBOOK, path)
    for name in SUPPORT_FILES:
        shutil.copy2(REPO_ROOT / name, folder / name)
    for name in DATA_FILES:
        shutil.copy2(REPO_ROOT / "datasets" / name, folder / "datasets" / name)
    fill_answers(path, answers)
    return path


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


class Lab:
    """A JupyterLab server on 127.0.0.1 serving ``root``, isolated from the user's settings. With
    ``pythonpath``, its kernels import the project's modules from this checkout; without, as a
    student's, only what is beside the notebook (the kernel starts in the notebook's folder)."""

    def __init__(self, root: Path, home: Path, pythonpath: bool = True):
        self.root, self.port, self.token = root, free_port(), secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        settings = home / "lab-settings"
        # Render every cell (no windowing), so that every figure is in the page; no news or
        # update checks (no network).
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}))
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTER_DATA_DIR=str(home / "data"),  # nbgrader's cache of a student's submissions
            IPYTHONDIR=str(home / "ipython"),
            TF_CPP_MIN_LOG_LEVEL="2",
            # as `python -m resnets_kit.bootstrap lab|formgrader` starts it: nbgrader's gradebook
            # runs `alembic` by name, from the environment's scripts folder
            PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        )
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        else:
            env.pop("PYTHONPATH", None)
        env.pop("NBGRADER_EXECUTION", None)
        self.log = open(home / "jupyter-lab.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "lab", "--no-browser",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
                f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
                "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
                *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            ],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def api(self, path: str):
        return get_json(f"{self.base}/api/{path}?token={self.token}")

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with status {self.process.returncode}: {self.output()}"
                )
            try:
                self.api("status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer within {SERVER_TIMEOUT} s: {self.output()}")

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook`` (a path relative to the root)."""
        for session in self.api("sessions"):
            if session.get("path") == notebook:
                return session["kernel"]["execution_state"]
        return None

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                request = urllib.request.Request(
                    f"{self.base}/api/shutdown?token={self.token}", method="POST"
                )
                urllib.request.urlopen(request, timeout=10).close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        self.log.close()


def _serve(tmp_path: Path, pythonpath: bool):
    _requirements()
    root = tmp_path / "root"
    root.mkdir()
    server = Lab(root, tmp_path / "home", pythonpath)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server whose kernels import the project's modules from this checkout."""
    yield from _serve(tmp_path, pythonpath=True)


@pytest.fixture
def student_lab(tmp_path):
    """A JupyterLab server as a student's: no ``PYTHONPATH``, and no ``nbgrader_config.py`` in its
    root (its working directory) or its Jupyter configuration folder, the places where nbgrader's
    Validate looks besides the system's; the test writes a release folder (:func:`release_copy`)
    into the root."""
    yield from _serve(tmp_path, pythonpath=False)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


@contextlib.contextmanager
def notebook_page(lab: Lab, relative: str, profile: Path):
    """Headless Chromium with a new, empty profile (user data dir) ``profile``, showing the notebook
    ``relative`` (a path in the served root); yields the page once the notebook's kernel is idle."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(CELL_TIMEOUT * 1000)
            page.goto(f"{lab.base}/lab/tree/{relative}?token={lab.token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            wait_for(lambda: lab.kernel_state(relative) == "idle", SERVER_TIMEOUT, "the kernel to be idle")
            yield page
        finally:
            browser.close()


def test_student_notebook_in_a_real_browser(lab, tmp_path):
    notebook = student_copy(lab.root)
    relative = notebook.relative_to(lab.root).as_posix()
    grade_ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(notebook, 4).cells]
    figures_expected = STUDENT_NOTEBOOK.read_text().count('"image/png"')
    assert figures_expected >= 4

    with notebook_page(lab, relative, tmp_path / "chromium-profile") as page:
        cells = page.locator(".jp-Notebook .jp-Cell")
        wait_for(lambda: cells.count() == len(grade_ids), 30, f"{len(grade_ids)} cells in the page")

        # Every figure loads: each <img> of the notebook is complete with a non-zero width.
        page.wait_for_function(
            "() => { const imgs = [...document.querySelectorAll('.jp-Notebook img')];"
            " return imgs.length > 0 && imgs.every(img => img.complete); }"
        )
        images = page.eval_on_selector_all(
            ".jp-Notebook img", "imgs => imgs.map(img => [img.getAttribute('alt'), img.naturalWidth])"
        )
        assert len(images) >= figures_expected, images
        broken = [alt for alt, width in images if width == 0]
        assert broken == [], f"broken images: {broken}"

        for grade_id in CELLS_TO_RUN:
            cell = cells.nth(grade_ids.index(grade_id))
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+Enter")  # run the selected cell, stay on it
            prompt = cell.locator(".jp-InputArea-prompt")
            wait_for(lambda p=prompt: p.inner_text().strip() not in ("[ ]:", "[*]:", ""), CELL_TIMEOUT,
                     f"cell {grade_id!r} to finish")  # fmt: skip
            wait_for(lambda: lab.kernel_state(relative) == "idle", CELL_TIMEOUT, "the kernel to be idle")
            errors = cell.locator(f".jp-OutputArea-output[data-mime-type='{STDERR_MIME}']")
            text = cell.locator(".jp-OutputArea").inner_text()
            assert errors.count() == 0, f"cell {grade_id!r} shows an error or stderr output:\n{text}"
            if grade_id == "identity_block_shape":
                assert SUCCESS_LINE in text, text
                page.wait_for_timeout(300)
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")


class Validation(NamedTuple):
    """What nbgrader's dialog showed after a click on the Validate button."""

    seconds: float  #: from the click to the dialog
    dialog_classes: list[str]  #: nbgrader-SuccessDialog or nbgrader-ErrorDialog, besides jp-Dialog
    title: str
    message_classes: list[str]  #: of the dialog's #validation-message: validation-success, -failed, ...
    text: str  #: the dialog's body
    blocks: list[str]  #: the <pre> blocks of a list of failures: source, error, source, error, ...

    def describe(self) -> str:
        return (
            f"nbgrader's dialog {self.title!r} ({' '.join(self.dialog_classes)}; "
            f"{' '.join(self.message_classes)}) after {self.seconds:.1f} s:\n{self.text[:3000]}"
        )


#: Reads nbgrader's dialog as @jupyter/nbgrader 0.9.6 builds it: the dialog has the class
#: nbgrader-SuccessDialog when no cell failed, nbgrader-ErrorDialog otherwise; its body is the
#: #validation-message element, whose class names the result (validation-success,
#: validation-failed, ...); for each failing cell it holds the line "The following cell failed:",
#: then the cell's source and its error, each in a <pre> inside a .jp-RenderedText.
_READ_DIALOG = """() => {
  const dialog = document.querySelector('.jp-Dialog');
  const message = dialog.querySelector('#validation-message');
  return {
    dialog_classes: [...dialog.classList],
    title: dialog.querySelector('.jp-Dialog-header').innerText.trim(),
    message_classes: message ? [...message.classList] : [],
    text: dialog.querySelector('.jp-Dialog-body').innerText,
    blocks: message ? [...message.querySelectorAll(':scope > .jp-RenderedText > pre')].map(p => p.innerText) : [],
  };
}"""


def validate_in_browser(lab: Lab, notebook: Path, profile: Path, screenshot: Path) -> Validation:
    """Open ``notebook`` (in the served root), click the notebook toolbar's Validate button, wait
    for nbgrader's dialog and save a screenshot of the page to ``screenshot``."""
    relative = notebook.relative_to(lab.root).as_posix()
    with notebook_page(lab, relative, profile) as page:
        # nbgrader's JupyterLab extension adds the button to the toolbar of every notebook: a
        # ToolbarButton with the class validate-button (on its <jp-button>) and the label
        # "Validate". A click checks nbgrader's version with the server, saves the notebook, posts
        # its path to /assignments/validate and shows the answer in a dialog.
        button = page.locator(".jp-NotebookPanel-toolbar .validate-button")
        button.wait_for()
        assert button.inner_text().strip() == "Validate"
        start = time.monotonic()
        button.click()
        page.wait_for_selector(".jp-Dialog", timeout=VALIDATE_WAIT * 1000)
        seconds = time.monotonic() - start
        page.wait_for_timeout(500)  # the dialog's fade-in
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
        shown = page.evaluate(_READ_DIALOG)
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    return Validation(seconds=seconds, **shown)


def public_test_sources(notebook: Path) -> list[str]:
    """The sources of the notebook's graded test cells that run a public test, in order (the
    hidden-test cells hold only a comment until the notebook is graded)."""
    sources = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if line.strip()]
            if any(not line.lstrip().startswith("#") for line in lines):
                sources.append(cell.source.strip())
    return sources


def test_validate_button_passes_the_solved_notebook(student_lab, tmp_path):
    notebook = release_copy(student_lab.root / "resnets", answers=GRADED_FUNCTIONS)
    result = validate_in_browser(student_lab, notebook, tmp_path / "chromium-profile", VALIDATE_SUCCESS_SHOT)
    print(f"\nValidate, solved notebook: nbgrader's dialog after {result.seconds:.1f} s")
    assert result.title == VALIDATE_TITLE, result.describe()
    assert "nbgrader-SuccessDialog" in result.dialog_classes, result.describe()
    assert "validation-success" in result.message_classes, result.describe()
    assert result.text.strip() == VALIDATE_SUCCESS, result.describe()
    assert result.seconds < VALIDATE_BOUND, (
        f"validation took {result.seconds:.1f} s, more than {VALIDATE_BOUND} s: did the "
        f"%%skip_when_grading cells run? {result.describe()}"
    )


def test_validate_button_lists_the_failing_tests(student_lab, tmp_path):
    folder = student_lab.root / "resnets"
    notebook = release_copy(folder)  # as released: every answer cell still raises NotImplementedError
    expected = public_test_sources(notebook)
    for name in GRADED_FUNCTIONS:
        assert any(f"{name}_test({name}" in source for source in expected), (name, expected)
    result = validate_in_browser(student_lab, notebook, tmp_path / "chromium-profile", VALIDATE_FAILURES_SHOT)
    print(f"\nValidate, untouched notebook: nbgrader's dialog after {result.seconds:.1f} s")
    assert result.title == VALIDATE_TITLE, result.describe()
    assert "nbgrader-ErrorDialog" in result.dialog_classes, result.describe()
    assert "validation-failed" in result.message_classes, result.describe()
    # nbgrader names each failing cell by its source, under "The following cell failed:", and shows
    # the error below it: the public test's message first (the answer stub's NotImplementedError
    # and the hint), then only the student's own frame, the stub's line; none of the frames of
    # the public tests (imported from the release folder: the kernel runs in the notebook's
    # folder), of Keras or of TensorFlow; no line longer than the message width.
    assert result.text.count(VALIDATE_FAILED) == len(expected), result.describe()
    sources, errors = result.blocks[0::2], result.blocks[1::2]
    assert [source.strip() for source in sources] == expected, result.describe()
    for source, error in zip(sources, errors, strict=True):
        lines = error.splitlines()
        assert lines[0].startswith("PublicTestFailure: "), f"{source}:\n{error}"
        if "ResNet50_test" in source:  # its given stage 2 calls the unwritten blocks
            assert lines[0].startswith(
                "PublicTestFailure: ResNet50: `identity_block` and `convolutional_block` fail their own"
            ), f"{source}:\n{error}"
            assert len(lines) <= 2, f"{source}:\n{error}"
            continue
        assert "NotImplementedError" in error and "hint: " in error, f"{source}:\n{error}"
        assert "raise NotImplementedError()" in error, f"{source}:\n{error}"
        for library in ("public_tests.py", "test_utils.py", "site-packages", "Traceback"):
            assert library not in error, f"{library} in:\n{error}"
        assert len(lines) <= 12 and max(map(len, lines)) <= REPORT_WIDTH, f"{source}:\n{error}"
    assert result.seconds < VALIDATE_BOUND, (
        f"validation took {result.seconds:.1f} s, more than {VALIDATE_BOUND} s: did the "
        f"%%skip_when_grading cells run? {result.describe()}"
    )
