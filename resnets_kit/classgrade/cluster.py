"""Grade a class on a Dask distributed cluster: ``--workers N`` or ``--scheduler ADDRESS``.

The submissions of a batch are graded by *jobs* on Dask workers, one job per student, and the
command's own process (the *driver*) merges each job's result into the course, one at a time. A
course's gradebook is one SQLite file and nbgrader runs in one course folder are not safe side by
side, so a job never touches the course:

1. **The course is shipped, not shared.** The driver packs the course once per batch into a
   deterministic tar archive: ``nbgrader_config.py``, the source assignment ``source/resnets/``
   and a copy of the gradebook without any student (the assignment, its notebooks and cells
   only). The archive is one Dask task's result (its key carries the archive's digest); workers
   fetch it from each other, and if every copy is lost with its workers the scheduler recomputes
   it from the task.
2. **A job grades one student in a scratch copy of the course on its worker**
   (:func:`grade_job`): it unpacks the archive into a temporary folder (inside the worker's local
   directory, which Dask purges after a worker that died), writes the submission's bytes and its
   ``timestamp.txt`` in ``submitted/``, and runs the same ``nbgrader autograde --student ID
   --force`` as the sequential command (:func:`resnets_kit.classgrade.student.autograde_student`: its own
   process group, the ``--timeout`` wall-time limit, the course's sandboxed ``TrustedGrade``)
   with the scratch course as its root and gradebook. nbgrader runs under
   :mod:`resnets_kit.grader.reaper`, so that if the worker process dies, nbgrader, the sandbox and the
   check process die with it. The job returns plain data: the student's
   :class:`~resnets_kit.classgrade.student.Result` fields, nbgrader's output, and the files of the
   autograded folder (their bytes, except files equal to the source assignment's, which are
   named only). The same input gives the same output: a job that is run again is harmless.
3. **The driver merges** each result (:func:`merge_outcome`): it places the submission in the
   course's ``submitted/`` folder as the sequential command does, writes the autograded folder,
   and records the student in the course's gradebook with nbgrader's own steps: the student and
   the submission (with the ``timestamp.txt``), then nbgrader's ``SaveAutoGrades`` and
   ``AssignLatePenalties`` preprocessors on the autograded notebook, configured by the course's
   ``nbgrader_config.py``, exactly what ``nbgrader autograde`` does after running the notebook.
   Every step overwrites, so merging the same result twice gives the same gradebook. Feedback and
   the CSV are then written as by the sequential command, from the same results, so the CSV's
   bytes are the same.

**Lost workers.** Each job's Dask key is ``grade-<student_id>-<digest of its input>``: one
student, one job at a time, one result, merged once. When a worker dies, Dask runs its job again
on another worker (its nanny restarts the worker). Jobs tell the scheduler when a run starts and
ends (events under the job's key), so the driver knows how many runs were lost with their worker.
Dask gives up on a job (``KilledWorker``) once the workers it was assigned to have died more
than its ``allowed-failures`` times (:data:`ALLOWED_FAILURES` on a local cluster). If more than
:data:`ALLOWED_FAILURES` of its runs were lost that way (a submission that makes its worker run out
of memory, say), the student gets the status ``crashed`` and the rest of the batch goes on; if the
job mostly waited in the queue of workers that another job brought down, it is submitted again
under a new key (at most :data:`MAX_RESUBMISSIONS` times). The driver keeps at most as many jobs
on the cluster as the workers have threads, so that a worker seldom holds more than the job it
runs; with one thread per worker, a job that runs when its worker dies is the only one running
there. A job that was run again is named in the progress lines and in the student's log.

**Clusters.** ``--workers N`` starts a local cluster on 127.0.0.1 (:func:`local_cluster`: ``N``
worker processes with one thread each, each under a nanny that restarts it when it dies) for the
batch. ``--scheduler ADDRESS`` uses a running cluster (``dask scheduler`` and ``dask worker``
processes, see ``docs/instructors.md``). Nothing is read from a shared file system: workers receive the course
and the notebooks as bytes, but each worker needs this project and its virtual environment
installed, as on the driver (nbgrader, TensorFlow, and ``resnets_kit``, which the course's
configuration and the sandbox import).

The driver never imports TensorFlow, and imports Dask only here.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from resnets_kit.classgrade.bundle import GRADEBOOK, course_bundle, unpack_course
from resnets_kit.classgrade.merge import GradebookRecorder, failed_outcome, merge_outcome
from resnets_kit.classgrade.student import (
    SECRET_FILE,
    Result,
    autograde_student,
    submission_secret,
    submission_timestamp,
)
from resnets_kit.classgrade.submissions import UsageError
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME

#: A job whose worker died more than this many times ends as ``crashed`` (Dask's
#: ``distributed.scheduler.allowed-failures``, set on the local cluster's scheduler).
ALLOWED_FAILURES = 2
#: A job that Dask gave up on (``KilledWorker``) without having run on its dying workers more than
#: :data:`ALLOWED_FAILURES` times is submitted again, at most this many times.
MAX_RESUBMISSIONS = 3
#: Seconds to wait for the first worker of a cluster given with ``--scheduler``.
WORKER_WAIT = 120


# --- The job, on a worker -----------------------------------------------------------------------


def _current_worker():
    """The Dask worker running this job, or None outside a worker."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _log_run(event: str) -> None:
    """Tell the scheduler that this job's run starts or ends: an event ``{"run": event}`` under
    the topic named by the job's key (the driver counts the runs that never ended)."""
    worker = _current_worker()
    if worker is not None:
        with contextlib.suppress(Exception):
            worker.log_event(str(worker.get_current_task()), {"run": event})


def autograded_files(folder: Path, source: Path) -> list[tuple[str, int, bytes | None]]:
    """The files of an autograded folder as plain data.

    Args:
        folder: ``autograded/<student_id>/resnets/``.
        source: the source assignment folder, whose files nbgrader copies into ``folder``.

    Returns:
        ``(relative path, permission bits, bytes)`` per file, sorted; the bytes are None for a file
        equal to the source assignment's file of the same path.
    """
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        original = source / relative
        same = original.is_file() and original.stat().st_size == len(data) and original.read_bytes() == data
        files.append((relative, path.stat().st_mode & 0o777, None if same else data))
    return files


#: This worker process's warm grading worker (:func:`_warm_worker`), made on its first job.
_WARM: dict = {}


def _warm_worker():
    """This process's :class:`~resnets_kit.classgrade.warm.WarmWorker`, started on first use and
    again after it died; None where none can start (the job is then graded cold)."""
    from resnets_kit.classgrade import warm

    if os.getpid() not in _WARM:
        worker = warm.start()
        if worker is None:
            return None
        _WARM[os.getpid()] = worker
    return _WARM[os.getpid()]


def grade_job(
    bundle: bytes,
    student_id: str,
    notebook: bytes,
    timestamp: bytes,
    timeout: float,
    secret: bytes = b"",
    warm: bool = True,
) -> dict:
    """Grade one submission in a scratch copy of the course (runs on a worker).

    Args:
        bundle: the course (:func:`course_bundle`).
        student_id: the student's id.
        notebook: the submitted notebook's bytes.
        timestamp: its ``timestamp.txt``.
        timeout: wall-time limit of the autograde, seconds.
        secret: its ``submission_secret.txt`` (``student.submission_secret``), written beside it
            as the sequential command does, so that the autograded folders are the same.
        warm: autograde in a fork of this worker's warm grading worker
            (:mod:`resnets_kit.classgrade.warm`; it dies with this process); False, or where it
            cannot start: a fresh ``nbgrader`` command under the reaper.

    Returns:
        ``{"result": <Result fields>, "log": <nbgrader's output>, "files": <autograded_files> or
        None, "worker": "<host>:<pid>"}``.
    """
    import socket

    _log_run("start")
    worker = _current_worker()
    scratch_parent = worker.local_directory if worker is not None else None
    with tempfile.TemporaryDirectory(prefix="grade-", dir=scratch_parent) as tmp:
        root = unpack_course(bundle, Path(tmp) / "course")
        submitted = root / "submitted" / student_id / ASSIGNMENT
        submitted.mkdir(parents=True)
        (submitted / NOTEBOOK_NAME).write_bytes(notebook)
        (submitted / "timestamp.txt").write_bytes(timestamp)
        if secret:
            (submitted / SECRET_FILE).write_bytes(secret)
        options = [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url=sqlite:///{root / GRADEBOOK}"]
        reaper = [sys.executable, "-m", "resnets_kit.grader.reaper", str(os.getpid()), "--"]
        worker = _warm_worker() if warm else None
        try:
            result, log = autograde_student(
                root, student_id, timeout, wrapper=reaper, options=options, warm=worker
            )
        except RuntimeError:  # the warm worker died: this job cold, the next one starts a new worker
            _WARM.pop(os.getpid(), None)
            result, log = autograde_student(root, student_id, timeout, wrapper=reaper, options=options)
        folder = root / "autograded" / student_id / ASSIGNMENT
        files = autograded_files(folder, root / "source" / ASSIGNMENT) if result.autograded else None
    _log_run("end")
    return {
        "result": asdict(result),
        "log": log,
        "files": files,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


def _identity(value):
    return value


# --- The driver ---------------------------------------------------------------------------------


def local_cluster(n_workers: int):
    """A Dask cluster on 127.0.0.1: ``n_workers`` worker processes with one thread each, each under
    a nanny that restarts it if it dies; its scheduler fails a job after :data:`ALLOWED_FAILURES`
    lost workers. No dashboard. Close it (or use it as a context manager) when done."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )


def _lost_runs(client, key: str) -> int:
    """How many runs of a job started and never ended (their worker died), from the job's events
    (see :func:`_log_run`); 0 when the scheduler cannot tell."""
    try:
        runs = [message.get("run") for _, message in client.get_events(key) if isinstance(message, dict)]
    except Exception:  # a scheduler without events
        return 0
    return max(0, runs.count("start") - runs.count("end"))


def _failure_detail(error: BaseException | None, lost: int) -> str:
    """Why a job returned no result (``error``: its exception; ``lost``: its runs lost with their
    worker)."""
    if type(error).__name__ == "KilledWorker":
        if lost > ALLOWED_FAILURES:
            return (
                f"the workers grading it died {lost} times while it ran (out of memory?); "
                "it was not graded (KilledWorker)"
            )
        return "the workers holding it kept dying; it was not graded (KilledWorker)"
    if error is None:
        return "the grading job was cancelled"
    return f"the grading job failed: {type(error).__name__}: {error}"


def grade_on_cluster(
    submissions: dict[str, Path],
    course_root: Path,
    timeout: float,
    report: Callable[[Result, str, str], None],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    warm: bool = True,
) -> None:
    """Grade submissions on a Dask cluster and merge each result into the course as it arrives.

    Args:
        submissions: the notebook of each student to grade (valid notebooks).
        course_root: the course folder, with the assignment generated.
        timeout: wall-time limit of one autograde, seconds.
        report: called once per student, in the driver, after the merge, with the result,
            nbgrader's output and a note (empty, or says that the job was run again).
        workers: worker processes of the local cluster (without ``scheduler``).
        scheduler: the address of a running cluster's scheduler, e.g. ``tcp://10.0.0.5:8786``.
        warm: grade in forks of a warm worker on each Dask worker (see :func:`grade_job`).

    Raises:
        UsageError: the scheduler cannot be reached, no worker joins it, or the gradebook is not
            an SQLite file.
    """
    from distributed import Client, as_completed

    recorder = GradebookRecorder(course_root)
    bundle = course_bundle(course_root)
    course_digest = hashlib.sha256(bundle).hexdigest()
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=30))
            except (OSError, TimeoutError) as error:
                raise UsageError(f"--scheduler {scheduler}: cannot connect ({error})") from error
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except TimeoutError as error:
                raise UsageError(f"--scheduler {scheduler}: no worker joined in {WORKER_WAIT} s") from error
        else:
            print(f"starting a local cluster of {workers} workers ...", file=sys.stderr)
            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(Client(cluster))
        import dask

        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GB"}):
            course = client.submit(_identity, bundle, key=f"resnets-course-{course_digest[:16]}")
        queue = sorted(submissions)
        pending: dict = {}  # future -> (student id, attempt)
        lost = dict.fromkeys(submissions, 0)  # runs lost with their worker, per student
        finished = as_completed()

        def submit(student_id: str, attempt: int) -> None:
            notebook = submissions[student_id].read_bytes()
            timestamp = submission_timestamp(submissions[student_id])
            digest = hashlib.sha256()
            for part in (
                course_digest.encode(),
                student_id.encode(),
                notebook,
                timestamp,
                repr(timeout).encode(),
            ):
                digest.update(len(part).to_bytes(8, "big") + part)
            key = f"grade-{student_id}-{digest.hexdigest()[:16]}" + (f"-again{attempt}" if attempt else "")
            secret = submission_secret(student_id, submissions[student_id], timestamp)
            future = client.submit(
                grade_job, course, student_id, notebook, timestamp, timeout, secret, warm, key=key
            )
            pending[future] = (student_id, attempt)
            finished.add(future)

        def fill() -> None:
            # at most one job per worker thread on the cluster: a worker that dies takes only its own
            capacity = max(1, sum(client.nthreads().values()))
            while queue and len(pending) < capacity:
                submit(queue.pop(0), 0)

        def retry(student_id: str, attempt: int) -> bool:
            # Dask gave up on a job after its allowed failures: its workers died while it ran there
            # (its own doing, perhaps), or while it only waited in their queue (another job's)
            if lost[student_id] > ALLOWED_FAILURES or attempt >= MAX_RESUBMISSIONS:
                return False
            print(f"{student_id}: the workers holding its job died; submitted again", file=sys.stderr)
            submit(student_id, attempt + 1)
            return True

        fill()
        for future in finished:
            student_id, attempt = pending.pop(future)
            lost[student_id] += _lost_runs(client, future.key)
            done = future.status == "finished"
            outcome = future.result() if done else None
            error = future.exception() if future.status == "error" else None
            future.release()
            if type(error).__name__ == "KilledWorker" and retry(student_id, attempt):
                continue
            if not done:
                outcome = failed_outcome(student_id, _failure_detail(error, lost[student_id]))
            result, log = merge_outcome(course_root, recorder, submissions[student_id], outcome)
            note = ""
            if done and lost[student_id]:
                count = lost[student_id]
                note = f"graded again after {count} lost worker{'s' if count > 1 else ''}"
                log = f"{log}\n[{note}; last run on {outcome.get('worker', '?')}]\n"
            report(result, log, note)
            fill()
        course.release()
