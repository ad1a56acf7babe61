"""Export for a spreadsheet and an LMS round-trip: a roster from Canvas in, grades out.

The course has two labs, one never handed in; its roster is Canvas's own gradebook export.
One student is graded, one handed in a broken file, one handed in nothing.
"""

import nbformat
import pytest
from test_course import LAB, answered, submit, tiny_source

from mlcycle_ref import course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
OTHER = "other_lab"
CANVAS_ROSTER = ('Student,ID,SIS User ID,SIS Login ID,Section,Lab 1 (331)\n'
                 '    Points Possible,,,,,10\n'
                 '"Núñez, José",1042,s1,jose,A,\n'
                 '"Lovelace, Ada",1043,s2,ada,A,\n'
                 '"Hopper, Grace",1044,s3,grace,B,\n'
                 '"Student, Test",1099,,,,\n')


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    for name in (LAB, OTHER):
        (root / "sources" / name).mkdir(parents=True)
        nbformat.write(tiny_source(), root / "sources" / name / f"{name}.ipynb")
    roster = root / "canvas.csv"
    roster.write_text(CANVAS_ROSTER, encoding="utf-8-sig")
    grading_course = course.init(root / "course", roster, source=root / "sources")
    submit(grading_course, "1042", answered(grading_course))
    submit(grading_course, "1043", b"not a notebook")
    summary = course.autograde(grading_course, LAB, workers=2)
    assert summary.graded == ["1042"] and list(summary.failed) == ["1043"]
    return grading_course


def test_a_canvas_gradebook_export_is_a_roster(graded):
    assert course.roster_ids(graded) == ["1042", "1043", "1044"]
    with graded.gradebook() as gradebook:
        student = gradebook.find_student("1042")
        assert (student.first_name, student.last_name) == ("José", "Núñez")


def test_export_leaves_out_labs_nobody_handed_in_and_blanks_what_has_no_grade(graded):
    table = course.export(graded).set_index("student_id")
    assert list(table["lab"].unique()) == [LAB]
    assert table["status"].to_dict() == {"1042": "graded", "1043": "failed", "1044": "missing"}
    assert table.loc["1042", "score"] == 3.0
    assert table.loc[["1043", "1044"], "score"].isna().all()
    other = course.export(graded, lab_names=["other"])
    assert list(other["lab"].unique()) == [OTHER] and other["score"].isna().all()


def test_wide_export_has_a_row_per_student_with_tasks_and_provisional_flags(graded):
    table = course.export(graded, layout="wide", tasks=True).set_index("student_id")
    assert list(table.index) == ["1042", "1043", "1044"]
    row = table.loc["1042"]
    assert (row[LAB], row[f"{LAB}:double-tests"], row[f"{LAB}:double-hidden"]) == (3, 1, 2)
    # The written answer waits for a human: blank, and the lab's score is provisional.
    assert row[f"{LAB}:why"] != row[f"{LAB}:why"] and row[f"{LAB} (provisional)"]
    assert table.loc[["1043", "1044"], LAB].isna().all()


def test_canvas_and_moodle_files_open_in_excel_with_their_accents(graded, tmp_path, mlcycle):
    code, out, _ = mlcycle("course", "export", "--course", graded.root, "--format", "canvas",
                           "--output", tmp_path / "canvas.csv")
    assert code == 0 and "wrote 4 row(s)" in out
    content = (tmp_path / "canvas.csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbf"), "a byte-order mark tells Excel it is UTF-8"
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == f"Student,ID,SIS User ID,SIS Login ID,Section,{LAB}"
    assert lines[1] == f"    Points Possible,,,,,{4.0}"
    assert lines[2] == '"Núñez, José",1042,,,,3.0'
    code, _, _ = mlcycle("course", "export", "--course", graded.root, "--format", "moodle")
    lines = (graded.root / "grades-moodle.csv").read_text(encoding="utf-8-sig").splitlines()
    assert code == 0 and lines[0] == f"ID number,First name,Last name,Email address,{LAB}"
    assert lines[1] == "1042,José,Núñez,,3.0" and lines[3] == "1044,Grace,Hopper,,"


def test_export_replaces_only_files_it_wrote(graded, tmp_path, mlcycle):
    target = tmp_path / "grades.csv"
    target.write_text("my own notes\n")
    args = ("course", "export", "--course", graded.root, "--output", target)
    code, _, err = mlcycle(*args)
    assert code == 2 and "exists and was not written by export" in err
    assert target.read_text() == "my own notes\n"
    assert mlcycle(*args, "--force")[0] == 0
    assert mlcycle(*args)[0] == 0, "its own file, unchanged since"
    target.write_text(target.read_text(encoding="utf-8-sig") + "edited,by,hand\n")
    assert mlcycle(*args)[0] == 2
