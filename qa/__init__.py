"""Quality assurance of the grading: catalogues of submissions and what the grader must make of them.

Not part of the product (not installed, not shipped to students or instructors); the tests and
maintainers run it from the repository's root (``python -m qa.mutation_score``). See
``docs/maintainers.md``.

    mistakes           typical mistakes in the graded functions and the hint that must name each
    equivalences       answers spelled differently that compute the same function: full marks
    generated_mutants  one-setting changes generated from the reference solution
    hostile            submissions that attack the grader, and the scores and statuses they must get
    mutation_score     runs the catalogues: which test and message catch each mistake
"""
