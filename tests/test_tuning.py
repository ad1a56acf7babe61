"""Tests for mlcycle_ref.tuning: strategies, pruning, parallel jobs, resuming, warm start, plots."""

import os
import signal
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import optuna
import pytest
from matplotlib.figure import Figure
from waiting import wait_until

from mlcycle_ref import data, jobs, models, tuning
from mlcycle_ref.jobs import JobSpec
from mlcycle_ref.models import Range

# Small ranges keep every trial well under a second on breast_cancer.
BOOSTING = (
    Range("learning_rate", "float", 0.005, 0.5, log=True),
    Range("max_depth", "int", 1, 6),
    Range("n_estimators", "int", 10, 60),
)


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path))
    yield tmp_path
    plt.close("all")


@pytest.fixture(scope="module")
def template():
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    return JobSpec("xgboost", "binary", "target", train, validation)


def test_building_blocks():
    assert tuning.parse_objective("validation:roc_auc") == ("roc_auc", "maximize")
    assert tuning.parse_objective("rmse") == ("rmse", "minimize")
    assert tuning.parse_objective("accuracy", "minimize") == ("accuracy", "minimize")
    with pytest.raises(ValueError, match="validation metric"):
        tuning.parse_objective("train:roc_auc")
    with pytest.raises(ValueError, match="unknown metric"):
        tuning.parse_objective("auc")
    points = tuning.grid([Range("depth", "int", 1, 3),
                          Range("rate", "float", 0.001, 0.1, log=True),
                          Range("features", "categorical", choices=("sqrt", 0.5))], points=3)
    assert points == {"depth": [1, 2, 3], "rate": [0.001, 0.01, 0.1], "features": ["sqrt", 0.5]}
    assert tuning.grid([Range("leaves", "int", 2, 3)], points=5) == {"leaves": [2, 3]}
    samplers = {s: type(tuning.make_sampler(s, BOOSTING)).__name__ for s in tuning.STRATEGIES}
    assert samplers["bayesian"] == "TPESampler" and samplers["hyperband"] == "RandomSampler"
    assert isinstance(tuning.make_sampler("grid", BOOSTING), optuna.samplers.GridSampler)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    params = tuning.suggest(study.ask(), BOOSTING)
    assert 0.005 <= params["learning_rate"] <= 0.5 and isinstance(params["max_depth"], int)


def test_tuner_checks_its_settings(template):
    with pytest.raises(ValueError, match="validation channel"):
        tuning.Tuner(JobSpec("xgboost", "binary", "target", template.train), "roc_auc")
    with pytest.raises(ValueError, match="rmse"):
        tuning.Tuner(template, "rmse")
    with pytest.raises(ValueError, match="xgboost or lightgbm"):
        tuning.Tuner(JobSpec("linear", "binary", "target", template.train, template.validation),
                     "roc_auc", strategy="hyperband")
    with pytest.raises(ValueError, match="early_stopping"):
        tuning.Tuner(template, "roc_auc", strategy="hyperband", early_stopping=True)
    with pytest.raises(ValueError, match="strategy"):
        tuning.Tuner(template, "roc_auc", strategy="genetic")


@pytest.fixture(scope="module")
def bayesian(template, tmp_path_factory):
    """A finished bayesian tuning of six trials in a folder of its own: (folder, tuner).

    Run once for the tests that only read it; none of them runs it again or changes its study.
    """
    folder = tmp_path_factory.mktemp("bayesian")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLCYCLE_DATA_DIR", str(folder))
        tuner = tuning.Tuner(template, "validation:roc_auc", BOOSTING, max_jobs=6,
                             max_parallel_jobs=2, seed=1)
        tuner.run(progress=False)
    return folder, tuner


def test_bayesian_tuning_with_parallel_jobs_gives_results_best_job_and_plots(bayesian,
                                                                              monkeypatch):
    folder, tuner = bayesian
    results = tuner.results()
    assert len(results) == 6 and (results["state"] == "COMPLETE").all()
    assert {"learning_rate", "max_depth", "n_estimators", "validation:roc_auc"} <= set(results)
    best = tuner.best_job()
    assert best.status == "Completed"
    assert best.metrics()["validation:roc_auc"] == tuner.best_value == (
        results["validation:roc_auc"].max())
    assert {k: best.describe()["hyperparameters"][k] for k in tuner.best_params} == (
        tuner.best_params)
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(folder))  # where the tuning ran
    stored = jobs.JobStore().list()
    assert sorted(stored["name"]) == sorted(results["job"])
    for figure in (tuner.plot_history(), tuner.plot_parameters(), tuner.plot_importance()):
        assert isinstance(figure, Figure)
    importance = tuner.importance()
    assert set(importance.index) == {r.name for r in BOOSTING}
    assert importance.sum() == pytest.approx(1.0)


def test_grid_covers_each_combination_once_and_minimizes_losses(template):
    ranges = [Range("max_depth", "int", 2, 4), Range("learning_rate", "float", 0.05, 0.2)]
    tuner = tuning.Tuner(template, "log_loss", ranges, strategy="grid", max_jobs=10,
                         max_parallel_jobs=2, grid_points=2)
    results = tuner.run(progress=False).results()
    combos = set(zip(results["max_depth"], results["learning_rate"], strict=True))
    assert combos == {(2, 0.05), (2, 0.2), (4, 0.05), (4, 0.2)} and len(results) == 4
    assert tuner.best_value == results["validation:log_loss"].min()


def test_random_search_is_reproducible_with_a_seed(template):
    def params(study_name):
        tuner = tuning.Tuner(template, "roc_auc", BOOSTING, strategy="random", max_jobs=2,
                             seed=7, study_name=study_name)
        return tuner.run(progress=False).results()[[r.name for r in BOOSTING]]

    assert params("first").equals(params("second"))


@pytest.mark.parametrize("strategy, early_stopping", [("hyperband", False), ("random", True)])
def test_poor_trials_are_pruned_from_per_round_scores(template, strategy, early_stopping):
    lightgbm = JobSpec("lightgbm", "binary", "target", template.train, template.validation,
                       hyperparameters={"n_estimators": 60})
    ranges = [Range("learning_rate", "float", 0.001, 0.3, log=True),
              Range("num_leaves", "int", 2, 16)]
    tuner = tuning.Tuner(lightgbm, "roc_auc", ranges, strategy=strategy, max_jobs=9,
                         early_stopping=early_stopping, seed=0)
    results = tuner.run(progress=False).results()
    pruned = results[results["state"] == "PRUNED"]
    assert len(pruned) >= 1 and (results["state"] != "FAIL").all()
    assert (pruned["job_status"] == "Stopped").all()
    assert pruned["failure_reason"].str.startswith("pruned by the tuner").all()
    trial = tuner.study.trials[int(pruned["trial"].iloc[0])]
    assert set(trial.intermediate_values) <= set(range(10, 61, 10))


def test_warm_start_copies_the_earlier_trials(template, bayesian):
    _, first = bayesian  # its study is only read: the copies go to this test's own storage
    second = tuning.Tuner(template, "roc_auc", BOOSTING, max_jobs=2, study_name="second",
                          warm_start=first).run(progress=False)
    results = second.results()
    earlier = first.results()
    assert (results["source"] == "warm start").sum() == len(earlier) == 6
    assert (results["source"] == "this study").sum() == 2
    copied = results.loc[results["source"] == "warm start", "validation:roc_auc"]
    assert sorted(copied) == sorted(earlier["validation:roc_auc"])


RESUMABLE = textwrap.dedent("""
    from mlcycle_ref import data, tuning
    from mlcycle_ref.jobs import JobSpec
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    template = JobSpec("xgboost", "binary", "target", train, validation)
    tuner = tuning.Tuner(template, "roc_auc", strategy="random", max_jobs=MAX_JOBS, seed=3)
    tuner.run(progress=False)
""")


def test_a_killed_tuning_resumes_without_repeating_finished_trials(template, data_folder):
    max_jobs = 6
    # Same settings as the script, so the default study name is the same too.
    tuner = tuning.Tuner(template, "roc_auc", strategy="random", max_jobs=max_jobs, seed=3)
    script = RESUMABLE.replace("MAX_JOBS", str(max_jobs))
    process = subprocess.Popen([sys.executable, "-c", script],
                               env={**os.environ, "MLCYCLE_DATA_DIR": str(data_folder)})

    def two_finished():
        assert process.poll() is None, "the tuning finished before it could be interrupted"
        try:
            finished = optuna.load_study(study_name=tuner.study_name,
                                         storage=tuning.open_storage(tuner.storage)).get_trials(
                states=(optuna.trial.TrialState.COMPLETE,))
        except KeyError:  # the study is not created yet
            return None
        return finished if len(finished) >= 2 else None

    finished = wait_until(two_finished, "two trials of the tuning finished")
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {trial.number: trial.params for trial in finished}

    results = tuner.run(progress=False).results()
    counted = results[~results["state"].isin(["RUNNING", "WAITING"])]
    completed = counted[counted["state"] == "COMPLETE"]
    assert len(completed) == max_jobs
    for number, params in before.items():  # the finished trials stand as they were
        assert tuner.study.trials[number].params == params
    keys = [tuple(sorted(params.items())) for params in (
        tuner.study.trials[n].params for n in completed["trial"])]
    assert len(set(keys)) == max_jobs, "a finished trial was run again"
    assert len(jobs.JobStore().list()) <= max_jobs + 1


def test_dask_backend_runs_a_four_trial_tuning():
    distributed = pytest.importorskip("distributed")
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    spec = JobSpec("linear", "binary", "target", train, validation)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with distributed.Client(cluster) as client:
        tuner = tuning.Tuner(spec, "roc_auc", models.tunable_ranges("linear"), max_jobs=4,
                             max_parallel_jobs=2, backend="dask", client=client)
        results = tuner.run(progress=False).results()
    cluster.close()
    assert (results["state"] == "COMPLETE").all() and len(results) == 4
    assert tuner.best_job().describe()["backend"] == "dask"


def test_optuna_samplers_and_pruners_are_taken_as_they_are(template):
    # A threshold no score reaches prunes every trial at its first report.
    strict = optuna.pruners.ThresholdPruner(lower=1.01)
    tuner = tuning.Tuner(template, "roc_auc", BOOSTING, max_jobs=3,
                         strategy=optuna.samplers.RandomSampler(seed=5), pruner=strict)
    results = tuner.run(progress=False).results()
    assert isinstance(tuner.study.sampler, optuna.samplers.RandomSampler)
    assert (results["state"] == "PRUNED").all() and len(results) == 3
    with pytest.raises(TypeError):
        tuning.Tuner(template, "roc_auc", BOOSTING, "random")  # options are keywords
    with pytest.raises(ValueError, match="pruner must be one of"):
        tuning.Tuner(template, "roc_auc", pruner="patient")


def test_storage_is_a_url_or_an_explicit_journal(template, tmp_path):
    journal = tmp_path / "mine.journal"
    tuner = tuning.Tuner(template, "roc_auc", BOOSTING, max_jobs=1, storage=journal)
    assert tuner.storage == f"journal:///{journal}"  # journal:/// and an absolute path
    tuner.run(progress=False)
    assert journal.stat().st_size > 0
    again = tuning.Tuner(template, "roc_auc", BOOSTING, max_jobs=1, storage=tuner.storage)
    assert len(again.study.trials) == 1  # the same study, found through the URL
    with pytest.raises(ValueError, match="give a database URL or journal:///"):
        tuning.Tuner(template, "roc_auc", storage="mine.journal")
