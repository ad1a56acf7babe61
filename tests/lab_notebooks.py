"""Lab notebooks for the tests: a lab's solution, a cell by grade id, the release answered."""

import nbformat

from mlcycle_ref import labs


def solution(lab: str):
    """The instructor's source notebook of ``lab``, answers and hidden tests included."""
    return nbformat.read(labs.SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)


def cell(nb, grade_id: str):
    """The cell of ``nb`` whose nbgrader grade id is ``grade_id``."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def answered(lab: str, **answers):
    """The released ``lab`` with the solution's answers, those named in ``answers`` replaced.

    Answers are keyed by grade id, with ``_`` for ``-`` where a keyword needs it.
    """
    nb = nbformat.read(labs.RELEASED / lab / f"{lab}.ipynb", as_version=4)
    replaced = {key.replace("_", "-"): source for key, source in answers.items()}
    reference = solution(lab)
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution") and c.cell_type == "code":
            c.source = replaced.get(meta["grade_id"], cell(reference, meta["grade_id"]).source)
    return nb
