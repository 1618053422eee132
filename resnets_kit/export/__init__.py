"""The assignment graded on Gradescope and PrairieLearn, by the same grader core as nbgrader.

``python -m resnets_kit.export gradescope OUT`` writes Gradescope's autograder (``OUT/`` and
``OUT.zip``); ``python -m resnets_kit.export prairielearn OUT`` writes a PrairieLearn question for
external grading. Both hold a copy of this project's grader and grade a submitted notebook with
:func:`~resnets_kit.export.grading.grade_submission`: the same sandbox, checks, messages and points
as ``nbgrader autograde`` in the course and ``python -m resnets_kit.classgrade``. For instructors:
``docs/instructors.md`` (Gradescope and PrairieLearn).

Modules:

    grading       one notebook file graded without nbgrader (the steps of the course's autograde)
    package       the grader copy, settings and requirements; limits fitted to the container
    gradescope    the autograder zip and its results.json
    prairielearn  the question folder and its results.json
    schemas/      JSON schemas of both results documents, from the graders' documentation
"""
