"""Tooling for the resnets-keras course assignment.

Modules:
    data          the data command: places the SIGNS h5 files in ``datasets/`` with sha256 checks.
    digits        builds the Sign Language Digits pair (SIGNS h5 format) from its source archive.
    solution      reads the reference solution out of the source notebook.
    references    writes ``reference_outputs.json`` from the reference solution.
    course        builds the nbgrader course and the student notebook (nbgrader's release).
    grading       hidden tests, run by the hidden test cells when a notebook is graded.
    mistakes      a catalogue of typical mistakes in the graded functions and the messages that catch them.
    mutation_score  runs the catalogue: which test and message catch each mistake.
    grade_class   the class-grading command: autograde a folder of submissions, CSV, feedback.
    distributed   grade_class's jobs on a Dask cluster (--workers N, --scheduler ADDRESS).
    reaper        runs a command that dies with its caller (grading jobs on Dask workers).
    trusted       grading that does not trust the submission (nbgrader preprocessor TrustedGrade).
    sandbox       the untrusted harness that runs a submission's answer cells for ``trusted``.
    hostile       hostile submissions and the scores and statuses they must get.
    feedback      nbgrader preprocessor that keeps hidden-test code out of the feedback.
    figures       draws the notebook's figures into ``images/``.
    run_notebook  executes a notebook end to end and reports its test accuracy.
    experiments   gradient norms and training loss of plain and residual networks, with plots.
    throughput    training throughput of our ResNet50 against keras.applications and PyTorch.
"""

from pathlib import Path

#: Root of the repository (the folder that holds README.md).
REPO_ROOT = Path(__file__).resolve().parent.parent
