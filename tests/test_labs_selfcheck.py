"""The self-check is the grader: same restoring, same run, same visible score; it explains.

One course grades a small class of Lab 3 submissions, each altered the way students alter
notebooks (a test cell deleted or edited while a bug is present, duplicated cells, answers
hard-coded from the toy examples, an early bug whose error spreads); the self-check of every
one of them must give the visible score autograde put in the gradebook.
"""

import json

import pytest

pytest.importorskip("nbgrader")

import lab_notebooks  # noqa: E402
import nbformat  # noqa: E402
from lab_notebooks import cell  # noqa: E402
from nbformat.v4 import new_code_cell  # noqa: E402

from mlcycle_ref import course, labs  # noqa: E402

LAB = "lab03_training"
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def answered(**answers):
    return lab_notebooks.answered(LAB, **answers)


def solution():
    return lab_notebooks.solution(LAB)


SWAPPED = '''def confusion_counts(y_true, y_pred):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return {"tp": int(((t == 1) & (p == 1)).sum()), "fp": int(((t == 1) & (p == 0)).sum()),
            "fn": int(((t == 0) & (p == 1)).sum()), "tn": int(((t == 0) & (p == 0)).sum())}
'''
NO_RETURN = '''def three_way_split(frame, target, seed=0):
    rest, test = train_test_split(frame, test_size=0.1, stratify=frame[target],
                                  random_state=seed)
    train, validation = train_test_split(rest, test_size=2 / 9, stratify=rest[target],
                                         random_state=seed)
    parts = train, validation, test
'''
UNSTRATIFIED = '''def three_way_split(frame, target, seed=0):
    rest, test = train_test_split(frame, test_size=0.1, random_state=seed)
    train, validation = train_test_split(rest, test_size=0.2, random_state=seed)
    return train, validation, test
'''
TOY_CHOICE = '''def choose_model(scores, metric="roc_auc"):
    return "linear" if metric == "log_loss" else "boosting"
'''


def deleted():
    nb = answered(confusion_counts=SWAPPED)
    nb.cells.remove(cell(nb, "confusion-counts-tests"))
    return nb


def edited():
    nb = answered(three_way_split=UNSTRATIFIED)
    cell(nb, "three-way-split-tests").source = "print('Visible tests passed.')"
    return nb


def duplicated():
    nb = answered()
    tests = cell(nb, "choose-model-tests")
    copy = nbformat.from_dict(dict(tests))
    copy.source = "pass"
    nb.cells.insert(nb.cells.index(tests), copy)
    stale = nbformat.from_dict(dict(cell(nb, "validation-scores")))
    stale.source = "def validation_scores(model, frame, target):\n    return {}"
    nb.cells.insert(nb.cells.index(cell(nb, "validation-scores")) + 1, stale)
    return nb


SUBMISSIONS = {
    "solution": lambda: answered(),
    "untouched": lambda: nbformat.read(labs.RELEASED / LAB / f"{LAB}.ipynb", as_version=4),
    "deleted": deleted,
    "edited": edited,
    "duplicated": duplicated,
    "hardcoded": lambda: answered(choose_model=TOY_CHOICE),
    "cascade": lambda: answered(three_way_split=NO_RETURN),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Autograde the class once; self-check each submission once; return both per student."""
    root = tmp_path_factory.mktemp("selfcheck")
    roster = root / "students.csv"
    roster.write_text("id\n" + "\n".join(SUBMISSIONS) + "\n")
    grading = course.init(root / "course", roster, lab_names=[LAB])
    paths = {}
    for student, make in SUBMISSIONS.items():
        path = grading.submitted(student, LAB)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(make(), path)
        paths[student] = path
    course.autograde(grading, LAB, workers=2)
    visible = {c.metadata["nbgrader"]["grade_id"] for c in solution().cells
               if labs.cell_kind(c) == labs.VISIBLE}
    scores = {}
    with grading.gradebook() as gradebook:
        for student in SUBMISSIONS:
            notebook = gradebook.find_submission(LAB, student).notebooks[0]
            scores[student] = sum(grade.score for grade in notebook.grades
                                  if grade.name in visible)
    reports = {student: labs.check(path) for student, path in paths.items()}
    return scores, reports


@pytest.mark.parametrize("student", list(SUBMISSIONS))
def test_self_check_gives_the_visible_score_autograde_gives(graded, student):
    scores, reports = graded
    assert reports[student].visible_score == scores[student]


def test_the_altered_class_spans_full_partial_and_zero_scores(graded):
    scores, reports = graded
    total = reports["solution"].visible_total
    assert scores["solution"] == total == 11
    assert scores["untouched"] == 0
    assert 0 < scores["deleted"] < total and 0 < scores["edited"] < total


def test_restored_cells_are_named(graded):
    _, reports = graded
    notes = " | ".join(reports["deleted"].notes)
    assert "cell confusion-counts-tests was missing: it was put back" in notes
    assert "locked cell three-way-split-tests was edited" in " | ".join(reports["edited"].notes)
    duplicated = " | ".join(reports["duplicated"].notes)
    assert "a copy of locked cell choose-model-tests was dropped" in duplicated
    assert "earlier copy of answer cell validation-scores" in duplicated
    assert reports["solution"].notes == ()


def test_untouched_lab_is_not_attempted_everywhere(graded):
    _, reports = graded
    visible = [task for task in reports["untouched"].tasks if task.kind == labs.VISIBLE]
    assert visible and {task.status for task in visible} == {labs.NOT_ATTEMPTED}
    assert reports["untouched"].causes == ()


def test_a_spreading_error_is_reported_once_at_its_root(graded):
    _, reports = graded
    report = reports["cascade"]
    statuses = {task.grade_id: task.status for task in report.tasks}
    assert statuses["three-way-split-tests"] == labs.FAILED
    blocked = [grade_id for grade_id, status in statuses.items() if status == labs.BLOCKED]
    assert blocked == ["fit-model-tests", "validation-scores-tests", "confusion-counts-tests",
                       "choose-model-tests", "test-scores-tests"]
    (cause,) = report.causes
    assert cause.startswith("three-way-split: TypeError: cannot unpack non-iterable NoneType")
    assert "return statement missing" in cause and "were not checked" in cause
    assert "name 'candidates' is not defined" not in report.render()


def test_an_exception_names_the_students_function_and_line(tmp_path):
    nb = answered(confusion_counts="def confusion_counts(y_true, y_pred):\n"
                                   "    counts = {}\n    return counts['tp']\n")
    path = tmp_path / f"{LAB}.ipynb"
    nbformat.write(nb, path)
    report = labs.check(path)
    task = next(task for task in report.tasks if task.grade_id == "confusion-counts-tests")
    assert task.status == labs.FAILED
    assert task.message == ("KeyError: 'tp' (in confusion_counts, line 3 of cell "
                            "confusion-counts)")


def test_a_notebook_that_is_no_lab_of_the_course_runs_as_it_is(tmp_path):
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                         "grade_id": "only", "schema_version": 3}}
    path = tmp_path / "mine.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[new_code_cell("assert 1 + 1 == 2",
                                                                 metadata=meta)]), path)
    report = labs.check(path)
    assert report.visible_score == report.visible_total == 1 and report.notes == ()


def test_the_self_check_runs_in_the_graders_sandbox_when_asked(tmp_path, mlcycle):
    canary = tmp_path / "my-private-file.txt"
    canary.write_text("only on the host")
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                         "grade_id": "unseen", "schema_version": 3}}
    path = tmp_path / "mine.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[new_code_cell(
        f"import os\nassert not os.path.exists({str(canary)!r})", metadata=meta)]), path)
    assert labs.check(path).visible_score == 0  # the student's own machine: the file is there
    code, out, _ = mlcycle("labs", "check", path, "--sandbox", "--json")
    assert code == 0 and json.loads(out)["visible_score"] == 1
