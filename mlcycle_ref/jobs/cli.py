"""``mlcycle jobs list | describe NAME | logs NAME | stop NAME``."""

from __future__ import annotations

import json

from mlcycle_ref.jobs.store import JobStore


def _print_table(args) -> int:
    table = JobStore(args.store).list()
    if table.empty:
        print("no jobs yet")
        return 0
    shown = table[["name", "status", "secondary_status", "algorithm", "created",
                   "training_time"]].copy()
    shown["created"] = shown["created"].dt.strftime("%Y-%m-%d %H:%M:%S")
    print(shown.to_string(index=False))
    return 0


def _print_description(args) -> int:
    description = JobStore(args.store).get(args.name).describe()
    print(json.dumps(description, indent=2, default=str))
    return 0


def _print_logs(args) -> int:
    print(JobStore(args.store).get(args.name).logs(), end="")
    return 0


def _stop(args) -> int:
    job = JobStore(args.store).get(args.name).stop()
    print(f"stop requested for {job.name}")
    return 0


def register(subparsers) -> None:
    """Add ``mlcycle jobs list | describe NAME | logs NAME | stop NAME`` to the command line.

    ``subparsers`` is the object ``ArgumentParser.add_subparsers`` returned for the
    ``mlcycle`` command.
    """
    jobs = subparsers.add_parser("jobs", help="list and inspect training jobs")
    jobs.add_argument("--store", default=None,
                      help="job store URL (default: sqlite:///<data dir>/jobs.db)")
    commands = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    commands.add_parser("list", help="one line per job").set_defaults(handler=_print_table)
    for action, handler, text in (("describe", _print_description, "status, metrics, artifacts"),
                                  ("logs", _print_logs, "the job's log"),
                                  ("stop", _stop, "ask a running job to stop")):
        command = commands.add_parser(action, help=text)
        command.add_argument("name", help="job name")
        command.set_defaults(handler=handler)
