"""One storage layer: the job store, the model registry and a learner's progress (drills,
quiz history) behave the same on a SQLite file and on PostgreSQL (a throwaway server, see
``postgres_server.py``)."""

from datetime import date, timedelta

import pytest

from mlcycle_ref import data, jobs
from mlcycle_ref.pipeline import ModelRegistry
from mlcycle_ref.quiz.drills import Progress
from mlcycle_ref.quiz.history import History


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch):
    """A fresh database URL of each kind; the data folder is the test's own."""
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path))
    if request.param == "sqlite":
        return lambda name: f"sqlite:///{tmp_path / name}.db"
    server = request.getfixturevalue("postgres")
    return server.create_database


def test_the_registry_numbers_versions_and_tracks_approval(url):
    registry = ModelRegistry(url("registry"))
    assert registry.register("churn", "/models/a", metrics={"auc": 0.8}).version == 1
    assert registry.register("churn", "/models/b", digest="b").version == 2
    assert registry.register("churn", "/models/b-again", digest="b").version == 2  # same model
    registry.update_status("churn", 1, "Approved")
    assert registry.approved("churn").model_uri == "/models/a"
    groups = registry.groups()
    assert groups.to_dict("records") == [
        {"group": "churn", "description": "", "versions": 2, "latest_approved": 1}]
    assert registry.versions("churn")["version"].tolist() == [1, 2]
    # A second registry object on the same URL sees the same data.
    assert ModelRegistry(registry.url).get("churn").model_uri == "/models/b"


def test_the_job_store_records_a_job_and_its_metrics(url):
    train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    store = jobs.JobStore(url("jobs"))
    job = jobs.run(jobs.JobSpec("linear", "binary", "target", train, validation,
                                name="first"), store=store)
    assert job.status == "Completed"
    table = jobs.JobStore(store.url).list()
    assert table["name"].tolist() == ["first"] and table["status"].tolist() == ["Completed"]
    assert table.loc[0, "validation:roc_auc"] == job.metrics()["validation:roc_auc"]
    assert "first" in store and "second" not in store


def test_drill_progress_moves_cards_and_keeps_them_across_stores(url):
    location, day = url("drills"), date(2025, 3, 1)
    with Progress(location) as progress:
        assert progress.record("pandas", True, day).box == 2
        progress.record("numpy", False, day)
        assert progress.record("pandas", True, day + timedelta(days=1)).box == 3
        assert progress.notice == ""
    with Progress(location) as progress:  # a second store object on the same URL
        pandas, numpy, new = progress.cards(["pandas", "numpy", "scikit-learn"])
        assert (pandas.box, pandas.seen, pandas.right, pandas.due) == (3, 2, 2, day + timedelta(4))
        assert (numpy.box, numpy.right, new.due) == (1, 0, None)
        assert progress.next_cards(["pandas", "scikit-learn", "numpy"], 3, day) == [
            "numpy", "scikit-learn", "pandas"]


def test_quiz_history_keeps_attempts_outcomes_and_the_learner(url):
    location = url("history")
    with History(location) as history:
        learner = history.learner
        first = history.start("quiz")
        history.record(first, "q02", "wrong", 0.0)
        history.record(first, "q01", "self-right", 0.8)
        second = history.start("quiz")
        history.record(second, "q02", "right", 1.0)
        history.record(history.start("essays"), "e1", "skipped", 0.0)
    with History(location) as history:
        assert history.learner == learner
        attempts = history.attempts("quiz")
        assert [(a.number, a.score, a.total, a.right, a.self_marked) for a in attempts] == [
            (1, 0.8, 2, 1, 1), (2, 1.0, 1, 1, 0)]
        assert history.outcomes(first) == {"q02": ("wrong", 0.0), "q01": ("self-right", 0.8)}
        assert history.missed("quiz") == [] and history.missed("essays") == ["e1"]
        assert history.next_number("quiz") == 3
