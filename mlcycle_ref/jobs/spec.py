"""What a training job is: its spec, statuses, file names and limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlcycle_ref import models
from mlcycle_ref.evaluate import METRICS

BACKENDS = ("local", "dask")
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
SECONDARY_STATUSES = (
    "Starting", "Training", "Uploading", "Completed", "Failed", "MaxRuntimeExceeded",
    "Stopping", "Stopped",
)
FINISHED = ("Completed", "Failed", "Stopped")
GRACE_PERIOD = 1.0  # seconds between SIGTERM and SIGKILL when a job is stopped
POLL_INTERVAL = 0.05  # seconds between two looks at a running job
MAX_REASON = 1000  # characters kept of a failure reason, like SageMaker's FailureReason

SPEC_FILE, EVENTS_FILE, LOG_FILE = "spec.json", "events.jsonl", "job.log"
METRICS_FILE, MANIFEST_FILE, STOP_FILE = "metrics.json", "manifest.json", "stop-requested"
PREPROCESSOR_FILE = "preprocessor.joblib"
_MODEL_FILES = {"xgboost": "model.json", "lightgbm": "model.txt"}
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# A worker process starts by importing the script that launched it; unguarded, that
# script would start its jobs again from inside every worker.
_GUARD_HINT = ("jobs.run() was called while a job's worker process was starting up: keep the "
               "top-level code of a script that runs jobs under `if __name__ == '__main__':`")


@dataclass
class JobSpec:
    """What to train, on which data, with which resources.

    Parameters
    ----------
    algorithm : one of ``models.ALGORITHMS``
    task : ``"binary"``, ``"multiclass"`` or ``"regression"``
    target : the label column in the channels
    train, validation : input channels - a CSV, parquet or pickle file, or a data frame
        (written to the job folder); ``validation`` is optional and adds validation metrics.
        With the ``dask`` backend a ``dask.dataframe.DataFrame`` trains across the cluster.
    hyperparameters : passed to ``models.make_pipeline``; unknown names make the job fail.
        ``n_jobs`` is not one of them: it follows ``cpus``.
    cpus : threads the training may use
    memory_mb : address-space limit of the worker process (None: no limit)
    max_runtime : seconds after which the job is stopped (``MaxRuntimeExceeded``)
    metrics : metric names from ``evaluate.metrics`` to report; empty means all of them
    name : unique job name; default ``{algorithm}-{timestamp}-{short id}``
    seed : random seed of the model
    output : folder that receives the job folder; default ``data_dir()/"jobs"``
    callback : ``{"factory": "package.module:name", "options": {...}}``: a boosting job
        calls ``factory(options, validation_inputs, validation_labels, task=, classes=)``
        and trains with the :class:`~mlcycle_ref.callbacks.RoundCallback` it returns (the
        tuner reports each trial's validation score this way, for pruning)

    >>> JobSpec("xgboost", "binary", "target", "train.csv", cpus=0)
    Traceback (most recent call last):
    ...
    ValueError: JobSpec.cpus must be a whole number >= 1, got 0
    """

    algorithm: str
    task: str
    target: str
    train: object
    validation: object = None
    hyperparameters: dict = field(default_factory=dict)
    cpus: int = 1
    memory_mb: int | None = None
    max_runtime: float = 3600.0
    metrics: tuple[str, ...] = ()
    name: str | None = None
    seed: int = 0
    output: str | Path | None = None
    callback: dict | None = None

    def __post_init__(self):
        if self.algorithm not in models.ALGORITHMS:
            raise ValueError(
                f"JobSpec.algorithm must be one of {models.ALGORITHMS}, got {self.algorithm!r}"
            )
        if self.task not in METRICS:
            raise ValueError(f"JobSpec.task must be one of {tuple(METRICS)}, got {self.task!r}")
        if not isinstance(self.cpus, int) or self.cpus < 1:
            raise ValueError(f"JobSpec.cpus must be a whole number >= 1, got {self.cpus!r}")
        if self.memory_mb is not None and self.memory_mb <= 0:
            raise ValueError(f"JobSpec.memory_mb must be positive or None, got {self.memory_mb}")
        if not self.max_runtime > 0:
            raise ValueError(f"JobSpec.max_runtime must be positive, got {self.max_runtime}")
        self.metrics = tuple(self.metrics)
        unknown = sorted(set(self.metrics) - set(METRICS[self.task]))
        if unknown:
            raise ValueError(
                f"JobSpec.metrics: {unknown} are not metrics of a {self.task} task; "
                f"choose from {METRICS[self.task]}"
            )
        if "n_jobs" in self.hyperparameters:
            raise ValueError("JobSpec.hyperparameters: leave out n_jobs, set JobSpec.cpus instead")
        if self.name is not None and not _NAME.match(self.name):
            raise ValueError(
                f"JobSpec.name {self.name!r}: use letters, digits, '.', '_' and '-' "
                "(at most 128 characters, starting with a letter or digit)"
            )


def _is_dask_frame(channel) -> bool:
    return type(channel).__module__.startswith("dask")
