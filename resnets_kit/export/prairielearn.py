"""The PrairieLearn question: ``info.json`` for external grading, ``question.html``, the grader in
``tests/`` and the grading image's ``Dockerfile``; and the results document each grading writes.

PrairieLearn's external grading (https://prairielearn.readthedocs.io/en/latest/externalGrading/):
the question's ``tests/`` folder is mounted at ``/grade/tests``, the student's files at
``/grade/student/``; the entry point writes ``/grade/results/results.json`` with ``score`` in
[0, 1] (``gradable: false`` for a submission that cannot be graded: no attempt is charged), a
``message`` and ``tests`` with points; the file must stay under 1 MB. The fields written here are
checked against ``schemas/prairielearn_results.schema.json``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from resnets_kit.export.grading import SubmissionResult

#: Where PrairieLearn lays out a grading job; a setting (``--root``).
DEFAULT_ROOT = Path("/grade")
#: The schema of :func:`results_document`, in this package.
SCHEMA = Path(__file__).resolve().parent / "schemas" / "prairielearn_results.schema.json"
#: The grading job's time limit written in ``info.json`` (seconds; PrairieLearn allows 600 at most).
JOB_TIMEOUT = 600
#: The image name written in ``info.json`` unless ``--image`` names another.
DEFAULT_IMAGE = "YOUR-DOCKERHUB-USER/resnets-keras-grader:latest"
#: PrairieLearn's size limit of ``results.json``, bytes.
RESULTS_LIMIT = 2**20


def results_document(result: SubmissionResult) -> dict:
    """The ``results.json`` of one grading: ``score`` (points over the maximum, in [0, 1]),
    ``message`` (the submission's status and verdicts), and one entry of ``tests`` per test cell
    with its ``points``, ``max_points`` and ``message`` (the check's message and hint, never test
    code). A submission that is not a gradable notebook, or a grading that could not run, is
    ``gradable: false`` with ``format_errors``.
    """
    lines = [result.message] if result.message else []
    lines += [f"Note: {note}." for note in result.notes]
    if not result.gradable:
        return {"gradable": False, "format_errors": [result.message], "message": "\n".join(lines)}
    tests = [
        {
            "name": c.cell.title,
            "description": f"{c.cell.function}" + (" (hidden cases)" if c.cell.hidden else ""),
            "points": c.points,
            "max_points": c.cell.max_points,
            "message": c.text,
        }
        for c in result.cells
    ]
    summary = f"{result.score:g} of {result.max_score:g} points."
    return {
        "gradable": True,
        "score": result.score / result.max_score if result.max_score else 0.0,
        "message": "\n".join([summary, *lines]),
        "tests": tests,
    }


def info_document(image: str) -> dict:
    """The question's ``info.json``: external grading with ``image``, the entry point in
    ``tests/``, :data:`JOB_TIMEOUT`, no network; a fixed UUID (the same question on every export)."""
    return {
        "uuid": str(
            uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/resnets-keras/resnets-keras#question")
        ),
        "title": "Residual networks: identity block, convolutional block and ResNet50",
        "topic": "Residual networks",
        "tags": ["resnets-keras", "keras", "notebook"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": image,
            "entrypoint": "/grade/tests/run_grader",
            "timeout": JOB_TIMEOUT,
            "enableNetworking": False,
        },
    }


def write_question(out: Path, image: str = DEFAULT_IMAGE, course_root: Path | None = None) -> Path:
    """Write the question folder into ``out`` (a new folder): ``info.json``, ``question.html``,
    ``tests/`` (the grader copy and ``run_grader``) and ``image/`` (``Dockerfile`` and
    ``requirements.txt`` of the grading image). Returns ``out``.

    Raises:
        FileExistsError: ``out`` exists and is not empty (nothing is overwritten).
    """
    from resnets_kit.assignment import points
    from resnets_kit.course import NOTEBOOK_NAME
    from resnets_kit.dependencies import PYTHONS
    from resnets_kit.export.package import requirements_text, write_common

    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: choose a new folder")
    files = Path(__file__).resolve().parent / "files" / "prairielearn"
    tests = out / "tests"
    write_common(tests, course_root)
    (tests / "run_grader").write_text((files / "run_grader").read_text())
    (tests / "run_grader").chmod(0o755)
    (out / "info.json").write_text(json.dumps(info_document(image), indent=2) + "\n")
    total = sum(points().values())
    html = (files / "question.html").read_text().replace("@NOTEBOOK@", NOTEBOOK_NAME)
    (out / "question.html").write_text(html.replace("@POINTS@", f"{total:g}"))
    (out / "image").mkdir()
    docker = (files / "Dockerfile").read_text().replace("@PYTHON@", PYTHONS[0]).replace("@IMAGE@", image)
    (out / "image" / "Dockerfile").write_text(docker)
    (out / "image" / "requirements.txt").write_text(requirements_text())
    return out


def run(root: Path = DEFAULT_ROOT) -> SubmissionResult:
    """Grade ``root/student/`` and write ``root/results/results.json``; the grader copy
    (``tests/``), ``serverFilesCourse/``, ``data/`` and the student's files are made readable by
    root only first.

    Args:
        root: the folder laid out like ``/grade``.
    """
    from resnets_kit.course import NOTEBOOK_NAME
    from resnets_kit.export.package import grade_folder, make_private, write_json

    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    make_private(root / "tests", root / "serverFilesCourse", root / "data", root / "student", results)
    result = grade_folder(root / "student", NOTEBOOK_NAME)
    document = results_document(result)
    if len(json.dumps(document).encode()) > RESULTS_LIMIT:  # cannot happen with capped texts; kept safe
        document = {"gradable": False, "format_errors": ["the grading report was too long"], "message": ""}
    write_json(results / "results.json", document)
    return result
