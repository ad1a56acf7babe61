"""Runs that leave nothing behind and lose no work: the grading process stopped mid-batch by
Ctrl-C, by SIGKILL (nothing can clean up after it) and by SIGHUP (a dropped SSH session) leaves
no process and no scratch folder, a SIGHUP still prints the summary, and the next run grades
each submission the stopped runs did not, once."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import nbformat
import pytest
from test_course import LAB, answered, submit, tiny_source
from waiting import wait_until

from mlcycle_ref import course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
STUDENTS = [f"s{number}" for number in range(1, 7)]
# Every submission sleeps, so that no run finishes its batch before the test stops it; every
# other one is wrong, so that a score shows whose notebook a grade came from.
SLOW = "import time\ntime.sleep(1.5)\ndef double(x):\n    return {}"
#: Automatic points of the tiny lab (its written answer is marked by hand).
AUTO = 3
CLI = ("import argparse, sys\nfrom mlcycle_ref import course\n"
       "parser = argparse.ArgumentParser()\ncourse.register(parser.add_subparsers())\n"
       "args = parser.parse_args(sys.argv[1:])\nsys.exit(args.handler(args))")


def expected_score(student):
    return AUTO if STUDENTS.index(student) % 2 else 0


@pytest.fixture(scope="module")
def slow_class_made(tmp_path_factory):
    """The class with its submissions, ungraded, made once."""
    root = tmp_path_factory.mktemp("slow-class")
    (root / "sources" / LAB).mkdir(parents=True)
    nbformat.write(tiny_source(), root / "sources" / LAB / f"{LAB}.ipynb")
    roster = root / "students.csv"
    roster.write_text("id\n" + "\n".join(STUDENTS) + "\n")
    grading_course = course.init(root / "course", roster, source=root / "sources")
    for student in STUDENTS:
        answer = SLOW.format("2 * x" if expected_score(student) else "x")
        submit(grading_course, student, answered(grading_course, answer))
    return grading_course


@pytest.fixture
def slow_class(slow_class_made, tmp_path):
    """A copy of the ungraded class for one test (a course folder grades wherever it is)."""
    return course.open_course(shutil.copytree(slow_class_made.root, tmp_path / "course"))


def records(grading_course) -> dict[str, dict]:
    """Student -> grading record of each submission graded so far."""
    return {path.stem: course.read_record(path)
            for path in (grading_course.root / "grading" / LAB).glob("*.json")}


def start(grading_course, scratch: Path, results: int = 1):
    """The autograde command in a session of its own, marked so its processes can be found;
    returned once the course has ``results`` grading records."""
    marker = uuid.uuid4().hex
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "TMPDIR": str(scratch), "MLCYCLE_TEST_RUN": marker}
    run = subprocess.Popen([sys.executable, "-c", CLI, "course", "autograde", "tiny",
                            "--course", str(grading_course.root), "--workers", "2"],
                           env=env, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    wait_until(lambda: len(records(grading_course)) >= results,
               f"{results} grading record(s) are written", interval=0.05)
    return run, marker


def marked_processes(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"MLCYCLE_TEST_RUN={marker}".encode() in (
                    entry / "environ").read_bytes():
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


def left_behind(marker: str, scratch: Path) -> tuple[list, list]:
    """The run's processes and the scratch folders still there."""
    return marked_processes(marker), sorted(os.listdir(scratch))


def wait_until_nothing_is_left(marker: str, scratch: Path) -> None:
    wait_until(lambda: left_behind(marker, scratch) == ([], []),
               "the run's processes and scratch folders are gone", seconds=60, interval=0.25,
               detail=lambda: left_behind(marker, scratch))


@pytest.fixture
def scratch():
    """A folder for the run's TMPDIR, short enough for the Unix socket its fork server makes
    there (at most 107 bytes of path): under pytest -n, tmp_path is too deep."""
    folder = Path(tempfile.mkdtemp(prefix="mlcycle-signals-"))
    yield folder / "scratch"
    shutil.rmtree(folder)


def test_interrupted_and_killed_runs_leave_nothing_and_resume_grading_each_once(slow_class,
                                                                              scratch):
    # Ctrl-C: the run stops between two results and says so.
    run, _ = start(slow_class, scratch)
    os.killpg(run.pid, signal.SIGINT)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 130 and "Interrupted: run the same command again" in output
    # kill -9 of the grading process alone: its workers take down all they started.
    run, marker = start(slow_class, scratch, results=len(records(slow_class)) + 1)
    assert len(marked_processes(marker)) >= 3, "the parent, a fork server and workers"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    wait_until_nothing_is_left(marker, scratch)
    first = records(slow_class)
    assert 2 <= len(first) < len(STUDENTS), "both runs stopped mid-batch"

    summary = course.autograde(slow_class, LAB, workers=2)
    assert sorted(summary.already) == sorted(first)
    assert sorted(summary.graded) == sorted(set(STUDENTS) - set(first))
    again = records(slow_class)
    for student in STUDENTS:
        assert again[student]["merged"]
        if student in first:
            assert (again[student]["run"], again[student]["graded_at"]) == (
                first[student]["run"], first[student]["graded_at"])
    with slow_class.gradebook() as gradebook:
        submissions = gradebook.find_assignment(LAB).submissions
        assert {submission.student.id: submission.score for submission in submissions} == {
            student: expected_score(student) for student in STUDENTS}


def test_sighup_prints_the_summary_and_leaves_nothing(slow_class, scratch):
    run, marker = start(slow_class, scratch)
    os.kill(run.pid, signal.SIGHUP)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "Interrupted: run the same command again to grade the rest." in output
    assert "submission(s) graded" in output
    wait_until_nothing_is_left(marker, scratch)


def test_the_next_run_removes_scratch_folders_of_dead_runs(tmp_path, monkeypatch):
    from mlcycle_ref.course import pool

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / f"{pool.SCRATCH_PREFIX}{dead}-abc" / "mlcycle-grade-x").mkdir(parents=True)
    alive = tmp_path / f"{pool.SCRATCH_PREFIX}{os.getpid()}-def"
    alive.mkdir()
    mine = Path(pool.new_scratch())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([alive.name, mine.name])


def test_a_temporary_folder_too_deep_for_the_workers_socket_is_refused_clearly(slow_class,
                                                                               tmp_path):
    deep = tmp_path / ("d" * 40) / ("e" * 40)
    deep.mkdir(parents=True)
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "TMPDIR": str(deep)}
    run = subprocess.run([sys.executable, "-m", "mlcycle_ref.cli", "course", "autograde",
                          "tiny", "--course", str(slow_class.root)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "too deep for the grading workers' socket" in run.stderr
    assert "Traceback" not in run.stderr
    assert not list((slow_class.root / "grading").rglob("*.json")), "nothing was graded"
