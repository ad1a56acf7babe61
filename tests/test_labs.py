"""The graded labs grade as designed, through the course's autograde and the self-check.

One course in a temporary folder grades three submissions of every lab, each handed in by a
student of its own: the solution (full automatic points), the released notebook as it is
(zero) and a hard-coded variant - the solution changed so that it only replays the answers
seen outside the hidden tests, like a student who pasted in the values the visible tests
expect (visible tests pass, hidden tests on unseen data fail). One ``mlcycle course autograde
--workers 2`` naming every lab grades them all; the tests read the gradebook and the grading
records. The self-check runs once per lab, on the solution, and must score each visible task
as grading did.
"""

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mlcycle_ref import cli, course, labs

LAB_NAMES = labs.available()
# nbgrader's autograde trips over its own SQLAlchemy session; harmless for the grades.
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
STUDENTS = ("solution", "released", "hardcoded")

# Runs first in the hard-coded variant. Every student function is wrapped: outside hidden
# tests it computes and records its answer; inside them it replays a recorded answer - the one
# for the same arguments if there is one, else the last one - as a pasted constant would.
HARD_CODED_SETUP = '''
import hashlib as _hashlib

import numpy as _np
import pandas as _pd


class _HardCoded:
    def __init__(self):
        self.frozen, self.answers = False, {}

    def key(self, value):
        if isinstance(value, (_pd.DataFrame, _pd.Series)):
            digest = _hashlib.sha1(_pd.util.hash_pandas_object(value).to_numpy().tobytes())
            names = value.columns if isinstance(value, _pd.DataFrame) else [value.name]
            return (type(value).__name__, str(list(names)), digest.hexdigest())
        if isinstance(value, _np.ndarray):
            return ("array", value.shape, _hashlib.sha1(value.tobytes()).hexdigest())
        if isinstance(value, (list, tuple)):
            return (type(value).__name__, tuple(self.key(item) for item in value))
        if isinstance(value, dict):
            return ("dict", tuple((name, self.key(item)) for name, item in value.items()))
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return ("object", id(value))

    def wrap(self, function):
        name = function.__name__

        def replay(*args, **kwargs):
            key = (name, self.key(args), self.key(kwargs))
            if not self.frozen:
                self.answers[key] = self.answers[name] = function(*args, **kwargs)
            return self.answers.get(key, self.answers.get(name))

        return replay


_hard_coded = _HardCoded()
'''


def source_path(lab: str) -> Path:
    return labs.SOLUTIONS / lab / f"{lab}.ipynb"


def solution_functions(nb) -> set[str]:
    """Names of the functions defined at the top level of the answer cells."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            tree = ast.parse(cell.source)
            names |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    return names


def called_names(source: str) -> set[str]:
    return {node.func.id for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def hard_coded_variant(nb):
    """The solution with every student function turned into a replay of its visible answers."""
    functions = solution_functions(nb)
    cells = [new_code_cell(HARD_CODED_SETUP.strip(), id="hard-coded-setup")]
    for index, cell in enumerate(nb.cells):
        cell = nbformat.from_dict(dict(cell))
        hidden = labs.cell_kind(cell) == labs.HIDDEN
        if hidden:
            cells.append(new_code_cell("_hard_coded.frozen = True", id=f"freeze-{index}"))
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            defined = sorted(functions & {node.name for node in ast.parse(cell.source).body
                                          if isinstance(node, ast.FunctionDef)})
            cell.source += "".join(f"\n{name} = _hard_coded.wrap({name})" for name in defined)
        cells.append(cell)
        if hidden:
            cells.append(new_code_cell("_hard_coded.frozen = False", id=f"thaw-{index}"))
    return new_notebook(cells=cells, metadata=nb.metadata)


@dataclass(frozen=True)
class Graded:
    """One graded submission: its gradebook scores and what the grader recorded."""

    scores: dict[str, tuple[float, float]]  # grade_id -> (automatic score, maximum)
    record: dict                            # the grading record (status, tasks, problem)

    def explained(self) -> str:
        """The grader's words on what went wrong, for a failing assertion's message."""
        lines = [f"{task['grade_id']}: {task['message']}" for task in self.record["tasks"]
                 if task["message"]]
        problem = self.record.get("problem") or self.record.get("reason")
        return "\n".join(([f"problem: {problem}"] if problem else []) + lines)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[course.Course, dict[tuple[str, str], Graded]]:
    """Every lab's three submissions graded in one course, the way an instructor grades.

    The students "solution", "released" and "hardcoded" hand in each lab; the course's own
    command, ``mlcycle course autograde LAB [LAB ...] --workers 2``, grades the submissions of
    every lab in one run, two at a time, sandboxed, with the course's cell time limit.
    Returns the course and each (lab, student)'s :class:`Graded`.
    """
    root = tmp_path_factory.mktemp("labs-course")
    roster = root / "students.csv"
    roster.write_text("id\n" + "\n".join(STUDENTS) + "\n")
    grading = course.init(root / "course", roster, timeout=labs.CELL_TIMEOUT)
    for lab in LAB_NAMES:
        source = nbformat.read(source_path(lab), as_version=4)
        handed_in = {
            "solution": source,
            "released": nbformat.read(grading.root / "release" / lab / f"{lab}.ipynb",
                                      as_version=4),
            "hardcoded": hard_coded_variant(source),
        }
        for student, nb in handed_in.items():
            path = grading.submitted(student, lab)
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
    code = cli.main(["course", "autograde", *LAB_NAMES, "--course", str(grading.root),
                     "--workers", "2"])
    assert code == 0, f"mlcycle course autograde {' '.join(LAB_NAMES)} exited with {code}"
    found = {}
    with grading.gradebook() as gradebook:
        for lab in LAB_NAMES:
            for student in STUDENTS:
                record = course.read_record(grading.record(student, lab))
                scores = {}
                if record["status"] == course.GRADED:
                    scores = {grade.name: (grade.auto_score, grade.max_score) for grade in (
                        gradebook.find_grade(grade_id, lab, lab, student)
                        for grade_id in autograded_cells(lab))}
                found[lab, student] = Graded(scores, record)
    return grading, found


def graded_submission(graded, lab: str, student: str) -> Graded:
    """The grading of ``student``'s ``lab``, failing the test if it could not be graded."""
    submission = graded[1][lab, student]
    assert submission.record["status"] == course.GRADED, (
        f"{lab}/{student} could not be graded: {submission.record['reason']}")
    return submission


def autograded_cells(lab: str) -> dict[str, tuple[str, str]]:
    """grade_id -> (kind, source) of the autograded test cells of a lab's source notebook."""
    nb = nbformat.read(source_path(lab), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: (kind, cell.source) for cell in nb.cells
            if (kind := labs.cell_kind(cell)) in (labs.VISIBLE, labs.HIDDEN)}


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_book_pages_state_each_labs_points(lab):
    points = {labs.VISIBLE: 0, labs.HIDDEN: 0, labs.WRITTEN: 0}
    for cell in nbformat.read(source_path(lab), as_version=4).cells:
        if (kind := labs.cell_kind(cell)) is not None:
            points[kind] += cell.metadata["nbgrader"]["points"]
    visible, hidden, written = points.values()
    total = visible + hidden + written
    book = labs.ROOT / "book" / "labs"
    page = (book / f"{lab[:5]}.md").read_text()
    assert f"```{{lab-downloads}} {lab}\n```" in page and f"`{lab}.ipynb`" in page
    assert (f"**Points:** {total:g} ({visible:g} visible, {hidden:g} hidden, "
            f"{written:g} written)") in page
    assert f"| {total:g} ({visible:g} / {hidden:g} / {written:g}) |" in (
        book / "index.md").read_text()


def test_three_labs_are_found_and_resolved_by_prefix():
    assert LAB_NAMES[:3] == ["lab01_exploration", "lab02_features", "lab03_training"]
    assert labs.resolve(["lab03", "lab01_exploration"]) == ["lab03_training",
                                                            "lab01_exploration"]
    with pytest.raises(labs.LabError, match="'lab9' is not a lab.*lab01_exploration"):
        labs.resolve(["lab9"])
    with pytest.raises(labs.LabError, match="matches several labs"):
        labs.resolve(["lab0"])


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_source_notebook_is_a_complete_nbgrader_lab(lab):
    nb = nbformat.read(source_path(lab), as_version=4)
    nbformat.validate(nb)
    metas = [cell.metadata["nbgrader"] for cell in nb.cells]
    assert all(meta["schema_version"] == 3 for meta in metas), "every cell belongs to nbgrader"
    ids = [meta["grade_id"] for meta in metas]
    assert len(ids) == len(set(ids)), "grade ids are unique"
    kinds = [labs.cell_kind(cell) for cell in nb.cells]
    written = [cell for cell, kind in zip(nb.cells, kinds, strict=True) if kind == labs.WRITTEN]
    assert written and all(cell.cell_type == "markdown" for cell in written)
    assert kinds.count(labs.VISIBLE) >= 4 and kinds.count(labs.HIDDEN) >= 4
    intro = nb.cells[0].source
    assert "Learning objectives" in intro and "../../book/lifecycle/" in intro
    total = sum(meta.get("points", 0) for meta in metas)
    assert f"{total:g} in all" in intro, "the intro states the lab's points"


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_solution_autogrades_to_full_points(graded, lab):
    points = {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]["points"]
              for cell in nbformat.read(source_path(lab), as_version=4).cells
              if labs.cell_kind(cell) in (labs.VISIBLE, labs.HIDDEN)}
    solution = graded_submission(graded, lab, "solution")
    assert {grade_id: maximum for grade_id, (_, maximum) in solution.scores.items()} == points
    lost = {grade_id: score for grade_id, score in solution.scores.items()
            if score[0] != score[1]}
    assert not lost, f"{lab}: the solution loses points in {lost}\n{solution.explained()}"
    assert not solution.record["problem"], f"{lab}: {solution.record['problem']}"


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_released_notebook_scores_nothing(graded, lab):
    released = graded_submission(graded, lab, "released")
    scored = {grade_id: score for grade_id, score in released.scores.items() if score[0] != 0}
    assert scored == {}, f"{lab}: the released notebook scores in {scored}"


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_hard_coded_answers_pass_visible_and_fail_hidden_tests(graded, lab):
    hardcoded = graded_submission(graded, lab, "hardcoded")
    functions = solution_functions(nbformat.read(source_path(lab), as_version=4))
    probing = []
    for grade_id, (kind, source) in autograded_cells(lab).items():
        score, maximum = hardcoded.scores[grade_id]
        if kind == labs.VISIBLE:
            assert score == maximum, f"{lab}: {grade_id} should pass\n{hardcoded.explained()}"
        elif called_names(source) & functions:
            probing.append(grade_id)
            assert score == 0, f"{lab}: hidden {grade_id} accepts hard-coded answers"
    assert probing, f"{lab}: some hidden tests call the student's functions on unseen data"


def test_committed_labs_equal_a_fresh_release(tmp_path, mlcycle):
    code, out, _ = mlcycle("labs", "release", "--output", str(tmp_path))
    assert code == 0 and out.count("released") == len(LAB_NAMES)

    def stable(path):
        nb = nbformat.read(path, as_version=4)
        cells = []
        for cell in nb.cells:
            meta = {key: value for key, value in cell.metadata.get("nbgrader", {}).items()
                    if key != "checksum"}
            cells.append((cell.get("id"), cell.cell_type, cell.source, meta))
        return nb.metadata.get("kernelspec"), cells

    for lab in LAB_NAMES:
        committed = labs.RELEASED / lab / f"{lab}.ipynb"
        assert committed.is_file(), f"run `mlcycle labs release {lab}` and commit labs/"
        assert stable(committed) == stable(tmp_path / lab / f"{lab}.ipynb"), (
            f"labs/{lab} is out of date: run `mlcycle labs release {lab}`")


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_released_notebook_hides_solutions_and_hidden_tests(lab):
    text = (labs.RELEASED / lab / f"{lab}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "Model answer" not in text
    released = nbformat.reads(text, as_version=4)
    hidden = [cell for cell in released.cells if labs.cell_kind(cell) == labs.HIDDEN]
    assert hidden and all(line.startswith("#") for cell in hidden
                          for line in cell.source.splitlines())
    solution_lines = []
    for cell in nbformat.read(source_path(lab), as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) >= 25:
                solution_lines.append(line.strip())
    leaked = [line for line in solution_lines
              if any(line in cell.source for cell in released.cells)]
    assert solution_lines and not leaked, f"solution lines in labs/{lab}: {leaked[:3]}"


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_self_check_passes_the_solution_as_grading_does(graded, lab, mlcycle):
    code, out, _ = mlcycle("labs", "check", str(source_path(lab)), "--json")
    report = json.loads(out)
    visible = [task for task in report["tasks"] if task["kind"] == "visible"]
    assert code == 0 and not report["problem"]
    assert all(task["status"] == "passed" for task in visible), visible
    assert report["visible_score"] == report["visible_total"] > 0
    assert report["hidden_total"] > 0 and report["written_total"] > 0
    assert report["causes"] == []
    # The self-check is the grader: each visible task scores what autograde gave it.
    solution = graded_submission(graded, lab, "solution")
    assert {task["grade_id"]: task["score"] for task in visible} == {
        grade_id: score for grade_id, (score, _) in solution.scores.items()
        if autograded_cells(lab)[grade_id][0] == labs.VISIBLE}, f"{lab}: self-check != grading"


@pytest.mark.parametrize("lab", LAB_NAMES)
def test_every_visible_task_of_the_released_notebook_is_not_attempted(graded, lab):
    """The self-check's explanation of the grader's run of the untouched notebook.

    The self-check is autograde's run plus :func:`~mlcycle_ref.labs.selfcheck.explain`
    (the test above compares the two on the solution), so the released notebook is explained
    from its grading instead of being run again.
    """
    from mlcycle_ref.course.restore import graded_reference
    from mlcycle_ref.labs.selfcheck import explain

    released = graded_submission(graded, lab, "released")
    grading = graded[0]
    executed = nbformat.read(grading.autograded("released", lab), as_version=4)
    tasks, causes = explain(executed, released.record["tasks"], graded_reference(grading, lab))
    visible = [task for task in tasks if task.kind == labs.VISIBLE]
    assert causes == []
    assert visible and {task.status for task in visible} == {labs.NOT_ATTEMPTED}, visible


def test_self_check_survives_timeouts_and_a_dying_kernel(tmp_path):
    def graded(source, grade_id):
        meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                             "grade_id": grade_id, "schema_version": 3, "task": False}}
        return new_code_cell(source, metadata=meta)

    nb = new_notebook(cells=[
        new_markdown_cell("A lab whose student misbehaves."),
        graded("assert 1 + 1 == 2", "fine"),
        new_code_cell("import time\ntime.sleep(30)"),
        graded("from mlcycle_ref import checks\nchecks.expect_equal('answer', 41, 42)", "wrong"),
        new_code_cell("import os\nos._exit(1)"),
        graded("assert True", "never-run"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    report = labs.check(path, timeout=2)
    results = {task.grade_id: task for task in report.tasks}
    assert results["fine"].status == labs.PASSED
    assert results["wrong"].message == "value of answer is not correct; found 41"
    assert results["never-run"].status == labs.FAILED
    assert "kernel died" in report.problem and not report.all_visible_passed
    assert report.visible_score == 1 and report.visible_total == 3


def test_self_check_refuses_what_is_not_a_lab(tmp_path, mlcycle):
    not_json = tmp_path / "broken.ipynb"
    not_json.write_text("{ not json")
    code, _, err = mlcycle("labs", "check", str(not_json))
    assert code == 2 and "not a readable notebook" in err
    plain = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1")]), plain)
    with pytest.raises(labs.LabError, match="no graded cells"):
        labs.check(plain)
    with pytest.raises(labs.LabError, match="no such notebook"):
        labs.check(tmp_path / "missing.ipynb")
