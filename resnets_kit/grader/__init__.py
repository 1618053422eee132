"""Grading one submission so that it cannot fool the grade: student code and the checks never
share a process.

A submission's graded answer cells run in a sandbox process that reports only data (the JSON
configuration of each Keras model built, or the error raised); the checks run in another process
that runs no student code, on models rebuilt from those reports. Why and how, for instructors:
``docs/instructors.md``; the path of one submission through these modules:
``docs/architecture.md``.

Modules, one job each:

    plan           which checks each test cell of the source notebook runs; a submission's answer cells
    limits         time, memory, file-size and process limits
    outcomes       verdicts, a test cell's outcome, grading errors
    process        run a watched process under limits; kill a process tree
    reaper         run a command that dies with its caller (grading jobs on Dask workers)
    isolation      the sandbox's confinement (bubblewrap, an unprivileged user)
    guard          undo changes to grading files when confinement is off
    sandbox        the sandbox process: runs student code, reports records
    events         the sandbox's event protocol, read as forgeable data
    checks         validate, rebuild and check records (no student code)
    check_server   the check process and the grader's handle on it
    hidden         the hidden tests
    orchestrate    one submission: sandbox, guard, checks, grade
    normalize      submissions as students leave them: copied cells, deleted test cells
    feedback       hidden tests out of the feedback
    preprocessors  the nbgrader preprocessors: NormalizeSubmission, TrustedGrade, HideHiddenTests
    cli            ``python -m resnets_kit.grader grade|check|serve``
"""
