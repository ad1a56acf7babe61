"""The instructor's side of the labs: a course folder around nbgrader, and grading a whole class.

nbgrader is the engine - its gradebook, its cell metadata, its scoring rules - and this module
is the workflow around it, one function (and one ``mlcycle course`` command) per step:

* :func:`init` makes a course folder whose ``nbgrader_config.py`` points at the lab sources,
  enters the roster into the gradebook and records every lab there.
* :func:`collect` files a folder or an LMS zip of notebooks under ``submitted/``, matching
  each file to a student by the id in its name, and reports whatever it could not place.
* :func:`autograde` grades every submission of a lab in a pool of worker processes (or on a
  Dask cluster) and records each result as it arrives, so an interrupted run resumes.
* :func:`feedback`, :func:`export` and :func:`report` turn the gradebook into HTML for each
  student, a CSV of grades and an item analysis of the class.

Grading does not trust the submission. Each notebook is rebuilt from the lab's own cells -
locked cells and tests come from the gradebook, only the answer cells from the student - so
edited, deleted, duplicated or reordered cells change nothing (:func:`restore`). It runs in a
fresh kernel whose working folder is an empty scratch folder outside the course, with a
per-cell timeout, a memory limit and a wall-clock limit, and every test cell first puts back
the comparison helpers the tests rely on (:class:`GradingGuard`). What such a grader cannot
defend against is written up in the instructors' chapter of the book.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="mlcycle")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["course", "autograde", "lab02", "--workers", "2"])
>>> args.workers, args.limit, args.memory
(2, 600.0, 4096)
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import csv
import hashlib
import html
import importlib
import inspect
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
import warnings
import zipfile
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from mlcycle_ref import labs

#: Seconds a cell may run before it is interrupted (nbgrader's ``Execute.timeout``).
CELL_TIMEOUT = labs.CELL_TIMEOUT
#: Seconds one submission may take in all before its kernel is killed.
SUBMISSION_LIMIT = 600.0
#: Memory a submission's kernel may allocate (its data segment), in MiB.
MEMORY_MB = 4096
#: Output one cell may produce while it runs, in characters; the rest is dropped.
MAX_CELL_OUTPUT = 200_000
#: Notebooks larger than this are not collected (an LMS zip can hold anything).
MAX_NOTEBOOK_BYTES = 50 * 2**20
ROSTER_ID_COLUMNS = ("id", "student_id")
ROSTER_OPTIONAL = ("first_name", "last_name", "email")
GRADED, FAILED = "graded", "failed"
WORKER_DIED = ("the grading worker process died while grading it on its own: its code kills the "
               "process that runs it")
GUARD_LINE = "_mlcycle_guard.restore(globals())"
CONFIG_FILE = "nbgrader_config.py"
CONFIG_TEXT = """\
# Written by `mlcycle course init`. nbgrader's own commands read it too, for example
# `nbgrader formgrader` to mark the written answers by hand.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = {source!r}
c.CourseDirectory.db_url = {db_url!r}
c.CourseDirectory.course_id = {course_id!r}
c.Execute.timeout = {timeout!r}
c.OverwriteCells.add_missing_cells = True
"""
#: The course id of the gradebook. nbgrader's commands default to "" and its Gradebook to
#: "default_course"; PostgreSQL, which checks foreign keys, needs the two to agree.
COURSE_ID = "default_course"
TEMPLATES = Path(__file__).with_name("course_templates")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


class CourseError(ValueError):
    """A course folder, roster or submission folder that cannot be used; the message says why."""


# --------------------------------------------------------------------------- the course folder


@dataclass(frozen=True)
class Course:
    """A course folder: where submissions, grades and feedback live, and where the labs come from.

    >>> course = Course(Path("/srv/ml"), labs.SOLUTIONS, "sqlite:////srv/ml/gradebook.db")
    >>> course.submitted("s001", "lab02_features").relative_to(course.root).as_posix()
    'submitted/s001/lab02_features/lab02_features.ipynb'
    """

    root: Path
    source: Path
    db_url: str
    timeout: int = CELL_TIMEOUT

    def _notebook(self, folder: str, student: str, lab: str, suffix: str = ".ipynb") -> Path:
        return self.root / folder / student / lab / f"{lab}{suffix}"

    def submitted(self, student: str, lab: str) -> Path:
        return self._notebook("submitted", student, lab)

    def autograded(self, student: str, lab: str) -> Path:
        return self._notebook("autograded", student, lab)

    def feedback(self, student: str, lab: str) -> Path:
        return self._notebook("feedback", student, lab, ".html")

    def record(self, student: str, lab: str) -> Path:
        """The grading record of one submission: written once its result is in."""
        return self.root / "grading" / lab / f"{student}.json"

    def config(self):
        """The nbgrader configuration of this course (a traitlets ``Config``)."""
        config = labs.course_config(self.root, db_url=self.db_url)
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
    """Students from a CSV file with an ``id`` (or ``student_id``) column, one row each.

    ``first_name``, ``last_name`` and ``email`` are kept when present. Ids name folders, so
    they hold letters, digits and ``. _ @ -`` only.

    >>> roster = Path(tempfile.mkdtemp()) / "students.csv"
    >>> _ = roster.write_text("student_id,first_name,last_name\\ns001,Ada,Lovelace\\ns002,,\\n")
    >>> read_roster(roster)
    [{'id': 's001', 'first_name': 'Ada', 'last_name': 'Lovelace'}, {'id': 's002'}]
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such roster file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
        columns = [name.strip() for name in (rows[0].keys() if rows else [])]
    id_column = next((name for name in ROSTER_ID_COLUMNS if name in columns), None)
    if id_column is None:
        raise CourseError(f"{path}: needs a column named 'id' or 'student_id'; found "
                          f"{', '.join(columns) or 'no columns (empty file?)'}")
    students, seen = [], set()
    for line, row in enumerate(rows, start=2):
        row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
        student = row[id_column]
        if not _ID_PATTERN.match(student):
            raise CourseError(f"{path}, line {line}: student id {student!r} is not usable as a "
                              "folder name (letters, digits and . _ @ - only)")
        if student in seen:
            raise CourseError(f"{path}, line {line}: student id {student!r} appears twice")
        seen.add(student)
        students.append({"id": student, **{key: row[key] for key in ROSTER_OPTIONAL
                                           if row.get(key)}})
    return students


def init(course_dir, roster=None, *, source=labs.SOLUTIONS, lab_names=None,
         db_url: str | None = None, timeout: int = CELL_TIMEOUT) -> Course:
    """Create (or extend) a course folder and return it.

    Writes ``nbgrader_config.py`` (the gradebook is ``gradebook.db`` in the folder unless
    ``db_url`` names another, such as ``postgresql://...``), adds or updates the students of
    ``roster`` and records each lab of ``source`` in the gradebook, generating its student
    version under ``release/``. Running it again adds students and new labs; labs already in
    the gradebook are left alone, so their grades are safe.
    """
    from nbgrader.apps import NbGraderAPI

    root = Path(course_dir).resolve()
    config_path = root / CONFIG_FILE
    if config_path.exists():
        course = open_course(root)
        if db_url and db_url != course.db_url:
            raise CourseError(f"{config_path}: this course already uses {course.db_url}")
    else:
        course = Course(root, Path(source).resolve(),
                        db_url or f"sqlite:///{root / 'gradebook.db'}", int(timeout))
    names = labs.resolve(lab_names, course.source)
    students = read_roster(roster) if roster else []
    root.mkdir(parents=True, exist_ok=True)
    config_path.write_text(CONFIG_TEXT.format(root=str(root), source=str(course.source),
                                              db_url=course.db_url, course_id=COURSE_ID,
                                              timeout=course.timeout))
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
    """The course whose ``nbgrader_config.py`` is in ``course_dir`` (see :func:`init`)."""
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(course_dir).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CourseError(f"{root}: not a course folder (no {CONFIG_FILE}); "
                          "create one with `mlcycle course init`")
    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    directory = config.CourseDirectory
    return Course(Path(directory.get("root", root)), Path(directory.source_directory),
                  directory.get("db_url", f"sqlite:///{root / 'gradebook.db'}"),
                  int(config.Execute.get("timeout", CELL_TIMEOUT)))


def roster_ids(course: Course) -> list[str]:
    """Ids of the students in the course's gradebook, sorted."""
    with course.gradebook() as gradebook:
        return sorted(student.id for student in gradebook.students)


def model_submission(course: Course, lab: str):
    """The student version of ``lab`` with the model answers typed in, as a notebook.

    It is what a student who solved everything would hand in: grade it to try a lab, or the
    grading of a class, before the students do.
    """
    lab = course.resolve(lab)
    nb = nbformat.read(course.root / "release" / lab / f"{lab}.ipynb", as_version=4)
    source = nbformat.read(course.source / lab / f"{lab}.ipynb", as_version=4)
    answers = {_grade_id(cell): cell.source for cell in source.cells}
    for cell in nb.cells:
        if _nbgrader(cell).get("solution") and _grade_id(cell) in answers:
            cell.source = "\n".join(
                line for line in answers[_grade_id(cell)].splitlines()
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


# --------------------------------------------------------------------------- collect


@dataclass
class CollectReport:
    """What :func:`collect` did with each file; ``render()`` gives the text for the terminal."""

    lab: str
    collected: dict[str, str] = field(default_factory=dict)   # student -> file used
    renamed: dict[str, str] = field(default_factory=dict)     # student -> file not named <lab>
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # student -> files not used
    unknown: list[str] = field(default_factory=list)          # notebooks naming no student
    rejected: dict[str, str] = field(default_factory=dict)    # file -> reason
    stray: list[str] = field(default_factory=list)            # files that are not notebooks
    missing: list[str] = field(default_factory=list)          # students without a notebook

    def render(self) -> str:
        lines = [f"Collected {len(self.collected)} submission(s) of {self.lab}."]
        sections = [
            ("renamed notebooks, collected anyway", [f"{student}: {name}" for student, name
                                                     in sorted(self.renamed.items())]),
            ("duplicates (the newest notebook was kept)",
             [f"{student}: ignored {', '.join(names)}"
              for student, names in sorted(self.duplicates.items())]),
            ("notebooks whose name carries no student id of the roster", self.unknown),
            ("rejected", [f"{name}: {reason}" for name, reason in sorted(self.rejected.items())]),
            ("stray files (not notebooks), ignored", self.stray),
            ("students without a submission", self.missing),
        ]
        for title, items in sections:
            if items:
                lines.append(f"{title.capitalize()} ({len(items)}):")
                lines += [f"  {item}" for item in items]
        return "\n".join(lines)


def _members(origin: Path, stack: contextlib.ExitStack):
    """(relative name, modification time, size, reader) for each file of a folder or zip.

    A zip stays open until ``stack`` closes, so that its readers can be called later.
    """
    if origin.is_dir():
        for path in sorted(origin.rglob("*")):
            if path.is_file():
                stat = path.stat()
                yield (path.relative_to(origin).as_posix(), stat.st_mtime, stat.st_size,
                       path.read_bytes)
    elif zipfile.is_zipfile(origin):
        archive = stack.enter_context(zipfile.ZipFile(origin))
        for info in archive.infolist():
            if not info.is_dir():
                stamp = datetime(*info.date_time).timestamp()
                yield (info.filename, stamp, info.file_size,
                       lambda info=info: archive.read(info))
    else:
        raise CourseError(f"{origin}: neither a folder nor a zip file")


def match_student(name: str, students) -> list[str]:
    """The student ids that ``name`` carries as whole words, longest ids first.

    An id inside a longer matching id does not count, so "s01" does not also match a file of
    "s01-b".

    >>> match_student("Jane Doe_s002_attempt_lab02_features.ipynb", ["s001", "s002"])
    ['s002']
    >>> match_student("s01-b/lab02_features.ipynb", ["s01", "s01-b"])
    ['s01-b']
    """
    found = [student for student in students
             if re.search(rf"(?<![A-Za-z0-9]){re.escape(student)}(?![A-Za-z0-9])", name,
                          flags=re.IGNORECASE)]
    found.sort(key=len, reverse=True)
    return [student for student in found
            if not any(student != longer and student.lower() in longer.lower()
                       for longer in found)]


def collect(course: Course, lab: str, origin) -> CollectReport:
    """File the notebooks of ``origin`` (a folder or an LMS zip) as submissions of ``lab``.

    Each notebook goes to the roster student whose id its path carries (see
    :func:`match_student`); a student with several notebooks keeps the newest one whose name
    mentions the lab. The notebook is written as ``submitted/<id>/<lab>/<lab>.ipynb`` with
    nbgrader's ``timestamp.txt``. Nothing is read as a notebook yet: a broken file is
    collected, and grading reports it.
    """
    lab = course.resolve(lab)
    origin = Path(origin)
    if not origin.exists():
        raise CourseError(f"{origin}: no such folder or zip file")
    students = roster_ids(course)
    report = CollectReport(lab)
    with contextlib.ExitStack() as stack:
        candidates = _candidates(_members(origin, stack), students, lab, report)
        for student, files in sorted(candidates.items()):
            _file_submission(course, lab, student, files, report)
    report.missing = [student for student in students if student not in report.collected
                      and not course.submitted(student, lab).is_file()]
    return report


def _candidates(members, students, lab: str, report: CollectReport) -> dict[str, list[tuple]]:
    """Student -> (mentions the lab, time, name, reader) of each notebook that is theirs."""
    candidates: dict[str, list[tuple]] = {}
    for name, stamp, size, read in members:
        parts = Path(name).parts
        if not name.lower().endswith(".ipynb") or any(
                part.startswith((".", "__MACOSX")) for part in parts):
            report.stray.append(name)
            continue
        owners = match_student(name, students)
        if not owners:
            report.unknown.append(name)
        elif len(owners) > 1:
            report.rejected[name] = f"names several students ({', '.join(owners)})"
        elif size > MAX_NOTEBOOK_BYTES:
            report.rejected[name] = f"{size / 2**20:.0f} MiB, more than a lab notebook can be"
        else:
            mentions_lab = lab.lower() in Path(name).name.lower()
            candidates.setdefault(owners[0], []).append((mentions_lab, stamp, name, read))
    return candidates


def _file_submission(course: Course, lab: str, student: str, files: list[tuple],
                     report: CollectReport) -> None:
    """Keep the newest of a student's notebooks that mentions the lab (or just the newest)."""
    files.sort(key=lambda item: item[:2], reverse=True)
    mentions_lab, stamp, name, read = files[0]
    target = course.submitted(student, lab)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, read())
    when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (target.parent / "timestamp.txt").write_text(when)
    report.collected[student] = name
    if not mentions_lab:
        report.renamed[student] = name
    if len(files) > 1:
        report.duplicates[student] = [item[2] for item in files[1:]]


def _write_atomically(path: Path, content: bytes | str) -> None:
    """Write a file so that a reader (or a crash) sees the old or the new content, never half."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    if isinstance(content, str):
        content = content.encode()
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


# --------------------------------------------------------------------------- tamper resistance


def _nbgrader(cell) -> dict:
    """A cell's nbgrader metadata; {} when missing or mangled (a submission can hold anything)."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell) -> str | None:
    grade_id = _nbgrader(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def _is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def graded_reference(course: Course, lab: str) -> dict:
    """What grading a submission of ``lab`` needs from the instructor, as plain data.

    ``cells`` lists the lab's nbgrader cells in order, each as the cell to grade with (locked
    cells with their full source from the gradebook, hidden tests included) and the source the
    students were given. ``imports`` holds the import statements of the locked cells that are
    not tests, ``files`` any other files of the lab's source folder.
    """
    from nbgrader.api import MissingEntry

    release = course.root / "release" / lab / f"{lab}.ipynb"
    if not release.is_file():
        raise CourseError(f"{release}: missing; is {lab} recorded in this course? "
                          "(`mlcycle course init` records every lab)")
    given = nbformat.read(release, as_version=4)
    with course.gradebook() as gradebook:
        try:
            stored = {cell.name: (cell.source, cell.checksum)
                      for cell in gradebook.find_notebook(lab, lab).source_cells}
        except MissingEntry as error:
            raise CourseError(f"{lab} is not in the gradebook {course.db_url}") from error
    cells, imports = [], []
    for cell in given.cells:
        grade_id = _grade_id(cell)
        if grade_id is None:
            continue
        graded = nbformat.from_dict(json.loads(json.dumps(cell)))
        if graded.cell_type == "code":
            graded.outputs, graded.execution_count = [], None
        if grade_id in stored:
            source, checksum = stored[grade_id]
            graded.metadata.nbgrader["checksum"] = checksum
            if _nbgrader(graded).get("locked"):
                graded.source = source
        if graded.cell_type == "code" and _nbgrader(graded).get("locked") and not _is_test(graded):
            imports += _import_lines(graded.source)
        cells.append({"cell": dict(graded), "given": cell.source})
    folder = course.source / lab
    files = {path.relative_to(folder).as_posix(): path.read_bytes()
             for path in sorted(folder.rglob("*"))
             if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in
             path.parts}
    return {"lab": lab, "cells": cells, "kernelspec": dict(given.metadata.get("kernelspec", {})),
            "imports": "\n".join(imports), "files": files}


def _import_lines(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [ast.unparse(node) for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)]


def _plain(cell):
    """A fresh cell with the same type and source, without outputs or metadata."""
    make = {"code": new_code_cell, "markdown": new_markdown_cell}.get(cell.get("cell_type"),
                                                                       new_raw_cell)
    return make(cell.get("source", ""))


def restore(submitted, reference: dict):
    """Rebuild a submission on the lab's own skeleton; return the notebook and notes on changes.

    Every nbgrader cell of the lab comes back in the lab's order with the lab's metadata.
    Locked cells and tests come from ``reference`` (see :func:`graded_reference`); answer cells
    keep the student's source, or the original stub when they were deleted. Cells the student
    added stay after the lab cell they followed; an earlier copy of an answer cell runs as an
    ordinary cell (the last copy is the answer, as in nbgrader); copies of locked cells go.

    >>> meta = lambda grade_id, **flags: {"nbgrader": {"grade_id": grade_id, "grade": False,
    ...     "solution": False, "locked": False, "schema_version": 3, **flags}}
    >>> answer = new_code_cell("x = ...", metadata=meta("answer", solution=True))
    >>> test = new_code_cell("assert x == 2", metadata=meta("test", grade=True, locked=True,
    ...                                                       points=1))
    >>> reference = {"cells": [{"cell": answer, "given": answer.source},
    ...                        {"cell": test, "given": test.source}], "kernelspec": {}}
    >>> student = new_notebook(cells=[
    ...     new_code_cell("assert True", metadata=meta("test", grade=True, locked=True)),
    ...     new_code_cell("x = 2", metadata=meta("answer", solution=True))])
    >>> nb, notes = restore(student, reference)
    >>> [cell.source for cell in nb.cells]
    ['x = 2', 'assert x == 2']
    >>> notes
    ['locked cell test was edited: the original was put back', \
'the lab cells were out of order: they were put back in order']
    """
    lab_cells = [(nbformat.from_dict(entry["cell"]), entry["given"])
                 for entry in reference["cells"]]
    known = {_grade_id(cell): (cell, given) for cell, given in lab_cells}
    chosen = {}
    for index, cell in enumerate(submitted.cells):
        if _grade_id(cell) in known:
            chosen[_grade_id(cell)] = index
    notes, extras, order, anchor = [], {}, [], None
    for index, cell in enumerate(submitted.cells):
        grade_id = _grade_id(cell)
        if grade_id in known and chosen[grade_id] == index:
            anchor = grade_id
            order.append(grade_id)
            continue
        if grade_id in known:
            if _nbgrader(known[grade_id][0]).get("locked"):
                notes.append(f"a copy of locked cell {grade_id} was dropped")
                continue
            notes.append(f"an earlier copy of answer cell {grade_id} ran as an ordinary cell")
        elif grade_id is not None:
            notes.append(f"cell {grade_id} is not part of the lab: it ran as an ordinary cell")
        extras.setdefault(anchor, []).append(_plain(cell))
    cells = list(extras.get(None, []))
    for lab_cell, given in lab_cells:
        grade_id = _grade_id(lab_cell)
        cell = nbformat.from_dict(json.loads(json.dumps(lab_cell)))
        if grade_id not in chosen:
            notes.append(f"cell {grade_id} was missing: it was put back from the lab")
        elif _nbgrader(lab_cell).get("locked"):
            theirs = submitted.cells[chosen[grade_id]]
            if theirs.get("source", "").strip() != given.strip():
                notes.append(f"locked cell {grade_id} was edited: the original was put back")
        else:
            cell.source = submitted.cells[chosen[grade_id]].get("source", "")
        cells.append(cell)
        cells += extras.get(grade_id, [])
    if order != [grade_id for grade_id in known if grade_id in chosen]:
        notes.append("the lab cells were out of order: they were put back in order")
    nb = new_notebook(cells=cells, metadata={"kernelspec": reference.get("kernelspec") or {
        "name": labs.KERNEL, "display_name": "Python 3", "language": "python"}})
    return nb, notes


class GradingGuard:
    """Runs in the kernel that grades a submission, before any student code.

    It lowers the kernel's memory limit, then keeps the originals of the functions tests
    compare with - math, NumPy and pandas comparisons, the builtins, every function of
    ``mlcycle_ref.checks`` - and the names the lab's locked cells import (``np``,
    ``checks``, ...). Each test cell starts with ``_mlcycle_guard.restore(globals())``, which
    puts all of them back: a submission that replaced ``numpy.isclose``, patched
    ``checks.expect_close`` (or its code), rebound ``checks`` or shadowed ``all`` with a
    function of its own is tested with the originals. Deleting the guard makes every test
    fail. It stops the common cheats, not code written to defeat this class.

    >>> import numpy
    >>> guard = GradingGuard("import numpy as np")
    >>> namespace = {"np": None, "all": lambda values: True}
    >>> numpy.isclose = lambda *args, **kwargs: True
    >>> guard.restore(namespace)
    >>> bool(numpy.isclose(1.0, 2.0)), namespace["np"] is numpy, "all" in namespace
    (False, True, False)
    """

    PROTECTED = {
        "math": ("isclose", "isnan", "isfinite"),
        "numpy": ("isclose", "allclose", "array_equal", "asarray", "isnan", "isfinite"),
        "numpy.testing": None,  # None: every public function of the module
        "pandas": ("isna", "isnull", "notna"),
        "pandas.testing": None,
        "mlcycle_ref.checks": (),  # (): every function, private ones included
    }

    def __init__(self, imports: str = "", memory_mb: int | None = None):
        if memory_mb:
            import resource

            limit = int(memory_mb) * 2**20
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        self._names: dict = {}
        exec(imports, self._names)  # the lab's own import lines, run before any student code
        self._names.pop("__builtins__", None)
        self._modules = {}
        for name in self.PROTECTED:
            with contextlib.suppress(ImportError):  # a lab without pandas has nothing to keep
                self._modules[name] = importlib.import_module(name)
        self._saved = []
        for name, module in self._modules.items():
            wanted = self.PROTECTED[name]
            for attribute, value in vars(module).items():
                if callable(value) and (attribute in (wanted or ()) or (
                        wanted is None and not attribute.startswith("_")) or (
                        wanted == () and getattr(value, "__module__", None) == name)):
                    self._saved.append((module, attribute, value, self._code(value)))
        self._builtins = {name: value for name, value in vars(builtins).items()
                          if callable(value) and not name.startswith("_")}

    @staticmethod
    def _code(function):
        code = getattr(function, "__code__", None)
        if code is None:
            return None
        return code, function.__defaults__, function.__kwdefaults__

    def restore(self, namespace: dict) -> None:
        """Put every kept original back, in the modules and in ``namespace``."""
        sys.modules.update(self._modules)
        for module, attribute, value, code in self._saved:
            setattr(module, attribute, value)
            if code is not None:
                value.__code__, value.__defaults__, value.__kwdefaults__ = code
        vars(builtins).update(self._builtins)
        for name, original in self._builtins.items():
            if name in namespace and callable(namespace[name]) and namespace[name] is not original:
                del namespace[name]
        namespace.update(self._names)


# --------------------------------------------------------------------------- grading one notebook


def _guarded(nb, imports: str, memory_mb: int | None):
    """The notebook with the guard's set-up cell first and its line atop every test cell.

    The set-up cell defines :class:`GradingGuard` from its source rather than importing this
    module, which would cost the kernel nbformat's import (over a second) per submission.
    """
    setup = new_code_cell("\n".join([
        "import builtins, contextlib, importlib, sys",
        inspect.getsource(GradingGuard),
        f"_mlcycle_guard = GradingGuard({imports!r}, memory_mb={memory_mb!r})",
        "del GradingGuard"]))
    for cell in nb.cells:
        if _is_test(cell):
            cell.source = f"{GUARD_LINE}\n{cell.source}"
    nb.cells.insert(0, setup)
    return nb


def _unguarded(nb):
    """Undo :func:`_guarded` after execution, keeping the outputs."""
    setup = nb.cells.pop(0)
    for cell in nb.cells:
        if _is_test(cell) and cell.source.startswith(GUARD_LINE + "\n"):
            cell.source = cell.source[len(GUARD_LINE) + 1:]
    return setup


def _executor_class():
    """nbgrader's ``Execute`` with a clean kernel environment, an output cap and bookkeeping.

    nbgrader's own ``Execute`` already adds an error output to a cell whose execution failed
    without showing one (a submission can silence tracebacks), so a failure always scores 0.
    """
    from nbgrader.preprocessors import Execute

    class GradingExecute(Execute):
        def __init__(self, kernel_env: dict, **kwargs):
            super().__init__(**kwargs)
            self.kernel_env, self.kernel_pgid = kernel_env, None
            self.ran, self.sizes, self.cut = set(), Counter(), set()

        def start_new_kernel(self, **kwargs):
            kwargs.setdefault("env", self.kernel_env)
            super().start_new_kernel(**kwargs)
            self.kernel_pgid = getattr(self.km.provisioner, "pgid", None)

        def preprocess_cell(self, cell, resources, index):
            # Hidden tests stay out of IPython's input history (In, _ih), where later
            # student code could read them.
            cell = self.execute_cell(cell, index,
                                     store_history=labs.BEGIN_HIDDEN not in cell.source)
            self.ran.add(index)
            return cell, self.resources

        def output(self, outs, msg, display_id, cell_index):
            # A cell that prints without end would fill this process's memory: past the cap
            # its output is dropped, errors excepted (they decide the grade).
            self.sizes[cell_index] += len(json.dumps(msg["content"]))
            if self.sizes[cell_index] <= MAX_CELL_OUTPUT or msg["msg_type"] == "error":
                return super().output(outs, msg, display_id, cell_index)
            if cell_index not in self.cut:
                self.cut.add(cell_index)
                outs.append(nbformat.from_dict({
                    "output_type": "stream", "name": "stdout",
                    "text": f"\n[more output dropped: over {MAX_CELL_OUTPUT:,} characters]\n"}))
            return None

    return GradingExecute


def _kill_group(pgid) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _execute(nb, folder: Path, *, timeout: int, limit: float) -> str:
    """Run ``nb`` in place in a kernel working in ``folder``; return a problem, or ""."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = int(timeout)
    config.Execute.shutdown_kernel = "immediate"  # a kernel stuck in a loop would not answer
    env = {key: value for key, value in os.environ.items() if key != "OLDPWD"}
    executor = _executor_class()(
        {**env, "PWD": str(folder), "NBGRADER_EXECUTION": "autograde"}, config=config)
    stopped = threading.Event()

    def stop():
        stopped.set()
        _kill_group(executor.kernel_pgid)

    watchdog = threading.Timer(limit, stop)
    watchdog.start()
    problem = ""
    try:
        executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    except (DeadKernelError, CellTimeoutError) as error:
        last = max(executor.ran, default=-1) + 1  # the cell that was running
        # Cells without a grade id are named by position, counted without the guard's cell.
        where = (f"cell {_grade_id(nb.cells[last]) or f'#{last}'}" if last < len(nb.cells)
                 else "the end")
        if stopped.is_set():
            problem = f"stopped at {where}: the submission ran longer than {limit:g} s in all"
        elif isinstance(error, CellTimeoutError):
            problem = f"stopped at {where}: it kept running after its timeout and an interrupt"
        else:
            problem = (f"the kernel died in {where} (os._exit, a crash or too much memory); "
                       "the cells after it did not run")
    finally:
        watchdog.cancel()
        _kill_group(executor.kernel_pgid)  # and whatever the submission started
    for index, cell in enumerate(nb.cells):
        if _is_test(cell) and index not in executor.ran:
            cell.outputs = [nbformat.from_dict({
                "output_type": "error", "ename": "NotRun",
                "evalue": "this test did not run: " + (problem or "the notebook stopped"),
                "traceback": []})]
    return problem


def _limit_outputs(nb) -> None:
    """nbgrader's output limits (lines, traceback), plus a cap on characters per output."""
    from nbgrader.preprocessors import LimitOutput

    LimitOutput().preprocess(nb, {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text")
            if isinstance(text, str) and len(text) > MAX_CELL_OUTPUT:
                output["text"] = text[:MAX_CELL_OUTPUT] + "\n... Output truncated ..."


def _task_results(nb) -> list[dict]:
    """One entry per graded cell: id, kind, points, automatic score and the failure message."""
    from nbgrader import utils

    tasks = []
    for cell in nb.cells:
        kind = labs.cell_kind(cell)
        if kind is None:
            continue
        score, points = utils.determine_grade(cell)
        message = ""
        errors = [out for out in cell.get("outputs", []) if out.output_type == "error"]
        if errors:
            message = labs.failure_message(errors[0])
        elif score == 0 and kind != labs.WRITTEN:
            message = "wrote to stderr (nbgrader counts that as a failure)"
        tasks.append({"grade_id": _grade_id(cell), "kind": kind, "points": points,
                      "score": score, "message": message})
    return tasks


def _read_submission(content: bytes, name: str):
    try:
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
    except UnicodeDecodeError as error:
        raise CourseError(f"{name} is not a text file ({error})") from error
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise CourseError(f"{name} is not a readable notebook: {error}") from error
    if not isinstance(nb.get("cells"), list):
        raise CourseError(f"{name} is not a readable notebook: it has no list of cells")
    return nb


def grade_submission(job: dict) -> dict:
    """Grade one submission in a scratch folder of its own and return the result; never raises.

    ``job`` holds the student, the notebook's bytes, the lab's reference (see
    :func:`graded_reference`), the limits and optionally a ``scratch`` folder. The kernel
    starts in a new, empty folder in there (or in the temporary folder) that then receives only
    the notebook and the lab's other files; the folder is removed afterwards. The result has
    ``status`` "graded" (with the executed ``notebook``, the ``tasks``, any ``problem`` and
    ``notes``) or "failed" with a ``reason``. Workers of a process pool or a Dask cluster run
    this same function.
    """
    reference = job["reference"]
    name = f"{job['student']}/{reference['lab']}.ipynb"
    result = {"student": job["student"], "lab": reference["lab"], "sha256": job["sha256"],
              "status": FAILED, "reason": "", "problem": "", "notes": [], "tasks": [],
              "notebook": None, "seconds": 0.0, "host": os.uname().nodename}
    start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="mlcycle-grade-", dir=job.get("scratch")))
    try:
        nb, result["notes"] = restore(_read_submission(job["notebook"], name), reference)
        for relative, content in reference.get("files", {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(content)
        # The student's own file, as handed in: the rebuilt one holds the hidden tests.
        (folder / f"{reference['lab']}.ipynb").write_bytes(job["notebook"])
        nb = _guarded(nb, reference["imports"], job.get("memory_mb"))
        result["problem"] = _execute(nb, folder, timeout=job["timeout"], limit=job["limit"])
        setup = _unguarded(nb)
        setup_errors = [out for out in setup.get("outputs", []) if out.output_type == "error"]
        if setup_errors or not setup.get("outputs") and setup.get("execution_count") is None:
            detail = labs.failure_message(setup_errors[0]) if setup_errors else result["problem"]
            raise CourseError(f"the grading set-up failed before the student's code ran: "
                              f"{detail}")
        _limit_outputs(nb)
        result.update(status=GRADED, tasks=_task_results(nb), notebook=nbformat.writes(nb))
    except CourseError as error:
        result["reason"] = str(error)
    except Exception as error:  # a grader bug must not stop the batch either
        result["reason"] = f"grading failed: {type(error).__name__}: {error}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        result["seconds"] = round(time.perf_counter() - start, 3)
    return result


# --------------------------------------------------------------------------- grading a class


@dataclass
class GradingSummary:
    """The outcome of :func:`autograde`; ``render()`` gives the text for the terminal."""

    lab: str
    graded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)     # student -> reason
    problems: dict[str, str] = field(default_factory=dict)   # graded, but something went wrong
    already: list[str] = field(default_factory=list)         # graded by an earlier run
    manual: list[str] = field(default_factory=list)          # need manual grading
    seconds: float = 0.0
    interrupted: bool = False

    def render(self) -> str:
        lines = [f"{self.lab}: {len(self.graded)} submission(s) graded, {len(self.failed)} could "
                 f"not be graded, in {self.seconds:.1f} s" + (
                     f"; {len(self.already)} graded by an earlier run" if self.already else "")
                 + "."]
        if self.interrupted:
            lines.append("Interrupted: run the same command again to grade the rest.")
        for title, items in (("Failed", self.failed), ("Graded with a problem", self.problems)):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {student}: {reason}" for student, reason in sorted(items.items())]
        if self.manual:
            lines.append(f"Needing manual grading ({len(self.manual)}), for example with "
                         f"`nbgrader formgrader`: {', '.join(sorted(self.manual))}")
        return "\n".join(lines)


def read_record(path: Path) -> dict | None:
    """A grading record (see :meth:`Course.record`) as a dict, or None if there is none yet."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _submissions(course: Course, lab: str, students=None) -> dict[str, Path]:
    """Student -> submitted notebook of ``lab`` (which may be missing from its folder)."""
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


def _store(course: Course, lab: str, result: dict, run: str) -> dict:
    """Keep a worker's result: notebook, then the record that says it is graded, then grades."""
    student = result["student"]
    record = {key: value for key, value in result.items() if key != "notebook"}
    record.update(run=run, graded_at=datetime.now(UTC).isoformat(), merged=False)
    path = course.record(student, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    if result["status"] == GRADED:
        target = course.autograded(student, lab)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, result["notebook"])
    _write_atomically(path, json.dumps(record, indent=1))
    return _merge(course, lab, record)


def _merge(course: Course, lab: str, record: dict) -> dict:
    """Enter a graded record into the gradebook with nbgrader's own scoring; mark it merged.

    Only this process writes to the gradebook, so SQLite is safe with any number of workers;
    merging again gives the same grades, which is what makes a crash at any point harmless.
    """
    from nbgrader import utils
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
    from sqlalchemy.exc import SAWarning

    student = record["student"]
    if record["status"] == GRADED:
        stamp_file = course.submitted(student, lab).with_name("timestamp.txt")
        stamp = stamp_file.read_text().strip() if stamp_file.is_file() else ""
        with course.gradebook() as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(
                lab, student, **({"timestamp": utils.parse_utc(stamp)} if stamp else {}))
        nb = nbformat.read(course.autograded(student, lab), as_version=4)
        resources = {"nbgrader": {"notebook": lab, "assignment": lab, "student": student,
                                  "db_url": course.db_url}}
        with labs.venv_on_path(), warnings.catch_warnings():
            # nbgrader trips over its own SQLAlchemy session here; the grades are unaffected.
            warnings.simplefilter("ignore", SAWarning)
            for step in (SaveAutoGrades, AssignLatePenalties):
                step().preprocess(nb, resources)
    record["merged"] = True
    _write_atomically(course.record(student, lab), json.dumps(record, indent=1))
    return record


def _run_pool(jobs: list[dict], workers: int, handle, stop: threading.Event) -> None:
    """Grade ``jobs`` in a pool of ``workers`` processes; ``handle(result)`` as each finishes.

    A worker process that dies takes its pool down with whatever it was grading. The pool is
    started again and those submissions are retried one at a time, so the one that killed
    its worker is found and reported without failing its neighbours. Once ``stop`` is set the
    workers are killed and the submissions they were grading are left for the next run.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # Workers fork from a server process that imported the grading code once, so a new pool
    # (after a break) starts in milliseconds; the server never ran a thread or a kernel.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mlcycle_ref.course", "nbgrader.preprocessors", "nbclient"])
    queue, suspects = deque(jobs), deque()
    while (queue or suspects) and not stop.is_set():
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)
        running, broken = {}, False
        try:
            while (queue or suspects or running) and not broken:
                if stop.is_set():
                    _stop_workers(pool)
                    return
                isolating = bool(suspects) or any(job.get("suspect") for job in running.values())
                # One job per worker in flight: when the pool breaks, the suspects are few.
                while (suspects or queue) and len(running) < (1 if isolating else workers):
                    job = (suspects or queue).popleft()
                    try:
                        running[pool.submit(grade_submission, job)] = job
                    except BrokenProcessPool:
                        (suspects if job.get("suspect") else queue).appendleft(job)
                        broken = True
                        break
                if not running:
                    break
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if job.get("suspect"):
                            handle(_failure(job, WORKER_DIED))
                        else:
                            suspects.append({**job, "suspect": True})
                        continue
                    except Exception as error:  # the result could not come back, for one
                        result = _failure(job, f"the grading worker failed: {error}")
                    handle(result)
            suspects.extend({**job, "suspect": True} for job in running.values())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _stop_workers(pool) -> None:
    """Kill a pool's worker processes now: Ctrl-C should not wait for their submissions."""
    # Python 3.14 has pool.kill_workers(); before it, the processes are only reachable here.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()


def _start_worker() -> None:
    """Each worker process works from the temporary folder, never from the course folder."""
    os.chdir(tempfile.gettempdir())
    os.environ["PWD"] = tempfile.gettempdir()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


@contextlib.contextmanager
def _stop_on_signals():
    """An Event that Ctrl-C or SIGTERM sets, so a batch stops between two results, cleanly.

    A KeyboardInterrupt could strike anywhere - even inside a callback that swallows it.
    Outside the main thread signals cannot be caught, and the Event is never set.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.signal(number, lambda *args: stop.set())
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _failure(job: dict, reason: str) -> dict:
    return {"student": job["student"], "lab": job["reference"]["lab"], "sha256": job["sha256"],
            "status": FAILED, "reason": reason, "problem": "", "notes": [], "tasks": [],
            "notebook": None, "seconds": 0.0, "host": ""}


def _run_dask(jobs: list[dict], scheduler, handle, stop: threading.Event) -> None:
    """Grade ``jobs`` on a Dask cluster: ``scheduler`` is an address or a ``Client``."""
    from distributed import Client

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        pending = {client.submit(grade_submission, job, pure=False,
                                 key=f"grade-{job['student']}-{uuid.uuid4().hex[:8]}"): job
                   for job in jobs}
        while pending and not stop.wait(0.2):
            for future in [future for future in pending if future.done()]:
                job = pending.pop(future)
                try:
                    handle(future.result())
                except Exception as error:  # e.g. KilledWorker: it took workers down with it
                    handle(_failure(job, f"the cluster could not grade it: {error}"))
        client.cancel(list(pending))
    finally:
        if client is not scheduler:
            client.close()


def autograde(course: Course, lab: str, *, workers: int | None = None,
              timeout: int | None = None, limit: float = SUBMISSION_LIMIT,
              memory_mb: int | None = MEMORY_MB, students=None, force: bool = False,
              scheduler=None, progress: bool = False) -> GradingSummary:
    """Grade every submission of ``lab`` that has no result yet; return what happened.

    Submissions are graded in parallel by ``workers`` processes (default: one per CPU), or on
    the Dask cluster at ``scheduler`` (an address or a ``distributed.Client``). Each cell
    may run ``timeout`` seconds (default: the course's), each submission ``limit`` seconds in
    all, and its kernel may allocate ``memory_mb`` MiB. As each result arrives it is recorded
    under ``grading/<lab>/`` and entered into the gradebook by this process alone; a run that
    is interrupted loses only the submissions being graded, and the next run grades just
    those, and any notebook that changed since it was graded. ``force`` grades everything again.
    """
    lab = course.resolve(lab)
    started = time.perf_counter()
    summary = GradingSummary(lab)
    reference = graded_reference(course, lab)
    run = uuid.uuid4().hex[:12]
    # Local workers grade in folders under one scratch folder, removed at the end even when a
    # worker was killed before it could tidy up; Dask workers use their own temporary folder.
    scratch = None if scheduler is not None else tempfile.mkdtemp(prefix="mlcycle-grading-")
    jobs = []
    for student, path in _submissions(course, lab, students).items():
        content = path.read_bytes() if path.is_file() else b""
        record = read_record(course.record(student, lab))
        if record and record.get("sha256") == _sha256(content) and not force:
            if not record.get("merged"):
                _merge(course, lab, record)
            summary.already.append(student)
            _summarize(summary, record, earlier=True)
            continue
        jobs.append({"student": student, "notebook": content, "sha256": _sha256(content),
                     "reference": reference, "timeout": timeout or course.timeout,
                     "limit": limit, "memory_mb": memory_mb, "scratch": scratch})
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(f"grading {lab}", total=len(jobs))

        def handle(result):
            _summarize(summary, _store(course, lab, result, run))
            bar.advance(task)

        with _stop_on_signals() as stop:
            try:
                if jobs and scheduler is not None:
                    _run_dask(jobs, scheduler, handle, stop)
                elif jobs:
                    _run_pool(jobs, max(1, min(workers or os.cpu_count() or 1, len(jobs))),
                              handle, stop)
            finally:
                if scratch:
                    shutil.rmtree(scratch, ignore_errors=True)
        summary.interrupted = stop.is_set()
    summary.manual = _needing_manual_grading(course, lab, summary.graded + summary.already)
    summary.seconds = time.perf_counter() - started
    return summary


def _summarize(summary: GradingSummary, record: dict, earlier: bool = False) -> None:
    student = record["student"]
    if record["status"] != GRADED:
        summary.failed[student] = record["reason"]
        return
    if not earlier:
        summary.graded.append(student)
    if record.get("problem"):
        summary.problems[student] = record["problem"]


def _needing_manual_grading(course: Course, lab: str, students) -> list[str]:
    from nbgrader.api import MissingEntry

    needing = []
    with course.gradebook() as gradebook:
        for student in students:
            try:
                if gradebook.find_submission(lab, student).needs_manual_grade:
                    needing.append(student)
            except MissingEntry:
                continue
    return needing


# --------------------------------------------------------------------------- feedback


def _hidden_lines(nb) -> set[str]:
    """Lines of the hidden tests long enough to recognize if student output repeats them."""
    lines = set()
    for cell in nb.cells:
        inside = False
        for line in cell.get("source", "").splitlines():
            if labs.BEGIN_HIDDEN in line or labs.END_HIDDEN in line:
                inside = labs.BEGIN_HIDDEN in line
            elif inside and len(line.strip()) >= 16 and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


def _output_text(output) -> str:
    if output.output_type == "stream":
        return output.get("text", "")
    if output.output_type == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    return str(output.get("data", {}).get("text/plain", ""))


def feedback_notebook(nb, notes=()):
    """A copy of an autograded notebook that is safe to show its student.

    Hidden tests keep only their comment lines and a passed/failed line - never their code,
    assert text or values. Visible tests keep their text output, errors shortened to the
    check's message; other cells lose their outputs (a submission could print what it found
    in the kernel). Any output that repeats a line of a hidden test is withheld. ``notes``
    (what grading changed, or a problem) go in a cell at the top.

    >>> meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
    ...                      "grade_id": "t", "schema_version": 3}}
    >>> hidden = new_code_cell("# Hidden tests\\n### BEGIN HIDDEN TESTS\\nassert f(3) == 4\\n"
    ...                        "### END HIDDEN TESTS", metadata=meta)
    >>> hidden.outputs = [nbformat.from_dict({"output_type": "error", "ename": "AssertionError",
    ...                   "evalue": "f(3) == 4", "traceback": ["assert f(3) == 4"]})]
    >>> safe = feedback_notebook(new_notebook(cells=[hidden]))
    >>> print(safe.cells[0].source)
    # Hidden tests
    # (the hidden tests of this cell failed with AssertionError)
    >>> "f(3)" in nbformat.writes(safe)
    False
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    secret = _hidden_lines(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if labs.BEGIN_HIDDEN in cell.source:
            verdict = (f"failed with {errors[0].get('ename', 'an error')}" if errors else
                       "failed" if labs.cell_kind(cell) and not _passed(cell) else "passed")
            cell.source = (labs.without_hidden_tests(cell.source).rstrip() +
                           f"\n# (the hidden tests of this cell {verdict})").lstrip()
            cell.outputs = []
        elif _is_test(cell):
            kept = []
            for out in cell.outputs:
                if out.output_type not in ("stream", "error") and "text/plain" not in out.get(
                        "data", {}):
                    continue
                if any(line in _output_text(out) for line in secret):
                    out = nbformat.from_dict({"output_type": "stream", "name": "stdout",
                                              "text": "[output withheld: it repeats a hidden "
                                                      "test]\n"})
                elif out.output_type == "error":
                    out.traceback = [f"{out.ename}: {labs.failure_message(out)}"]
                elif out.output_type != "stream":
                    out = nbformat.from_dict({"output_type": "stream", "name": "stdout",
                                              "text": _output_text(out) + "\n"})
                kept.append(out)
            cell.outputs = kept
        else:
            cell.outputs = []
    if notes:
        items = "\n".join(f"- {html.escape(note)}" for note in notes)
        nb.cells.insert(0, new_markdown_cell(f"**Notes from grading**\n\n{items}"))
    return nb


def _passed(cell) -> bool:
    from nbgrader import utils

    score, points = utils.determine_grade(cell)
    return score == points


def _failed_page(student: str, lab: str, reason: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(lab)}"
            f"</title></head><body><h1>{html.escape(lab)}: {html.escape(student)}</h1>"
            f"<p>Your submission could not be graded automatically: {html.escape(reason)}</p>"
            "<p>Please talk to your instructor.</p></body></html>\n")


_EXTERNAL = re.compile(r"""(\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)(?:https?:)?//[^"')\s>]*""",
                       re.IGNORECASE)


def offline_html(page: str) -> str:
    """``page`` with every link to or load from another host replaced by ``#``.

    >>> offline_html('<img src="https://example.org/a.png"><a href="#top">top</a>')
    '<img src="#"><a href="#top">top</a>'
    """
    return _EXTERNAL.sub(r"\1#", page)


def _feedback_exporter():
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    config = Config()
    # Our "feedback_offline" template is nbgrader's feedback template with an empty MathJax
    # macro: nbgrader's loads MathJax from a CDN.
    config.HTMLExporter.template_name = "feedback_offline"
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES),
                                                   str(nbgrader_templates / "templates")]
    config.HTMLExporter.extra_template_paths = [
        str(nbgrader_templates / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(GetGrades(), enabled=True)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(), enabled=True)
    return exporter


def feedback(course: Course, lab: str, students=None) -> dict[str, Path]:
    """Write each graded student's feedback page, ``feedback/<id>/<lab>/<lab>.html``.

    The page shows the scores (manual grades included, as in nbgrader) and what
    :func:`feedback_notebook` keeps; a submission that could not be graded gets a page that
    says why. Nothing in it loads from another host.
    """
    lab = course.resolve(lab)
    exporter = _feedback_exporter()
    written = {}
    for student in students or sorted(_submissions(course, lab)):
        record = read_record(course.record(student, lab))
        if not record:
            continue
        target = course.feedback(student, lab)
        target.parent.mkdir(parents=True, exist_ok=True)
        if record["status"] != GRADED:
            page = _failed_page(student, lab, record["reason"])
        else:
            nb = nbformat.read(course.autograded(student, lab), as_version=4)
            notes = [note for note in (record.get("problem"), *record.get("notes", ())) if note]
            resources = {"nbgrader": {"notebook": lab, "assignment": lab, "student": student,
                                      "db_url": course.db_url}}
            with labs.venv_on_path():
                page, _ = exporter.from_notebook_node(feedback_notebook(nb, notes), resources)
        _write_atomically(target, offline_html(page))
        written[student] = target
    return written


# --------------------------------------------------------------------------- export and report


EXPORT_COLUMNS = ("student_id", "first_name", "last_name", "email", "lab", "status", "score",
                  "max_score", "late_penalty", "needs_manual_grading", "problem")


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
                       "max_score": assignment.max_score, "late_penalty": 0.0,
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
                        row.update(status="graded", score=submission.score - penalty,
                                   late_penalty=penalty,
                                   needs_manual_grading=bool(submission.needs_manual_grade))
                elif course.submitted(student.id, lab).parent.is_dir():
                    row["status"] = "not graded"
                rows.append(row)
    table = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    if output is not None:
        table.to_csv(output, index=False)
    return table


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
    tasks = {_grade_id(cell): {"grade_id": _grade_id(cell), "kind": labs.cell_kind(cell),
                               "points": float(_nbgrader(cell).get("points", 0)), "graded": 0,
                               "full": 0, "messages": Counter()}
             for cell in order if labs.cell_kind(cell)}
    scores, manual, failed = {}, [], {}
    with course.gradebook() as gradebook:
        max_score = gradebook.find_assignment(lab).max_score
        for student in sorted(_submissions(course, lab)):
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


def _init_command(args) -> int:
    course = init(args.directory, args.roster, source=args.source, lab_names=args.labs or None,
                  db_url=args.db_url, timeout=args.timeout)
    print(f"course folder {course.root}: gradebook {course.db_url}, "
          f"{len(roster_ids(course))} student(s), labs from {course.source}")
    return 0


def _collect_command(args) -> int:
    print(collect(open_course(args.course), args.lab, args.origin).render())
    return 0


def _autograde_command(args) -> int:
    course = open_course(args.course)
    summary = autograde(course, args.lab, workers=args.workers, timeout=args.timeout,
                        limit=args.limit, memory_mb=args.memory or None,
                        students=args.students or None, force=args.force,
                        scheduler=args.scheduler, progress=True)
    print(summary.render())
    return 130 if summary.interrupted else 0


def _feedback_command(args) -> int:
    course = open_course(args.course)
    written = feedback(course, args.lab, args.students or None)
    print(f"wrote {len(written)} feedback page(s) under {course.root / 'feedback'}")
    return 0


def _export_command(args) -> int:
    course = open_course(args.course)
    output = args.output or course.root / "grades.csv"
    table = export(course, output)
    print(f"wrote {len(table)} row(s) to {output}")
    return 0


def _report_command(args) -> int:
    course = open_course(args.course)
    lab_report = report(course, args.lab)
    lab_report.render()
    folder = Path(args.output or course.root / "reports" / lab_report.lab)
    folder.mkdir(parents=True, exist_ok=True)
    for name, plot in (("scores", plot_score_distribution), ("pass_rates", plot_pass_rates)):
        plot(lab_report).savefig(folder / f"{name}.png", dpi=120)
    print(f"plots in {folder}")
    return 0


def _handled(handler):
    def run(args) -> int:
        try:
            return handler(args)
        except (CourseError, labs.LabError) as error:
            print(f"mlcycle: error: {error}", file=sys.stderr)
            return 2
    return run


def register(subparsers) -> None:
    """Add ``course init|collect|autograde|feedback|export|report`` to a command line."""
    course = subparsers.add_parser("course", help="instructor workflow: grade a class")
    commands = course.add_subparsers(dest="course_command", metavar="COMMAND", required=True)

    def command(name, handler, help_text, lab=True):
        parser = commands.add_parser(name, help=help_text, description=help_text)
        if lab:
            parser.add_argument("lab", help="lab name or unique prefix such as lab02")
        if name != "init":
            parser.add_argument("--course", type=Path, default=Path("."),
                                help="the course folder (default: the current folder)")
        parser.set_defaults(handler=_handled(handler))
        return parser

    parser = command("init", _init_command, "create a course folder and its gradebook", False)
    parser.add_argument("directory", type=Path, help="the course folder to create or extend")
    parser.add_argument("--roster", type=Path, help="CSV with an id column (and first_name, "
                        "last_name, email)")
    parser.add_argument("--db-url", help="gradebook URL, e.g. postgresql://host/course "
                        "(default: sqlite gradebook.db in the folder)")
    parser.add_argument("--source", type=Path, default=labs.SOLUTIONS,
                        help="folder of nbgrader source labs (default: %(default)s)")
    parser.add_argument("--labs", nargs="*", metavar="LAB", help="labs to record (default: all)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help="seconds a cell may run when grading (default: %(default)s)")

    parser = command("collect", _collect_command,
                     "file student notebooks from a folder or an LMS zip as submissions")
    parser.add_argument("--from", dest="origin", type=Path, required=True,
                        help="folder or zip whose file names carry the student ids")

    parser = command("autograde", _autograde_command,
                     "grade the submissions of a lab in parallel (resumes where it stopped)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--timeout", type=int,
                        help="seconds a cell may run (default: the course's, 30 unless init "
                        "set another)")
    parser.add_argument("--limit", type=float, default=SUBMISSION_LIMIT,
                        help="seconds a submission may run in all (default: %(default)g)")
    parser.add_argument("--memory", type=int, default=MEMORY_MB,
                        help="MiB a submission's kernel may allocate, 0 for no limit "
                        "(default: %(default)s)")
    parser.add_argument("--student", dest="students", action="append", metavar="ID",
                        help="grade only this student (repeatable)")
    parser.add_argument("--force", action="store_true", help="grade again what was graded")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on this Dask scheduler, e.g. tcp://10.0.0.5:8786")

    parser = command("feedback", _feedback_command, "write per-student HTML feedback")
    parser.add_argument("--student", dest="students", action="append", metavar="ID",
                        help="only this student (repeatable)")

    parser = command("export", _export_command, "write grades per student and lab as CSV",
                     False)
    parser.add_argument("--output", type=Path, help="CSV file (default: grades.csv in the "
                        "course folder)")

    parser = command("report", _report_command,
                     "item analysis of a lab: a table here and PNG plots")
    parser.add_argument("--output", type=Path,
                        help="folder for the plots (default: reports/<lab> in the course)")
