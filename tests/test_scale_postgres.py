"""Past one machine: a PostgreSQL gradebook graded on a Dask cluster, and a tuning study in
PostgreSQL that resumes after its tuner is killed.

Both run against one throwaway server (see ``postgres_server.py``), each in its own database,
and through the same code paths a real class would use: the ``mlcycle course`` commands with
``--db-url`` and ``--scheduler``, and a :class:`~mlcycle_ref.tuning.Tuner` given an Optuna
storage URL.
"""

import os
import signal
import subprocess
import sys
import textwrap

import optuna
import psycopg
import pytest
from test_course_cheats import (
    CELL_TIMEOUT,
    FULL,
    LAB,
    WRONG_IMPUTE,
    auto_score,
    changed,
    correct,
    released_notebook,
    write_submissions,
)
from waiting import wait_until

from mlcycle_ref import cli, course, data, tuning
from mlcycle_ref.jobs import JobSpec

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


#: Automatic score of each submission of lab 2; None: it cannot be graded and must say so.
EXPECTED = {"right": FULL, "partly": FULL - 4, "blank": 0, "broken": None}


def test_a_postgresql_gradebook_graded_on_a_dask_cluster(postgres, tmp_path):
    from distributed import LocalCluster

    url = postgres.create_database("gradebook")
    roster = tmp_path / "students.csv"
    roster.write_text("id\n" + "\n".join([*EXPECTED, "absent"]) + "\n")
    root = tmp_path / "course"
    assert cli.main(["course", "init", str(root), "--roster", str(roster), "--labs", LAB,
                     "--db-url", url, "--timeout", str(CELL_TIMEOUT)]) == 0
    grading_course = course.open_course(root)
    assert grading_course.db_url == url and not (root / "gradebook.db").exists()
    right = correct(grading_course)
    write_submissions(grading_course, {
        "right": right, "partly": changed(right, "impute-median", WRONG_IMPUTE),
        "blank": released_notebook(grading_course), "broken": b"not a notebook"})

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        assert cli.main(["course", "autograde", "lab02", "--course", str(root),
                         "--scheduler", cluster.scheduler_address]) == 0

    graded = {student: score for student, score in EXPECTED.items() if score is not None}
    assert {student: auto_score(grading_course, student) for student in graded} == graded
    table = course.export(grading_course, tmp_path / "grades.csv").set_index("student_id")
    assert table["status"].to_dict() == {**dict.fromkeys(graded, "graded"),
                                         "broken": "failed", "absent": "missing"}
    assert table.loc[list(graded), "score"].to_dict() == graded
    assert "not a readable notebook" in table.loc["broken", "problem"]
    # The grades are rows of PostgreSQL, not of a file next to the course.
    with postgres.connect("gradebook") as connection:
        stored = connection.execute("SELECT student_id FROM submitted_assignment").fetchall()
    assert sorted(student for (student,) in stored) == sorted(graded)


TUNING = textwrap.dedent("""
    import sys
    from mlcycle_ref import data, tuning
    from mlcycle_ref.jobs import JobSpec
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    template = JobSpec("xgboost", "binary", "target", train, validation)
    tuning.Tuner(template, "roc_auc", strategy="random", max_jobs=int(sys.argv[1]),
                 max_parallel_jobs=2, seed=5, storage=sys.argv[2]).run(progress=False)
""")


def completed_trials(postgres, database: str) -> int:
    """Trials the tuner has finished so far, counted in Optuna's own table."""
    with postgres.connect(database) as connection:
        try:
            return connection.execute(
                "SELECT count(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
        except psycopg.errors.UndefinedTable:  # the study is not created yet
            return 0


def test_a_tuning_study_in_postgresql_resumes_without_repeating_finished_trials(
        postgres, data_folder):
    max_jobs = 6
    url = postgres.create_database("studies")
    process = subprocess.Popen([sys.executable, "-c", TUNING, str(max_jobs), url],
                               env={**os.environ, "MLCYCLE_DATA_DIR": str(data_folder)})

    def two_completed():
        assert process.poll() is None, "the tuning finished before it could be killed"
        return completed_trials(postgres, "studies") >= 2

    wait_until(two_completed, "two trials of the tuning completed")
    process.send_signal(signal.SIGKILL)
    process.wait()

    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    tuner = tuning.Tuner(JobSpec("xgboost", "binary", "target", train, validation), "roc_auc",
                         strategy="random", max_jobs=max_jobs, max_parallel_jobs=2, seed=5,
                         storage=url)
    before = {trial.number: (trial.params, trial.value) for trial in optuna.load_study(
        study_name=tuner.study_name, storage=url).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))}
    assert 2 <= len(before) < max_jobs

    results = tuner.run(progress=False).results()
    completed = results[results["state"] == "COMPLETE"]
    assert len(completed) == max_jobs and not results["state"].isin(["RUNNING", "WAITING"]).any()
    for number, (params, value) in before.items():  # finished trials stand as they were
        assert (tuner.study.trials[number].params, tuner.study.trials[number].value) == (
            params, value)
    ranges = [item.name for item in tuner.ranges]
    assert not completed.duplicated(ranges).any(), "a finished trial was run again"
    assert completed_trials(postgres, "studies") == max_jobs
