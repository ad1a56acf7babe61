"""Training jobs: fit a model away from the notebook, follow its status, keep what it made.

A :class:`JobSpec` says what to train (algorithm, hyperparameters, input channels) and with
what resources (CPUs, memory, a maximum runtime). :func:`run` starts it on a *backend*:

* ``"local"``: a separate worker process on this machine, so the notebook stays free. The
  worker uses at most ``cpus`` threads, gets an address-space limit of ``memory_mb`` where the
  operating system allows one, and is stopped (SIGTERM, then SIGKILL after a grace period)
  once it runs longer than ``max_runtime`` seconds. Workers are forked from a server process
  that imported the libraries once, so a job starts in milliseconds rather than seconds.
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
back into a predicting pipeline, and a :class:`JobStore` (SQLite) lists every job run.

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

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import psutil
from sklearn.pipeline import Pipeline
from sqlalchemy import Column, Float, MetaData, String, Table, Text, select

from mlcycle_ref import callbacks, data, evaluate, features, models, storage
from mlcycle_ref.callbacks import StopTraining
from mlcycle_ref.evaluate import METRICS
from mlcycle_ref.paths import data_dir

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


# --------------------------------------------------------------------------- the spec


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


# --------------------------------------------------------------------------- events


def _now() -> float:
    return time.time()


def _append_event(folder: Path, status: str, secondary: str, message: str, **extra) -> None:
    """Add one line to the job's history; one short append is atomic, so processes can share it."""
    event = {"time": _now(), "status": status, "secondary": secondary, "message": message, **extra}
    with open(folder / EVENTS_FILE, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(event) + "\n")


def _read_events(folder: Path) -> list[dict]:
    path = folder / EVENTS_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    # A reader can meet a line that is still being written: skip an incomplete last line.
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _is_finished(events: list[dict]) -> bool:
    return bool(events) and events[-1]["status"] in FINISHED


def _stamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _transitions(events: list[dict]) -> list[dict]:
    """Merge consecutive events with the same secondary status into one timed transition."""
    merged: list[dict] = []
    for event in events:
        if merged and merged[-1]["status"] == event["secondary"]:
            merged[-1]["message"] = event["message"]
            continue
        if merged:
            merged[-1]["end"] = event["time"]
        merged.append({"status": event["secondary"], "start": event["time"], "end": None,
                       "message": event["message"]})
    if merged and events[-1]["status"] in FINISHED:
        merged[-1]["end"] = events[-1]["time"]
    return [{**item, "start": _stamp(item["start"]), "end": _stamp(item["end"])}
            for item in merged]


# --------------------------------------------------------------------------- jobs


class Job:
    """A training job: its status, history, metrics, log and artifacts.

    Get one from :func:`run` or :meth:`JobStore.get`. Reading ``status`` looks at the job's
    folder, so it is always current, whichever process started the job.
    """

    def __init__(self, name: str, folder: str | Path, store: JobStore | None = None):
        self.name = name
        self.folder = Path(folder)
        self.store = store
        self._future = None  # the Dask future of a job submitted to a cluster
        self._saved_status: str | None = None

    def __repr__(self) -> str:
        return f"Job({self.name!r}, status={self.status!r}, secondary={self.secondary_status!r})"

    def _events(self) -> list[dict]:
        events = _read_events(self.folder)
        if not _is_finished(events):
            if self._future is not None and self._future.done():
                self._record_lost_future()
            else:
                _check_orphan(self.folder, events)
            events = _read_events(self.folder)
        if events and self.store is not None and events[-1]["status"] != self._saved_status:
            self._saved_status = events[-1]["status"]
            self.store._update(self)
        return events

    def _record_lost_future(self) -> None:
        error = self._future.exception() if self._future.status == "error" else None
        reason = (f"the Dask task failed: {type(error).__name__}: {error}" if error
                  else f"the Dask task ended as {self._future.status!r} before the job finished")
        if not _is_finished(_read_events(self.folder)):
            _append_event(self.folder, "Failed", "Failed", reason[:MAX_REASON])

    @property
    def status(self) -> str:
        """``InProgress``, ``Completed``, ``Failed``, ``Stopping`` or ``Stopped``."""
        events = self._events()
        return events[-1]["status"] if events else "InProgress"

    @property
    def secondary_status(self) -> str:
        """The finer step: ``Starting``, ``Training``, ``Uploading``, ``MaxRuntimeExceeded``..."""
        events = self._events()
        return events[-1]["secondary"] if events else "Starting"

    @property
    def finished(self) -> bool:
        """True once the job is ``Completed``, ``Failed`` or ``Stopped``."""
        return self.status in FINISHED

    @property
    def stop_requested(self) -> bool:
        """True when someone asked the job to stop (as opposed to a pruning callback)."""
        return (self.folder / STOP_FILE).exists()

    def spec(self) -> dict:
        """The spec as recorded in the job folder (channels are file paths there)."""
        return json.loads((self.folder / SPEC_FILE).read_text(encoding="utf-8"))

    def metrics(self) -> dict[str, float]:
        """Final metrics as ``{"validation:roc_auc": ..., ...}``; empty until the job is done."""
        path = self.folder / METRICS_FILE
        if not path.exists():
            return {}
        scores = json.loads(path.read_text(encoding="utf-8"))
        return {f"{channel}:{name}": value for channel in ("train", "validation")
                for name, value in (scores.get(channel) or {}).items()}

    def describe(self) -> dict:
        """Everything known about the job, shaped like SageMaker's DescribeTrainingJob.

        Keys: ``name``, ``status``, ``secondary_status``, ``failure_reason``,
        ``algorithm``, ``task``, ``hyperparameters``, ``resources``, ``max_runtime``,
        ``backend``, ``created``, ``started``, ``ended``, ``training_time`` (seconds),
        ``status_transitions`` (list of status, start, end, message), ``final_metrics``,
        ``artifacts`` (paths of the files the job wrote) and ``folder``.
        """
        events = self._events()
        spec = self.spec()
        last = events[-1] if events else {"status": "InProgress", "secondary": "Starting"}
        times = {event["secondary"]: event["time"] for event in reversed(events)}
        ended = last["time"] if last["status"] in FINISHED else None
        training_end = times.get("Uploading", ended)
        training_time = (training_end - times["Training"]
                         if "Training" in times and training_end else None)
        failure = last["message"] if last["status"] in ("Failed", "Stopped") else None
        artifacts = {kind: str(self.folder / name) for kind, name in (
            ("model", _model_file(spec["algorithm"])), ("preprocessor", PREPROCESSOR_FILE),
            ("manifest", MANIFEST_FILE), ("metrics", METRICS_FILE), ("log", LOG_FILE),
        ) if (self.folder / name).exists()}
        return {
            "name": self.name,
            "status": last["status"],
            "secondary_status": last["secondary"],
            "failure_reason": failure,
            "algorithm": spec["algorithm"],
            "task": spec["task"],
            "hyperparameters": spec["hyperparameters"],
            "resources": {"cpus": spec["cpus"], "memory_mb": spec["memory_mb"]},
            "max_runtime": spec["max_runtime"],
            "backend": spec["backend"],
            "created": _stamp(spec["created"]),
            "started": _stamp(times.get("Starting")),
            "ended": _stamp(ended),
            "training_time": training_time,
            "status_transitions": _transitions(events),
            "final_metrics": self.metrics(),
            "artifacts": artifacts,
            "folder": str(self.folder),
        }

    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job has finished and return it; ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.name!r} still {self.status} after {timeout} s")
            time.sleep(POLL_INTERVAL)
        return self

    def stop(self) -> Job:
        """Ask the job to stop; it moves to ``Stopping`` and then ``Stopped``. Returns at once."""
        if self.finished:
            return self
        (self.folder / STOP_FILE).touch()
        return self

    def logs(self) -> str:
        """The job's log: what the worker printed, warnings and any traceback."""
        path = self.folder / LOG_FILE
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _model_file(algorithm: str) -> str:
    return _MODEL_FILES.get(algorithm, "model.joblib")


def _check_orphan(folder: Path, events: list[dict]) -> None:
    """Take over a job whose supervising process has died (for example a killed notebook).

    Every event that changes hands names the process in charge (``supervisor``) and, once
    started, the worker (``pid``). A worker still running is stopped once over its runtime
    or when a stop was asked for; a job whose processes are all gone is recorded as failed.
    """
    owner = next((e for e in reversed(events) if "supervisor" in e), None)
    if owner is None or owner["host"] != socket.gethostname():
        return
    supervisor, worker = owner["supervisor"], owner.get("pid")
    if supervisor == os.getpid() or psutil.pid_exists(supervisor):
        return
    if worker is not None and psutil.pid_exists(worker):
        spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
        over_time = _now() > owner["time"] + spec["max_runtime"]
        if over_time or (folder / STOP_FILE).exists():
            os.kill(worker, signal.SIGKILL)
            _append_event(folder, "Stopped", "MaxRuntimeExceeded" if over_time else "Stopped",
                          "stopped by a later look at the job: its supervisor had ended")
        return
    if not _is_finished(_read_events(folder)):
        _append_event(folder, "Failed", "Failed",
                      f"the job's processes ended without a final status (supervising "
                      f"process {supervisor}, worker {worker or 'not started'})")


# --------------------------------------------------------------------------- the job store


_METADATA = MetaData()
_JOBS = Table(
    "jobs", _METADATA,
    Column("name", String, primary_key=True), Column("folder", String, nullable=False),
    Column("created", Float, nullable=False), Column("backend", String),
    Column("algorithm", String), Column("task", String), Column("status", String),
    Column("secondary_status", String), Column("training_time", Float), Column("metrics", Text),
)


class JobStore:
    """The list of jobs run so far, in a database named by a URL.

    ``url`` is any SQLAlchemy URL (see :mod:`mlcycle_ref.storage`): by default the SQLite
    file ``jobs.db`` in ``data_dir()``, or a PostgreSQL database shared by several
    machines. The store is an index: each job's folder stays the record of what happened.

    >>> import os, tempfile
    >>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
    >>> JobStore().list().columns.tolist()[:3]
    ['name', 'status', 'secondary_status']
    """

    _COLUMNS = ("name", "status", "secondary_status", "algorithm", "task", "backend",
                "created", "training_time", "folder")

    def __init__(self, url: str | None = None):
        self.url = storage.store_url(url, "jobs.db", "job store")
        self._engine = storage.open_engine(self.url, _METADATA)

    def __repr__(self) -> str:
        return f"JobStore({self.url!r})"

    def __contains__(self, name: str) -> bool:
        with self._engine.connect() as connection:
            found = connection.execute(select(_JOBS.c.name).where(_JOBS.c.name == name))
            return found.first() is not None

    def _add(self, name: str, folder: Path, record: dict) -> None:
        with self._engine.begin() as connection:
            connection.execute(_JOBS.insert().values(
                name=name, folder=str(folder), created=record["created"],
                backend=record["backend"], algorithm=record["algorithm"], task=record["task"],
                status="InProgress", secondary_status="Starting"))

    def _update(self, job: Job) -> None:
        summary = job.describe()
        with self._engine.begin() as connection:
            connection.execute(_JOBS.update().where(_JOBS.c.name == job.name).values(
                status=summary["status"], secondary_status=summary["secondary_status"],
                training_time=summary["training_time"],
                metrics=json.dumps(summary["final_metrics"])))

    def get(self, name: str) -> Job:
        """The job called ``name``; ``KeyError`` naming close matches when there is none."""
        with self._engine.connect() as connection:
            folder = connection.execute(
                select(_JOBS.c.folder).where(_JOBS.c.name == name)).scalar()
            names = [] if folder else connection.execute(select(_JOBS.c.name)).scalars().all()
        if folder is None:
            close = [n for n in names if name in n or n in name][:5]
            hint = f"; similar names: {close}" if close else ""
            raise KeyError(f"no job called {name!r} in {self.url}{hint}")
        return Job(name, folder, self)

    def list(self) -> pd.DataFrame:
        """One row per job, oldest first, with its status, timing and final metrics."""
        with self._engine.connect() as connection:
            running = connection.execute(select(_JOBS.c.name).where(
                _JOBS.c.status.not_in(FINISHED))).scalars().all()
        for name in running:  # reading the status refreshes jobs running at the last look
            _ = self.get(name).status
        columns = [_JOBS.c[name] for name in self._COLUMNS]
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(*columns, _JOBS.c.metrics).order_by(_JOBS.c.created)).all()
        records = [{**dict(zip(self._COLUMNS, row[:-1], strict=True)),
                    **json.loads(row[-1] or "{}")} for row in rows]
        table = pd.DataFrame(records, columns=None if records else list(self._COLUMNS))
        table["created"] = pd.to_datetime(table["created"], unit="s", utc=True)
        return table


def _as_store(store) -> JobStore:
    if isinstance(store, JobStore):
        return store
    return JobStore(store)


# --------------------------------------------------------------------------- starting jobs


def _default_name(spec: JobSpec) -> str:
    return f"{spec.algorithm}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _write_channel(channel, name: str, folder: Path):
    if channel is None or _is_dask_frame(channel):
        return None
    if isinstance(channel, pd.DataFrame):
        path = folder / f"{name}.pkl"
        channel.to_pickle(path)
        return str(path)
    return str(Path(channel).resolve())


def run(spec: JobSpec, *, backend: str = "local", wait: bool = True, store=None,
        client=None) -> Job:
    """Start a training job and return it (finished when ``wait`` is true).

    ``store`` is a :class:`JobStore` or its URL (default store when None). ``client`` (dask
    backend only) is a ``distributed.Client`` or a scheduler address; None starts a
    ``LocalCluster`` once per process; on a cluster of several machines the job folders
    (``JobSpec.output``) must be on a file system that every Dask worker reaches. A failure
    inside the job never raises here: look at ``job.status`` and
    ``job.describe()["failure_reason"]``.

    >>> import os, tempfile
    >>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
    >>> from mlcycle_ref import data
    >>> frame = data.load("breast_cancer").frame
    >>> job = run(JobSpec("xgboost", "binary", "target", frame, hyperparameters={"max_dept": 3}))
    >>> job.status, job.describe()["failure_reason"].split(":")[0]
    ('Failed', 'ValueError')
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(_GUARD_HINT)
    distributed = _is_dask_frame(spec.train)
    if distributed and backend != "dask":
        raise ValueError("a dask DataFrame as JobSpec.train needs backend='dask'")
    if distributed and spec.algorithm not in DASK_ALGORITHMS:
        raise ValueError(
            f"training on a dask DataFrame uses xgboost.dask or lightgbm.dask: "
            f"JobSpec.algorithm must be one of {DASK_ALGORITHMS}, got {spec.algorithm!r}"
        )
    store = _as_store(store)
    name = spec.name or _default_name(spec)
    folder = Path(spec.output or data_dir() / "jobs") / name
    if name in store or folder.exists():
        raise ValueError(f"a job called {name!r} already exists ({folder}); choose another name")
    try:
        json.dumps(spec.hyperparameters)
    except TypeError as error:
        raise ValueError(f"JobSpec.hyperparameters must be JSON values: {error}") from error
    folder.mkdir(parents=True)
    record = {
        **asdict(replace(spec, train=None, validation=None)),
        "name": name,
        "train": _write_channel(spec.train, "train", folder),
        "validation": _write_channel(spec.validation, "validation", folder),
        "output": str(folder.parent),
        "backend": backend,
        "created": _now(),
    }
    (folder / SPEC_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    store._add(name, folder, record)
    job = Job(name, folder, store)
    _append_event(folder, "InProgress", "Starting", f"job created for the {backend} backend",
                  host=socket.gethostname(), supervisor=os.getpid())
    if backend == "local":
        threading.Thread(target=_supervise, args=(str(folder),), daemon=True,
                         name=f"supervise-{name}").start()
    elif distributed:
        threading.Thread(target=_train_on_cluster, args=(folder, spec, _dask_client(client)),
                         daemon=True, name=f"cluster-{name}").start()
    else:
        job._future = _dask_client(client).submit(_supervise, str(folder), pure=False,
                                                  key=f"job-{name}")
    return job.wait() if wait else job


# --------------------------------------------------------------------------- the supervisor


@functools.cache
def _process_context():
    """Forkserver where available: the server imports the libraries once, each job forks it."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # optuna too: trials started by a tuner report to it from their worker.
    context.set_forkserver_preload(["mlcycle_ref.jobs", "optuna"])
    return context


def _start_worker(folder: str):
    """Start the worker process and return (process, poll), poll() giving its exit code or None."""
    if multiprocessing.current_process().daemon:
        # Dask's nanny runs workers as daemonic processes, which may not own
        # multiprocessing children: start a plain interpreter there instead.
        process = subprocess.Popen([sys.executable, "-m", "mlcycle_ref.jobs", "_worker", folder],
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        return process, process.poll
    process = _process_context().Process(target=_worker_main, args=(folder,), daemon=True)
    process.start()
    return process, lambda: process.exitcode


def _supervise(folder: str) -> str:
    """Run the job in `folder` in a worker process and enforce its limits; return its status."""
    path = Path(folder)
    spec = json.loads((path / SPEC_FILE).read_text(encoding="utf-8"))
    try:
        process, poll = _start_worker(folder)
    except Exception as error:  # the job fails, the caller carries on
        _append_event(path, "Failed", "Failed", f"could not start the worker process: {error}")
        return "Failed"
    _append_event(path, "InProgress", "Starting", f"worker process {process.pid} started",
                  pid=process.pid, host=socket.gethostname(), supervisor=os.getpid())
    deadline = time.monotonic() + spec["max_runtime"]
    while poll() is None:
        if time.monotonic() > deadline:
            _stop_worker(path, process, poll, "MaxRuntimeExceeded",
                         f"stopped: the job ran longer than its maximum runtime of "
                         f"{spec['max_runtime']:g} s")
            break
        if (path / STOP_FILE).exists():
            _stop_worker(path, process, poll, "Stopped", "stopped on request")
            break
        time.sleep(POLL_INTERVAL)
    events = _read_events(path)
    if not _is_finished(events):
        _append_event(path, "Failed", "Failed", _exit_reason(poll(), path))
    return _read_events(path)[-1]["status"]


def _stop_worker(folder: Path, process, poll, secondary: str, message: str) -> None:
    _append_event(folder, "Stopping", "Stopping" if secondary == "Stopped" else secondary,
                  message)
    process.terminate()
    ends = time.monotonic() + GRACE_PERIOD
    while poll() is None and time.monotonic() < ends:
        time.sleep(POLL_INTERVAL / 5)
    if poll() is None:
        process.kill()
        while poll() is None:
            time.sleep(POLL_INTERVAL / 5)
    # The worker may have finished on its own in the meantime: its own final status stands.
    if _read_events(folder)[-1]["status"] == "Stopping":
        _append_event(folder, "Stopped", secondary, message)


def _exit_reason(code: int | None, folder: Path) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        if name == "SIGKILL":
            return ("the worker process was killed (SIGKILL), most likely by the operating "
                    "system because the machine ran out of memory")
        return f"the worker process was killed by {name}"
    tail = [line for line in (folder / LOG_FILE).read_text(errors="replace").splitlines()
            if line.strip()][-1:] if (folder / LOG_FILE).exists() else []
    last = f"; last log line: {tail[0]}" if tail else f" ({_GUARD_HINT})"
    return f"the worker process exited with code {code} without a final status{last}"[:MAX_REASON]


# --------------------------------------------------------------------------- the worker


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


def _worker_main(folder: str) -> None:
    """Entry point of the worker process: train, record the outcome, never raise."""
    path = Path(folder)
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


def _fit(spec: JobSpec, train: pd.DataFrame, validation: pd.DataFrame | None) -> Pipeline:
    """Fit the preprocessor, then the model, with the spec's round callback when there is one."""
    params = dict(spec.hyperparameters)
    if "n_jobs" in models.default_hyperparameters(spec.algorithm, spec.task):
        params["n_jobs"] = spec.cpus
    pipeline = models.make_pipeline(spec.algorithm, train, spec.target, spec.task,
                                    seed=spec.seed, **params)
    inputs, labels = train.drop(columns=spec.target), train[spec.target]
    preprocess = pipeline["preprocess"].fit(inputs, labels)
    model, fit_params = pipeline["model"], {}
    boosting = spec.algorithm in _MODEL_FILES
    if spec.callback and boosting and validation is not None:
        factory = callbacks.load(spec.callback["factory"])
        reporter = factory(
            spec.callback["options"], preprocess.transform(validation.drop(columns=spec.target)),
            validation[spec.target], task=spec.task, classes=np.unique(labels))
        if spec.algorithm == "lightgbm":
            fit_params["callbacks"] = [reporter.lightgbm]
        else:
            inner = "estimator__" if isinstance(model, models.LabelEncodedClassifier) else ""
            model.set_params(**{f"{inner}callbacks": [reporter]})
    model.fit(preprocess.transform(inputs), labels, **fit_params)
    return pipeline


def _scores(pipeline, frame: pd.DataFrame, spec: JobSpec) -> dict[str, float]:
    scores = evaluate.evaluate(pipeline, frame, spec.target, task=spec.task)
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
        pipeline = _fit(spec, train, validation)
    seconds = time.perf_counter() - started
    scores = {"train": _scores(pipeline, train, spec),
              "validation": None if validation is None else _scores(pipeline, validation, spec)}
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


# --------------------------------------------------------------------------- loading models


def load_model(job_or_name, store=None) -> Pipeline:
    """Rebuild the fitted pipeline (preprocessor and model) of a completed job.

    The model is read from its library's own file (``model.json``, ``model.txt`` or
    ``model.joblib``). ``job_or_name`` is a :class:`Job` or a job name in ``store``.
    """
    job = job_or_name if isinstance(job_or_name, Job) else _as_store(store).get(job_or_name)
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


# --------------------------------------------------------------------------- Dask


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


# --------------------------------------------------------------------------- command line


def _print_table(args) -> int:
    table = JobStore(args.store).list()
    if table.empty:
        print("no jobs yet")
        return 0
    shown = table[["name", "status", "secondary_status", "algorithm", "created",
                   "training_time"]].copy()
    shown["created"] = shown["created"].dt.strftime("%Y-%m-%d %H:%M:%S")
    print(shown.to_string(index=False))
    return 0


def _print_description(args) -> int:
    description = JobStore(args.store).get(args.name).describe()
    print(json.dumps(description, indent=2, default=str))
    return 0


def _print_logs(args) -> int:
    print(JobStore(args.store).get(args.name).logs(), end="")
    return 0


def _stop(args) -> int:
    job = JobStore(args.store).get(args.name).stop()
    print(f"stop requested for {job.name}")
    return 0


def register(subparsers) -> None:
    """Add ``mlcycle jobs list | describe NAME | logs NAME | stop NAME`` to the command line."""
    jobs = subparsers.add_parser("jobs", help="list and inspect training jobs")
    jobs.add_argument("--store", default=None,
                      help="job store URL (default: sqlite:///<data dir>/jobs.db)")
    commands = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    commands.add_parser("list", help="one line per job").set_defaults(handler=_print_table)
    for action, handler, text in (("describe", _print_description, "status, metrics, artifacts"),
                                  ("logs", _print_logs, "the job's log"),
                                  ("stop", _stop, "ask a running job to stop")):
        command = commands.add_parser(action, help=text)
        command.add_argument("name", help="job name")
        command.set_defaults(handler=handler)


def _main(argv: list[str]) -> int:
    """``python -m mlcycle_ref.jobs _worker FOLDER`` runs one job (see ``_start_worker``)."""
    parser = argparse.ArgumentParser(prog="python -m mlcycle_ref.jobs")
    parser.add_argument("command", choices=["_worker"])
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    _worker_main(args.folder)
    return 0


if __name__ == "__main__":
    # Import the module under its own name so that its exception classes are the real ones.
    from mlcycle_ref.jobs import _main as main

    sys.exit(main(sys.argv[1:]))
