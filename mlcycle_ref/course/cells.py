"""Reading nbgrader's cell metadata from notebooks that may have been tampered with.

Each function takes one ``cell`` of a notebook (an nbformat cell, or the plain dict a
submission's JSON gives) and never raises on metadata that is missing or of the wrong type.
"""

from __future__ import annotations


def nbgrader_metadata(cell) -> dict:
    """A cell's nbgrader metadata; {} when missing or mangled (a submission can hold anything).

    >>> nbgrader_metadata({"metadata": {"nbgrader": {"grade_id": "check_x"}}})
    {'grade_id': 'check_x'}
    >>> nbgrader_metadata({"metadata": {"nbgrader": "edited by hand"}})
    {}
    """
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id_of(cell) -> str | None:
    """The nbgrader id of ``cell``, or None when it has none (or not a string).

    >>> from nbformat.v4 import new_code_cell
    >>> meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "check_x"}}
    >>> grade_id_of(new_code_cell("assert x == 2", metadata=meta)), grade_id_of(new_code_cell())
    ('check_x', None)
    """
    grade_id = nbgrader_metadata(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def is_test(cell) -> bool:
    """Whether ``cell`` is a test: a graded code cell that is not an answer.

    >>> from nbformat.v4 import new_code_cell
    >>> test = {"nbgrader": {"grade": True, "solution": False, "grade_id": "check_x"}}
    >>> answer = {"nbgrader": {"grade": False, "solution": True, "grade_id": "x"}}
    >>> is_test(new_code_cell("assert x == 2", metadata=test))
    True
    >>> is_test(new_code_cell("x = 2", metadata=answer))
    False
    """
    meta = nbgrader_metadata(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"
