"""Where a class is graded: a pool of worker processes or a Dask cluster, and what is left
behind when grading stops.

Ctrl-C, SIGTERM and SIGHUP (a dropped SSH session) stop a batch between two results, so the
summary is still printed. A parent that dies outright (SIGKILL, a crash) cannot clean up: each
worker watches it and, once it is gone, kills whatever the worker started, removes the scratch
folder and exits, within a second. A scratch folder that outlives its run all the same is
removed by the next run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from mlcycle_ref._forkserver import worker_context
from mlcycle_ref.course.execute import grade_submission
from mlcycle_ref.course.folder import FAILED, CourseError

WORKER_DIED = ("the grading worker process died while grading it on its own: its code kills the "
               "process that runs it")
SCRATCH_PREFIX = "mlcycle-grading-"
#: Signals that stop a batch between two results, with a summary.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def process_identity(pid: int) -> str | None:
    """What tells a live process from a later one with the same id: its start time.

    ``pid`` is the process id to look up. None for a process that is gone or a zombie (dead,
    not yet reaped). Linux only; elsewhere every process counts as alive.

    >>> process_identity(os.getpid()) == process_identity(os.getpid()) is not None
    True
    >>> process_identity(2**22 + 1) is None
    True
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "unknown"
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _descendants(pid: int) -> list[int]:
    """Ids of every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], deque(children.get(pid, []))
    while queue:
        child = queue.popleft()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def _watch_parent(parent: int, identity: str | None, leftovers: list[str]) -> None:
    """In a worker: once the grading process is gone, take everything down and leave."""
    while process_identity(parent) == identity:
        time.sleep(0.5)
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(1)


def _start_worker(parent: int, identity: str | None, leftovers: list[str],
                  log: str | None = None) -> None:
    """Each worker works from the temporary folder, never the course's, and watches its parent.

    Its standard error - and its kernels', which warn at every start - goes to ``log``, away
    from the progress bar.
    """
    if log:
        with open(log, "ab") as handle:
            os.dup2(handle.fileno(), 2)
    os.chdir(tempfile.gettempdir())
    os.environ["PWD"] = tempfile.gettempdir()
    for number in STOP_SIGNALS:  # the parent's to handle
        signal.signal(number, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent, identity, leftovers), daemon=True,
                     name="watch-parent").start()


def new_scratch() -> str:
    """A scratch folder named after this process, after removing those of dead runs.

    >>> folder = new_scratch()
    >>> Path(folder).name.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-"), os.listdir(folder)
    (True, [])
    >>> os.rmdir(folder)
    """
    base = Path(tempfile.gettempdir())
    for folder in base.glob(f"{SCRATCH_PREFIX}*"):
        owner = re.match(rf"{SCRATCH_PREFIX}(\d+)-", folder.name)
        if owner and folder.is_dir() and process_identity(int(owner[1])) is None:
            shutil.rmtree(folder, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")


def run_pool(jobs: list[dict], workers: int, handle, stop: threading.Event,
             scratch: str | None = None, running=None, log: str | None = None) -> None:
    """Grade ``jobs`` in a pool of ``workers`` processes; ``handle(result)`` as each finishes.

    ``running(jobs)``, if given, hears which jobs are being graded whenever that changes. Each
    worker watches this process and, should it die, removes ``scratch``; what workers and
    their kernels write to standard error is appended to ``log``.

    A worker process that dies takes its pool down with whatever it was grading. The pool is
    started again and those submissions are retried one at a time, so the one that killed
    its worker is found and reported without failing its neighbours. Once ``stop`` is set the
    workers are killed and the submissions they were grading are left for the next run.

    Stopped before it starts, it starts no worker and grades nothing:

    >>> stop = threading.Event()
    >>> stop.set()
    >>> run_pool([{"student": "s001"}], 2, print, stop)
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import util

    # Workers fork from a server process that imported the grading code once (the one that
    # jobs use too), so a new pool (after a break) starts in milliseconds; the server never
    # ran a thread or a kernel.
    context = worker_context()
    queue, suspects = deque(jobs), deque()
    # What a killed parent leaves in the temporary folder: our scratch and multiprocessing's.
    leftovers = [folder for folder in (scratch, util.get_temp_dir()) if folder]
    # The fork server listens on a Unix socket in multiprocessing's folder; Linux refuses a
    # socket path of 108 bytes or more, which a deep TMPDIR reaches.
    if len(os.path.join(util.get_temp_dir(), "listener-12345678").encode()) > 107:
        raise CourseError(f"the temporary folder {tempfile.gettempdir()} is too deep for the "
                          "grading workers' socket (a path of at most 107 bytes): set TMPDIR "
                          "to a shorter folder, such as /tmp")
    while (queue or suspects) and not stop.is_set():
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(os.getpid(), process_identity(os.getpid()),
                                             leftovers, log))
        in_flight, broken = {}, False
        try:
            while (queue or suspects or in_flight) and not broken:
                if stop.is_set():
                    stop_workers(pool)
                    return
                isolating = bool(suspects) or any(job.get("suspect") for job in in_flight.values())
                # One job per worker in flight: when the pool breaks, the suspects are few.
                while (suspects or queue) and len(in_flight) < (1 if isolating else workers):
                    job = (suspects or queue).popleft()
                    try:
                        in_flight[pool.submit(grade_submission, job)] = job
                    except BrokenProcessPool:
                        (suspects if job.get("suspect") else queue).appendleft(job)
                        broken = True
                        break
                if not in_flight:
                    break
                if running:
                    running(list(in_flight.values()))
                done, _ = wait(in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if job.get("suspect"):
                            handle(failure(job, WORKER_DIED))
                        else:
                            suspects.append({**job, "suspect": True})
                        continue
                    except Exception as error:  # the result could not come back, for one
                        result = failure(job, f"the grading worker failed: {error}")
                    handle(result)
            suspects.extend({**job, "suspect": True} for job in in_flight.values())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def stop_workers(pool) -> None:
    """Kill a pool's worker processes now: Ctrl-C should not wait for their submissions.

    ``pool`` is a ``concurrent.futures.ProcessPoolExecutor``; its workers die with SIGKILL.

    >>> from concurrent.futures import ProcessPoolExecutor
    >>> busy = ProcessPoolExecutor(1)
    >>> _ = busy.submit(time.sleep, 60)
    >>> workers = list(busy._processes.values())
    >>> stop_workers(busy)
    >>> busy.shutdown()  # the pool reaps the dead workers: no second join to race with it
    >>> [worker.exitcode for worker in workers] == [-signal.SIGKILL]
    True
    """
    # Python 3.14 has pool.kill_workers(); before it, the processes are only reachable here.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()


@contextlib.contextmanager
def stop_on_signals():
    """An Event that Ctrl-C, SIGTERM or SIGHUP sets: a batch stops between two results.

    A KeyboardInterrupt could strike anywhere - even inside a callback that swallows it.
    Outside the main thread signals cannot be caught, and the Event is never set.

    >>> with stop_on_signals() as stop:
    ...     handler = signal.getsignal(signal.SIGHUP)
    ...     handler(signal.SIGHUP, None)  # what a dropped SSH session would run
    >>> stop.is_set(), signal.getsignal(signal.SIGHUP) is handler
    (True, False)
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.signal(number, lambda *args: stop.set())
                for number in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_dask(jobs: list[dict], scheduler, handle, stop: threading.Event) -> None:
    """Grade ``jobs`` on a Dask cluster: ``scheduler`` is an address or a ``Client``.

    ``handle(result)`` is called with each result as it comes back (a job the cluster lost
    gets a ``failure``); once ``stop`` is set, the jobs still pending are cancelled and left
    for the next run. A client made here from an address is closed at the end.
    """
    from distributed import Client

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        pending = {client.submit(grade_submission, job, pure=False,
                                 key=f"grade-{job['student']}-{uuid.uuid4().hex[:8]}"): job
                   for job in jobs}
        while pending and not stop.wait(0.2):
            for future in [future for future in pending if future.done()]:
                job = pending.pop(future)
                try:
                    handle(future.result())
                except Exception as error:  # e.g. KilledWorker: it took workers down with it
                    handle(failure(job, f"the cluster could not grade it: {error}"))
        client.cancel(list(pending))
    finally:
        if client is not scheduler:
            client.close()


def failure(job: dict, reason: str) -> dict:
    """The result of a job that came back with no result of its own.

    ``job`` is the job as submitted (its student, sha256 and the lab of its reference are
    kept); ``reason`` says why it could not be graded.

    >>> result = failure({"student": "s001", "sha256": "ab12", "reference": {"lab": "lab1"}},
    ...                  WORKER_DIED)
    >>> result["status"], result["student"], result["reason"] == WORKER_DIED
    ('failed', 's001', True)
    """
    return {"student": job["student"], "lab": job["reference"]["lab"], "sha256": job["sha256"],
            "status": FAILED, "reason": reason, "problem": "", "notes": [], "tasks": [],
            "notebook": None, "seconds": 0.0, "host": ""}
