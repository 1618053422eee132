"""Process control, used by every caller: run a watched process under limits, kill a process tree.

One way to run a command the grader must be able to stop (:func:`run_watched`: the grading
sandbox, the check process, ``nbgrader autograde`` of one student) and one way to kill what it
started (:func:`kill_tree`; :func:`kill_descendants` for the reaper, which kills its own).
Imports only the standard library (and psutil, on use), so that the reaper starts quickly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from resnets_kit.grader.limits import FILE_SIZE_LIMIT, POLL


def process_tree(pid: int) -> list:
    """``psutil.Process`` objects of a process and all its descendants (empty if it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _private_memory(pid: int, proportional: bool) -> int | None:
    """Anonymous and shared-memory pages of a process, bytes (``RssAnon + RssShmem`` of
    ``/proc/PID/status``; ``proportional``: ``Pss_Anon + Pss_Shmem`` of ``smaps_rollup``); None
    where the kernel does not give them."""
    name, keys = (
        ("smaps_rollup", ("Pss_Anon:", "Pss_Shmem:"))
        if proportional
        else ("status", ("RssAnon:", "RssShmem:"))
    )
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None
    values = [int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith(keys)]
    return sum(values) if len(values) == 2 else None


def _memory(processes, proportional: bool = False) -> int:
    """Memory of processes, bytes: their anonymous and shared-memory pages (what they allocated;
    the pages of the libraries and files they map are left out: shared, and reclaimable, they are
    not the code's doing: TensorFlow's libraries alone are about 0.3 GiB of a process's resident
    memory). ``proportional``: pages shared between them (a fork's) split among their users, so
    counted once. Where the kernel does not give these figures: the resident (or proportional) set
    size, libraries included."""
    import psutil

    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            private = _private_memory(process.pid, proportional)
            if private is None:
                private = process.memory_full_info().pss if proportional else process.memory_info().rss
            total += private
    return total


def _memfd_bytes(processes) -> int:
    """Bytes held by the anonymous in-memory files (``memfd_create``) the processes have open:
    memory that resident-set figures do not show until it is mapped."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for process in processes:
        try:
            entries = list(os.scandir(f"/proc/{process.pid}/fd"))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if os.readlink(entry.path).startswith("/memfd:"):
                    info = os.stat(entry.path)
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        total += info.st_size
    return total


def user_tasks(uid: int) -> int:
    """Processes and threads of a user now (what ``RLIMIT_NPROC`` counts for that user)."""
    import psutil

    total = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if process.info["uids"].real == uid:
                total += process.info["num_threads"] or 1
    return total


def _kill_all(victims) -> None:
    import psutil

    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.kill()


def kill_tree(process: subprocess.Popen, token: str | None = None) -> None:
    """Kill a process, its process group, every descendant and (with ``token``) every process
    whose environment carries ``RESNETS_SANDBOX=<token>`` (one that left the tree), then reap it.

    Descendants are listed before anything is killed: nbgrader starts its kernels in sessions of
    their own, so the process group alone does not reach them.
    """
    import psutil

    victims = process_tree(process.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if token:
        for candidate in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if candidate.environ().get("RESNETS_SANDBOX") == token:
                    victims.append(candidate)
    _kill_all(victims)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def kill_descendants(rounds: int = 50) -> None:
    """Kill every descendant of this process with ``SIGKILL`` and reap them (the reaper's end).

    Processes re-parented to this process (a child subreaper) while others die are found in the
    next round; it stops when none is left (or after ``rounds`` rounds).
    """
    for _ in range(rounds):
        victims = process_tree(os.getpid())[1:]
        _kill_all(victims)
        while True:  # reap what died (our children, and orphans handed to us)
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
        if not victims:
            return
        time.sleep(0.05)


#: ``keyctl``'s system call number per machine (``KEYCTL_JOIN_SESSION_KEYRING`` is its operation 1).
_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 280, "s390x": 280}


def _leave_session_keyring():
    """A function that gives the calling process a new, empty session keyring (the kernel's key
    store, which neither namespaces nor a new user replace), or does nothing where unknown."""
    import ctypes
    import platform

    number = _KEYCTL.get(platform.machine())
    if number is None:
        return lambda: None
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    return lambda: syscall(number, 1, None)


def _limits(memory_limit: int, tasks: int | None = None):
    """The function that sets a sandboxed process's resource limits in the child before it starts
    (``tasks``: its user's ``RLIMIT_NPROC``, processes and threads; None: unchanged), and gives
    it a session keyring of its own (the grader's keys stay out of its reach)."""
    import resource

    leave_keyring = _leave_session_keyring()  # prepared here: nothing is imported in the child

    def apply():
        leave_keyring()
        if tasks is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        address_space = memory_limit + 8 * 2**30  # TensorFlow reserves address space it never uses
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return apply


def _write_some(pipe: IO, data: bytes | None) -> bytes | None:
    """Write what the pipe takes of ``data`` now; close it when all is written (or the reader is
    gone); return the rest (None: nothing to write yet)."""
    if data is None:
        return None
    try:
        written = os.write(pipe.fileno(), data) if data else 0
    except BlockingIOError:
        return data
    except OSError:  # the reader closed it
        written = len(data)
    if written == len(data):
        with contextlib.suppress(OSError):
            pipe.close()
        return b""
    return data[written:]


@dataclass
class Watched:
    """How a watched process ended: ``returncode`` (None: it was killed), ``reason`` (None,
    ``"timeout"``, ``"out_of_memory"`` or ``"process_limit"``), the wall time in seconds, the peak
    memory of its tree in bytes (0 when memory was not watched) and the peak number of processes
    in its tree (0 when not counted)."""

    returncode: int | None
    reason: str | None
    seconds: float
    peak_rss: int = 0
    peak_processes: int = 0


def run_watched(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    deadline: Callable[[], float],
    memory_limit: int | None = None,
    token: str | None = None,
    output: IO | None = None,
    process_limit: int | None = None,
    tasks: int | None = None,
    feed: Callable[[], bytes | None] | None = None,
) -> Watched:
    """Run a command in a session of its own, polling it until it ends or breaks a limit.

    Args:
        args: the command.
        cwd: its working folder.
        env: its whole environment.
        deadline: a function of no argument returning the current time limit as a
            ``time.monotonic()`` value (it may move as the process reports progress).
        memory_limit: largest memory of the process tree, bytes: the memory its processes
            allocated (:func:`_memory`: anonymous and shared-memory pages, not the libraries' file
            pages), or where that is over the limit its proportional share (pages shared by
            forked processes counted once), plus what its in-memory files (``memfd_create``) hold; given, the
            process also gets resource limits (file size
            :data:`~resnets_kit.grader.limits.FILE_SIZE_LIMIT`, no core dumps, an address-space
            backstop) and a session keyring of its own. None: memory is not watched.
        token: the sandbox's token, to find processes that left the tree; given, everything the
            process started is killed when it ends.
        output: a file that gets its standard output and error (default: discarded).
        process_limit: most processes in the tree (the command itself included); more ends it
            with the reason ``"process_limit"``. None: not counted.
        tasks: ``RLIMIT_NPROC`` of the process (with ``memory_limit``): a backstop that makes
            a fork fail once its user has that many processes and threads.
        feed: given, the process's standard input is a pipe, and ``feed()`` is called at each
            poll until it returns bytes, which are then written to it (without blocking this
            process) before it is closed. None: no standard input.

    Returns:
        A :class:`Watched`; a process that broke a limit is dead with all it started.
    """
    start = time.monotonic()
    stream = output if output is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
        stdout=stream,
        stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_limits(memory_limit, tasks) if memory_limit is not None else None,
    )
    return watch(
        process,
        start=start,
        deadline=deadline,
        memory_limit=memory_limit,
        token=token,
        process_limit=process_limit,
        feed=feed,
    )


def watch(
    process,
    *,
    start: float,
    deadline: Callable[[], float],
    memory_limit: int | None = None,
    token: str | None = None,
    process_limit: int | None = None,
    feed: Callable[[], bytes | None] | None = None,
) -> Watched:
    """Poll a started process (``subprocess.Popen`` or :class:`Forked`) until it ends or breaks
    a limit (see :func:`run_watched` for the arguments); ``start``: when it was started
    (``time.monotonic()``)."""
    reason = None
    peak = 0
    most = 0
    pending: bytes | None = None  # what is still to be written to its standard input
    try:
        if process.stdin is not None:
            os.set_blocking(process.stdin.fileno(), False)
        while True:
            try:
                returncode = process.wait(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            tree = process_tree(process.pid) if memory_limit is not None or process_limit else []
            if process_limit:
                most = max(most, len(tree))
                if len(tree) > process_limit:
                    reason = "process_limit"
            if memory_limit is not None and reason is None:
                held = _memfd_bytes(tree)
                used = _memory(tree) + held
                if used > memory_limit:
                    used = _memory(tree, proportional=True) + held
                peak = max(peak, used)
                if used > memory_limit:
                    reason = "out_of_memory"
            if reason is None and time.monotonic() > deadline():
                reason = "timeout"
            if reason:
                kill_tree(process, token)
                returncode = None
                break
            if process.stdin is not None and not process.stdin.closed:
                pending = feed() if pending is None else pending
                pending = _write_some(process.stdin, pending)
    finally:
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if token or process.poll() is None:
            kill_tree(process, token)  # anything it left running (and it, if this failed)
    return Watched(returncode, reason, time.monotonic() - start, peak, most)
