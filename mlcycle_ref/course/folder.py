"""The course folder: its nbgrader configuration, roster, layout and grading records.

A course folder holds ``nbgrader_config.py`` (written by :func:`init`), the gradebook (unless
it lives on a database server), and one folder per step: ``submitted/``, ``autograded/``,
``grading/`` (one JSON record per graded submission), ``feedback/``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlcycle_ref import labs
from mlcycle_ref.course.cells import grade_id_of, nbgrader_metadata
from mlcycle_ref.errors import MlcycleError
from mlcycle_ref.labs.secret import course_secret

#: Seconds a cell may run before it is interrupted (nbgrader's ``Execute.timeout``).
CELL_TIMEOUT = labs.CELL_TIMEOUT
#: Columns that can hold the student id, in the order they are tried: ours, Canvas's, Moodle's.
ROSTER_ID_COLUMNS = ("id", "student_id", "ID", "ID number", "Username", "Email address")
#: Our name for a roster detail -> the columns it is read from (ours, Moodle's).
ROSTER_OPTIONAL = {"first_name": ("first_name", "First name"),
                   "last_name": ("last_name", "Last name"),
                   "email": ("email", "Email address", "Email")}
#: The status of a grading record: the submission was graded, or could not be.
GRADED, FAILED = "graded", "failed"
CONFIG_FILE = "nbgrader_config.py"
CONFIG_TEXT = """\
# Written by `mlcycle course init` and yours to edit: running init again leaves this file
# alone. nbgrader's own commands read it when run in this folder. No path in it is absolute,
# so the course folder can be moved or copied.
import os

c = get_config()  # noqa: F821
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.course_id = {course_id!r}
c.Execute.timeout = {timeout!r}
c.OverwriteCells.add_missing_cells = True
# Late submissions, after `mlcycle course deadline` set a due date: "none" or "zero" here, or
# points off per hour started, the `mlcycle course deadline ... --penalty per-hour` way:
#   c.AssignLatePenalties.plugin_class = "mlcycle_ref.course.late_penalty.PerHourPenalty"
#   c.PerHourPenalty.points_per_hour = 1.0
c.LateSubmissionPlugin.penalty_method = "none"
# Limits on each submission while autograde runs it in its sandbox; the defaults are listed
# by `mlcycle course autograde --help`, and its options override these for one run. E.g.:
#   c.Sandbox.memory_mb = 2048
#   c.Sandbox.processes = 128
#   c.Sandbox.file_mb = 256
#   c.Sandbox.cpu_seconds = 600
"""
#: The course id of the gradebook. nbgrader's commands default to "" and its Gradebook to
#: "default_course"; PostgreSQL, which checks foreign keys, needs the two to agree.
COURSE_ID = "default_course"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


class CourseError(MlcycleError, ValueError):
    """A course folder, roster or submission folder that cannot be used; the message says why.

    >>> open_course("/no/such/course")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlcycle_ref.course.folder.CourseError: /no/such/course: not a course folder (no ...
    """


@dataclass(frozen=True)
class Course:
    """A course folder: where submissions, grades and feedback live, and where the labs come from.

    ``root`` is the course folder; ``source`` the folder of nbgrader source labs;
    ``db_url`` the gradebook's database URL; ``timeout`` the seconds each cell may run. The
    path methods take a ``student`` id and a full ``lab`` name and only compute paths.

    >>> course = Course(Path("/srv/ml"), labs.SOLUTIONS, "sqlite:////srv/ml/gradebook.db")
    >>> [path.relative_to(course.root).as_posix() for path in (
    ...     course.submitted("s001", "lab02_features"), course.autograded("s001", "lab02_features"),
    ...     course.feedback("s001", "lab02_features"), course.record("s001", "lab02_features"))]
    ['submitted/s001/lab02_features/lab02_features.ipynb', \
'autograded/s001/lab02_features/lab02_features.ipynb', \
'feedback/s001/lab02_features/lab02_features.html', 'grading/lab02_features/s001.json']
    >>> course.resolve("lab02")
    'lab02_features'
    >>> course.config().CourseDirectory.db_url
    'sqlite:////srv/ml/gradebook.db'
    """

    root: Path
    source: Path
    db_url: str
    timeout: int = CELL_TIMEOUT

    def _notebook(self, folder: str, student: str, lab: str, suffix: str = ".ipynb") -> Path:
        return self.root / folder / student / lab / f"{lab}{suffix}"

    def submitted(self, student: str, lab: str) -> Path:
        """Where ``student``'s submission of ``lab`` is filed by ``collect``."""
        return self._notebook("submitted", student, lab)

    def autograded(self, student: str, lab: str) -> Path:
        """Where the graded copy of ``student``'s ``lab`` is written."""
        return self._notebook("autograded", student, lab)

    def feedback(self, student: str, lab: str) -> Path:
        """Where the HTML feedback for ``student`` on ``lab`` is written."""
        return self._notebook("feedback", student, lab, ".html")

    def record(self, student: str, lab: str) -> Path:
        """The grading record of ``student``'s submission of ``lab``: written once its result
        is in."""
        return self.root / "grading" / lab / f"{student}.json"

    def config(self):
        """The nbgrader configuration of this course (a traitlets ``Config``).

        It is ``nbgrader_config.py`` with the instructor's edits (late penalties, for one),
        then this folder's paths and gradebook, wherever the folder is now.
        """
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        config = Config()
        if (self.root / CONFIG_FILE).is_file():
            config = PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
        config.merge(labs.course_config(self.root, db_url=self.db_url))
        config.CourseDirectory.source_directory = str(self.source)
        config.CourseDirectory.course_id = COURSE_ID
        config.Execute.timeout = self.timeout
        return config

    def resolve(self, lab: str) -> str:
        """The full name of ``lab`` (a unique prefix such as "lab02" is enough)."""
        try:
            return labs.resolve([lab], self.source)[0]
        except labs.LabError as error:
            raise CourseError(str(error)) from error

    def gradebook(self):
        """An open nbgrader ``Gradebook``; use it in a ``with`` block."""
        from nbgrader.api import Gradebook

        with labs.venv_on_path():
            return Gradebook(self.db_url, COURSE_ID)


def read_roster(path) -> list[dict[str, str]]:
    """Students from the CSV file at ``path``, one row each: ours, or a Canvas or Moodle
    export as it is.

    The id is the first of these columns that every row fills: ``id``, ``student_id``,
    Canvas's ``ID``, Moodle's ``ID number``, ``Username`` or ``Email address``. Names and
    email come from ``first_name``, ``last_name``, ``email``, Moodle's ``First name``,
    ``Last name``, ``Email address`` or Canvas's ``Student`` ("Last, First"); Canvas's
    "Points Possible" row and its test student are skipped. Ids name folders, so they hold
    letters, digits and ``. _ @ -`` only.

    >>> import tempfile
    >>> roster = Path(tempfile.mkdtemp()) / "students.csv"
    >>> _ = roster.write_text("student_id,first_name,last_name\\ns001,Ada,Lovelace\\ns002,,\\n")
    >>> read_roster(roster)
    [{'id': 's001', 'first_name': 'Ada', 'last_name': 'Lovelace'}, {'id': 's002'}]
    >>> _ = roster.write_text("Student,ID,SIS User ID,Section\\n    Points Possible,,,\\n"
    ...                       "\\"Lovelace, Ada\\",1042,s001,A\\n\\"Student, Test\\",1043,,\\n")
    >>> read_roster(roster)
    [{'id': '1042', 'first_name': 'Ada', 'last_name': 'Lovelace'}]
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such roster file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [{key.strip(): (value or "").strip() for key, value in row.items() if key}
                for row in csv.DictReader(handle)]
    columns = list(rows[0]) if rows else []
    rows = [(line, row) for line, row in enumerate(rows, start=2)
            if row.get("Student") not in ("Points Possible", "Student, Test")]
    present = [name for name in ROSTER_ID_COLUMNS if name in columns]
    id_column = next((name for name in present if all(row[name] for _, row in rows)),
                     present[0] if present else None)
    if id_column is None:
        raise CourseError(f"{path}: needs a column of student ids ({', '.join(ROSTER_ID_COLUMNS)}"
                          f"); found {', '.join(columns) or 'no columns (empty file?)'}")
    students, seen = [], set()
    for line, row in rows:
        student = row[id_column]
        if not _ID_PATTERN.match(student):
            raise CourseError(f"{path}, line {line}: student id {student!r} is not usable as a "
                              "folder name (letters, digits and . _ @ - only; column "
                              f"{id_column!r})")
        if student in seen:
            raise CourseError(f"{path}, line {line}: student id {student!r} appears twice")
        seen.add(student)
        details = {}
        for key, aliases in ROSTER_OPTIONAL.items():
            found = next((row[column] for column in aliases if row.get(column)), "")
            if found:
                details[key] = found
        if "Student" in row and not {"first_name", "last_name"} & set(details):
            last, _, first = row["Student"].partition(",")
            details.update({key: value.strip() for key, value in
                            (("first_name", first), ("last_name", last)) if value.strip()})
        students.append({"id": student, **{key: details[key] for key in ROSTER_OPTIONAL
                                           if key in details}})
    return students


def init(course_dir, roster=None, *, source=None, lab_names=None,
         db_url: str | None = None, timeout: int = CELL_TIMEOUT) -> Course:
    """Create (or extend) a course folder and return it.

    Writes ``nbgrader_config.py`` (the gradebook is ``gradebook.db`` in the folder unless
    ``db_url`` names another, such as ``postgresql://...``), copies each lab of ``source``
    (default: the course's labs) into the folder's ``source/``, adds or updates the students of
    ``roster`` and records each lab in the gradebook, generating its student version under
    ``release/``. Running it again adds students and new labs; the configuration file, the
    copied labs and the labs already in the gradebook are left alone, so edits and grades are
    safe. ``course_dir`` is the folder to create; ``lab_names`` picks labs by name or prefix
    (default: all); ``timeout`` is the seconds each cell may run when grading.
    """
    from nbgrader.apps import NbGraderAPI

    root = Path(course_dir).resolve()
    config_path = root / CONFIG_FILE
    if config_path.exists():
        course = open_course(root)
        if db_url and db_url != course.db_url:
            raise CourseError(f"{config_path}: this course already uses {course.db_url}")
    else:
        course = Course(root, root / "source", db_url or f"sqlite:///{root / 'gradebook.db'}",
                        int(timeout))
    origin = Path(source or (labs.SOLUTIONS if not config_path.exists() else course.source))
    names = labs.resolve(lab_names, origin)
    students = read_roster(roster) if roster else []
    root.mkdir(parents=True, exist_ok=True)
    course_secret(root)  # the seed of this course's hidden-test data (labs.secret)
    if not config_path.exists():
        text = CONFIG_TEXT.format(course_id=COURSE_ID, timeout=course.timeout)
        if db_url:  # a server's URL; the default gradebook follows the folder
            text += f"c.CourseDirectory.db_url = {db_url!r}\n"
        config_path.write_text(text)
    for name in names:
        if not (course.source / name).exists():
            shutil.copytree(origin / name, course.source / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    with labs.venv_on_path():
        with course.gradebook() as gradebook:
            for student in students:
                gradebook.update_or_create_student(
                    student["id"], **{key: value for key, value in student.items()
                                      if key != "id"})
            recorded = {assignment.name for assignment in gradebook.assignments}
        api = NbGraderAPI(config=course.config())
        for name in names:
            if name in recorded:
                continue
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise CourseError(f"nbgrader could not record {name}:\n"
                                  f"{result.get('error') or result.get('log', '')}")
    return course


def open_course(course_dir=".") -> Course:
    """The course whose ``nbgrader_config.py`` is in ``course_dir`` (see :func:`init`).

    Paths in the configuration are read relative to the folder, wherever it is now.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / CONFIG_FILE).write_text(CONFIG_TEXT.format(course_id=COURSE_ID, timeout=60))
    >>> course = open_course(root)
    >>> course.source == root / "source", course.timeout, course.db_url.endswith("gradebook.db")
    (True, 60, True)
    """
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(course_dir).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CourseError(f"{root}: not a course folder (no {CONFIG_FILE}); "
                          "create one with `mlcycle course init`")
    try:
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    except Exception as error:  # the instructor's Python: a typo raises anything
        raise CourseError(f"{root / CONFIG_FILE}: cannot be read: {error}") from error
    directory = config.CourseDirectory
    return Course(root, root / directory.get("source_directory", "source"),
                  directory.get("db_url", f"sqlite:///{root / 'gradebook.db'}"),
                  int(config.Execute.get("timeout", CELL_TIMEOUT)))


def roster_ids(course: Course) -> list[str]:
    """Ids of the students in ``course``'s gradebook, sorted."""
    with course.gradebook() as gradebook:
        return sorted(student.id for student in gradebook.students)


def model_submission(course: Course, lab: str):
    """The student version of ``lab`` with the model answers typed in, as a notebook.

    It is what a student who solved everything would hand in: grade it to try a lab, or the
    grading of a class, before the students do. ``course`` must have recorded the lab (its
    ``release/`` and ``source/`` copies).
    """
    lab = course.resolve(lab)
    nb = nbformat.read(course.root / "release" / lab / f"{lab}.ipynb", as_version=4)
    source = nbformat.read(course.source / lab / f"{lab}.ipynb", as_version=4)
    answers = {grade_id_of(cell): cell.source for cell in source.cells}
    for cell in nb.cells:
        if nbgrader_metadata(cell).get("solution") and grade_id_of(cell) in answers:
            cell.source = "\n".join(
                line for line in answers[grade_id_of(cell)].splitlines()
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


# --------------------------------------------------------------------------- collect


def write_atomically(path: Path, content: bytes | str) -> None:
    """Write ``content`` (text or bytes) to ``path`` so that a reader (or a crash) sees the old
    or the new content, never half.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "record.json"
    >>> write_atomically(path, '{"status": "graded"}')
    >>> read_record(path)
    {'status': 'graded'}
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    if isinstance(content, str):
        content = content.encode()
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_record(path: Path) -> dict | None:
    """The grading record at ``path`` (see :meth:`Course.record`) as a dict, or None if there
    is none yet (or it cannot be read).

    >>> read_record(Path("/no/such/record.json")) is None
    True
    """
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def submissions(course: Course, lab: str, students=None) -> dict[str, Path]:
    """Student -> submitted notebook of ``lab`` (which may be missing from its folder).

    ``course`` is the course whose ``submitted/`` folder is read; ``students`` limits the
    result to those ids, each of which must have a submission.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> course = Course(root, root / "source", "sqlite://")
    >>> course.submitted("s002", "lab01_exploration").parent.mkdir(parents=True)
    >>> {student: path.name for student, path in submissions(course, "lab01_exploration").items()}
    {'s002': 'lab01_exploration.ipynb'}
    >>> submissions(course, "lab01_exploration", ["s001"])
    Traceback (most recent call last):
    ...
    mlcycle_ref.course.folder.CourseError: no submission of lab01_exploration for s001
    """
    folder = course.root / "submitted"
    found = {}
    if folder.is_dir():
        found = {path.name: course.submitted(path.name, lab) for path in sorted(folder.iterdir())
                 if (path / lab).is_dir()}
    if students:
        unknown = sorted(set(students) - set(found))
        if unknown:
            raise CourseError(f"no submission of {lab} for {', '.join(unknown)}")
        found = {student: found[student] for student in students}
    return found
