"""The one fork server that training jobs and grading workers are both started from.

Python keeps a single fork server per process. It preloads the modules named by whoever
starts it first; a later caller naming other modules gets that same server, and each of its
workers then imports what it needs on its own, every time. In one session that graded a
class and then tuned a model, every trial imported XGBoost and Optuna afresh (the tuning
tests ran 7x slower after the grading tests). So every kind of worker asks for the server
through ``worker_context()``, which preloads what all of them need.
"""

import functools
import multiprocessing

PRELOAD = (
    "mlcycle_ref.jobs.worker", "optuna",  # a training job, or one trial of a tuner
    "mlcycle_ref.course", "nbgrader.preprocessors", "nbclient",  # a grading worker
)


@functools.cache
def worker_context():
    """The multiprocessing context workers start from: the shared fork server, or, where the
    platform has none (Windows), a fresh interpreter for each worker.

    >>> worker_context().get_start_method() in ("forkserver", "spawn")
    True
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context
