"""One storage layer: the job store and the model registry behave the same on a SQLite file
and on PostgreSQL (a throwaway server, see ``postgres_server.py``)."""

import pytest

from mlcycle_ref import data, jobs
from mlcycle_ref.pipeline import ModelRegistry


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
