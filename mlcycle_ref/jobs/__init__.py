"""Training jobs: fit a model away from the notebook, follow its status, keep what it made.

One module per concern: :mod:`~mlcycle_ref.jobs.spec` (what a job is), ``job`` (its folder
and event history), ``store``, ``launch`` (starting and supervising), ``worker`` (training
and loading), ``cluster`` (Dask) and ``cli``.

A :class:`JobSpec` says what to train (algorithm, hyperparameters, input channels) and with
what resources (CPUs, memory, a maximum runtime). :func:`run` starts it on a *backend*:

* ``"local"``: a separate worker process on this machine, so the notebook stays free. The
  worker uses at most ``cpus`` threads, gets an address-space limit of ``memory_mb`` where the
  operating system allows one, and is stopped (SIGTERM, then SIGKILL after a grace period)
  once it runs longer than ``max_runtime`` seconds. Workers are forked from a server process
  that imported the libraries once, so a job starts in milliseconds rather than seconds;
  :func:`start_worker_server` starts that server early, so the first job does not wait either.
* ``"dask"``: the same supervised worker, submitted to a ``distributed.Client`` (a
  ``LocalCluster`` unless a client or scheduler address is given). A ``dask.dataframe``
  input too big for one process is trained with ``xgboost.dask`` or ``lightgbm.dask`` across
  the cluster instead.

Status follows SageMaker's training jobs: ``InProgress``, then ``Completed``, ``Failed`` or
``Stopped`` (``Stopping`` on the way), with secondary statuses ``Starting``, ``Training``,
``Uploading``, ``Completed``, ``Failed``, ``MaxRuntimeExceeded`` and ``Stopped``, each with a
timestamp. A job that fails - bad hyperparameter, exception, out of memory, out of time - ends
``Failed`` or ``Stopped`` with a readable reason; it never raises in the caller.

Each job has its own folder (under ``data_dir()/jobs`` unless ``JobSpec.output`` says
otherwise) holding the spec, the event history, the log, ``metrics.json``, the fitted
preprocessor (joblib) and the model in its library's own format: ``model.json`` for XGBoost,
``model.txt`` for LightGBM, ``model.joblib`` for scikit-learn. :func:`load_model` turns them
back into a predicting pipeline, and a :class:`JobStore` (a database URL) lists every job run.

Like any Python program that starts processes, a *script* that runs jobs needs the
``if __name__ == "__main__":`` guard around its top-level code (notebooks do not).

>>> import os, tempfile
>>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
>>> from mlcycle_ref import data
>>> train, validation, test = data.split(data.load("breast_cancer").frame, "target")
>>> spec = JobSpec("linear", "binary", "target", train, validation, name="first-job")
>>> job = run(spec)
>>> job.status, job.secondary_status
('Completed', 'Completed')
>>> job.describe()["final_metrics"]["validation:roc_auc"] > 0.95
True
>>> load_model(job).predict(test.drop(columns="target")).shape == (len(test),)
True
"""

import importlib

from mlcycle_ref.callbacks import StopTraining
from mlcycle_ref.evaluate import METRICS
from mlcycle_ref.jobs.cluster import DASK_ALGORITHMS
from mlcycle_ref.jobs.job import Job
from mlcycle_ref.jobs.launch import run, start_worker_server
from mlcycle_ref.jobs.spec import (
    BACKENDS,
    FINISHED,
    POLL_INTERVAL,
    SECONDARY_STATUSES,
    STATUSES,
    JobSpec,
)
from mlcycle_ref.jobs.worker import load_model

__all__ = ["BACKENDS", "DASK_ALGORITHMS", "FINISHED", "METRICS", "POLL_INTERVAL",
           "SECONDARY_STATUSES", "STATUSES", "Job", "JobSpec", "JobStore", "StopTraining",
           "as_store", "load_model", "register", "run", "start_worker_server"]

# The store and the command line load SQLAlchemy. They are imported when first asked for, so
# that the worker server, which imports this package to train, starts without it.
_ON_FIRST_USE = {"JobStore": "store", "as_store": "store", "register": "cli"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        return getattr(importlib.import_module(f"{__name__}.{_ON_FIRST_USE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_ON_FIRST_USE})
