"""Grading a whole class: every submission of a folder, a grades CSV, feedback, on one machine or
a Dask cluster. ``python -m resnets_kit.classgrade SUBMISSIONS``; for instructors:
``docs/instructors.md``; where it sits among the packages: ``docs/architecture.md``.

Modules, one job each (imports go down this list only, never up):

    cli          the command: finds submissions, grades them, writes the reports
    cluster      the same jobs on a Dask cluster (``--workers N``, ``--scheduler ADDRESS``)
    merge        a cluster job's result merged into the course and its gradebook
    bundle       the course packed for the cluster's workers
    reports      the grades CSV, the summary, the feedback pages
    student      one student's autograde and its status
    submissions  roster, student ids from file names, unusable submissions

Each submission is graded by ``nbgrader autograde`` with the course's preprocessors
(:mod:`resnets_kit.grader.preprocessors`); this package never imports TensorFlow.
"""
