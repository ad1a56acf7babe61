"""Deadlines: due dates, extensions and nbgrader's late-submission penalties.

The due date of a lab is the gradebook's own (``Assignment.duedate``) and the penalty policy
is a line of ``nbgrader_config.py``, so plain ``nbgrader autograde`` in the same folder
penalizes the same way. Extensions are kept in ``deadlines.json`` as well as on the
gradebook's submission, because nbgrader has nowhere to keep an extension for a student who
has not handed anything in yet. When a submission came in is nbgrader's ``timestamp.txt``,
written by ``collect`` from the LMS zip, the file or a ``timestamp.txt`` beside it.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime, timedelta

from nbformat.v4 import new_notebook

from mlcycle_ref import labs
from mlcycle_ref.course.folder import CONFIG_FILE, Course, CourseError, write_atomically

EXTENSIONS_FILE = "deadlines.json"
PENALTIES = ("none", "zero", "per-hour")
#: The lines of nbgrader_config.py that set the penalty; ``set_penalty`` replaces them.
_PENALTY_LINE = re.compile(r"^c\.(LateSubmissionPlugin\.penalty_method|"
                           r"AssignLatePenalties\.plugin_class|PerHourPenalty\.\w+)\s*=")


def parse_due(text: str) -> datetime:
    """A due date typed by an instructor, as the naive UTC time nbgrader stores.

    ``text`` is an ISO date and time; without an offset the time is UTC.

    >>> parse_due("2026-12-01 17:00")
    datetime.datetime(2026, 12, 1, 17, 0)
    >>> parse_due("2026-12-01T17:00+01:00")
    datetime.datetime(2026, 12, 1, 16, 0)
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise CourseError(f"due date {text!r}: expected a date and time such as "
                          "'2026-12-01 17:00' (UTC) or '2026-12-01 17:00+01:00'") from error
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def extensions(course: Course, lab: str) -> dict[str, float]:
    """Student -> hours of extension on ``lab``, from ``deadlines.json`` in ``course``'s folder.

    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> course = Course(root, root / "source", f"sqlite:///{root}/gradebook.db")
    >>> extensions(course, "lab01_exploration")
    {}
    >>> _ = (root / EXTENSIONS_FILE).write_text('{"lab01_exploration": {"s001": 48}}')
    >>> extensions(course, "lab01_exploration")
    {'s001': 48.0}
    """
    path = course.root / EXTENSIONS_FILE
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError as error:
        raise CourseError(f"{path}: not valid JSON ({error})") from error
    return {student: float(hours) for student, hours in data.get(lab, {}).items()}


def set_penalty(course: Course, method: str, points_per_hour: float = 1.0) -> None:
    """Make ``method`` (none, zero, per-hour) the course's late penalty in nbgrader_config.py.

    ``course`` is the course whose configuration file changes; ``points_per_hour`` is what
    each hour late (started) costs under "per-hour". Only the lines that set the penalty
    are replaced; the rest of the file stays as it is.

    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / CONFIG_FILE).write_text('c.Execute.timeout = 30\\n'
    ...                                     'c.LateSubmissionPlugin.penalty_method = "none"\\n')
    >>> set_penalty(Course(root, root / "source", "sqlite://"), "per-hour", 0.5)
    >>> print((root / CONFIG_FILE).read_text().strip())
    c.Execute.timeout = 30
    c.AssignLatePenalties.plugin_class = "mlcycle_ref.course.late_penalty.PerHourPenalty"
    c.PerHourPenalty.points_per_hour = 0.5
    """
    if method not in PENALTIES:
        raise CourseError(f"late penalty {method!r}: choose one of {', '.join(PENALTIES)}")
    path = course.root / CONFIG_FILE
    kept = [line for line in path.read_text().splitlines() if not _PENALTY_LINE.match(line)]
    if method == "per-hour":
        kept += ['c.AssignLatePenalties.plugin_class = '
                 '"mlcycle_ref.course.late_penalty.PerHourPenalty"',
                 f"c.PerHourPenalty.points_per_hour = {float(points_per_hour)!r}"]
    else:
        kept.append(f"c.LateSubmissionPlugin.penalty_method = {method!r}")
    write_atomically(path, "\n".join(kept) + "\n")


def set_deadline(course: Course, lab: str, due: datetime | None = None, *,
                 student: str | None = None, extension_hours: float | None = None) -> None:
    """Record the due date of ``lab`` and/or a student's extension; re-apply penalties.

    ``course`` holds the gradebook; ``lab`` is a lab name or unique prefix; ``due`` the due
    date as :func:`parse_due` gives it (None leaves it as it is). An extension needs both
    ``student`` and ``extension_hours`` (hours past the due date). Submissions already
    graded get their late penalty again at once.

    >>> from pathlib import Path
    >>> course = Course(Path("/srv/ml"), labs.SOLUTIONS, "sqlite:////srv/ml/gradebook.db")
    >>> set_deadline(course, "lab01", student="s001")
    Traceback (most recent call last):
    ...
    mlcycle_ref.course.folder.CourseError: an extension needs both a student and a number of hours
    """
    from nbgrader.api import MissingEntry

    lab = course.resolve(lab)
    if (student is None) != (extension_hours is None):
        raise CourseError("an extension needs both a student and a number of hours")
    with course.gradebook() as gradebook:
        if due is not None:
            gradebook.update_or_create_assignment(lab, duedate=due)
        if student is not None:
            try:
                gradebook.find_student(student)
            except MissingEntry as error:
                raise CourseError(f"{student}: not a student of this course") from error
        graded = [submission.student.id for submission in gradebook.find_assignment(lab)
                  .submissions]
    if student is not None:
        path = course.root / EXTENSIONS_FILE
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.setdefault(lab, {})[student] = float(extension_hours)
        write_atomically(path, json.dumps(data, indent=1, sort_keys=True))
    for name in graded:
        apply_late_penalty(course, lab, name)


def apply_late_penalty(course: Course, lab: str, student: str,
                       submitted_at: datetime | None = None) -> None:
    """Set a graded submission's time and extension, then nbgrader's penalty for it.

    The submission is ``student``'s of ``lab`` in ``course``'s gradebook; ``submitted_at``
    (naive UTC) replaces its time when given. The policy is the course's configuration
    (see :func:`set_penalty`), as for ``nbgrader autograde``.
    """
    from nbgrader.preprocessors import AssignLatePenalties
    from sqlalchemy.exc import SAWarning

    hours = extensions(course, lab).get(student)
    fields = {"extension": timedelta(hours=hours) if hours else None}
    if submitted_at is not None:
        fields["timestamp"] = submitted_at
    resources = {"nbgrader": {"notebook": lab, "assignment": lab, "student": student,
                              "db_url": course.db_url}}
    with labs.venv_on_path(), warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        with course.gradebook() as gradebook:
            gradebook.update_or_create_submission(lab, student, **fields)
        AssignLatePenalties(config=course.config()).preprocess(new_notebook(), resources)


def submission_time(course: Course, lab: str, student: str) -> datetime | None:
    """When ``student`` handed ``lab`` in (naive UTC), from nbgrader's ``timestamp.txt``
    beside the submission in ``course``; None when there is none.

    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> course = Course(root, root / "source", "sqlite://")
    >>> folder = course.submitted("s001", "lab01_exploration").parent
    >>> folder.mkdir(parents=True)
    >>> _ = (folder / "timestamp.txt").write_text("2026-12-01 17:30:00 UTC")
    >>> submission_time(course, "lab01_exploration", "s001")
    datetime.datetime(2026, 12, 1, 17, 30)
    >>> submission_time(course, "lab01_exploration", "s002") is None
    True
    """
    from nbgrader import utils

    stamp_file = course.submitted(student, lab).with_name("timestamp.txt")
    stamp = stamp_file.read_text().strip() if stamp_file.is_file() else ""
    if not stamp:
        return None
    try:
        return utils.parse_utc(stamp)
    except (ValueError, OverflowError) as error:
        raise CourseError(f"{stamp_file}: not a time ({stamp!r})") from error
