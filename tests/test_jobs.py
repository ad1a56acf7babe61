"""Tests for mlcycle_ref.jobs: local and Dask training jobs, statuses, limits, artifacts, store."""

import argparse
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from waiting import wait_until

from mlcycle_ref import data, jobs, models
from mlcycle_ref.jobs import JobSpec
from mlcycle_ref.jobs.job import _read_events as read_events

# Enough boosting rounds on breast_cancer to keep a job busy for minutes.
ENDLESS = {"n_estimators": 1_000_000, "learning_rate": 0.001}
# Maximum runtime in seconds of the endless jobs that must be stopped for running too long:
# the job trains (on one CPU) until then, so a longer limit only costs time.
LIMIT = 0.5


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def cancer():
    return data.split(data.load("breast_cancer").frame, "target", seed=0)


def _secondary(job):
    return [step["status"] for step in job.describe()["status_transitions"]]


@pytest.mark.parametrize("algorithm, model_file", [
    ("xgboost", "model.json"), ("lightgbm", "model.txt"), ("random_forest", "model.joblib"),
])
def test_completed_job_keeps_native_model_that_predicts_like_an_in_process_fit(
        cancer, algorithm, model_file):
    train, validation, test = cancer
    params = {"n_estimators": 30}
    job = jobs.run(JobSpec(algorithm, "binary", "target", train, validation,
                           hyperparameters=params, seed=3))
    summary = job.describe()
    assert (summary["status"], summary["secondary_status"]) == ("Completed", "Completed")
    assert _secondary(job) == ["Starting", "Training", "Uploading", "Completed"]
    starts = [step["start"] for step in summary["status_transitions"]]
    assert starts == sorted(starts)
    assert summary["artifacts"]["model"].endswith(model_file)
    assert {"preprocessor", "metrics", "log"} <= set(summary["artifacts"])
    assert summary["training_time"] > 0 and summary["failure_reason"] is None
    assert summary["hyperparameters"] == params
    assert summary["final_metrics"]["validation:roc_auc"] > 0.95

    restored = jobs.load_model(job)
    reference = models.make_pipeline(algorithm, train, "target", "binary", seed=3, **params)
    reference.fit(train.drop(columns="target"), train["target"])
    inputs = test.drop(columns="target")
    np.testing.assert_allclose(restored.predict_proba(inputs), reference.predict_proba(inputs),
                               rtol=1e-5, atol=1e-6)
    assert (restored.predict(inputs) == reference.predict(inputs)).all()


def test_string_labels_and_regression_round_trip():
    penguins = data.load("penguins")
    train, validation, test = data.split(penguins.frame, "species", seed=1)
    job = jobs.run(JobSpec("lightgbm", "multiclass", "species", train, validation,
                           hyperparameters={"n_estimators": 20}, metrics=("accuracy",)))
    metrics = job.metrics()
    assert set(metrics) == {"train:accuracy", "validation:accuracy"}  # only what was asked
    model = jobs.load_model(job)
    predicted = model.predict(validation.drop(columns="species"))
    assert metrics["validation:accuracy"] == pytest.approx(
        (predicted == validation["species"].to_numpy()).mean())
    assert set(model.predict(test.drop(columns="species"))) <= {"Adelie", "Chinstrap", "Gentoo"}

    diabetes = data.load("diabetes")
    train, validation, test = data.split(diabetes.frame, "target", seed=1)
    job = jobs.run(JobSpec("xgboost", "regression", "target", train, validation,
                           hyperparameters={"n_estimators": 20}))
    assert set(job.metrics()) >= {"validation:rmse", "validation:r2"}
    predictions = jobs.load_model(job).predict(test.drop(columns="target"))
    assert predictions.shape == (len(test),) and np.isfinite(predictions).all()


def test_csv_channel_and_threads_follow_cpus(cancer, tmp_path):
    train, validation, _ = cancer
    path = tmp_path / "train.csv"
    train.to_csv(path, index=False)
    job = jobs.run(JobSpec("random_forest", "binary", "target", str(path), validation,
                           hyperparameters={"n_estimators": 10}, cpus=2))
    assert job.status == "Completed"
    assert jobs.load_model(job)["model"].n_jobs == 2
    assert "threads: 2" in job.logs()

    missing = jobs.run(JobSpec("linear", "binary", "label", str(path)))
    assert missing.status == "Failed"
    assert "'label'" in missing.describe()["failure_reason"]


# Run in a fresh interpreter, which has no fork server until it asks for one.
EARLY_SERVER = """
import os
import psutil
from waiting import wait_until
from mlcycle_ref import data, jobs
from mlcycle_ref.paths import data_dir

def servers():
    return {child.pid for child in psutil.Process().children()
            if "multiprocessing.forkserver" in " ".join(child.cmdline())}

if __name__ == "__main__":
    before = servers()
    jobs.start_worker_server()
    # Its process exists at once, and shows as the fork server once Python runs in it.
    started = wait_until(servers, "the worker server shows among the child processes")
    os.write(2, b"standard error is back\\n")
    jobs.start_worker_server()
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    job = jobs.run(jobs.JobSpec("linear", "binary", "target", train, validation))
    log = data_dir() / "jobs" / jobs.launch.SERVER_LOG
    print(len(before), len(started), servers() == started, job.status, log.exists())
"""


def test_worker_server_started_early_is_the_one_jobs_use(tmp_path):
    script = tmp_path / "early.py"
    script.write_text(EARLY_SERVER)
    tests = os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": tests})
    assert done.stdout.split() == ["0", "1", "True", "Completed", "True"]
    assert "standard error is back" in done.stderr


# A fresh interpreter grades first: its grading pool starts the fork server.
GRADING_FIRST = """
import threading
import psutil
from mlcycle_ref import data, jobs
from mlcycle_ref.course.pool import run_pool

if __name__ == "__main__":
    results = []  # a submission that cannot be graded: a worker starts, and reports it failed
    nobody = {"student": "nobody", "reference": {"lab": "lab01"}, "sha256": ""}
    run_pool([nobody], 1, results.append, threading.Event())
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    job = jobs.run(jobs.JobSpec("linear", "binary", "target", train, validation))
    for child in psutil.Process().children():
        if "multiprocessing.forkserver" in " ".join(child.cmdline()):
            print(len(results), job.status, " ".join(child.cmdline()))
"""


def test_jobs_after_grading_fork_from_a_server_that_preloaded_the_job_worker(tmp_path):
    # Python has one fork server per process; were it started with the grading modules only,
    # every later job would import XGBoost, LightGBM and Optuna afresh.
    script = tmp_path / "grading_first.py"
    script.write_text(GRADING_FIRST)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True)
    servers = done.stdout.splitlines()
    assert len(servers) == 1, done.stdout + done.stderr
    graded, status, command = servers[0].split(" ", 2)
    assert (graded, status) == ("1", "Completed")
    assert "'mlcycle_ref.jobs.worker', 'optuna'" in command
    assert "'mlcycle_ref.course'" in command


def test_bad_hyperparameters_fail_the_job_with_a_reason(cancer):
    train, validation, _ = cancer
    misspelt = jobs.run(JobSpec("xgboost", "binary", "target", train, validation,
                                hyperparameters={"max_dept": 3}))
    assert (misspelt.status, misspelt.secondary_status) == ("Failed", "Failed")
    reason = misspelt.describe()["failure_reason"]
    assert reason.startswith("ValueError") and "max_dept" in reason
    assert "Traceback" in misspelt.logs()

    negative = jobs.run(JobSpec("lightgbm", "binary", "target", train, validation,
                                hyperparameters={"num_leaves": -5}))
    assert negative.status == "Failed"
    assert "num_leaves" in negative.describe()["failure_reason"]
    with pytest.raises(ValueError, match="only a Completed job"):
        jobs.load_model(negative)


def test_job_over_its_runtime_is_stopped_after_it(cancer):
    train, validation, _ = cancer
    job = jobs.run(JobSpec("xgboost", "binary", "target", train, validation,
                           hyperparameters=ENDLESS, max_runtime=LIMIT))
    summary = job.describe()
    assert (summary["status"], summary["secondary_status"]) == ("Stopped", "MaxRuntimeExceeded")
    # How soon after the limit it stops depends on the machine's load: not a test's business.
    lasted = (summary["ended"] - summary["started"]).total_seconds()
    assert lasted >= LIMIT, "stopped before its maximum runtime"
    assert "maximum runtime" in summary["failure_reason"]


def test_memory_limit_fails_with_a_readable_reason(cancer):
    train, validation, _ = cancer
    # One-hot encoding a unique id per row makes a dense 12,000 x 12,000 matrix (1.1 GB).
    big = pd.concat([train] * 30, ignore_index=True)
    big["client_id"] = [f"c{i}" for i in range(len(big))]
    job = jobs.run(JobSpec("linear", "binary", "target", big, memory_mb=1000))
    summary = job.describe()
    assert summary["status"] == "Failed"
    assert summary["failure_reason"].startswith("out of memory")
    assert "1000 MB" in summary["failure_reason"]


def test_stop_and_a_killed_worker_end_the_job_not_the_caller(cancer):
    train, validation, _ = cancer
    stopped = jobs.run(JobSpec("xgboost", "binary", "target", train, validation,
                               hyperparameters=ENDLESS), wait=False)
    killed = jobs.run(JobSpec("xgboost", "binary", "target", train, validation,
                              hyperparameters=ENDLESS), wait=False)
    # Both must train: the worker names its pid when it starts, which may come after the
    # other job's worker is already training on a busy machine.
    wait_until(lambda: "Training" in _secondary(killed) and "Training" in _secondary(stopped),
               "both endless jobs started training", interval=0.05)
    stopped.stop().wait(timeout=10)
    assert (stopped.status, stopped.secondary_status) == ("Stopped", "Stopped")
    assert stopped.stop_requested

    worker = next(e["pid"] for e in read_events(killed.folder) if "pid" in e)
    os.kill(worker, signal.SIGKILL)
    killed.wait(timeout=10)
    assert killed.status == "Failed"
    assert "SIGKILL" in killed.describe()["failure_reason"]


def test_spec_checks_its_fields():
    with pytest.raises(ValueError, match="cpus"):
        JobSpec("linear", "binary", "y", "train.csv", cpus=0)
    with pytest.raises(ValueError, match="rmse"):
        JobSpec("linear", "binary", "y", "train.csv", metrics=("rmse",))
    with pytest.raises(ValueError, match="n_jobs"):
        JobSpec("xgboost", "binary", "y", "train.csv", hyperparameters={"n_jobs": 4})
    with pytest.raises(ValueError, match="algorithm"):
        JobSpec("catboost", "binary", "y", "train.csv")
    with pytest.raises(ValueError, match="backend"):
        jobs.run(JobSpec("linear", "binary", "y", "train.csv"), backend="cloud")


def test_a_job_names_its_owner_before_the_store_lists_it(cancer, monkeypatch):
    # A tuner killed just after the store listed a job once left it without any event, and a
    # resumed tuner waited for it forever: nothing told whose the job was.
    owners = []
    add = jobs.JobStore._add

    def listing(store, name, folder, record):
        owners.append([event.get("supervisor") for event in read_events(folder)])
        add(store, name, folder, record)

    monkeypatch.setattr(jobs.JobStore, "_add", listing)
    job = jobs.run(JobSpec("linear", "binary", "target", cancer.train))
    assert owners == [[os.getpid()]] and job.status == "Completed"


def test_store_lists_jobs_and_the_command_line_shows_them(cancer, capsys):
    train, validation, _ = cancer
    first = jobs.run(JobSpec("linear", "binary", "target", train, validation, name="first"))
    jobs.run(JobSpec("linear", "binary", "target", train, hyperparameters={"C": -1.0},
                     name="second"))
    with pytest.raises(ValueError, match="already exists"):
        jobs.run(JobSpec("linear", "binary", "target", train, name="first"))

    table = jobs.JobStore().list()
    assert table["name"].tolist() == ["first", "second"]
    assert table["status"].tolist() == ["Completed", "Failed"]
    assert table.loc[0, "validation:roc_auc"] == first.metrics()["validation:roc_auc"]
    assert jobs.JobStore().get("first").describe()["status"] == "Completed"
    with pytest.raises(KeyError, match="no job called 'firts'"):
        jobs.JobStore().get("firts")
    with pytest.raises(ValueError, match="must be a database URL"):
        jobs.JobStore("jobs.db")
    with pytest.raises(ConnectionError, match="127.0.0.1:9/jobs.*cannot open"):
        jobs.JobStore("postgresql+psycopg://nobody@127.0.0.1:9/jobs")

    parser = argparse.ArgumentParser()
    jobs.register(parser.add_subparsers(dest="command"))
    for argv in (["jobs", "list"], ["jobs", "describe", "second"], ["jobs", "logs", "first"]):
        args = parser.parse_args(argv)
        assert args.handler(args) == 0
    output = capsys.readouterr().out
    assert "first" in output and "Completed" in output
    assert '"failure_reason": "' in output and "job completed" in output


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


def test_dask_backend_runs_a_supervised_job(cancer, client):
    train, validation, test = cancer
    job = jobs.run(JobSpec("xgboost", "binary", "target", train, validation,
                           hyperparameters={"n_estimators": 20}), backend="dask", client=client)
    summary = job.describe()
    assert summary["status"] == "Completed" and summary["backend"] == "dask"
    assert jobs.load_model(job).predict(test.drop(columns="target")).shape == (len(test),)

    late = jobs.run(JobSpec("xgboost", "binary", "target", train, hyperparameters=ENDLESS,
                            max_runtime=LIMIT), backend="dask", client=client)
    assert late.secondary_status == "MaxRuntimeExceeded"


@pytest.mark.filterwarnings("ignore:Parameter n_jobs will be ignored")  # lightgbm.dask's note
@pytest.mark.parametrize("algorithm, model_file", [
    ("xgboost", "model.json"), ("lightgbm", "model.txt"),
])
def test_dask_dataframe_trains_with_the_librarys_dask_module(cancer, client, algorithm,
                                                              model_file):
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pyarrow")
    train, validation, test = cancer
    spec = JobSpec(algorithm, "binary", "target", dd.from_pandas(train, npartitions=3),
                   dd.from_pandas(validation, npartitions=2),
                   hyperparameters={"n_estimators": 30})
    job = jobs.run(spec, backend="dask", client=client)
    summary = job.describe()
    assert summary["status"] == "Completed", summary["failure_reason"]
    assert f"{algorithm}.dask" in summary["status_transitions"][1]["message"]
    assert summary["artifacts"]["model"].endswith(model_file)
    assert summary["final_metrics"]["validation:roc_auc"] > 0.95
    manifest = json.loads((job.folder / "manifest.json").read_text())
    assert (manifest["algorithm"], manifest["classes"]) == (algorithm, [0, 1])
    restored = jobs.load_model(job)
    predictions = restored.predict(test.drop(columns="target"))
    assert (predictions == test["target"]).mean() > 0.9
    assert restored.predict_proba(test.drop(columns="target")).shape == (len(test), 2)
    with pytest.raises(ValueError, match="backend='dask'"):
        jobs.run(spec)

    late = jobs.run(replace(spec, hyperparameters=ENDLESS, max_runtime=LIMIT), backend="dask",
                    client=client)
    assert (late.status, late.secondary_status) == ("Stopped", "MaxRuntimeExceeded")
    assert "maximum runtime" in late.describe()["failure_reason"]


@pytest.mark.parametrize("algorithm", ["linear", "random_forest"])
def test_dask_dataframe_refuses_algorithms_without_a_dask_module(cancer, algorithm):
    dd = pytest.importorskip("dask.dataframe", reason="dask.dataframe needs pyarrow")
    spec = JobSpec(algorithm, "binary", "target", dd.from_pandas(cancer.train, npartitions=2))
    with pytest.raises(ValueError, match=f"got '{algorithm}'"):
        jobs.run(spec, backend="dask")
    assert jobs.JobStore().list().empty
