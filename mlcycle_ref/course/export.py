"""Export: the class's grades from the gradebook as a table and a CSV file."""

from __future__ import annotations

from mlcycle_ref.course.folder import FAILED, GRADED, Course, read_record

EXPORT_COLUMNS = ("student_id", "first_name", "last_name", "email", "lab", "status", "score",
                  "max_score", "submitted_at", "hours_late", "late_penalty", "needs_manual_grading",
                  "problem")


def export(course: Course, output=None):
    """Grades per student and lab as a DataFrame, written to the CSV file ``output`` if given.

    One row per student of the roster and lab of the course. ``status`` is "graded",
    "failed" (the submission could not be graded; ``problem`` says why), "not graded"
    (submitted, not graded yet) or "missing". Scores are nbgrader's, manual grades and late
    penalties included; a failed or missing submission scores 0.
    """
    import pandas as pd
    from nbgrader.api import MissingEntry

    rows = []
    with course.gradebook() as gradebook:
        for assignment in sorted(gradebook.assignments, key=lambda item: item.name):
            lab = assignment.name
            for student in sorted(gradebook.students, key=lambda item: item.id):
                record = read_record(course.record(student.id, lab)) or {}
                row = {"student_id": student.id, "first_name": student.first_name or "",
                       "last_name": student.last_name or "", "email": student.email or "",
                       "lab": lab, "status": "missing", "score": 0.0,
                       "max_score": assignment.max_score, "submitted_at": "",
                       "hours_late": 0.0, "late_penalty": 0.0,
                       "needs_manual_grading": False, "problem": record.get("problem", "")}
                if record.get("status") == FAILED:
                    row.update(status="failed", problem=record["reason"])
                elif record.get("status") == GRADED:
                    try:
                        submission = gradebook.find_submission(lab, student.id)
                    except MissingEntry:
                        submission = None
                    if submission is not None:
                        penalty = submission.late_submission_penalty or 0.0
                        stamp = submission.timestamp
                        row.update(status="graded", score=submission.score - penalty,
                                   submitted_at=f"{stamp:%Y-%m-%d %H:%M:%S} UTC" if stamp else "",
                                   hours_late=round(submission.total_seconds_late / 3600, 2),
                                   late_penalty=penalty,
                                   needs_manual_grading=bool(submission.needs_manual_grade))
                elif course.submitted(student.id, lab).parent.is_dir():
                    row["status"] = "not graded"
                rows.append(row)
    table = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    if output is not None:
        table.to_csv(output, index=False)
    return table
