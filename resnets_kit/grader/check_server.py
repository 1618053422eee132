"""The check process: :mod:`resnets_kit.grader.checks` in a fresh process, fed job by job.

:class:`Checker` (the grader's side) starts ``resnets_kit.grader serve FOLDER`` in ``python -I``,
from the grader's own files (:func:`serve_main`, the process's side), before the sandbox, so that
both import TensorFlow at once, and hands it each record as soon as the sandbox reports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from resnets_kit import REPO_ROOT
from resnets_kit.assignment import EXERCISES
from resnets_kit.grader.checks import check_records, structure_model
from resnets_kit.grader.forked import fork_watched
from resnets_kit.grader.limits import CHECK_TIMEOUT, DEFAULT_MEMORY_LIMIT
from resnets_kit.grader.outcomes import GradingError, Outcome
from resnets_kit.grader.plan import CellCheck, grading_plan
from resnets_kit.grader.process import Watched, run_watched


def check_main(records_path: Path, out_path: Path) -> int:
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


def serve_main(folder: Path) -> int:
    """The check process (``serve FOLDER``): import TensorFlow and the checks, then check jobs as
    they come. The grader writes ``plan.json`` (``grade_id`` to :class:`CellCheck` fields), then
    ``job-0.json``, ``job-1.json``, ...: ``{"function": name, "record": record or null}``,
    ``{"prebuild": model configuration}`` (see :func:`structure_model`) or ``{"end": true}``.
    For each function job it writes ``outcome-N.json`` (that function's ``grade_id`` to
    outcome); at the end job it exits with status 0, and with status 1 as soon as the grader that
    started it (``grader.pid``) is no longer its parent while it waits for a job."""
    from test_utils import import_tensorflow

    import_tensorflow()
    import public_tests  # noqa: F401  (imported while the sandbox runs)
    from resnets_kit.grader import hidden  # noqa: F401

    plan = {
        grade_id: CellCheck(
            c["function"], tuple(c["checks"]) if c["checks"] else None, c["hidden"], c.get("part")
        )
        for grade_id, c in json.loads((folder / "plan.json").read_text()).items()
    }
    number = 0
    grader = int((folder / "grader.pid").read_text())
    while True:
        path = folder / f"job-{number}.json"
        while not path.exists():
            if os.getppid() != grader:  # the grader is gone (killed): nobody will hand a job
                os._exit(1)
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


#: Whether a :class:`Checker` forks this process instead of starting a fresh Python
#: (:func:`fork_checks`).
_FORK = {"enabled": False}


def fork_checks(enabled: bool = True) -> None:
    """From now on, start each check process as a fork of this one (which must have imported
    TensorFlow, ``public_tests`` and the checks, and must never run student code): what a warm
    grading worker does (:mod:`resnets_kit.classgrade.warm`). A check process is forked only
    while this process has one thread; otherwise it is started fresh as before."""
    _FORK["enabled"] = enabled


class Checker:
    """The check process, started before the sandbox so that both start TensorFlow at once.

    :meth:`submit` hands it one function's record as soon as the sandbox reports it (the checks
    of the blocks then run while the sandbox still builds ResNet50) and :meth:`prebuild` one
    case's model (ResNet50's public case is rebuilt while the sandbox builds the hidden one);
    :meth:`finish` hands it the
    records that count and returns the outcomes, reusing the outcome of a submitted record that
    is identical to the final one (checks are deterministic: seeded initializers, fixed cases);
    :meth:`cancel` stops it. It runs ``resnets_kit.grader serve`` in ``python -I`` (no student code)
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
        (self.folder / "grader.pid").write_text(str(os.getpid()))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
        # The grading code of this process (the project, or an exported package's copy), whether
        # or not it is installed in the environment: isolated mode (-I) ignores PYTHONPATH.
        boot = (
            f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
            "from resnets_kit.grader.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        command = [sys.executable, "-I", "-c", boot, "serve", str(self.folder)]
        if _FORK["enabled"] and threading.active_count() == 1:
            # A warm worker (resnets_kit.classgrade.warm) has imported TensorFlow and the checks:
            # a fork of it starts checking at once, instead of importing them again (no student
            # code has run in this process).
            _, watch = fork_watched(
                lambda: serve_main(self.folder),
                cwd=self.folder,
                deadline=lambda: self._limit,
                memory_limit=memory_limit,
            )
        else:

            def watch():
                return run_watched(
                    command, cwd=self.folder, env=env, deadline=lambda: self._limit, memory_limit=memory_limit
                )

        self._thread = threading.Thread(target=lambda: self._watched.append(watch()), daemon=True)
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
        if EXERCISES[function].network and isinstance(entry.get("config"), dict) and prebuilds < 4:
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
                        "`python -m resnets_kit.grader check RECORDS OUT` on the records to see why"
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
