"""The resnets-keras course assignment: its data, its reference solution, its grading.

Modules and subpackages (imports go down this list, never up; ``tests/test_architecture.py``
checks it):

    grader/       grading one submission so that it cannot fool the grade (sandbox, checks, nbgrader)
    classgrade/   grading a whole class: submissions, one student's autograde, reports, Dask cluster
    course        builds the nbgrader course and the student notebook (nbgrader's release)
    references    writes the public and hidden reference outputs from the reference solution
    run_notebook  executes a notebook end to end and reports its test accuracy (``make run``)
    bootstrap     the set-up without make: virtual environment, pinned dependencies, data (stdlib only)
    figures       draws the notebook's figures into ``images/``
    data          the data command: places the SIGNS h5 files in ``datasets/`` with sha256 checks
    digits        builds the Sign Language Digits pair (SIGNS h5 format) from its source archive
    solution      reads the reference solution out of the source notebook
    assignment    the exercise registry: graded functions, their cases, tests and points
    dependencies  the students', instructors' and maintainers' pinned sets, from pyproject.toml

Where each audience starts: ``docs/`` (students, instructors, maintainers, architecture).
"""

from pathlib import Path

#: Root of the repository (the folder that holds README.md).
REPO_ROOT = Path(__file__).resolve().parent.parent
