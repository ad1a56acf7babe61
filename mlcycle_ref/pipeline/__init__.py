"""Pipelines: steps joined by their data, run in order with caching, ending in a model registry.

One module per concern: ``steps`` (the step types), ``graph`` (the :class:`Pipeline`: order,
YAML, cache, runs), ``registry`` and ``cli``.

A pipeline is a list of steps. A step names its inputs by *reference*, ``"step.output"``
(or ``"step.output.key"`` to reach into a dictionary such as a step's metrics), and that is
all the wiring there is: the pipeline works out the order from the references, refuses
unknown steps and cycles before anything runs, and then runs each step once its inputs exist.

=================  ===========================================  ==============================
step (YAML type)   does                                         outputs
=================  ===========================================  ==============================
processing         load a dataset or CSV, drop columns, split   train, validation, test
training           fit a model (a training job by default)      model
evaluation         score the model on held-out rows             metrics
condition          compare values; picks ``if_steps`` or        outcome
                   ``else_steps``
register_model     add a model version to the registry          group, version
fail               end the run as Failed with a message         (none)
=================  ===========================================  ==============================

Processing, training and evaluation are *cached*: a step's key is a hash of its definition,
the keys of the steps it reads from and the content of any file it reads, so a second run
of an unchanged pipeline reuses their outputs and only re-runs what changed downstream.

The :class:`ModelRegistry` (a database URL, default the SQLite file ``registry.db`` in
``data_dir()``) keeps model groups and numbered versions with their metrics and an approval
status - ``PendingManualApproval``, ``Approved`` or ``Rejected`` - which is where the data
scientist hands a model over to whoever deploys it.

>>> import os, tempfile
>>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
>>> gate = Pipeline.from_dict({"name": "demo", "steps": [
...     {"name": "prepare", "type": "processing", "dataset": "breast_cancer",
...      "target": "target"},
...     {"name": "train", "type": "training", "algorithm": "linear", "target": "target",
...      "train": "prepare.train", "backend": "in-process"},
...     {"name": "score", "type": "evaluation", "model": "train.model", "data": "prepare.test"},
...     {"name": "good-enough", "type": "condition", "if_steps": ["register"],
...      "else_steps": ["stop"],
...      "conditions": [{"left": "score.metrics.roc_auc", "op": ">=", "right": 0.9}]},
...     {"name": "register", "type": "register_model", "model": "train.model",
...      "metrics": "score.metrics", "model_group": "cancer"},
...     {"name": "stop", "type": "fail", "error_message": "AUC {score.metrics.roc_auc}"}]})
>>> execution = gate.run()
>>> execution.status, execution.outputs("register")
('Succeeded', {'group': 'cancer', 'version': 1})
>>> gate.run().table()["cached"].tolist()
[True, True, True, False, False, False]
"""

from mlcycle_ref.pipeline.cli import register
from mlcycle_ref.pipeline.graph import Execution, Pipeline, StepRun
from mlcycle_ref.pipeline.registry import (
    APPROVAL_STATUSES,
    ModelRegistry,
    ModelVersion,
    load_model,
)
from mlcycle_ref.pipeline.steps import (
    STEP_TYPES,
    TRAINING_BACKENDS,
    Condition,
    ConditionStep,
    EvaluationStep,
    FailStep,
    PipelineError,
    ProcessingStep,
    RegisterModelStep,
    Step,
    TrainingStep,
)

__all__ = ["APPROVAL_STATUSES", "STEP_TYPES", "TRAINING_BACKENDS", "Condition", "ConditionStep",
           "EvaluationStep", "Execution", "FailStep", "ModelRegistry", "ModelVersion", "Pipeline",
           "PipelineError", "ProcessingStep", "RegisterModelStep", "Step", "StepRun",
           "TrainingStep", "load_model", "register"]
