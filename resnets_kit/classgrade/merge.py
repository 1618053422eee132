"""A job's result merged into the course on the driver, with nbgrader's own steps: the submitted
and autograded files, the student and the submission in the gradebook, then ``SaveAutoGrades`` and
``AssignLatePenalties`` (see :mod:`resnets_kit.classgrade.cluster`). Every step overwrites, so
merging the same result twice gives the same gradebook."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import asdict
from pathlib import Path

from resnets_kit.classgrade.bundle import load_course_config
from resnets_kit.classgrade.student import Result, place_submission
from resnets_kit.course import ASSIGNMENT, NOTEBOOK_NAME


class GradebookRecorder:
    """Records autograded students in a course's gradebook with nbgrader's own steps.

    Args:
        course_root: the course folder; its ``nbgrader_config.py`` configures the steps.
    """

    def __init__(self, course_root: Path):
        from nbgrader.coursedir import CourseDirectory

        self.course_root = course_root
        self.config = load_course_config(course_root)
        self.coursedir = CourseDirectory(config=self.config)

    def record(self, student_id: str, autograded: Path | None) -> None:
        """Create or update the student and their submission (with the submission's
        ``timestamp.txt``), then, given the autograded notebook, save its scores and comments and
        the late penalty as ``nbgrader autograde`` does.

        Args:
            student_id: the student's id; the submission is in the course's ``submitted/``.
            autograded: the student's autograded notebook, or None when there is none.
        """
        import nbformat
        from nbgrader.api import Gradebook
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
        from sqlalchemy.exc import SAWarning

        db_url, course_id = self.coursedir.db_url, self.coursedir.course_id
        submitted = self.coursedir.format_path(self.coursedir.submitted_directory, student_id, ASSIGNMENT)
        timestamp = self.coursedir.get_existing_timestamp(submitted)
        with warnings.catch_warnings(), Gradebook(db_url, course_id) as gb:
            # nbgrader's own autograde emits the same warnings on a new submission (into its log)
            warnings.simplefilter("ignore", SAWarning)
            gb.update_or_create_student(student_id)
            if timestamp:
                gb.update_or_create_submission(ASSIGNMENT, student_id, timestamp=timestamp)
            else:
                gb.update_or_create_submission(ASSIGNMENT, student_id)
        if autograded is None:
            return
        notebook = nbformat.read(autograded, as_version=nbformat.NO_CONVERT)
        resources = {
            "nbgrader": {
                "notebook": autograded.stem,
                "assignment": ASSIGNMENT,
                "student": student_id,
                "db_url": db_url,
            }
        }
        for step in (SaveAutoGrades, AssignLatePenalties):
            step(config=self.config).preprocess(notebook, resources)


def failed_outcome(student_id: str, detail: str) -> dict:
    """The outcome of a job that returned no result: the student is ``crashed``."""
    return {
        "result": asdict(Result(student_id, "crashed", detail=detail)),
        "log": detail + "\n",
        "files": None,
    }


def merge_outcome(
    course_root: Path, recorder: GradebookRecorder, notebook: Path, outcome: dict
) -> tuple[Result, str]:
    """Merge a job's outcome into the course: ``submitted/``, ``autograded/`` and the gradebook.

    Merging the same outcome again gives the same files and gradebook.

    Args:
        course_root: the course folder.
        recorder: its gradebook recorder.
        notebook: the student's submitted notebook (placed in ``submitted/`` as by the sequential
            command).
        outcome: what :func:`grade_job` returned (or :func:`failed_outcome`).

    Returns:
        The student's result and nbgrader's output.
    """
    result = Result(**outcome["result"])
    student_id = result.student_id
    place_submission(course_root, student_id, notebook)  # also removes an old autograded folder
    autograded = None
    if outcome["files"] is not None:
        folder = course_root / "autograded" / student_id / ASSIGNMENT
        source = course_root / "source" / ASSIGNMENT
        for relative, mode, data in outcome["files"]:
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if data is None:
                shutil.copyfile(source / relative, path)
            else:
                path.write_bytes(data)
            path.chmod(mode)
        autograded = folder / NOTEBOOK_NAME
        if not autograded.is_file():
            autograded = None
    recorder.record(student_id, autograded)
    return result, outcome["log"]
