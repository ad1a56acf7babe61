"""The ``mlcycle labs`` commands: release (instructors), get and check (students)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlcycle_ref import labs


def _release_command(args) -> int:
    from mlcycle_ref.labs.release import release

    for path in release(args.labs, source=args.source, destination=args.output):
        print(f"released {path}")
    return 0


def _get_command(args) -> int:
    from mlcycle_ref.labs.bundle import get

    notebooks = get(args.folder, args.labs, overwrite=args.overwrite, site=args.site)
    for path in notebooks:
        print(f"copied {path}")
    print(f"Open them with: jupyter lab {args.folder}")
    return 0


def _setup_command(args) -> int:
    from mlcycle_ref.labs.jupyter import student_setup

    path = student_setup()
    print(f"nbgrader's instructor tools (Formgrader, Course List, Create Assignment) are off in "
          f"your JupyterLab ({path}); the Validate button stays.")
    return 0


def _check_command(args) -> int:
    from mlcycle_ref.labs.selfcheck import check

    print(f"Running {args.notebook} from a clean kernel, as the grader will...", file=sys.stderr)
    report = check(args.notebook, timeout=args.timeout, sandbox=args.sandbox)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0 if report.all_visible_passed else 1


def register(subparsers) -> None:
    """Add ``labs release``, ``labs get FOLDER`` and ``labs check NOTEBOOK`` to a command line.

    ``subparsers`` is what ``ArgumentParser.add_subparsers`` returned for ``mlcycle``.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="mlcycle")
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["labs", "check", "lab.ipynb", "--json"]).json
    True
    >>> parser.parse_args(["labs", "get", "my-labs", "lab01"]).labs
    ['lab01']
    """
    group = subparsers.add_parser("labs", help="get the graded labs, self-check one, or release "
                                  "them (instructors)")
    commands = group.add_subparsers(dest="labs_command", metavar="COMMAND", required=True)

    getting = commands.add_parser(
        "get", help="copy the released lab notebooks (no solutions) into a folder of yours")
    getting.add_argument("folder", type=Path, help="where to put the labs (created if needed)")
    getting.add_argument("labs", nargs="*", metavar="LAB",
                         help="lab names or prefixes such as lab01 (default: every lab)")
    getting.add_argument("--overwrite", action="store_true",
                         help="replace lab folders that already exist (your work in them is lost)")
    getting.add_argument("--site", metavar="URL",
                         help="address of the published book: the labs' links to its chapters "
                         "point there (your instructor gives it)")
    getting.set_defaults(handler=_get_command)

    setting_up = commands.add_parser(
        "setup-jupyter", help="turn off nbgrader's instructor tools in your JupyterLab")
    setting_up.set_defaults(handler=_setup_command)

    checking = commands.add_parser(
        "check", help="grade a lab notebook on its visible tests, exactly as the grader will")
    checking.add_argument("notebook", type=Path, help="the lab notebook (.ipynb) to check")
    checking.add_argument("--json", action="store_true", help="print the report as JSON")
    checking.add_argument("--timeout", type=float, default=labs.CELL_TIMEOUT,
                          help="seconds a cell may run (default: %(default)s)")
    checking.add_argument("--sandbox", action="store_true",
                          help="run it in the grader's bubblewrap sandbox (no network, no view "
                               "of your files)")
    checking.set_defaults(handler=_check_command)

    releasing = commands.add_parser(
        "release", help="instructors: generate the student notebooks from the nbgrader sources")
    releasing.add_argument("labs", nargs="*", metavar="LAB",
                           help="lab names or prefixes such as lab01 (default: every lab)")
    releasing.add_argument("--source", type=Path, default=labs.SOLUTIONS,
                           help="folder of nbgrader source labs (default: %(default)s)")
    releasing.add_argument("--output", type=Path, default=labs.ROOT / "labs",
                           help="folder for the student versions (default: %(default)s)")
    releasing.set_defaults(handler=_release_command)
