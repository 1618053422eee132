"""Run a command so that it and everything it starts end when the process that started it dies.

``python -m resnets_kit.grader.reaper PARENT_PID -- COMMAND ...`` runs COMMAND and exits with its status.
A grading job on a Dask worker starts ``nbgrader autograde`` through it: if the worker process is
killed (by the out-of-memory killer, by the nanny, by hand), the kernel sends this process
``SIGTERM`` (``PR_SET_PDEATHSIG``) and it kills COMMAND and every process below it, including
the grading sandbox and the check process, which run in sessions of their own. It is made a
*child subreaper* (``PR_SET_CHILD_SUBREAPER``), so processes whose parent died are re-parented to
it rather than to init, and it can still find and end them. Linux only; elsewhere it just runs the
command.

``PARENT_PID`` is the process id of the caller: if the caller is already gone when this process
starts (so that the death signal would never come), it exits at once with status 143.

It imports nothing beyond the standard library and psutil (through
:mod:`resnets_kit.grader.process`), so that it starts quickly.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

from resnets_kit.grader.process import kill_descendants

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: Exit status when a signal ended the run (128 + SIGTERM), as a shell reports it.
KILLED_STATUS = 128 + signal.SIGTERM


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the command of ``argv`` (``PARENT_PID -- COMMAND ...``); return its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print("usage: python -m resnets_kit.grader.reaper PARENT_PID -- COMMAND ...", file=sys.stderr)
        return 2
    parent, command = int(argv[0]), argv[2:]
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the caller died before the death signal was armed
        return KILLED_STATUS

    def stop(signum, frame):
        kill_descendants()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        child = subprocess.Popen(command)
    except OSError as error:
        print(f"reaper: cannot run {command[0]}: {error}", file=sys.stderr)
        return 127
    returncode = child.wait()
    kill_descendants()  # anything the command left running
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main())
