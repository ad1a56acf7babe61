"""Pipelines: quality gates, caching, checks on the definition, YAML, the CLI and the registry."""


import pytest
import yaml

from mlcycle_ref import data
from mlcycle_ref.pipeline import (
    Condition,
    ConditionStep,
    EvaluationStep,
    FailStep,
    ModelRegistry,
    Pipeline,
    PipelineError,
    ProcessingStep,
    RegisterModelStep,
    TrainingStep,
)

TARGET = "subscribed"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path))
    return tmp_path


def quality_gate(threshold, *, backend="in-process", hyperparameters=None):
    """Prepare -> train -> evaluate -> (AUC >= threshold ? register : fail)."""
    prepare = ProcessingStep("prepare", dataset="campaign", rows=3_000, seed=1, target=TARGET,
                             drop=["duration"])
    train = TrainingStep("train", algorithm="xgboost", target=TARGET,
                         train=prepare.output("train"), validation=prepare.output("validation"),
                         hyperparameters=hyperparameters or {"n_estimators": 30, "max_depth": 3},
                         backend=backend)
    score = EvaluationStep("evaluate", model=train.output("model"), data=prepare.output("test"))
    save = RegisterModelStep("register", model=train.output("model"),
                             metrics=score.output("metrics"), model_group="campaign-response")
    stop = FailStep("fail", error_message="ROC AUC {evaluate.metrics.roc_auc} is below "
                    f"{threshold}")
    gate = ConditionStep("auc-gate", conditions=[
        Condition(score.output("metrics", "roc_auc"), ">=", threshold)],
        if_steps=[save], else_steps=[stop])
    # Listed out of order on purpose: the references decide the order.
    return Pipeline("campaign", [gate, save, stop, score, train, prepare])


def statuses(execution):
    return dict(zip(execution.table()["name"], execution.table()["status"], strict=True))


def test_a_passing_quality_gate_registers_a_version_trained_by_a_job():
    execution = quality_gate(0.6, backend="local").run()
    assert execution.status == "Succeeded", execution.failure_reason
    assert execution.table()["name"].tolist() == ["prepare", "train", "evaluate", "auc-gate",
                                                  "register", "fail"]
    assert statuses(execution) == {"prepare": "Succeeded", "train": "Succeeded",
                                   "evaluate": "Succeeded", "auc-gate": "Succeeded",
                                   "register": "Succeeded", "fail": "Skipped"}
    assert execution.outputs("register") == {"group": "campaign-response", "version": 1}
    version = ModelRegistry().get("campaign-response", 1)
    assert version.approval_status == "PendingManualApproval"
    auc = execution.outputs("evaluate")["metrics"]["roc_auc"]
    assert version.metrics["roc_auc"] == auc > 0.6
    test = data.simulate_campaign(200, seed=9)
    assert version.load().predict_proba(test.drop(columns=[TARGET]))[:, 1].shape == (200,)
    assert "training job" in execution.table().set_index("name").loc["train", "message"]


def test_a_failing_quality_gate_runs_the_fail_step_with_its_message():
    execution = quality_gate(0.99).run()
    assert execution.status == "Failed"
    found = statuses(execution)
    assert found["fail"] == "Failed" and found["register"] == "Skipped"
    auc = execution.outputs("evaluate")["metrics"]["roc_auc"]
    assert execution.failure_reason == f"step 'fail': ROC AUC {auc:.4f} is below 0.99"
    assert "auc-gate" in execution.table().set_index("name").loc["register", "message"]
    assert ModelRegistry().groups().empty


def test_caching_skips_unchanged_steps_and_reruns_what_changed(tmp_path):
    first = quality_gate(0.6).run()
    second = quality_gate(0.6).run()
    cached = dict(zip(second.table()["name"], second.table()["cached"], strict=True))
    assert cached == {"prepare": True, "train": True, "evaluate": True, "auc-gate": False,
                      "register": False, "fail": False}
    # The same model is not registered twice.
    assert second.outputs("register") == first.outputs("register")
    assert len(ModelRegistry().versions("campaign-response")) == 1
    # A new hyperparameter re-runs training and everything after it, not the processing.
    third = quality_gate(0.6, hyperparameters={"n_estimators": 31, "max_depth": 3}).run()
    cached = dict(zip(third.table()["name"], third.table()["cached"], strict=True))
    assert cached["prepare"] and not cached["train"] and not cached["evaluate"]
    assert third.outputs("register")["version"] == 2
    # cache=False runs everything afresh.
    assert not quality_gate(0.6).run(cache=False).table()["cached"].any()


def test_a_python_function_is_part_of_the_cache_key():
    def pipeline(function):
        return Pipeline("f", [ProcessingStep("prep", dataset="wine", target="target",
                                             function=function)])

    def keep_all(frame):
        return frame

    def first_hundred(frame):
        return frame.head(100)

    assert pipeline(keep_all).run().table()["cached"].tolist() == [False]
    assert pipeline(keep_all).run().table()["cached"].tolist() == [True]
    assert pipeline(first_hundred).run().table()["cached"].tolist() == [False]
    with pytest.raises(PipelineError, match="Python function"):
        pipeline(keep_all).to_yaml()


def test_a_cycle_or_unknown_dependency_gets_an_error_naming_the_step():
    prepare = ProcessingStep("prepare", dataset="wine", target="target")
    with pytest.raises(PipelineError, match=r"cycle .*: train -> evaluate -> train"):
        Pipeline("loop", [prepare,
                          TrainingStep("train", algorithm="linear", target="target",
                                       train="prepare.train", depends_on=["evaluate"]),
                          EvaluationStep("evaluate", model="train.model", data="prepare.test")])
    with pytest.raises(PipelineError, match="step 'evaluate' depends on 'trian', but there is "
                                            "no step 'trian'"):
        Pipeline("typo", [prepare, EvaluationStep("evaluate", model="trian.model",
                                                  data="prepare.test")])
    with pytest.raises(PipelineError, match="step 'evaluate' refers to 'prepare.tests', but "
                                            "step 'prepare' has no output 'tests'"):
        Pipeline("typo", [prepare, EvaluationStep("evaluate", model="prepare.train",
                                                  data="prepare.tests")])
    with pytest.raises(PipelineError, match="step 'gate' depends on 'deploy'"):
        Pipeline("branch", [prepare, ConditionStep("gate", conditions=[], if_steps=["deploy"])])
    with pytest.raises(PipelineError, match=r"step names \['prepare'\] are used twice"):
        Pipeline("twice", [prepare, prepare])
    with pytest.raises(PipelineError, match="step 'prepare' has no output 'model'"):
        prepare.output("model")


def test_a_crashing_step_fails_the_run_and_skips_what_follows():
    execution = quality_gate(0.6, hyperparameters={"max_dept": 3}).run()  # a typo
    assert execution.status == "Failed"
    assert execution.failure_reason.startswith("step 'train': ValueError: unknown "
                                               "hyperparameter 'max_dept'")
    assert statuses(execution)["evaluate"] == "Skipped"
    assert statuses(execution)["prepare"] == "Succeeded"


PIPELINE_YAML = """
name: from-yaml
steps:
  - {name: prepare, type: processing, csv: clients.csv, target: subscribed, drop: [duration]}
  - name: train
    type: training
    algorithm: lightgbm
    target: subscribed
    train: prepare.train
    backend: in-process
    hyperparameters: {n_estimators: 20, num_leaves: 7}
  - {name: evaluate, type: evaluation, model: train.model, data: prepare.test}
  - name: gate
    type: condition
    conditions: [{left: evaluate.metrics.roc_auc, op: GreaterThanOrEqualTo, right: 0.6}]
    if_steps: [register]
  - {name: register, type: register_model, model: train.model, metrics: evaluate.metrics,
     model_group: from-yaml, approval_status: Approved}
"""


def write_yaml(folder, text=PIPELINE_YAML):
    data.simulate_campaign(2_000, seed=4).to_csv(folder / "clients.csv", index=False)
    path = folder / "pipeline.yml"
    path.write_text(text)
    return path


def test_a_yaml_pipeline_runs_and_round_trips(tmp_path):
    definition = Pipeline.from_yaml(write_yaml(tmp_path))
    assert definition.order == ["prepare", "train", "evaluate", "gate", "register"]
    assert Pipeline.from_dict(yaml.safe_load(definition.to_yaml())).to_dict() == \
        definition.to_dict()
    execution = definition.run(workdir=tmp_path / "work")
    assert execution.status == "Succeeded", execution.failure_reason
    assert ModelRegistry().approved("from-yaml").version == 1
    # Editing the CSV file invalidates the processing step's cache.
    frame = data.simulate_campaign(2_000, seed=5)
    frame.to_csv(tmp_path / "clients.csv", index=False)
    rerun = Pipeline.from_yaml(tmp_path / "pipeline.yml").run(workdir=tmp_path / "work")
    assert not rerun.table()["cached"].any()


@pytest.mark.parametrize("change, message", [
    (("backend: in-process", "bakend: in-process"), r"step 'train': unknown field \['bakend'\]"),
    (("type: training", "type: trainer"), "step 'train': type must be one of"),
    (("right: 0.6}", "right: 0.6, extra: 1}"), r"step 'gate': unknown field \['extra'\]"),
    (("if_steps: [register]", "if_steps: [register"), "not valid YAML"),
])
def test_yaml_mistakes_name_the_file_and_step(tmp_path, change, message):
    broken = PIPELINE_YAML.replace(*change)
    with pytest.raises(PipelineError, match=f"pipeline.yml: {message}"):
        Pipeline.from_yaml(write_yaml(tmp_path, broken))


def test_command_line_runs_a_pipeline_and_approves_a_version(tmp_path, mlcycle):
    path = write_yaml(tmp_path, PIPELINE_YAML.replace("approval_status: Approved",
                                                      "approval_status: PendingManualApproval"))
    code, shown, _ = mlcycle("pipeline", "run", path)
    assert code == 0
    assert "pipeline from-yaml: 5 steps" in shown and "Succeeded" in shown
    code, shown, _ = mlcycle("pipeline", "models", "from-yaml")
    assert code == 0 and "PendingManualApproval" in shown
    code, shown, _ = mlcycle("pipeline", "approve", "from-yaml", "1")
    assert code == 0 and "from-yaml version 1: Approved" in shown
    code, _, err = mlcycle("pipeline", "reject", "from-yaml", "7")
    assert code == 2 and "no version 7" in err
    failing = write_yaml(tmp_path, PIPELINE_YAML.replace("right: 0.6", "right: 0.999")
                         .replace("if_steps: [register]", "if_steps: [register]\n"
                                  "    else_steps: [stop]") +
                         "  - {name: stop, type: fail, error_message: too weak}\n")
    code, shown, _ = mlcycle("pipeline", "run", failing)
    assert code == 1 and "Failed: step 'stop': too weak" in shown
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\nsteps:\n  - {name: a, type: nope}\n")
    code, _, err = mlcycle("pipeline", "run", broken)
    assert code == 2 and "broken.yml: step 'a': type must be one of" in err


def test_registry_versions_and_approval(tmp_path):
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'models.db'}")
    first = registry.register("churn", "/m/1", metrics={"roc_auc": 0.70}, digest="a")
    second = registry.register("churn", "/m/2", metrics={"roc_auc": 0.75}, digest="b")
    assert (first.version, second.version) == (1, 2)
    assert registry.register("churn", "/m/1-again", digest="a").version == 1
    assert registry.approved("churn") is None
    registry.update_status("churn", 1, "Approved")
    registry.update_status("churn", 2, "Rejected")
    assert registry.approved("churn").version == 1
    assert registry.get("churn").version == 2
    table = registry.versions("churn")
    assert table["approval_status"].tolist() == ["Approved", "Rejected"]
    assert table["roc_auc"].tolist() == [0.70, 0.75]
    groups = registry.groups()
    assert groups.to_dict("records")[0]["versions"] == 2
    assert groups.to_dict("records")[0]["latest_approved"] == 1
    with pytest.raises(ValueError, match="approval status must be one of"):
        registry.update_status("churn", 1, "Deployed")
    with pytest.raises(KeyError, match="no version 3 of model group 'churn'"):
        registry.get("churn", 3)
    with pytest.raises(ValueError, match="postgres://somewhere: no SQLAlchemy driver"):
        ModelRegistry("postgres://somewhere")
