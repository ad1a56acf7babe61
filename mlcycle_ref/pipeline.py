"""Pipelines: steps joined by their data, run in order with caching, ending in a model registry.

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

The :class:`ModelRegistry` (SQLite, URL ``sqlite:///path.db``, default ``registry.db`` in
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

from __future__ import annotations

import contextlib
import graphlib
import hashlib
import inspect
import json
import operator
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import joblib
import pandas as pd
import yaml
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, case, func, select
from sqlalchemy.exc import IntegrityError

from mlcycle_ref import __version__, data, evaluate, models, storage
from mlcycle_ref.paths import data_dir

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
TRAINING_BACKENDS = ("local", "dask", "in-process")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_REFERENCE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*)\.([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+)*)$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
MODEL_FILE, MODEL_INFO = "model.joblib", "model.json"


class PipelineError(ValueError):
    """A pipeline that cannot run as defined; the message names the step at fault."""


class _Failed(Exception):
    """Raised by a fail step: the run ends as Failed with this message."""


def _split_reference(reference: str, where: str) -> tuple[str, str, tuple[str, ...]]:
    match = _REFERENCE.match(str(reference))
    if match is None:
        raise PipelineError(f"{where}: {reference!r} is not a reference; write 'step.output' "
                            "or 'step.output.key'")
    keys = tuple(part for part in match.group(3).split(".") if part)
    return match.group(1), match.group(2), keys


# --------------------------------------------------------------------------- steps


@dataclass
class Step:
    """Base of all steps: a unique ``name`` plus ``depends_on``, extra steps to wait for."""

    name: str
    depends_on: list[str] = field(default_factory=list, kw_only=True)

    kind: ClassVar[str] = ""
    outputs: ClassVar[tuple[str, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ()  # fields that hold references
    cacheable: ClassVar[bool] = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PipelineError(f"step name {self.name!r}: use letters, digits, '_' and '-'")
        self.depends_on = [getattr(s, "name", s) for s in self.depends_on]

    def output(self, name: str, *keys: str) -> str:
        """The reference to one of this step's outputs, e.g. ``"train.model"``.

        >>> TrainingStep("train", algorithm="xgboost", target="y", train="prep.train").output(
        ...     "model")
        'train.model'
        """
        if name not in self.outputs:
            raise PipelineError(f"step {self.name!r} has no output {name!r}; "
                                f"its outputs: {list(self.outputs)}")
        return ".".join((self.name, name, *keys))

    def references(self) -> list[str]:
        """Every reference the step reads, in the order of its fields."""
        return [getattr(self, name) for name in self.inputs if getattr(self, name) is not None]

    def definition(self) -> dict:
        """The step as plain values: what the YAML file holds and what the cache key hashes."""
        values = {"name": self.name, "type": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "name" and value != _default(item):
                values[item.name] = value
        return values

    def run(self, context: _Context) -> dict:
        raise NotImplementedError


def _default(item):
    return item.default_factory() if callable(item.default_factory) else item.default


def _write_frame(frame: pd.DataFrame, path: Path) -> str:
    frame.to_pickle(path)
    return str(path)


def _read_frame(path: str) -> pd.DataFrame:
    return pd.read_pickle(path)


@dataclass(kw_only=True)
class ProcessingStep(Step):
    """Load data, drop columns, optionally transform, split into train/validation/test.

    The data come from exactly one of ``dataset`` (a name from ``data.DATASETS``; ``rows``
    and ``seed`` size the campaign), ``csv`` (a path; relative to the YAML file when the
    pipeline came from one) or ``input`` (a reference to another step's table).
    ``function`` (Python only) maps the frame to a new frame before the split; its source
    text goes into the cache key (values it captures from outside do not).

    >>> ProcessingStep("prepare", dataset="campaign", csv="x.csv", target="subscribed")
    Traceback (most recent call last):
    ...
    mlcycle_ref.pipeline.PipelineError: step 'prepare': give exactly one of dataset, csv and \
input
    """

    target: str
    dataset: str | None = None
    csv: str | None = None
    input: str | None = None
    rows: int = 10_000
    seed: int = 0
    drop: list[str] = field(default_factory=list)
    fractions: list[float] = field(default_factory=lambda: [0.7, 0.2, 0.1])
    function: Callable | None = None

    kind: ClassVar[str] = "processing"
    outputs: ClassVar[tuple[str, ...]] = ("train", "validation", "test")
    inputs: ClassVar[tuple[str, ...]] = ("input",)
    cacheable: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if sum(source is not None for source in (self.dataset, self.csv, self.input)) != 1:
            raise PipelineError(f"step {self.name!r}: give exactly one of dataset, csv and input")
        if self.dataset is not None and self.dataset not in data.DATASETS:
            raise PipelineError(f"step {self.name!r}: unknown dataset {self.dataset!r}; "
                                f"choose from {data.DATASETS}")

    def run(self, context):
        if self.dataset is not None:
            frame = data.load(self.dataset, n_rows=self.rows, seed=self.seed).frame
        elif self.csv is not None:
            frame = data.from_csv(context.path(self.csv), self.target).frame
        else:
            frame = _read_frame(context.resolve(self.input))
        missing = [name for name in [*self.drop, self.target] if name not in frame.columns]
        if missing:
            raise PipelineError(f"step {self.name!r}: columns {missing} are not in the data; "
                                f"found {list(frame.columns)}")
        frame = frame.drop(columns=self.drop)
        if self.function is not None:
            frame = self.function(frame)
        parts = data.split(frame, self.target, tuple(self.fractions), seed=self.seed)
        return {name: _write_frame(part, context.folder / f"{name}.pkl")
                for name, part in zip(self.outputs, parts, strict=True)}


@dataclass(kw_only=True)
class TrainingStep(Step):
    """Fit ``models.make_pipeline(algorithm, ...)`` on the ``train`` table.

    ``backend`` "local" or "dask" runs a training job (``jobs.run``: its own process, status,
    log and artifacts); "in-process" fits right here, which is quicker for small data. The
    output ``model`` is a folder with the fitted pipeline and what it predicts.
    """

    algorithm: str
    target: str
    train: str
    validation: str | None = None
    task: str | None = None
    hyperparameters: dict = field(default_factory=dict)
    seed: int = 0
    backend: str = "local"
    cpus: int = 1
    max_runtime: float = 3600.0

    kind: ClassVar[str] = "training"
    outputs: ClassVar[tuple[str, ...]] = ("model",)
    inputs: ClassVar[tuple[str, ...]] = ("train", "validation")
    cacheable: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.algorithm not in models.ALGORITHMS:
            raise PipelineError(f"step {self.name!r}: algorithm must be one of "
                                f"{models.ALGORITHMS}, got {self.algorithm!r}")
        if self.backend not in TRAINING_BACKENDS:
            raise PipelineError(f"step {self.name!r}: backend must be one of "
                                f"{TRAINING_BACKENDS}, got {self.backend!r}")

    def run(self, context):
        train_path = context.resolve(self.train)
        validation_path = context.resolve(self.validation) if self.validation else None
        train = _read_frame(train_path)
        task = self.task or data.infer_task(train[self.target])
        if self.backend == "in-process":
            fitted = models.make_pipeline(self.algorithm, train, self.target, task,
                                          seed=self.seed, **self.hyperparameters)
            fitted.fit(train.drop(columns=self.target), train[self.target])
            trained_by = "in-process"
        else:
            from mlcycle_ref import jobs  # the job machinery is only needed for jobs

            spec = jobs.JobSpec(self.algorithm, task, self.target, train_path, validation_path,
                                hyperparameters=dict(self.hyperparameters), cpus=self.cpus,
                                max_runtime=self.max_runtime, seed=self.seed,
                                output=context.folder / "jobs")
            job = jobs.run(spec, backend=self.backend)
            if job.status != "Completed":
                reason = job.describe().get("failure_reason") or job.secondary_status
                raise RuntimeError(f"training job {job.name} ended {job.status}: {reason}")
            fitted = jobs.load_model(job)
            trained_by = f"training job {job.name}"
        folder = context.folder / "model"
        folder.mkdir()
        joblib.dump(fitted, folder / MODEL_FILE)
        classes = getattr(fitted, "classes_", None)
        info = {"algorithm": self.algorithm, "task": task, "target": self.target,
                "classes": None if classes is None else [_plain(c) for c in classes],
                "trained_by": trained_by}
        (folder / MODEL_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
        context.message = f"trained by {trained_by}"
        return {"model": str(folder)}


def _plain(value):
    """NumPy scalars as Python values, so that they go into JSON."""
    return value.item() if hasattr(value, "item") else value


def load_model(model_uri) -> object:
    """The fitted pipeline stored in a model folder (a training step's output)."""
    folder = Path(model_uri)
    if not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {MODEL_FILE}; is this a training step's model?")
    return joblib.load(folder / MODEL_FILE)


def _model_info(model_uri) -> dict:
    return json.loads((Path(model_uri) / MODEL_INFO).read_text(encoding="utf-8"))


@dataclass(kw_only=True)
class EvaluationStep(Step):
    """Score ``model`` on the ``data`` table with ``evaluate.evaluate``; output ``metrics``."""

    model: str
    data: str

    kind: ClassVar[str] = "evaluation"
    outputs: ClassVar[tuple[str, ...]] = ("metrics",)
    inputs: ClassVar[tuple[str, ...]] = ("model", "data")
    cacheable: ClassVar[bool] = True

    def run(self, context):
        model_uri = context.resolve(self.model)
        info = _model_info(model_uri)
        frame = _read_frame(context.resolve(self.data))
        scores = evaluate.evaluate(load_model(model_uri), frame, info["target"], task=info["task"])
        (context.folder / "metrics.json").write_text(json.dumps(scores, indent=2),
                                                     encoding="utf-8")
        return {"metrics": scores}


_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
              "==": operator.eq, "!=": operator.ne}
# SageMaker's condition names, for readers who come from there.
_OPERATOR_NAMES = {"GreaterThanOrEqualTo": ">=", "GreaterThan": ">", "LessThanOrEqualTo": "<=",
                   "LessThan": "<", "Equals": "==", "NotEquals": "!="}


@dataclass
class Condition:
    """``left`` (a reference) compared with the value ``right`` by ``op``.

    >>> Condition("score.metrics.roc_auc", "GreaterThanOrEqualTo", 0.8).op
    '>='
    """

    left: str
    op: str
    right: float | int | str | bool

    def __post_init__(self):
        self.op = _OPERATOR_NAMES.get(self.op, self.op)
        if self.op not in _OPERATORS:
            raise PipelineError(f"condition on {self.left!r}: operator {self.op!r} is not one "
                                f"of {list(_OPERATORS)} or {list(_OPERATOR_NAMES)}")


@dataclass(kw_only=True)
class ConditionStep(Step):
    """Run ``if_steps`` when every condition holds, ``else_steps`` otherwise.

    The steps of the branch not taken, and the steps that need them, are skipped.
    """

    conditions: list[Condition]
    if_steps: list[str] = field(default_factory=list)
    else_steps: list[str] = field(default_factory=list)

    kind: ClassVar[str] = "condition"
    outputs: ClassVar[tuple[str, ...]] = ("outcome",)

    def __post_init__(self):
        super().__post_init__()
        where = f"step {self.name!r}"
        self.conditions = [c if isinstance(c, Condition) else _build(Condition, c, where)
                           for c in self.conditions]
        self.if_steps = [getattr(s, "name", s) for s in self.if_steps]
        self.else_steps = [getattr(s, "name", s) for s in self.else_steps]
        both = sorted(set(self.if_steps) & set(self.else_steps))
        if both:
            raise PipelineError(f"step {self.name!r}: {both} are in both if_steps and else_steps")

    def references(self):
        return [condition.left for condition in self.conditions]

    def definition(self):
        values = super().definition()
        values["conditions"] = [asdict(condition) for condition in self.conditions]
        return values

    def run(self, context):
        seen = []
        outcome = True
        for condition in self.conditions:
            value = context.resolve(condition.left)
            holds = bool(_OPERATORS[condition.op](value, condition.right))
            outcome = outcome and holds
            seen.append(f"{condition.left} = {value!r} {condition.op} {condition.right!r}: "
                        f"{'true' if holds else 'false'}")
        context.message = "; ".join(seen)
        return {"outcome": outcome}


@dataclass(kw_only=True)
class RegisterModelStep(Step):
    """Add ``model`` as a new version of ``model_group`` in the registry, with its metrics.

    Registering the same model again (same training key) returns the existing version.
    ``registry`` is a URL; by default the one given to :meth:`Pipeline.run`.
    """

    model: str
    model_group: str
    metrics: str | None = None
    approval_status: str = "PendingManualApproval"
    description: str = ""
    registry: str | None = None

    kind: ClassVar[str] = "register_model"
    outputs: ClassVar[tuple[str, ...]] = ("group", "version")
    inputs: ClassVar[tuple[str, ...]] = ("model", "metrics")

    def __post_init__(self):
        super().__post_init__()
        if self.approval_status not in APPROVAL_STATUSES:
            raise PipelineError(f"step {self.name!r}: approval_status must be one of "
                                f"{APPROVAL_STATUSES}, got {self.approval_status!r}")

    def run(self, context):
        registry = ModelRegistry(self.registry) if self.registry else context.registry
        version = registry.register(
            self.model_group, context.resolve(self.model),
            metrics=context.resolve(self.metrics) if self.metrics else None,
            approval_status=self.approval_status, description=self.description,
            digest=context.key_of(self.model))
        context.message = f"{version.group} version {version.version} ({version.approval_status})"
        return {"group": version.group, "version": version.version}


@dataclass(kw_only=True)
class FailStep(Step):
    """End the run as Failed; ``{step.output.key}`` in the message is filled in."""

    error_message: str

    kind: ClassVar[str] = "fail"

    def references(self):
        return _PLACEHOLDER.findall(self.error_message)

    def run(self, context):
        def fill(match):
            value = context.resolve(match.group(1))
            return f"{value:.4f}" if isinstance(value, float) else str(value)

        raise _Failed(_PLACEHOLDER.sub(fill, self.error_message))


STEP_TYPES = {cls.kind: cls for cls in (ProcessingStep, TrainingStep, EvaluationStep,
                                        ConditionStep, RegisterModelStep, FailStep)}


def _build(cls, values: dict, where: str):
    """``cls(**values)`` with an error that names the step and the offending field."""
    if not isinstance(values, dict):
        raise PipelineError(f"{where}: expected a mapping, got {values!r}")
    allowed = [item.name for item in fields(cls)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise PipelineError(f"{where}: unknown field {unknown} for {cls.__name__}; "
                            f"valid fields: {allowed}")
    try:
        return cls(**values)
    except TypeError as error:
        raise PipelineError(f"{where}: {error}") from None


# --------------------------------------------------------------------------- the pipeline


@dataclass
class StepRun:
    """What happened to one step in one execution."""

    name: str
    kind: str
    status: str  # Succeeded, Failed or Skipped
    cached: bool = False
    seconds: float = 0.0
    message: str = ""
    outputs: dict = field(default_factory=dict)


@dataclass
class Execution:
    """One run of a pipeline: overall status, failure reason and a record per step."""

    pipeline: str
    id: str
    status: str  # Succeeded or Failed
    failure_reason: str | None
    steps: list[StepRun]
    folder: Path

    def table(self) -> pd.DataFrame:
        """One row per step in the order run: name, kind, status, cached, seconds, message."""
        rows = [{key: value for key, value in asdict(run).items() if key != "outputs"}
                for run in self.steps]
        return pd.DataFrame(rows, columns=["name", "kind", "status", "cached", "seconds",
                                           "message"])

    def outputs(self, step: str) -> dict:
        for run in self.steps:
            if run.name == step:
                return run.outputs
        raise KeyError(f"no step {step!r} in this execution")


class _Context:
    """What a running step may use: its folder, resolved references and the registry."""

    def __init__(self, folder: Path, produced: dict, keys: dict, registry, base: Path):
        self.folder, self._produced, self._keys = folder, produced, keys
        self.registry, self._base, self.message = registry, base, ""

    def resolve(self, reference: str):
        step, output, keys = _split_reference(reference, "reference")
        value = self._produced[step][output]
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise PipelineError(f"{reference!r}: no key {key!r} in {value!r}")
            value = value[key]
        return value

    def key_of(self, reference: str) -> str:
        return self._keys[_split_reference(reference, "reference")[0]]

    def path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self._base / path


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Pipeline:
    """Named steps joined by references; checked when built, run with :meth:`run`.

    ``base`` is the folder that relative CSV paths start from (the YAML file's folder).

    >>> Pipeline("loop", [
    ...     ProcessingStep("prep", dataset="wine", target="target"),
    ...     EvaluationStep("score", model="train.model", data="prep.test"),
    ...     TrainingStep("train", algorithm="linear", target="target", train="prep.train",
    ...                  depends_on=["score"])])
    Traceback (most recent call last):
    ...
    mlcycle_ref.pipeline.PipelineError: pipeline 'loop': steps form a cycle (each feeds the \
next): score -> train -> score
    """

    name: str
    steps: list[Step]
    base: Path = field(default_factory=Path.cwd)

    def __post_init__(self):
        if not _NAME.match(str(self.name)):
            raise PipelineError(f"pipeline name {self.name!r}: use letters, digits, '_' and '-'")
        names = [step.name for step in self.steps]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise PipelineError(f"pipeline {self.name!r}: step names {duplicates} are used twice")
        self._steps = {step.name: step for step in self.steps}
        self._needs = {step.name: self._dependencies(step) for step in self.steps}
        self._branch = {}
        for step in self.steps:
            if isinstance(step, ConditionStep):
                for member, taken in [*((s, True) for s in step.if_steps),
                                      *((s, False) for s in step.else_steps)]:
                    self._require(step, member)
                    if member in self._branch:
                        raise PipelineError(f"step {member!r} is in the branches of two "
                                            f"condition steps: {self._branch[member][0]!r} "
                                            f"and {step.name!r}")
                    self._branch[member] = (step.name, taken)
                    self._needs[member].add(step.name)
        self.order = self._sorted()

    def _require(self, step: Step, name: str) -> None:
        if name not in self._steps:
            raise PipelineError(f"step {step.name!r} depends on {name!r}, but there is no step "
                                f"{name!r}; steps: {list(self._steps)}")

    def _dependencies(self, step: Step) -> set[str]:
        needed = set()
        for reference in step.references():
            source, output, _ = _split_reference(reference, f"step {step.name!r}")
            self._require(step, source)
            if output not in self._steps[source].outputs:
                raise PipelineError(
                    f"step {step.name!r} refers to {reference!r}, but step {source!r} has no "
                    f"output {output!r}; its outputs: {list(self._steps[source].outputs)}")
            needed.add(source)
        for name in step.depends_on:
            self._require(step, name)
            needed.add(name)
        return needed

    def _sorted(self) -> list[str]:
        """Dependency order; among steps that are ready, the order they were listed in."""
        listed = {step.name: index for index, step in enumerate(self.steps)}
        graph = graphlib.TopologicalSorter(self._needs)
        try:
            graph.prepare()
        except graphlib.CycleError as error:
            # graphlib gives the cycle with each step before the step it feeds.
            raise PipelineError(f"pipeline {self.name!r}: steps form a cycle (each feeds the "
                                f"next): {' -> '.join(error.args[1])}") from None
        done: list[str] = []
        ready: set[str] = set()
        while graph.is_active():
            ready.update(graph.get_ready())
            first = min(ready, key=listed.__getitem__)
            ready.remove(first)
            graph.done(first)
            done.append(first)
        return done

    # ---- definitions as data

    @classmethod
    def from_dict(cls, mapping: dict, *, base=None) -> Pipeline:
        """Build a pipeline from ``{"name": ..., "steps": [{"name", "type", ...}, ...]}``."""
        if not isinstance(mapping, dict) or "steps" not in mapping or "name" not in mapping:
            raise PipelineError("a pipeline definition needs 'name' and 'steps'")
        steps = []
        for position, values in enumerate(mapping["steps"], start=1):
            values = dict(values)
            where = f"step {values.get('name', f'number {position}')!r}"
            kind = values.pop("type", None)
            if kind not in STEP_TYPES:
                raise PipelineError(f"{where}: type must be one of {list(STEP_TYPES)}, "
                                    f"got {kind!r}")
            steps.append(_build(STEP_TYPES[kind], values, where))
        return cls(mapping["name"], steps, Path(base) if base else Path.cwd())

    @classmethod
    def from_yaml(cls, path) -> Pipeline:
        """Read a pipeline from a YAML file; CSV paths in it are relative to the file.

        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.yml"
        >>> _ = path.write_text("name: p\\nsteps:\\n  - {name: prep, type: processing, "
        ...                     "dataset: wine, target: target}\\n")
        >>> Pipeline.from_yaml(path).order
        ['prep']
        """
        path = Path(path)
        try:
            mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise PipelineError(f"{path}: not valid YAML: {error}") from None
        try:
            return cls.from_dict(mapping, base=path.resolve().parent)
        except PipelineError as error:
            raise PipelineError(f"{path}: {error}") from None

    def to_dict(self) -> dict:
        """The definition as plain data; ``from_dict(to_dict())`` gives the same pipeline."""
        return {"name": self.name, "steps": [step.definition() for step in self.steps]}

    def to_yaml(self) -> str:
        """The definition as YAML text (steps with a Python ``function`` cannot be written)."""
        for step in self.steps:
            if getattr(step, "function", None) is not None:
                raise PipelineError(f"step {step.name!r} holds a Python function, which YAML "
                                    "cannot express")
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # ---- running

    def _key(self, step: Step, keys: dict) -> str:
        definition = step.definition()
        if isinstance(step, ProcessingStep):
            definition.pop("function", None)
            if step.function is not None:
                try:
                    definition["function"] = inspect.getsource(step.function)
                except (OSError, TypeError):
                    definition["function"] = step.function.__qualname__
            source = self.base / step.csv if step.csv is not None else None
            if source is not None and source.is_file():  # a missing file fails in the step
                definition["csv_sha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
        upstream = {name: keys[name] for name in sorted(self._needs[step.name])}
        payload = {"step": definition, "upstream": upstream, "mlcycle": __version__}
        return _digest(json.dumps(payload, sort_keys=True, default=str))

    def run(self, *, cache: bool = True, workdir=None, registry=None,
            progress: Callable[[StepRun], None] | None = None) -> Execution:
        """Run every step in dependency order and return the :class:`Execution`.

        ``workdir`` (default ``data_dir()/"pipelines"/name``) keeps step outputs and the
        cache; ``cache=False`` runs every step afresh. ``registry`` is a
        :class:`ModelRegistry` or URL for register steps. ``progress`` is called with each
        finished :class:`StepRun`. A failing step never raises here: the execution ends
        ``Failed`` with the step's message as ``failure_reason``.
        """
        workdir = Path(workdir) if workdir else data_dir() / "pipelines" / self.name
        registry = registry if isinstance(registry, ModelRegistry) else ModelRegistry(registry)
        execution = Execution(self.name, f"{time.strftime('%Y%m%d-%H%M%S')}-"
                              f"{uuid.uuid4().hex[:6]}", "Succeeded", None, [], workdir)
        produced: dict[str, dict] = {}
        keys: dict[str, str] = {}
        for name in self.order:
            step = self._steps[name]
            keys[name] = self._key(step, keys)
            record = self._run_step(step, keys[name], workdir, produced, keys, registry,
                                    cache, stopped=execution.status == "Failed")
            if record.status == "Succeeded":
                produced[name] = record.outputs
            elif record.status == "Failed":
                execution.status = "Failed"
                execution.failure_reason = f"step {name!r}: {record.message}"
            execution.steps.append(record)
            if progress is not None:
                progress(record)
        folder = workdir / "executions"
        folder.mkdir(parents=True, exist_ok=True)
        summary = {**asdict(execution), "folder": str(workdir)}
        (folder / f"{execution.id}.json").write_text(json.dumps(summary, indent=2, default=str),
                                                     encoding="utf-8")
        return execution

    def _skip_reason(self, step: Step, produced: dict, stopped: bool) -> str | None:
        if stopped:
            return "not run: the pipeline had already failed"
        if step.name in self._branch:
            condition, taken = self._branch[step.name]
            if condition in produced and produced[condition]["outcome"] != taken:
                return f"condition {condition!r} was {not taken}"
        missing = sorted(self._needs[step.name] - set(produced))
        if missing:
            return f"not run: needs {missing}, which did not succeed"
        return None

    def _run_step(self, step, key, workdir, produced, keys, registry, cache, stopped) -> StepRun:
        reason = self._skip_reason(step, produced, stopped)
        if reason:
            return StepRun(step.name, step.kind, "Skipped", message=reason)
        folder = workdir / "artifacts" / step.name / key[:16]
        saved = folder / "outputs.json"
        if cache and step.cacheable and saved.is_file():
            return StepRun(step.name, step.kind, "Succeeded", cached=True,
                           message=f"cache hit ({key[:16]})",
                           outputs=json.loads(saved.read_text(encoding="utf-8")))
        if folder.exists():  # left over from a run that did not finish
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        context = _Context(folder, produced, keys, registry, self.base)
        start = time.perf_counter()
        try:
            outputs = step.run(context)
        except _Failed as failure:
            return StepRun(step.name, step.kind, "Failed", seconds=time.perf_counter() - start,
                           message=str(failure))
        except Exception as error:  # a broken step ends the run, never the caller
            return StepRun(step.name, step.kind, "Failed", seconds=time.perf_counter() - start,
                           message=f"{type(error).__name__}: {error}")
        if step.cacheable:
            temporary = folder / "outputs.json.tmp"
            temporary.write_text(json.dumps(outputs, indent=2, default=_plain), encoding="utf-8")
            temporary.replace(saved)  # written last and atomically: it marks a complete step
        return StepRun(step.name, step.kind, "Succeeded", seconds=time.perf_counter() - start,
                       message=context.message, outputs=outputs)


# --------------------------------------------------------------------------- model registry


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model group."""

    group: str
    version: int
    approval_status: str
    model_uri: str
    metrics: dict
    description: str
    digest: str | None
    created: float
    updated: float

    def load(self):
        """The fitted model of this version."""
        return load_model(self.model_uri)


_METADATA = MetaData()
_GROUPS = Table("model_groups", _METADATA, Column("name", String, primary_key=True),
                Column("description", Text), Column("created", Float))
_VERSIONS = Table(
    "model_versions", _METADATA,
    Column("group_name", String, primary_key=True), Column("version", Integer, primary_key=True),
    Column("approval_status", String, nullable=False), Column("model_uri", Text, nullable=False),
    Column("metrics", Text), Column("description", Text), Column("digest", String),
    Column("created", Float), Column("updated", Float),
)


class ModelRegistry:
    """Model groups and their numbered versions with metrics and approval status.

    ``url`` is any SQLAlchemy URL (see :mod:`mlcycle_ref.storage`): by default the SQLite
    file ``registry.db`` in ``data_dir()``, or a PostgreSQL database a team shares.

    >>> import os, tempfile
    >>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
    >>> registry = ModelRegistry()
    >>> registry.register("churn", "/models/a", metrics={"roc_auc": 0.81}).version
    1
    >>> registry.update_status("churn", 1, "Approved").approval_status
    'Approved'
    >>> registry.approved("churn").metrics
    {'roc_auc': 0.81}
    """

    def __init__(self, url: str | None = None):
        self.url = storage.store_url(url, "registry.db", "registry")
        self._engine = storage.open_engine(self.url, _METADATA)

    def __repr__(self) -> str:
        return f"ModelRegistry({self.url!r})"

    def create_group(self, name: str, description: str = "") -> None:
        """Create a model group; an existing group is left as it is."""
        if not _NAME.match(str(name)):
            raise ValueError(f"model group name {name!r}: use letters, digits, '_' and '-'")
        with contextlib.suppress(IntegrityError), self._engine.begin() as connection:
            connection.execute(_GROUPS.insert().values(name=name, description=description,
                                                       created=time.time()))

    def register(self, group: str, model_uri, *, metrics: dict | None = None,
                 approval_status: str = "PendingManualApproval", description: str = "",
                 digest: str | None = None) -> ModelVersion:
        """Add the next version to ``group`` (created when new) and return it.

        With a ``digest`` already registered in the group, the existing version is returned.
        """
        _check_status(approval_status)
        self.create_group(group)
        in_group = _VERSIONS.c.group_name == group
        while True:
            now = time.time()
            try:
                with self._engine.begin() as connection:
                    if digest is not None:
                        known = connection.execute(select(_VERSIONS.c.version).where(
                            in_group, _VERSIONS.c.digest == digest)).scalar()
                        if known is not None:
                            return self.get(group, known)
                    latest = connection.execute(
                        select(func.coalesce(func.max(_VERSIONS.c.version), 0)).where(in_group)
                    ).scalar()
                    connection.execute(_VERSIONS.insert().values(
                        group_name=group, version=latest + 1, approval_status=approval_status,
                        model_uri=str(model_uri), description=description, digest=digest,
                        metrics=json.dumps(metrics or {}, default=_plain),
                        created=now, updated=now))
                return self.get(group, latest + 1)
            except IntegrityError:
                continue  # another writer took this number first: count again

    def get(self, group: str, version: int | None = None) -> ModelVersion:
        """A version of ``group``; the latest one when ``version`` is None."""
        query = select(_VERSIONS).where(_VERSIONS.c.group_name == group)
        if version is not None:
            query = query.where(_VERSIONS.c.version == int(version))
        with self._engine.connect() as connection:
            row = connection.execute(query.order_by(_VERSIONS.c.version.desc())).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            groups = self.groups()["group"].tolist()
            raise KeyError(f"no {which} of model group {group!r} in {self.url}; "
                           f"groups: {groups}")
        return _as_version(row)

    def approved(self, group: str) -> ModelVersion | None:
        """The newest Approved version of ``group`` - the one to deploy - or None."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_VERSIONS).where(_VERSIONS.c.group_name == group,
                                        _VERSIONS.c.approval_status == "Approved")
                .order_by(_VERSIONS.c.version.desc())).first()
        return None if row is None else _as_version(row)

    def update_status(self, group: str, version: int, approval_status: str) -> ModelVersion:
        """Approve or reject a version (or send it back to PendingManualApproval)."""
        _check_status(approval_status)
        self.get(group, version)
        with self._engine.begin() as connection:
            connection.execute(_VERSIONS.update().where(
                _VERSIONS.c.group_name == group, _VERSIONS.c.version == int(version))
                .values(approval_status=approval_status, updated=time.time()))
        return self.get(group, version)

    def groups(self) -> pd.DataFrame:
        """One row per model group: its description, number of versions, newest approved."""
        approved = case((_VERSIONS.c.approval_status == "Approved", _VERSIONS.c.version))
        query = (select(_GROUPS.c.name, _GROUPS.c.description, func.count(_VERSIONS.c.version),
                        func.max(approved))
                 .select_from(_GROUPS.outerjoin(_VERSIONS,
                                                _VERSIONS.c.group_name == _GROUPS.c.name))
                 .group_by(_GROUPS.c.name, _GROUPS.c.description).order_by(_GROUPS.c.name))
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return pd.DataFrame([tuple(row) for row in rows],
                            columns=["group", "description", "versions", "latest_approved"])

    def versions(self, group: str) -> pd.DataFrame:
        """Every version of ``group``, oldest first, with one column per metric."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(_VERSIONS).where(_VERSIONS.c.group_name == group)
                                      .order_by(_VERSIONS.c.version)).all()
        records = []
        for row in rows:
            version = _as_version(row)
            records.append({"version": version.version, "approval_status":
                            version.approval_status, **version.metrics,
                            "created": pd.Timestamp(version.created, unit="s", tz="UTC"),
                            "model_uri": version.model_uri})
        return pd.DataFrame(records, columns=None if records else
                            ["version", "approval_status", "created", "model_uri"])


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise ValueError(f"approval status must be one of {APPROVAL_STATUSES}, got {status!r}")


def _as_version(row) -> ModelVersion:
    values = row._mapping
    return ModelVersion(group=values["group_name"], version=values["version"],
                        approval_status=values["approval_status"],
                        model_uri=values["model_uri"], metrics=json.loads(values["metrics"]),
                        description=values["description"], digest=values["digest"],
                        created=values["created"], updated=values["updated"])


# --------------------------------------------------------------------------- command line


def _print_step(record: StepRun) -> None:
    cached = " (cached)" if record.cached else ""
    print(f"  {record.name:<20} {record.kind:<15} {record.status}{cached}"
          f"{f'  {record.message}' if record.message and not record.cached else ''}")


def _run(args) -> int:
    try:
        definition = Pipeline.from_yaml(args.file)
    except (PipelineError, OSError) as error:
        print(f"mlcycle pipeline: error: {error}", file=sys.stderr)
        return 2
    print(f"pipeline {definition.name}: {len(definition.steps)} steps")
    execution = definition.run(cache=not args.no_cache, workdir=args.workdir,
                               registry=args.registry, progress=_print_step)
    print(f"{execution.status}" + (f": {execution.failure_reason}"
                                   if execution.failure_reason else ""))
    return 0 if execution.status == "Succeeded" else 1


def _models(args) -> int:
    registry = ModelRegistry(args.registry)
    table = registry.versions(args.group) if args.group else registry.groups()
    print(table.to_string(index=False) if len(table) else "nothing registered yet")
    return 0


def _set_status(status: str):
    def handler(args) -> int:
        try:
            version = ModelRegistry(args.registry).update_status(args.group, args.version,
                                                                 status)
        except KeyError as error:
            print(f"mlcycle pipeline: error: {error.args[0]}", file=sys.stderr)
            return 2
        print(f"{version.group} version {version.version}: {version.approval_status}")
        return 0
    return handler


def register(subparsers) -> None:
    """Add ``mlcycle pipeline run FILE | models [GROUP] | approve | reject`` to the CLI."""
    command = subparsers.add_parser("pipeline", help="run pipelines, look after the registry")
    command.add_argument("--registry", default=None,
                         help="registry URL (default: sqlite:///<data dir>/registry.db)")
    actions = command.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run a pipeline defined in a YAML file")
    run.add_argument("file", help="pipeline YAML file")
    run.add_argument("--no-cache", action="store_true", help="run every step afresh")
    run.add_argument("--workdir", default=None, help="folder for step outputs and the cache")
    run.set_defaults(handler=_run)
    listing = actions.add_parser("models", help="list model groups, or the versions of one")
    listing.add_argument("group", nargs="?", help="model group")
    listing.set_defaults(handler=_models)
    for action, status in (("approve", "Approved"), ("reject", "Rejected")):
        change = actions.add_parser(action, help=f"mark a model version {status}")
        change.add_argument("group", help="model group")
        change.add_argument("version", type=int, help="version number")
        change.set_defaults(handler=_set_status(status))

