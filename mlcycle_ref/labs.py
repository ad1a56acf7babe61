"""The graded labs: release the student notebooks, and let a student check one before handing in.

Each lab is an nbgrader source notebook, ``solutions/<lab>/<lab>.ipynb``, holding the solutions
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` and hidden tests between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``. Grading is nbgrader's; this module adds
two things around it:

* :func:`release` runs ``nbgrader generate_assignment`` in a throw-away course directory and
  copies the student versions to ``labs/<lab>/``; the gradebook it needs lives and dies there.
* :func:`check` is the student's self-check: it runs a notebook from a clean kernel, as the
  grader does, and reports every graded cell. Visible test cells pass or fail; hidden tests and
  written answers are listed with their points but only the instructor's grading decides them.

Graded cells are read from their nbgrader metadata: a test cell has ``grade`` set and
``solution`` unset, a written answer has both set; a test cell whose code all sits between the
hidden-test markers is a hidden test.

>>> available()[:3]
['lab01_exploration', 'lab02_features', 'lab03_training']
>>> resolve(["lab02"])
['lab02_features']
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
RELEASED = ROOT / "labs"
#: Seconds a cell may run, as in nbgrader's ``Execute.timeout``.
CELL_TIMEOUT = 30
#: The Jupyter kernel the labs are written for and graded with.
KERNEL = "python3"
VISIBLE, HIDDEN, WRITTEN = "visible", "hidden", "written"
PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not checked"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MAX_MESSAGE = 300


class LabError(ValueError):
    """A lab or notebook that cannot be released or checked; the message says which and why."""


# --------------------------------------------------------------------------- finding labs


def available(source: Path = SOLUTIONS) -> list[str]:
    """Names of the labs in ``source``: folders ``<lab>`` holding ``<lab>.ipynb``, sorted."""
    source = Path(source)
    if not source.is_dir():
        raise LabError(f"{source}: no such folder of lab sources")
    return sorted(folder.name for folder in source.iterdir()
                  if (folder / f"{folder.name}.ipynb").is_file())


def resolve(labs=None, source: Path = SOLUTIONS) -> list[str]:
    """Full lab names for ``labs`` (all when empty); a unique prefix such as "lab01" is enough."""
    names = available(source)
    if not labs:
        return names
    chosen = []
    for wanted in labs:
        matches = [name for name in names if name == wanted] or [
            name for name in names if name.startswith(wanted)]
        if len(matches) != 1:
            problem = "matches several labs" if matches else "is not a lab"
            raise LabError(f"{wanted!r} {problem} in {source}; labs: {', '.join(names)}")
        chosen.append(matches[0])
    return chosen


# --------------------------------------------------------------------------- release


def course_config(course_dir: Path, *, db_url: str | None = None):
    """nbgrader configuration for a course directory; the gradebook defaults to a file inside it.

    >>> config = course_config(Path("/tmp/course"))
    >>> config.CourseDirectory.db_url
    'sqlite:////tmp/course/gradebook.db'
    """
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.db_url = db_url or f"sqlite:///{Path(course_dir) / 'gradebook.db'}"
    config.Execute.timeout = CELL_TIMEOUT
    return config


@contextlib.contextmanager
def venv_on_path():
    """Put this Python's ``bin`` folder first on PATH: nbgrader runs ``alembic`` from PATH."""
    original = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), original])
    try:
        yield
    finally:
        os.environ["PATH"] = original


def release(labs=None, *, source: Path = SOLUTIONS, destination: Path = RELEASED) -> list[Path]:
    """Generate the student version of each lab into ``destination/<lab>/``; return the notebooks.

    A lab's folder in ``destination`` is replaced as a whole. The nbgrader course directory and
    its gradebook are temporary, so nothing but the released folders is written.

    >>> out = Path(tempfile.mkdtemp())
    >>> [path.name for path in release(["lab01"], destination=out)]
    ['lab01_exploration.ipynb']
    >>> "BEGIN SOLUTION" in (out / "lab01_exploration" / "lab01_exploration.ipynb").read_text()
    False
    """
    from nbgrader.apps import NbGraderAPI

    source, destination = Path(source), Path(destination)
    names = resolve(labs, source)
    written = []
    with tempfile.TemporaryDirectory(prefix="mlcycle-release-") as scratch, venv_on_path():
        course = Path(scratch)
        for name in names:
            shutil.copytree(source / name, course / "source" / name)
        api = NbGraderAPI(config=course_config(course))
        for name in names:
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise LabError(f"nbgrader could not release {name}:\n"
                               f"{result.get('error') or result.get('log', '')}")
            target = destination / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(course / "release" / name, target)
            written.append(target / f"{name}.ipynb")
    return written


# --------------------------------------------------------------------------- self-check


@dataclass(frozen=True)
class TaskResult:
    """One graded cell: its nbgrader id, kind (visible, hidden, written), points and outcome."""

    grade_id: str
    kind: str
    points: float
    status: str
    message: str = ""


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check` found: one :class:`TaskResult` per graded cell, in notebook order."""

    notebook: str
    tasks: tuple[TaskResult, ...]
    seconds: float
    problem: str = ""  # set when the notebook could not be run to the end

    def _points(self, kind: str, status: str | None = None) -> float:
        return sum((task.points for task in self.tasks
                    if task.kind == kind and status in (None, task.status)), 0.0)

    @property
    def visible_score(self) -> float:
        return self._points(VISIBLE, PASSED)

    @property
    def visible_total(self) -> float:
        return self._points(VISIBLE)

    @property
    def all_visible_passed(self) -> bool:
        return not self.problem and self.visible_score == self.visible_total

    def as_dict(self) -> dict:
        """The report as plain data, for ``--json``."""
        return {
            "notebook": self.notebook,
            "seconds": round(self.seconds, 2),
            "problem": self.problem,
            "visible_score": self.visible_score,
            "visible_total": self.visible_total,
            "hidden_total": self._points(HIDDEN),
            "written_total": self._points(WRITTEN),
            "tasks": [asdict(task) for task in self.tasks],
        }

    def render(self) -> str:
        """The report as text for the terminal."""
        width = max([len(task.grade_id) for task in self.tasks] + [4])
        lines = [f"Self-check of {self.notebook} (ran in {self.seconds:.1f} s)", ""]
        lines.append(f"  {'task':<{width}}  points  result")
        for task in self.tasks:
            result = {
                PASSED: "passed",
                FAILED: f"FAILED: {task.message}",
                NOT_CHECKED: "hidden test, run when your instructor grades"
                if task.kind == HIDDEN else "written answer, marked by your instructor",
            }[task.status]
            lines.append(f"  {task.grade_id:<{width}}  {task.points:>6g}  {result}")
        lines.append("")
        if self.problem:
            lines.append(f"Problem: {self.problem}")
        lines.append(f"Visible tests: {self.visible_score:g} of {self.visible_total:g} points.")
        lines += textwrap.wrap(
            f"Not included: hidden tests ({self._points(HIDDEN):g} points) check the same tasks "
            "on data you have not seen and run only when your instructor grades; written "
            f"answers ({self._points(WRITTEN):g} points) are marked by hand.", width=90)
        return "\n".join(lines)


def without_hidden_tests(source: str) -> str:
    """Return a test cell's source with its hidden-test blocks removed.

    >>> cell = ["check(a)", BEGIN_HIDDEN, "check(b)", END_HIDDEN]
    >>> without_hidden_tests(chr(10).join(cell))
    'check(a)'
    """
    kept, hidden = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def cell_kind(cell) -> str | None:
    """The kind of a graded cell - "visible", "hidden" or "written" - or None if not graded.

    >>> from nbformat.v4 import new_code_cell
    >>> meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
    >>> cell_kind(new_code_cell("assert f(1) == 2", metadata=meta))
    'visible'
    >>> cell_kind(new_code_cell("### BEGIN HIDDEN TESTS\\nassert f(3) == 4\\n### END HIDDEN TESTS",
    ...                         metadata=meta))
    'hidden'
    """
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not meta.get("grade"):
        return None
    if meta.get("solution") or meta.get("task") or cell.get("cell_type") != "code":
        return WRITTEN
    code = [line for line in without_hidden_tests(cell.get("source", "")).splitlines()
            if line.strip() and not line.strip().startswith("#")]
    return VISIBLE if code else HIDDEN


def _earlier_failure(nb, errors: dict, index: int) -> str:
    """Describe the failure before ``index`` that most likely caused a NameError, or return "".

    A missing name usually comes from a chain: a stub raised, so the cell meant to define a
    variable failed with a NameError of its own. The last failure that is not a NameError is
    where the chain starts.
    """
    before = [earlier for earlier in errors if earlier < index]
    if not before:
        return ""
    causes = [earlier for earlier in before if errors[earlier].get("ename") != "NameError"]
    culprit = (causes or before)[-1]
    cell = nb.cells[culprit]
    name = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id") or culprit
    return f"cell {name!r} failed earlier with {errors[culprit].get('ename', 'an error')}"


def failure_message(error: dict, earlier: str = "") -> str:
    """The first thing a student should read about a failed cell, from its error output.

    >>> failure_message({"ename": "NotImplementedError", "evalue": ""})
    'not attempted yet: an answer cell still raises NotImplementedError'
    """
    name, value = error.get("ename", "Error"), str(error.get("evalue", "")).strip()
    if name == "NotImplementedError":
        text = "not attempted yet: an answer cell still raises NotImplementedError"
    elif name == "NameError":
        text = f"{value}: " + (f"{earlier}; fix that first" if earlier else
                               "run the cell that defines it, and make sure it runs without error")
    elif name == "AssertionError":
        text = value or "a check failed (the assert has no message)"
    else:
        text = f"{name}: {value}" if value else name
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _read(notebook: Path):
    if not notebook.is_file():
        raise LabError(f"{notebook}: no such notebook")
    try:
        return nbformat.read(notebook, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise LabError(f"{notebook}: not a readable notebook ({error})") from error


def check(notebook, *, timeout: float = CELL_TIMEOUT) -> CheckReport:
    """Run ``notebook`` from a clean kernel and report each graded cell, as a student sees it.

    Cells run in the notebook's folder, in the ``python3`` kernel whatever the notebook's
    metadata says (nbgrader also grades with the kernel of the source notebook); each cell may
    take ``timeout`` seconds before it is interrupted. The notebook file is not changed.

    >>> report = check(SOLUTIONS / "lab01_exploration" / "lab01_exploration.ipynb")
    >>> report.all_visible_passed, report.visible_score == report.visible_total
    (True, True)
    >>> print(report.render().splitlines()[3])
      missing-shares-tests         2  passed
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    notebook = Path(notebook)
    nb = _read(notebook)
    graded = {index: kind for index, cell in enumerate(nb.cells)
              if (kind := cell_kind(cell)) is not None}
    if not graded:
        raise LabError(f"{notebook}: no graded cells (no nbgrader metadata); is this a lab?")
    errors, ran = {}, set()

    def record(cell, cell_index, execute_reply):
        ran.add(cell_index)
        if execute_reply["content"].get("status") == "error":
            errors[cell_index] = execute_reply["content"]

    client = NotebookClient(
        nb, timeout=timeout, kernel_name=KERNEL, allow_errors=True, interrupt_on_timeout=True,
        on_cell_executed=record,
        error_on_timeout={"ename": "TimeoutError", "evalue": f"the cell ran for more than "
                          f"{timeout:g} s and was stopped", "traceback": []},
        resources={"metadata": {"path": str(notebook.resolve().parent)}},
    )
    problem = ""
    start = time.perf_counter()
    try:
        client.execute()
    except DeadKernelError:
        problem = "the Python kernel died while running the notebook; later cells did not run"
    seconds = time.perf_counter() - start

    tasks = []
    for index, kind in graded.items():
        meta = nb.cells[index].metadata["nbgrader"]
        points = float(meta.get("points", 0))
        if kind != VISIBLE:
            tasks.append(TaskResult(meta["grade_id"], kind, points, NOT_CHECKED))
        elif index in errors:
            message = failure_message(errors[index], _earlier_failure(nb, errors, index))
            tasks.append(TaskResult(meta["grade_id"], kind, points, FAILED, message))
        elif index not in ran:
            tasks.append(TaskResult(meta["grade_id"], kind, points, FAILED,
                                    "did not run: the notebook stopped before this cell"))
        else:
            tasks.append(TaskResult(meta["grade_id"], kind, points, PASSED))
    return CheckReport(str(notebook), tuple(tasks), seconds, problem)


# --------------------------------------------------------------------------- command line


def _release_command(args) -> int:
    try:
        for path in release(args.labs, source=args.source, destination=args.output):
            print(f"released {path}")
    except LabError as error:
        print(f"mlcycle: error: {error}", file=sys.stderr)
        return 2
    return 0


def _check_command(args) -> int:
    print(f"Running {args.notebook} from a clean kernel...", file=sys.stderr)
    try:
        report = check(args.notebook, timeout=args.timeout)
    except LabError as error:
        print(f"mlcycle: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0 if report.all_visible_passed else 1


def register(subparsers) -> None:
    """Add ``labs release [LAB ...]`` and ``labs check NOTEBOOK [--json]`` to a command line.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="mlcycle")
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["labs", "check", "lab.ipynb", "--json"]).json
    True
    """
    labs = subparsers.add_parser("labs", help="release the graded labs or self-check a lab")
    commands = labs.add_subparsers(dest="labs_command", metavar="COMMAND", required=True)

    releasing = commands.add_parser(
        "release", help="generate the student notebooks in labs/ from the nbgrader sources")
    releasing.add_argument("labs", nargs="*", metavar="LAB",
                           help="lab names or prefixes such as lab01 (default: every lab)")
    releasing.add_argument("--source", type=Path, default=SOLUTIONS,
                           help="folder of nbgrader source labs (default: %(default)s)")
    releasing.add_argument("--output", type=Path, default=RELEASED,
                           help="folder for the student versions (default: %(default)s)")
    releasing.set_defaults(handler=_release_command)

    checking = commands.add_parser(
        "check", help="run a lab notebook and report its visible tests, as the grader would")
    checking.add_argument("notebook", type=Path, help="the lab notebook (.ipynb) to check")
    checking.add_argument("--json", action="store_true", help="print the report as JSON")
    checking.add_argument("--timeout", type=float, default=CELL_TIMEOUT,
                          help="seconds a cell may run (default: %(default)s)")
    checking.set_defaults(handler=_check_command)
