"""Item analysis of a lab: scores, pass rates per task and the most common failures.

A score with written answers still to mark is provisional: it is kept apart from the final
scores (never counted as if the pending points were zero), and shown as such in the plot.
Failures are grouped by :func:`~mlcycle_ref.course.problems.failure_pattern`, so the same
mistake made with different values counts once; untouched tasks are counted on their own.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from mlcycle_ref import labs
from mlcycle_ref.course.cells import grade_id_of, nbgrader_metadata
from mlcycle_ref.course.folder import GRADED, Course, read_record, submissions
from mlcycle_ref.course.problems import failure_pattern
from mlcycle_ref.course.restore import graded_reference

TASK_COLUMNS = ("grade_id", "kind", "points", "graded", "pass_rate", "not_attempted",
                "failure", "failure_count")
#: How :func:`mlcycle_ref.labs.failure_message` starts the message of an untouched task.
NOT_ATTEMPTED = "not attempted yet"


@dataclass
class LabReport:
    """Item analysis of one lab (see :func:`report`); ``render()`` prints it with rich.

    ``lab`` is the lab's name and ``max_score`` its points. ``scores`` maps each student
    with nothing left to mark to the final score, ``provisional`` each student with written
    answers still to mark to the score so far, and ``manual`` lists the latter. ``failed``
    maps a student whose submission could not be graded to why. ``tasks`` holds one dict
    per graded cell with the keys of ``TASK_COLUMNS`` (see :func:`report`).

    >>> import io
    >>> from rich.console import Console
    >>> task = {"grade_id": "shares-tests", "kind": labs.VISIBLE, "points": 2.0, "graded": 3,
    ...         "pass_rate": 2 / 3, "not_attempted": 0,
    ...         "failure": "value of shares is not correct", "failure_count": 1}
    >>> lab_report = LabReport("lab01_exploration", 10.0, {"s001": 8.0, "s002": 6.0, "s003": 10.0},
    ...                        [task], manual=[], failed={"s004": "not a notebook"})
    >>> lab_report.task_table()[["grade_id", "pass_rate", "failure_count"]].round(2).values.tolist()
    [['shares-tests', 0.67, 1]]
    >>> screen = io.StringIO()
    >>> lab_report.render(Console(file=screen, width=100))
    >>> print(screen.getvalue().splitlines()[0])
    lab01_exploration: 3 graded submission(s); mean 8.0, median 8.0 of 10 points
    """

    lab: str
    max_score: float
    scores: dict[str, float]          # student -> final score (nothing left to mark)
    tasks: list[dict]                 # one per graded cell: see report()
    manual: list[str]                 # students whose submission needs manual grading
    failed: dict[str, str]            # student -> why it could not be graded
    provisional: dict[str, float] = field(default_factory=dict)  # manual marks still pending

    def task_table(self):
        """The tasks as a DataFrame: what ``mlcycle course report`` writes as ``tasks.csv``."""
        import pandas as pd

        return pd.DataFrame(self.tasks, columns=TASK_COLUMNS)

    def render(self, console=None) -> None:
        """Print the summary, the task table, who needs manual grading and what failed, on
        ``console`` (a ``rich.console.Console``; default one on the terminal)."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        values = sorted(self.scores.values())
        if values:
            middle = values[len(values) // 2] if len(values) % 2 else sum(
                values[len(values) // 2 - 1:len(values) // 2 + 1]) / 2
            console.print(f"{self.lab}: {len(values)} graded submission(s); mean "
                          f"{sum(values) / len(values):.1f}, median {middle:.1f} of "
                          f"{self.max_score:g} points")
        if self.provisional:
            console.print(f"{len(self.provisional)} submission(s) have written answers to mark: "
                          "their scores so far are left out of the mean")
        table = Table(title=f"Graded tasks of {self.lab}")
        for name, justify in (("task", "left"), ("kind", "left"), ("points", "right"),
                              ("full points", "right"), ("untouched", "right"),
                              ("most common failure", "left")):
            # Everything but the failure keeps to one line; the failure takes what is left.
            failure = name == "most common failure"
            table.add_column(name, justify=justify, overflow="fold", no_wrap=not failure,
                             ratio=1 if failure else None)
        for task in self.tasks:
            rate = ("-" if task["pass_rate"] is None else
                    f"{task['pass_rate']:.0%} of {task['graded']}")
            failure = (f"{task['failure']} ({task['failure_count']}x)" if task["failure"]
                       else "")
            table.add_row(task["grade_id"], task["kind"], f"{task['points']:g}", rate,
                          str(task["not_attempted"]), failure)
        console.print(table)
        if self.manual:
            console.print(f"Needing manual grading ({len(self.manual)}): "
                          f"{', '.join(self.manual)}")
        for student, reason in sorted(self.failed.items()):
            console.print(f"Could not be graded: {student}: {reason}")


def report(course: Course, lab: str) -> LabReport:
    """Item analysis of ``lab`` from the gradebook and the grading records.

    Per graded task: its kind and points, how many submissions were scored on it, the share
    that earned full points (None while nobody is scored, e.g. unmarked written answers),
    how many did not attempt it, and the most common failure - its message without the
    values it carried - with its count. ``course`` is the graded course, ``lab`` a lab name
    or unique prefix.
    """
    from nbgrader.api import MissingEntry

    lab = course.resolve(lab)
    order = [entry["cell"] for entry in graded_reference(course, lab)["cells"]]
    tasks = {grade_id_of(cell): {"grade_id": grade_id_of(cell), "kind": labs.cell_kind(cell),
                                 "points": float(nbgrader_metadata(cell).get("points", 0)),
                                 "graded": 0, "full": 0, "not_attempted": 0,
                                 "messages": Counter()}
             for cell in order if labs.cell_kind(cell)}
    scores, provisional, manual, failed = {}, {}, [], {}
    with course.gradebook() as gradebook:
        max_score = gradebook.find_assignment(lab).max_score
        for student in sorted(submissions(course, lab)):
            record = read_record(course.record(student, lab))
            if not record:
                continue
            if record["status"] != GRADED:
                failed[student] = record["reason"]
                continue
            try:
                submission = gradebook.find_submission(lab, student)
            except MissingEntry:
                continue
            score = submission.score - (submission.late_submission_penalty or 0)
            if submission.needs_manual_grade:
                manual.append(student)
                provisional[student] = score
            else:
                scores[student] = score
            for grade in submission.notebooks[0].grades:
                task = tasks.get(grade.name)
                if task is None or grade.score is None or grade.needs_manual_grade:
                    continue
                task["graded"] += 1
                task["full"] += math.isclose(grade.score, grade.max_score)
            for result in record.get("tasks", []):
                task = tasks.get(result["grade_id"])
                if task is None or not result["message"]:
                    continue
                if result["message"].startswith(NOT_ATTEMPTED):
                    task["not_attempted"] += 1
                else:
                    task["messages"][failure_pattern(result["message"])] += 1
    rows = []
    for task in tasks.values():
        common = task.pop("messages").most_common(1)
        full = task.pop("full")
        rows.append({**task, "pass_rate": full / task["graded"] if task["graded"] else None,
                     "failure": common[0][0] if common else "",
                     "failure_count": common[0][1] if common else 0})
    return LabReport(lab, float(max_score), scores, rows, manual, failed, provisional)


def plot_score_distribution(lab_report: LabReport):
    """Histogram of the scores in ``lab_report``, final and provisional stacked, the mean of
    the final ones marked; returns a Figure.

    >>> lab_report = LabReport("lab01_exploration", 10.0, {"s001": 8.0, "s002": 6.0}, [], [], {},
    ...                        provisional={"s003": 4.0})
    >>> plot_score_distribution(lab_report).axes[0].get_xlabel()
    'score (of 10)'
    """
    from mlcycle_ref.plots import new_figure

    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    values = list(lab_report.scores.values())
    waiting = list(lab_report.provisional.values())
    bins = max(5, min(20, int(lab_report.max_score) or 5))
    ax.hist([values, waiting], bins=bins, range=(0, lab_report.max_score or 1), stacked=True,
            color=["#4c72b0", "#c4c4c4"], edgecolor="white",
            label=["final", "so far: written answers not marked yet"])
    if values:
        ax.axvline(sum(values) / len(values), color="#dd8452", label="mean of final scores")
    ax.legend(fontsize="small")
    ax.set_xlabel(f"score (of {lab_report.max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"{lab_report.lab}: scores")
    return fig


def plot_pass_rates(lab_report: LabReport):
    """Horizontal bars: the share of submissions with full points on each graded task of
    ``lab_report``; returns a Figure. Tasks nobody was scored on yet are left out.

    >>> task = {"grade_id": "shares-tests", "kind": labs.VISIBLE, "points": 2.0, "graded": 4,
    ...         "pass_rate": 0.75, "not_attempted": 1, "failure": "", "failure_count": 0}
    >>> figure = plot_pass_rates(LabReport("lab01_exploration", 2.0, {}, [task], [], {}))
    >>> [float(bar.get_width()) for bar in figure.axes[0].patches]
    [0.75]
    """
    from matplotlib.patches import Patch

    from mlcycle_ref.plots import new_figure

    rated = [task for task in lab_report.tasks if task["pass_rate"] is not None]
    fig = new_figure((6, 0.9 + 0.3 * max(1, len(rated))))
    ax = fig.subplots()
    colors = {labs.VISIBLE: "#4c72b0", labs.HIDDEN: "#8172b3", labs.WRITTEN: "#55a868"}
    ax.barh([task["grade_id"] for task in rated], [task["pass_rate"] for task in rated],
            color=[colors.get(task["kind"], "grey") for task in rated])
    kinds = sorted({task["kind"] for task in rated}, key=list(colors).index)
    ax.legend(handles=[Patch(color=colors[kind], label=f"{kind} test" if kind != labs.WRITTEN
                             else "written answer") for kind in kinds], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of submissions with full points")
    ax.set_title(f"{lab_report.lab}: pass rate per task")
    return fig
