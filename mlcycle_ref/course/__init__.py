"""The instructor's side of the labs: a course folder around nbgrader, and grading a whole class.

nbgrader is the engine - its gradebook, its cell metadata, its scoring rules - and this package
is the workflow around it, one module (and one ``mlcycle course`` command) per step:

* ``folder``: :func:`init` makes a course folder whose ``nbgrader_config.py`` points at the
  lab sources, enters the roster into the gradebook and records every lab there.
* ``collect``: :func:`collect` files a folder or an LMS zip of notebooks under ``submitted/``,
  matching each file to a student by the id in its name, and reports whatever it could not
  place.
* ``restore`` and ``execute``: grading one notebook, rebuilt on the lab's cells and run in a
  fresh kernel (:func:`grade_submission`).
* ``autograde``: :func:`autograde` grades every submission of a lab, or of several labs in
  one run, in a pool of worker processes (or on a Dask cluster) and records each result as it
  arrives, so an interrupted run resumes.
* ``feedback``, ``export`` and ``report`` turn the gradebook into HTML for each student, a CSV
  of grades and an item analysis of the class.
* ``cli``: the ``mlcycle course`` commands (:func:`register`).

Grading does not trust the submission. Each notebook is rebuilt from the lab's own cells -
locked cells and tests come from the gradebook, only the answer cells from the student - so
edited, deleted, duplicated or reordered cells change nothing (:func:`restore`). It runs in a
fresh kernel whose working folder is an empty scratch folder outside the course, with a
per-cell timeout, a memory limit and a wall-clock limit, and every test cell first puts back
the comparison helpers the tests rely on (:class:`GradingGuard`). What such a grader cannot
defend against is written up in the instructors' chapter of the book.
"""

from mlcycle_ref.course.autograde import (
    MEMORY_MB,
    SUBMISSION_LIMIT,
    GradingSummary,
    RunSummary,
    autograde,
)
from mlcycle_ref.course.cli import register
from mlcycle_ref.course.collect import MAX_NOTEBOOK_BYTES, CollectReport, collect, match_student
from mlcycle_ref.course.execute import grade_submission
from mlcycle_ref.course.export import EXPORT_COLUMNS, export
from mlcycle_ref.course.feedback import feedback, feedback_notebook, offline_html
from mlcycle_ref.course.folder import (
    CELL_TIMEOUT,
    COURSE_ID,
    FAILED,
    GRADED,
    Course,
    CourseError,
    init,
    model_submission,
    open_course,
    read_record,
    read_roster,
    roster_ids,
)
from mlcycle_ref.course.kernel import MAX_CELL_OUTPUT
from mlcycle_ref.course.pool import WORKER_DIED
from mlcycle_ref.course.report import LabReport, plot_pass_rates, plot_score_distribution, report
from mlcycle_ref.course.restore import GradingGuard, graded_reference, restore

__all__ = [
    "CELL_TIMEOUT", "COURSE_ID", "EXPORT_COLUMNS", "FAILED", "GRADED", "MAX_CELL_OUTPUT",
    "MAX_NOTEBOOK_BYTES", "MEMORY_MB", "SUBMISSION_LIMIT", "WORKER_DIED", "CollectReport",
    "Course", "CourseError", "GradingGuard", "GradingSummary", "LabReport", "RunSummary",
    "autograde", "collect", "export", "feedback", "feedback_notebook", "grade_submission",
    "graded_reference", "init", "match_student", "model_submission", "offline_html",
    "open_course", "plot_pass_rates", "plot_score_distribution", "read_record", "read_roster",
    "register", "report", "restore", "roster_ids",
]
