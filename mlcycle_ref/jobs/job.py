"""A job as its folder records it: the event history, status, metrics, log and artifacts."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:  # the store makes jobs; a job only keeps a reference to its store
    from mlcycle_ref.jobs.store import JobStore
from mlcycle_ref.jobs.spec import (
    _MODEL_FILES,
    EVENTS_FILE,
    FINISHED,
    LOG_FILE,
    MANIFEST_FILE,
    MAX_REASON,
    METRICS_FILE,
    POLL_INTERVAL,
    PREPROCESSOR_FILE,
    SPEC_FILE,
    STOP_FILE,
)


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


class Job:
    """A training job: its status, history, metrics, log and artifacts.

    Get one from :func:`run` or :meth:`JobStore.get`. Reading ``status`` looks at the job's
    folder, so it is always current, whichever process started the job. ``name`` is the
    job's name, unique in its store; ``folder`` the directory holding its spec, history,
    log and artifacts; ``store`` the :class:`JobStore` to keep informed of status changes
    (None: the folder alone).

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.jobs import JobSpec, run
    >>> train, validation, _ = data.split(data.load("wine").frame, "target")
    >>> job = run(JobSpec("linear", "multiclass", "target", train, validation), wait=False)
    >>> job.wait(timeout=120).status
    'Completed'
    >>> job.spec()["algorithm"], job.metrics()["validation:accuracy"] > 0.8
    ('linear', True)
    >>> [step["status"] for step in job.describe()["status_transitions"]]
    ['Starting', 'Training', 'Uploading', 'Completed']
    >>> "train channel: 124 rows" in job.logs()
    True
    >>> job.stop().status  # a finished job stays as it ended
    'Completed'
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
        """Block until the job has finished and return it; ``TimeoutError`` after ``timeout``
        seconds (None, the default, waits as long as it takes)."""
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
