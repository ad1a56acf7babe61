"""Starting a job, and the supervisor that runs its worker process within its limits."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from mlcycle_ref._forkserver import worker_context
from mlcycle_ref.jobs.cluster import DASK_ALGORITHMS, _dask_client, _train_on_cluster
from mlcycle_ref.jobs.job import Job, _append_event, _is_finished, _now, _read_events
from mlcycle_ref.jobs.spec import (
    _GUARD_HINT,
    BACKENDS,
    GRACE_PERIOD,
    LOG_FILE,
    MAX_REASON,
    POLL_INTERVAL,
    SPEC_FILE,
    STOP_FILE,
    JobSpec,
    _is_dask_frame,
)
from mlcycle_ref.jobs.worker import _worker_main
from mlcycle_ref.paths import data_dir


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

    ``spec`` says what to train and with which resources; ``backend`` is "local" (a worker
    process on this machine) or "dask". ``store`` is a :class:`JobStore` or its URL (default
    store when None). ``client`` (dask backend only) is a ``distributed.Client`` or a
    scheduler address; None starts a ``LocalCluster`` once per process; on a cluster of
    several machines the job folders (``JobSpec.output``) must be on a file system that every
    Dask worker reaches. A failure inside the job never raises here: look at ``job.status``
    and ``job.describe()["failure_reason"]``.

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
    from mlcycle_ref.jobs.store import as_store  # SQLAlchemy: only where a job starts

    store = as_store(store)
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
    # The first event names this process before the store lists the job: a job found in the
    # store always has an owner, so a later look can settle it if this process dies here.
    _append_event(folder, "InProgress", "Starting", f"job created for the {backend} backend",
                  host=socket.gethostname(), supervisor=os.getpid())
    store._add(name, folder, record)
    job = Job(name, folder, store)
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


SERVER_LOG = "worker-server.log"  # in data_dir()/jobs: what the worker server itself prints
_server_lock = threading.Lock()


def start_worker_server() -> None:
    """Start the server process that local jobs are forked from, and return at once.

    The first local job of a session otherwise waits a second or two while that server
    imports the libraries. Started early - in a notebook's first cell, say - the server
    imports them while the next cells run, and the first job starts as quickly as the
    later ones. Later calls, and jobs, use the same server. Workers inherit the environment
    variables the server had when it started, so set those first. What the server itself
    prints (a library's warning while it imports, say) goes to ``SERVER_LOG`` in
    ``data_dir()/jobs``, not into whichever notebook cell runs at that moment; each job
    writes its own log. Where the platform has no fork server (Windows), each job starts
    its own interpreter and this does nothing.

    >>> start_worker_server()  # returns at once; the server imports in the background
    >>> start_worker_server()  # already running: nothing more to do
    """
    if worker_context().get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    log = data_dir() / "jobs" / SERVER_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    # The server inherits this process's standard error: point it at the log while the
    # server starts (a no-op when it runs already), then put it back.
    with _server_lock, open(log, "ab") as server_log:
        saved = os.dup(2)
        try:
            os.dup2(server_log.fileno(), 2)
            forkserver.ensure_running()
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _start_worker(folder: str):
    """Start the worker process and return (process, poll), poll() giving its exit code or None."""
    if multiprocessing.current_process().daemon:
        # Dask's nanny runs workers as daemonic processes, which may not own
        # multiprocessing children: start a plain interpreter there instead.
        process = subprocess.Popen([sys.executable, "-m", "mlcycle_ref.jobs.worker", folder],
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        return process, process.poll
    start_worker_server()
    process = worker_context().Process(target=_worker_main, args=(folder, os.getpid()),
                                       daemon=True)
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
    # The worker records its own start (see worker._worker_main), before it can record more.
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
    if not _is_finished(_read_events(folder)):
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
