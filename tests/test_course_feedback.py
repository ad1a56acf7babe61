"""Feedback shows no data a hidden test gave the student's code, whatever route it took out."""

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import nbformat
import pytest
from test_course import LAB, answered, submit, tiny_source
from test_course_signals import marked_processes
from waiting import wait_until

from mlcycle_ref import course

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
# The hidden test calls double(21): each submission tries to get 21 into the page.
SUBMISSIONS = {
    "printer": "def double(x):\n    print('ARGS', x)\n    return 2 * x",
    # Shows a display in the visible test, then rewrites it from inside the hidden test.
    "displayer": ("from IPython.display import display, update_display\n_calls = []\n"
                  "def double(x):\n    _calls.append(x)\n"
                  "    if len(_calls) == 1:\n        display('first call', display_id='d')\n"
                  "    else:\n        update_display(f'ARGS {_calls}', display_id='d')\n"
                  "    return 2 * x"),
    "honest": "def double(x):\n    return 2 * x",
}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("feedback")
    (root / "sources" / LAB).mkdir(parents=True)
    nbformat.write(tiny_source(), root / "sources" / LAB / f"{LAB}.ipynb")
    roster = root / "students.csv"
    roster.write_text("id\n" + "\n".join(SUBMISSIONS) + "\n")
    grading_course = course.init(root / "course", roster, source=root / "sources")
    for student, answer in SUBMISSIONS.items():
        submit(grading_course, student, answered(grading_course, answer))
    summary = course.autograde(grading_course, LAB, workers=2)
    assert sorted(summary.graded) == sorted(SUBMISSIONS)
    return grading_course, {student: path.read_text()
                            for student, path in course.feedback(grading_course, LAB).items()}


@pytest.mark.parametrize("student", ["printer", "displayer"])
def test_what_student_code_shows_during_a_hidden_test_stays_out(pages, student):
    grading_course, page = pages[0], pages[1][student]
    autograded = grading_course.autograded(student, LAB).read_text()
    leaked = {"printer": "ARGS 21", "displayer": "ARGS [2, 21]"}[student]
    assert leaked in autograded, "the graded notebook holds the hidden test's argument"
    assert leaked not in page
    assert "Visible tests passed." in page
    assert "the hidden tests of this cell passed" in page


def test_the_tests_own_messages_remain(pages):
    _, page = pages
    assert "Visible tests passed." in page["honest"]


def test_a_score_waiting_for_marks_is_provisional(pages):
    _, page = pages
    assert "Provisional: your written answers are not marked yet" in page["honest"]


CLI = ("import argparse, sys\nfrom mlcycle_ref import course\n"
       "parser = argparse.ArgumentParser()\ncourse.register(parser.add_subparsers())\n"
       "args = parser.parse_args(sys.argv[1:])\nsys.exit(args.handler(args))")
#: How a script's background job (`make test &`) or nohup starts a program: with Ctrl-C
#: ignored, which Python keeps. Relying on KeyboardInterrupt, the formgrader then never
#: stopped (seen in a suite run started that way).
CTRL_C_IGNORED = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"


def start_grade(grading_course, tmp_path, **env):
    """``mlcycle course grade tiny`` in a session of its own, its TMPDIR in ``tmp_path``."""
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "TMPDIR": str(tmp_path), **env}
    return subprocess.Popen([sys.executable, "-c", CTRL_C_IGNORED + CLI, "course", "grade",
                             "tiny", "--course", str(grading_course.root)], env=env,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)


def test_grade_starts_the_formgrader_whose_feedback_hides_hidden_tests(pages, tmp_path):
    grading_course, _ = pages
    server = start_grade(grading_course, tmp_path)
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("formgrader of tiny_lab, for this computer only")
        url = lines[1].strip()
        assert url.startswith("http://127.0.0.1:") and f"/formgrader/gradebook/{LAB}?" in url
        base, token = url.split("/formgrader")[0], url.split("token=")[1]

        def call(path, method="GET"):
            request = urllib.request.Request(f"{base}/formgrader/api/{path}", method=method,
                                             data=b"" if method == "POST" else None,
                                             headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())

        assert {entry["student"] for entry in call(f"submissions/{LAB}")} == set(SUBMISSIONS)
        assert call(f"assignment/{LAB}/printer/generate_feedback", "POST")["success"]
        page = grading_course.feedback("printer", LAB).read_text()
        assert "ARGS 21" not in page and "double(21)" not in page
        assert "the hidden tests of this cell passed" in page
        assert course.offline_html(page) == page, "nothing loads from another host"
        try:  # without the token: the login page, or a refusal
            with urllib.request.urlopen(f"{base}/formgrader/api/submissions/{LAB}",
                                        timeout=30) as response:
                assert "/login" in response.url
        except urllib.error.HTTPError as refusal:
            assert refusal.code in (401, 403)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=60) == 0
    assert not list(tmp_path.glob("mlcycle-formgrader-*")), "its token and config are gone"


def test_a_closed_terminal_stops_the_formgrader_even_while_it_starts(pages, tmp_path):
    grading_course, _ = pages
    marker = uuid.uuid4().hex
    cli = start_grade(grading_course, tmp_path, MLCYCLE_TEST_RUN=marker)
    wait_until(lambda: [line for line in marked_processes(marker) if "jupyter_server" in line],
               "the formgrader's server process started")
    os.kill(cli.pid, signal.SIGHUP)  # what a dropped SSH session sends
    cli.communicate(timeout=60)
    assert cli.returncode == 0
    assert marked_processes(marker) == [], "the server in its own session is stopped too"
    assert not list(tmp_path.glob("mlcycle-formgrader-*")), "its token and config are gone"
