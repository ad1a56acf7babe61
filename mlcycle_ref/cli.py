"""The ``mlcycle`` command.

Each feature area adds its own sub-commands through a ``register(subparsers)`` function,
so this module only assembles them::

    mlcycle datasets                 # list the offline datasets
    mlcycle simulate out.csv --rows 50000 --seed 1
"""

import argparse
import sys

from mlcycle_ref import __version__, course, data, jobs, labs, pipeline
from mlcycle_ref.quiz import cli as quiz_cli


def _list_datasets(args) -> int:
    for name in data.DATASETS:
        dataset = data.load(name, n_rows=1_000)
        print(f"{name:<14} {dataset.task:<11} target={dataset.target:<11} {dataset.source}")
    return 0


def _simulate(args) -> int:
    frame = data.simulate_campaign(args.rows, seed=args.seed, shift=args.shift)
    frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame):,} rows to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``mlcycle`` command.

    >>> build_parser().parse_args(["simulate", "out.csv"]).rows
    10000
    """
    parser = argparse.ArgumentParser(
        prog="mlcycle", description="The machine-learning lifecycle course: tools for readers, "
        "students, instructors and self-learners.")
    parser.add_argument("--version", action="version", version=f"mlcycle {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    listing = commands.add_parser("datasets", help="list the offline datasets")
    listing.set_defaults(handler=_list_datasets)

    simulate = commands.add_parser("simulate", help="write a simulated campaign to a CSV file")
    simulate.add_argument("output", help="CSV file to write")
    simulate.add_argument("--rows", type=int, default=10_000, help="number of rows")
    simulate.add_argument("--seed", type=int, default=0, help="random seed")
    simulate.add_argument("--shift", action="store_true",
                          help="draw the shifted population (changed effects)")
    simulate.set_defaults(handler=_simulate)

    course.register(commands)
    jobs.register(commands)
    labs.register(commands)
    pipeline.register(commands)
    quiz_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (data.DataError, OSError) as error:
        # Input problems are the user's to fix: a message, not a traceback.
        print(f"mlcycle: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
