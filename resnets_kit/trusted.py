"""Grading that a submission cannot fool: student code and the checks never share a process.

nbgrader's own autograde runs a submission's code and the tests in one kernel, so the code can
make the tests pass without solving anything (an object whose ``__eq__`` is always true, a
patched ``numpy.allclose`` or ``builtins``, redefined test functions, an input transformer that
blanks later cells, a printed "All tests passed"). Here a submission is graded in three steps:

1. **Sandbox** (:mod:`resnets_kit.sandbox`, a fresh process that runs student code): the
   notebook's graded answer cells (``identity_block``, ``convolutional_block``, ``ResNet50``,
   found by their nbgrader ``grade_id``) are executed after the *source* notebook's setup cell,
   and each function is called on every public and hidden test case. The process reports only
   data: the JSON configuration of each Keras model built, or the error raised. It runs with no
   standard input or output, in an empty temporary folder, under limits: ``step_timeout``
   seconds of wall time per function, ``memory_limit`` bytes of resident memory (its whole
   process tree, polled every 0.1 s; also an address-space limit as a backstop), 64 MiB per
   written file. Where Linux allows it (root, or unprivileged user namespaces; checked by
   :func:`isolation_available`), it also runs in new mount, PID and network namespaces
   (``unshare`` and ``setpriv`` from util-linux): every file system is read-only except its own
   folder, it sees and can signal only its own processes, it has no network, and it holds no
   capabilities. The three functions first run in one sandbox; when it does not end normally,
   each function without a report runs again in a sandbox of its own (its cell only), so a
   crash, endless loop or memory bomb is charged to the function that caused it: it gets the
   verdict ``timeout``, ``out_of_memory`` or ``crashed`` (the process ended without reporting,
   e.g. ``os._exit``), and the honest parts of a submission still earn their points. The
   report is treated as forgeable data: a record counts only when it follows the start of that
   function's own check, and whatever it says is checked like any other.
2. **Guard** (only where namespaces are not available): files the grading relies on (the
   project's modules and references, the site packages' ``*.pth`` and ``*customize.py`` files,
   the course's configuration, source folder and gradebook) are snapshotted before the sandbox
   starts; anything it changed, deleted or added there is restored or removed afterwards and
   reported with the verdict ``tampered``. Without namespaces the sandbox runs as the grader's
   user: it can still reach files the guard does not watch and other processes of that user,
   so grade untrusted submissions as root, in a container, or where user namespaces are on.
3. **Checks** (``python -I -m resnets_kit.trusted serve``, a fresh process that runs no student
   code, started with the sandbox): every recorded configuration is validated against an
   allow-list of built-in Keras layers and operations, rebuilt with
   ``keras.saving.deserialize_keras_object(..., safe_mode=True)`` and checked by the project's
   own ``public_tests`` and hidden tests (the same checks and messages as in the notebook;
   values are recomputed from the rebuilt model with the seeded initializers of the test
   cases). Test files in the student's folder are never read. In an isolated sandbox each
   function's record is checked as soon as the sandbox reports it (the blocks' checks run
   while it still builds ResNet50); the outcome counts only if the run ends normally with that
   same record.

Which checks a grade cell runs is read from the cell's code in the project's source notebook
(:func:`grading_plan`): ``identity_block_test(identity_block, checks="shape")`` or
``hidden_test("identity_block", identity_block)``.

nbgrader stays the instructor's interface: :class:`TrustedGrade` replaces nbgrader's
``Execute`` step of ``nbgrader autograde`` (see ``course/nbgrader_config.py``) and writes each
test cell's result as that cell's output (the success line, or an error with the check's
message), which nbgrader then scores, stores in the gradebook and shows in the feedback. Other
cells are not run and keep no output.

Command line::

    python -m resnets_kit.trusted grade NOTEBOOK      # grade one notebook; print each test cell's result
    python -m resnets_kit.trusted check RECORDS OUT   # the check step alone, on saved records
    python -m resnets_kit.trusted serve FOLDER        # the check process of ``grade`` (internal)
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from resnets_kit import REPO_ROOT
from resnets_kit.solution import GRADED_FUNCTIONS, SETUP_CELL, SOURCE_NOTEBOOK, solution_sources

#: Default wall-time limit of one graded function in the sandbox (seconds).
DEFAULT_STEP_TIMEOUT = 60.0
#: Default limit of the sandbox's resident memory, its whole process tree (bytes).
DEFAULT_MEMORY_LIMIT = 4 * 2**30
#: Largest file the sandbox may write (bytes).
FILE_SIZE_LIMIT = 64 * 2**20
#: Time allowed for starting Python and TensorFlow before any student code runs (seconds).
START_TIMEOUT = 120.0
#: Time allowed for the check step (seconds).
CHECK_TIMEOUT = 300.0
#: Verdicts of a graded function, besides ``None`` (it ran and was checked).
VERDICTS = ("timeout", "out_of_memory", "crashed", "tampered")
#: The ``ename`` of the error output a test cell gets for each verdict (read by grade_class).
VERDICT_ERRORS = {
    "timeout": "TimeLimitExceeded",
    "out_of_memory": "MemoryLimitExceeded",
    "crashed": "SandboxCrashed",
    "tampered": "TamperingDetected",
}
_POLL = 0.1


class GradingError(RuntimeError):
    """The grading itself failed (not the submission): the message says what to fix."""


# --- What each grade cell checks --------------------------------------------------------------


@dataclass(frozen=True)
class CellCheck:
    """What one test cell checks: a graded function, which checks, public or hidden cases."""

    function: str
    checks: tuple[str, ...] | None
    hidden: bool
    part: str | None = None


def parse_test_cell(source: str) -> CellCheck | None:
    """Read which checks a test cell runs from its code, or None if it calls no test.

    Recognised calls: ``<function>_test(<function>, checks=..., part=...)`` (``checks`` a string
    literal or a list or tuple of them; absent: all checks; ``part``, for ResNet50, a string
    literal naming the part of the network whose layers are checked) and
    ``hidden_test("<function>", <function>)``.

    Raises:
        ValueError: the cell calls a test in another form.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"test cell is not valid Python: {err}") from err
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        name = node.func.id
        if name == "hidden_test":
            if not node.args or not isinstance(node.args[0], ast.Constant):
                raise ValueError("hidden_test must be called with the function's name as a literal")
            return CellCheck(node.args[0].value, None, True)
        if name.endswith("_test") and name[: -len("_test")] in GRADED_FUNCTIONS:
            checks, part = None, None
            for keyword in node.keywords:
                if keyword.arg == "checks":
                    value = ast.literal_eval(keyword.value)
                    checks = (value,) if isinstance(value, str) else tuple(value)
                if keyword.arg == "part":
                    part = ast.literal_eval(keyword.value)
            return CellCheck(name[: -len("_test")], checks, False, part)
    return None


def grading_plan(path: Path = SOURCE_NOTEBOOK) -> dict[str, CellCheck]:
    """``grade_id`` to :class:`CellCheck` for every autograded test cell of the source notebook.

    Raises:
        ValueError: a grade cell calls no test, or in a form :func:`parse_test_cell` cannot read.
    """
    import nbformat  # here, not at the top: its import takes ~2 s the check process does not need

    notebook = nbformat.read(path, as_version=4)
    plan = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            check = parse_test_cell(cell.source)
            if check is None:
                raise ValueError(f"grade cell {meta.get('grade_id')!r} calls no test")
            plan[meta["grade_id"]] = check
    return plan


def answer_cells(notebook) -> dict[str, str]:
    """The code of the graded answer cells of a notebook (nbgrader ``solution`` cells whose
    ``grade_id`` is a graded function's name); a deleted cell is absent from the result."""
    cells = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id") in GRADED_FUNCTIONS:
            cells[meta["grade_id"]] = cell.source
    return cells


def python_source(cell_source: str) -> str:
    """A notebook cell's code as plain Python (IPython magics become ``get_ipython()`` calls,
    which fail in the sandbox like any other error)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(cell_source)
    except Exception:
        return cell_source


# --- Running a process under limits -----------------------------------------------------------


def _tree(pid: int):
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _rss(processes) -> int:
    import psutil

    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_tree(process: subprocess.Popen, token: str | None = None) -> None:
    """Kill a process, its process group, every descendant and (with ``token``) every process
    whose environment carries ``RESNETS_SANDBOX=<token>`` (one that left the tree)."""
    import psutil

    victims = _tree(process.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if token:
        for candidate in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if candidate.environ().get("RESNETS_SANDBOX") == token:
                    victims.append(candidate)
    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


#: Shell code run inside the sandbox's new namespaces before Python: keep the sandbox's folder
#: ($1) writable, make every other mount read-only, drop all capabilities, then run the command.
_ISOLATE = r"""
rw="$1"; shift
mount --bind "$rw" "$rw" || exit 111
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  [ "$m" = "$rw" ] && continue
  case "$m" in /proc|/proc/*) continue;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null
done
touch /.resnets-write-test 2>/dev/null && exit 112
cd "$PWD" || exit 113
exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@"
"""


def _unshare_args() -> list[str]:
    args = ["unshare", "--mount", "--pid", "--fork", "--net", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        args.insert(1, "--map-root-user")
    return args


_ISOLATION: dict[str, bool] = {}


def isolation_available() -> bool:
    """Whether the sandbox can run in its own mount, PID and network namespaces (``unshare``
    and ``setpriv`` from util-linux; root, or unprivileged user namespaces), with every file
    system read-only but its own folder. Checked once per process."""
    if "ok" not in _ISOLATION:
        # RESNETS_SANDBOX_ISOLATION=off runs the sandbox without namespaces (to try the guard).
        ok = bool(shutil.which("unshare") and shutil.which("setpriv"))
        ok = ok and os.environ.get("RESNETS_SANDBOX_ISOLATION", "").lower() != "off"
        if ok:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    done = subprocess.run(
                        [
                            *_unshare_args(),
                            "--",
                            "sh",
                            "-c",
                            _ISOLATE,
                            "sh",
                            tmp,
                            "sh",
                            "-c",
                            f"touch {tmp}/ok",
                        ],
                        capture_output=True,
                        timeout=30,
                    )
                    ok = done.returncode == 0 and (Path(tmp) / "ok").exists()
                except (OSError, subprocess.SubprocessError):
                    ok = False
        _ISOLATION["ok"] = ok
    return _ISOLATION["ok"]


def isolated(command: list[str], writable: Path) -> list[str]:
    """``command`` wrapped to run in new namespaces with only ``writable`` writable."""
    return [*_unshare_args(), "--", "sh", "-c", _ISOLATE, "sh", str(writable), *command]


def _limits(memory_limit: int):
    """The function that sets the sandbox's resource limits in the child before it starts."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        address_space = memory_limit + 8 * 2**30  # TensorFlow reserves address space it never uses
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return apply


@dataclass
class Watched:
    """How a watched process ended: ``returncode`` (None: it was killed), ``reason`` (None,
    ``"timeout"`` or ``"out_of_memory"``), and the wall time in seconds."""

    returncode: int | None
    reason: str | None
    seconds: float
    peak_rss: int = 0


def run_watched(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    deadline,
    memory_limit: int,
    token: str | None = None,
) -> Watched:
    """Run a command without standard streams, polling it until it ends or breaks a limit.

    Args:
        args: the command.
        cwd: its working folder.
        env: its whole environment.
        deadline: a function of no argument returning the current time limit as a
            ``time.monotonic()`` value (it may move as the process reports progress).
        memory_limit: largest resident memory of the process tree, bytes.
        token: the sandbox's token, to find processes that left the tree.

    Returns:
        A :class:`Watched`; the process and all it started are dead.
    """
    start = time.monotonic()
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_limits(memory_limit),
    )
    reason = None
    peak = 0
    while True:
        try:
            returncode = process.wait(timeout=_POLL)
            break
        except subprocess.TimeoutExpired:
            pass
        rss = _rss(_tree(process.pid))
        peak = max(peak, rss)
        if rss > memory_limit:
            reason = "out_of_memory"
        elif time.monotonic() > deadline():
            reason = "timeout"
        if reason:
            kill_tree(process, token)
            returncode = None
            break
    if token:
        kill_tree(process, token)  # anything it left running
    return Watched(returncode, reason, time.monotonic() - start, peak)


# --- The guard against changed files ---------------------------------------------------------


class FileGuard:
    """Snapshot of files the grading relies on; :meth:`restore` undoes any change to them.

    Args:
        files: files whose bytes are kept (changed or deleted ones are written back).
        folders: folders (not recursive) where a new file is removed, given with the file-name
            patterns watched there.
    """

    def __init__(self, files: list[Path], folders: list[tuple[Path, tuple[str, ...]]]):
        self.saved = {path: path.read_bytes() for path in files if path.is_file()}
        self.folders = folders
        self.listing = {folder: self._names(folder, patterns) for folder, patterns in folders}

    @staticmethod
    def _names(folder: Path, patterns: tuple[str, ...]) -> set[str]:
        if not folder.is_dir():
            return set()
        return {p.name for pattern in patterns for p in folder.glob(pattern)}

    def restore(self) -> list[str]:
        """Write back changed or deleted files and remove new ones; return what was undone."""
        undone = []
        for path, data in self.saved.items():
            try:
                same = path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                with contextlib.suppress(OSError):
                    if path.is_symlink() or path.is_dir():
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                undone.append(f"restored {path}")
        for folder, patterns in self.folders:
            for name in sorted(self._names(folder, patterns) - self.listing[folder]):
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
                undone.append(f"removed {folder / name}")
        return undone


def guard_for(course_root: Path | None = None) -> FileGuard:
    """The :class:`FileGuard` of the project's grading files, the interpreter's site folders
    and, given a course root, its configuration, source folder and gradebook."""
    import site
    import sysconfig

    files = [*REPO_ROOT.glob("*.py"), *REPO_ROOT.glob("*.json"), *(REPO_ROOT / "resnets_kit").glob("*")]
    files.append(SOURCE_NOTEBOOK)
    site_dirs = {Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["platlib"])}
    with contextlib.suppress(AttributeError):
        site_dirs.update(Path(p) for p in site.getsitepackages())
    folders = [(d, ("*.pth", "*customize.py")) for d in sorted(site_dirs)]
    for d in site_dirs:
        files += [*d.glob("*.pth"), *d.glob("*customize.py")]
    if course_root is not None:
        files += [*course_root.glob("*.py"), *course_root.glob("*.db")]
        source = course_root / "source"
        if source.is_dir():
            files += [p for p in source.rglob("*") if p.is_file() and p.suffix in {".py", ".ipynb", ".json"}]
    return FileGuard([p for p in files if p.is_file()], folders)


# --- The sandbox step -------------------------------------------------------------------------


@dataclass
class SandboxResult:
    """What the sandbox reported: ``records`` per function, ``verdicts`` (function to verdict),
    ``details`` (function to a sentence for the verdict) and ``undone`` (the guard's report)."""

    records: dict[str, dict] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    undone: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _sandbox_env(folder: Path, token: str) -> dict[str, str]:
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(folder),
        "TMPDIR": str(folder),
        "KERAS_HOME": str(folder / ".keras"),
        "MPLCONFIGDIR": str(folder / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "LANG": "C.UTF-8",
        "RESNETS_SANDBOX": token,
    }


class EventReader:
    """Reads the sandbox's report incrementally: each call parses only the lines added since the
    last one (the file may grow to the file-size limit with junk). Lines that are not JSON
    objects are skipped."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.rest = b""
        self.events: list[dict] = []

    def read(self) -> list[dict]:
        """All events so far."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return self.events
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            if line.startswith(b"{"):
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if isinstance(event, dict):
                        self.events.append(event)
        return self.events


class RecordTracker:
    """Picks the records out of a sandbox's events, one event at a time.

    The report is written by the process that runs student code: a record counts only when it
    comes right after the start of that function's own check, for a function this run checks,
    and only its first one (a forged record is plain data, checked like any other). Case
    entries reported on the way (``{"case": ...}``) are kept the same way, at most
    :data:`MAX_CASES` per function.
    """

    MAX_CASES = 8

    def __init__(self, check: list[str]):
        self.check = list(check)
        self.records: dict[str, dict] = {}
        self.cases: dict[str, dict[str, dict]] = {}
        self._current = None

    def feed(self, event: dict) -> tuple | None:
        """Take the next event; return ``("record", name)`` if it brought a new record,
        ``("case", name, key)`` if it brought a new case entry, else None."""
        if "start" in event:
            self._current = (event.get("start"), event.get("step"))
            return None
        name = event.get("done", event.get("case"))
        if not isinstance(name, str) or self._current != (name, "check") or name not in self.check:
            return None
        if "done" in event:
            if name in self.records:
                return None
            record = event.get("record")
            self.records[name] = record if isinstance(record, dict) and record else {}
            return ("record", name)
        cases = self.cases.setdefault(name, {})
        key, entry = event.get("key"), event.get("entry")
        if name in self.records or not isinstance(key, str) or not isinstance(entry, dict):
            return None
        if key in cases or len(cases) >= self.MAX_CASES:
            return None
        cases[key] = entry
        return ("case", name, key)


def run_sandbox(
    cells: dict[str, str],
    *,
    step_timeout: float = DEFAULT_STEP_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    guard: FileGuard | None = None,
    early: Checker | None = None,
) -> SandboxResult:
    """Run a submission's graded cells in the sandbox; return the records and verdicts.

    Args:
        cells: function name to the code of its answer cell (a missing name: a deleted cell).
        step_timeout: wall-time limit of each function, seconds (defining its cell, or running
            it on every test case).
        memory_limit: resident-memory limit of the sandbox's process tree, bytes.
        guard: the files to protect (default: :func:`guard_for` without a course).
        early: a :class:`Checker` that gets each function's record (:meth:`Checker.submit`)
            and each case's entry (:meth:`Checker.prebuild`) as soon as a sandbox reports it,
            while it still runs, so that the checks start early. Such a record is provisional:
            it counts only if it is in the returned ``records``.

    Returns:
        A :class:`SandboxResult` with a record or a verdict for every graded function.

    Raises:
        GradingError: the sandbox could not start Python and TensorFlow (before any student code
            ran): the grading environment is broken, not the submission.
    """
    sources = solution_sources()
    isolate = isolation_available()
    if not isolate:  # an isolated sandbox sees every file system read-only: nothing to guard
        guard = guard or guard_for()
    result = SandboxResult()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="resnets-sandbox-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o700)
        present = [f for f in GRADED_FUNCTIONS if f in cells]
        # First all functions in one process; if it does not end normally, each function still
        # pending in a process of its own, so that one function's crash, loop or memory use is
        # charged to that function alone.
        runs = [(present, list(GRADED_FUNCTIONS))]
        while runs:
            define, check = runs.pop(0)
            run_dir = folder / f"run{len(os.listdir(folder))}"
            run_dir.mkdir()
            job = {
                "setup": sources[SETUP_CELL],
                "cells": {name: python_source(cells[name]) for name in define},
                "reference": {name: sources[name] for name in ("identity_block", "convolutional_block")},
                "define": define,
                "check": check,
                "finished": secrets.choice(range(3, 120)),
            }
            (run_dir / "job.json").write_text(json.dumps(job))
            events_path = run_dir / "events.jsonl"
            events_path.touch()
            token = secrets.token_hex(16)
            state = {"limit": time.monotonic() + START_TIMEOUT, "seen": 0}
            reader = EventReader(events_path)
            tracker = RecordTracker(check)

            def deadline(state=state, reader=reader, tracker=tracker):
                events = reader.read()
                for event in events[state["seen"] :]:
                    if "start" in event or "ready" in event:
                        state["limit"] = time.monotonic() + step_timeout
                    new = tracker.feed(event)
                    if new and early is not None and new[0] == "record":
                        early.submit(new[1], tracker.records[new[1]])
                    elif new and early is not None:
                        early.prebuild(new[1], tracker.cases[new[1]][new[2]])
                state["seen"] = len(events)
                return state["limit"]

            command = [sys.executable, "-I", "-m", "resnets_kit.sandbox", "job.json", "events.jsonl"]
            watched = run_watched(
                isolated(command, folder) if isolate else command,
                cwd=run_dir,
                env=_sandbox_env(folder, token),
                deadline=deadline,
                memory_limit=memory_limit,
                token=token,
            )
            if not isolate:
                result.undone += guard.restore()
            events = reader.read()
            if not any(e.get("ready") for e in events):
                raise GradingError(
                    "the grading sandbox did not start (Python and TensorFlow, before any student code): "
                    f"exit status {watched.returncode}, {watched.reason or 'no limit reached'}. "
                    "Check that `python -I -m resnets_kit.sandbox` can import the project as this user."
                )
            deadline()  # the events written since the last poll
            records = tracker.records  # only a run that ended normally counts
            if watched.returncode == job["finished"] and watched.reason is None:
                result.records.update(records)
                missing = [f for f in check if f not in records]
                if len(check) > 1:
                    runs += [([f] if f in cells else [], [f]) for f in missing]
                else:
                    for f in missing:
                        result.verdicts[f] = "crashed"
                        result.details[f] = "did not report its result"
                continue
            if len(check) > 1:
                runs += [([f] if f in cells else [], [f]) for f in check]
                continue
            (function,) = check
            if watched.reason == "timeout":
                verdict, detail = "timeout", f"ran longer than the limit of {step_timeout:g} s"
            elif watched.reason == "out_of_memory":
                verdict, detail = "out_of_memory", f"used more than {memory_limit / 2**30:.3g} GiB of memory"
            else:
                code = watched.returncode
                if code is not None and code < 0:
                    name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
                    detail = f"was killed by signal {name}"
                    if -code == signal.SIGXFSZ:
                        detail += f" (a file over {FILE_SIZE_LIMIT // 2**20} MiB)"
                else:
                    detail = f"ended the sandbox process (exit status {code})"
                verdict = "crashed"
            result.verdicts[function] = verdict
            result.details[function] = detail
    for name, record in result.records.items():
        cases = record.get("cases")
        for entry in cases.values() if isinstance(cases, dict) else ():
            if isinstance(entry, dict) and entry.get("verdict") == "out_of_memory":
                result.verdicts.setdefault(name, "out_of_memory")
                result.details.setdefault(name, "raised MemoryError")
    if result.undone:
        for name in GRADED_FUNCTIONS:
            result.verdicts.setdefault(name, "tampered")
            result.details.setdefault(
                name, "the submission changed grading files: " + "; ".join(result.undone)
            )
    result.seconds = time.monotonic() - start
    return result


# --- The check step (no student code) ---------------------------------------------------------

_LAYERS = {
    "InputLayer", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D",
    "Conv2DTranspose", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Add", "Subtract", "Multiply",
    "Average", "Maximum", "Minimum", "Concatenate", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
    "Flatten", "Reshape", "Permute", "Dense", "Dropout", "SpatialDropout2D", "Identity",
}  # fmt: skip
_OP_MODULES = {"keras.src.ops.numpy", "keras.src.ops.nn", "keras.src.ops.math"}
_OBJECT_MODULES = {
    "keras",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.activations",
}
_MARKERS = {"__keras_tensor__", "__tuple__"}
_REFUSED_OPS = {"Cond", "WhileLoop", "Scan", "Map", "Switch", "Fori_loop", "CustomGradient"}


def validate_config(config) -> None:
    """Accept only a functional model of built-in Keras layers and operations.

    Raises:
        ValueError: naming the first class the grading does not rebuild (a ``Lambda`` layer, a
            custom ``Layer`` class, anything outside Keras).
    """
    if not isinstance(config, dict) or config.get("class_name") != "Functional":
        raise ValueError("the function did not build a functional keras.Model")
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise ValueError("the model's configuration has no list of layers")
    for layer in inner["layers"]:
        if not isinstance(layer, dict):
            raise ValueError("a layer's configuration is not an object")
        module, name = layer.get("module"), layer.get("class_name")
        ok = (module == "keras.layers" and name in _LAYERS) or (
            module in _OP_MODULES and isinstance(name, str) and name not in _REFUSED_OPS
        )
        if not ok:
            raise ValueError(
                f"the model contains {module}.{name}, which grading does not accept: use the built-in "
                "keras.layers (no Lambda layers or custom Layer classes) and keras.ops"
            )
        _validate_objects(layer.get("config"))
        for node in layer.get("inbound_nodes") or []:
            _validate_objects(node)


def _validate_objects(value) -> None:
    if isinstance(value, list):
        for item in value:
            _validate_objects(item)
    elif isinstance(value, dict):
        name = value.get("class_name")
        if isinstance(name, str) and "config" in value:
            module = value.get("module")
            if name not in _MARKERS and module not in _OBJECT_MODULES:
                raise ValueError(
                    f"the model uses {module}.{name}, which grading does not accept: use Keras's "
                    "built-in initializers, activations and layers"
                )
            registered = value.get("registered_name")
            if name not in _MARKERS and isinstance(registered, str) and ">" in registered:
                raise ValueError(
                    f"the model uses the custom object {registered}, which grading does not accept"
                )
        for item in value.values():
            _validate_objects(item)


class _Named:
    """A default value reported by name only (it was not plain data)."""

    def __init__(self, name: str | None, text: str):
        if name:
            self.__name__ = name
        self._text = text

    def __repr__(self) -> str:
        return self._text

    def __call__(self, *args, **kwargs):
        raise TypeError("a default reported by name cannot be called")


class _Returned:
    """What a ResNet50 function returned when it was not a model."""

    def __init__(self, type_name: str):
        self.returned_type = str(type_name)


#: Graded functions whose checks look at the model's structure only (layers, shapes, parameter
#: counts), never at values: their models are rebuilt the faster way (:func:`structure_model`).
STRUCTURE_ONLY = ("ResNet50",)
_STRUCTURES: dict[str, object] = {}


def structure_model(config: dict, *, fallback: bool = False):
    """A model rebuilt from its configuration inside a ``keras.StatelessScope``, for checks of
    structure only. Variables created in the scope are initialized together when it ends, which
    takes ResNet50's rebuild from about 1.5 s to about 0.9 s here; layers, output shapes and
    parameter counts are the same as those of a plain rebuild. The last few are kept by their
    configuration, so a model rebuilt early from a case's entry (:meth:`Checker.prebuild`) is
    reused by the check of the final record.

    Args:
        config: a ``keras.saving.serialize_keras_object`` configuration.
        fallback: return None instead of raising when it cannot be rebuilt this way.

    Raises:
        ValueError: the configuration is outside the allow-list (:func:`validate_config`).
        Exception: whatever deserializing raises (unless ``fallback``).
    """
    import keras

    text = json.dumps(config, sort_keys=True)
    if text not in _STRUCTURES:
        validate_config(config)
        try:
            with keras.StatelessScope():
                model = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
        except Exception:
            if fallback:
                return None
            raise
        while len(_STRUCTURES) >= 4:
            _STRUCTURES.pop(next(iter(_STRUCTURES)))
        _STRUCTURES[text] = model
    return _STRUCTURES[text]


class Rebuilt:
    """What the checks look at, rebuilt from a sandbox record (the interface of
    ``public_tests.FunctionCalls``): models come from their configurations, errors are re-raised
    as :class:`test_utils.RecordedError`."""

    def __init__(self, name: str, record: dict):
        self.name = name
        self.record = record if isinstance(record, dict) else {}
        self._models: dict[str, object] = {}

    def signature(self):
        import inspect

        params = self.record.get("signature")
        if not isinstance(params, list):
            return None
        try:
            parameters = []
            for p in params:
                default = p["default"]
                if default.get("empty"):
                    value = inspect.Parameter.empty
                elif "value" in default:
                    value = default["value"]
                elif "tuple" in default:
                    value = tuple(default["tuple"])
                else:
                    value = _Named(default.get("name"), str(default.get("repr")))
                parameters.append(
                    inspect.Parameter(str(p["name"]), inspect._ParameterKind[str(p["kind"])], default=value)
                )
            return inspect.Signature(parameters)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def _entry(self, case: dict):
        from public_tests import case_key
        from test_utils import RecordedError

        if self.record.get("error"):
            raise RecordedError(str(self.record["error"]))
        entry = (self.record.get("cases") or {}).get(case_key(case))
        if not isinstance(entry, dict):
            raise RecordedError(f"GradingError: {self.name} was not run on this case")
        if "error" in entry:
            raise RecordedError(str(entry["error"]))
        return entry

    def _rebuild(self, key: str, config, *, weights: bool = True):
        from test_utils import RecordedError

        if key not in self._models:
            import keras

            try:
                validate_config(config)
            except ValueError as err:
                raise RecordedError(f"ValueError: {err}") from None
            model = None if weights else structure_model(config, fallback=True)
            if model is None:
                # (deepcopy: deserializing consumes the dicts)
                model = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)
            self._models[key] = model
        return self._models[key]

    def block_model(self, case: dict):
        from public_tests import case_key

        entry = self._entry(case)
        return self._rebuild(case_key(case), entry.get("config"))

    def model(self, config: dict):
        from public_tests import case_key

        entry = self._entry(config)
        if "returned_type" in entry:
            return _Returned(entry["returned_type"])
        # The ResNet50 checks compare structure only (layer_summary, count_params).
        return self._rebuild(case_key(config), entry.get("config"), weights=False)


@dataclass
class Outcome:
    """A test cell's result: passed or not, and the text to show (success line or message)."""

    passed: bool
    text: str
    verdict: str | None = None


def check_records(records: dict[str, dict], plan: dict[str, CellCheck] | None = None) -> dict[str, Outcome]:
    """Run every grade cell's checks on rebuilt models. Runs no student code.

    Args:
        records: function name to its sandbox record (a missing function fails its checks).
        plan: the grading plan (default :func:`grading_plan`).

    Returns:
        ``grade_id`` to :class:`Outcome`.
    """
    import public_tests
    from resnets_kit import grading
    from test_utils import PublicTestFailure

    plan = plan or grading_plan()
    tests = {
        "identity_block": public_tests.identity_block_test,
        "convolutional_block": public_tests.convolutional_block_test,
        "ResNet50": public_tests.ResNet50_test,
    }
    outcomes = {}
    targets = {}
    for grade_id, cell in plan.items():
        if cell.function not in targets:
            record = records.get(cell.function) or {
                "error": f"NameError: name '{cell.function}' is not defined"
            }
            targets[cell.function] = Rebuilt(cell.function, record)
        target = targets[cell.function]
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                if cell.hidden:
                    grading.hidden_test(cell.function, target)
                elif cell.part is not None:
                    tests[cell.function](target, checks=cell.checks, part=cell.part)
                else:
                    tests[cell.function](target, checks=cell.checks)
            outcomes[grade_id] = Outcome(True, printed.getvalue().strip())
        except PublicTestFailure as failure:
            outcomes[grade_id] = Outcome(False, str(failure))
        except Exception as err:  # the rebuild itself failed: still the submission's doing
            outcomes[grade_id] = Outcome(
                False, f"{cell.function}: could not be checked: {type(err).__name__}: {err}"
            )
    return outcomes


def _check_main(records_path: Path, out_path: Path) -> int:
    """``check RECORDS OUT``: check the records of a JSON file (function name to record), write
    the outcomes (``grade_id`` to outcome) as JSON."""
    if not records_path.is_file():
        raise SystemExit(f"error: {records_path} is not a file")
    outcomes = check_records(json.loads(records_path.read_text()))
    out_path.write_text(json.dumps({k: vars(v) for k, v in outcomes.items()}, indent=1))
    return 0


def _write_atomically(path: Path, data) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data))
    partial.rename(path)


def _serve_main(folder: Path) -> int:
    """The check process (``serve FOLDER``): import TensorFlow and the checks, then check jobs as
    they come. The grader writes ``plan.json`` (``grade_id`` to :class:`CellCheck` fields), then
    ``job-0.json``, ``job-1.json``, ...: ``{"function": name, "record": record or null}``,
    ``{"prebuild": model configuration}`` (see :func:`structure_model`) or ``{"end": true}``.
    For each function job it writes ``outcome-N.json`` (that function's ``grade_id`` to
    outcome); at the end job it exits with status 0."""
    from test_utils import import_tensorflow

    import_tensorflow()
    import public_tests  # noqa: F401  (imported while the sandbox runs)
    from resnets_kit import grading  # noqa: F401

    plan = {
        grade_id: CellCheck(
            c["function"], tuple(c["checks"]) if c["checks"] else None, c["hidden"], c.get("part")
        )
        for grade_id, c in json.loads((folder / "plan.json").read_text()).items()
    }
    number = 0
    while True:
        path = folder / f"job-{number}.json"
        while not path.exists():
            time.sleep(0.02)
        job = json.loads(path.read_text())
        number += 1
        if job.get("end"):
            os._exit(0)  # all outcomes are written; skip TensorFlow's teardown (about a second)
        if "prebuild" in job:
            with contextlib.suppress(Exception):  # an error shows when the record is checked
                structure_model(job["prebuild"])
            continue
        function = job["function"]
        records = {function: job["record"]} if job["record"] is not None else {}
        outcomes = check_records(records, {g: c for g, c in plan.items() if c.function == function})
        _write_atomically(folder / f"outcome-{number - 1}.json", {k: vars(v) for k, v in outcomes.items()})


class Checker:
    """The check process, started before the sandbox so that both start TensorFlow at once.

    :meth:`submit` hands it one function's record as soon as the sandbox reports it (the checks
    of the blocks then run while the sandbox still builds ResNet50) and :meth:`prebuild` one
    case's model (ResNet50's public case is rebuilt while the sandbox builds the hidden one);
    :meth:`finish` hands it the
    records that count and returns the outcomes, reusing the outcome of a submitted record that
    is identical to the final one (checks are deterministic: seeded initializers, fixed cases);
    :meth:`cancel` stops it. It runs ``python -I -m resnets_kit.trusted serve`` (no student code)
    in a temporary folder, under a memory limit and :data:`CHECK_TIMEOUT` seconds from the last
    job handed to it.
    """

    def __init__(self, plan: dict[str, CellCheck], memory_limit: int = DEFAULT_MEMORY_LIMIT):
        import threading

        self.plan = plan
        self._tmp = tempfile.TemporaryDirectory(prefix="resnets-check-")
        self.folder = Path(self._tmp.name)
        self._limit = time.monotonic() + 24 * 3600.0  # until the first job
        self._watched: list[Watched] = []
        #: Each job handed over, in order: (function, its record as JSON), or ("", "prebuild") and
        #: ("", "end").
        self.jobs: list[tuple[str, str]] = []
        _write_atomically(self.folder / "plan.json", {g: vars(c) for g, c in plan.items()})
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
        command = [sys.executable, "-I", "-m", "resnets_kit.trusted", "serve", str(self.folder)]
        self._thread = threading.Thread(
            target=lambda: self._watched.append(
                run_watched(
                    command, cwd=self.folder, env=env, deadline=lambda: self._limit, memory_limit=memory_limit
                )
            ),
            daemon=True,
        )
        self._thread.start()

    def _hand_over(self, job: dict) -> int:
        number = len(self.jobs)
        kind = "record" if "function" in job else next(iter(job))
        text = json.dumps(job.get("record"), sort_keys=True) if kind == "record" else kind
        self.jobs.append((job.get("function", ""), text))
        self._limit = time.monotonic() + CHECK_TIMEOUT
        _write_atomically(self.folder / f"job-{number}.json", job)
        return number

    def submit(self, function: str, record: dict | None) -> None:
        """Have one function's record checked now (its outcome is used by :meth:`finish` only if
        the final record is the same)."""
        self._hand_over({"function": function, "record": record})

    def prebuild(self, function: str, entry: dict) -> None:
        """Have one case's model rebuilt now, if its checks look at structure only (ResNet50's): the
        check of the final record then finds it ready when the configuration is the same."""
        prebuilds = sum(job[0] == "" and job[1] == "prebuild" for job in self.jobs)
        if function in STRUCTURE_ONLY and isinstance(entry.get("config"), dict) and prebuilds < 4:
            self._hand_over({"prebuild": entry["config"]})

    def finish(self, records: dict[str, dict]) -> dict[str, Outcome]:
        """Give the records that count; wait for the outcomes (``grade_id`` to :class:`Outcome`).

        Raises:
            GradingError: the check process failed or broke a limit.
        """
        try:
            wanted = {}
            for function in dict.fromkeys(c.function for c in self.plan.values()):
                text = json.dumps(records.get(function), sort_keys=True)
                done = [n for n, job in enumerate(self.jobs) if job == (function, text)]
                wanted[function] = (
                    done[0]
                    if done
                    else self._hand_over({"function": function, "record": records.get(function)})
                )
            self._hand_over({"end": True})
            self._thread.join()
            watched = self._watched[0] if self._watched else None
            outcomes = {}
            for number in wanted.values():
                path = self.folder / f"outcome-{number}.json"
                if watched is None or watched.returncode != 0 or not path.is_file():
                    code = watched.returncode if watched else None
                    reason = (watched.reason if watched else None) or "no limit reached"
                    raise GradingError(
                        f"the check step failed (exit status {code}, {reason}); run "
                        "`python -m resnets_kit.trusted check RECORDS OUT` on the records to see why"
                    )
                outcomes.update({k: Outcome(**v) for k, v in json.loads(path.read_text()).items()})
            return {grade_id: outcomes[grade_id] for grade_id in self.plan}
        finally:
            self._tmp.cleanup()

    def cancel(self) -> None:
        """Stop the check process (the sandbox failed)."""
        self._limit = 0.0
        self._thread.join()
        self._tmp.cleanup()


def run_checks(
    records: dict[str, dict],
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    plan: dict[str, CellCheck] | None = None,
) -> dict[str, Outcome]:
    """Run :func:`check_records` in a fresh process with a time and memory limit, so that a huge
    recorded model cannot harm the grader (see :class:`Checker`).

    Raises:
        GradingError: the check process failed or broke a limit.
    """
    return Checker(plan or grading_plan(), memory_limit).finish(records)


@dataclass
class Grade:
    """The result of grading one notebook: per test cell an :class:`Outcome`, plus the sandbox."""

    outcomes: dict[str, Outcome]
    sandbox: SandboxResult


def grade_cells(
    cells: dict[str, str],
    *,
    step_timeout: float = DEFAULT_STEP_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    course_root: Path | None = None,
    in_process_checks: bool = False,
) -> Grade:
    """Grade the answer cells of one submission: sandbox, guard, then checks.

    Args:
        cells: function name to the code of its answer cell.
        step_timeout: wall-time limit of each function in the sandbox, seconds.
        memory_limit: memory limit of the sandbox and of the check process, bytes.
        course_root: an nbgrader course folder whose files the guard protects too.
        in_process_checks: run the checks in this process (tests; this process then imports
            TensorFlow) instead of a fresh one.

    Returns:
        A :class:`Grade`. A function with a verdict fails all its test cells with that verdict.
    """
    plan = grading_plan()
    guard = None if isolation_available() else guard_for(course_root)
    checker = None if in_process_checks else Checker(plan, memory_limit)
    # Records are checked as they come only in an isolated sandbox: without one, student code
    # could change files the checks read while it still runs (the guard restores them after).
    early = checker if guard is None else None
    try:
        sandbox = run_sandbox(
            cells, step_timeout=step_timeout, memory_limit=memory_limit, guard=guard, early=early
        )
    except BaseException:
        if checker is not None:
            checker.cancel()
        raise
    records = {
        name: record
        for name, record in sandbox.records.items()
        if sandbox.verdicts.get(name) in (None, "tampered")
    }
    outcomes = check_records(records, plan) if checker is None else checker.finish(records)
    for grade_id, cell in plan.items():
        verdict = sandbox.verdicts.get(cell.function)
        if verdict and verdict != "tampered":
            outcomes[grade_id] = Outcome(
                False,
                f"{cell.function}: not graded: it {sandbox.details[cell.function]} ({verdict}).",
                verdict,
            )
        elif verdict == "tampered":
            outcome = outcomes[grade_id]
            outcome.verdict = "tampered"
            outcome.text += f"\nnote: {sandbox.details[cell.function]}"
    return Grade(outcomes, sandbox)


def grade_notebook(path: Path, **options) -> Grade:
    """Grade a notebook file (see :func:`grade_cells` for the options)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return grade_cells(answer_cells(notebook), **options)


# --- nbgrader ---------------------------------------------------------------------------------


def _outputs(outcome: Outcome) -> list:
    import nbformat

    if outcome.passed and not outcome.verdict:
        return [nbformat.v4.new_output("stream", name="stdout", text=outcome.text + "\n")]
    if outcome.passed:  # tampered, but the checks passed on the restored files
        return [nbformat.v4.new_output("stream", name="stdout", text=outcome.text + "\n")]
    ename = VERDICT_ERRORS.get(outcome.verdict or "", "PublicTestFailure")
    return [
        nbformat.v4.new_output(
            "error", ename=ename, evalue=outcome.text, traceback=[f"{ename}: {outcome.text}"]
        )
    ]


#: The first line of a test cell the grader added back to a submission.
RESTORED_NOTE = "# This test cell was missing from the submission; the grader added it back.\n"


def restore_test_cells(notebook, source: Path = SOURCE_NOTEBOOK) -> list[str]:
    """Add back the autograded test cells a submission deleted, copied from the source notebook
    (after the last remaining cell of the same function), so that they are graded like the
    others; return their ``grade_id``.

    (nbgrader's own ``OverwriteCells.add_missing_cells`` fails with ``KeyError: 'grade_id'`` on
    notebooks that also have unlocked cells with nbgrader metadata, as this one does.)
    """
    import nbformat

    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells}
    missing = [g for g in grading_plan(source) if g not in present]
    if not missing:
        return []
    originals = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(source, as_version=4).cells
    }
    for grade_id in missing:
        cell = copy.deepcopy(originals[grade_id])
        cell.source = RESTORED_NOTE + cell.source
        function = grading_plan(source)[grade_id].function
        positions = [
            i
            for i, c in enumerate(notebook.cells)
            if str(c.metadata.get("nbgrader", {}).get("grade_id", "")).startswith(function)
        ]
        notebook.cells.insert(positions[-1] + 1 if positions else len(notebook.cells), cell)
    return missing


def _make_preprocessor():
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Float, Integer

    class TrustedGrade(NbGraderPreprocessor):
        """nbgrader preprocessor that grades a notebook without running it in a kernel.

        Registered in place of ``Execute`` in ``c.Autograde.autograde_preprocessors``. Each
        autograded test cell's output becomes its result from :func:`grade_cells` (the success
        line, or an error output whose ``ename`` is ``PublicTestFailure`` or the verdict's name,
        :data:`VERDICT_ERRORS`); other code cells are left without output.
        """

        step_timeout = Float(DEFAULT_STEP_TIMEOUT, help="Wall-time limit of each graded function (s).").tag(
            config=True
        )
        memory_limit_mb = Integer(
            DEFAULT_MEMORY_LIMIT // 2**20, help="Memory limit of the grading sandbox (MiB)."
        ).tag(config=True)

        def preprocess(self, nb, resources):
            restored = restore_test_cells(nb)
            if restored:
                self.log.warning("Test cells missing from the submission were added back: %s", restored)
            db_url = (resources.get("nbgrader") or {}).get("db_url", "")
            course_root = (
                Path(db_url.replace("sqlite:///", "")).parent if db_url.startswith("sqlite:///") else None
            )
            grade = grade_cells(
                answer_cells(nb),
                step_timeout=self.step_timeout,
                memory_limit=self.memory_limit_mb * 2**20,
                course_root=course_root,
            )
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                cell.execution_count = None
                if grade_id in grade.outcomes:
                    cell.outputs = _outputs(grade.outcomes[grade_id])
                else:
                    cell.outputs = []
            self.log.info(
                "Graded in a sandbox in %.1f s; verdicts: %s",
                grade.sandbox.seconds,
                grade.sandbox.verdicts or "none",
            )
            return nb, resources

    return TrustedGrade


def __getattr__(name: str):
    if name == "TrustedGrade":  # built on first use: nbgrader is imported only when needed
        cls = _make_preprocessor()
        globals()["TrustedGrade"] = cls
        return cls
    raise AttributeError(name)


# --- Command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``grade NOTEBOOK`` prints each test cell's result; ``check RECORDS OUT`` is the check step."""
    parser = argparse.ArgumentParser(prog="python -m resnets_kit.trusted", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade one notebook and print each test cell's result")
    grade.add_argument("notebook", type=Path)
    grade.add_argument("--step-timeout", type=float, default=DEFAULT_STEP_TIMEOUT)
    grade.add_argument("--memory-limit-mb", type=int, default=DEFAULT_MEMORY_LIMIT // 2**20)
    check = sub.add_parser("check", help="the check step: records JSON in, outcomes JSON out")
    check.add_argument("records", type=Path)
    check.add_argument("out", type=Path)
    serve = sub.add_parser("serve", help="the check process of `grade` (used internally)")
    serve.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check_main(args.records, args.out)
    if args.command == "serve":
        return _serve_main(args.folder)
    if not args.notebook.is_file():
        parser.error(f"{args.notebook} is not a file")
    result = grade_notebook(
        args.notebook, step_timeout=args.step_timeout, memory_limit=args.memory_limit_mb * 2**20
    )
    for grade_id, outcome in result.outcomes.items():
        status = "pass" if outcome.passed else (outcome.verdict or "fail")
        print(f"{grade_id}: {status}")
        if not outcome.passed:
            print("    " + outcome.text.replace("\n", "\n    "))
    print(f"sandbox: {result.sandbox.seconds:.1f} s; verdicts: {result.sandbox.verdicts or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
