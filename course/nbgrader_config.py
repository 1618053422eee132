# nbgrader configuration of the course. Run nbgrader commands from this folder (course/).
# The source assignment (source/resnets/) is built from the project's files by
# `python -m resnets_kit.course`, which also runs `nbgrader generate_assignment resnets`.
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

# nbgrader 0.9 with SQLAlchemy 2 warns "Object of type <SubmittedAssignment> not in session" on
# every autograde: nbgrader's own bookkeeping, with nothing for an instructor to do, so that a
# warning left in the logs means something.
warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "resnets-keras"
c.CourseDirectory.db_url = "sqlite:///" + str(Path(__file__).resolve().parent / "gradebook.db")

# Where Release puts the assignment for students to Fetch, and where Submit leaves their work for
# Collect: a folder of this course (course/exchange/, created by `python -m resnets_kit.course`),
# for one user on one machine. On a JupyterHub every user's configuration names one shared folder
# instead, writable by all (e.g. /srv/nbgrader/exchange, mode 777): see docs/instructors.md.
c.Exchange.root = str(Path(__file__).resolve().parent / "exchange")

# Each cell may run this long while validating or autograding (seconds). The long training cells
# are skipped under nbgrader (%%skip_when_grading), so every cell runs in seconds.
c.Execute.timeout = 120

# Feedback (`nbgrader generate_feedback`) shows each check's result and message but never the code
# of hidden tests: HideHiddenTests (resnets_kit/grader/feedback.py) replaces the hidden-tests blocks of the
# test cells by one comment line and each error traceback by one line "<ename>: <evalue>". The list
# is nbgrader's default for this step with it inserted before the HTML export.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from resnets_kit.grader.preprocessors import HideHiddenTests, SanitizeMarkdown  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, SanitizeMarkdown, CSSHTMLHeaderPreprocessor]
# A submission's markdown and outputs are shown, never run: SanitizeMarkdown escapes the scripts,
# event handlers and other active HTML of markdown cells (nbgrader's feedback template renders them
# unsanitized), nbconvert's sanitizer those of outputs.
c.HTMLExporter.sanitize_html = True
# The math of markdown cells is written as MathML, which browsers show without a network
# (nbgrader's templates load MathJax from a CDN): feedback pages read offline show it.
c.HTMLExporter.filters = {"markdown2html": "resnets_kit.grader.feedback.markdown2html_mathml"}

# Autograde never trusts the student's kernel: TrustedGrade (resnets_kit/grader/preprocessors.py) replaces
# nbgrader's Execute step. The graded answer cells run in a sandbox process (confined by
# bubblewrap: a file system of its own, an unprivileged user, no network; limits on time, memory
# and processes); the checks run in another process, on the
# models rebuilt from what the sandbox reported, with the project's own test code. Each test
# cell's output is its result, which nbgrader then scores, stores and shows in the feedback.
# The other steps are nbgrader's defaults for autograde.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from resnets_kit.grader.preprocessors import TrustedGrade  # noqa: E402

c.Autograde.autograde_preprocessors = [
    TrustedGrade,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Before nbgrader checks a submission's cell metadata, NormalizeSubmission (resnets_kit/grader/normalize.py)
# leaves one cell per grade_id: a student who copied and pasted a cell (a test cell, or the answer
# cell to try a variant) otherwise fails autograde as a whole with "nbgrader update ." (nbgrader's
# DeduplicateIds leaves empty metadata that CheckCellMetadata rejects). Of an answer cell's copies
# the last one that runs is graded, of other cells the first is kept; the others become plain
# cells, and a note above each copy says so in the autograded notebook and the feedback. It runs
# after ClearOutput (its notes are cells, not outputs); the rest is nbgrader's default sanitize.
from nbgrader.preprocessors import (  # noqa: E402
    ClearOutput,
    DeduplicateIds,
    OverwriteCells,
    OverwriteKernelspec,
)

from resnets_kit.grader.preprocessors import NormalizeSubmission  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    NormalizeSubmission,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
# Limits of the sandbox: wall time per graded function (seconds), memory (MiB) and processes.
# The sandbox runs confined by bubblewrap; see docs/instructors.md (the sandbox's confinement).
c.TrustedGrade.step_timeout = 60
c.TrustedGrade.memory_limit_mb = 4096
c.TrustedGrade.process_limit = 16
