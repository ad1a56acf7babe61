"""The step types of a pipeline, what each reads and writes, and the references that join them."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import joblib
import pandas as pd

from mlcycle_ref import data, evaluate, models
from mlcycle_ref.errors import MlcycleError
from mlcycle_ref.pipeline.registry import (
    _NAME,
    APPROVAL_STATUSES,
    MODEL_FILE,
    MODEL_INFO,
    ModelRegistry,
    _plain,
    load_model,
)

if TYPE_CHECKING:  # the pipeline runs steps; a step only sees its context
    from mlcycle_ref.pipeline.graph import _Context

TRAINING_BACKENDS = ("local", "dask", "in-process")
_REFERENCE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*)\.([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+)*)$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class PipelineError(MlcycleError, ValueError):
    """A pipeline that cannot run as defined; the message names the step at fault.

    >>> TrainingStep("fit", algorithm="catboost", target="y", train="prep.train")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlcycle_ref.pipeline.steps.PipelineError: step 'fit': algorithm must be one of ...
    """


class _Failed(Exception):
    """Raised by a fail step: the run ends as Failed with this message."""


def _split_reference(reference: str, where: str) -> tuple[str, str, tuple[str, ...]]:
    match = _REFERENCE.match(str(reference))
    if match is None:
        raise PipelineError(f"{where}: {reference!r} is not a reference; write 'step.output' "
                            "or 'step.output.key'")
    keys = tuple(part for part in match.group(3).split(".") if part)
    return match.group(1), match.group(2), keys


@dataclass
class Step:
    """Base of all steps: a unique ``name`` plus ``depends_on``, extra steps to wait for.

    ``name`` uses letters, digits, '_' and '-'; ``depends_on`` lists steps (or their names)
    that must run first although the step reads nothing from them. A step type is a
    dataclass that sets ``kind`` (its YAML type), ``outputs``, ``inputs`` (the fields that
    hold references) and implements ``run(context)``, which returns a value per output.
    ``context`` is what a running step may use: ``context.folder``, a fresh folder for its
    files; ``context.resolve(reference)``, the value another step produced;
    ``context.path(name)``, a path relative to the pipeline's base folder; and
    ``context.message``, a line for the run's table. A step type of one's own:

    >>> from dataclasses import dataclass
    >>> from mlcycle_ref.pipeline import Pipeline
    >>> @dataclass(kw_only=True)
    ... class CountRows(Step):
    ...     table: str
    ...     kind = "count_rows"
    ...     outputs = ("rows",)
    ...     inputs = ("table",)
    ...     def run(self, context):
    ...         return {"rows": len(pd.read_pickle(context.resolve(self.table)))}
    >>> count = CountRows("count", table="prep.train")
    >>> count.references(), count.output("rows")
    (['prep.train'], 'count.rows')
    >>> count.definition()
    {'name': 'count', 'type': 'count_rows', 'table': 'prep.train'}
    >>> prep = ProcessingStep("prep", dataset="wine", target="target")
    >>> Pipeline("sizes", [prep, count]).run().outputs("count")
    {'rows': 124}
    >>> Step("bare").run(None)
    Traceback (most recent call last):
    ...
    NotImplementedError
    """

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

        ``name`` is one of the step's ``outputs``; ``keys`` reach into an output that is a
        dictionary (``"score.metrics.roc_auc"``).

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
    text goes into the cache key (values it captures from outside do not). ``target`` is
    the label column, ``drop`` lists columns removed first, and ``fractions`` and ``seed``
    split as :func:`mlcycle_ref.data.split` does. ``name`` and ``depends_on`` are as for
    :class:`Step`.

    >>> from mlcycle_ref.pipeline import Pipeline
    >>> prep = ProcessingStep("prep", dataset="wine", target="target", drop=["proline"],
    ...                       fractions=[0.6, 0.2, 0.2])
    >>> parts = Pipeline("wine", [prep]).run().outputs("prep")
    >>> [pd.read_pickle(parts[name]).shape for name in ("train", "validation", "test")]
    [(106, 13), (36, 13), (36, 13)]

    >>> ProcessingStep("prepare", dataset="campaign", csv="x.csv", target="subscribed")
    Traceback (most recent call last):
    ...
    mlcycle_ref.pipeline.steps.PipelineError: step 'prepare': give exactly one of dataset, csv and \
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
        """Load, drop, transform and split the data; ``context.folder`` gets the parts."""
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

    ``target`` is the label column; ``validation`` an optional reference to a table the
    training job scores as it goes (in-process training does not read it); ``task`` is
    inferred from the labels unless given; ``hyperparameters`` override the algorithm's
    defaults and ``seed`` seeds the model. A training job gets ``cpus`` threads and is
    stopped after ``max_runtime`` seconds.
    ``name`` and ``depends_on`` are as for :class:`Step`.

    >>> from mlcycle_ref.pipeline import Pipeline, load_model
    >>> prep = ProcessingStep("prep", dataset="penguins", target="species")
    >>> train = TrainingStep("train", algorithm="linear", target="species", train="prep.train",
    ...                      hyperparameters={"C": 0.5}, backend="in-process")
    >>> model_uri = Pipeline("penguins", [prep, train]).run().outputs("train")["model"]
    >>> load_model(model_uri).named_steps["model"].C
    0.5
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
        """Fit the model on the table ``context`` resolves and save it in ``context.folder``."""
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


def _model_info(model_uri) -> dict:
    return json.loads((Path(model_uri) / MODEL_INFO).read_text(encoding="utf-8"))


@dataclass(kw_only=True)
class EvaluationStep(Step):
    """Score ``model`` on the ``data`` table with ``evaluate.evaluate``; output ``metrics``.

    ``name`` and ``depends_on`` are as for :class:`Step`.

    >>> from mlcycle_ref.pipeline import Pipeline
    >>> execution = Pipeline("wine", [
    ...     ProcessingStep("prep", dataset="wine", target="target"),
    ...     TrainingStep("train", algorithm="linear", target="target", train="prep.train",
    ...                  backend="in-process"),
    ...     EvaluationStep("score", model="train.model", data="prep.test")]).run()
    >>> sorted(execution.outputs("score")["metrics"])[:3]
    ['accuracy', 'f1', 'log_loss']
    """

    model: str
    data: str

    kind: ClassVar[str] = "evaluation"
    outputs: ClassVar[tuple[str, ...]] = ("metrics",)
    inputs: ClassVar[tuple[str, ...]] = ("model", "data")
    cacheable: ClassVar[bool] = True

    def run(self, context):
        """Score the model ``context`` resolves on the data table; metrics.json keeps them."""
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

    ``conditions`` are :class:`Condition` objects or mappings with their fields. The steps
    of the branch not taken, and the steps that need them, are skipped. ``name`` and
    ``depends_on`` are as for :class:`Step`.

    >>> from mlcycle_ref.pipeline import FailStep, Pipeline
    >>> gate = ConditionStep("good-enough", else_steps=["stop"], conditions=[
    ...     {"left": "score.metrics.accuracy", "op": "GreaterThanOrEqualTo", "right": 0.8}])
    >>> gate.references()
    ['score.metrics.accuracy']
    >>> gate.definition()["conditions"]
    [{'left': 'score.metrics.accuracy', 'op': '>=', 'right': 0.8}]
    >>> execution = Pipeline("gated", [
    ...     ProcessingStep("prep", dataset="wine", target="target"),
    ...     TrainingStep("train", algorithm="linear", target="target", train="prep.train",
    ...                  backend="in-process"),
    ...     EvaluationStep("score", model="train.model", data="prep.test"),
    ...     gate, FailStep("stop", error_message="accuracy {score.metrics.accuracy}")]).run()
    >>> execution.outputs("good-enough"), execution.steps[-1].status
    ({'outcome': True}, 'Skipped')
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
        """The left-hand side of every condition."""
        return [condition.left for condition in self.conditions]

    def definition(self):
        """As :meth:`Step.definition`, the conditions written out as mappings."""
        values = super().definition()
        values["conditions"] = [asdict(condition) for condition in self.conditions]
        return values

    def run(self, context):
        """Resolve each condition's left side through ``context`` and compare it."""
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
    ``registry`` is a URL; by default the one given to :meth:`Pipeline.run`. The version
    starts with ``approval_status`` (default PendingManualApproval) and ``description``.
    ``name`` and ``depends_on`` are as for :class:`Step`.

    >>> from mlcycle_ref.pipeline import Pipeline
    >>> steps = [ProcessingStep("prep", dataset="wine", target="target"),
    ...          TrainingStep("train", algorithm="linear", target="target", train="prep.train",
    ...                       backend="in-process"),
    ...          RegisterModelStep("register", model="train.model", model_group="wine")]
    >>> Pipeline("wine", steps).run().outputs("register")
    {'group': 'wine', 'version': 1}
    >>> Pipeline("wine", steps).run().outputs("register")  # the same model: the same version
    {'group': 'wine', 'version': 1}
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
        """Register the model ``context`` resolves in the registry."""
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
    """End the run as Failed; ``{step.output.key}`` in ``error_message`` is filled in.

    ``name`` and ``depends_on`` are as for :class:`Step`.

    >>> from mlcycle_ref.pipeline import Pipeline
    >>> stop = FailStep("stop", error_message="{prep.test} is not good enough")
    >>> stop.references()
    ['prep.test']
    >>> execution = Pipeline("stopped", [ProcessingStep("prep", dataset="wine",
    ...                                                 target="target"), stop]).run()
    >>> execution.status, execution.failure_reason.endswith("test.pkl is not good enough")
    ('Failed', True)
    """

    error_message: str

    kind: ClassVar[str] = "fail"

    def references(self):
        """The references between braces in the message."""
        return _PLACEHOLDER.findall(self.error_message)

    def run(self, context):
        """Fill in the message from ``context`` and end the run with it."""
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
