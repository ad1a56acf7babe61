"""Honest reporting on a tiny class: loops, syntax errors and stripped metadata are named with
their cell; the report groups failures without their values, keeps scores waiting for manual
marks apart, writes a CSV beside its plots and labels its plots."""

import pandas as pd
import pytest
from test_course import LAB, answered, submit, tiny_source

from mlcycle_ref import course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def stripped(nb):
    """The notebook as a tool that drops cell metadata leaves it."""
    for cell in nb.cells:
        cell.metadata = {}
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    import nbformat

    root = tmp_path_factory.mktemp("problems")
    (root / "sources" / LAB).mkdir(parents=True)
    nbformat.write(tiny_source(), root / "sources" / LAB / f"{LAB}.ipynb")
    roster = root / "students.csv"
    roster.write_text("id\nloop\nsyntax\nstripped\noff1\noff2\nright\n")
    grading_course = course.init(root / "course", roster, source=root / "sources")
    for student, nb in {
        "loop": answered(grading_course, "def double(x):\n    while True:\n        pass"),
        "syntax": answered(grading_course, "def double(x):\n    return 2 *"),
        "stripped": stripped(answered(grading_course)),
        "off1": answered(grading_course, "def double(x):\n    return 2 * x + 1"),
        "off2": answered(grading_course, "def double(x):\n    return 2 * x + 2"),
        "right": answered(grading_course, written="Because."),
    }.items():
        submit(grading_course, student, nb)
    # A short timeout for the endless loop, which the two test cells each run into; the
    # slowest other cell imports NumPy and pandas (0.5 s on an idle machine). test_course.py
    # grades the same lab with it.
    summary = course.autograde(grading_course, LAB, workers=2, timeout=2)
    return grading_course, summary


def test_loops_syntax_errors_and_stripped_metadata_are_graded_with_a_problem(graded):
    _, summary = graded
    assert set(summary.problems) == {"loop", "syntax", "stripped"}
    assert summary.problems["loop"].startswith("cell double")
    assert "time limit" in summary.problems["loop"] or "timeout" in summary.problems["loop"]
    assert summary.problems["syntax"] == ("cell double has a syntax error, so nothing it "
                                          "defines exists: invalid syntax (line 2)")
    assert ("answer cell double was missing or had lost its nbgrader metadata: graded as not "
            "answered") in summary.problems["stripped"]
    text = summary.render()
    assert "Graded with a problem (3):" in text and "  syntax: cell double has a syntax" in text


def test_the_student_reads_the_problem_in_feedback(graded):
    grading_course, _ = graded
    page = course.feedback(grading_course, LAB, ["syntax"])["syntax"].read_text()
    assert "cell double has a syntax error" in page


def test_report_groups_failures_without_their_values(graded):
    grading_course, _ = graded
    lab_report = course.report(grading_course, LAB)
    tasks = {task["grade_id"]: task for task in lab_report.tasks}
    visible = tasks["double-tests"]
    # off1 found 5, off2 found 6: one mistake. The loop's interrupted cell fails otherwise.
    assert visible["failure"] == "value of double(…) is not correct (checked to within …)"
    assert visible["failure_count"] == 2


def test_scores_waiting_for_a_human_are_not_counted_as_final(graded):
    grading_course, _ = graded
    lab_report = course.report(grading_course, LAB)
    assert "right" in lab_report.provisional and "right" not in lab_report.scores
    assert set(lab_report.scores) | set(lab_report.provisional) == {
        "loop", "syntax", "stripped", "off1", "off2", "right"}


def test_report_writes_a_csv_beside_plots_with_legends(graded, tmp_path, mlcycle):
    grading_course, _ = graded
    code, out, _ = mlcycle("course", "report", "tiny", "--course", grading_course.root,
                           "--output", tmp_path)
    assert code == 0 and "plots and tasks.csv" in out
    table = pd.read_csv(tmp_path / "tasks.csv", encoding="utf-8-sig")
    assert list(table["grade_id"]) == ["double-tests", "double-hidden", "why"]
    assert {"pass_rate", "not_attempted", "failure", "failure_count"} <= set(table.columns)
    lab_report = course.report(grading_course, LAB)
    for plot in (course.plot_score_distribution, course.plot_pass_rates):
        legend = plot(lab_report).axes[0].get_legend()
        assert legend is not None and legend.get_texts()


def test_the_graders_own_cell_is_not_held_to_the_students_cell_timeout(tmp_path):
    # The grader's set-up cell once failed an honest submission: on a busy machine the
    # kernel's first cell took longer than the class's 2 s cell timeout.
    from nbformat.v4 import new_code_cell, new_notebook

    from mlcycle_ref.course.kernel import GRADER_CELL, run_notebook

    slow = "import time\ntime.sleep(1.5)"
    nb = new_notebook(cells=[new_code_cell(slow, metadata={GRADER_CELL: True}),
                             new_code_cell(slow)])
    run_notebook(nb, tmp_path, timeout=1, limit=60)
    graders, students = nb.cells
    assert graders.outputs == []
    assert "CellTimeoutError" in [output.get("ename") for output in students.outputs]
