"""Grading hostile submissions of the tiny lab in the bubblewrap sandbox, next to honest ones.

Each hostile submission tries one thing student code should not manage - read another
student's notebook, the gradebook or the lab source, reach a server on the host's loopback,
read the instructor's environment, write outside its folder, take too much memory, processes,
disk or time - and then answers the task correctly. The honest submissions must still get
full marks, the batch must finish, and every attempt must fail or stay inside its sandbox.
"""

import ast
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import nbformat
import pytest
from test_course import LAB, answered, submit, tiny_course  # noqa: F401 - tiny_course: fixture

from mlcycle_ref import course
from mlcycle_ref.course import sandbox

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

# Set when the tests are collected, before any grading worker starts, so that the workers
# inherit it as they would inherit an instructor's secrets.
CANARY = "MLCYCLE_TEST_INSTRUCTOR_SECRET"
CANARY_VALUE = f"canary-{uuid.uuid4().hex}"
os.environ[CANARY] = CANARY_VALUE

LIMITS = sandbox.Limits(memory_mb=1024, processes=64, file_mb=8, cpu_seconds=60)
#: The duration the fork bomb's children sleep: a mark to find any that outlive grading.
SLEEP_MARK = "4321.123"
ANSWER = "def double(x):\n    return 2 * x"
TRY = '''
import os
def attempt(label, action):
    try:
        action()
        print(label, "REACHED")
    except Exception as error:
        print(label, "blocked", type(error).__name__)
'''


def hostile(code: str) -> str:
    """An answer cell that runs ``code`` first, then answers the task correctly."""
    return f"{TRY}\n{code}\n{ANSWER}"


class Listener:
    """A TCP server on the host's 127.0.0.1 that records whatever reaches it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received, self.connections = [], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(2)
                self.received.append(connection.recv(1024))

    def close(self):
        self.stop.set()
        self.thread.join()
        self.server.close()


def submissions(tiny, listener: Listener, targets: list[str]) -> dict:
    other = tiny.submitted("honest1", LAB)
    gradebook = tiny.root / "gradebook.db"
    source = tiny.source / LAB / f"{LAB}.ipynb"
    return {
        "honest1": answered(tiny),
        "honest2": answered(tiny, "def double(x):\n    return x + x"),
        "peeker": answered(tiny, hostile(
            f"attempt('other', lambda: open({str(other)!r}).read())\n"
            f"attempt('gradebook', lambda: open({str(gradebook)!r}, 'rb').read())\n"
            f"attempt('source', lambda: open({str(source)!r}).read())\n"
            f"attempt('course', lambda: os.listdir({str(tiny.root)!r}))")),
        "caller": answered(tiny, hostile(
            "import socket\n"
            "def call(host, port):\n"
            "    with socket.create_connection((host, port), timeout=3) as line:\n"
            "        line.sendall(b'hello from a submission')\n"
            f"attempt('loopback', lambda: call('127.0.0.1', {listener.port}))\n"
            "attempt('internet', lambda: call('1.1.1.1', 80))")),
        "snoop": answered(tiny, hostile(
            "print('names', sorted(os.environ))\n"
            f"print('canary', os.environ.get({CANARY!r}, 'absent'))\n"
            "attempt('runner environ', lambda: print(open(f'/proc/{os.getppid()}/environ')"
            ".read()))\n"
            "attempt('runner fds', lambda: os.listdir(f'/proc/{os.getppid()}/fd'))")),
        "writer": answered(tiny, hostile("\n".join(
            f"attempt({target!r}, lambda: open({target!r}, 'w').write('escaped'))"
            for target in targets))),
        "hog": answered(tiny, f"memory = bytearray(2 * 2**30)\n{ANSWER}"),
        "forker": answered(tiny, hostile(
            "import subprocess\nchildren = []\n"
            "def spawn():\n    for _ in range(300):\n"
            f"        children.append(subprocess.Popen(['sleep', '{SLEEP_MARK}']))\n"
            "attempt('fork bomb', spawn)\nprint('started', len(children))")),
        "filler": answered(tiny, "open('big.bin', 'wb').write(b'x' * 20 * 2**20)\n" + ANSWER),
        "sleeper": answered(tiny, f"import time\ntime.sleep(600)\n{ANSWER}"),
    }


def processes_with(mark: str) -> list[str]:
    """Command lines of this machine's processes that mention ``mark``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if mark in line and "pytest" not in line:
            found.append(line)
    return found


@pytest.fixture(scope="module")
def graded(tiny_course, tmp_path_factory):  # noqa: F811 - the fixture imported above
    """Grade the class in sandboxes with small limits; keep what the host saw meanwhile."""
    outside = tmp_path_factory.mktemp("outside")
    targets = [str(outside / "escaped.txt"), str(tiny_course.root / "escaped.txt"),
               str(Path(tempfile.gettempdir()) / f"mlcycle-escaped-{uuid.uuid4().hex}"),
               str(Path.home() / f"mlcycle-escaped-{uuid.uuid4().hex}"), "/usr/escaped.txt"]
    listener = Listener()
    try:
        for student, nb in submissions(tiny_course, listener, targets).items():
            submit(tiny_course, student, nb)
        summary = course.autograde(
            tiny_course, LAB, workers=2, limit=60,
            sandbox=sandbox.course_sandbox(tiny_course, **vars(LIMITS)))
    finally:
        listener.close()
    return summary, listener, targets


def answer_outputs(tiny, student) -> tuple[str, list[dict]]:
    """What the answer cell printed, and its error outputs, in the autograded notebook."""
    nb = nbformat.read(tiny.autograded(student, LAB), as_version=4)
    cell = next(cell for cell in nb.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == "double")
    printed = "".join(output.get("text", "") for output in cell.outputs)
    return printed, [output for output in cell.outputs if output.output_type == "error"]


def auto_scores(tiny, student) -> dict:
    with tiny.gradebook() as gradebook:
        submission = gradebook.find_submission(LAB, student)
        return {grade.name: grade.score for grade in submission.notebooks[0].grades
                if grade.name != "why"}


def test_the_batch_finishes_and_honest_work_gets_full_marks(tiny_course, graded):  # noqa: F811
    summary, _, _ = graded
    assert summary.failed == {} and len(summary.graded) == 10
    assert summary.unsandboxed == []
    for student in ("honest1", "honest2", "peeker", "caller", "snoop", "writer", "forker"):
        assert auto_scores(tiny_course, student) == {"double-tests": 1, "double-hidden": 2}
    record = json.loads(tiny_course.record("honest1", LAB).read_text())
    assert record["sandboxed"] is True


def test_other_submissions_the_gradebook_and_the_sources_are_out_of_sight(tiny_course,  # noqa: F811
                                                                           graded):
    printed, _ = answer_outputs(tiny_course, "peeker")
    assert "REACHED" not in printed
    assert printed.count("blocked FileNotFoundError") == 4, printed


def test_the_host_loopback_receives_nothing(tiny_course, graded):  # noqa: F811
    _, listener, _ = graded
    assert listener.connections == 0 and listener.received == []
    printed, _ = answer_outputs(tiny_course, "caller")
    assert "loopback blocked ConnectionRefusedError" in printed
    assert "internet blocked OSError" in printed  # "Network is unreachable"


def test_the_instructors_environment_stays_outside(tiny_course, graded):  # noqa: F811
    printed, _ = answer_outputs(tiny_course, "snoop")
    assert "canary absent" in printed
    assert "runner environ blocked PermissionError" in printed
    assert "runner fds blocked PermissionError" in printed
    names = ast.literal_eval(printed.split("names ", 1)[1].splitlines()[0])
    assert set(names) <= set(sandbox.KEPT_ENV) | {
        "PATH", "HOME", "TMPDIR", "PWD", "PYTHONPATH", "NBGRADER_EXECUTION", "JPY_PARENT_PID",
        "MPLBACKEND", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "PAGER", "GIT_PAGER", "TERM",
        "PYDEVD_USE_FRAME_EVAL"}, names  # the last ones ipykernel sets for itself
    for path in (tiny_course.root / "grading" / LAB).glob("*.json"):
        assert CANARY_VALUE not in path.read_text()
    for path in (tiny_course.root / "autograded").rglob("*.ipynb"):
        assert CANARY_VALUE not in path.read_text()


def test_nothing_is_written_outside_the_scratch_folder(graded):
    _, _, targets = graded
    assert [target for target in targets if os.path.exists(target)] == []


def test_memory_file_size_and_time_limits_are_reported(tiny_course, graded):  # noqa: F811
    _, errors = answer_outputs(tiny_course, "hog")
    assert [error.ename for error in errors] == ["MemoryError"]
    _, errors = answer_outputs(tiny_course, "filler")
    assert [(error.ename, "File too large" in error.evalue) for error in errors] == [
        ("OSError", True)]
    _, errors = answer_outputs(tiny_course, "sleeper")
    assert errors, "the sleeping cell was interrupted at its timeout"
    for student in ("hog", "filler", "sleeper"):
        assert auto_scores(tiny_course, student) == {"double-tests": 0, "double-hidden": 0}


def test_a_fork_bomb_is_stopped_and_leaves_nothing_running(tiny_course, graded):  # noqa: F811
    printed, _ = answer_outputs(tiny_course, "forker")
    assert "fork bomb blocked BlockingIOError" in printed, printed
    started = int(printed.split("started ")[1].split()[0])
    assert 0 < started < LIMITS.processes
    assert processes_with(SLEEP_MARK) == []


def test_without_a_sandbox_the_same_code_reaches_it_all_and_is_recorded(tiny_course,  # noqa: F811
                                                                        graded, tmp_path):
    # The same hostile code graded as the instructor: what the tests above would catch.
    peeker = course.read_record(tiny_course.record("peeker", LAB))
    assert peeker is not None
    for student in ("peeker", "snoop"):
        nb = nbformat.read(tiny_course.submitted(student, LAB), as_version=4)
        submit(tiny_course, f"{student}-plain", nb)
    summary = course.autograde(tiny_course, LAB, workers=2, sandbox=False,
                               students=["peeker-plain", "snoop-plain"])
    assert sorted(summary.unsandboxed) == ["peeker-plain", "snoop-plain"]
    assert "Graded without a sandbox (2): peeker-plain, snoop-plain" in summary.render()
    assert course.read_record(tiny_course.record("snoop-plain", LAB))["sandboxed"] is False
    printed, _ = answer_outputs(tiny_course, "peeker-plain")
    assert printed.count("REACHED") == 4, printed
    printed, _ = answer_outputs(tiny_course, "snoop-plain")
    assert f"canary {CANARY_VALUE}" in printed


def test_dask_workers_grade_in_the_same_sandbox(tiny_course, graded):  # noqa: F811
    from distributed import LocalCluster

    for student in ("peeker", "honest1"):
        nb = nbformat.read(tiny_course.submitted(student, LAB), as_version=4)
        submit(tiny_course, f"{student}-dask", nb)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                      dashboard_address=None) as cluster:
        summary = course.autograde(tiny_course, LAB, scheduler=cluster.scheduler_address,
                                   students=["peeker-dask", "honest1-dask"])
    assert sorted(summary.graded) == ["honest1-dask", "peeker-dask"]
    assert summary.unsandboxed == []
    assert auto_scores(tiny_course, "honest1-dask") == {"double-tests": 1, "double-hidden": 2}
    printed, _ = answer_outputs(tiny_course, "peeker-dask")
    assert "REACHED" not in printed and printed.count("blocked FileNotFoundError") == 4


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    """A PATH without bubblewrap, as on a machine where it is not installed."""
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox.problem.cache_clear()
    yield
    sandbox.problem.cache_clear()


def test_autograde_refuses_without_bubblewrap_and_says_how_to_get_it(tiny_course,  # noqa: F811
                                                                     no_bwrap, mlcycle):
    with pytest.raises(course.CourseError) as refused:
        course.autograde(tiny_course, LAB, students=["honest1"], force=True)
    message = str(refused.value)
    assert "`bwrap` command was not found" in message
    assert "apt-get install bubblewrap" in message and "--no-sandbox" in message
    code, _, err = mlcycle("course", "autograde", LAB, "--course", tiny_course.root,
                           "--student", "honest1", "--force")
    assert code == 2 and "cannot grade in a sandbox" in err


def test_limits_come_from_the_course_configuration_then_the_command_line(tiny_course):  # noqa: F811
    config = tiny_course.root / course.folder.CONFIG_FILE
    kept = config.read_text()
    try:
        config.write_text(kept + "\nc.Sandbox.processes = 99\nc.Sandbox.memory_mb = 2048\n")
        box = sandbox.course_sandbox(tiny_course, memory_mb=3000)
        assert (box.limits.processes, box.limits.memory_mb) == (99, 3000)
        assert str(tiny_course.root) in box.hide and str(tiny_course.source) in box.hide
        config.write_text(kept + "\nc.Sandbox.memory = 2048\n")
        with pytest.raises(course.CourseError, match=r"nbgrader_config.py: c.Sandbox.memory "
                           r"is not a sandbox setting; the settings are memory_mb, "):
            sandbox.course_sandbox(tiny_course)
        config.write_text(kept + "\nc.Sandbox.file_mb = -1\n")
        with pytest.raises(course.CourseError, match="file_mb must be a whole number above 0"):
            sandbox.course_sandbox(tiny_course)
    finally:
        config.write_text(kept)


PROBE = """
import os, resource, socket, subprocess
print("uid", os.getuid())
print("root", sorted(os.listdir("/")))
try:
    socket.create_connection(("1.1.1.1", 80), timeout=3)
except OSError as error:
    print("network", type(error).__name__)
resource.setrlimit(resource.RLIMIT_NPROC, (20, 20))
children = []
try:
    for _ in range(100):
        children.append(subprocess.Popen(["sleep", "30"]))
except OSError as error:
    print("processes", len(children), type(error).__name__)
"""


def test_the_user_namespace_sandbox_of_an_unprivileged_grader(tmp_path):
    """The sandbox an instructor without root gets: uid 65534 in a user namespace.

    The other tests run as whoever runs the suite; as root they use the fresh-uid sandbox, so
    here an unprivileged user (nobody) makes one, running the system's Python.
    """
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    as_nobody = {}
    if os.geteuid() == 0:
        as_nobody = {"user": sandbox.NOBODY, "group": sandbox.NOBODY, "extra_groups": []}
    argv = sandbox.command(tmp_path, [python, "-c", PROBE], sandbox.Sandbox(), privileged=False,
                           exposed=[])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin"}, **as_nobody)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["uid"] == str(sandbox.NOBODY)
    shown = set(ast.literal_eval(lines["root"]))
    assert shown <= {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "dev",
                     "proc", "tmp"}, shown
    assert lines["network"] == "OSError"
    count, error = lines["processes"].split()
    assert int(count) < 20 and error == "BlockingIOError"
