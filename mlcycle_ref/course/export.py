"""Export: the class's grades from the gradebook, as a table or a file an LMS imports.

Three layouts of the same grades: ``long`` (one row per student and lab, with status, late
penalty and problems: the instructor's own view), ``wide`` (one row per student, a column per
lab and optionally per task), and the gradebook imports of Canvas and Moodle, which are wide
tables with those systems' own column names. Work without a grade (missing, not graded yet,
failed) is blank, never 0. Files are UTF-8 with a byte-order mark, so Excel shows accents
right, and a file that export did not write itself is never replaced without ``force``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlcycle_ref.course.folder import (
    FAILED,
    GRADED,
    Course,
    CourseError,
    read_record,
    write_atomically,
)

EXPORT_COLUMNS = ("student_id", "first_name", "last_name", "email", "lab", "status", "score",
                  "max_score", "submitted_at", "hours_late", "late_penalty",
                  "needs_manual_grading", "problem")
#: The layouts of :func:`export`.
FORMATS = ("long", "wide", "canvas", "moodle")
#: sha256 of every file export wrote, so that it replaces only its own, unchanged, files.
WRITTEN_FILE = "grading/exports.json"


def _rows(course: Course, lab_names, tasks: bool) -> tuple[list[dict], dict[str, float]]:
    """One row per student and lab, plus the max score of each lab."""
    from nbgrader.api import MissingEntry

    rows, max_scores = [], {}
    with course.gradebook() as gradebook:
        assignments = {assignment.name: assignment for assignment in gradebook.assignments}
        if lab_names:
            labs = [course.resolve(name) for name in lab_names]
            unknown = [lab for lab in labs if lab not in assignments]
            if unknown:
                raise CourseError(f"not in the gradebook: {', '.join(unknown)}")
        else:  # the labs somebody handed in or that were graded; never-assigned ones are noise
            labs = sorted(name for name, assignment in assignments.items()
                          if assignment.submissions or (course.root / "grading" / name).is_dir()
                          or any((course.root / "submitted").glob(f"*/{name}")))
        for lab in labs:
            max_scores[lab] = assignments[lab].max_score
            for student in sorted(gradebook.students, key=lambda item: item.id):
                record = read_record(course.record(student.id, lab)) or {}
                row = {"student_id": student.id, "first_name": student.first_name or "",
                       "last_name": student.last_name or "", "email": student.email or "",
                       "lab": lab, "status": "missing", "score": None,
                       "max_score": assignments[lab].max_score, "submitted_at": "",
                       "hours_late": None, "late_penalty": None,
                       "needs_manual_grading": False, "problem": record.get("problem", ""),
                       "tasks": {}}
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
                        if tasks:
                            row["tasks"] = {
                                grade.name: None if grade.needs_manual_grade else grade.score
                                for grade in submission.notebooks[0].grades}
                elif course.submitted(student.id, lab).parent.is_dir():
                    row["status"] = "not graded"
                rows.append(row)
    return rows, max_scores


def export(course: Course, output=None, *, lab_names=None, layout: str = "long",
           tasks: bool = False, force: bool = False):
    """The grades as a DataFrame in ``layout`` (one of ``FORMATS``); written to ``output``.

    ``course`` is the course whose gradebook holds the grades; ``output`` a CSV path (None:
    only return the table), which replaces a file export did not write itself only with
    ``force=True``. ``lab_names`` picks labs (default: every lab with a submission).
    ``tasks`` adds a column per graded task (``lab:task``) to the wide layouts; a task
    waiting for a human is blank. Scores are nbgrader's, manual grades and late penalties
    included. ``needs_manual_grading`` (long) or a ``lab (provisional)`` column (wide) marks
    scores that may still rise.
    """
    import pandas as pd

    if layout not in FORMATS:
        raise CourseError(f"export format {layout!r}: choose one of {', '.join(FORMATS)}")
    rows, max_scores = _rows(course, lab_names, tasks)
    if layout == "long":
        table = pd.DataFrame([{key: row[key] for key in EXPORT_COLUMNS} for row in rows],
                             columns=list(EXPORT_COLUMNS))
    else:
        table = _wide(rows, max_scores, layout, tasks)
    if output is not None:
        _write(course, Path(output), table, force)
    return table


def _wide(rows: list[dict], max_scores: dict[str, float], layout: str, tasks: bool):
    import pandas as pd

    students: dict[str, dict] = {}
    for row in rows:
        entry = students.setdefault(row["student_id"], _identity(row, layout))
        entry[row["lab"]] = row["score"]
        if layout == "wide":
            entry[f"{row['lab']} (provisional)"] = (row["needs_manual_grading"]
                                                    if row["status"] == "graded" else None)
        if tasks:
            for task, score in row["tasks"].items():
                entry[f"{row['lab']}:{task}"] = score
    table = pd.DataFrame(list(students.values()))
    if layout == "canvas":
        # Canvas's own export has this row under the header; its import accepts it back.
        points = {column: "" for column in table.columns}
        points.update(max_scores)
        points["Student"] = "    Points Possible"
        table = pd.concat([pd.DataFrame([points]), table], ignore_index=True)
    return table


def _identity(row: dict, layout: str) -> dict:
    first, last = row["first_name"], row["last_name"]
    if layout == "canvas":
        return {"Student": f"{last}, {first}" if last and first else last or first,
                "ID": row["student_id"], "SIS User ID": "", "SIS Login ID": "", "Section": ""}
    if layout == "moodle":
        return {"ID number": row["student_id"], "First name": first, "Last name": last,
                "Email address": row["email"]}
    return {"student_id": row["student_id"], "first_name": first, "last_name": last,
            "email": row["email"]}


def _write(course: Course, path: Path, table, force: bool) -> None:
    """Write ``table`` as UTF-8 CSV with a BOM, replacing only a file export wrote itself."""
    ledger = course.root / WRITTEN_FILE
    written = set(json.loads(ledger.read_text())) if ledger.is_file() else set()
    if path.exists() and not force and _sha256(path.read_bytes()) not in written:
        raise CourseError(f"{path}: exists and was not written by export (or was edited "
                          "since); choose another --output or add --force to replace it")
    content = table.to_csv(index=False).encode("utf-8-sig")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, content)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(ledger, json.dumps(sorted(written | {_sha256(content)}), indent=0))


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
