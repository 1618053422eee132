"""The sandbox's confinement (bubblewrap): what student code can see, write and start, and what
of it can reach a report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from resnets_kit import REPO_ROOT
from resnets_kit.grader import events, isolation, limits, orchestrate, outcomes, process
from resnets_kit.grader.outcomes import GradingError

confined = pytest.mark.skipif(not isolation.isolation_available(), reason="bubblewrap cannot run here")


def run_confined(tmp_path: Path, code: str, env: dict | None = None) -> dict:
    """Run ``code`` (which sets a dict ``out``) in a confined Python; return ``out``."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    wrapped = code + "\nimport json\nopen('out.json', 'w').write(json.dumps(out))\n"
    command, uid = isolation.confine([sys.executable, "-I", "-c", wrapped], scratch, tmp_path / "etc")
    done = subprocess.run(
        command,
        cwd=scratch,
        env=env or orchestrate.sandbox_env(isolation.SCRATCH_MOUNT, "/tmp", "t0ken"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((scratch / "out.json").read_text())


PROBE = textwrap.dedent(
    """
    import os, socket
    out = {"uid": os.getuid(), "gid": os.getgid(), "root": sorted(os.listdir("/")),
           "grader": sorted(os.path.join(d, f)[len("/grader/"):] for d, _, fs in os.walk("/grader") for f in fs),
           "pids": [p for p in os.listdir("/proc") if p.isdigit()], "env": sorted(os.environ),
           "caps": [l for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "NoNewPrivs"))],
           "etc": sorted(os.listdir("/etc"))}
    for name, path in {"project": PROJECT, "shadow": "/etc/shadow", "root_home": "/root",
                       "ssh": "/root/.ssh", "tmp_grader": TMPDIR}.items():
        out[name] = os.path.exists(path)
    out["writes"] = {}
    for path in ["/grader/public_tests.py", "/usr/probe", "/probe", PROJECT + "/probe", "/tmp/probe", "probe"]:
        try:
            with open(path, "a") as fh:
                fh.write("x")
            out["writes"][path] = "written"
        except OSError as err:
            out["writes"][path] = err.errno
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        out["network"] = True
    except OSError:
        out["network"] = False
    """
)


@confined
def test_the_sandbox_sees_only_what_it_needs_and_writes_only_its_scratch(tmp_path):
    code = f"PROJECT = {str(REPO_ROOT / 'notebooks')!r}\nTMPDIR = {str(tmp_path)!r}\n" + PROBE
    out = run_confined(tmp_path, code)
    if os.geteuid() == 0:
        assert out["uid"] != 0 and out["gid"] != 0
    assert sorted(out["grader"]) == sorted(isolation.SANDBOX_FILES)
    for name in ("project", "shadow", "ssh", "tmp_grader"):
        assert out[name] is False, name
    assert set(out["etc"]) <= {"passwd", "group", "ld.so.cache", "ld.so.conf"}
    assert out["pids"] and len(out["pids"]) <= 3  # bubblewrap's init and this Python
    # the allow-list, and the working folder's PWD that bubblewrap sets
    assert set(out["env"]) - {"PWD"} == set(orchestrate.sandbox_env("/h", "/t", "x"))
    assert any(line.split()[1] == "1" for line in out["caps"] if line.startswith("NoNewPrivs"))
    assert all(int(line.split()[1], 16) == 0 for line in out["caps"] if line.startswith("Cap"))
    writes = out["writes"]
    assert writes.pop("probe") == "written" and writes.pop("/tmp/probe") == "written"
    assert all(value != "written" for value in writes.values()), writes
    assert out["network"] is False
    assert "notebooks" not in out["root"] and "home" not in out["root"]


@confined
def test_the_sandbox_inherits_no_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNETS_GRADER_SECRET", "hidden-value")
    out = run_confined(tmp_path, "import os\nout = dict(os.environ)")
    assert "RESNETS_GRADER_SECRET" not in out and "hidden-value" not in json.dumps(out)


def test_a_missing_bubblewrap_stops_grading_with_the_fix(monkeypatch):
    monkeypatch.setattr(isolation, "_STATE", {})
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    monkeypatch.delenv(isolation.SETTING, raising=False)
    with pytest.raises(GradingError, match="apt-get install bubblewrap") as raised:
        isolation.confinement()
    assert f"{isolation.SETTING}=off" in str(raised.value)
    assert not isolation.isolation_available()
    with pytest.raises(GradingError, match="bubblewrap"):
        orchestrate.run_sandbox({})


def test_the_weaker_mode_is_an_explicit_setting(monkeypatch):
    monkeypatch.setattr(isolation, "_STATE", {})
    monkeypatch.setenv(isolation.SETTING, "off")
    assert isolation.confinement() is None
    monkeypatch.setenv(isolation.SETTING, "none")
    with pytest.raises(GradingError, match="not a confinement mode"):
        isolation.confinement()


@confined
def test_the_sandbox_user_owns_no_file_and_runs_no_process():
    if os.geteuid() != 0:
        pytest.skip("a fresh user is drawn only when the grader runs as root")
    import psutil

    uid = isolation.sandbox_uid()
    assert uid >= isolation.UID_RANGE[0]
    assert all(p.uids().real != uid for p in psutil.process_iter())


def test_a_process_limit_stops_a_tree_that_grows(tmp_path):
    watched = process.run_watched(
        ["sh", "-c", "for i in $(seq 40); do sleep 30 & done; wait"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        deadline=lambda: float("inf"),
        memory_limit=2**30,
        process_limit=10,
    )
    assert watched.reason == "process_limit" and watched.returncode is None
    assert watched.peak_processes > 10


def test_the_task_limit_grows_with_the_cores():
    assert limits.task_limit(1) < limits.task_limit(16)
    assert limits.task_limit(2) >= 512


def test_report_text_is_plain_and_capped():
    text = outcomes.report_text("\x1b[31mred\x1b[0m\x07 line\r\n<b>x</b>\x00" + "y" * 5000, 100)
    assert text.startswith("red line\n<b>x</b>yyy")
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert text.endswith("[... cut at 100 characters]") and len(text) < 140
    assert len(outcomes.Outcome(False, "z" * 10**6).text) < outcomes.REPORT_TEXT_LIMIT + 50


def test_the_event_reader_follows_no_link_and_reads_no_pipe(tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"done": "identity_block", "record": {"error": "secret"}}) + "\n")
    link = tmp_path / "events.jsonl"
    link.symlink_to(secret)
    assert events.EventReader(link).read() == []
    pipe = tmp_path / "pipe.jsonl"
    os.mkfifo(pipe)
    assert events.EventReader(pipe).read() == []  # returns at once: no writer needed


def test_class_grading_stops_before_anyone_is_graded_without_bubblewrap(tmp_path, monkeypatch):
    from resnets_kit.classgrade import cli as classgrade_cli
    from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME, STUDENT_NOTEBOOK

    folder = tmp_path / "submitted" / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK_NAME).write_text(STUDENT_NOTEBOOK.read_text())
    monkeypatch.setattr(isolation, "_STATE", {})
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    monkeypatch.delenv(isolation.SETTING, raising=False)
    out = tmp_path / "grades.csv"
    with pytest.raises(GradingError, match="bubblewrap"):
        classgrade_cli.grade_class(tmp_path / "submitted", tmp_path / "course", out, tmp_path / "feedback")
    assert not out.exists() and not (tmp_path / "feedback").exists()


KEYRING = textwrap.dedent(
    """
    import ctypes, os, sys
    from pathlib import Path
    from resnets_kit.grader import process
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    number = process._KEYCTL[os.uname().machine]
    assert syscall(number, 1, b"grader-session") > 0  # join a named session keyring
    probe = (
        "import ctypes, os\\n"
        "buf = ctypes.create_string_buffer(256)\\n"
        f"ctypes.CDLL(None).syscall({number}, 6, -3, buf, 256)\\n"  # describe the session keyring
        "open('keyring.txt', 'wb').write(buf.value)\\n"
    )
    folder = Path(sys.argv[1])
    process.run_watched([sys.executable, "-I", "-c", probe], cwd=folder, env={}, deadline=lambda: 1e18,
                        memory_limit=2**30)
    """
)


def test_the_sandbox_gets_a_session_keyring_of_its_own(tmp_path):
    import platform

    if platform.machine() not in process._KEYCTL:
        pytest.skip("keyctl's number is not known on this machine")
    done = subprocess.run(
        [sys.executable, "-c", KEYRING, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    described = (tmp_path / "keyring.txt").read_text()
    assert described.startswith("keyring;") and "grader-session" not in described


def test_memory_held_in_memfd_files_counts_against_the_limit(tmp_path):
    hold = (
        "import os, time\n"
        "fds = []\n"
        "for i in range(12):\n"
        "    fd = os.memfd_create(f'hog{i}')\n"
        "    os.write(fd, b'0' * 2**25)\n"
        "    fds.append(fd)\n"
        "time.sleep(30)\n"
    )
    watched = process.run_watched(
        [sys.executable, "-I", "-c", hold],
        cwd=tmp_path,
        env={},
        deadline=lambda: float("inf"),
        memory_limit=256 * 2**20,
    )
    assert watched.reason == "out_of_memory" and watched.seconds < 25


def test_a_line_nested_too_deep_is_skipped_not_raised(tmp_path):
    path = tmp_path / "events.jsonl"
    deep = '{"x": ' + "[" * 100000 + "]" * 100000 + "}"
    path.write_text(deep + "\n" + json.dumps({"ready": True}) + "\n")
    assert events.EventReader(path).read() == [{"ready": True}]


def test_a_failing_watcher_leaves_nothing_running(tmp_path):
    def broken_deadline():
        raise RuntimeError("the grader failed")

    with pytest.raises(RuntimeError, match="the grader failed"):
        process.run_watched(
            [sys.executable, "-c", "open('started', 'w').close(); import time; time.sleep(60)"],
            cwd=tmp_path,
            env={},
            deadline=broken_deadline,
            memory_limit=2**30,
            token="t0ken-broken",
        )
    import psutil

    assert not [
        p for p in psutil.process_iter(["cmdline"]) if "time.sleep(60)" in " ".join(p.info["cmdline"] or [])
    ]


@pytest.mark.parametrize(
    "source",
    [
        "notes <script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[link](javascript:alert(1))",
        "<iframe src=https://example.org></iframe> and ```code```",
    ],
)
def test_a_markdown_cell_with_active_html_is_shown_as_text(source):
    from nbconvert.filters import markdown2html

    from resnets_kit.grader.feedback import active_html, sanitize_markdown

    assert active_html(markdown2html(source))  # the case is active as written
    safe = sanitize_markdown(source)
    assert source in safe and active_html(markdown2html(safe)) == []


def test_the_notebooks_markdown_is_left_as_it_is():
    import nbformat

    from resnets_kit.grader.feedback import sanitize_markdown

    for name in ("Residual_Networks.ipynb", "Residual_Networks_solution.ipynb"):
        notebook = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                assert sanitize_markdown(cell.source) == cell.source


def test_where_bubblewrap_is_installed_the_sandbox_is_confined():
    # a confinement that cannot start would otherwise only show as skipped tests above
    if not isolation.shutil.which("bwrap") or os.environ.get(isolation.SETTING) == "off":
        pytest.skip("bubblewrap is not installed here")
    assert isolation.isolation_available(), isolation._STATE


def test_memory_counts_what_a_process_allocates_not_the_libraries_it_maps():
    import psutil

    me = [psutil.Process()]
    before = process._memory(me)
    hog = bytearray(300 * 2**20)  # zero-filled: every page touched
    grown = process._memory(me) - before
    assert 280 * 2**20 < grown < 340 * 2**20, grown
    assert process._memory(me, proportional=True) >= len(hog) * 0.9
    # the mapped libraries and files are left out: less than the resident set
    assert process._memory(me) < psutil.Process().memory_info().rss
    del hog
