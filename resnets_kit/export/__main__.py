"""``python -m resnets_kit.export gradescope|prairielearn OUT``: write a grader's package.

::

    python -m resnets_kit.export gradescope OUT                 # OUT/ and OUT.zip (upload the zip)
    python -m resnets_kit.export prairielearn OUT [--image NAME] # a question folder for a course repository
    python -m resnets_kit.export run gradescope|prairielearn --root DIR   # grade (the packages' entry points)

Exit status: 0 when written (``run``: when the submission was graded, whatever the grade); 1 for
``run`` when the grading itself could not run (see the log; Gradescope then gets no results); 2
for a usage error (OUT not empty, a ROOT without the expected layout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the package (or grade, for ``run``)."""
    parser = argparse.ArgumentParser(prog="python -m resnets_kit.export", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gradescope = sub.add_parser("gradescope", help="write Gradescope's autograder: OUT/ and OUT.zip")
    gradescope.add_argument("out", type=Path)
    gradescope.add_argument("--course", type=Path, help="the course whose limits to use (default: course/)")
    prairie = sub.add_parser("prairielearn", help="write a PrairieLearn question folder for external grading")
    prairie.add_argument("out", type=Path)
    prairie.add_argument("--image", help="the grading image's name on a registry PrairieLearn pulls from")
    prairie.add_argument("--course", type=Path, help="the course whose limits to use (default: course/)")
    run = sub.add_parser("run", help="grade a submission in a grader's layout (the packages' entry points)")
    run.add_argument("grader", choices=("gradescope", "prairielearn"))
    run.add_argument("--root", type=Path, help="the layout's root (default /autograder or /grade)")
    args = parser.parse_args(argv)

    if args.command == "run":
        from resnets_kit.export import gradescope, prairielearn

        module = gradescope if args.grader == "gradescope" else prairielearn
        root = args.root or module.DEFAULT_ROOT
        wanted = "submission" if args.grader == "gradescope" else "student"
        if not (root / wanted).is_dir():
            parser.error(f"{root} has no {wanted}/ folder: not a {args.grader} layout")
        result = module.run(root)
        return 1 if result.status == "error" else 0
    try:
        if args.command == "gradescope":
            from resnets_kit.export.gradescope import write_package

            archive = write_package(args.out, args.course)
            print(f"Gradescope autograder: {archive} (upload it), unpacked in {args.out}/")
        else:
            from resnets_kit.export.prairielearn import DEFAULT_IMAGE, write_question

            image = args.image or DEFAULT_IMAGE
            write_question(args.out, image, args.course)
            print(f"PrairieLearn question: {args.out}/ (build and push {args.out}/image/ as {image})")
    except FileExistsError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
