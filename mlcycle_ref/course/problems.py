"""What went wrong in a graded submission, said plainly and per cell, and failures grouped.

A grade alone hides why it is low: a loop that ran into its timeout, a syntax error that makes
every later test fail with a NameError, or answer cells that lost their nbgrader metadata and
were graded as blank. :func:`submission_problems` finds those in the executed notebook and the
notes of ``restore``, so that autograde lists them under "graded with a
problem". :func:`failure_pattern` strips the values out of a failure message, so that the
report can count the same mistake made with different numbers as one.
"""

from __future__ import annotations

import re

import nbformat

from mlcycle_ref.course.cells import grade_id_of, is_test

#: Errors whose message is about the student's own code, never about data, so it is shown.
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
TIMEOUT_ERRORS = ("CellTimeoutError", "TimeoutError")
_CELL = re.compile(r"cell \S+")
_FOUND = re.compile(r";\s*found\b.*$", re.DOTALL)
_QUOTED = re.compile(r"""'[^']*'|"[^"]*\"""")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def submission_problems(notebook: str, notes=(), timeout: int | None = None,
                        already: str = "") -> list[str]:
    """Problems of one executed submission (nbformat JSON), one sentence each, naming the cell.

    ``notebook`` is the executed notebook as JSON text; ``notes`` are the notes
    :func:`~mlcycle_ref.course.restore.restore` made while rebuilding it (an answer cell
    that lost its metadata is reported); ``timeout`` is the per-cell limit in seconds, named
    in the message about a cell that ran out of time. A cell that ``already`` names ("cell
    X: ...", the grader's own report) is not named again.

    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> cell = new_code_cell("def f(:", metadata={"nbgrader": {"grade_id": "answer",
    ...                                                         "solution": True}})
    >>> cell.outputs = [nbformat.from_dict({"output_type": "error", "ename": "SyntaxError",
    ...                  "evalue": "invalid syntax (1234.py, line 1)", "traceback": []})]
    >>> submission_problems(nbformat.writes(new_notebook(cells=[cell])))
    ['cell answer has a syntax error, so nothing it defines exists: invalid syntax (line 1)']
    """
    nb = nbformat.reads(notebook, as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {grade_id_of(cell) or f'#{index}'}"
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        names = [out.get("ename", "") for out in errors]
        if any(name in TIMEOUT_ERRORS for name in names):
            limit = f" of {timeout} s" if timeout else ""
            problems.append(f"{where} ran past its time limit{limit} and was interrupted "
                            "(an endless loop?)")
        elif errors and names[0] in SYNTAX_ERRORS and not is_test(cell):
            detail = re.sub(r"\([^()]*, (line \d+)\)", r"(\1)", str(errors[0].get("evalue", "")))
            problems.append(f"{where} has a syntax error, so nothing it defines exists: "
                            f"{detail}")
    for note in notes:
        if note.startswith("answer cell ") and "nbgrader metadata" in note:
            problems.append(note)
    return [problem for problem in problems
            if f"{_CELL.search(problem).group()}:" not in already]


def failure_pattern(message: str) -> str:
    """A failure message without the values it carries, to count alike failures together.

    >>> failure_pattern("value of the filled age is not correct; found 3.5")
    'value of the filled age is not correct'
    >>> failure_pattern("KeyError: 'roc_auc'")
    'KeyError: …'
    >>> failure_pattern("expected 12 columns, got 9")
    'expected … columns, got …'
    """
    text = _FOUND.sub("", message)
    text = _QUOTED.sub("…", text)
    return _NUMBER.sub("…", text).strip()
