"""The course, packed for the workers of a cluster: a deterministic tar archive of the course's
configuration, its source assignment and a gradebook without students (see
:mod:`resnets_kit.classgrade.cluster`)."""

from __future__ import annotations

import io
import sqlite3
import tarfile
import tempfile
from pathlib import Path

from resnets_kit.classgrade.submissions import UsageError
from resnets_kit.course import ASSIGNMENT

#: The gradebook's name in the archive and in a job's scratch course.
GRADEBOOK = "gradebook.db"


def load_course_config(course_root: Path):
    """The traitlets configuration of a course's ``nbgrader_config.py``, with the course root set
    when the file does not set it (nbgrader's default is the folder it runs in)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(course_root)
    return config


def _sqlite_path(db_url: str) -> Path:
    if not db_url.startswith("sqlite:///"):
        raise UsageError(
            f"grading on a cluster needs an SQLite gradebook (CourseDirectory.db_url is {db_url!r})"
        )
    return Path(db_url[len("sqlite:///") :])


def template_gradebook(db_url: str, course_id: str, dest: Path) -> None:
    """Copy a gradebook to ``dest`` without its students: the assignments, notebooks and cells
    that ``nbgrader autograde`` needs, and nobody's grades.

    Args:
        db_url: the course's gradebook (``sqlite:///...``).
        course_id: the course's id.
        dest: the new SQLite file.
    """
    from nbgrader.api import Gradebook

    source = sqlite3.connect(f"file:{_sqlite_path(db_url)}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    with Gradebook(f"sqlite:///{dest}", course_id) as gb:
        for student in list(gb.students):
            gb.remove_student(student.id)
    target = sqlite3.connect(dest)
    try:
        target.execute("VACUUM")
    finally:
        target.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def course_bundle(course_root: Path) -> bytes:
    """The course as the workers get it: a tar archive of ``nbgrader_config.py``, the source
    assignment ``source/resnets/`` and the gradebook without students (:func:`template_gradebook`),
    with sorted names and no times, so that the same course gives the same bytes.

    Args:
        course_root: the course folder (the assignment generated, so that its gradebook holds it).

    Returns:
        The archive's bytes.
    """
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=load_course_config(course_root))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "nbgrader_config.py", (course_root / "nbgrader_config.py").read_bytes())
        source = course_root / "source" / ASSIGNMENT
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            mode = path.stat().st_mode & 0o777
            _add_bytes(
                tar, f"source/{ASSIGNMENT}/{path.relative_to(source).as_posix()}", path.read_bytes(), mode
            )
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / GRADEBOOK
            template_gradebook(coursedir.db_url, coursedir.course_id, db)
            _add_bytes(tar, GRADEBOOK, db.read_bytes())
    return buffer.getvalue()


def unpack_course(bundle: bytes, dest: Path) -> Path:
    """Unpack a :func:`course_bundle` into the new folder ``dest``; return it."""
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        tar.extractall(dest, filter="data")
    return dest
