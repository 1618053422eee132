"""The grader's command line: ``python -m resnets_kit.grader grade|check|serve``.

::

    python -m resnets_kit.grader grade NOTEBOOK      # grade one notebook; print each test cell's result
    python -m resnets_kit.grader check RECORDS OUT   # the check step alone, on saved records
    python -m resnets_kit.grader serve FOLDER        # the check process of ``grade`` (internal)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from resnets_kit.grader.limits import DEFAULT_MEMORY_LIMIT, DEFAULT_PROCESS_LIMIT, DEFAULT_STEP_TIMEOUT


def main(argv: list[str] | None = None) -> int:
    """``grade NOTEBOOK`` prints each test cell's result; ``check RECORDS OUT`` is the check step."""
    parser = argparse.ArgumentParser(prog="python -m resnets_kit.grader", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade one notebook and print each test cell's result")
    grade.add_argument("notebook", type=Path)
    grade.add_argument("--step-timeout", type=float, default=DEFAULT_STEP_TIMEOUT)
    grade.add_argument("--memory-limit-mb", type=int, default=DEFAULT_MEMORY_LIMIT // 2**20)
    grade.add_argument("--process-limit", type=int, default=DEFAULT_PROCESS_LIMIT)
    grade.add_argument(
        "--no-overlap", action="store_true", help="start the checks after the sandbox (less memory, slower)"
    )
    check = sub.add_parser("check", help="the check step: records JSON in, outcomes JSON out")
    check.add_argument("records", type=Path)
    check.add_argument("out", type=Path)
    serve = sub.add_parser("serve", help="the check process of `grade` (used internally)")
    serve.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "check":
        from resnets_kit.grader.check_server import check_main

        return check_main(args.records, args.out)
    if args.command == "serve":
        from resnets_kit.grader.check_server import serve_main

        return serve_main(args.folder)
    if not args.notebook.is_file():
        parser.error(f"{args.notebook} is not a file")
    from resnets_kit.grader.orchestrate import grade_notebook

    result = grade_notebook(
        args.notebook,
        step_timeout=args.step_timeout,
        memory_limit=args.memory_limit_mb * 2**20,
        process_limit=args.process_limit,
        overlap=not args.no_overlap,
    )
    for grade_id, outcome in result.outcomes.items():
        status = "pass" if outcome.passed else (outcome.verdict or "fail")
        print(f"{grade_id}: {status}")
        if not outcome.passed:
            print("    " + outcome.text.replace("\n", "\n    "))
    print(f"sandbox: {result.sandbox.seconds:.1f} s; verdicts: {result.sandbox.verdicts or 'none'}")
    return 0
