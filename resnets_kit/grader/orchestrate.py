"""One submission, graded: the sandbox runs, the guard restores, the checks judge.

:func:`grade_cells` is the grader's entry point (used by the nbgrader preprocessor
``TrustedGrade`` and by ``python -m resnets_kit.grader grade``); the path of a submission through
the steps is drawn in ``docs/architecture.md``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from resnets_kit import REPO_ROOT
from resnets_kit.assignment import EXERCISES, GRADED_FUNCTIONS
from resnets_kit.grader.check_server import Checker
from resnets_kit.grader.checks import check_records
from resnets_kit.grader.events import EventReader, RecordTracker
from resnets_kit.grader.guard import FileGuard, guard_for
from resnets_kit.grader.isolation import GRADER_MOUNT, SCRATCH_MOUNT, confine, confinement, grader_copy
from resnets_kit.grader.limits import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_PROCESS_LIMIT,
    DEFAULT_STEP_TIMEOUT,
    FILE_SIZE_LIMIT,
    START_TIMEOUT,
    task_limit,
)
from resnets_kit.grader.outcomes import GradingError, Outcome
from resnets_kit.grader.plan import answer_cells, grading_plan, python_source
from resnets_kit.grader.process import run_watched, user_tasks
from resnets_kit.solution import SETUP_CELL, solution_sources


@dataclass
class SandboxResult:
    """What the sandbox reported: ``records`` per function, ``verdicts`` (function to verdict),
    ``details`` (function to a sentence for the verdict) and ``undone`` (the guard's report)."""

    records: dict[str, dict] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    undone: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sandbox_env(home: str, tmp: str, token: str) -> dict[str, str]:
    """The sandbox's whole environment, built from this allow-list (nothing is inherited from the
    grader's): ``home`` its home and working folder, ``tmp`` its temporary folder, ``token`` the
    mark by which the grader finds its processes (``RESNETS_SANDBOX``)."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": home,
        "TMPDIR": tmp,
        "KERAS_HOME": f"{home}/.keras",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "LANG": "C.UTF-8",
        "RESNETS_SANDBOX": token,
    }


#: The sandbox's first Python code: only the project's sandbox files on the path (``{path}``: the
#: mounted copy, or the project itself when unconfined), then the harness.
_BOOT = (
    "import sys; sys.path.insert(0, {path!r}); "
    "from resnets_kit.grader.sandbox import main; main(sys.argv[1:])"
)


def run_sandbox(
    cells: dict[str, str],
    *,
    step_timeout: float = DEFAULT_STEP_TIMEOUT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    guard: FileGuard | None = None,
    early: Checker | None = None,
    process_limit: int = DEFAULT_PROCESS_LIMIT,
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
        process_limit: most processes in the sandbox's tree (see
            :func:`~resnets_kit.grader.process.run_watched`).

    Returns:
        A :class:`SandboxResult` with a record or a verdict for every graded function.

    Raises:
        GradingError: the sandbox cannot be confined (bubblewrap missing; see
            :func:`~resnets_kit.grader.isolation.confinement`), or it could not start Python and
            TensorFlow (before any student code ran): the grading environment is broken, not the
            submission.
    """
    sources = solution_sources()
    how = confinement()
    isolate = how is not None
    if not isolate:  # a confined sandbox sees no grading file: nothing to guard
        guard = guard or guard_for()
    if how is not None and how.as_root:
        tasks = task_limit()  # counted for the sandbox's fresh user alone
    elif os.geteuid() != 0:  # counted for this user: its processes now, plus the sandbox's share
        tasks = user_tasks(os.getuid()) + task_limit()
    else:
        tasks = None  # root, unconfined: not enforced
    result = SandboxResult()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="resnets-sandbox-") as tmp:
        folder = Path(tmp)
        # Without namespaces the sandbox user reaches its scratch folder and the grading files it
        # imports through this folder: it may pass (711), not list; the rest stays the grader's.
        os.chmod(folder, 0o711 if isolate and not how.namespaces else 0o700)
        if isolate and not how.namespaces:
            boot_path = str(grader_copy(folder / "grader"))
        else:
            boot_path = GRADER_MOUNT if isolate else str(REPO_ROOT)
        present = [f for f in GRADED_FUNCTIONS if f in cells]
        used = sorted({name for f in GRADED_FUNCTIONS for name in EXERCISES[f].uses})
        references = json.dumps({name: sources[name] for name in used}).encode()
        # First all functions in one process; if it does not end normally, each function still
        # pending in a process of its own, so that one function's crash, loop or memory use is
        # charged to that function alone.
        runs = [(present, list(GRADED_FUNCTIONS))]
        while runs:
            define, check = runs.pop(0)
            run_dir = folder / f"run{len(os.listdir(folder))}"
            run_dir.mkdir(mode=0o711)
            scratch = run_dir / "scratch"
            scratch.mkdir()
            job = {
                "setup": sources[SETUP_CELL],
                "cells": {name: python_source(cells[name]) for name in define},
                "define": define,
                "check": check,
                "finished": secrets.choice(range(3, 120)),
            }
            (scratch / "job.json").write_text(json.dumps(job))
            del job["setup"]
            events_path = scratch / "events.jsonl"
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

            def feed(tracker=tracker, check=check) -> bytes | None:
                # The reference blocks go to the sandbox only once the records of the functions
                # that use none are final: no student block runs beside them before it is judged.
                needs = [f for f in check if EXERCISES[f].uses]
                if needs and all(f in tracker.records for f in check if not EXERCISES[f].uses):
                    return references
                return None

            boot = _BOOT.format(path=boot_path)
            command = [sys.executable, "-I", "-B", "-c", boot, "job.json", "events.jsonl"]
            if isolate:
                command, _ = confine(command, scratch, run_dir / "etc")
            if isolate and how.namespaces:
                env = sandbox_env(SCRATCH_MOUNT, "/tmp", token)
            else:
                env = sandbox_env(str(scratch), str(scratch), token)
            watched = run_watched(
                command,
                cwd=scratch,
                env=env,
                deadline=deadline,
                memory_limit=memory_limit,
                token=token,
                process_limit=process_limit,
                tasks=tasks,
                feed=feed,
            )
            if not isolate:
                result.undone += guard.restore()
            events = reader.read()
            if not any(e.get("ready") for e in events):
                raise GradingError(
                    "the grading sandbox did not start (Python and TensorFlow, before any student code): "
                    f"exit status {watched.returncode}, {watched.reason or 'no limit reached'}. "
                    "Check that Python, TensorFlow and the project's sandbox files can be read by the sandbox's user "
                    f"(and, confined, from inside bubblewrap: {SCRATCH_MOUNT}, {GRADER_MOUNT})."
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
            elif watched.reason == "process_limit":
                verdict, detail = "process_limit", f"started more than {process_limit} processes"
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
    process_limit: int = DEFAULT_PROCESS_LIMIT,
    overlap: bool = True,
) -> Grade:
    """Grade the answer cells of one submission: sandbox, guard, then checks.

    Args:
        cells: function name to the code of its answer cell.
        step_timeout: wall-time limit of each function in the sandbox, seconds.
        memory_limit: memory limit of the sandbox and of the check process, bytes.
        course_root: an nbgrader course folder whose files the guard protects too.
        in_process_checks: run the checks in this process (tests; this process then imports
            TensorFlow) instead of a fresh one.
        process_limit: most processes in the sandbox's tree.
        overlap: start the check process beside the sandbox, so that it imports TensorFlow and
            checks records while the sandbox still runs (faster; the two processes' memory adds
            up: about 0.9 GiB at the peak); False starts it once the sandbox has ended (slower;
            the peak is one process's: for containers with little memory).

    Returns:
        A :class:`Grade`. A function with a verdict fails all its test cells with that verdict.

    Raises:
        GradingError: the sandbox cannot be confined or cannot start (see :func:`run_sandbox`).
    """
    plan = grading_plan()
    guard = None if confinement() is not None else guard_for(course_root)
    checker = None if in_process_checks or not overlap else Checker(plan, memory_limit)
    # Records are checked as they come only in an isolated sandbox: without one, student code
    # could change files the checks read while it still runs (the guard restores them after).
    early = checker if guard is None else None
    try:
        sandbox = run_sandbox(
            cells,
            step_timeout=step_timeout,
            memory_limit=memory_limit,
            guard=guard,
            early=early,
            process_limit=process_limit,
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
    if checker is None and not in_process_checks:
        checker = Checker(plan, memory_limit)
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
