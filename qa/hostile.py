"""Hostile submissions: attempts to fool, crash or escape the grader, each with its expected outcome.

Every submission starts from the reference solution (full marks) and attacks the grading from one
graded function's cell, whose own work is left undone (a blank function, as in the student
release) unless the entry says otherwise. The expected outcome is what the honest work earns:
0 points for the attacking function, full points for the two others, and a named status.

``python -m qa.hostile`` builds a course, writes the submissions into a folder in
nbgrader's layout, grades them with :mod:`resnets_kit.classgrade` (the instructor's command),
and prints one row per submission: expected and received score, expected and received status,
and whether they agree; then the wall time. It also checks that the project's grading files are
byte-identical before and after, and that no secret leaked: before grading it plants canaries
(:func:`plant_canaries`: random tokens in a course file, a project file, a fake home's ``.ssh``,
the gradebook, another student's submission and the grader's environment), which the ``reader``
submission hunts for; none may appear in any grades CSV, feedback page, autograded notebook or
log. Exit status 0 when everything agrees and nothing leaked, 1 otherwise.

Usage::

    python -m qa.hostile [--work DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from resnets_kit import REPO_ROOT, assignment
from resnets_kit.assignment import GRADED_FUNCTIONS
from resnets_kit.classgrade import cli as classgrade_cli
from resnets_kit.solution import def_line

#: Each graded function's ``def`` line as the notebook declares it (the exercise registry's).
SIGNATURES = {name: def_line(name) for name in GRADED_FUNCTIONS}


def blank(function: str) -> str:
    """The function as the student release has it: not written yet."""
    return f"{SIGNATURES[function]}\n    raise NotImplementedError()\n"


def body_first(function: str, code: str):
    """An edit of a reference answer cell: ``code`` (one or more lines) runs first in the body."""

    def edit(source: str) -> str:
        lines = source.split("\n")
        at = next(
            i for i, line in enumerate(lines) if line.startswith(SIGNATURES[function][:-1].split("(")[0])
        )
        # the body starts after the docstring: insert right after the signature line, indented
        body = ["    " + line for line in code.strip("\n").split("\n")]
        return "\n".join(lines[: at + 1] + body + lines[at + 1 :])

    return edit


@dataclass(frozen=True)
class Hostile:
    """One hostile submission.

    Attributes:
        name: its student id (letters, digits and dashes).
        attack: what it tries, in one line.
        function: the graded function whose cell carries the attack; it earns 0 points.
        cell: the new code of that function's cell, or an edit (a function of the reference
            cell's code) for attacks inside an otherwise correct function.
        status: the expected status in the grades CSV.
        other_cells: ``grade_id`` to the new source of another cell (a test or locked cell), an
            edit of its source, or None to delete the cell.
        needs_isolation: run only where the sandbox has its own namespaces (the attack would
            reach the grader's own processes otherwise).
        zero: whether ``function`` earns 0 points (False: its work is correct and must keep them).
        status_unisolated: the expected status where the sandbox has no namespaces (its writes
            then succeed, and the guard restores the files: ``tampered``), if it differs.
        markdown: a markdown cell the submission adds after the attacking cell, if any.
    """

    name: str
    attack: str
    function: str
    cell: object
    status: str = "graded"
    other_cells: dict = field(default_factory=dict)
    needs_isolation: bool = False
    zero: bool = True
    status_unisolated: str | None = None
    markdown: str | None = None

    def expected_status(self, isolated: bool) -> str:
        """The expected status, with or without the sandbox's namespaces."""
        return self.status if isolated or self.status_unisolated is None else self.status_unisolated


ALWAYS_EQUAL = '''
class AlwaysEqual:
    """Equal to everything, with every attribute a test might read."""
    shape = (3, 4, 4, 3)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    def __iter__(self): return iter([])
    def __len__(self): return 0
    def __array__(self, *args, **kwargs):
        import numpy
        return numpy.zeros((3, 4, 4, 3), dtype="float32")

'''

#: forged-report's ResNet50: correct, but first appends a made-up "done" event for
#: identity_block (every case "built" as a one-layer model) to the sandbox's report.
FORGED = (
    "import json as _json\n"
    "_fake = {'class_name': 'Functional', 'module': 'keras.src.models.functional', 'config': "
    "{'layers': [], 'input_layers': [], 'output_layers': []}}\n"
    "with open('events.jsonl', 'a') as _fh:\n"
    "    _fh.write(_json.dumps({'done': 'identity_block', 'record': {'error': None, "
    "'signature': None, 'cases': {}}}) + '\\n')"
)


#: reader's cell: hunts for secrets (by path, by glob, through ``/proc``, through its modules'
#: ``__file__``, through symbolic links it makes) and raises what it found, so that it reaches its
#: own feedback. Tokens look like ``canary-<place>-<16 hex digits>``.
READER = r"""
import glob, os, re

_found, _tried, _read = [], 0, 0
_pattern = re.compile(r"canary-[a-z_]+-[0-9a-f]{16}")


def _look(text):
    for token in _pattern.findall(text):
        if token not in _found:
            _found.append(token)


def _cat(path):
    global _tried, _read
    _tried += 1
    try:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
    except Exception:
        return ""
    _read += 1
    text = data.decode("latin-1")
    _look(text)
    return text


_roots = ["/", "/root", "/home", "/work", "/srv", "/tmp", "/var", "/opt", "/etc", os.getcwd(),
          os.path.expanduser("~")]
import public_tests, test_utils
for _module in (public_tests, test_utils):
    _here = os.path.dirname(os.path.realpath(_module.__file__))
    _roots += [_here, os.path.dirname(_here), os.path.dirname(os.path.dirname(_here))]
for _pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
    _env = _cat(f"/proc/{_pid}/environ")
    _roots += [v.split("=", 1)[1] for v in _env.split("\0") if v.startswith(("HOME=", "PWD="))]
    _cat(f"/proc/{_pid}/cmdline")
    for _link in ("cwd", "root"):
        try:
            _roots.append(os.readlink(f"/proc/{_pid}/{_link}"))
        except OSError:
            pass
for _i, _target in enumerate(["/", "/root", "/home", "/etc", "/proc/1/root"]):
    try:
        os.symlink(_target, f"link{_i}")
        _roots.append(os.path.abspath(f"link{_i}"))
    except OSError:
        pass
for _path in ["/etc/shadow", "/root/.ssh/id_rsa", "/root/.ssh/id_ed25519", "/root/.bash_history"]:
    _cat(_path)
_skip = ("/proc", "/sys", "/dev", "/usr", "/lib", "/bin", "/sbin", "/boot", "/snap")
_files = 0
for _root in dict.fromkeys(r for r in _roots if r):
    _depth0 = _root.rstrip("/").count("/")
    for _dir, _subdirs, _names in os.walk(_root, followlinks=False):
        if _dir.startswith(_skip) or "site-packages" in _dir or _dir.count("/") - _depth0 > 6:
            _subdirs[:] = []
            continue
        for _name in _names:
            if _files > 20000:
                break
            _files += 1
            _suffixes = (".txt", ".db", ".ipynb", ".json", ".py", ".cfg", "environ")
            if _name.endswith(_suffixes) or "canary" in _name or _dir.endswith(".ssh"):
                _cat(os.path.join(_dir, _name))
_globs = ["/*/.canary*", "/*/*/.canary*", "/*/*/*/.canary*", "/*/*/gradebook.db", "/*/*/*/gradebook.db"]
for _pattern_glob in _globs:
    for _path in glob.glob(_pattern_glob)[:200]:
        _cat(_path)
_look(repr(dict(os.environ)))
raise RuntimeError(
    f"uid {os.getuid()}; / holds {' '.join(sorted(os.listdir('/')))}; tried {_tried} reads, "
    f"{_read} succeeded; secrets found: {', '.join(_found) or 'none'}; environment: {sorted(os.environ)}"
)
"""

#: writer's cell: tries to write next to every file it can name, then raises where it could.
WRITER = r"""
import os
import public_tests, test_utils
_wrote = []
_targets = ["/grader-probe", "/usr/probe", "/etc/probe", "/root/probe", "/tmp/../probe",
            public_tests.__file__, test_utils.__file__, public_tests.REFERENCE_FILE]
for _pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        _cwd = os.readlink(f"/proc/{_pid}/cwd")
    except OSError:
        continue
    if not _cwd.startswith(os.getcwd()):  # another process's folder, not this sandbox's own
        _targets.append(os.path.join(_cwd, "probe.txt"))
for _target in _targets:
    try:
        with open(_target, "a") as fh:
            fh.write("# written by a submission\n")
        _wrote.append(str(_target))
    except OSError:
        pass
raise RuntimeError(f"wrote to: {', '.join(_wrote) or 'nothing outside my folder'}")
"""

#: reference-thief's cell: looks for the reference identity_block in the sandbox's memory (every
#: function object, and the locals of every frame up the stack) and returns what it builds.
REFERENCE_THIEF = (
    "import gc, sys, types\n\n"
    + SIGNATURES["identity_block"]
    + """
    found = [o for o in gc.get_objects() if isinstance(o, types.FunctionType)
             and o.__name__ == "identity_block" and o.__code__.co_filename.startswith("<reference")]
    frame = sys._getframe()
    while frame is not None and not found:
        found = [v["identity_block"] for v in frame.f_locals.values()
                 if isinstance(v, dict) and callable(v.get("identity_block"))
                 and v["identity_block"] is not identity_block]
        frame = frame.f_back
    if not found:
        raise RuntimeError("no reference identity_block in this process")
    return found[0](X, f, filters, training=training, initializer=initializer)
"""
)

#: html-injection's payload: active HTML in a markdown cell and in an error message. Neither may
#: reach a feedback page as HTML (:data:`ACTIVE_HTML` finds it there: a live tag, not escaped text).
HTML_PAYLOAD = "<script>alert('resnets-xss')</script><img src=x onerror=\"alert('resnets-xss')\">"
ACTIVE_HTML = re.compile(r"<script[^<>]*>\s*alert\('resnets-xss'\)|<[a-z]+[^<>]*\sonerror=")

#: fork-bomb's body: forks without end (each child forks too).
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"


HOSTILE: tuple[Hostile, ...] = (
    Hostile(
        "always-equal",
        "returns an object whose __eq__ is always true (and that looks like any array)",
        "identity_block",
        ALWAYS_EQUAL + SIGNATURES["identity_block"] + "\n    return AlwaysEqual()\n",
    ),
    Hostile(
        "patched-numpy",
        "patches numpy.allclose, numpy.isclose and numpy.array_equal to always agree",
        "identity_block",
        "import numpy as np\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(b), dtype=bool)\n"
        "np.array_equal = lambda *a, **k: True\n\n" + blank("identity_block"),
    ),
    Hostile(
        "patched-testing",
        "patches numpy.testing's assertions to do nothing",
        "convolutional_block",
        "import numpy.testing\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n\n" + blank("convolutional_block"),
    ),
    Hostile(
        "patched-builtins",
        "patches builtins.abs, builtins.print and AssertionError",
        "identity_block",
        "import builtins\n"
        "builtins.abs = lambda x: 0\n"
        "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "builtins.print = lambda *a, **k: None\n\n" + blank("identity_block"),
    ),
    Hostile(
        "redefined-tests",
        "redefines the public and hidden test functions to print success",
        "identity_block",
        "import public_tests\n"
        "import resnets_kit.grader.hidden\n"
        "def _passed(*args, **kwargs):\n"
        "    print('identity_block_test: all 4 checks passed')\n"
        "public_tests.identity_block_test = _passed\n"
        "resnets_kit.grader.hidden.hidden_test = _passed\n"
        "identity_block_test = _passed\n"
        "hidden_test = _passed\n\n" + blank("identity_block"),
    ),
    Hostile(
        "edited-locked-cell",
        "replaces its test cells (locked) by a printed success line",
        "identity_block",
        blank("identity_block"),
        other_cells={
            "identity_block_shape": "print('identity_block_test: the check passed (signature; output shape).')",
            "identity_block_layers": "print('identity_block_test: the check passed.')",
        },
    ),
    Hostile(
        "deleted-test-cells",
        "deletes two of its test cells (they are added back and graded: its work is correct)",
        "convolutional_block",
        lambda source: source,
        other_cells={"convolutional_block_hidden": None, "convolutional_block_training": None},
        zero=False,
    ),
    Hostile(
        "fake-print",
        "prints the success lines of every test",
        "identity_block",
        "print('identity_block_test: all 4 checks passed')\n"
        "print('All tests passed!')\n\n" + blank("identity_block"),
    ),
    Hostile(
        "input-transformer",
        "registers an IPython input transformer that blanks every later cell",
        "identity_block",
        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n\n"
        + blank("identity_block"),
    ),
    Hostile(
        "sys-exit",
        "calls sys.exit() inside the function",
        "ResNet50",
        body_first("ResNet50", "import sys\nsys.exit(0)"),
    ),
    Hostile(
        "os-exit",
        "calls os._exit() inside the function, ending the process",
        "convolutional_block",
        body_first("convolutional_block", "import os\nos._exit(0)"),
        status="crashed",
    ),
    Hostile(
        "infinite-loop",
        "loops forever inside the function",
        "identity_block",
        body_first("identity_block", "while True:\n    pass"),
        status="timeout",
    ),
    Hostile(
        "memory-bomb",
        "allocates memory until something stops it",
        "identity_block",
        body_first("identity_block", "hog = []\nwhile True:\n    hog.append(bytearray(2**28))"),
        status="out_of_memory",
    ),
    Hostile(
        "huge-allocation",
        "asks for a terabyte at once",
        "convolutional_block",
        body_first("convolutional_block", "hog = bytearray(2**40)"),
        status="out_of_memory",
    ),
    Hostile(
        "output-flood",
        "prints without end when its cell runs",
        "identity_block",
        "while True:\n    print('All tests passed! ' * 1000)\n\n" + blank("identity_block"),
        status="timeout",
    ),
    Hostile(
        "file-flood",
        "writes a 1 GiB file inside the function (the write fails at the 64 MiB file-size limit)",
        "ResNet50",
        body_first("ResNet50", "with open('flood.bin', 'wb') as fh:\n    fh.write(b'0' * 2**30)"),
    ),
    Hostile(
        "gradebook-write",
        "sets every score in the course's gradebook to 100 with sqlite3",
        "identity_block",
        "import sqlite3\n"
        "try:\n"
        "    db = sqlite3.connect(GRADEBOOK)\n"
        "    db.execute('UPDATE grade SET auto_score = 100')\n"
        "    db.commit()\n"
        "except Exception:\n"
        "    pass\n\n" + blank("identity_block"),
        status_unisolated="tampered",
    ),
    Hostile(
        "overwrite-tests",
        "overwrites the project's test files with tests that always pass",
        "identity_block",
        "import public_tests, test_utils, resnets_kit.grader.hidden, resnets_kit.grader.checks\n"
        "for module in (public_tests, test_utils, resnets_kit.grader.hidden, resnets_kit.grader.checks):\n"
        "    try:\n"
        "        with open(module.__file__, 'a') as fh:\n"
        "            fh.write('\\nidentity_block_test = hidden_test = lambda *a, **k: None\\n')\n"
        "    except OSError:\n"
        "        pass\n\n" + blank("identity_block"),
        status_unisolated="tampered",
    ),
    Hostile(
        "hard-coded-outputs",
        "returns the public test's expected output, read from reference_outputs.json",
        "identity_block",
        "import json\n"
        "import public_tests\n"
        "_ref = json.loads(public_tests.REFERENCE_FILE.read_text())\n\n"
        + SIGNATURES["identity_block"]
        + "\n    return keras.ops.convert_to_tensor(np.array(_ref['identity_block']['cases'][0]['output']))\n",
    ),
    Hostile(
        "forged-report",
        "writes a made-up result for identity_block into the sandbox's report",
        "identity_block",
        blank("identity_block"),
        other_cells={"ResNet50": body_first("ResNet50", FORGED)},
    ),
    Hostile(
        "lingering-thread",
        "starts a thread that never ends and keeps rewriting the sandbox's report",
        "identity_block",
        "import threading\n\n"
        "def _forever():\n"
        "    while True:\n"
        "        with open('events.jsonl', 'a') as fh:\n"
        "            fh.write('not json\\n')\n\n"
        "threading.Thread(target=_forever).start()\n\n" + blank("identity_block"),
    ),
    Hostile(
        "misdirected-blame",
        "reports a made-up start of ResNet50 and a junk result for convolutional_block, then exits",
        "identity_block",
        "import json, os\n"
        "with open('events.jsonl', 'a') as fh:\n"
        "    fh.write(json.dumps({'start': 'convolutional_block', 'step': 'check'}) + '\\n')\n"
        "    fh.write(json.dumps({'done': 'convolutional_block', 'record': {'error': 'junk'}}) + '\\n')\n"
        "    fh.write(json.dumps({'start': 'ResNet50', 'step': 'check'}) + '\\n')\n"
        "os._exit(0)\n\n" + blank("identity_block"),
        status="crashed",
    ),
    Hostile(
        "kill-all",
        "sends SIGKILL to every process it can reach (kill -9 -1): in its PID namespace, none",
        "ResNet50",
        body_first("ResNet50", "import os, signal\nos.kill(-1, signal.SIGKILL)"),
        needs_isolation=True,
    ),
    Hostile(
        "reader",
        "hunts for secret files (by path, glob, /proc, its modules' __file__, symlinks) and raises what it read",
        "identity_block",
        READER + "\n" + blank("identity_block"),
    ),
    Hostile(
        "writer",
        "tries to write to the project's files, /usr, /etc, /root and the grader's working folders",
        "convolutional_block",
        WRITER + "\n" + blank("convolutional_block"),
        needs_isolation=True,
    ),
    Hostile(
        "reference-thief",
        "calls the reference identity_block, found in the sandbox's memory or up the stack",
        "identity_block",
        REFERENCE_THIEF,
    ),
    Hostile(
        "html-injection",
        "adds a markdown cell with a script and an onerror handler, and raises the same HTML",
        "identity_block",
        f"raise RuntimeError({HTML_PAYLOAD!r})\n\n" + blank("identity_block"),
        markdown=f"My notes {HTML_PAYLOAD}",
    ),
    Hostile(
        "fork-bomb",
        "forks without end inside the function",
        "identity_block",
        body_first("identity_block", FORK_BOMB),
        status="process_limit",
        needs_isolation=True,
    ),
)


def make_notebook(hostile: Hostile, source_notebook: Path, gradebook: Path) -> nbformat.NotebookNode:
    """The submission's notebook, from the course's source notebook (the reference solution)."""
    nb = nbformat.read(source_notebook, as_version=4)
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == hostile.function:
            cell.source = hostile.cell(cell.source) if callable(hostile.cell) else hostile.cell
            cell.source = cell.source.replace("GRADEBOOK", repr(str(gradebook)))
            if hostile.markdown is not None:
                cells += [cell, nbformat.v4.new_markdown_cell(hostile.markdown)]
                continue
        elif grade_id in hostile.other_cells:
            new = hostile.other_cells[grade_id]
            if new is None:
                continue
            cell.source = new(cell.source) if callable(new) else new
        cells.append(cell)
    nb.cells = cells
    return nb


def expected_scores(hostile: Hostile) -> dict[str, float]:
    """Points per graded function that the submission's honest work earns."""
    points = assignment.points()
    return {f: 0.0 if (f == hostile.function and hostile.zero) else points[f] for f in GRADED_FUNCTIONS}


def fingerprint() -> dict[str, str]:
    """sha256 of the project's grading files (modules, references, notebooks)."""
    package = REPO_ROOT / "resnets_kit"
    files = [
        *REPO_ROOT.glob("*.py"),
        *REPO_ROOT.glob("*.json"),
        *package.rglob("*.py"),
        *package.rglob("*.json"),
    ]
    files += [*(REPO_ROOT / "resnets_kit").glob("*.json"), *(REPO_ROOT / "notebooks").glob("*.ipynb")]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)}


#: The places :func:`plant_canaries` puts a secret token.
CANARY_PLACES = ("course", "project", "home", "gradebook", "other_student", "environment")
#: The environment variable of the grading process that holds a canary.
SECRET_VARIABLE = "RESNETS_GRADER_SECRET"


@dataclass
class Canaries:
    """Planted secrets: ``tokens`` (place to token), the ``files`` holding them (not searched for
    leaks), and the environment variables changed (name to the previous value, None if unset)."""

    tokens: dict[str, str]
    files: list[Path]
    environment: dict[str, str | None]


def plant_canaries(work: Path, course_root: Path) -> Canaries:
    """Plant a random token in each of :data:`CANARY_PLACES`: a file in the course folder, a
    file in the project folder, a fake home's ``.ssh`` (``HOME`` then points there), a table of
    the course's ``gradebook.db``, another student's submitted notebook, and the environment
    variable :data:`SECRET_VARIABLE`. Undo with :func:`remove_canaries`."""
    tokens = {place: f"canary-{place}-{secrets.token_hex(8)}" for place in CANARY_PLACES}
    course_file = course_root / "instructor-notes.txt"
    course_file.write_text(f"answer key: {tokens['course']}\n")
    project_file = REPO_ROOT / f".canary-{secrets.token_hex(4)}.txt"
    project_file.write_text(f"deploy key: {tokens['project']}\n")
    home = work / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_ed25519"
    key.write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{tokens['home']}\n")
    gradebook = course_root / "gradebook.db"
    with sqlite3.connect(gradebook) as db:
        db.execute("CREATE TABLE IF NOT EXISTS canary (token TEXT)")
        db.execute("INSERT INTO canary VALUES (?)", (tokens["gradebook"],))
    from resnets_kit import course

    other = course_root / "submitted" / "other-student" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    other.parent.mkdir(parents=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {tokens['other_student']}")])
    nbformat.write(notebook, other)
    environment = {name: os.environ.get(name) for name in ("HOME", SECRET_VARIABLE)}
    os.environ["HOME"] = str(home)
    os.environ[SECRET_VARIABLE] = tokens["environment"]
    return Canaries(tokens, [course_file, project_file, key, gradebook, other], environment)


def remove_canaries(canaries: Canaries) -> None:
    """Remove the planted files outside the work folder and restore the environment."""
    for path in canaries.files:
        if path.is_relative_to(REPO_ROOT):
            path.unlink(missing_ok=True)
    for name, value in canaries.environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def leaks(canaries: Canaries, folders: list[Path]) -> list[str]:
    """Every planted token found in a file under ``folders`` (grades, feedback, autograded
    notebooks, logs) other than the files that hold it: ``"<place> in <file>"``."""
    found = []
    planted = {p.resolve() for p in canaries.files}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.is_symlink() or path.resolve() in planted:
                continue
            if "home" in path.relative_to(folder).parts[:1]:
                continue
            data = path.read_bytes()
            # also with white space (and JSON's escaped newlines) removed: reports wrap long
            # lines, which may cut a token
            joined = re.sub(rb"\s+|\\n", b"", data)
            found += [
                f"{place} in {path}"
                for place, token in canaries.tokens.items()
                if token.encode() in data or token.encode() in joined
            ]
    return found


def feedback_excerpt(course_root: Path, student_id: str, grade_id: str) -> str:
    """The text a student reads for a test cell in the autograded notebook (empty if none)."""
    from resnets_kit import course

    path = course_root / "autograded" / student_id / course.ASSIGNMENT / course.NOTEBOOK_NAME
    if not path.is_file():
        return ""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(o.get("evalue") or o.get("text") or "" for o in cell.get("outputs", []))
    return ""


@dataclass
class SuiteResult:
    """The hostile suite's result: one row per submission, the wall time of grading the batch
    (seconds), the project files that changed, the leaked tokens (see :func:`leaks`), what the
    ``reader`` and ``writer`` submissions read in their feedback (name to text), and the feedback
    pages that hold active HTML from a submission (:data:`ACTIVE_HTML`)."""

    rows: list[dict]
    wall: float
    changed: list[str]
    leaks: list[str]
    excerpts: dict[str, str]
    active_html: list[str] = field(default_factory=list)


def selected(only: list[str] | None = None) -> list[Hostile]:
    """The hostile submissions to run: all (or those named), those needing isolation only where
    the sandbox is isolated."""
    from resnets_kit.grader.isolation import isolation_available

    chosen = [h for h in HOSTILE if not only or h.name in only]
    if not isolation_available():
        chosen = [h for h in chosen if not h.needs_isolation]
    return chosen


def run(
    work: Path, only: list[str] | None = None, timeout: float = 300, step_timeout: float = 20
) -> SuiteResult:
    """Build a course, plant canaries, grade the hostile submissions with grade_class, compare
    with expectations and look for leaked secrets.

    Args:
        work: an empty folder for the course, the submissions and the grades.
        only: names of the submissions to run (default: all).
        timeout: wall-time limit of one submission (grade_class's ``--timeout``), seconds.
        step_timeout: the sandbox's limit per graded function, seconds (the course default is 60).

    Returns:
        A :class:`SuiteResult`.
    """
    from resnets_kit import course
    from resnets_kit.grader.isolation import isolation_available

    before = fingerprint()
    root = course.fresh_course(work)
    with open(root / "nbgrader_config.py", "a") as fh:  # endless loops are cut sooner than by default
        fh.write(f"\nc.TrustedGrade.step_timeout = {step_timeout}\n")
    course.generate(root)
    source = root / "source" / course.ASSIGNMENT / course.NOTEBOOK_NAME
    submissions = work / "submitted"
    chosen = selected(only)
    isolated = isolation_available()
    for hostile in chosen:
        folder = submissions / hostile.name / course.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make_notebook(hostile, source, root / "gradebook.db"), folder / course.NOTEBOOK_NAME)
    out = work / "grades.csv"
    canaries = plant_canaries(work, root)
    try:
        start = time.monotonic()
        results = classgrade_cli.grade_class(submissions, root, out, work / "feedback", timeout=timeout)
        wall = time.monotonic() - start
    finally:
        remove_canaries(canaries)
    by_id = {r.student_id: r for r in results}
    rows = []
    for hostile in chosen:
        result = by_id[hostile.name]
        expected = expected_scores(hostile)
        received = {
            f: sum(p for g, p in result.scores.items() if assignment.exercise_of(g) == f)
            for f in GRADED_FUNCTIONS
        }
        status = hostile.expected_status(isolated)
        ok = result.status == status and all(abs(received[f] - expected[f]) < 1e-9 for f in GRADED_FUNCTIONS)
        rows.append(
            {
                "name": hostile.name,
                "attack": hostile.attack,
                "expected": sum(expected.values()),
                "received": sum(received.values()),
                "expected_status": status,
                "status": result.status,
                "detail": result.detail,
                "ok": ok,
            }
        )
    after = fingerprint()
    changed = sorted(p for p in before if before[p] != after.get(p))
    excerpts = {
        h.name: feedback_excerpt(root, h.name, _first_grade_id(h.function))
        for h in chosen
        if h.name in ("reader", "writer")
    }
    pages = [p for p in sorted(work.rglob("*.html")) if ACTIVE_HTML.search(p.read_text())]
    return SuiteResult(rows, wall, changed, leaks(canaries, [work]), excerpts, [str(p) for p in pages])


def _first_grade_id(function: str) -> str:
    """The ``grade_id`` of a graded function's first test cell."""
    from resnets_kit.grader.plan import grading_plan

    return next(g for g, cell in grading_plan().items() if cell.function == function)


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 unless every submission got its expected score and status."""
    parser = argparse.ArgumentParser(prog="python -m qa.hostile", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--work", type=Path, help="folder for the course and submissions (default: temporary)"
    )
    parser.add_argument("--only", nargs="*", help="run only these submissions")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hostile_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        suite = run(work, args.only)
    rows, wall, changed = suite.rows, suite.wall, suite.changed
    print()
    print(
        "| submission | attack | expected score | received score | expected status | received status | agrees |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['name']} | {row['attack']} | {row['expected']:g} | {row['received']:g} | "
            f"{row['expected_status']} | {row['status']} | {'yes' if row['ok'] else 'NO'} |"
        )
    agree = sum(row["ok"] for row in rows)
    print(f"\n{agree}/{len(rows)} hostile submissions got exactly their expected score and status")
    print(f"grading the suite: {wall:.1f} s wall time ({wall / max(len(rows), 1):.1f} s per submission)")
    print("project files unchanged" if not changed else f"CHANGED project files: {changed}")
    print(
        f"no planted secret leaked ({len(CANARY_PLACES)} canaries)"
        if not suite.leaks
        else f"LEAKED secrets: {suite.leaks}"
    )
    print(
        "no feedback page holds a submission's active HTML"
        if not suite.active_html
        else f"ACTIVE HTML from a submission in: {suite.active_html}"
    )
    for name, text in suite.excerpts.items():
        print(f"\nfeedback of {name}:\n{text}")
    return 0 if agree == len(rows) and not changed and not suite.leaks and not suite.active_html else 1


if __name__ == "__main__":
    sys.exit(main())
