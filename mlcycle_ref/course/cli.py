"""The ``mlcycle course`` command line: one subcommand per step of the instructor's workflow.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="mlcycle")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["course", "autograde", "lab02", "lab03", "--workers", "2"])
>>> args.labs, args.all, args.workers, args.limit, args.memory, args.no_sandbox
(['lab02', 'lab03'], False, 2, 600.0, None, False)
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from mlcycle_ref import labs
from mlcycle_ref.course.autograde import MEMORY_MB, SUBMISSION_LIMIT, autograde
from mlcycle_ref.course.collect import collect
from mlcycle_ref.course.export import export
from mlcycle_ref.course.feedback import feedback
from mlcycle_ref.course.folder import CELL_TIMEOUT, CourseError, init, open_course, roster_ids
from mlcycle_ref.course.pool import stop_on_signals
from mlcycle_ref.course.report import plot_pass_rates, plot_score_distribution, report
from mlcycle_ref.course.sandbox import Limits, course_sandbox


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
    if bool(args.labs) == args.all:
        raise CourseError("name the labs to grade, or give --all for every lab of the course"
                          if not args.all else "give lab names or --all, not both")
    course = open_course(args.course)
    box = False if args.no_sandbox else course_sandbox(
        course, memory_mb=args.memory, processes=args.processes, file_mb=args.file_size,
        cpu_seconds=args.cpu_time)
    # One lab named: that lab's summary, as ever; several, or --all: a table of the labs.
    chosen = None if args.all else args.labs[0] if len(args.labs) == 1 else args.labs
    summary = autograde(course, chosen, workers=args.workers, timeout=args.timeout,
                        limit=args.limit, memory_mb=args.memory,
                        students=args.students or None, force=args.force,
                        scheduler=args.scheduler, progress=True, sandbox=box)
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
        print(summary.render(), flush=True)
    return 130 if summary.interrupted else 0


def _deadline_command(args) -> int:
    from mlcycle_ref.course import deadlines

    course = open_course(args.course)
    if args.penalty:
        deadlines.set_penalty(course, args.penalty, args.points_per_hour)
    due = deadlines.parse_due(args.due) if args.due else None
    deadlines.set_deadline(course, args.lab, due, student=args.student,
                           extension_hours=args.extension)
    lab = course.resolve(args.lab)
    with course.gradebook() as gradebook:
        when = gradebook.find_assignment(lab).duedate
    print(f"{lab}: due {when:%Y-%m-%d %H:%M} UTC" if when else f"{lab}: no due date")
    for student, hours in sorted(deadlines.extensions(course, lab).items()):
        print(f"  extension for {student}: {hours:g} hour(s)")
    return 0


def _grade_command(args) -> int:
    from mlcycle_ref.course import formgrader

    course = open_course(args.course)
    # The server runs in a session of its own, out of reach of Ctrl-C, a closed terminal
    # (SIGHUP) and kill (SIGTERM): each of them stops it here, even while it starts. Caught
    # rather than left to KeyboardInterrupt, Ctrl-C works too where it was inherited ignored
    # (a background job of a script, nohup), and a second signal cannot cut the clean-up short.
    with stop_on_signals() as stop:
        server = formgrader.start(course, args.lab, port=args.port, stop=stop)
        try:
            if not stop.is_set():
                print(f"formgrader of {course.resolve(args.lab)}, for this computer only:\n"
                      f"  {server.url}\nMark the written answers there, then run feedback "
                      "and export again. Ctrl-C stops it.", flush=True)
            while server.process.poll() is None and not stop.wait(0.5):
                pass
        finally:
            server.stop()
    return 0


def _feedback_command(args) -> int:
    course = open_course(args.course)
    written = feedback(course, args.lab, args.students or None)
    print(f"wrote {len(written)} feedback page(s) under {course.root / 'feedback'}")
    return 0


def _export_command(args) -> int:
    course = open_course(args.course)
    name = "grades.csv" if args.format == "long" else f"grades-{args.format}.csv"
    output = args.output or course.root / name
    table = export(course, output, lab_names=args.labs, layout=args.format, tasks=args.tasks,
                   force=args.force)
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
    lab_report.task_table().to_csv(folder / "tasks.csv", index=False, encoding="utf-8-sig")
    print(f"plots and tasks.csv in {folder}")
    return 0


def register(subparsers) -> None:
    """Add ``course init|collect|autograde|feedback|export|report`` to a command line.

    ``subparsers`` is what ``ArgumentParser.add_subparsers`` returned for ``mlcycle``.
    """
    course = subparsers.add_parser("course", help="instructor workflow: grade a class")
    commands = course.add_subparsers(dest="course_command", metavar="COMMAND", required=True)

    def command(name, handler, help_text, lab=True):
        parser = commands.add_parser(name, help=help_text, description=help_text)
        if lab:
            parser.add_argument("lab", help="lab name or unique prefix such as lab02")
        if name != "init":
            parser.add_argument("--course", type=Path, default=Path("."),
                                help="the course folder (default: the current folder)")
        parser.set_defaults(handler=handler)
        return parser

    parser = command("init", _init_command, "create a course folder and its gradebook", False)
    parser.add_argument("directory", type=Path, help="the course folder to create or extend")
    parser.add_argument("--roster", type=Path, help="CSV with an id column (and first_name, "
                        "last_name, email)")
    parser.add_argument("--db-url", help="gradebook URL, e.g. postgresql://host/course "
                        "(default: sqlite gradebook.db in the folder)")
    parser.add_argument("--source", type=Path,
                        help="folder of nbgrader source labs to copy in (default: the "
                        f"course's labs, {labs.SOLUTIONS})")
    parser.add_argument("--labs", nargs="*", metavar="LAB", help="labs to record (default: all)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help="seconds a cell may run when grading (default: %(default)s)")

    parser = command("collect", _collect_command,
                     "file student notebooks from a folder or an LMS zip as submissions")
    parser.add_argument("--from", dest="origin", type=Path, required=True,
                        help="folder or zip whose file names carry the student ids")

    parser = command("autograde", _autograde_command, "grade the submissions of one lab or "
                     "several in parallel, in one run (resumes where it stopped)", False)
    parser.add_argument("labs", nargs="*", metavar="LAB",
                        help="lab names or unique prefixes such as lab02")
    parser.add_argument("--all", action="store_true",
                        help="every lab the course has recorded")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per CPU)")
    parser.add_argument("--timeout", type=int,
                        help="seconds a cell may run (default: the course's, 30 unless init "
                        "set another)")
    parser.add_argument("--limit", type=float, default=SUBMISSION_LIMIT,
                        help="seconds a submission may run in all (default: %(default)g)")
    parser.add_argument("--memory", type=int, metavar="MIB",
                        help=f"MiB each process of a submission may allocate (default: the "
                        f"course's c.Sandbox.memory_mb, {MEMORY_MB} unless set); 0 for no "
                        "limit, with --no-sandbox only")
    parser.add_argument("--processes", type=int, metavar="N",
                        help="processes and threads a submission may run (default: the "
                        f"course's c.Sandbox.processes, {Limits().processes} unless set)")
    parser.add_argument("--file-size", type=int, metavar="MIB",
                        help="MiB of the largest file a submission may write (default: the "
                        f"course's c.Sandbox.file_mb, {Limits().file_mb} unless set)")
    parser.add_argument("--cpu-time", type=int, metavar="SECONDS",
                        help="CPU seconds each process of a submission may use (default: the "
                        f"course's c.Sandbox.cpu_seconds, {Limits().cpu_seconds} unless set)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions as your own user, with your files, network and "
                        "environment in reach (recorded in each grading record)")
    parser.add_argument("--student", dest="students", action="append", metavar="ID",
                        help="grade only this student (repeatable)")
    parser.add_argument("--force", action="store_true", help="grade again what was graded")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on this Dask scheduler, e.g. tcp://10.0.0.5:8786")

    parser = command("deadline", _deadline_command,
                     "set a lab's due date, a student's extension or the late penalty")
    parser.add_argument("--due", help="due date and time, e.g. '2026-12-01 17:00' (UTC) or "
                        "'2026-12-01 17:00+01:00'")
    parser.add_argument("--student", metavar="ID", help="the student an extension is for")
    parser.add_argument("--extension", type=float, metavar="HOURS",
                        help="hours added to the due date for --student")
    parser.add_argument("--penalty", choices=("none", "zero", "per-hour"),
                        help="late penalty of the course (nbgrader's; default none)")
    parser.add_argument("--points-per-hour", type=float, default=1.0,
                        help="with --penalty per-hour: points off per hour started "
                        "(default: %(default)s)")

    parser = command("grade", _grade_command,
                     "mark written answers by hand in nbgrader's formgrader (127.0.0.1 only)")
    parser.add_argument("--port", type=int, help="port to listen on (default: a free one)")

    parser = command("feedback", _feedback_command, "write per-student HTML feedback")
    parser.add_argument("--student", dest="students", action="append", metavar="ID",
                        help="only this student (repeatable)")

    parser = command("export", _export_command, "write the grades as CSV, for a spreadsheet "
                     "or an LMS gradebook", False)
    parser.add_argument("--lab", dest="labs", action="append", metavar="LAB",
                        help="only this lab (repeatable; default: every lab handed in)")
    parser.add_argument("--format", choices=("long", "wide", "canvas", "moodle"),
                        default="long", help="long: a row per student and lab; wide: a row per "
                        "student; canvas, moodle: those gradebooks' import (default: long)")
    parser.add_argument("--tasks", action="store_true",
                        help="a column per graded task too (wide, canvas, moodle)")
    parser.add_argument("--output", type=Path, help="CSV file (default: grades.csv, or "
                        "grades-FORMAT.csv, in the course folder)")
    parser.add_argument("--force", action="store_true",
                        help="replace the output file even if export did not write it")

    parser = command("report", _report_command,
                     "item analysis of a lab: a table here and PNG plots")
    parser.add_argument("--output", type=Path,
                        help="folder for the plots and tasks.csv (default: reports/<lab> in "
                        "the course)")
