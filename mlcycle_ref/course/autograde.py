"""Grading a class: a pool of worker processes or a Dask cluster, resumable, stopped cleanly.

Only this process writes to the gradebook; workers run
:func:`grade_submission` and hand back plain results.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from mlcycle_ref import labs
from mlcycle_ref.course import deadlines, pool
from mlcycle_ref.course.folder import (
    GRADED,
    Course,
    CourseError,
    read_record,
    submissions,
    write_atomically,
)
from mlcycle_ref.course.problems import submission_problems
from mlcycle_ref.course.restore import graded_reference
from mlcycle_ref.course.sandbox import Limits, Sandbox, course_sandbox, require
from mlcycle_ref.labs.secret import course_secret

#: Seconds one submission may take in all before its kernel is killed.
SUBMISSION_LIMIT = 600.0
#: Memory each process of a submission may allocate (its data segment), in MiB.
MEMORY_MB = Limits().memory_mb


@dataclass
class GradingSummary:
    """The outcome of ``autograde`` for one lab; ``render()`` gives the text for the terminal.

    ``lab`` is the lab graded; ``graded`` lists the students graded in this run, ``failed``
    the students whose submission could not be graded with the reason, ``problems`` those
    graded but with something wrong (a cell that timed out, a kernel that died) and what,
    ``already`` those graded by an earlier run and left alone, ``manual`` those with answers
    that need grading by hand, ``unsandboxed`` those graded without a sandbox. ``seconds`` is
    the run's wall-clock time; ``interrupted`` says it was stopped before the end.

    >>> summary = GradingSummary("lab1", graded=["s001", "s002"], failed={"s003": "empty"},
    ...                          manual=["s002"], seconds=12.34)
    >>> print(summary.render())
    lab1: 2 submission(s) graded, 1 could not be graded, in 12.3 s.
    Failed (1):
      s003: empty
    Needing manual grading (1), with `mlcycle course grade lab1`: s002
    """

    lab: str
    graded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)     # student -> reason
    problems: dict[str, str] = field(default_factory=dict)   # graded, but something went wrong
    already: list[str] = field(default_factory=list)         # graded by an earlier run
    manual: list[str] = field(default_factory=list)          # need manual grading
    unsandboxed: list[str] = field(default_factory=list)     # graded without a sandbox
    seconds: float = 0.0
    interrupted: bool = False

    def render(self) -> str:
        lines = [_headline(self.lab, len(self.graded), len(self.failed), len(self.already),
                           self.seconds)]
        if self.interrupted:
            lines.append(INTERRUPTED)
        return "\n".join(lines + self.details())

    def details(self) -> list[str]:
        """The lines naming students: who failed, who had a problem, who needs marking.

        >>> GradingSummary("lab1", graded=["s001"], problems={"s001": "cell 3 timed out"}).details()
        ['Graded with a problem (1):', '  s001: cell 3 timed out']
        """
        lines = []
        for title, items in (("Failed", self.failed), ("Graded with a problem", self.problems)):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {student}: {reason}" for student, reason in sorted(items.items())]
        if self.unsandboxed:
            lines.append(f"Graded without a sandbox ({len(self.unsandboxed)}): "
                         f"{', '.join(sorted(self.unsandboxed))}")
        if self.manual:
            lines.append(f"Needing manual grading ({len(self.manual)}), with `mlcycle course "
                         f"grade {self.lab}`: {', '.join(sorted(self.manual))}")
        return lines


INTERRUPTED = "Interrupted: run the same command again to grade the rest."


def _headline(name: str, graded: int, failed: int, already: int, seconds: float) -> str:
    return (f"{name}: {graded} submission(s) graded, {failed} could not be graded, in "
            f"{seconds:.1f} s" + (f"; {already} graded by an earlier run" if already else "")
            + ".")


@dataclass
class RunSummary:
    """The outcome of ``autograde`` over several labs in one run: a table, a line per lab.

    ``labs`` holds each lab's :class:`GradingSummary`, in the order the labs were asked for;
    ``seconds`` is the run's wall-clock time and ``interrupted`` says it was stopped before
    the end. ``render()`` gives the table, the totals and each lab's named students.

    >>> run = RunSummary([GradingSummary("lab1", graded=["s001", "s002"], manual=["s002"]),
    ...                   GradingSummary("lab2_long", graded=["s001"], already=["s002"],
    ...                                  failed={"s003": "empty"})], seconds=40.0)
    >>> print(run.render())
    lab        graded  failed  problem  earlier  manual
    lab1            2       0        0        0       1
    lab2_long       1       1        0        1       0
    2 lab(s): 3 submission(s) graded, 1 could not be graded, in 40.0 s; 1 graded by an earlier run.
    lab1:
      Needing manual grading (1), with `mlcycle course grade lab1`: s002
    lab2_long:
      Failed (1):
        s003: empty
    """

    labs: list[GradingSummary]
    seconds: float = 0.0
    interrupted: bool = False

    def render(self) -> str:
        columns = ("graded", "failed", "problem", "earlier", "manual")
        width = max([len("lab")] + [len(summary.lab) for summary in self.labs])
        lines = [f"{'lab':<{width}}" + "".join(f"{name:>{len(name) + 2}}" for name in columns)]
        for summary in self.labs:
            counts = (summary.graded, summary.failed, summary.problems, summary.already,
                      summary.manual)
            lines.append(f"{summary.lab:<{width}}" + "".join(
                f"{len(items):>{len(name) + 2}}" for name, items in zip(columns, counts,
                                                                        strict=True)))
        lines.append(_headline(f"{len(self.labs)} lab(s)",
                               sum(len(summary.graded) for summary in self.labs),
                               sum(len(summary.failed) for summary in self.labs),
                               sum(len(summary.already) for summary in self.labs), self.seconds))
        if self.interrupted:
            lines.append(INTERRUPTED)
        for summary in self.labs:
            if details := summary.details():
                lines += [f"{summary.lab}:"] + [f"  {line}" for line in details]
        return "\n".join(lines)


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _store(course: Course, lab: str, result: dict, run: str) -> dict:
    """Keep a worker's result: notebook, then the record that says it is graded, then grades."""
    student = result["student"]
    record = {key: value for key, value in result.items() if key != "notebook"}
    record.update(run=run, graded_at=datetime.now(UTC).isoformat(), merged=False)
    if result["status"] == GRADED:  # said once per cell: the worker may have named it already
        known = record.get("problem") or ""
        found = submission_problems(result["notebook"], record["notes"], already=known)
        record["problem"] = "; ".join(([known] if known else []) + found)
    path = course.record(student, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    if result["status"] == GRADED:
        target = course.autograded(student, lab)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, result["notebook"])
    write_atomically(path, json.dumps(record, indent=1))
    return _merge(course, lab, record)


def _merge(course: Course, lab: str, record: dict) -> dict:
    """Enter a graded record into the gradebook with nbgrader's own scoring; mark it merged.

    Only this process writes to the gradebook, so SQLite is safe with any number of workers;
    merging again gives the same grades, which is what makes a crash at any point harmless.
    """
    from nbgrader.preprocessors import SaveAutoGrades
    from sqlalchemy.exc import SAWarning

    student = record["student"]
    if record["status"] == GRADED:
        submitted_at = deadlines.submission_time(course, lab, student)
        with course.gradebook() as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(
                lab, student, **({"timestamp": submitted_at} if submitted_at else {}))
        nb = nbformat.read(course.autograded(student, lab), as_version=4)
        resources = {"nbgrader": {"notebook": lab, "assignment": lab, "student": student,
                                  "db_url": course.db_url}}
        with labs.venv_on_path(), warnings.catch_warnings():
            # nbgrader trips over its own SQLAlchemy session here; the grades are unaffected.
            warnings.simplefilter("ignore", SAWarning)
            SaveAutoGrades().preprocess(nb, resources)
        deadlines.apply_late_penalty(course, lab, student, submitted_at)
    record["merged"] = True
    write_atomically(course.record(student, lab), json.dumps(record, indent=1))
    return record


def autograde(course: Course, labs: str | list[str] | None, *, workers: int | None = None,
              timeout: int | None = None, limit: float = SUBMISSION_LIMIT,
              memory_mb: int | None = None, students=None, force: bool = False,
              scheduler=None, progress: bool = False,
              sandbox: Sandbox | bool = True) -> GradingSummary | RunSummary:
    """Grade every submission of ``labs`` that has no result yet; return what happened.

    ``labs`` is one lab's name (or a unique prefix such as "lab02"), which gives that lab's
    :class:`GradingSummary`, or a list of names, or None for every lab ``course`` has
    recorded, which gives a :class:`RunSummary` with one summary per lab. The submissions of
    all the labs wait in one queue for one set of workers, so a term is graded in one run
    without starting workers again for each lab. A name that is not a lab of the course is
    refused, with the course's labs, before anything is graded.

    Submissions are graded in parallel by ``workers`` processes (default: one per CPU), or on
    the Dask cluster at ``scheduler`` (an address or a ``distributed.Client``). Each cell
    may run ``timeout`` seconds (default: the course's), each submission ``limit`` seconds in
    all, and each of its processes may allocate ``memory_mb`` MiB (default: the course's,
    :data:`MEMORY_MB` unless its configuration says otherwise).

    Each submission runs in a bubblewrap sandbox (:mod:`mlcycle_ref.course.sandbox`) with the
    course's limits, or the limits of ``sandbox`` when it is a ``Sandbox``; where none can be
    made this refuses, saying what is missing. ``sandbox=False`` grades as the instructor's
    user, and the records and the summary say which submissions were graded so.

    As each result arrives it is recorded under ``grading/<lab>/`` and entered into the
    gradebook by this process alone; a run that is interrupted loses only the submissions being
    graded, and the next run grades just those, and any notebook that changed since it was
    graded. ``force`` grades everything again. ``students`` limits the run to those student
    ids (default: every student who handed a lab in), each of whom must have handed in at
    least one of the labs; ``progress`` shows a progress bar per lab on standard error.
    """
    names = _chosen_labs(course, labs)
    box = None
    if sandbox:
        box = sandbox if isinstance(sandbox, Sandbox) else course_sandbox(
            course, memory_mb=memory_mb)
        if scheduler is None:  # Dask workers check for themselves, per submission
            require()
    elif memory_mb is None:
        memory_mb = course_sandbox(course).limits.memory_mb
    started = time.perf_counter()
    summaries = {lab: GradingSummary(lab) for lab in names}
    references = {lab: graded_reference(course, lab) for lab in names}
    handed_in = _handed_in(course, names, students)
    secret = course_secret(course.root)
    run = uuid.uuid4().hex[:12]
    # Local workers grade in folders under one scratch folder, removed at the end even when a
    # worker was killed before it could tidy up (see pool); Dask workers use their own.
    scratch = None if scheduler is not None else pool.new_scratch()
    jobs = []
    for lab, found in handed_in.items():
        for student, path in found.items():
            content = path.read_bytes() if path.is_file() else b""
            record = read_record(course.record(student, lab))
            if record and record.get("sha256") == _sha256(content) and not force:
                if not record.get("merged"):
                    _merge(course, lab, record)
                summaries[lab].already.append(student)
                _summarize(summaries[lab], record, earlier=True)
                continue
            jobs.append({"student": student, "notebook": content, "sha256": _sha256(content),
                         "reference": references[lab], "timeout": timeout or course.timeout,
                         "limit": limit, "memory_mb": memory_mb, "scratch": scratch,
                         "sandbox": box, "secret": secret})
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = ("grading {task.fields[lab]}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), "eta", TimeRemainingColumn(),
               "[progress.description]{task.description}")
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        left = {lab: sum(job["reference"]["lab"] == lab for job in jobs) for lab in names}
        tasks = {lab: bar.add_task("", lab=lab, total=left[lab]) for lab in names}

        def handle(result):
            lab = result["lab"]
            _summarize(summaries[lab], _store(course, lab, result, run))
            left[lab] -= 1
            # A finished lab no longer names whom it is grading.
            bar.update(tasks[lab], advance=1, **({} if left[lab] else {"description": ""}))

        # One pool for the whole run, so one log: the lab's folder, or grading/ for several.
        worker_log = course.root / "grading" / (names[0] if len(names) == 1 else "")
        worker_log = worker_log / "workers.log"
        worker_log.parent.mkdir(parents=True, exist_ok=True)

        def running(in_flight):
            for lab, task in tasks.items():
                students = sorted(job["student"] for job in in_flight
                                  if job["reference"]["lab"] == lab)
                shown = ", ".join(students[:4]) + (f" +{len(students) - 4}"
                                                     if len(students) > 4 else "")
                bar.update(task, description=f"now: {shown}" if students else "")

        with pool.stop_on_signals() as stop:
            try:
                if jobs and scheduler is not None:
                    pool.run_dask(jobs, scheduler, handle, stop)
                elif jobs:
                    pool.run_pool(jobs, max(1, min(workers or os.cpu_count() or 1, len(jobs))),
                                  handle, stop, scratch, running, str(worker_log))
            finally:
                if scratch:
                    shutil.rmtree(scratch, ignore_errors=True)
    for lab, summary in summaries.items():
        summary.manual = _needing_manual_grading(course, lab, summary.graded + summary.already)
    seconds = time.perf_counter() - started
    for summary in summaries.values():
        summary.seconds, summary.interrupted = seconds, stop.is_set()
    if isinstance(labs, str):
        return summaries[names[0]]
    return RunSummary(list(summaries.values()), seconds, stop.is_set())


def _chosen_labs(course: Course, labs: str | list[str] | None) -> list[str]:
    """Full names of ``labs``, each once; None means every lab the gradebook holds."""
    if labs is None:
        with course.gradebook() as gradebook:
            return sorted(assignment.name for assignment in gradebook.assignments)
    return list(dict.fromkeys(course.resolve(lab)
                              for lab in ([labs] if isinstance(labs, str) else labs)))


def _handed_in(course: Course, names: list[str], students) -> dict[str, dict[str, Path]]:
    """Lab -> student -> submitted notebook, for ``students`` only if given."""
    found = {lab: submissions(course, lab) for lab in names}
    if not students:
        return found
    missing = sorted(set(students).difference(*found.values()))
    if missing:
        raise CourseError(f"no submission of {', '.join(names)} for {', '.join(missing)}")
    return {lab: {student: by_student[student] for student in students
                  if student in by_student} for lab, by_student in found.items()}


def _summarize(summary: GradingSummary, record: dict, earlier: bool = False) -> None:
    student = record["student"]
    if record["status"] != GRADED:
        summary.failed[student] = record["reason"]
        return
    if not earlier:
        summary.graded.append(student)
    if record.get("sandboxed") is False:
        summary.unsandboxed.append(student)
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
