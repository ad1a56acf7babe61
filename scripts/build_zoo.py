"""Rebuild the model zoo shipped in mlcycle_ref/zoo_models from fixed seeds.

    python scripts/build_zoo.py                # every model, 200,000 source rows
    python scripts/build_zoo.py --rows 20000 --folder /tmp/zoo --only campaign-xgboost

The same arguments write the same files, byte for byte; commit them together with any
change to mlcycle_ref/zoo.py that alters a recipe.
"""

import argparse
import time

from mlcycle_ref import zoo


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="source rows to draw")
    parser.add_argument("--folder", default=None,
                        help="where to write (default: the package's zoo_models folder)")
    parser.add_argument("--only", nargs="*", default=None, metavar="ID",
                        help=f"model ids to build (default: all of {[r.id for r in zoo.RECIPES]})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    for card in zoo.build(args.folder, n_rows=args.rows, ids=args.only):
        tuning = card.fine_tuning["scores"]
        print(f"{card.id}: source AUC {card.metrics['source test']['roc_auc']:.4f}, "
              f"later campaign AUC {card.metrics['later campaign']['roc_auc']:.4f}")
        for name, found in tuning.items():
            print(f"    {name:<55} AUC {found['roc_auc']:.4f}  log loss {found['log_loss']:.4f}")
    print(f"built in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
