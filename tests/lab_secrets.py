"""What students must never receive: solution code, hidden tests, model written answers.

Both the wheel test and the site scan look for these in everything a student can download.
"""

import nbformat

from mlcycle_ref import labs, paths

#: Markers that appear only in the instructor's source notebooks.
MARKERS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "Model answer")
#: Shorter lines are too generic to be evidence ("return result").
MIN_LENGTH = 25


def secret_lines() -> dict[str, str]:
    """Distinctive lines of every lab's solutions, hidden tests and model answers -> lab name.

    Lines that a released notebook also holds (a function's signature, say) are not secret, nor
    are lines the book itself shows (``fig, ax = plt.subplots(...)`` is taught in a chapter).
    """
    secrets, given = {}, ""
    for lab in labs.available(labs.RELEASED):
        released = nbformat.read(labs.RELEASED / lab / f"{lab}.ipynb", as_version=4)
        given += "\n".join(cell.source for cell in released.cells)
    for page in sorted((paths.REPOSITORY / "book").rglob("*.md")):
        given += "\n" + page.read_text(encoding="utf-8")
    for lab in labs.available():
        source = nbformat.read(labs.SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            written = cell.cell_type == "markdown" and meta.get("solution")
            inside = written
            for line in cell.source.splitlines():
                if "### BEGIN" in line or "### END" in line:
                    inside = "BEGIN" in line
                elif inside and len(line.strip()) >= MIN_LENGTH and line.strip() not in given:
                    secrets[line.strip()] = lab
    return secrets


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Markers and secret lines found in ``text``."""
    found = [marker for marker in MARKERS if marker in text]
    return found + [line for line in secrets if line in text]
