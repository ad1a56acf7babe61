"""The graded labs: release them, hand them to students, and let a student check one.

Each lab is an nbgrader source notebook, ``solutions/<lab>/<lab>.ipynb``, holding the solutions
between nbgrader's solution markers and the hidden tests between its hidden-test markers
(:data:`BEGIN_HIDDEN`, :data:`END_HIDDEN`). Grading is nbgrader's, driven by
:mod:`mlcycle_ref.course`; this package holds what surrounds it, one module per step:

* ``release``: :func:`release` runs ``nbgrader generate_assignment`` in a throw-away course
  directory and writes the student versions to ``labs/<lab>/``.
* ``bundle``: :func:`get` copies the released labs (shipped with the package) to a folder of the
  student's, and :func:`write_zip` packs them for the website's download.
* ``selfcheck``: :func:`check` grades a notebook exactly as the grader does - restored from the
  release, run in a fresh kernel - on the visible tests, and explains each failure.
* ``cli``: the ``mlcycle labs`` commands (:func:`register`).

This module is the vocabulary they share: finding labs and telling graded cells apart. A test
cell has ``grade`` set and ``solution`` unset, a written answer has both set; a test cell whose
code all sits between the hidden-test markers is a hidden test.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from mlcycle_ref import paths
from mlcycle_ref.errors import MlcycleError

ROOT = paths.REPOSITORY
#: The instructor's lab sources of the repository checkout (absent from an installed package).
SOLUTIONS = ROOT / "solutions"
#: The released student labs: package data in an installed wheel, ``labs/`` in a checkout.
RELEASED = paths.course_files("labs")
#: Seconds a cell may run, as in nbgrader's ``Execute.timeout``.
CELL_TIMEOUT = 30
#: The Jupyter kernel the labs are written for and graded with.
KERNEL = "python3"
VISIBLE, HIDDEN, WRITTEN = "visible", "hidden", "written"
# Built from parts, so that this package's documentation never holds the markers' text.
BEGIN_HIDDEN, END_HIDDEN = (f"### {edge} HIDDEN TESTS" for edge in ("BEGIN", "END"))
MAX_MESSAGE = 300


class LabError(MlcycleError, ValueError):
    """A lab or notebook that cannot be released or checked; the message says which and why.

    >>> resolve(["lab99"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlcycle_ref.labs.LabError: 'lab99' is not a lab in .../solutions; labs: lab01_exploration, ...
    """


def available(source: Path = SOLUTIONS) -> list[str]:
    """Names of the labs in ``source``: folders ``<lab>`` holding ``<lab>.ipynb``, sorted.

    ``source`` defaults to the repository's ``solutions/``, the instructor's lab sources.

    >>> available()[:3]
    ['lab01_exploration', 'lab02_features', 'lab03_training']
    """
    source = Path(source)
    if not source.is_dir():
        hint = ("; name the instructor's folder of nbgrader source labs with --source (the "
                "course repository's solutions/: an installed package carries no solutions)"
                if source == SOLUTIONS else "")
        raise LabError(f"{source}: no such folder of lab sources{hint}")
    return sorted(folder.name for folder in source.iterdir()
                  if (folder / f"{folder.name}.ipynb").is_file())


def resolve(labs=None, source: Path = SOLUTIONS) -> list[str]:
    """Full lab names for ``labs`` (all when empty); a unique prefix such as "lab01" is enough.

    The names are looked up in ``source``, as for :func:`available`.

    >>> resolve(["lab02", "lab01_exploration"])
    ['lab02_features', 'lab01_exploration']
    """
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


def course_config(course_dir: Path, *, db_url: str | None = None):
    """nbgrader configuration for a course directory; the gradebook defaults to a file inside it.

    ``course_dir`` is the nbgrader course root (``source/``, ``submitted/``, ...); ``db_url``
    names another gradebook database.

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
    """Put this Python's ``bin`` folder first on PATH: nbgrader runs ``alembic`` from PATH.

    >>> with venv_on_path():
    ...     os.environ["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    True
    """
    original = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), original])
    try:
        yield
    finally:
        os.environ["PATH"] = original


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
    >>> cell_kind(new_code_cell(f"{BEGIN_HIDDEN}\\nassert f(3) == 4\\n{END_HIDDEN}", metadata=meta))
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


def failure_message(error: dict) -> str:
    """The first thing a student should read about a failed cell, from its error output.

    >>> failure_message({"ename": "NotImplementedError", "evalue": ""})
    'not attempted yet: an answer cell still raises NotImplementedError'
    >>> failure_message({"ename": "KeyError", "evalue": "'roc_auc'"})
    "KeyError: 'roc_auc'"
    """
    name, value = error.get("ename", "Error"), str(error.get("evalue", "")).strip()
    if name == "NotImplementedError":
        text = "not attempted yet: an answer cell still raises NotImplementedError"
    elif name == "NameError":
        text = f"{value}: run the cell that defines it, and make sure it runs without error"
    elif name == "AssertionError":
        text = value or "a check failed (the assert has no message)"
    else:
        text = f"{name}: {value}" if value else name
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


# The steps are imported when first used: a grading kernel that imports ``labs.secret`` should
# not pay for nbformat and nbgrader.
_STEPS = {
    "get": "bundle", "write_zip": "bundle", "register": "cli", "release": "release",
    "check": "selfcheck", "CheckReport": "selfcheck", "TaskResult": "selfcheck",
    "PASSED": "selfcheck", "FAILED": "selfcheck", "NOT_ATTEMPTED": "selfcheck",
    "NOT_CHECKED": "selfcheck", "BLOCKED": "selfcheck",
}


def __getattr__(name: str):
    if name in _STEPS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_STEPS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BEGIN_HIDDEN", "BLOCKED", "CELL_TIMEOUT", "END_HIDDEN", "FAILED", "HIDDEN", "KERNEL",
    "NOT_ATTEMPTED", "NOT_CHECKED", "PASSED", "RELEASED", "ROOT", "SOLUTIONS", "VISIBLE",
    "WRITTEN", "CheckReport", "LabError", "TaskResult", "available", "cell_kind", "check",
    "course_config", "failure_message", "get", "register", "release", "resolve",
    "venv_on_path", "without_hidden_tests", "write_zip",
]
