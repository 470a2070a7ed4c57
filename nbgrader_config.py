"""nbgrader configuration for dlcourse; every nbgrader command run from the repository root reads it.

Layout: solutions/ holds the source notebooks (solutions + hidden tests), course/assignments/ the released
student versions (generated, committed), and grading/ (git-ignored) everything produced while grading:
submissions, autograded copies, feedback, grades.csv and the gradebook.
"""

import os

from dlcourse.grading.nbgrader_ext import RedactHiddenTests, ResilientExecute
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))
GRADING = os.path.join(HERE, "grading")
os.makedirs(GRADING, exist_ok=True)

c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = os.path.join("course", "assignments")
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grading", "solution")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(GRADING, "gradebook.db")
c.CsvExportPlugin.to = os.path.join(GRADING, "grades.csv")

# course/assignments/ is generated from solutions/ (never edited by hand), so `nbgrader generate_assignment ps1`
# always regenerates it and records the assignment in the gradebook. Without this, nbgrader skips a release
# folder that already exists (a fresh clone has one) and the gradebook stays empty: autograde then fails.
c.GenerateAssignment.force = True

# Executing student code. The grading helpers stop a never-ending student function after 10 s; the per-cell
# timeout is the backstop for code that escapes them. A loop that swallows the interrupt must not make
# nbgrader drop the whole submission, and a kernel with torch loaded need not shut down gracefully.
c.Execute.timeout = 30
c.Execute.raise_on_iopub_timeout = False
c.Execute.shutdown_kernel = "immediate"
# Student code that kills the kernel (os._exit, a crash, out of memory) costs the cells it killed, not the whole
# submission: nbgrader's own default pipeline, with Execute replaced by ResilientExecute.
c.Autograde.autograde_preprocessors = [ResilientExecute if pp is Execute else pp
                                       for pp in Autograde.class_traits()["autograde_preprocessors"].default()]

# A deleted test cell is put back from the gradebook and graded, instead of "needs manual grade" forever.
c.OverwriteCells.add_missing_cells = True

# Python warnings printed on stderr must not zero a test cell (nbgrader gives 0 for any stderr output).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"^[^\n]*\w+Warning: "

# Feedback: no hidden test may reach a student, neither its source nor a traceback quoting it.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, RedactHiddenTests, ClearHiddenTests]
