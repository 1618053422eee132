# nbgrader configuration of the course. Run nbgrader commands from this folder (course/).
# The source assignment (source/resnets/) is built from the project's files by
# `python -m resnets_kit.course`, which also runs `nbgrader generate_assignment resnets`.
from pathlib import Path

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "resnets-keras"
c.CourseDirectory.db_url = "sqlite:///" + str(Path(__file__).resolve().parent / "gradebook.db")

# Each cell may run this long while validating or autograding (seconds). The long training cells
# are skipped under nbgrader (%%skip_when_grading), so every cell runs in seconds.
c.Execute.timeout = 120

# Feedback (`nbgrader generate_feedback`) shows each check's result and message but never the code
# of hidden tests: HideHiddenTests (resnets_kit/feedback.py) replaces the hidden-tests blocks of the
# test cells by one comment line and each error traceback by one line "<ename>: <evalue>". The list
# is nbgrader's default for this step with it inserted before the HTML export.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from resnets_kit.feedback import HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
