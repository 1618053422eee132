"""The grader's limits on a submission's processes: time, memory, file size and process count.

Instructors set the first two per course (``c.TrustedGrade.step_timeout``,
``c.TrustedGrade.memory_limit_mb``; see ``docs/instructors.md``).
"""

from __future__ import annotations

#: Default wall-time limit of one graded function in the sandbox (seconds).
DEFAULT_STEP_TIMEOUT = 60.0
#: Default limit of the sandbox's resident memory, its whole process tree (bytes).
DEFAULT_MEMORY_LIMIT = 4 * 2**30
#: Largest file the sandbox may write (bytes).
FILE_SIZE_LIMIT = 64 * 2**20
#: Default limit of the number of processes in the sandbox (its process tree, the harness's
#: own included; it starts with one or two).
DEFAULT_PROCESS_LIMIT = 16
#: Time allowed for starting Python and TensorFlow before any student code runs (seconds).
START_TIMEOUT = 120.0
#: Time allowed for the check step (seconds).
CHECK_TIMEOUT = 300.0
#: How often a watched process is polled (seconds).
POLL = 0.1


def task_limit(cpus: int | None = None) -> int:
    """The sandbox user's ``RLIMIT_NPROC``: processes *and threads* it may have at once.

    TensorFlow starts a few threads per CPU core, so the limit grows with the cores
    (512 + 8 per core); a fork bomb meets it long before the machine does.
    """
    import os

    return 512 + 8 * (cpus or os.cpu_count() or 1)
