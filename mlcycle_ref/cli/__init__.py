"""The ``mlcycle`` command, quick to start whatever the command.

Each command group lives with the code it drives (``mlcycle_ref.course.cli``,
``mlcycle_ref.quiz.cli`` ...) and adds itself with ``register(subparsers)``. Importing
those brings in pandas, scikit-learn or nbgrader, so :func:`main` imports only the module of
the group being run; the others appear in ``--help`` by name and one line each::

    mlcycle --version                # imports nothing but this package
    mlcycle quiz check quiz q04 --answer "..."
    mlcycle datasets                 # list the offline datasets

Errors a user can fix (:class:`~mlcycle_ref.errors.MlcycleError`, or a file that cannot be
read or written) print one line and exit with status 2.

>>> build_parser("datasets").parse_args(["datasets"]).command
'datasets'
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mlcycle_ref import __version__
from mlcycle_ref.errors import MlcycleError

#: Each command: the module whose ``register(subparsers)`` adds it, and its one-line help.
COMMANDS = {
    "datasets": ("mlcycle_ref.cli.datasets", "list the offline datasets"),
    "simulate": ("mlcycle_ref.cli.datasets", "write a simulated campaign to a CSV file"),
    "quiz": ("mlcycle_ref.quiz.cli", "take a quiz in the terminal, or check one answer"),
    "glossary": ("mlcycle_ref.quiz.cli", "drill the glossary with spaced repetition"),
    "labs": ("mlcycle_ref.labs.cli", "get the graded labs, check one before handing it in"),
    "course": ("mlcycle_ref.course.cli", "instructor workflow: grade a class"),
    "jobs": ("mlcycle_ref.jobs.cli", "list and inspect training jobs"),
    "pipeline": ("mlcycle_ref.pipeline.cli", "run pipelines, look after the registry"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of the ``mlcycle`` command, complete for ``command`` (others listed only)."""
    parser = argparse.ArgumentParser(
        prog="mlcycle", description="The machine-learning lifecycle course: tools for readers, "
        "students, instructors and self-learners.")
    parser.add_argument("--version", action="version", version=f"mlcycle {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command][0]).register(commands)
    for name, (_, text) in COMMANDS.items():
        if name not in commands.choices:
            commands.add_parser(name, help=text, add_help=False)
    return parser


def _command(argv: list[str]) -> str | None:
    """The command named in ``argv``: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status.

    ``argv`` holds the arguments after ``mlcycle``; None reads them from ``sys.argv``. A
    :class:`~mlcycle_ref.errors.MlcycleError` is printed as a message and gives status 2.

    >>> main(["simulate", "/no/such/folder/out.csv", "--rows", "5"])
    2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(_command(argv)).parse_args(argv)
        return args.handler(args)
    except (MlcycleError, OSError) as error:
        # Input problems are the user's to fix: a message, not a traceback.
        print(f"mlcycle: error: {error}", file=sys.stderr)
        return 2
