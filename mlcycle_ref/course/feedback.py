"""Feedback: one offline HTML page per student that shows no hidden test."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

from mlcycle_ref import labs
from mlcycle_ref.course.cells import is_test
from mlcycle_ref.course.folder import (
    GRADED,
    Course,
    read_record,
    submissions,
    write_atomically,
)

TEMPLATES = Path(__file__).parent.parent / "course_templates"
PROVISIONAL = ("Provisional: your written answers are not marked yet, so the score on this "
               "page counts them as 0 for now.")


def _hidden_lines(nb) -> set[str]:
    """Lines of the hidden tests long enough to recognize if student output repeats them."""
    lines = set()
    for cell in nb.cells:
        inside = False
        for line in cell.get("source", "").splitlines():
            if labs.BEGIN_HIDDEN in line or labs.END_HIDDEN in line:
                inside = labs.BEGIN_HIDDEN in line
            elif inside and len(line.strip()) >= 16 and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


def _own_messages(source: str) -> list[re.Pattern]:
    """Patterns of the lines a test cell's own code can print: its string literals.

    An f-string's values may be anything, but its fixed text must be long enough to tell its
    lines from a student's.

    >>> [bool(p.fullmatch("Visible tests passed."))
    ...  for p in _own_messages("print('Visible tests passed.')")]
    [True]
    >>> _own_messages('print(f"AUC: {auc:.2f}")')  # too little fixed text to tell
    []
    >>> [bool(p.fullmatch("test ROC AUC: 0.91"))
    ...  for p in _own_messages('print(f"test ROC AUC: {auc:.2f}")')]
    [True]
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    patterns, inside_fstrings = [], set()
    for node in ast.walk(tree):  # breadth first: an f-string comes before its parts
        if id(node) in inside_fstrings:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
            patterns.append(re.compile(re.escape(node.value.strip())))
        elif isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(part) for part in ast.walk(node))
            fixed = [part.value if isinstance(part, ast.Constant) else None
                     for part in node.values]
            if sum(len(text) for text in fixed if text) >= 8:
                patterns.append(re.compile(".*?".join(
                    "" if text is None else re.escape(text) for text in fixed).strip()))
    return patterns


def _output_text(output) -> str:
    if output.output_type == "stream":
        return output.get("text", "")
    if output.output_type == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    return str(output.get("data", {}).get("text/plain", ""))


def feedback_notebook(nb, notes=()):
    """A copy of the autograded notebook ``nb`` that is safe to show its student.

    Hidden tests keep only their comment lines and a passed/failed line - never their code,
    assert text or values. Visible tests keep their errors, shortened to the check's message,
    and the lines the test's own code prints (see ``_own_messages``); anything else - what
    the student's functions print or display, perhaps called by a hidden test - is dropped,
    and other cells lose their outputs (a submission could print what it found in the
    kernel). Any output that repeats a line of a hidden test is withheld. ``notes`` (what
    grading changed, or a problem) go in a cell at the top.

    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
    ...                      "grade_id": "t", "schema_version": 3}}
    >>> hidden = new_code_cell("\\n".join(["# Hidden tests", labs.BEGIN_HIDDEN, "assert f(3) == 4",
    ...                                      labs.END_HIDDEN]), metadata=meta)
    >>> hidden.outputs = [nbformat.from_dict({"output_type": "error", "ename": "AssertionError",
    ...                   "evalue": "f(3) == 4", "traceback": ["assert f(3) == 4"]})]
    >>> safe = feedback_notebook(new_notebook(cells=[hidden]))
    >>> print(safe.cells[0].source)
    # Hidden tests
    # (the hidden tests of this cell failed with AssertionError)
    >>> "f(3)" in nbformat.writes(safe)
    False
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    secret = _hidden_lines(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if labs.BEGIN_HIDDEN in cell.source:
            verdict = (f"failed with {errors[0].get('ename', 'an error')}" if errors else
                       "failed" if labs.cell_kind(cell) and not _passed(cell) else "passed")
            cell.source = (labs.without_hidden_tests(cell.source).rstrip() +
                           f"\n# (the hidden tests of this cell {verdict})").lstrip()
            cell.outputs = []
        elif is_test(cell):
            own = _own_messages(cell.source)
            kept = []
            for out in cell.outputs:
                if out.output_type == "stream":
                    # Only what the test itself prints: the student's code may print, or
                    # update a display, with data a hidden test gave it.
                    lines = [line for line in out.get("text", "").splitlines()
                             if any(pattern.fullmatch(line.strip()) for pattern in own)]
                    if not lines:
                        continue
                    out = nbformat.from_dict({"output_type": "stream", "name": "stdout",
                                              "text": "\n".join(lines) + "\n"})
                elif out.output_type != "error":
                    continue
                if any(line in _output_text(out) for line in secret):
                    out = nbformat.from_dict({"output_type": "stream", "name": "stdout",
                                              "text": "[output withheld: it repeats a hidden "
                                                      "test]\n"})
                elif out.output_type == "error":
                    out.traceback = [f"{out.ename}: {labs.failure_message(out)}"]
                kept.append(out)
            cell.outputs = kept
        else:
            cell.outputs = []
    if notes:
        items = "\n".join(f"- {html.escape(note)}" for note in notes)
        nb.cells.insert(0, new_markdown_cell(f"**Notes from grading**\n\n{items}"))
    return nb


def _passed(cell) -> bool:
    from nbgrader import utils

    score, points = utils.determine_grade(cell)
    return score == points


def _failed_page(student: str, lab: str, reason: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(lab)}"
            f"</title></head><body><h1>{html.escape(lab)}: {html.escape(student)}</h1>"
            f"<p>Your submission could not be graded automatically: {html.escape(reason)}</p>"
            "<p>Please talk to your instructor.</p></body></html>\n")


_EXTERNAL = re.compile(r"""(\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)(?:https?:)?//[^"')\s>]*""",
                       re.IGNORECASE)


def offline_html(page: str) -> str:
    """``page`` with every link to or load from another host replaced by ``#``.

    >>> offline_html('<img src="https://example.org/a.png"><a href="#top">top</a>')
    '<img src="#"><a href="#top">top</a>'
    """
    return _EXTERNAL.sub(r"\1#", page)


def _feedback_exporter():
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    config = Config()
    # Our "feedback_offline" template is nbgrader's feedback template with an empty MathJax
    # macro: nbgrader's loads MathJax from a CDN.
    config.HTMLExporter.template_name = "feedback_offline"
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES),
                                                   str(nbgrader_templates / "templates")]
    config.HTMLExporter.extra_template_paths = [
        str(nbgrader_templates / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(GetGrades(), enabled=True)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(), enabled=True)
    return exporter


def feedback(course: Course, lab: str, students=None) -> dict[str, Path]:
    """Write each graded student's feedback page, ``feedback/<id>/<lab>/<lab>.html``.

    The page shows the scores (manual grades included, as in nbgrader) and what
    :func:`feedback_notebook` keeps; a submission that could not be graded gets a page that
    says why. While written answers wait for a human the page opens with a note that its
    score is provisional. Nothing in it loads from another host. ``course`` is the course
    graded; ``lab`` a lab name or unique prefix; ``students`` limits the pages to those ids
    (default: every student with a grading record). Returns student -> page written.
    """
    lab = course.resolve(lab)
    exporter = _feedback_exporter()
    pending = _waiting_for_marks(course, lab)
    written = {}
    for student in students or sorted(submissions(course, lab)):
        record = read_record(course.record(student, lab))
        if not record:
            continue
        target = course.feedback(student, lab)
        target.parent.mkdir(parents=True, exist_ok=True)
        if record["status"] != GRADED:
            page = _failed_page(student, lab, record["reason"])
        else:
            nb = nbformat.read(course.autograded(student, lab), as_version=4)
            notes = [note for note in (record.get("problem"), *record.get("notes", ())) if note]
            if student in pending:
                notes.insert(0, PROVISIONAL)
            resources = {"nbgrader": {"notebook": lab, "assignment": lab, "student": student,
                                      "db_url": course.db_url}}
            with labs.venv_on_path():
                page, _ = exporter.from_notebook_node(feedback_notebook(nb, notes), resources)
        write_atomically(target, offline_html(page))
        written[student] = target
    return written


def _waiting_for_marks(course: Course, lab: str) -> set[str]:
    """Students whose submission of ``lab`` has answers no human has marked yet."""
    with course.gradebook() as gradebook:
        return {submission.student.id for submission in gradebook.find_assignment(lab).submissions
                if submission.needs_manual_grade}
