"""The untrusted half of grading: run a submission's graded functions and record what they build.

The grader (:mod:`resnets_kit.grader.orchestrate`) starts this module in a fresh Python process
of its own (``python -I -B -c <boot> JOB EVENTS``, which calls :func:`main`) with limits on time,
memory, file size and processes, no standard input or output, an environment built from an
allow-list and, confined by bubblewrap (:mod:`resnets_kit.grader.isolation`), a file system with
only its scratch folder writable and nothing of the project but the few files it imports, as an
unprivileged user. Nothing this process writes is believed except as *data*: it
reports, per graded function and test case, the configuration of the Keras model the function
built (plain JSON), or the error it raised. The checks then run in another process that never
executes student code: it rebuilds each model from its configuration and compares it with the
references, so patching NumPy, the test functions or ``__eq__`` here changes nothing there.

``JOB`` is a JSON file::

    {"setup": "<the source notebook's setup cell>",
     "cells": {"identity_block": "<student code>", ...},        # missing: the cell was deleted
     "define": ["identity_block", ...],  # the cells to execute, in notebook order
     "check": ["identity_block", ...],   # the functions to run on every test case
     "finished": 57}                     # exit status when the harness finishes (random)

``EVENTS`` receives one JSON object per line, written and flushed as things happen, so that the
grader knows which function was running when it had to stop this process:
``{"start": name, "step": "define" | "check"}``, ``{"case": name, "key": case key, "entry":
{...}}`` (each case as soon as it is done, so that its checks can start early) and ``{"done":
name, "record": {...}}``.

A record is ``{"error": text or None, "signature": [...] or None, "cases": {case key: entry}}``
where an entry is ``{"config": <keras.saving.serialize_keras_object(model)>}``, ``{"error":
"<Type>: <message>"}`` (plus ``"verdict": "out_of_memory"`` for a ``MemoryError``) or, for
ResNet50, ``{"returned_type": "<type name>"}`` when it returned something else than a model.

The functions and cases come from the exercise registry (:mod:`resnets_kit.assignment`). A
function that uses other graded functions (ResNet50 uses both blocks) is run with the reference's
in their place (its code is unchanged; only those names are rebound), so a mistake in a block
costs the block's points, not ResNet50's as well. The reference code is not in the job: the
harness reads it from its standard input (``{"identity_block": "<reference code>", ...}``) when
it starts checking such a function, and the grader writes it there only once the records of the
functions it uses are final (:func:`resnets_kit.grader.orchestrate.run_sandbox`), so no student
code runs beside the reference blocks before its own blocks are judged. The event protocol is
read by :mod:`resnets_kit.grader.events`.
"""

from __future__ import annotations

import json
import os
import sys
import types

_JSON_DEFAULTS = (bool, int, float, str, type(None))


def error_text(err: BaseException) -> str:
    """``"<ExceptionType>: <message>"`` of an exception, at most 2,000 characters (the grader
    cuts it again, to :data:`~resnets_kit.grader.outcomes.RECORDED_TEXT_LIMIT`)."""
    try:
        text = f"{type(err).__name__}: {err}"
    except BaseException:  # a hostile __str__
        text = f"{type(err).__name__}: (the message could not be read)"
    return text[:2000]


def _encode_default(value):
    """A JSON form of a parameter's default: its value for plain data, else its name and repr."""
    import inspect

    if value is inspect.Parameter.empty:
        return {"empty": True}
    if isinstance(value, _JSON_DEFAULTS):
        return {"value": value}
    if isinstance(value, tuple) and all(isinstance(v, _JSON_DEFAULTS) for v in value):
        return {"tuple": list(value)}
    try:
        name = getattr(value, "__name__", None)
        name = name if isinstance(name, str) else None
        text = repr(value)[:200]
    except BaseException:
        name, text = None, "?"
    return {"name": name, "repr": text}


def signature_record(function) -> list[dict] | None:
    """The parameters of a function as JSON: name, kind and encoded default; None if unknown."""
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    return [
        {"name": p.name, "kind": p.kind.name, "default": _encode_default(p.default)}
        for p in signature.parameters.values()
    ]


def _entry(build) -> dict:
    """Run ``build()`` (which returns a model); record its configuration, or the error. The model is
    freed before the next case is built (a ResNet50's weights are about 0.16 GiB)."""
    import gc

    import keras

    model = None
    try:
        model = build()
        if not isinstance(model, keras.Model):
            return {"returned_type": type(model).__name__[:100]}
        config = keras.saving.serialize_keras_object(model)
        json.dumps(config)  # must be plain JSON
        return {"config": config}
    except MemoryError as err:
        return {"error": error_text(err), "verdict": "out_of_memory"}
    except BaseException as err:  # the student's code may raise anything, SystemExit included
        return {"error": error_text(err)}
    finally:
        del model
        gc.collect()


def check_function(name: str, namespace: dict, reference, define_error: str | None, report=None) -> dict:
    """Call one graded function on every public and hidden case; return its record.

    ``reference`` is the namespace of the reference functions, or a function of no argument
    that returns it (called only for a function that uses other graded functions);
    ``report(key, entry)``, if given, is called with each case's entry as soon as it is made.
    """
    from resnets_kit.assignment import exercise

    graded = exercise(name)
    function = namespace.get(name)
    if not callable(function):
        error = define_error or (
            f"NameError: name '{name}' is not defined (its cell is missing or does not define it)"
        )
        return {"error": error, "signature": None, "cases": {}}
    record = {"error": None, "signature": signature_record(function), "cases": {}}
    if graded.uses and isinstance(function, types.FunctionType):
        try:
            blocks = reference() if callable(reference) else reference
        except BaseException as err:
            error = f"the reference functions were not available: {error_text(err)}"
            return {"error": error, "signature": None, "cases": {}}
        scope = dict(function.__globals__)
        scope.update({used: blocks[used] for used in graded.uses})
        function = types.FunctionType(
            function.__code__, scope, function.__name__, function.__defaults__, function.__closure__
        )
        function.__kwdefaults__ = namespace[name].__kwdefaults__
    from public_tests import case_key

    for case in graded.cases():
        key = case_key(case)
        record["cases"][key] = _entry(lambda case=case: graded.build(function, case))
        if report is not None:
            report(key, record["cases"][key])
    return record


def main(argv: list[str] | None = None) -> int:
    """Run the job (see the module's docstring); the process ends with the job's ``finished``
    exit status, and the job file is deleted once read."""
    argv = sys.argv[1:] if argv is None else argv
    job_path, events_path = argv
    with open(job_path) as handle:
        job = json.load(handle)
    os.unlink(job_path)  # the exit status that says "finished" is not left for student code to read
    finished = int(job["finished"])
    events = open(events_path, "a", buffering=1)

    def emit(event: dict) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()
        os.fsync(events.fileno())

    from test_utils import import_tensorflow

    import_tensorflow()
    namespace: dict = {"__name__": "__main__"}
    setup = job.pop("setup")
    exec(compile(setup, "<setup cell>", "exec"), namespace)
    del setup
    after_setup = dict(namespace)
    loaded: dict = {}

    def reference() -> dict:
        """The reference functions, read from standard input on first use (see the docstring)."""
        if not loaded:
            chunks = []
            while chunk := os.read(0, 1 << 16):
                chunks.append(chunk)
            sources = json.loads(b"".join(chunks))
            scope = dict(after_setup)
            for name in list(sources):
                exec(compile(sources.pop(name), f"<reference {name}>", "exec"), scope)
            loaded.update(scope)
        return loaded

    emit({"ready": True})

    define, check = job["define"], job["check"]
    define_errors: dict[str, str] = {}
    from resnets_kit.assignment import GRADED_FUNCTIONS

    for name in GRADED_FUNCTIONS:
        if name not in define or name not in job["cells"]:
            continue
        emit({"start": name, "step": "define"})
        try:
            exec(compile(job["cells"][name], f"<{name} cell>", "exec"), namespace)
        except BaseException as err:
            define_errors[name] = f"the cell raised {error_text(err)}"
        emit({"defined": name})
    for name in GRADED_FUNCTIONS:
        if name not in check:
            continue
        emit({"start": name, "step": "check"})
        record = check_function(
            name,
            namespace,
            reference,
            define_errors.get(name),
            report=lambda key, entry, name=name: emit({"case": name, "key": key, "entry": entry}),
        )
        emit({"done": name, "record": record})
    events.close()
    # End now (threads the student's code started must not keep the process alive), with the exit
    # status that tells the grader the harness itself finished.
    os._exit(finished)


if __name__ == "__main__":
    sys.exit(main())
