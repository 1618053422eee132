"""A warm grading worker: ``nbgrader autograde`` of one student at a time, each run in a fork of a
process that imported nbgrader, TensorFlow and the checks once.

Started cold, every autograde pays for the same start-up: nbgrader's own (its application,
preprocessors and gradebook code) and TensorFlow's import in the check process, several seconds
of CPU each, before anything is graded. A :class:`WarmWorker` starts one server process
(``python -m resnets_kit.classgrade.warm``) that imports all of it, then for each student forks a
child that runs nbgrader's application in-process with the arguments of the command
(``nbgrader autograde ASSIGNMENT --student ID --force ...``), its output to a log, in a session
of its own, killed with everything it started past the time limit. The child's check process is
in turn a fork of the child (:func:`resnets_kit.grader.check_server.fork_checks`), TensorFlow
already imported. No student code ever runs in the server or in these forks: it runs only in the
grading sandbox, a fresh confined process per submission, as in a cold autograde. Each fork
starts from the server's state before any grading, so what one autograde changes in its process
(nbgrader's singletons, Keras's session, modules) is gone for the next one.

The server dies with the process that started it (``PR_SET_PDEATHSIG``), and each fork with the
server. Used by :func:`resnets_kit.classgrade.student.autograde_student`; on Linux only (fork).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from resnets_kit import REPO_ROOT

#: Seconds allowed for the server to import everything before it reports ready.
START_TIMEOUT = 300.0


def available() -> bool:
    """Whether warm workers can run here (a system with ``fork`` and ``/proc``: Linux)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def start():
    """A :class:`WarmWorker` with nbgrader's environment, or None where none can start (no fork
    here, or its server failed: the cause is printed on stderr); the caller then grades cold."""
    if not available():
        return None
    from resnets_kit.classgrade.student import nbgrader_env

    try:
        return WarmWorker(env=nbgrader_env())
    except RuntimeError as err:
        print(f"warning: {err}; grading without a warm worker", file=sys.stderr)
        return None


def _die_with_parent() -> None:
    """Have the kernel kill this process when the thread that started it ends (Linux)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _warm_up() -> None:
    """Import what every autograde uses: nbgrader's application and the grading code."""
    from test_utils import import_tensorflow

    import_tensorflow()
    import keras  # noqa: F401
    import nbformat  # noqa: F401
    from nbgrader.apps import autogradeapp, nbgraderapp  # noqa: F401
    from nbgrader.converters import autograde  # noqa: F401

    import public_tests  # noqa: F401
    from resnets_kit.grader import checks, hidden, preprocessors  # noqa: F401
    from resnets_kit.grader.check_server import fork_checks

    fork_checks()


def _run_autograde(args: list[str], cwd: str, log: str) -> None:
    """In the fork: run nbgrader's application with ``args`` in ``cwd``, output to ``log``; end
    the process with the application's exit status. Never returns."""
    code = 1
    try:
        _die_with_parent()
        os.setsid()
        os.chdir(cwd)
        out = os.open(log, os.O_WRONLY | os.O_APPEND)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        from nbgrader.apps.nbgraderapp import NbGraderApp

        sys.argv = ["nbgrader", *args]
        try:
            NbGraderApp.launch_instance(argv=args)
            code = 0
        except SystemExit as end:
            code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """The server: warm up, then run one job per line of standard input, ``{"args": [...], "cwd":
    DIR, "log": FILE, "timeout": SECONDS}``, answering each on standard output with
    ``{"returncode": status or null}`` (null: killed at the time limit)."""
    _die_with_parent()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nothing else may write into the replies
    _warm_up()
    from resnets_kit.grader.forked import Forked
    from resnets_kit.grader.process import kill_tree

    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_autograde(job["args"], job["cwd"], job["log"])
        child = Forked(pid)
        end = time.monotonic() + float(job["timeout"])
        while child.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        returncode = child.poll()
        if returncode is None:
            kill_tree(child)
        replies.write(json.dumps({"returncode": returncode}) + "\n")
    return 0


class WarmWorker:
    """The grader's side: a warm server started once, then :meth:`autograde` per student.

    Use it as a context manager (or call :meth:`close`). Not thread-safe: one autograde at a time.
    """

    def __init__(self, env: dict[str, str] | None = None):
        boot = (
            f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
            "from resnets_kit.classgrade.warm import serve; sys.exit(serve())"
        )
        self._stderr = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(
            [sys.executable, "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            start_new_session=True,
        )
        self._reply(START_TIMEOUT, "start")

    def _reply(self, timeout: float, what: str) -> dict:
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            self.close()
            self._stderr.seek(0)
            tail = self._stderr.read()[-2000:]
            raise RuntimeError(f"the warm grading worker failed to {what}:\n{tail}")
        return json.loads(line)

    def autograde(self, args: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
        """Run ``nbgrader ARGS`` in ``cwd`` in a fork of the warm server, killed (with all it
        started) after ``timeout`` seconds.

        Returns:
            The exit status (None when the limit killed it) and its output (stdout and stderr).

        Raises:
            RuntimeError: the server died (it is then closed; start a new worker).
        """
        with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
            job = {"args": list(args), "cwd": str(cwd), "log": log.name, "timeout": timeout}
            try:
                self._process.stdin.write(json.dumps(job) + "\n")
                self._process.stdin.flush()
            except OSError:
                pass  # the reply says what happened
            reply = self._reply(timeout + 60.0, "grade")
            log.seek(0)
            return reply["returncode"], log.read()

    def close(self) -> None:
        """Stop the server (and anything still running in it)."""
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            from resnets_kit.grader.process import kill_tree

            kill_tree(self._process)
        self._stderr.close()

    def __enter__(self) -> WarmWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(serve())
