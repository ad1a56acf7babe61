"""Runs that leave nothing behind: the grading process killed mid-batch, by SIGKILL (nothing
can clean up after it) and by SIGHUP (a dropped SSH session), leaves no process and no scratch
folder, and a SIGHUP still prints the summary."""

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
SLOW = "import time\ntime.sleep(3)\ndef double(x):\n    return 2 * x"
CLI = ("import argparse, sys\nfrom mlcycle_ref import course\n"
       "parser = argparse.ArgumentParser()\ncourse.register(parser.add_subparsers())\n"
       "args = parser.parse_args(sys.argv[1:])\nsys.exit(args.handler(args))")


@pytest.fixture
def slow_class(tmp_path):
    (tmp_path / "sources" / LAB).mkdir(parents=True)
    nbformat.write(tiny_source(), tmp_path / "sources" / LAB / f"{LAB}.ipynb")
    roster = tmp_path / "students.csv"
    roster.write_text("id\n" + "\n".join(STUDENTS) + "\n")
    grading_course = course.init(tmp_path / "course", roster, source=tmp_path / "sources")
    for student in STUDENTS:
        submit(grading_course, student, answered(grading_course, SLOW))
    return grading_course


def start(grading_course, scratch: Path):
    """The autograde command in a session of its own, marked so its processes can be found."""
    marker = uuid.uuid4().hex
    scratch.mkdir()
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "TMPDIR": str(scratch), "MLCYCLE_TEST_RUN": marker}
    run = subprocess.Popen([sys.executable, "-c", CLI, "course", "autograde", "tiny",
                            "--course", str(grading_course.root), "--workers", "2"],
                           env=env, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    folder = grading_course.root / "grading" / LAB
    wait_until(lambda: list(folder.glob("*.json")), "the first result came in")
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


def test_a_killed_grading_process_leaves_no_worker_and_no_scratch(slow_class, scratch):
    run, marker = start(slow_class, scratch)
    assert len(marked_processes(marker)) >= 3, "the parent, a fork server and workers"
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    wait_until_nothing_is_left(marker, scratch)
    graded = len(list((slow_class.root / "grading" / LAB).glob("*.json")))
    assert 1 <= graded < len(STUDENTS), "killed mid-batch"


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
