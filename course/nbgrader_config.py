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
