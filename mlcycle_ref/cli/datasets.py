"""``mlcycle datasets`` and ``mlcycle simulate``: the offline datasets from a terminal."""

from __future__ import annotations


def _list_datasets(args) -> int:
    from mlcycle_ref import data

    for name in data.DATASETS:
        dataset = data.load(name, n_rows=1_000)
        print(f"{name:<14} {dataset.task:<11} target={dataset.target:<11} {dataset.source}")
    return 0


def _simulate(args) -> int:
    from mlcycle_ref import data

    frame = data.simulate_campaign(args.rows, seed=args.seed, shift=args.shift)
    frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame):,} rows to {args.output}")
    return 0


def register(subparsers) -> None:
    """Add ``datasets`` and ``simulate OUTPUT`` to a command line's ``subparsers`` (what
    ``ArgumentParser.add_subparsers`` returned).

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="mlcycle")
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["simulate", "out.csv"]).rows
    10000
    """
    listing = subparsers.add_parser("datasets", help="list the offline datasets")
    listing.set_defaults(handler=_list_datasets)

    simulate = subparsers.add_parser("simulate", help="write a simulated campaign to a CSV file")
    simulate.add_argument("output", help="CSV file to write")
    simulate.add_argument("--rows", type=int, default=10_000, help="number of rows")
    simulate.add_argument("--seed", type=int, default=0, help="random seed")
    simulate.add_argument("--shift", action="store_true",
                          help="draw the shifted population (changed effects)")
    simulate.set_defaults(handler=_simulate)
