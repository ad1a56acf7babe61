"""The student's self-check: the grader's own code path, on the visible tests, explained.

:func:`check` hands the notebook to :func:`mlcycle_ref.course.execute.grade_submission`, the
function autograde runs for every submission, with the released lab as the reference: locked
and test cells are put back from the release (which holds the visible tests only), the
notebook runs in a fresh kernel in a scratch folder under the grader's limits, and nbgrader
scores each cell. The visible score is therefore the one grading will give.

What the self-check adds is the explanation (:func:`explain`): which cells were changed and
restored, which tasks were not attempted, and for an error that spreads - task 1 returns
nothing, so the cell making ``train`` fails, so every later test that needs ``train`` fails -
one root (the task, its function and line) with the tasks it blocked.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from mlcycle_ref import labs

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not checked"
NOT_ATTEMPTED, BLOCKED = "not attempted", "blocked"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)(?:, in (\w+))?")
_MISSING_NAME = re.compile(r"name '(\w+)' is not defined")


@dataclass(frozen=True)
class TaskResult:
    """One graded cell: its id, kind (visible, hidden, written), points, score and outcome.

    ``grade_id`` is the cell's nbgrader id; ``kind`` is ``labs.VISIBLE``, ``labs.HIDDEN``
    or ``labs.WRITTEN``; ``points`` what the cell is worth and ``score`` what it earned;
    ``status`` is one of ``PASSED``, ``FAILED``, ``NOT_ATTEMPTED``,
    ``BLOCKED`` and ``NOT_CHECKED``; ``message`` says why a task did not pass.

    >>> TaskResult("missing-shares-tests", labs.VISIBLE, 2, PASSED, score=2).status
    'passed'
    """

    grade_id: str
    kind: str
    points: float
    status: str
    message: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check` found: one :class:`TaskResult` per graded cell, in notebook order.

    ``notebook`` is the checked file; ``seconds`` how long the run took; ``problem`` is set
    when the notebook could not be run to the end (a cell over its time, a dead kernel);
    ``notes`` say which cells were changed and restored, ``causes`` which failures blocked
    later tasks.

    >>> report = CheckReport("lab01.ipynb", (
    ...     TaskResult("shares-tests", labs.VISIBLE, 2, PASSED, score=2),
    ...     TaskResult("counts-tests", labs.VISIBLE, 1, FAILED, "value of counts is not correct"),
    ...     TaskResult("counts-hidden", labs.HIDDEN, 2, NOT_CHECKED)), seconds=4.2)
    >>> report.visible_score, report.visible_total, report.all_visible_passed
    (2.0, 3.0, False)
    >>> report.as_dict()["hidden_total"]
    2.0
    >>> print(report.render())
    Self-check of lab01.ipynb (ran in 4.2 s)
    <BLANKLINE>
      task           points  result
      shares-tests        2  passed
      counts-tests        1  FAILED: value of counts is not correct
      counts-hidden       2  hidden test, run when your instructor grades
    <BLANKLINE>
    Visible tests: 2 of 3 points.
    Not included: hidden tests (2 points) check the same tasks on data you have not seen and
    run only when your instructor grades; written answers (0 points) are marked by hand.
    """

    notebook: str
    tasks: tuple[TaskResult, ...]
    seconds: float
    problem: str = ""  # set when the notebook could not be run to the end
    notes: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()

    def _points(self, kind: str) -> float:
        return sum((task.points for task in self.tasks if task.kind == kind), 0.0)

    @property
    def visible_score(self) -> float:
        return sum((task.score for task in self.tasks if task.kind == labs.VISIBLE), 0.0)

    @property
    def visible_total(self) -> float:
        return self._points(labs.VISIBLE)

    @property
    def all_visible_passed(self) -> bool:
        return not self.problem and self.visible_score == self.visible_total

    def as_dict(self) -> dict:
        """The report as plain data, for ``--json``."""
        return {
            "notebook": self.notebook, "seconds": round(self.seconds, 2),
            "problem": self.problem, "notes": list(self.notes), "causes": list(self.causes),
            "visible_score": self.visible_score, "visible_total": self.visible_total,
            "hidden_total": self._points(labs.HIDDEN),
            "written_total": self._points(labs.WRITTEN),
            "tasks": [asdict(task) for task in self.tasks],
        }

    def render(self) -> str:
        """The report as text for the terminal."""
        width = max([len(task.grade_id) for task in self.tasks] + [4])
        lines = [f"Self-check of {self.notebook} (ran in {self.seconds:.1f} s)", ""]
        if self.notes:
            lines.append("Restored before running, as the grader will:")
            lines += [f"  - {note}" for note in self.notes] + [""]
        if self.causes:
            lines.append("Fix these first:")
            for cause in self.causes:
                lines += textwrap.wrap(cause, width=90, initial_indent="  - ",
                                       subsequent_indent="    ")
            lines.append("")
        lines.append(f"  {'task':<{width}}  points  result")
        for task in self.tasks:
            result = {
                PASSED: "passed",
                FAILED: f"FAILED: {task.message}",
                NOT_ATTEMPTED: "not attempted yet",
                BLOCKED: f"not checked: {task.message}",
                NOT_CHECKED: "hidden test, run when your instructor grades"
                if task.kind == labs.HIDDEN else "written answer, marked by your instructor",
            }[task.status]
            lines.append(f"  {task.grade_id:<{width}}  {task.points:>6g}  {result}")
        lines.append("")
        if self.problem:
            lines.append(f"Problem: {self.problem}")
        lines.append(f"Visible tests: {self.visible_score:g} of {self.visible_total:g} points.")
        lines += textwrap.wrap(
            f"Not included: hidden tests ({self._points(labs.HIDDEN):g} points) check the same "
            "tasks on data you have not seen and run only when your instructor grades; written "
            f"answers ({self._points(labs.WRITTEN):g} points) are marked by hand.", width=90)
        return "\n".join(lines)


# --------------------------------------------------------------------------- the reference


def _read(notebook: Path):
    if not notebook.is_file():
        raise labs.LabError(f"{notebook}: no such notebook")
    try:
        return nbformat.read(notebook, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise labs.LabError(f"{notebook}: not a readable notebook ({error})") from error


def _grade_ids(nb) -> set[str]:
    return {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells} - {None}


def find_release(nb, notebook: Path, released: Path = labs.RELEASED) -> Path | None:
    """The released lab ``nb`` is a copy of: same file name, else most of the same cells.

    ``nb`` is the student's notebook as read, ``notebook`` its path (only the file name is
    used) and ``released`` the folder of released labs. None when no lab matches.

    >>> lab = labs.RELEASED / "lab03_training" / "lab03_training.ipynb"
    >>> find_release(nbformat.read(lab, as_version=4), Path("my copy.ipynb")) == lab
    True
    """
    candidates = {name: Path(released) / name / f"{name}.ipynb"
                  for name in labs.available(released)}
    if notebook.stem in candidates:
        return candidates[notebook.stem]
    ours, best, overlap = _grade_ids(nb), None, 0
    for path in candidates.values():
        shared = len(ours & _grade_ids(nbformat.read(path, as_version=4)))
        if shared > overlap:
            best, overlap = path, shared
    return best if overlap >= max(3, len(ours) // 2) else None


def _reference(given, lab: str, folder: Path | None) -> dict:
    """What :func:`grade_submission` restores from: the lab's graded cells as given out."""
    from mlcycle_ref.course.restore import lab_files, reference_from

    return reference_from(given, lab, files=lab_files(folder) if folder else {})


# --------------------------------------------------------------------------- checking


def check(notebook, *, timeout: float = labs.CELL_TIMEOUT,
          released: Path = labs.RELEASED, sandbox: bool = False) -> CheckReport:
    """Grade ``notebook`` as the grader will, on the visible tests, and explain the result.

    A copy of a released lab is restored from that release (locked and test cells put back,
    deleted cells added); any other notebook with nbgrader cells is run as it is. Cells run in
    a fresh ``python3`` kernel in a scratch folder holding the lab's files; each cell may take
    ``timeout`` seconds. The notebook file is not changed. It is the student's own code on
    their own machine, so it runs as they do; ``sandbox=True`` runs it in the grader's
    bubblewrap sandbox instead (no network, no view of their files, the grader's limits).

    >>> report = check(labs.SOLUTIONS / "lab01_exploration" / "lab01_exploration.ipynb")
    >>> report.all_visible_passed, report.visible_score
    (True, 9.0)
    >>> print(next(line for line in report.render().splitlines() if "missing-shares-t" in line))
      missing-shares-tests         2  passed
    """
    from mlcycle_ref import course  # the grader's public interface
    from mlcycle_ref.course import sandbox as grading_sandbox

    if sandbox:
        grading_sandbox.require()
    notebook = Path(notebook)
    nb = _read(notebook)
    if not any(labs.cell_kind(cell) for cell in nb.cells):
        raise labs.LabError(f"{notebook}: no graded cells (no nbgrader metadata); is this a lab?")
    release = find_release(nb, notebook, released)
    if release is not None:
        reference = _reference(nbformat.read(release, as_version=4), release.stem,
                               release.parent)
    else:
        reference = _reference(nb, notebook.stem, None)
    result = course.grade_submission({
        "student": "self-check", "notebook": notebook.read_bytes(), "sha256": "",
        "reference": reference, "timeout": timeout, "limit": course.SUBMISSION_LIMIT,
        "memory_mb": course.MEMORY_MB,
        "sandbox": grading_sandbox.Sandbox() if sandbox else None})
    if result["status"] != course.GRADED:
        raise labs.LabError(f"{notebook}: {result['reason']}")
    executed = nbformat.reads(result["notebook"], as_version=4)
    tasks, causes = explain(executed, result["tasks"], reference)
    return CheckReport(str(notebook), tuple(tasks), result["seconds"], result["problem"],
                       tuple(result["notes"]), tuple(causes))


# --------------------------------------------------------------------------- explaining


def defined_names(source: str) -> set[str]:
    """Names a cell's code ``source`` binds at the top level of the notebook (not inside its
    functions).

    >>> sorted(defined_names("import numpy as np\\na, (b, c) = f()\\ndef g(x):\\n    y = x"))
    ['a', 'b', 'c', 'g', 'np']
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names, pending = set(), list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif not isinstance(node, ast.Lambda | ast.comprehension | ast.GeneratorExp |
                            ast.ListComp | ast.SetComp | ast.DictComp):
            pending += ast.iter_child_nodes(node)
    return names


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _is_answer(cell) -> bool:
    meta = _meta(cell)
    return bool(meta.get("solution")) and cell.cell_type == "code"


def _error(cell) -> dict | None:
    return next((out for out in cell.get("outputs", []) if out.get("output_type") == "error"),
                None)


def where(error: dict, nb) -> str:
    """Where an error was raised in the student's notebook: function, line and cell.

    ``error`` is the error output of a cell (its ``ename``, ``evalue`` and ``traceback``)
    and ``nb`` the executed notebook. The deepest frame in an answer cell wins (the
    student's function); otherwise the deepest frame in any cell of the notebook. Test cells
    ran with the guard's line on top, which is not counted.

    >>> from nbformat.v4 import new_code_cell, new_notebook, new_output
    >>> answer = new_code_cell("def share(x):\\n    return x / 0", execution_count=1,
    ...                        metadata={"nbgrader": {"solution": True, "grade_id": "share"}})
    >>> error = new_output("error", ename="ZeroDivisionError", evalue="division by zero",
    ...                    traceback=["Cell In[2], line 2", "Cell In[1], line 2, in share"])
    >>> where(error, new_notebook(cells=[answer]))
    'in share, line 2 of cell share'
    """
    by_count = {cell.get("execution_count"): cell for cell in nb.cells
                if cell.cell_type == "code" and cell.get("execution_count")}
    frames = []
    for entry in error.get("traceback", []):
        for count, line, function in _FRAME.findall(_ANSI.sub("", entry)):
            cell = by_count.get(int(count))
            if cell is not None:
                shift = 1 if labs.cell_kind(cell) in (labs.VISIBLE, labs.HIDDEN) else 0
                frames.append((cell, int(line) - shift, function))
    answers = [frame for frame in frames if _is_answer(frame[0])]
    if not (answers or frames):
        return ""
    cell, line, function = (answers or frames)[-1]
    name = _meta(cell).get("grade_id", "")
    inside = f"in {function}, " if function and function != "<module>" else ""
    return f"{inside}line {line} of cell {name}" if name else f"{inside}line {line}"


def describe(error: dict, nb) -> str:
    """One line on an error: the failure message, where it was raised and a hint for ``None``.

    ``error`` and ``nb`` are as for :func:`where`.

    >>> from nbformat.v4 import new_notebook, new_output
    >>> error = new_output("error", ename="TypeError", traceback=[],
    ...                    evalue="'NoneType' object is not subscriptable")
    >>> describe(error, new_notebook())
    "TypeError: 'NoneType' object is not subscriptable; a function returned None: is a \
return statement missing?"
    """
    text = labs.failure_message(error)
    location = where(error, nb)
    if location and error.get("ename") != "AssertionError":
        text += f" ({location})"
    if "NoneType" in str(error.get("evalue", "")):
        text += "; a function returned None: is a return statement missing?"
    return text


def explain(nb, tasks: list[dict], reference: dict) -> tuple[list[TaskResult], list[str]]:
    """Turn the grader's task results into what a student should read, and name root causes.

    ``nb`` is the executed notebook, ``tasks`` the grader's result per graded cell (its
    ``grade_id``, ``kind``, ``points``, ``score`` and ``message``) and ``reference`` what the
    notebook was restored from: its ``cells``, each with the ``given`` source. A visible test
    fails for one of three reasons: its task's answer cell is still the stub (not
    attempted), it needs a name that an earlier task's failure left undefined (blocked: the
    root is reported once), or its own code failed. Returns the results and the root causes.

    >>> from nbformat.v4 import new_code_cell, new_notebook, new_output
    >>> stub = "def share(x):\\n    raise NotImplementedError"
    >>> answer = new_code_cell(stub, execution_count=1,
    ...                        metadata={"nbgrader": {"solution": True, "grade_id": "share"}})
    >>> error = new_output("error", ename="NotImplementedError", evalue="",
    ...                    traceback=["Cell In[2], line 2", "Cell In[1], line 2, in share"])
    >>> test = new_code_cell("# guard\\nassert share(4) == 2", execution_count=2, outputs=[error],
    ...                      metadata={"nbgrader": {"grade": True, "grade_id": "share-tests",
    ...                                             "points": 1}})
    >>> tasks = [{"grade_id": "share-tests", "kind": "visible", "points": 1, "score": 0,
    ...           "message": ""}]
    >>> results, causes = explain(new_notebook(cells=[answer, test]), tasks,
    ...                           {"cells": [{"cell": answer, "given": stub}]})
    >>> results[0].status, causes
    ('not attempted', [])
    """
    given = {_meta(entry["cell"]).get("grade_id"): entry["given"]
             for entry in reference["cells"]}
    owner, current = {}, None  # cell index -> the answer cell (task) it belongs to
    for index, cell in enumerate(nb.cells):
        if _is_answer(cell):
            current = _meta(cell).get("grade_id")
        owner[index] = current
    attempted = {_meta(cell)["grade_id"]: cell.source.strip() != given.get(
                 _meta(cell)["grade_id"], "").strip()
                 for cell in nb.cells if _is_answer(cell)}
    defines = [defined_names(cell.source) if cell.cell_type == "code" else set()
               for cell in nb.cells]

    def root(index: int, seen=()) -> int:
        error = _error(nb.cells[index])
        missing = _MISSING_NAME.search(str(error.get("evalue", ""))) if error else None
        if error is None or error.get("ename") != "NameError" or missing is None:
            return index
        makers = [earlier for earlier in range(index) if missing.group(1) in defines[earlier]]
        if makers and makers[-1] not in seen and _error(nb.cells[makers[-1]]) is not None:
            return root(makers[-1], (*seen, index))
        return index

    results, blocked = [], {}
    position = {_meta(cell).get("grade_id"): index for index, cell in enumerate(nb.cells)
                if _meta(cell).get("grade_id")}
    for task in tasks:
        grade_id, kind = task["grade_id"], task["kind"]
        common = (grade_id, kind, float(task["points"]))
        if kind != labs.VISIBLE:
            results.append(TaskResult(*common, NOT_CHECKED))
            continue
        index = position[grade_id]
        task_owner = owner.get(index)
        if task["score"] >= task["points"]:
            results.append(TaskResult(*common, PASSED, score=float(task["score"])))
        elif task_owner is not None and not attempted.get(task_owner, True):
            results.append(TaskResult(*common, NOT_ATTEMPTED, "not attempted yet"))
        elif (error := _error(nb.cells[index])) is None:
            results.append(TaskResult(*common, FAILED, task["message"]))
        else:
            cause = root(index)
            cause_owner = owner.get(cause)
            if cause != index and cause_owner not in (None, task_owner):
                blocked.setdefault(cause, []).append(grade_id)
                results.append(TaskResult(*common, BLOCKED, f"it needs the result of "
                                          f"{cause_owner}, which failed (see above)"))
            else:
                results.append(TaskResult(*common, FAILED, describe(error, nb)))
    causes = []
    for cause, grade_ids in blocked.items():
        cell = nb.cells[cause]
        name = owner.get(cause)
        in_cell = _meta(cell).get("grade_id") or f"#{cause}"
        problem = describe(_error(cell), nb)
        if not attempted.get(name, True):
            problem = f"it is not attempted yet (cell {in_cell})"
        verbs = "uses its result and was" if len(grade_ids) == 1 else "use its result and were"
        causes.append(f"{name}: {problem}; {_listing(grade_ids)} {verbs} not checked.")
    return results, causes


def _listing(names: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
