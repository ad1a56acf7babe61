"""Item analysis of a lab: scores, pass rates per task and the most common failures."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from mlcycle_ref import labs
from mlcycle_ref.course.cells import grade_id_of, nbgrader_metadata
from mlcycle_ref.course.folder import GRADED, Course, read_record, submissions
from mlcycle_ref.course.restore import graded_reference


@dataclass
class LabReport:
    """Item analysis of one lab (see :func:`report`); ``render()`` prints it with rich."""

    lab: str
    max_score: float
    scores: dict[str, float]          # student -> score, graded submissions only
    tasks: list[dict]                 # one per graded cell: see report()
    manual: list[str]                 # students whose submission needs manual grading
    failed: dict[str, str]            # student -> why it could not be graded

    def render(self, console=None) -> None:
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
        table = Table(title=f"Graded tasks of {self.lab}")
        for name, justify in (("task", "left"), ("kind", "left"), ("points", "right"),
                              ("graded", "right"), ("pass rate", "right"),
                              ("most common failure", "left")):
            table.add_column(name, justify=justify, overflow="fold")
        for task in self.tasks:
            rate = "-" if task["pass_rate"] is None else f"{task['pass_rate']:.0%}"
            failure = (f"{task['failure']} ({task['failure_count']}x)" if task["failure"]
                       else "")
            table.add_row(task["grade_id"], task["kind"], f"{task['points']:g}",
                          str(task["graded"]), rate, failure)
        console.print(table)
        if self.manual:
            console.print(f"Needing manual grading ({len(self.manual)}): "
                          f"{', '.join(self.manual)}")
        for student, reason in sorted(self.failed.items()):
            console.print(f"Could not be graded: {student}: {reason}")


def report(course: Course, lab: str) -> LabReport:
    """Item analysis of ``lab`` from the gradebook and the grading records.

    Per graded task: its kind and points, how many submissions were scored on it, the share
    that earned full points (None while nobody is scored, e.g. unmarked written answers)
    and the most common failure message with its count.
    """
    from nbgrader.api import MissingEntry

    lab = course.resolve(lab)
    order = [entry["cell"] for entry in graded_reference(course, lab)["cells"]]
    tasks = {grade_id_of(cell): {"grade_id": grade_id_of(cell), "kind": labs.cell_kind(cell),
                                 "points": float(nbgrader_metadata(cell).get("points", 0)),
                                 "graded": 0, "full": 0, "messages": Counter()}
             for cell in order if labs.cell_kind(cell)}
    scores, manual, failed = {}, [], {}
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
            scores[student] = submission.score - (submission.late_submission_penalty or 0)
            if submission.needs_manual_grade:
                manual.append(student)
            for grade in submission.notebooks[0].grades:
                task = tasks.get(grade.name)
                if task is None or grade.score is None or grade.needs_manual_grade:
                    continue
                task["graded"] += 1
                task["full"] += math.isclose(grade.score, grade.max_score)
            for result in record.get("tasks", []):
                if result["message"] and result["grade_id"] in tasks:
                    tasks[result["grade_id"]]["messages"][result["message"]] += 1
    rows = []
    for task in tasks.values():
        common = task.pop("messages").most_common(1)
        full = task.pop("full")
        rows.append({**task, "pass_rate": full / task["graded"] if task["graded"] else None,
                     "failure": common[0][0] if common else "",
                     "failure_count": common[0][1] if common else 0})
    return LabReport(lab, float(max_score), scores, rows, manual, failed)


def plot_score_distribution(lab_report: LabReport):
    """Histogram of the lab's scores, with the mean marked; returns a Figure."""
    from mlcycle_ref.plots import new_figure

    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    values = list(lab_report.scores.values())
    bins = max(5, min(20, int(lab_report.max_score) or 5))
    ax.hist(values, bins=bins, range=(0, lab_report.max_score or 1), color="#4c72b0",
            edgecolor="white")
    if values:
        ax.axvline(sum(values) / len(values), color="#dd8452", label="mean")
        ax.legend()
    ax.set_xlabel(f"score (of {lab_report.max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"{lab_report.lab}: scores")
    return fig


def plot_pass_rates(lab_report: LabReport):
    """Horizontal bars: the share of submissions with full points on each graded task."""
    from mlcycle_ref.plots import new_figure

    rated = [task for task in lab_report.tasks if task["pass_rate"] is not None]
    fig = new_figure((6, 0.9 + 0.3 * max(1, len(rated))))
    ax = fig.subplots()
    colors = {labs.VISIBLE: "#4c72b0", labs.HIDDEN: "#8172b3", labs.WRITTEN: "#55a868"}
    ax.barh([task["grade_id"] for task in rated], [task["pass_rate"] for task in rated],
            color=[colors.get(task["kind"], "grey") for task in rated])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of submissions with full points")
    ax.set_title(f"{lab_report.lab}: pass rate per task")
    return fig


# --------------------------------------------------------------------------- command line
