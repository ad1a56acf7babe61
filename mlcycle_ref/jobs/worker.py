"""The worker process: read the channels, train, save the model; and loading it back."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlcycle_ref import callbacks, data, evaluate, models
from mlcycle_ref.callbacks import StopTraining
from mlcycle_ref.jobs.job import Job, _append_event, _model_file
from mlcycle_ref.jobs.spec import (
    _MODEL_FILES,
    _THREAD_VARIABLES,
    LOG_FILE,
    MANIFEST_FILE,
    MAX_REASON,
    METRICS_FILE,
    PREPROCESSOR_FILE,
    SPEC_FILE,
    JobSpec,
)


def _log(message: str) -> None:
    print(f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S} {message}", flush=True)


def _limit_resources(spec: JobSpec) -> None:
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(spec.cpus)
    _log(f"threads: {spec.cpus} (n_jobs, thread pools, {', '.join(_THREAD_VARIABLES)})")
    if spec.memory_mb is None:
        return
    try:
        import resource

        limit = spec.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        _log(f"memory limit: {spec.memory_mb} MB of address space "
             f"(in use at start: {_address_space_mb('VmSize') or 'unknown'} MB)")
    except (ImportError, ValueError, OSError) as error:
        _log(f"warning: this system does not allow a memory limit ({error}); running without")


def _address_space_mb(field: str) -> int | None:
    """``VmSize`` (now) or ``VmPeak`` (highest) of this process in MB, where Linux tells."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def _failure_reason(error: BaseException, spec: JobSpec) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (in {Path(last.filename).name}, line {last.lineno}, {last.name})"
    peak = _address_space_mb("VmPeak")
    # Libraries do not always report a failed allocation as MemoryError: a peak close to
    # the limit tells the real cause of an odd error.
    near_limit = spec.memory_mb is not None and peak is not None and peak >= 0.9 * spec.memory_mb
    if isinstance(error, MemoryError) or near_limit:
        limit = (f"its limit of {spec.memory_mb} MB" if spec.memory_mb
                 else "the memory available")
        text = f"out of memory: the job needed more than {limit}. {text}"
    return text[-MAX_REASON:]


def _worker_main(folder: str, supervisor: int | None = None) -> None:
    """Entry point of the worker process: train, record the outcome, never raise.

    ``supervisor`` is the process id of the supervisor (default: the parent process). The
    worker records its own start, naming both: written by the supervisor after starting it,
    that event could land after the worker's own (Training, even Completed) on a busy machine.
    """
    path = Path(folder)
    _append_event(path, "InProgress", "Starting", f"worker process {os.getpid()} started",
                  pid=os.getpid(), host=socket.gethostname(),
                  supervisor=supervisor or os.getppid())
    log = open(path / LOG_FILE, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - for the process
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    record = json.loads((path / SPEC_FILE).read_text(encoding="utf-8"))
    spec = JobSpec(**{name: record[name] for name in JobSpec.__dataclass_fields__})
    try:
        _limit_resources(spec)
        _train(spec, path)
    except StopTraining as stop:
        _log(f"training stopped: {stop}")
        _append_event(path, "Stopped", "Stopped", str(stop)[:MAX_REASON])
    except BaseException as error:  # MemoryError and KeyboardInterrupt end the job, too
        traceback.print_exc()
        _append_event(path, "Failed", "Failed", _failure_reason(error, spec))


def _read_channel(source, channel: str, target: str) -> pd.DataFrame:
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = data.from_csv(path, target).frame
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix in (".pkl", ".pickle"):
        frame = pd.read_pickle(path)
    else:
        raise ValueError(f"{channel} channel {path}: expected a .csv, .parquet or .pkl file")
    if target not in frame.columns:
        raise ValueError(f"{channel} channel {path}: no target column {target!r}")
    return frame


def _fit(spec: JobSpec, train: pd.DataFrame,
         validation: pd.DataFrame | None) -> tuple[Pipeline, dict[str, pd.DataFrame]]:
    """Fit the preprocessor, then the model, with the spec's round callback when there is one.

    Returns the pipeline and the channels it preprocessed on the way (the validation rows
    only when the callback needed them), so that scoring does not transform them again.
    """
    params = dict(spec.hyperparameters)
    if "n_jobs" in models.default_hyperparameters(spec.algorithm, spec.task):
        params["n_jobs"] = spec.cpus
    pipeline = models.make_pipeline(spec.algorithm, train, spec.target, spec.task,
                                    seed=spec.seed, **params)
    inputs, labels = train.drop(columns=spec.target), train[spec.target]
    # One pass, as Pipeline.fit does: ColumnTransformer.fit would transform and discard.
    preprocessed = {"train": pipeline["preprocess"].fit_transform(inputs, labels)}
    model, fit_params = pipeline["model"], {}
    boosting = spec.algorithm in _MODEL_FILES
    if spec.callback and boosting and validation is not None:
        factory = callbacks.load(spec.callback["factory"])
        preprocessed["validation"] = pipeline["preprocess"].transform(
            validation.drop(columns=spec.target))
        reporter = factory(spec.callback["options"], preprocessed["validation"],
                           validation[spec.target], task=spec.task, classes=np.unique(labels))
        if spec.algorithm == "lightgbm":
            fit_params["callbacks"] = [reporter.lightgbm]
        else:
            inner = "estimator__" if isinstance(model, models.LabelEncodedClassifier) else ""
            model.set_params(**{f"{inner}callbacks": [reporter]})
    model.fit(preprocessed["train"], labels, **fit_params)
    return pipeline, preprocessed


def _scores(pipeline: Pipeline, frame: pd.DataFrame, spec: JobSpec,
            features: pd.DataFrame | None = None) -> dict[str, float]:
    """The spec's metrics of the fitted pipeline on ``frame``; ``features`` are the frame's
    rows already preprocessed, when the fit made them."""
    if features is None:
        features = pipeline["preprocess"].transform(frame.drop(columns=spec.target))
    label = spec.target
    while label in features.columns:  # a preprocessed column may take the target's name
        label += "_"
    rows = features.assign(**{label: frame[spec.target].to_numpy()})
    scores = evaluate.evaluate(pipeline["model"], rows, label, task=spec.task)
    return {name: value for name, value in scores.items()
            if not spec.metrics or name in spec.metrics}


def _train(spec: JobSpec, folder: Path) -> None:
    from threadpoolctl import threadpool_limits

    _log(f"job {spec.name}: {spec.algorithm} for a {spec.task} task, {spec.cpus} CPU(s)")
    train = _read_channel(spec.train, "train", spec.target)
    validation = (None if spec.validation is None
                  else _read_channel(spec.validation, "validation", spec.target))
    _log(f"train channel: {len(train)} rows; validation channel: "
         f"{'none' if validation is None else f'{len(validation)} rows'}")
    _log(f"hyperparameters: {json.dumps(spec.hyperparameters)}")
    _append_event(folder, "InProgress", "Training", f"training on {len(train)} rows")
    started = time.perf_counter()
    with threadpool_limits(limits=spec.cpus):
        pipeline, preprocessed = _fit(spec, train, validation)
    seconds = time.perf_counter() - started
    scores = {name: None if frame is None else _scores(pipeline, frame, spec,
                                                       preprocessed.get(name))
              for name, frame in (("train", train), ("validation", validation))}
    _log(f"fitted in {seconds:.2f} s; metrics: {json.dumps(scores)}")
    _append_event(folder, "InProgress", "Uploading", "saving the model, preprocessor and metrics")
    _save(pipeline, spec, folder)
    (folder / METRICS_FILE).write_text(json.dumps({**scores, "fit_seconds": seconds}, indent=2),
                                       encoding="utf-8")
    _append_event(folder, "Completed", "Completed", "training job completed")
    _log("job completed")


def _save(pipeline: Pipeline, spec: JobSpec, folder: Path) -> None:
    model = pipeline["model"]
    joblib.dump(pipeline["preprocess"], folder / PREPROCESSOR_FILE)
    path = folder / _model_file(spec.algorithm)
    if spec.algorithm == "xgboost":
        booster = model.estimator_ if isinstance(model, models.LabelEncodedClassifier) else model
        booster.set_params(callbacks=None).save_model(path)
    elif spec.algorithm == "lightgbm":
        model.booster_.save_model(path)
    else:
        joblib.dump(model, path)
    classes = getattr(model, "classes_", None)
    _write_manifest(folder, spec.algorithm, spec.task, path.name,
                    None if classes is None else np.asarray(classes).tolist())


def _write_manifest(folder: Path, algorithm: str, task: str, model_file: str, classes) -> None:
    manifest = {"algorithm": algorithm, "task": task, "model": model_file,
                "preprocessor": PREPROCESSOR_FILE, "classes": classes}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def load_model(job_or_name, store=None) -> Pipeline:
    """Rebuild the fitted pipeline (preprocessor and model) of a completed job.

    The model is read from its library's own file (``model.json``, ``model.txt`` or
    ``model.joblib``). ``job_or_name`` is a :class:`Job` or a job name in ``store`` (a
    :class:`JobStore` or its URL; None: the default store).

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.jobs import JobSpec, run
    >>> train, _, test = data.split(data.load("penguins").frame, "species")
    >>> job = run(JobSpec("linear", "multiclass", "species", train, name="penguins-linear"))
    >>> model = load_model("penguins-linear")
    >>> sorted(set(model.predict(test))) <= ["Adelie", "Chinstrap", "Gentoo"]
    True
    """
    from mlcycle_ref.jobs.store import as_store  # SQLAlchemy: not needed to train

    job = job_or_name if isinstance(job_or_name, Job) else as_store(store).get(job_or_name)
    if job.status != "Completed":
        raise ValueError(
            f"job {job.name!r} is {job.status} ({job.secondary_status}): only a Completed job "
            "has a model to load"
        )
    manifest = json.loads((job.folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    path = job.folder / manifest["model"]
    if manifest["algorithm"] in _MODEL_FILES:
        model = models.TrainedBooster.load(manifest["algorithm"], path, manifest["classes"])
    else:
        model = joblib.load(path)
    preprocessor = joblib.load(job.folder / manifest["preprocessor"])
    return Pipeline([("preprocess", preprocessor), ("model", model)])


if __name__ == "__main__":
    # ``python -m mlcycle_ref.jobs.worker FOLDER`` runs one job where multiprocessing may not
    # start children (see launch._start_worker). Import the module under its own name, so
    # that its classes are the real ones rather than copies in __main__.
    from mlcycle_ref.jobs.worker import _worker_main as main

    main(sys.argv[1])
