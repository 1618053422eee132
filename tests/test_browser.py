"""The student's experience in a real browser.

The test starts JupyterLab from this environment on 127.0.0.1 with a random free port and a random
token, serving a temporary copy of the student notebook (``notebooks/Residual_Networks.ipynb``) and
of ``images/``, and opens the notebook in headless Chromium (Debian's ``chromium`` package at
``/usr/bin/chromium``, driven by Playwright; no browser is downloaded). In the copy, the answer
cell of ``identity_block`` holds the reference solution. The test checks that every figure of
the notebook loads (no broken image), runs the setup cell, the data-loading cell, the
``identity_block`` cell and its first public test through the browser, checks that none of them
shows an error or stderr output and that the test prints its success line, and saves a
screenshot to ``runs/browser/student_notebook.png``.

The notebook's kernel imports the project's modules from this checkout (``PYTHONPATH``) and reads
the SIGNS files in ``datasets/``. Skipped, with the reason, when ``/usr/bin/chromium``, the
``playwright`` package or the SIGNS files are missing; ``.ci/run`` installs Chromium first.
"""

from __future__ import annotations

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

import nbformat
import pytest

from resnets_kit import REPO_ROOT
from resnets_kit.course import NOTEBOOK_NAME, STUDENT_NOTEBOOK
from resnets_kit.solution import solution_sources

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


def _requirements() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y --no-install-recommends chromium); .ci/run does this"
        )
    pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed (requirements.txt)"
    )
    if not (REPO_ROOT / "datasets" / "train_signs.h5").exists():
        pytest.skip("no SIGNS files in datasets/; run `python -m resnets_kit.data` first")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (JupyterLab is told not to try others)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def student_copy(root: Path) -> Path:
    """Copy the student notebook (into ``root/notebooks/``) and ``images/`` into ``root``; fill
    the identity_block answer cell with the reference solution. Returns the copied notebook."""
    (root / "notebooks").mkdir()
    path = root / "notebooks" / NOTEBOOK_NAME
    shutil.copy2(STUDENT_NOTEBOOK, path)
    shutil.copytree(REPO_ROOT / "images", root / "images")
    nb = nbformat.read(path, as_version=4)
    answer = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "identity_block"]
    assert len(answer) == 1 and "raise NotImplementedError()" in answer[0].source
    answer[0].source = solution_sources()["identity_block"]
    nbformat.write(nb, path)
    return path


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


class Lab:
    """A JupyterLab server on 127.0.0.1 serving ``root``, isolated from the user's settings."""

    def __init__(self, root: Path, home: Path):
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
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            IPYTHONDIR=str(home / "ipython"),
            TF_CPP_MIN_LOG_LEVEL="2",
        )
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


@pytest.fixture
def lab(tmp_path):
    _requirements()
    root = tmp_path / "root"
    root.mkdir()
    server = Lab(root, tmp_path / "home")
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def test_student_notebook_in_a_real_browser(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    notebook = student_copy(lab.root)
    relative = notebook.relative_to(lab.root).as_posix()
    grade_ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(notebook, 4).cells]
    figures_expected = STUDENT_NOTEBOOK.read_text().count('"image/png"')
    assert figures_expected >= 4

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a new, empty user data dir
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
        finally:
            browser.close()
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")
