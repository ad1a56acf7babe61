"""Deadlines and late penalties, and course folders that can be copied or moved.

One tiny-lab course with a due date: three students hand in through an LMS zip, on time,
half an hour late and four hours late, and the class is graded. Plain ``nbgrader autograde``
then grades a copy of the folder, and must agree on every score and penalty.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from test_course import LAB, answered, tiny_source

from mlcycle_ref import course
from mlcycle_ref.course import deadlines

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
DUE = "2026-11-30 17:00"
#: Zip entry time of each student's notebook, and the per-hour penalty it earns at 0.5 points.
HANDED_IN = {"s001": ((2026, 11, 30, 16, 59, 0), 0.0),
             "s002": ((2026, 11, 30, 17, 30, 0), 0.5),
             "s003": ((2026, 11, 30, 21, 0, 0), 2.0)}
#: Automatic points of the tiny lab (its written answer is marked by hand).
AUTO = 3.0


def penalties(grading_course):
    """Student -> (score after penalty, penalty) from the gradebook."""
    with grading_course.gradebook() as gradebook:
        return {submission.student.id: (
                    submission.score - (submission.late_submission_penalty or 0.0),
                    submission.late_submission_penalty or 0.0)
                for submission in gradebook.find_assignment(LAB).submissions}


def snapshot(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def late_course(tmp_path_factory):
    """The graded class: (course, its folder's files right after grading)."""
    root = tmp_path_factory.mktemp("late")
    source = root / "sources"
    (source / LAB).mkdir(parents=True)
    nbformat.write(tiny_source(), source / LAB / f"{LAB}.ipynb")
    roster = root / "students.csv"
    roster.write_text("id\n" + "\n".join(HANDED_IN) + "\n")
    grading_course = course.init(root / "course", roster, source=source, timeout=10)
    from mlcycle_ref import cli

    assert cli.main(["course", "deadline", "tiny", "--course", str(grading_course.root),
                     "--due", DUE, "--penalty", "per-hour", "--points-per-hour", "0.5"]) == 0
    archive = root / "lms.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for student, (when, _) in HANDED_IN.items():
            bundle.writestr(zipfile.ZipInfo(f"{student}_{LAB}.ipynb", when),
                            nbformat.writes(answered(grading_course)))
    course.collect(grading_course, LAB, archive)
    summary = course.autograde(grading_course, LAB, workers=2)
    assert sorted(summary.graded) == sorted(HANDED_IN)
    return grading_course, snapshot(grading_course.root)


def test_the_due_date_and_penalty_policy_are_nbgraders_own(late_course):
    grading_course, _ = late_course
    with grading_course.gradebook() as gradebook:
        assert f"{gradebook.find_assignment(LAB).duedate:%Y-%m-%d %H:%M}" == DUE
    config = (grading_course.root / "nbgrader_config.py").read_text()
    assert "c.PerHourPenalty.points_per_hour = 0.5" in config
    assert not [line for line in config.splitlines()
                if line.startswith("c.LateSubmissionPlugin.penalty_method")]


def test_late_submissions_lose_points_per_hour_started(late_course):
    grading_course, _ = late_course
    assert penalties(grading_course) == {student: (AUTO - penalty, penalty)
                                         for student, (_, penalty) in HANDED_IN.items()}
    table = course.export(grading_course).set_index("student_id")
    assert table.loc["s003", "submitted_at"] == "2026-11-30 21:00:00 UTC"
    assert table.loc["s003", "hours_late"] == 4.0 and table.loc["s003", "late_penalty"] == 2.0
    assert table.loc["s001", "hours_late"] == 0.0 and table.loc["s001", "score"] == AUTO


def test_plain_nbgrader_grading_a_copy_agrees(late_course, tmp_path):
    grading_course, _ = late_course
    copy = tmp_path / "copy"
    shutil.copytree(grading_course.root, copy)
    nbgrader = Path(sys.executable).with_name("nbgrader")
    env = {**os.environ, "PATH": f"{nbgrader.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(nbgrader), "autograde", LAB, "--force"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "late" in done.stderr  # nbgrader logs each late submission
    assert penalties(course.open_course(copy)) == penalties(grading_course)


def test_a_copied_course_grades_and_exports_in_its_new_place(late_course, tmp_path, mlcycle):
    grading_course, files = late_course
    copy = tmp_path / "elsewhere" / "course"
    shutil.copytree(grading_course.root, copy)
    config = (copy / "nbgrader_config.py").read_text()
    assert str(grading_course.root) not in config, "no absolute path is stored"
    moved = course.open_course(copy)
    assert moved.root == copy and moved.source == copy / "source"
    assert moved.db_url == f"sqlite:///{copy / 'gradebook.db'}"
    # The copy's own changes: s001 resubmits something wrong, grading and export run there.
    path = moved.submitted("s001", LAB)
    nbformat.write(answered(moved, "def double(x):\n    return x"), path)
    code, out, _ = mlcycle("course", "autograde", "tiny", "--course", copy, "--workers", "1")
    assert code == 0 and "1 submission(s) graded" in out
    code, out, _ = mlcycle("course", "export", "--course", copy)
    assert code == 0 and (copy / "grades.csv").is_file()
    assert penalties(moved)["s001"] == (0.0, 0.0)
    assert snapshot(grading_course.root) == files, "the original folder is untouched"
    assert penalties(grading_course)["s001"] == (AUTO, 0.0)


def test_an_extension_lifts_the_penalty_at_once(late_course, tmp_path, mlcycle):
    grading_course, _ = late_course
    copy = course.open_course(shutil.copytree(grading_course.root, tmp_path / "copy"))
    code, out, _ = mlcycle("course", "deadline", "tiny", "--course", copy.root,
                           "--student", "s003", "--extension", "4")
    assert code == 0 and "extension for s003: 4 hour(s)" in out
    assert penalties(copy)["s003"] == (AUTO, 0.0)
    assert penalties(copy)["s002"] == (AUTO - 0.5, 0.5)
    deadlines.set_penalty(copy, "zero")
    deadlines.set_deadline(copy, LAB, deadlines.parse_due(DUE))
    assert penalties(copy) == {"s001": (AUTO, 0.0), "s002": (0.0, AUTO), "s003": (AUTO, 0.0)}


def test_bad_deadline_input_is_named(late_course, mlcycle):
    grading_course, _ = late_course
    code, _, err = mlcycle("course", "deadline", "tiny", "--course", grading_course.root,
                           "--due", "next friday")
    assert code == 2 and "due date 'next friday': expected a date and time" in err
    code, _, err = mlcycle("course", "deadline", "tiny", "--course", grading_course.root,
                           "--student", "nobody", "--extension", "2")
    assert code == 2 and "nobody: not a student of this course" in err
    code, _, err = mlcycle("course", "deadline", "tiny", "--course", grading_course.root,
                           "--extension", "2")
    assert code == 2 and "needs both a student and a number of hours" in err


def test_init_again_keeps_the_instructors_configuration(late_course, tmp_path):
    grading_course, _ = late_course
    copy = shutil.copytree(grading_course.root, tmp_path / "copy")
    config = copy / "nbgrader_config.py"
    edited = config.read_text() + "c.Execute.timeout = 45  # slow class\n"
    config.write_text(edited)
    roster = tmp_path / "more.csv"
    roster.write_text("id\ns004\n")
    again = course.init(copy, roster)
    assert config.read_text() == edited and again.timeout == 45
    assert course.roster_ids(again) == ["s001", "s002", "s003", "s004"]
