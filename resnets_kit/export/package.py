"""What both exported packages hold and do: a copy of the grader, its settings and requirements;
at grading time, the grader's files made private and the limits fitted to the container.

The grader copy (:data:`GRADER_FILES`) is this project's grading code and the source notebook
(the reference solution, with the hidden tests), the public tests and their reference outputs:
nothing else of the project (no notebooks for students, data, course or tests).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from resnets_kit import REPO_ROOT
from resnets_kit.assignment import SOURCE_NOTEBOOK

#: Files and folders of the project copied into a package, relative to the project's root.
GRADER_FILES = (
    "resnets_kit",
    SOURCE_NOTEBOOK.relative_to(REPO_ROOT).as_posix(),
    "public_tests.py",
    "test_utils.py",
    "resnets_utils.py",
    "reference_outputs.json",
    "LICENSE",
)
#: The package's settings file (grading limits, read from the course's configuration).
SETTINGS_FILE = "settings.json"
#: Memory kept for the grader itself (its Python, the notebook) when the container's memory
#: decides the sandbox's limit, bytes.
GRADER_RESERVE = 160 * 2**20
#: Below this much memory in the container the checks start only once the sandbox has ended
#: (:func:`~resnets_kit.grader.orchestrate.grade_cells`, ``overlap``), bytes.
OVERLAP_MEMORY = 2 * 2**30


def copy_grader(dest: Path) -> Path:
    """Copy :data:`GRADER_FILES` into ``dest`` (created), without caches; return ``dest``."""
    for rel in GRADER_FILES:
        source = REPO_ROOT / rel
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copyfile(source, target)
    return dest


def course_limits(course_root: Path | None = None) -> dict[str, float]:
    """The sandbox's limits set in the course's ``nbgrader_config.py`` (``c.TrustedGrade``), so that
    the packages grade under the limits the course grades under: ``step_timeout`` (s),
    ``memory_limit_mb`` and ``process_limit``; a limit the file does not set keeps the grader's
    default."""
    from resnets_kit.classgrade.bundle import load_course_config
    from resnets_kit.course import COURSE_ROOT
    from resnets_kit.grader.limits import DEFAULT_MEMORY_LIMIT, DEFAULT_PROCESS_LIMIT, DEFAULT_STEP_TIMEOUT

    config = load_course_config(course_root or COURSE_ROOT).TrustedGrade
    return {
        "step_timeout": float(config.get("step_timeout", DEFAULT_STEP_TIMEOUT)),
        "memory_limit_mb": int(config.get("memory_limit_mb", DEFAULT_MEMORY_LIMIT // 2**20)),
        "process_limit": int(config.get("process_limit", DEFAULT_PROCESS_LIMIT)),
    }


def requirements_text() -> str:
    """The package's ``requirements.txt``: the students' pinned set (what submissions run with)
    and the grader's process watcher (psutil), pinned in ``pyproject.toml``."""
    from resnets_kit.dependencies import requirements, requirements_file

    extra = [r for r in requirements("instructor") if r.lower().startswith("psutil")]
    return requirements_file("student").rstrip("\n") + "\n" + "\n".join(extra) + "\n"


def write_common(dest: Path, course_root: Path | None = None) -> None:
    """The grader copy, ``settings.json`` and ``requirements.txt`` in ``dest``."""
    copy_grader(dest)
    (dest / SETTINGS_FILE).write_text(json.dumps(course_limits(course_root), indent=2) + "\n")
    (dest / "requirements.txt").write_text(requirements_text())


def package_settings() -> dict:
    """The grading limits: the package's ``settings.json`` (written at export), or in the project
    itself the course's (:func:`course_limits`)."""
    path = REPO_ROOT / SETTINGS_FILE
    return json.loads(path.read_text()) if path.is_file() else course_limits()


def _cgroup_files(proc_cgroup: str, root: Path = Path("/sys/fs/cgroup")) -> list[Path]:
    """The memory-limit files of this process's cgroup and of the hierarchy's root, from the text of
    ``/proc/self/cgroup``: cgroup v2 (``0::PATH``, ``memory.max``) and v1 (the ``memory``
    controller's line, ``memory.limit_in_bytes``)."""
    files = []
    for line in proc_cgroup.splitlines():
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        relative = path.strip("/")
        if number == "0" and controllers == "":
            files.append(root / relative / "memory.max")
        elif "memory" in controllers.split(","):
            files.append(root / "memory" / relative / "memory.limit_in_bytes")
    files += [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    return list(dict.fromkeys(files))


def container_memory() -> int | None:
    """The memory limit of this process's container or cgroup (cgroup v2 ``memory.max``, v1
    ``memory.limit_in_bytes``; the smallest found), bytes; None when there is none or it cannot
    be read."""
    try:
        files = _cgroup_files(Path("/proc/self/cgroup").read_text())
    except OSError:
        return None
    limits = []
    for path in files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append(int(text))
    return min(limits) if limits else None


def grading_options(settings: dict, memory: int | None) -> dict:
    """The options of :func:`~resnets_kit.export.grading.grade_submission` for a container with
    ``memory`` bytes (None: unknown, no limit): the course's limits, the sandbox's memory limit
    lowered to what the container leaves after :data:`GRADER_RESERVE`, and the checks started after
    the sandbox below :data:`OVERLAP_MEMORY`."""
    limit = int(settings["memory_limit_mb"]) * 2**20
    if memory is not None:
        limit = min(limit, memory - GRADER_RESERVE)
    return {
        "step_timeout": float(settings["step_timeout"]),
        "memory_limit": limit,
        "process_limit": int(settings["process_limit"]),
        "overlap": memory is None or memory >= OVERLAP_MEMORY,
    }


def make_private(*paths: Path) -> None:
    """Make each existing path readable and writable by its owner only (the grader, root): the
    sandbox's unprivileged user then reads none of them. The folders above them stay passable."""
    for path in paths:
        if path.exists():
            path.chmod(0o700 if path.is_dir() else 0o600)


def find_notebook(folder: Path, name: str) -> tuple[Path | None, str]:
    """The submitted notebook in ``folder`` (searched recursively, symbolic links neither followed
    nor taken): ``name`` when present (the one nearest the top), else the only ``.ipynb`` file.
    Returns the path (None: none to grade) and a sentence for the student when there is something
    to say (none, several without ``name``, or a link where a notebook should be)."""
    found, links = [], []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        for file in files:
            path = Path(top) / file
            if file.endswith(".ipynb"):
                (links if path.is_symlink() else found).append(path)
    found = [p for p in found if p.is_file()]
    found.sort(key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    named = [p for p in found if p.name == name]
    if named:
        return named[0], ""
    if len(found) == 1:
        return found[0], ""
    if links and not found:
        return (
            None,
            f"Not graded: {links[0].name} is a symbolic link, not a notebook. Submit the {name} file itself.",
        )
    if not found:
        return None, f"Not graded: the submission holds no .ipynb file. Submit your {name}."
    names = ", ".join(p.name for p in found[:10])
    return (
        None,
        f"Not graded: the submission holds several notebooks ({names}) and none is named {name}. "
        f"Submit only your {name}.",
    )


def private_copy(notebook: Path, dest: Path, limit: int = 64 * 2**20) -> str:
    """Copy a submitted file into ``dest`` (mode 600), opened without following a symbolic link
    and only when it is a regular file of at most ``limit`` bytes, so that the grader (root) never
    reads, through a submission, a file the submission's author could not. Returns an empty
    string, or why the file was not copied (for the student)."""
    import stat

    try:
        handle = os.open(notebook, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return f"Not graded: {notebook.name} could not be opened as a file (a symbolic link?). Submit the file itself."
    with os.fdopen(handle, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            return f"Not graded: {notebook.name} is not a regular file. Submit the notebook file itself."
        if info.st_size > limit:
            size = f"{info.st_size / 2**20:.0f} MiB"
            return f"Not graded: {notebook.name} is {size}, over the {limit // 2**20} MiB limit."
        data = source.read(limit + 1)
    dest.write_bytes(data)
    dest.chmod(0o600)
    return ""


def write_json(path: Path, document: dict) -> None:
    """Write a JSON document atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    os.replace(partial, path)


def grade_folder(folder: Path, name: str):
    """Grade the notebook of a submission folder (:func:`find_notebook`) under this package's
    settings fitted to the container (:func:`grading_options`); print the whole result for the
    instructor's log. Returns the :class:`~resnets_kit.export.grading.SubmissionResult`."""
    import tempfile
    import time

    from resnets_kit.export.grading import grade_submission, not_graded
    from resnets_kit.grader.isolation import confinement
    from resnets_kit.grader.outcomes import GradingError

    notebook, why = find_notebook(folder, name)
    with tempfile.TemporaryDirectory(prefix="resnets-submission-") as tmp:
        copy = Path(tmp) / name
        if notebook is not None:
            why = private_copy(notebook, copy)
        if why:
            result = not_graded("invalid", why, time.monotonic())
        else:
            options = grading_options(package_settings(), container_memory())
            try:
                how = confinement()
                print(f"sandbox: {how.describe() if how else 'off (not confined)'}")
            except GradingError:
                pass  # grade_submission reports it
            print(f"grading {notebook.relative_to(folder)} with {options}", flush=True)
            result = grade_submission(copy, **options)
    print(f"status: {result.status}; {result.score:g} of {result.max_score:g} points; {result.seconds:.1f} s")
    if result.detail:
        print(result.detail)
    print("points per function: " + ", ".join(f"{f} {p:g}" for f, p in result.function_points().items()))
    for line in [result.message, *result.notes]:
        if line:
            print(line)
    for cell in result.cells:
        print(
            f"  {cell.cell.grade_id}: {cell.points:g}/{cell.cell.max_points:g} {'pass' if cell.passed else 'fail'}"
        )
    return result
