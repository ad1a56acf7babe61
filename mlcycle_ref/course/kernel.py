"""Running one notebook's cells in a fresh kernel, within a time limit per cell and in all.

The kernel works in the grader's scratch folder, or in a sandbox made for it (see
:mod:`mlcycle_ref.course.sandbox`); the executor runs here either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import uuid
from collections import Counter
from pathlib import Path

import nbformat

from mlcycle_ref import labs
from mlcycle_ref.course import sandbox as sandboxing
from mlcycle_ref.course.cells import grade_id_of, is_test

#: Output one cell may produce while it runs, in characters; the rest is dropped.
MAX_CELL_OUTPUT = 200_000
#: The line that ends a cell's output once the rest was dropped.
DROPPED_NOTE = f"\n[more output dropped: over {MAX_CELL_OUTPUT:,} characters]\n"
#: Bytes of one message from the kernel: a bigger one is dropped by ZeroMQ before it reaches
#: the executor, whose memory (outside the sandbox) the kernel's limits do not cover.
MAX_MESSAGE = 32 * 2**20
#: Metadata key of a cell the grader adds, which runs with :data:`GRADER_CELL_TIMEOUT` rather
#: than the timeout set for the student's cells: on a busy machine a kernel's first cell can
#: take longer than a short limit, and the grader's own code must not fail a submission.
GRADER_CELL = "mlcycle_grader"
GRADER_CELL_TIMEOUT = 60


def _executor_class():
    """nbgrader's ``Execute`` with a clean kernel environment, an output cap and bookkeeping.

    nbgrader's own ``Execute`` already adds an error output to a cell whose execution failed
    without showing one (a submission can silence tracebacks), so a failure always scores 0.
    """
    import zmq
    from jupyter_client.asynchronous import AsyncKernelClient
    from nbgrader.preprocessors import Execute

    class CappedClient(AsyncKernelClient):
        def _context_default(self):
            context = super()._context_default()
            context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
            return context

    class GradingExecute(Execute):
        def __init__(self, kernel_env: dict, sandbox=None, **kwargs):
            super().__init__(**kwargs)
            self.kernel_env, self.sandbox, self.kernel_pgid = kernel_env, sandbox, None
            self.ran, self.sizes, self.cut = set(), Counter(), set()

        def start_new_kernel(self, **kwargs):
            kwargs.setdefault("env", self.kernel_env)
            # Next to the working folder, so that it goes with the scratch folder of a worker
            # killed before it could remove it.
            folder = Path(self.resources["metadata"]["path"])
            self.km.connection_file = str(folder.with_name(f"{folder.name}-kernel.json"))
            self.km.client_factory = CappedClient
            if self.sandbox is not None:
                self.km.kernel_id = self.km.kernel_id or str(uuid.uuid4())
                self.km.provisioner = sandboxing.provisioner(self.km, self.sandbox)
            super().start_new_kernel(**kwargs)
            self.kernel_pgid = getattr(self.km.provisioner, "pgid", None)

        def preprocess_cell(self, cell, resources, index):
            # Hidden tests stay out of IPython's input history (In, _ih), where later
            # student code could read them.
            cell = self.execute_cell(cell, index,
                                     store_history=labs.BEGIN_HIDDEN not in cell.source)
            self.ran.add(index)
            return cell, self.resources

        def output(self, outs, msg, display_id, cell_index):
            # A cell that prints without end would fill this process's memory: past the cap
            # its output is dropped, errors excepted (they decide the grade).
            self.sizes[cell_index] += len(json.dumps(msg["content"]))
            if self.sizes[cell_index] <= MAX_CELL_OUTPUT or msg["msg_type"] == "error":
                return super().output(outs, msg, display_id, cell_index)
            if cell_index not in self.cut:
                self.cut.add(cell_index)
                outs.append(nbformat.from_dict({
                    "output_type": "stream", "name": "stdout",
                    "text": DROPPED_NOTE}))
            return None

    return GradingExecute


def _kill_group(pgid) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def run_notebook(nb, folder: Path, *, timeout: int, limit: float, sandbox=None) -> str:
    """Run ``nb`` in place in a kernel working in ``folder``; return a problem, or "".

    With a :class:`~mlcycle_ref.course.sandbox.Sandbox` the kernel works in a copy of
    ``folder`` inside one, with its limits and an environment of its own; what it writes stays
    there. Raises :class:`~mlcycle_ref.course.folder.CourseError` when no sandbox can be made.

    ``nb`` is an nbformat notebook, whose cells get their outputs; ``timeout`` is the seconds
    one cell may run before it is interrupted (and the kernel stopped if it goes on);
    a cell marked :data:`GRADER_CELL` in its metadata gets :data:`GRADER_CELL_TIMEOUT`;
    ``limit`` is the seconds the whole notebook may take before its kernel is killed; with
    ``sandbox`` None the kernel runs unsandboxed, with the grader's environment. A test cell
    that never ran gets a ``NotRun`` error saying why; the problem returned names the cell
    where the run stopped.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout_func = lambda cell: (
        GRADER_CELL_TIMEOUT if cell.metadata.get(GRADER_CELL) else int(timeout))
    config.Execute.shutdown_kernel = "immediate"  # a kernel stuck in a loop would not answer
    env = ({key: value for key, value in os.environ.items() if key != "OLDPWD"}
           if sandbox is None else sandboxing.environment())
    executor = _executor_class()(
        {**env, "PWD": str(folder), "NBGRADER_EXECUTION": "autograde"}, sandbox, config=config)
    stopped = threading.Event()

    def stop():
        stopped.set()
        _kill_group(executor.kernel_pgid)

    watchdog = threading.Timer(limit, stop)
    watchdog.start()
    problem = ""
    try:
        executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    except (DeadKernelError, CellTimeoutError) as error:
        last = max(executor.ran, default=-1) + 1  # the cell that was running
        # Cells without a grade id are named by position, counted without the guard's cell.
        where = (f"cell {grade_id_of(nb.cells[last]) or f'#{last}'}" if last < len(nb.cells)
                 else "the end")
        if stopped.is_set():
            problem = f"stopped at {where}: the submission ran longer than {limit:g} s in all"
        elif isinstance(error, CellTimeoutError):
            problem = f"stopped at {where}: it kept running after its timeout and an interrupt"
        else:
            problem = (f"the kernel died in {where} (os._exit, a crash or too much memory); "
                       "the cells after it did not run")
    finally:
        watchdog.cancel()
        _kill_group(executor.kernel_pgid)  # and whatever the submission started
    for index, cell in enumerate(nb.cells):
        if is_test(cell) and index not in executor.ran:
            cell.outputs = [nbformat.from_dict({
                "output_type": "error", "ename": "NotRun",
                "evalue": "this test did not run: " + (problem or "the notebook stopped"),
                "traceback": []})]
    return problem
