"""Trusted work in a fork of the grader's process, under the limits of a watched process.

:func:`fork_watched` starts the check process of a warm grading worker
(:mod:`resnets_kit.classgrade.warm`) as a fork, TensorFlow already imported; :class:`Forked` is
the part of ``subprocess.Popen`` that :func:`resnets_kit.grader.process.watch` needs, for a child
made by :func:`os.fork`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from resnets_kit.grader.process import Watched, _limits, watch


class Forked:
    """A child made by :func:`os.fork`, with what :func:`watch` uses of ``subprocess.Popen``:
    ``pid``, ``returncode``, ``poll()``, ``wait(timeout)`` and ``stdin`` (None)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = None

    def poll(self) -> int | None:
        """The exit status (negative: the signal that ended it) once it has ended, else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until it ends (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.01)
        return self.returncode


def fork_watched(
    target: Callable[[], object],
    *,
    cwd: Path,
    deadline: Callable[[], float],
    memory_limit: int | None = None,
) -> tuple[Forked, Callable[[], Watched]]:
    """Run ``target()`` in a fork of this process, in a session of its own, under the limits of
    :func:`run_watched` (its standard input and output: ``/dev/null``). For trusted code only
    (the check process): the fork shares what this process has imported, so nothing it runs may
    come from a submission.

    Call it while this process has a single thread (a fork keeps only the calling thread). The
    fork ends with status 0 when ``target`` returns, 1 when it raises, unless ``target`` ends
    the process itself.

    Returns:
        The child and a function that watches it until it ends (call it in a thread of its own if
        this one must go on) and returns its :class:`Watched`.
    """
    apply = _limits(memory_limit) if memory_limit is not None else None
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.setsid()
            if apply is not None:
                apply()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.chdir(cwd)
            target()
            code = 0
        finally:
            os._exit(code)
    child = Forked(pid)
    return child, lambda: watch(child, start=start, deadline=deadline, memory_limit=memory_limit)
