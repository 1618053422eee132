"""The Gradescope autograder: the package (``setup.sh``, ``run_autograder``, the grader copy) and
the results document each submission's grading writes.

Gradescope's autograder specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
the zip's root holds ``setup.sh`` (run once, as root, when the image is built) and
``run_autograder`` (run for each submission in ``/autograder``); the zip is unpacked in
``/autograder/source``, the submission is in ``/autograder/submission/``, and
``/autograder/results/results.json`` is what Gradescope reads. The fields written here are checked
against ``schemas/gradescope_results.schema.json``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from resnets_kit.export.grading import SubmissionResult

#: Where Gradescope lays out an autograder; a setting (``--root``) so that the same flow runs in
#: any folder laid out the same way.
DEFAULT_ROOT = Path("/autograder")
#: The schema of :func:`results_document`, in this package.
SCHEMA = Path(__file__).resolve().parent / "schemas" / "gradescope_results.schema.json"
#: Files of the package that Gradescope runs (copied from ``files/gradescope``).
SCRIPTS = ("setup.sh", "run_autograder")


def summary_line(result: SubmissionResult) -> str:
    """The first line of the top-level output: the status, without any hidden check's points (the
    total score is Gradescope's ``score`` field, shown as Gradescope decides)."""
    if result.status == "invalid":
        return "Your notebook was not graded."
    if result.status == "error":
        return "Your notebook could not be graded this time."
    public = [c for c in result.cells if not c.cell.hidden]
    passed = sum(c.passed for c in public)
    return (
        f"Graded: {passed} of the {len(public)} public checks passed. The hidden checks' results "
        "are shown once grades are published."
    )


def results_document(result: SubmissionResult) -> dict:
    """The ``results.json`` of one grading.

    Each test cell of the source notebook is one entry of ``tests`` (in notebook order): its title,
    ``score`` and ``max_score`` (points), ``status`` (``passed``/``failed``), ``output`` (the check's
    message and hint, or success line) and ``visibility``: ``visible`` for the public checks,
    ``after_published`` for the hidden ones. The top-level ``output`` says the submission's status
    and each verdict (timeout, out of memory, crashed...) and what was done with copied cells; the
    instructor's stdout (never shown to students) gets the whole result.
    """
    tests = []
    for number, cell_result in enumerate(result.cells, start=1):
        cell = cell_result.cell
        tests.append(
            {
                "name": cell.title,
                "number": str(number),
                "score": cell_result.points,
                "max_score": cell.max_points,
                "status": "passed" if cell_result.passed else "failed",
                "output": cell_result.text,
                "output_format": "text",
                "tags": [cell.function] + (["hidden"] if cell.hidden else []),
                "visibility": "after_published" if cell.hidden else "visible",
            }
        )
    output = [summary_line(result)]
    if result.message:
        output.append(result.message)
    output += [f"Note: {note}." for note in result.notes]
    return {
        "score": result.score,
        "execution_time": round(result.seconds),
        "output": "\n".join(output),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"status": result.status, "max_score": result.max_score},
    }


def write_package(out: Path, course_root: Path | None = None) -> Path:
    """Write the autograder into ``out`` (a new folder) and its zip beside it (``out`` + ``.zip``,
    files at the zip's root, as Gradescope wants); return the zip's path.

    Raises:
        FileExistsError: ``out`` exists and is not empty (nothing is overwritten).
    """
    from resnets_kit.dependencies import PYTHONS, requirements
    from resnets_kit.export.package import write_common

    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    write_common(out, course_root)
    uv = next(r for r in requirements("maintainer") if r.startswith("uv=="))
    files = Path(__file__).resolve().parent / "files" / "gradescope"
    for name in SCRIPTS:
        text = (files / name).read_text().replace("@PYTHON@", PYTHONS[0]).replace("@UV@", uv)
        (out / name).write_text(text)
        (out / name).chmod(0o755)
    archive = out.with_name(out.name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(out)), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zipped.writestr(info, path.read_bytes())
    return archive


def run(root: Path = DEFAULT_ROOT) -> SubmissionResult:
    """Grade the submission of an autograder folder and write its ``results/results.json``; where
    the grading itself could not run (status ``error``), write none, so that Gradescope shows the
    run as failed (and the instructor can regrade) instead of recording 0 points.

    The grader's files (``source/``), the submission and Gradescope's
    ``submission_metadata.json`` are made readable by root only first, so that the sandbox's
    unprivileged user reads none of them.

    Args:
        root: the folder laid out like ``/autograder`` (``source/`` holds this package).
    """
    from resnets_kit.course import NOTEBOOK_NAME
    from resnets_kit.export.package import grade_folder, make_private, write_json

    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    make_private(root / "source", root / "submission", root / "submission_metadata.json", results)
    result = grade_folder(root / "submission", NOTEBOOK_NAME)
    if result.status != "error":  # else no results: Gradescope then shows the run as failed
        write_json(results / "results.json", results_document(result))
    return result
