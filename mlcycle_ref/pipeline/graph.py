"""A pipeline: its steps in dependency order, defined in Python or YAML, run with a cache."""

from __future__ import annotations

import graphlib
import hashlib
import inspect
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from mlcycle_ref import __version__
from mlcycle_ref.paths import data_dir
from mlcycle_ref.pipeline.registry import _NAME, ModelRegistry, _plain
from mlcycle_ref.pipeline.steps import (
    STEP_TYPES,
    ConditionStep,
    PipelineError,
    ProcessingStep,
    Step,
    _build,
    _Failed,
    _split_reference,
)


@dataclass
class StepRun:
    """What happened to one step in one execution.

    ``name`` and ``kind`` are the step's name and YAML type; ``status`` is "Succeeded",
    "Failed" or "Skipped"; ``cached`` is True when the outputs came from an earlier run;
    ``seconds`` is how long the step ran (0 when cached or skipped); ``message`` says what
    happened (a failure's reason, why a step was skipped, a condition's verdict); ``outputs``
    maps each output name to its value (often a file path).

    >>> run = Pipeline("one", [ProcessingStep("prep", dataset="wine", target="target")]).run()
    >>> step = run.steps[0]
    >>> step.name, step.kind, step.status, step.cached, sorted(step.outputs)
    ('prep', 'processing', 'Succeeded', False, ['test', 'train', 'validation'])
    """

    name: str
    kind: str
    status: str  # Succeeded, Failed or Skipped
    cached: bool = False
    seconds: float = 0.0
    message: str = ""
    outputs: dict = field(default_factory=dict)


@dataclass
class Execution:
    """One run of a pipeline: overall status, failure reason and a record per step.

    ``pipeline`` is the pipeline's name and ``id`` the run's (time stamp and a random
    suffix); ``status`` is "Succeeded" or "Failed", with ``failure_reason`` naming the
    failed step and why (None on success); ``steps`` holds one :class:`StepRun` per step in
    the order run; ``folder`` is the working folder with the outputs and the cache.

    >>> from mlcycle_ref.pipeline import FailStep
    >>> execution = Pipeline("halt", [
    ...     ProcessingStep("prep", dataset="wine", target="target"),
    ...     FailStep("stop", error_message="stopped after {prep.train}", depends_on=["prep"]),
    ... ]).run()
    >>> execution.status, execution.failure_reason.startswith("step 'stop': stopped after /")
    ('Failed', True)
    >>> execution.table()[["name", "status"]].values.tolist()
    [['prep', 'Succeeded'], ['stop', 'Failed']]
    >>> sorted(execution.outputs("prep"))
    ['test', 'train', 'validation']
    """

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
        """The outputs of the step named ``step``; ``KeyError`` if it is not in the run."""
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

    ``name`` names the pipeline (and its default working folder); ``steps`` lists its
    steps in any order that reads well, since the references decide the order they run in
    (``order``). ``base`` is the folder that relative CSV paths start from (the YAML
    file's folder; default the current folder).

    >>> from mlcycle_ref.pipeline import EvaluationStep, TrainingStep
    >>> pipeline = Pipeline("wine", [
    ...     EvaluationStep("score", model="train.model", data="prep.test"),
    ...     TrainingStep("train", algorithm="linear", target="target", train="prep.train",
    ...                  backend="in-process"),
    ...     ProcessingStep("prep", dataset="wine", target="target")])
    >>> pipeline.order
    ['prep', 'train', 'score']
    >>> pipeline.run().outputs("score")["metrics"]["accuracy"] > 0.8
    True
    >>> [step["type"] for step in pipeline.to_dict()["steps"]]
    ['evaluation', 'training', 'processing']
    >>> print(pipeline.to_yaml().splitlines()[0])
    name: wine
    >>> Pipeline.from_dict(pipeline.to_dict()).order == pipeline.order
    True

    A cycle is refused before anything runs:

    >>> from mlcycle_ref.pipeline import EvaluationStep, TrainingStep
    >>> Pipeline("loop", [
    ...     ProcessingStep("prep", dataset="wine", target="target"),
    ...     EvaluationStep("score", model="train.model", data="prep.test"),
    ...     TrainingStep("train", algorithm="linear", target="target", train="prep.train",
    ...                  depends_on=["score"])])
    Traceback (most recent call last):
    ...
    mlcycle_ref.pipeline.steps.PipelineError: pipeline 'loop': steps form a cycle (each feeds the \
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
        """Build a pipeline from ``mapping``, ``{"name": ..., "steps": [{"name", "type", ...},
        ...]}`` (what a YAML file holds); ``base`` is as for the class."""
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
