"""Training across a Dask cluster: the supervised worker submitted there, or a dask
DataFrame trained with ``xgboost.dask`` / ``lightgbm.dask``."""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from mlcycle_ref import callbacks, evaluate, features, models
from mlcycle_ref.jobs.job import _append_event
from mlcycle_ref.jobs.spec import (
    _MODEL_FILES,
    LOG_FILE,
    METRICS_FILE,
    PREPROCESSOR_FILE,
    STOP_FILE,
    JobSpec,
)
from mlcycle_ref.jobs.worker import _failure_reason, _write_manifest

_CLIENTS: dict[str, object] = {}
DASK_ALGORITHMS = ("xgboost", "lightgbm")  # the algorithms that train on dask DataFrames


def _dask_client(client):
    """The given client, a client for a scheduler address, or one default LocalCluster."""
    if client is not None and not isinstance(client, str):
        return client
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise ImportError("the dask backend needs dask[distributed]: "
                          "pip install 'mlcycle[scale]'") from error
    key = client or "local"
    if key not in _CLIENTS:
        if client:
            _CLIENTS[key] = Client(client)
        else:
            # Threads are enough: each job runs in its own worker process anyway.
            cluster = LocalCluster(n_workers=1, threads_per_worker=os.cpu_count() or 1,
                                   processes=False, dashboard_address=None)
            _CLIENTS[key] = Client(cluster)
    return _CLIENTS[key]


class _StopCheck(callbacks.RoundCallback):
    """Ends distributed boosting when the job is over its runtime or asked to stop."""

    def __init__(self, deadline: float, stop_file: str):
        self.deadline = deadline
        self.stop_file = stop_file

    def due(self) -> bool:
        return time.time() > self.deadline or os.path.exists(self.stop_file)

    def after_round(self, rounds: int, predict) -> bool:
        return self.due()


SAMPLE_ROWS = 100_000  # rows used to fit the preprocessor of a distributed job


def _train_on_cluster(folder: Path, spec: JobSpec, client) -> None:
    """Train XGBoost or LightGBM across the cluster on dask DataFrames.

    The preprocessor is fitted on a sample; the model is saved as a local job would save it.
    """
    log_path = folder / LOG_FILE
    try:
        _append_event(folder, "InProgress", "Starting", "training on the Dask cluster",
                      pid=os.getpid(), host=socket.gethostname(), supervisor=os.getpid())
        _cluster_fit(folder, spec, client, log_path)
    except Exception as error:  # the job fails, the caller carries on
        with open(log_path, "a", encoding="utf-8") as log:
            traceback.print_exc(file=log)
        _append_event(folder, "Failed", "Failed", _failure_reason(error, spec))


def _dask_estimator(spec: JobSpec, classification: bool, stop: _StopCheck):
    """The ``xgboost.dask`` or ``lightgbm.dask`` estimator of the spec and its fit arguments."""
    params = {**models.default_hyperparameters(spec.algorithm, spec.task), **spec.hyperparameters,
              "n_jobs": spec.cpus, "random_state": spec.seed}
    if spec.algorithm == "xgboost":
        from xgboost import dask as dxgb

        estimator = dxgb.DaskXGBClassifier if classification else dxgb.DaskXGBRegressor
        return estimator(**params, callbacks=[stop]), {}
    from lightgbm import dask as dlgb

    # lightgbm.dask trains with each Dask worker's threads (warning that n_jobs is ignored);
    # n_jobs still sets the threads of predictions.
    estimator = dlgb.DaskLGBMClassifier if classification else dlgb.DaskLGBMRegressor
    return estimator(**params), {"callbacks": [stop.lightgbm]}


def _cluster_fit(folder: Path, spec: JobSpec, client, log_path: Path) -> None:
    def log(message):
        with open(log_path, "a", encoding="utf-8") as stream:
            stream.write(f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S} {message}\n")

    stop = _StopCheck(time.time() + spec.max_runtime, str(folder / STOP_FILE))
    train = spec.train
    n_rows = len(train)
    sample = train.sample(frac=min(1.0, SAMPLE_ROWS / max(n_rows, 1)),
                          random_state=spec.seed).compute()
    log(f"train channel: {n_rows} rows in {train.npartitions} partitions; "
        f"preprocessor fitted on {len(sample)} sampled rows")
    inputs = sample.drop(columns=spec.target)
    preprocess = features.build_preprocessor(sample, spec.target).fit(inputs, sample[spec.target])
    meta = preprocess.transform(inputs.head(1)).iloc[:0]
    # Per-partition distinct labels, merged here: dask's unique() would shuffle the data.
    classes = (None if spec.task == "regression" else np.unique(train[spec.target].map_partitions(
        lambda part: part.dropna().drop_duplicates()).compute()))

    def prepared(frame):
        X = frame.drop(columns=spec.target).map_partitions(preprocess.transform, meta=meta)
        y = frame[spec.target]
        if classes is not None:
            y = y.map_partitions(
                lambda part: pd.Series(np.searchsorted(classes, part), index=part.index),
                meta=(spec.target, "int64"))
        return X, y

    model, fit_params = _dask_estimator(spec, classes is not None, stop)
    model.client = client
    _append_event(folder, "InProgress", "Training",
                  f"training on {n_rows} rows with {spec.algorithm}.dask")
    started = time.perf_counter()
    X, y = prepared(train)
    model.fit(X, y, **fit_params)
    seconds = time.perf_counter() - started
    if stop.due():
        over = time.time() > stop.deadline
        _append_event(folder, "Stopped", "MaxRuntimeExceeded" if over else "Stopped",
                      "stopped: over the maximum runtime" if over else "stopped on request")
        return
    scores = {}
    for channel, frame in (("train", train), ("validation", spec.validation)):
        if frame is None:
            continue
        X, y = prepared(frame)
        truth = frame[spec.target].compute().to_numpy()
        if classes is None:
            scores[channel] = evaluate.metrics(truth, model.predict(X).compute(), task=spec.task)
        else:
            proba = model.predict_proba(X).compute()
            scores[channel] = evaluate.metrics(truth, classes[proba.argmax(axis=1)],
                                               task=spec.task, y_score=proba, labels=classes)
        scores[channel] = {k: v for k, v in scores[channel].items()
                           if not spec.metrics or k in spec.metrics}
    log(f"fitted in {seconds:.2f} s; metrics: {json.dumps(scores)}")
    _append_event(folder, "InProgress", "Uploading", "saving the model, preprocessor and metrics")
    joblib.dump(preprocess, folder / PREPROCESSOR_FILE)
    path = folder / _MODEL_FILES[spec.algorithm]
    if spec.algorithm == "xgboost":
        model.set_params(callbacks=None).save_model(path)
    else:
        model.booster_.save_model(path)
    _write_manifest(folder, spec.algorithm, spec.task, path.name,
                    None if classes is None else classes.tolist())
    (folder / METRICS_FILE).write_text(json.dumps({**scores, "fit_seconds": seconds}, indent=2),
                                       encoding="utf-8")
    _append_event(folder, "Completed", "Completed", "training job completed")
