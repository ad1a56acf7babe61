"""Collecting submissions: a folder or an LMS zip of notebooks filed under ``submitted/``."""

from __future__ import annotations

import contextlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlcycle_ref.course import deadlines
from mlcycle_ref.course.folder import Course, CourseError, roster_ids, write_atomically

#: Notebooks larger than this are not collected (an LMS zip can hold anything).
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass
class CollectReport:
    """What :func:`collect` did with each file; ``render()`` gives the text for the terminal.

    ``lab`` is the lab collected. By student id: ``collected`` the file filed,
    ``renamed`` a file filed although its name is not the lab's, ``duplicates`` the files
    not used, ``kept`` why a found notebook was not filed (the one collected before is
    newer) and ``replaced`` when the older submission it replaced came in. ``unknown`` lists
    notebooks naming no student, ``rejected`` maps a file to why it was refused (too big, say),
    ``stray`` lists files that are not notebooks and ``missing`` the students without one.

    >>> report = CollectReport("lab01_exploration", collected={"s001": "s001/lab01.ipynb"},
    ...                        stray=["notes.txt"], missing=["s002"])
    >>> print(report.render())
    Collected 1 submission(s) of lab01_exploration.
    Stray files (not notebooks), ignored (1):
      notes.txt
    Students without a submission (1):
      s002
    """

    lab: str
    collected: dict[str, str] = field(default_factory=dict)   # student -> file used
    renamed: dict[str, str] = field(default_factory=dict)     # student -> file not named <lab>
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # student -> files not used
    unknown: list[str] = field(default_factory=list)          # notebooks naming no student
    rejected: dict[str, str] = field(default_factory=dict)    # file -> reason
    stray: list[str] = field(default_factory=list)            # files that are not notebooks
    missing: list[str] = field(default_factory=list)          # students without a notebook
    #: student -> why the notebook found was not filed: the one collected before is newer
    kept: dict[str, str] = field(default_factory=dict)
    replaced: dict[str, str] = field(default_factory=dict)    # student -> when the old one came

    def render(self) -> str:
        """The report as text: the count collected, then each non-empty list with a title."""
        lines = [f"Collected {len(self.collected)} submission(s) of {self.lab}."]
        sections = [
            ("renamed notebooks, collected anyway", [f"{student}: {name}" for student, name
                                                     in sorted(self.renamed.items())]),
            ("duplicates (the newest notebook was kept)",
             [f"{student}: ignored {', '.join(names)}"
              for student, names in sorted(self.duplicates.items())]),
            ("older than the submission collected before, skipped",
             [f"{student}: {why}" for student, why in sorted(self.kept.items())]),
            ("newer than the submission collected before, which they replace",
             [f"{student}: {when}" for student, when in sorted(self.replaced.items())]),
            ("notebooks whose name carries no student id or name of the roster", self.unknown),
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


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def match_name(name: str, names: dict[str, str]) -> list[str]:
    """The students whose full name starts a folder or file name of ``name``, then ``_``.

    That is how Moodle names the folders of a download of all submissions
    (``Ada Lovelace_1234_assignsubmission_file_``): by name and an id of Moodle's own, not the
    student's. ``names`` maps student ids to "first last"; case and accents' encoding are
    ignored.

    >>> match_name("Zoë Ng_48_assignsubmission_file_/lab.ipynb", {"s1": "Zoë Ng", "s2": "Al B"})
    ['s1']
    """
    parts = [_fold(part) for part in Path(name).parts]
    return sorted(student for student, full in names.items() if full.strip() and any(
        part == _fold(full) or part.startswith(_fold(full) + "_") for part in parts))


def roster_names(course: Course) -> dict[str, str]:
    """Student id -> "first last" for the students of ``course``'s gradebook with both names."""
    with course.gradebook() as gradebook:
        return {student.id: f"{student.first_name} {student.last_name}"
                for student in gradebook.students if student.first_name and student.last_name}


def match_student(name: str, students) -> list[str]:
    """The student ids that ``name`` carries as whole words, longest ids first.

    An id inside a longer matching id does not count, so "s01" does not also match a file of
    "s01-b". ``name`` is a file's path inside the folder or zip, ``students`` the roster's ids.

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
    :func:`match_student`), or else whose full name starts a folder name, as in Moodle's
    downloads (:func:`match_name`); a student with several notebooks keeps the newest one whose
    name mentions the lab. Its time is that of a ``timestamp.txt`` beside it, or else of the zip
    entry or file. The notebook is written as ``submitted/<id>/<lab>/<lab>.ipynb`` with
    nbgrader's ``timestamp.txt``, unless the submission collected before is newer: that one
    stays, and the report says so. Nothing is read as a notebook yet: a broken file is
    collected, and grading reports it. ``course`` is the course (its gradebook holds the
    roster); ``lab`` a lab name or unique prefix.
    """
    lab = course.resolve(lab)
    origin = Path(origin)
    if not origin.exists():
        raise CourseError(f"{origin}: no such folder or zip file")
    students = roster_ids(course)
    report = CollectReport(lab)
    with contextlib.ExitStack() as stack:
        candidates = _candidates(_members(origin, stack), students, roster_names(course),
                                 lab, report)
        for student, files in sorted(candidates.items()):
            _file_submission(course, lab, student, files, report)
    report.missing = [student for student in students if student not in report.collected
                      and not course.submitted(student, lab).is_file()]
    return report


def _candidates(members, students, names: dict[str, str], lab: str,
                report: CollectReport) -> dict[str, list[tuple]]:
    """Student -> (mentions the lab, time, name, reader) of each notebook that is theirs."""
    candidates: dict[str, list[tuple]] = {}
    members = list(members)
    stamps = {Path(name).parent: read for name, _, size, read in members
              if Path(name).name == "timestamp.txt" and size < 1000}
    for name, stamp, size, read in members:
        parts = Path(name).parts
        if Path(name).parent in stamps:
            stamp = _stamp_time(stamps[Path(name).parent], f"{Path(name).parent}/timestamp.txt",
                                stamp)
        if parts[-1] == "timestamp.txt":
            continue
        if not name.lower().endswith(".ipynb") or any(
                part.startswith((".", "__MACOSX")) for part in parts):
            report.stray.append(name)
            continue
        owners = match_student(name, students) or match_name(name, names)
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


def _stamp_time(read, name: str, fallback: float) -> float:
    """The time in an nbgrader ``timestamp.txt``, as a POSIX timestamp."""
    from nbgrader import utils

    try:
        return utils.parse_utc(read().decode().strip()).replace(tzinfo=UTC).timestamp()
    except (ValueError, OverflowError, UnicodeDecodeError):
        raise CourseError(f"{name}: not a time nbgrader can read") from None


def _file_submission(course: Course, lab: str, student: str, files: list[tuple],
                     report: CollectReport) -> None:
    """Keep the newest of a student's notebooks that mentions the lab (or just the newest)."""
    files.sort(key=lambda item: item[:2], reverse=True)
    mentions_lab, stamp, name, read = files[0]
    target = course.submitted(student, lab)
    arrived = datetime.fromtimestamp(stamp, UTC)
    before = deadlines.submission_time(course, lab, student) if target.is_file() else None
    if before is not None and before.replace(tzinfo=UTC) > arrived:
        report.kept[student] = (f"{name} ({arrived:%Y-%m-%d %H:%M} UTC) is older than the one "
                                f"collected before ({before:%Y-%m-%d %H:%M} UTC)")
        return
    if before is not None and before.replace(tzinfo=UTC) < arrived:
        report.replaced[student] = f"{name} replaces the one of {before:%Y-%m-%d %H:%M} UTC"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, read())
    when = arrived.strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    write_atomically(target.parent / "timestamp.txt", when)
    report.collected[student] = name
    if not mentions_lab:
        report.renamed[student] = name
    if len(files) > 1:
        report.duplicates[student] = [item[2] for item in files[1:]]
