"""Reading nbgrader's cell metadata from notebooks that may have been tampered with.

>>> from nbformat.v4 import new_code_cell
>>> test = new_code_cell("assert x == 2", metadata={"nbgrader": {"grade": True,
...     "solution": False, "grade_id": "check_x", "points": 1}})
>>> grade_id_of(test), is_test(test), grade_id_of(new_code_cell("x = 2"))
('check_x', True, None)
"""

from __future__ import annotations


def nbgrader_metadata(cell) -> dict:
    """A cell's nbgrader metadata; {} when missing or mangled (a submission can hold anything)."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id_of(cell) -> str | None:
    grade_id = nbgrader_metadata(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def is_test(cell) -> bool:
    meta = nbgrader_metadata(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"
