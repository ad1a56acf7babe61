"""The instructor workflow on a tiny lab: course folder, collect, rebuilding and guarding
submissions, limits on what a submission may do, feedback and the command line.

The graded class of synthetic submissions of a real lab is in test_course_cheats.py.
"""

import json
import re
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mlcycle_ref import course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
LAB = "tiny_lab"


def nbgrader_cell(make, source, grade_id, *, grade=False, solution=False, locked=True,
                  points=0):
    meta = {"grade_id": grade_id, "grade": grade, "solution": solution, "locked": locked,
            "schema_version": 3, "task": False}
    if grade:
        meta["points"] = points
    return make(source, metadata={"nbgrader": meta})


def tiny_source():
    """A lab with one function to write, a visible and a hidden test and a written answer."""
    return new_notebook(cells=[
        nbgrader_cell(new_markdown_cell, "# A tiny lab", "intro"),
        nbgrader_cell(new_code_cell, "import numpy as np\nfrom mlcycle_ref import checks",
                      "setup"),
        nbgrader_cell(new_code_cell, "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                      "    ### END SOLUTION", "double", solution=True, locked=False),
        nbgrader_cell(new_code_cell, "checks.expect_close('double(2)', double(2), 4)\n"
                      "print('Visible tests passed.')", "double-tests", grade=True, points=1),
        nbgrader_cell(new_code_cell, "# Hidden tests\n### BEGIN HIDDEN TESTS\n"
                      "checks.expect_equal('double(21)', double(21), 42)\n"
                      "### END HIDDEN TESTS", "double-hidden", grade=True, points=2),
        nbgrader_cell(new_markdown_cell, "Why?\n\n### BEGIN SOLUTION\nBecause.\n"
                      "### END SOLUTION", "why", grade=True, solution=True, locked=False,
                      points=1),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def tiny_sources(folder, *names):
    """``folder`` made a folder of lab sources: the tiny lab under each of ``names``."""
    for name in names:
        (folder / name).mkdir(parents=True)
        nbformat.write(tiny_source(), folder / name / f"{name}.ipynb")
    return folder


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    """A course with the tiny lab and three students, from a roster with extra columns."""
    root = tmp_path_factory.mktemp("tiny")
    source = tiny_sources(root / "sources", LAB)
    (source / LAB / "notes.txt").write_text("a file the lab needs")
    roster = root / "students.csv"
    roster.write_text("id,first_name,last_name,email,section\n"
                      "s001,Ada,Lovelace,ada@example.org,A\ns002,Alan,Turing,,B\n"
                      "s003,Grace,Hopper,,A\ns004,Edsger,Dijkstra,,B\ns005,Barbara,Liskov,,A\n")
    return course.init(root / "course", roster, source=source, timeout=5)


def released(tiny, lab=LAB):
    return nbformat.read(tiny.root / "release" / lab / f"{lab}.ipynb", as_version=4)


def answered(tiny, answer="def double(x):\n    return 2 * x", written="Because it is twice.",
             lab=LAB):
    nb = released(tiny, lab)
    for cell in nb.cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if grade_id == "double":
            cell.source = answer
        elif grade_id == "why":
            cell.source = written
    return nb


def submit(grading_course, student, nb, lab=LAB):
    """Place one notebook (or raw bytes, for broken files) where collect would put it."""
    path = grading_course.submitted(student, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------- course folder


def test_init_writes_an_nbgrader_course_with_roster_and_lab(tiny_course):
    config = (tiny_course.root / "nbgrader_config.py").read_text()
    assert str(tiny_course.root) not in config, "paths are relative to the folder"
    assert tiny_course.source == tiny_course.root / "source"
    assert (tiny_course.source / LAB / "notes.txt").is_file(), "the lab is copied in"
    reopened = course.open_course(tiny_course.root)
    assert reopened == tiny_course and reopened.timeout == 5
    assert course.roster_ids(tiny_course)[:5] == ["s001", "s002", "s003", "s004", "s005"]
    with tiny_course.gradebook() as gradebook:
        assert gradebook.find_student("s001").email == "ada@example.org"
        assert [assignment.name for assignment in gradebook.assignments] == [LAB]
    assert "BEGIN HIDDEN" not in (tiny_course.root / "release" / LAB / f"{LAB}.ipynb").read_text()


def test_init_again_keeps_the_gradebook_and_adds_students(tiny_course, tmp_path):
    more = tmp_path / "more.csv"
    more.write_text("student_id\ns006\n")
    course.init(tiny_course.root, more)
    assert course.roster_ids(tiny_course) == ["s001", "s002", "s003", "s004", "s005", "s006"]
    with pytest.raises(course.CourseError, match="already uses sqlite"):
        course.init(tiny_course.root, db_url="postgresql://elsewhere/db")


@pytest.mark.parametrize(("text", "problem"), [
    ("name,email\nAda,a@b\n", "needs a column of student ids (id, student_id, ID, ID number, "
     "Username, Email address); found name, email"),
    ("ID number,First name\n,Ada\n", "line 2: student id '' is not usable"),
    ("id\ns1\ns1\n", "line 3: student id 's1' appears twice"),
    ("id\n../etc\n", "line 2: student id '../etc' is not usable as a folder name"),
])
def test_bad_rosters_are_refused_with_the_line(tmp_path, text, problem):
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    with pytest.raises(course.CourseError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        course.read_roster(roster)


def test_a_folder_that_is_no_course_is_named(tmp_path, mlcycle):
    code, _, err = mlcycle("course", "export", "--course", str(tmp_path))
    assert code == 2 and f"{tmp_path}: not a course folder" in err


# --------------------------------------------------------------------------- collect


def test_collect_from_an_lms_zip_reports_every_oddity(tiny_course, tmp_path):
    archive = tmp_path / "export.zip"
    notebook = nbformat.writes(answered(tiny_course))
    old = zipfile.ZipInfo("Ada Lovelace_s001_attempt_tiny_lab-old.ipynb", (2020, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("Ada Lovelace_s001_attempt_tiny_lab.ipynb", notebook)
        bundle.writestr(old, "{}")
        bundle.writestr("Alan Turing_s002_attempt_Untitled.ipynb", notebook)
        bundle.writestr("Mallory_s999_attempt_tiny_lab.ipynb", notebook)
        bundle.writestr("s001_and_s002_tiny_lab.ipynb", notebook)
        bundle.writestr("__MACOSX/._s001_tiny_lab.ipynb", "junk")
        bundle.writestr("s001_notes.txt", "stray")
    report = course.collect(tiny_course, "tiny", archive)
    assert report.collected == {"s001": "Ada Lovelace_s001_attempt_tiny_lab.ipynb",
                                "s002": "Alan Turing_s002_attempt_Untitled.ipynb"}
    assert report.renamed == {"s002": "Alan Turing_s002_attempt_Untitled.ipynb"}
    assert set(report.duplicates["s001"]) == {"Ada Lovelace_s001_attempt_tiny_lab-old.ipynb"}
    assert report.unknown == ["Mallory_s999_attempt_tiny_lab.ipynb"]
    assert report.rejected == {"s001_and_s002_tiny_lab.ipynb": "names several students "
                                                                "(s001, s002)"}
    assert set(report.stray) == {"__MACOSX/._s001_tiny_lab.ipynb", "s001_notes.txt"}
    assert report.missing == [student for student in course.roster_ids(tiny_course)
                              if student not in ("s001", "s002")]
    assert tiny_course.submitted("s001", LAB).read_text() == notebook
    assert (tiny_course.submitted("s001", LAB).parent / "timestamp.txt").read_text()
    text = report.render()
    assert "Collected 2 submission(s) of tiny_lab." in text
    assert "Students without a submission (" in text


def test_collect_from_a_folder_of_student_folders(tiny_course, tmp_path, mlcycle):
    (tmp_path / "s003").mkdir()
    nbformat.write(answered(tiny_course), tmp_path / "s003" / f"{LAB}.ipynb")
    (tmp_path / "s003" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "s003" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    code, out, _ = mlcycle("course", "collect", "tiny", "--from", str(tmp_path),
                            "--course", str(tiny_course.root))
    assert code == 0 and "Collected 1 submission(s)" in out
    assert "s003/.ipynb_checkpoints/x.ipynb" in out
    assert tiny_course.submitted("s003", LAB).is_file()


def test_match_student_needs_whole_ids():
    assert course.match_student("s0011_lab.ipynb", ["s001"]) == []
    assert course.match_student("S001/lab.ipynb", ["s001"]) == ["s001"]


# --------------------------------------------------------------------------- restoring cells


def reference(tiny):
    return course.graded_reference(tiny, LAB)


def test_reference_has_hidden_tests_imports_and_lab_files(tiny_course):
    ref = reference(tiny_course)
    sources = {entry["cell"]["metadata"]["nbgrader"]["grade_id"]: entry["cell"]["source"]
               for entry in ref["cells"]}
    assert "double(21)" in sources["double-hidden"] and "return 2 * x" not in sources["double"]
    assert ref["imports"] == "import numpy as np\nfrom mlcycle_ref import checks"
    assert ref["files"] == {"notes.txt": b"a file the lab needs"}


def test_restore_puts_back_deleted_duplicated_and_reordered_cells(tiny_course):
    nb = answered(tiny_course)
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in nb.cells}
    helper = new_code_cell("helper = 1")
    stale = nbformat.from_dict(json.loads(json.dumps(cells["double"])))
    stale.source = "def double(x):\n    return 0"
    nb.cells = [cells["double-tests"], cells["setup"], stale, helper, cells["why"],
                cells["double"], cells["double-tests"]]
    nb.cells[0] = nbformat.from_dict(json.loads(json.dumps(cells["double-tests"])))
    nb.cells[0].source = "pass"
    rebuilt, notes = course.restore(nb, reference(tiny_course))
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in rebuilt.cells]
    assert ids == ["intro", "setup", None, None, "double", "double-tests", "double-hidden", "why"]
    assert [rebuilt.cells[2].source, rebuilt.cells[3].source] == [stale.source, "helper = 1"]
    assert "double(21)" in rebuilt.cells[6].source
    assert "return 2 * x" in rebuilt.cells[4].source
    assert set(notes) == {"a copy of locked cell double-tests was dropped",
                          "an earlier copy of answer cell double ran as an ordinary cell",
                          "cell intro was missing: it was put back from the lab",
                          "cell double-hidden was missing: it was put back from the lab",
                          "the lab cells were out of order: they were put back in order"}
    nbformat.validate(rebuilt)


def test_restore_overrides_edited_metadata_and_cell_types(tiny_course):
    nb = answered(tiny_course)
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        if meta["grade_id"] == "double-tests":
            meta.update(points=100, locked=False)
        if meta["grade_id"] == "double":
            cell.cell_type = "markdown"
            del cell["outputs"], cell["execution_count"]
    rebuilt, _ = course.restore(nb, reference(tiny_course))
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in rebuilt.cells}
    assert cells["double-tests"].metadata["nbgrader"]["points"] == 1
    assert cells["double"].cell_type == "code" and "return 2 * x" in cells["double"].source


# --------------------------------------------------------------------------- grading


# Reads a file the lab ships, gets the answer wrong, and makes both tests pass - unless the
# guard puts the checks back.
PATCHED = """open('notes.txt').read()
def double(x):
    return x + 1
import mlcycle_ref.checks as c
c.expect_close = lambda *args, **kwargs: None
c.expect_equal.__code__ = (lambda *args, **kwargs: None).__code__
all = lambda values: True"""
# Each sleeps 0.5 s, well within the 2 s cell timeout even on a busy machine (cells of 1.5 s
# timed out there): no cell times out, the whole runs into the limit.
SLEEPY_CELLS = 40
# The limit the others must keep: s005, the slowest, takes a kernel start, its 2 s timeout and
# nbclient's 4 s wait for the output of the cell that ignored the interrupt (7-8 s with both
# cores busy).
LIMIT = 14


@pytest.fixture(scope="module")
def graded(tiny_course):
    """Grade a small class of the tiny lab, most of it hostile, with short limits."""
    sleepy = answered(tiny_course)
    sleepy.cells[3:3] = [new_code_cell("import time\ntime.sleep(0.5)")
                         for _ in range(SLEEPY_CELLS)]
    submissions = {
        "s001": answered(tiny_course, "import os\nos.kill(os.getppid(), 9)"),
        "s002": answered(tiny_course),
        "s003": sleepy,
        "s004": answered(tiny_course, PATCHED),
        "s005": answered(tiny_course, "import signal, time\nsignal.signal(signal.SIGINT, "
                         "lambda *args: None)\nwhile True:\n    time.sleep(0.1)"),
    }
    for student, nb in submissions.items():
        submit(tiny_course, student, nb)
    # A worker for s003 from the start: it sleeps through the limit, the others grade the rest.
    return course.autograde(tiny_course, LAB, workers=3, timeout=2, limit=LIMIT)


def scores(tiny, student):
    with tiny.gradebook() as gradebook:
        submission = gradebook.find_submission(LAB, student)
        return {grade.name: grade.score for grade in submission.notebooks[0].grades}


def record(tiny, student):
    return json.loads(tiny.record(student, LAB).read_text())


def test_class_of_tiny_lab_is_graded_despite_killers_and_loops(tiny_course, graded):
    assert sorted(graded.graded) == ["s001", "s002", "s003", "s004", "s005"]
    assert graded.failed == {}
    # s001 kills its kernel's parent: in the sandbox that is bubblewrap's process, which it may
    # not signal (grading as root) or whose death takes down its own sandbox and nothing else.
    assert scores(tiny_course, "s001") == {"double-tests": 0, "double-hidden": 0, "why": 0}
    # nbgrader counts a written answer as 0 until it is marked by hand.
    assert scores(tiny_course, "s002") == {"double-tests": 1, "double-hidden": 2, "why": 0}
    assert sorted(graded.manual) == ["s001", "s002", "s003", "s004", "s005"]


@pytest.mark.parametrize(("student", "problem"), [
    ("s003", rf"stopped at cell #\d+: the submission ran longer than {LIMIT} s in all"),
    ("s005", "stopped at cell double: it kept running after its timeout and an interrupt"),
])
def test_runaway_submissions_are_stopped_and_their_tests_score_zero(tiny_course, graded,
                                                                     student, problem):
    assert re.fullmatch(problem, graded.problems[student])
    problem = graded.problems[student]
    assert scores(tiny_course, student)["double-hidden"] == 0
    messages = [task["message"] for task in record(tiny_course, student)["tasks"][:2]]
    assert messages == [f"NotRun: this test did not run: {problem}"] * 2


def test_patched_checks_are_put_back_before_each_test(tiny_course, graded):
    assert scores(tiny_course, "s004") == {"double-tests": 0, "double-hidden": 0, "why": 0}
    messages = [task["message"] for task in record(tiny_course, "s004")["tasks"][:2]]
    assert messages == ["value of double(2) is not correct (checked to within 1e-06); found 3",
                        "value of double(21) is not correct; found 22"]


def test_a_rerun_grades_nothing_twice_and_a_new_notebook_again(tiny_course, graded):
    again = course.autograde(tiny_course, LAB, students=["s002"])
    assert again.graded == [] and again.already == ["s002"]
    submit(tiny_course, "s002", answered(tiny_course, "def double(x):\n    return x + x"))
    assert course.autograde(tiny_course, LAB, students=["s002"], workers=1).graded == ["s002"]


def test_invalid_json_fails_with_a_reason(tiny_course, graded):
    submit(tiny_course, "s001", b"{ not json")
    summary = course.autograde(tiny_course, LAB, students=["s001"], workers=1)
    assert "s001/tiny_lab.ipynb is not a readable notebook" in summary.failed["s001"]
    page = course.feedback(tiny_course, LAB, ["s001"])["s001"].read_text()
    assert "could not be graded automatically" in page and "not a readable notebook" in page


OTHER_LAB = "other_lab"


@pytest.fixture(scope="module")
def two_labs(tmp_path_factory):
    """A course of two tiny labs: s001 hands in both, s002 only the other one, wrongly."""
    root = tmp_path_factory.mktemp("two-labs")
    (root / "students.csv").write_text("id\ns001\ns002\n")
    grading = course.init(root / "course", root / "students.csv",
                          source=tiny_sources(root / "sources", LAB, OTHER_LAB), timeout=5)
    submit(grading, "s001", answered(grading), LAB)
    submit(grading, "s001", answered(grading, lab=OTHER_LAB), OTHER_LAB)
    submit(grading, "s002", answered(grading, "def double(x):\n    return x + 1",
                                     lab=OTHER_LAB), OTHER_LAB)
    return grading


def test_an_unknown_lab_is_refused_before_anything_is_graded(two_labs, mlcycle):
    root = str(two_labs.root)
    code, _, err = mlcycle("course", "autograde", "tiny", "lab9", "--course", root)
    assert code == 2 and "'lab9' is not a lab" in err and "labs: other_lab, tiny_lab" in err
    code, _, err = mlcycle("course", "autograde", "--course", root)
    assert code == 2 and "name the labs to grade, or give --all" in err
    code, _, err = mlcycle("course", "autograde", "tiny", "--all", "--course", root)
    assert code == 2 and "not both" in err
    with pytest.raises(course.CourseError, match="no submission of tiny_lab, other_lab for s009"):
        course.autograde(two_labs, [LAB, OTHER_LAB], students=["s002", "s009"])
    assert not (two_labs.root / "grading").exists(), "nothing was graded"


def test_several_labs_are_graded_in_one_run_by_one_pool(two_labs, mlcycle, monkeypatch):
    from mlcycle_ref.course import pool

    pools = []

    def run_pool(jobs, *args):  # the real pool, counted
        pools.append(sorted((job["reference"]["lab"], job["student"]) for job in jobs))
        return real_run_pool(jobs, *args)

    real_run_pool = pool.run_pool
    monkeypatch.setattr(pool, "run_pool", run_pool)
    code, out, _ = mlcycle("course", "autograde", "tiny", "other", "--course",
                           str(two_labs.root), "--workers", "2")
    assert code == 0, out
    assert pools == [[(OTHER_LAB, "s001"), (OTHER_LAB, "s002"), (LAB, "s001")]]
    lines = out.splitlines()
    assert re.fullmatch(r"tiny_lab +1 +0 +0 +0 +1", lines[1]), out
    assert re.fullmatch(r"other_lab +2 +0 +0 +0 +2", lines[2]), out
    assert lines[3].startswith("2 lab(s): 3 submission(s) graded, 0 could not be graded, in ")
    assert "other_lab:\n  Needing manual grading (2), with `mlcycle course grade other_lab`: " \
           "s001, s002" in out
    with two_labs.gradebook() as gradebook:
        totals = {(lab, student): gradebook.find_submission(lab, student).score
                  for lab, student in [(LAB, "s001"), (OTHER_LAB, "s001"), (OTHER_LAB, "s002")]}
    assert totals == {(LAB, "s001"): 3, (OTHER_LAB, "s001"): 3, (OTHER_LAB, "s002"): 0}
    assert {path.relative_to(two_labs.root / "grading").as_posix()
            for path in (two_labs.root / "grading").rglob("*.json")} == {
        "tiny_lab/s001.json", "other_lab/s001.json", "other_lab/s002.json"}
    assert (two_labs.root / "grading" / "workers.log").is_file(), "one pool, one log"

    again = course.autograde(two_labs, None, students=["s002"])
    assert isinstance(again, course.RunSummary) and pools == pools[:1], "nothing to grade"
    assert [(summary.lab, summary.graded, summary.already) for summary in again.labs] == [
        (OTHER_LAB, [], ["s002"]), (LAB, [], [])]


def test_feedback_shows_scores_and_visible_messages_only(tiny_course, graded):
    page = course.feedback(tiny_course, LAB, ["s004"])["s004"].read_text()
    assert "double(21)" not in page and "BEGIN HIDDEN" not in page
    assert "the hidden tests of this cell failed with AssertionError" in page
    assert "Score: 0.0 / 1.0" in page and "value of double(2) is not correct" in page
    assert course.offline_html(page) == page, "nothing loads from another host"
    assert "cdnjs" not in page and "MathJax.Hub" not in page, "no MathJax from a CDN"


def test_feedback_withholds_output_that_repeats_hidden_tests():
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                         "grade_id": "t", "schema_version": 3}}
    hidden_line = "checks.expect_equal('secret', answer(41), 42)"
    hidden = new_code_cell(f"### BEGIN HIDDEN TESTS\n{hidden_line}\n### END HIDDEN TESTS",
                           metadata=meta)
    visible = new_code_cell("checks.expect_equal('f(1)', f(1), 2)",
                            metadata={"nbgrader": {**meta["nbgrader"], "grade_id": "v"}})
    visible.outputs = [nbformat.from_dict({"output_type": "error", "ename": "AssertionError",
                                           "evalue": f"value of f(1) is not correct; found "
                                                     f"{hidden_line!r}", "traceback": []})]
    answer = new_code_cell("print(In)")
    answer.outputs = [nbformat.from_dict({"output_type": "stream", "name": "stdout",
                                          "text": hidden_line})]
    safe = course.feedback_notebook(new_notebook(cells=[answer, hidden, visible]),
                                    notes=["cell x was missing"])
    text = nbformat.writes(safe)
    assert "secret" not in text and "output withheld" in text
    assert safe.cells[0].source.endswith("- cell x was missing")


def test_offline_html_replaces_external_loads():
    page = ('<script src="https://cdn.example/m.js"></script><link href="//cdn.example/x.css">'
            '<style>a { background: url("http://x.example/a.png") }</style><a href="#top">t</a>')
    assert course.offline_html(page) == ('<script src="#"></script><link href="#">'
                                         '<style>a { background: url("#") }</style>'
                                         '<a href="#top">t</a>')


def test_cli_exports_and_reports_the_tiny_class(tiny_course, graded, mlcycle, tmp_path):
    code, out, _ = mlcycle("course", "export", "--course", str(tiny_course.root),
                            "--output", str(tmp_path / "grades.csv"))
    assert code == 0 and f"wrote {len(course.roster_ids(tiny_course))} row(s)" in out
    code, out, _ = mlcycle("course", "report", "tiny", "--course", str(tiny_course.root),
                            "--output", str(tmp_path / "plots"))
    assert code == 0 and "double-tests" in out and "Graded tasks of tiny_lab" in out
    assert (tmp_path / "plots" / "scores.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "pass_rates.png").stat().st_size > 1000
