"""Grading a class on a Dask cluster (``grade_class --workers N`` / ``--scheduler ADDRESS``).

A small class (the reference solution, the blank release, a partly correct submission, an invalid
file and a roster id without a submission; built as in tests/test_grade_class.py) is graded twice
from copies of one course: once with ``--workers 1`` (one after another, no Dask), once on a local
cluster of 2 workers on 127.0.0.1, while a watcher kills (``SIGKILL``) the worker process of the
first grading job a few seconds into it. The killed job must be run again, every student graded
once, and the CSV, the feedback, the autograded folders and the gradebook must equal those of the
single-process run. Then a worker plugin makes every job of one student kill its worker: that
student ends ``crashed`` and the rest of the batch is graded.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import pytest
from test_grade_class import BY_ID, CELL_TIMEOUT, make_notebook, read_rows

from resnets_kit import course
from resnets_kit.classgrade import cli as classgrade_cli

#: The students graded (see tests/test_grade_class.py for what each submission does).
GRADED = ("blank", "identity-raises", "solution")
INVALID = "garbage"
ABSENT = "absent"
#: Seconds into a job at which the watcher kills its worker.
KILL_AFTER = 4.0


def gradebook_dump(course_root: Path) -> dict:
    """What a gradebook records about students, by names instead of row ids."""
    db = sqlite3.connect(course_root / "gradebook.db")
    try:
        students = db.execute("SELECT id, first_name, last_name, email FROM student ORDER BY id").fetchall()
        submissions = db.execute(
            "SELECT sa.student_id, sa.timestamp, sa.extension, sn.flagged, sn.late_submission_penalty "
            "FROM submitted_assignment sa JOIN submitted_notebook sn ON sn.assignment_id = sa.id "
            "ORDER BY sa.student_id"
        ).fetchall()
        grades = db.execute(
            "SELECT sa.student_id, bc.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade "
            "FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id "
            "JOIN submitted_assignment sa ON sn.assignment_id = sa.id JOIN base_cell bc ON g.cell_id = bc.id "
            "ORDER BY sa.student_id, bc.name"
        ).fetchall()
        comments = db.execute(
            "SELECT sa.student_id, bc.name, c.auto_comment, c.manual_comment "
            "FROM comment c JOIN submitted_notebook sn ON c.notebook_id = sn.id "
            "JOIN submitted_assignment sa ON sn.assignment_id = sa.id JOIN base_cell bc ON c.cell_id = bc.id "
            "ORDER BY sa.student_id, bc.name"
        ).fetchall()
    finally:
        db.close()
    return {"students": students, "submissions": submissions, "grades": grades, "comments": comments}


def tree_files(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below a folder: relative path to (permission bits, bytes)."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mode & 0o777, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def alive(process: psutil.Process) -> bool:
    """Whether a process still runs (a zombie that nobody reaped yet does not)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def grading_processes() -> list[psutil.Process]:
    """Processes below this one that belong to a grading job."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if alive(process) and any(w in command for w in (*JOB_WORDS, "resnets_kit.grader.sandbox")):
            found.append(process)
    return found


#: Words of the command line of a grading job's top process: a cold job runs ``nbgrader`` under
#: the reaper, a warm one is a fork of the worker's warm server (the same command line).
JOB_WORDS = ("nbgrader", "resnets_kit.grader.reaper", "resnets_kit.classgrade.warm")


def job_student(process: psutil.Process) -> str | None:
    """The student a grading job's top process grades, or None if it is not one: a cold job's
    command names it; a warm job (a fork of the warm server, whose parent has the same command)
    runs in a scratch course with that student's folder alone in ``submitted/``."""
    command = process.cmdline()
    if "resnets_kit.grader.reaper" in command and "--student" in command:
        return command[command.index("--student") + 1]
    parent = process.parent()
    if (
        any("resnets_kit.classgrade.warm" in part for part in command)
        and parent is not None
        and parent.cmdline() == command
    ):
        folders = list((Path(process.cwd()) / "submitted").iterdir())
        return folders[0].name if len(folders) == 1 else None
    return None


class WorkerKiller(threading.Thread):
    """Kills (``SIGKILL``) the Dask worker process running the first grading job it sees, once the
    job has run ``KILL_AFTER`` seconds; records the student, the worker and the job's processes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.student: str | None = None
        self.worker: psutil.Process | None = None
        self.job: list[psutil.Process] = []

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.is_set():
            for process in me.children(recursive=True):
                try:
                    student = job_student(process)
                    started = process.create_time()
                    if student is None or time.time() - started < KILL_AFTER:
                        continue
                    worker = process.parent()
                    if "resnets_kit.grader.reaper" not in process.cmdline():
                        worker = worker.parent()  # warm: the worker started the server
                    job = [process, *process.children(recursive=True)]
                except (psutil.Error, OSError):
                    continue
                assert worker is not None and worker.pid != os.getpid()
                worker.kill()
                self.student = student
                self.worker, self.job = worker, job
                return
            time.sleep(0.2)


@dataclass
class Runs:
    work: Path
    submissions: Path
    single: Path  # the course graded with --workers 1
    cluster: Path  # the course graded with --workers 2
    single_out: Path
    cluster_out: Path
    codes: tuple[int, int]
    killer: WorkerKiller
    leftovers: list[psutil.Process]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    work = tmp_path_factory.mktemp("grade_distributed")
    root = course.fresh_course(work / "pristine")
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(f"\nc.TrustedGrade.step_timeout = {CELL_TIMEOUT}\n")
    course.generate(root)
    submissions = work / "submitted"
    for student_id in GRADED:
        folder = submissions / student_id / course.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make_notebook(BY_ID[student_id], root), folder / course.NOTEBOOK_NAME)
        (folder / "timestamp.txt").write_text("2026-05-04 10:00:00.000000 UTC")
    invalid = submissions / INVALID / course.ASSIGNMENT
    invalid.mkdir(parents=True)
    (invalid / course.NOTEBOOK_NAME).write_text("{ not a notebook")
    roster = work / "roster.txt"
    roster.write_text("\n".join([*GRADED, INVALID, ABSENT]) + "\n")
    single, cluster = work / "single", work / "cluster"
    shutil.copytree(root, single)
    shutil.copytree(root, cluster)

    def grade(course_root: Path, *options: str) -> tuple[int, Path]:
        out = work / f"out-{course_root.name}" / "grades.csv"
        argv = [str(submissions), "--course", str(course_root), "--out", str(out), "--roster", str(roster)]
        return classgrade_cli.main([*argv, *options]), out

    single_code, single_out = grade(single, "--workers", "1")
    killer = WorkerKiller()
    killer.start()
    try:
        cluster_code, cluster_out = grade(cluster, "--workers", "2")
    finally:
        killer.done.set()
        killer.join()
    time.sleep(1)
    return Runs(
        work,
        submissions,
        single,
        cluster,
        single_out,
        cluster_out,
        (single_code, cluster_code),
        killer,
        grading_processes(),
    )


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(runs):
    assert runs.codes == (0, 0)
    assert runs.killer.student in GRADED, "no worker was killed during a grading job"
    assert not alive(runs.killer.worker)
    rows = read_rows(runs.cluster_out)
    assert sorted(rows) == sorted([*GRADED, ABSENT, INVALID])
    lines = runs.cluster_out.read_text().splitlines()
    assert len(lines) == len(set(lines)) == len(rows) + 1
    assert {sid: rows[sid]["status"] for sid in GRADED} == dict.fromkeys(GRADED, "graded")
    # the job on the killed worker was run again (the driver names it in the student's log)
    log = (runs.cluster_out.parent / "logs" / f"{runs.killer.student}.log").read_text()
    assert "graded again after 1 lost worker" in log
    for student_id in set(GRADED) - {runs.killer.student}:
        assert "graded again" not in (runs.cluster_out.parent / "logs" / f"{student_id}.log").read_text()


@pytest.mark.slow
def test_the_cluster_csv_equals_the_single_process_csv(runs):
    assert runs.cluster_out.read_bytes() == runs.single_out.read_bytes()
    rows = read_rows(runs.single_out)
    assert (rows["solution"]["score"], rows["blank"]["score"]) == ("30.0", "0.0")
    assert 0 < float(rows["identity-raises"]["score"]) < 30


@pytest.mark.slow
def test_the_cluster_course_equals_the_single_process_course(runs):
    assert gradebook_dump(runs.cluster) == gradebook_dump(runs.single)
    dump = gradebook_dump(runs.cluster)
    assert [s[0] for s in dump["submissions"]] == sorted(GRADED), "one submission per graded student"
    for folder in ("submitted", "autograded"):
        assert tree_files(runs.cluster / folder) == tree_files(runs.single / folder), folder
    feedback = [out.parent / "feedback" for out in (runs.single_out, runs.cluster_out)]
    assert tree_files(feedback[1]) == tree_files(feedback[0])
    # the invalid submission gets the page that says why it was not graded
    assert sorted(tree_files(feedback[0])) == [f"{sid}.html" for sid in sorted([*GRADED, INVALID])]


@pytest.mark.slow
def test_the_killed_job_left_no_process_behind(runs):
    assert runs.killer.job, "the killed job had no process"
    assert not [p for p in runs.killer.job if alive(p)]
    assert not runs.leftovers, [p.pid for p in runs.leftovers]


@pytest.mark.slow
def test_merging_a_result_again_changes_nothing(runs):
    from resnets_kit.classgrade.cluster import autograded_files
    from resnets_kit.classgrade.merge import GradebookRecorder, merge_outcome

    student_id = "identity-raises"
    folder = runs.cluster / "autograded" / student_id / course.ASSIGNMENT
    before = (gradebook_dump(runs.cluster), tree_files(runs.cluster / "autograded"))
    outcome = {
        "result": {"student_id": student_id, "status": "graded", "autograded": True},
        "log": "",
        "files": autograded_files(folder, runs.cluster / "source" / course.ASSIGNMENT),
    }
    assert any(data is None for _, _, data in outcome["files"]), "source files are sent by name"
    notebook = runs.submissions / student_id / course.ASSIGNMENT / course.NOTEBOOK_NAME
    recorder = GradebookRecorder(runs.cluster)
    for _ in range(2):
        merge_outcome(runs.cluster, recorder, notebook, outcome)
        assert (gradebook_dump(runs.cluster), tree_files(runs.cluster / "autograded")) == before


# --- A job that kills its worker every time ----------------------------------------------------


def _killing_plugin(prefix: str, delay: float):
    """A worker plugin that kills its worker ``delay`` seconds after a task whose key starts with
    ``prefix`` starts, as if that task took all its memory. (Made in a function so that it is
    pickled by value: workers need not import this module.)"""
    from distributed import WorkerPlugin

    class KillWhileRunning(WorkerPlugin):
        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and str(key).startswith(prefix):
                threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()

    return KillWhileRunning()


@pytest.mark.slow
def test_a_job_that_keeps_killing_its_worker_ends_crashed_and_the_batch_goes_on(runs):
    from distributed import Client

    from resnets_kit.classgrade.cluster import ALLOWED_FAILURES, local_cluster

    submissions = runs.work / "killers"
    for student_id, base in (("victim", "blank"), ("solution", "solution")):
        folder = submissions / student_id / course.ASSIGNMENT
        folder.mkdir(parents=True)
        source = runs.submissions / base / course.ASSIGNMENT
        for name in (course.NOTEBOOK_NAME, "timestamp.txt"):
            shutil.copy2(source / name, folder / name)
    root = runs.work / "killers-course"
    shutil.copytree(runs.work / "pristine" / "course", root)
    out = runs.work / "out-killers" / "grades.csv"
    with local_cluster(2) as cluster, Client(cluster) as client:
        client.register_plugin(_killing_plugin("grade-victim-", delay=2.0))
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        code = classgrade_cli.main(
            [str(submissions), "--course", str(root), "--out", str(out), "--scheduler", address]
        )
    assert code == 0
    rows = read_rows(out)
    assert (rows["victim"]["status"], rows["victim"]["score"]) == ("crashed", "0.0")
    assert (rows["solution"]["status"], rows["solution"]["score"]) == ("graded", "30.0")
    log = (out.parent / "logs" / "victim.log").read_text()
    assert "KilledWorker" in log and f"died {ALLOWED_FAILURES + 1} times while it ran" in log
    assert not (out.parent / "feedback" / "victim.html").exists()


# --- Without grading ----------------------------------------------------------------------------


def test_workers_and_scheduler_options(tmp_path, capsys):
    for argv in (["--workers", "0"], ["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]):
        with pytest.raises(SystemExit) as exit_info:
            classgrade_cli.parse_args([str(tmp_path), *argv])
        assert exit_info.value.code == 2
    assert "--workers" in capsys.readouterr().err
    args = classgrade_cli.parse_args([str(tmp_path)])
    assert (args.workers, args.scheduler) == (1, None)


def test_the_single_process_path_does_not_import_dask():
    code = "import sys, resnets_kit.classgrade; print(sorted({'dask', 'distributed'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_reaper_ends_the_command_tree_when_its_parent_dies(tmp_path):
    marker = tmp_path / "started"
    parent_code = (
        "import os, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-m', 'resnets_kit.grader.reaper', str(os.getpid()), '--', 'sh', '-c',"
        f" 'sleep 300 & sleep 300 & touch {marker}; wait']).wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline and parent.poll() is None, "the command did not start"
        time.sleep(0.1)
    tree = psutil.Process(parent.pid).children(recursive=True)
    sleeps = [p for p in tree if p.name() == "sleep"]
    assert len(sleeps) == 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p.pid for p in tree if alive(p)]


def test_the_reaper_exits_when_its_parent_is_already_gone():
    result = subprocess.run(
        [sys.executable, "-m", "resnets_kit.grader.reaper", "1", "--", "sleep", "300"],
        timeout=60,
        capture_output=True,
    )
    assert result.returncode == 143
