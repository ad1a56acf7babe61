"""Tamper resistance: a submission rebuilt on the lab's own cells, and a guard for the tests."""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import json
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from mlcycle_ref import labs
from mlcycle_ref.course.cells import grade_id_of, is_test, nbgrader_metadata
from mlcycle_ref.course.folder import Course, CourseError


def graded_reference(course: Course, lab: str) -> dict:
    """What grading a submission of ``lab`` needs from the instructor, as plain data.

    ``cells`` lists the lab's nbgrader cells in order, each as the cell to grade with (locked
    cells with their full source from the gradebook, hidden tests included) and the source the
    students were given. ``imports`` holds the import statements of the locked cells that are
    not tests, ``files`` any other files of the lab's source folder. ``course`` is the
    course whose gradebook and ``release/`` folder hold the lab; a lab never recorded there
    (``mlcycle course init`` records them) is refused:

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> graded_reference(Course(root, root / "source", "sqlite://"), "lab01_exploration")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlcycle_ref.course.folder.CourseError: .../lab01_exploration.ipynb: missing; is ...
    """
    from nbgrader.api import MissingEntry

    release = course.root / "release" / lab / f"{lab}.ipynb"
    if not release.is_file():
        raise CourseError(f"{release}: missing; is {lab} recorded in this course? "
                          "(`mlcycle course init` records every lab)")
    given = nbformat.read(release, as_version=4)
    with course.gradebook() as gradebook:
        try:
            stored = {cell.name: (cell.source, cell.checksum)
                      for cell in gradebook.find_notebook(lab, lab).source_cells}
        except MissingEntry as error:
            raise CourseError(f"{lab} is not in the gradebook {course.db_url}") from error
    return reference_from(given, lab, stored=stored, files=lab_files(course.source / lab))


def lab_files(folder) -> dict[str, bytes]:
    """The files of a lab's ``folder`` other than notebooks, by relative path: its data.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "lab.ipynb").write_text("{}")
    >>> (folder / "data").mkdir()
    >>> _ = (folder / "data" / "ages.csv").write_text("age\\n31\\n")
    >>> lab_files(folder)
    {'data/ages.csv': b'age\\n31\\n'}
    """
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in
            path.parts}


def reference_from(given, lab: str, *, stored: dict | None = None, files: dict | None = None):
    """The reference :func:`restore` rebuilds submissions on, from the notebook students got.

    ``stored`` maps grade ids to (full source, checksum) from the gradebook: locked cells then
    grade with their full source, hidden tests included. Without it (the self-check, which has
    only the release) the cells are graded as given. ``given`` is the released notebook,
    ``lab`` the lab's name and ``files`` the lab's other files (see :func:`lab_files`).

    >>> lab = labs.RELEASED / "lab01_exploration" / "lab01_exploration.ipynb"
    >>> reference = reference_from(nbformat.read(lab, as_version=4), "lab01_exploration")
    >>> reference["lab"], reference["imports"].splitlines()[-1]
    ('lab01_exploration', 'from mlcycle_ref import checks, data, explore')
    >>> sorted(reference["cells"][0])
    ['cell', 'given']
    """
    stored = stored or {}
    cells, imports = [], []
    for cell in given.cells:
        grade_id = grade_id_of(cell)
        if grade_id is None:
            continue
        graded = nbformat.from_dict(json.loads(json.dumps(cell)))
        if graded.cell_type == "code":
            graded.outputs, graded.execution_count = [], None
        if grade_id in stored:
            source, checksum = stored[grade_id]
            graded.metadata.nbgrader["checksum"] = checksum
            if nbgrader_metadata(graded).get("locked"):
                graded.source = source
        if (graded.cell_type == "code" and nbgrader_metadata(graded).get("locked")
                and not is_test(graded)):
            imports += _import_lines(graded.source)
        cells.append({"cell": dict(graded), "given": cell.source})
    return {"lab": lab, "cells": cells, "kernelspec": dict(given.metadata.get("kernelspec", {})),
            "imports": "\n".join(imports), "files": files or {}}


def _import_lines(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [ast.unparse(node) for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)]


def _plain(cell):
    """A fresh cell with the same type and source, without outputs or metadata."""
    make = {"code": new_code_cell, "markdown": new_markdown_cell}.get(cell.get("cell_type"),
                                                                       new_raw_cell)
    return make(cell.get("source", ""))


def restore(submitted, reference: dict):
    """Rebuild the ``submitted`` notebook on the lab's own skeleton; return the notebook and
    notes on changes.

    Every nbgrader cell of the lab comes back in the lab's order with the lab's metadata.
    Locked cells and tests come from ``reference`` (see :func:`graded_reference`); answer cells
    keep the student's source, or the original stub when they were deleted. Cells the student
    added stay after the lab cell they followed; an earlier copy of an answer cell runs as an
    ordinary cell (the last copy is the answer, as in nbgrader); copies of locked cells go.

    >>> meta = lambda grade_id, **flags: {"nbgrader": {"grade_id": grade_id, "grade": False,
    ...     "solution": False, "locked": False, "schema_version": 3, **flags}}
    >>> answer = new_code_cell("x = ...", metadata=meta("answer", solution=True))
    >>> test = new_code_cell("assert x == 2", metadata=meta("test", grade=True, locked=True,
    ...                                                       points=1))
    >>> reference = {"cells": [{"cell": answer, "given": answer.source},
    ...                        {"cell": test, "given": test.source}], "kernelspec": {}}
    >>> student = new_notebook(cells=[
    ...     new_code_cell("assert True", metadata=meta("test", grade=True, locked=True)),
    ...     new_code_cell("x = 2", metadata=meta("answer", solution=True))])
    >>> nb, notes = restore(student, reference)
    >>> [cell.source for cell in nb.cells]
    ['x = 2', 'assert x == 2']
    >>> notes
    ['locked cell test was edited: the original was put back', \
'the lab cells were out of order: they were put back in order']
    """
    lab_cells = [(nbformat.from_dict(entry["cell"]), entry["given"])
                 for entry in reference["cells"]]
    known = {grade_id_of(cell): (cell, given) for cell, given in lab_cells}
    chosen = {}
    for index, cell in enumerate(submitted.cells):
        if grade_id_of(cell) in known:
            chosen[grade_id_of(cell)] = index
    notes, extras, order, anchor = [], {}, [], None
    for index, cell in enumerate(submitted.cells):
        grade_id = grade_id_of(cell)
        if grade_id in known and chosen[grade_id] == index:
            anchor = grade_id
            order.append(grade_id)
            continue
        if grade_id in known:
            if nbgrader_metadata(known[grade_id][0]).get("locked"):
                notes.append(f"a copy of locked cell {grade_id} was dropped")
                continue
            notes.append(f"an earlier copy of answer cell {grade_id} ran as an ordinary cell")
        elif grade_id is not None:
            notes.append(f"cell {grade_id} is not part of the lab: it ran as an ordinary cell")
        extras.setdefault(anchor, []).append(_plain(cell))
    cells = list(extras.get(None, []))
    for lab_cell, given in lab_cells:
        grade_id = grade_id_of(lab_cell)
        cell = nbformat.from_dict(json.loads(json.dumps(lab_cell)))
        if grade_id not in chosen and nbgrader_metadata(lab_cell).get("solution"):
            notes.append(f"answer cell {grade_id} was missing or had lost its nbgrader "
                         "metadata: graded as not answered")
        elif grade_id not in chosen:
            notes.append(f"cell {grade_id} was missing: it was put back from the lab")
        elif nbgrader_metadata(lab_cell).get("locked"):
            theirs = submitted.cells[chosen[grade_id]]
            if theirs.get("source", "").strip() != given.strip():
                notes.append(f"locked cell {grade_id} was edited: the original was put back")
        else:
            cell.source = submitted.cells[chosen[grade_id]].get("source", "")
        cells.append(cell)
        cells += extras.get(grade_id, [])
    if order != [grade_id for grade_id in known if grade_id in chosen]:
        notes.append("the lab cells were out of order: they were put back in order")
    nb = new_notebook(cells=cells, metadata={"kernelspec": reference.get("kernelspec") or {
        "name": labs.KERNEL, "display_name": "Python 3", "language": "python"}})
    return nb, notes


class GradingGuard:
    """Runs in the kernel that grades a submission, before any student code.

    It lowers the kernel's memory limit, then keeps the originals of the functions tests
    compare with - math, NumPy and pandas comparisons, the builtins, every function of
    ``mlcycle_ref.checks`` - and the names the lab's locked cells import (``np``,
    ``checks``, ...). Each test cell starts with ``_mlcycle_guard.restore(globals())``, which
    puts all of them back: a submission that replaced ``numpy.isclose``, patched
    ``checks.expect_close`` (or its code), rebound ``checks`` or shadowed ``all`` with a
    function of its own is tested with the originals. Deleting the guard makes every test
    fail. It stops the common cheats, not code written to defeat this class. ``imports`` is
    the source of the lab's import lines; ``memory_mb`` caps the kernel's data memory in MiB
    (None: no cap).

    >>> import numpy
    >>> guard = GradingGuard("import numpy as np")
    >>> namespace = {"np": None, "all": lambda values: True}
    >>> numpy.isclose = lambda *args, **kwargs: True
    >>> guard.restore(namespace)
    >>> bool(numpy.isclose(1.0, 2.0)), namespace["np"] is numpy, "all" in namespace
    (False, True, False)
    """

    PROTECTED = {
        "math": ("isclose", "isnan", "isfinite"),
        "numpy": ("isclose", "allclose", "array_equal", "asarray", "isnan", "isfinite"),
        "numpy.testing": None,  # None: every public function of the module
        "pandas": ("isna", "isnull", "notna"),
        "pandas.testing": None,
        "mlcycle_ref.checks": (),  # (): every function, private ones included
    }

    def __init__(self, imports: str = "", memory_mb: int | None = None):
        if memory_mb:
            import resource

            limit = int(memory_mb) * 2**20
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        self._names: dict = {}
        exec(imports, self._names)  # the lab's own import lines, run before any student code
        self._names.pop("__builtins__", None)
        self._modules = {}
        for name in self.PROTECTED:
            with contextlib.suppress(ImportError):  # a lab without pandas has nothing to keep
                self._modules[name] = importlib.import_module(name)
        self._saved = []
        for name, module in self._modules.items():
            wanted = self.PROTECTED[name]
            for attribute, value in vars(module).items():
                if callable(value) and (attribute in (wanted or ()) or (
                        wanted is None and not attribute.startswith("_")) or (
                        wanted == () and getattr(value, "__module__", None) == name)):
                    self._saved.append((module, attribute, value, self._code(value)))
        self._builtins = {name: value for name, value in vars(builtins).items()
                          if callable(value) and not name.startswith("_")}

    @staticmethod
    def _code(function):
        code = getattr(function, "__code__", None)
        if code is None:
            return None
        return code, function.__defaults__, function.__kwdefaults__

    def restore(self, namespace: dict) -> None:
        """Put every kept original back, in the modules and in ``namespace``."""
        sys.modules.update(self._modules)
        for module, attribute, value, code in self._saved:
            setattr(module, attribute, value)
            if code is not None:
                value.__code__, value.__defaults__, value.__kwdefaults__ = code
        vars(builtins).update(self._builtins)
        for name, original in self._builtins.items():
            if name in namespace and callable(namespace[name]) and namespace[name] is not original:
                del namespace[name]
        namespace.update(self._names)


# --------------------------------------------------------------------------- grading one notebook
