"""Time each lab's solution notebook, run from a clean kernel as the self-check and grader do.

Seconds depend on the machine, so each lab is also reported as a ratio against a baseline run
in the same process: a notebook that only starts a kernel and imports the libraries the labs
use. The bar is a third of the cell time limit (30 s) for a whole solution, so that a correct
solution passes with room to spare on a slow student laptop or a busy grading machine.
``--cells N`` also lists each lab's N slowest cells, to show where a lab's time goes.

usage: python bench/bench_labs.py [LAB ...] [--repeat K] [--cells N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from mlcycle_ref import labs

LIMIT_SECONDS = labs.CELL_TIMEOUT / 3
BASELINE_SOURCE = "import matplotlib.pyplot, pandas, sklearn, xgboost, lightgbm\nimport mlcycle_ref"


def baseline_notebook(folder: Path) -> Path:
    """A one-task notebook that pays the fixed cost of every lab: kernel start and imports."""
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                         "grade_id": "imports", "schema_version": 3, "task": False}}
    nb = new_notebook(cells=[new_code_cell(BASELINE_SOURCE, metadata=meta)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    path = folder / "baseline.ipynb"
    nbformat.write(nb, path)
    return path


def best_seconds(notebook: Path, repeat: int) -> tuple[float, bool]:
    """Fastest of ``repeat`` self-check runs, and whether every visible test passed."""
    reports = [labs.check(notebook) for _ in range(repeat)]
    return min(report.seconds for report in reports), all(
        report.all_visible_passed for report in reports)


def slowest_cells(notebook: Path, count: int) -> list[tuple[float, str]]:
    """The ``count`` slowest code cells of one run of ``notebook``: (seconds, grade id)."""
    from datetime import datetime

    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(nb, timeout=600, kernel_name=labs.KERNEL, record_timing=True,
                       resources={"metadata": {"path": folder}}).execute()
    timed = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "shell.execute_reply" in stamps:
            start, end = (datetime.fromisoformat(stamps[key].replace("Z", "+00:00"))
                          for key in ("iopub.execute_input", "shell.execute_reply"))
            name = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell #{index}")
            timed.append(((end - start).total_seconds(), name))
    return sorted(timed, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", metavar="LAB", help="labs to time (default: all)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per notebook (best counts)")
    parser.add_argument("--cells", type=int, default=0, metavar="N",
                        help="also list each lab's N slowest cells (one more run per lab)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        base, _ = best_seconds(baseline_notebook(Path(scratch)), args.repeat)
    print(f"baseline (kernel start + imports): {base:6.1f} s")
    print(f"{'lab':<20} {'seconds':>8} {'x baseline':>11}  visible tests")
    slow = []
    for lab in labs.resolve(args.labs):
        seconds, passed = best_seconds(labs.SOLUTIONS / lab / f"{lab}.ipynb", args.repeat)
        print(f"{lab:<20} {seconds:8.1f} {seconds / base:11.2f}  "
              f"{'all passed' if passed else 'FAILURES'}")
        for cell_seconds, name in slowest_cells(labs.SOLUTIONS / lab / f"{lab}.ipynb",
                                                args.cells) if args.cells else ():
            print(f"    {cell_seconds:6.1f} s  {name}")
        if seconds > LIMIT_SECONDS or not passed:
            slow.append(lab)
    if slow:
        print(f"over {LIMIT_SECONDS:g} s (a third of the {labs.CELL_TIMEOUT} s cell limit) or "
              f"failing: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
