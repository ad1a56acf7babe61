"""Hidden tests stay honest when read: their data comes from each course's own secret.

Two courses grade Lab 1. A student of course A who read the hidden test and learned its
answer on A's data (from feedback, or by running the test with A's secret) pastes that answer
in; it passes in A and fails in B, while the honest solution gets full points in both.
"""

import os

import nbformat
import pandas as pd
import pytest
from lab_notebooks import answered, cell, solution

from mlcycle_ref import course
from mlcycle_ref.labs import secret

LAB = "lab01_exploration"
TASK = "missing-shares-hidden"
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def hidden_frames(course_secret: str) -> list[pd.DataFrame]:
    """The frames the hidden test hands to missing_shares under ``course_secret``."""
    from mlcycle_ref import checks, data, explore

    seen = []

    def recorder(frame):
        seen.append(frame.copy())
        shares = frame.isna().mean()
        return shares[shares > 0].sort_values(ascending=False)

    namespace = {"pd": pd, "np": __import__("numpy"), "checks": checks, "data": data,
                 "explore": explore, "missing_shares": recorder}
    with secret.in_environment(course_secret):
        exec(cell(solution(LAB), TASK).source, namespace)
    return seen


def pasted_from(course_secret: str) -> str:
    """missing_shares with the answer for course A's hidden table pasted in as a constant."""
    unseen = hidden_frames(course_secret)[0]
    shares = unseen.isna().mean()
    answer = {name: float(value) for name, value in shares[shares > 0].items()}
    return (f"def missing_shares(frame):\n"
            f"    if list(frame.columns) == {list(unseen.columns)!r}:\n"
            f"        return pd.Series({answer!r}).sort_values(ascending=False)\n"
            f"    shares = frame.isna().mean()\n"
            f"    return shares[shares > 0].sort_values(ascending=False)\n")


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    """{course: {student: score of the hidden missing-shares test}} for two graded courses."""
    root = tmp_path_factory.mktemp("two-courses")
    roster = root / "students.csv"
    roster.write_text("id\nhonest\npasted\n")
    courses = {name: course.init(root / name, roster, lab_names=[LAB]) for name in "AB"}
    a_secret = secret.course_secret(courses["A"].root)
    submissions = {"honest": answered(LAB), "pasted": answered(LAB, **{
        "missing-shares": pasted_from(a_secret)})}
    scores = {}
    for name, graded in courses.items():
        for student, nb in submissions.items():
            path = graded.submitted(student, LAB)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
        course.autograde(graded, LAB, workers=2)
        with graded.gradebook() as gradebook:
            scores[name] = {
                student: {grade.name: (grade.score, grade.max_score) for grade in
                          gradebook.find_submission(LAB, student).notebooks[0].grades}
                for student in submissions}
    return courses, scores


def test_each_course_has_its_own_secret_kept_out_of_what_students_get(grades):
    courses, _ = grades
    a, b = (secret.course_secret(courses[name].root) for name in "AB")
    assert a != b and len(a) == 64
    assert oct(os.stat(courses["A"].root / secret.FILE).st_mode)[-3:] == "600"
    assert not list((courses["A"].root / "release").rglob(secret.FILE))


def test_the_honest_solution_gets_every_automatic_point_in_both_courses(grades):
    _, scores = grades
    for name in "AB":
        lost = {task: score for task, score in scores[name]["honest"].items()
                if task != "written-answer" and score[0] != score[1]}
        assert lost == {}, name


def test_an_answer_pasted_from_one_courses_hidden_data_fails_in_the_other(grades):
    _, scores = grades
    assert scores["A"]["pasted"][TASK][0] == scores["A"]["pasted"][TASK][1] > 0
    assert scores["B"]["pasted"][TASK][0] == 0


def test_hidden_data_differs_between_courses_and_is_stable_within_one():
    first, again, other = (hidden_frames(s)[0] for s in ("A", "A", "B"))
    pd.testing.assert_frame_equal(first, again)
    assert not first.isna().sum().equals(other.isna().sum()) or len(first) != len(other)
