"""Grading one notebook: restored, guarded, run in a fresh kernel with limits, scored.

:func:`grade_submission` is what a worker of a process pool or a Dask cluster runs; it takes
and returns plain data, and never raises.
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from mlcycle_ref import labs
from mlcycle_ref.course.cells import grade_id_of, is_test
from mlcycle_ref.course.folder import FAILED, GRADED, CourseError
from mlcycle_ref.course.kernel import DROPPED_NOTE, GRADER_CELL, MAX_CELL_OUTPUT, run_notebook
from mlcycle_ref.course.restore import GradingGuard, restore
from mlcycle_ref.labs.secret import in_environment

GUARD_LINE = "_mlcycle_guard.restore(globals())"


def _guarded(nb, imports: str, memory_mb: int | None):
    """The notebook with the guard's set-up cell first and its line atop every test cell.

    The set-up cell defines :class:`GradingGuard` from its source rather than importing this
    module, which would cost the kernel nbformat's import (over a second) per submission.
    """
    setup = new_code_cell("\n".join([
        "import builtins, contextlib, importlib, sys",
        inspect.getsource(GradingGuard),
        f"_mlcycle_guard = GradingGuard({imports!r}, memory_mb={memory_mb!r})",
        "del GradingGuard"]), metadata={GRADER_CELL: True})
    for cell in nb.cells:
        if is_test(cell):
            cell.source = f"{GUARD_LINE}\n{cell.source}"
    nb.cells.insert(0, setup)
    return nb


def _unguarded(nb):
    """Undo :func:`_guarded` after execution, keeping the outputs."""
    setup = nb.cells.pop(0)
    for cell in nb.cells:
        if is_test(cell) and cell.source.startswith(GUARD_LINE + "\n"):
            cell.source = cell.source[len(GUARD_LINE) + 1:]
    return setup


def _limit_outputs(nb) -> None:
    """nbgrader's output limits (lines, traceback), plus a cap on characters per output.

    The note that a cell's output was cut while it ran stays, last: nbgrader drops every
    stream past its line limit, and the note would go with them.
    """
    from nbgrader.preprocessors import LimitOutput

    cut = []
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        if any(output.get("text") == DROPPED_NOTE for output in outputs):
            cell.outputs = [output for output in outputs if output.get("text") != DROPPED_NOTE]
            cut.append(cell)
    LimitOutput().preprocess(nb, {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text")
            if isinstance(text, str) and len(text) > MAX_CELL_OUTPUT:
                output["text"] = text[:MAX_CELL_OUTPUT] + "\n... Output truncated ..."
    for cell in cut:
        cell.outputs.append(nbformat.from_dict(
            {"output_type": "stream", "name": "stdout", "text": DROPPED_NOTE}))


def _task_results(nb) -> list[dict]:
    """One entry per graded cell: id, kind, points, automatic score and the failure message."""
    from nbgrader import utils

    tasks = []
    for cell in nb.cells:
        kind = labs.cell_kind(cell)
        if kind is None:
            continue
        score, points = utils.determine_grade(cell)
        message = ""
        errors = [out for out in cell.get("outputs", []) if out.output_type == "error"]
        if errors:
            message = labs.failure_message(errors[0])
        elif score == 0 and kind != labs.WRITTEN:
            message = "wrote to stderr (nbgrader counts that as a failure)"
        tasks.append({"grade_id": grade_id_of(cell), "kind": kind, "points": points,
                      "score": score, "message": message})
    return tasks


def _read_submission(content: bytes, name: str):
    try:
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
    except UnicodeDecodeError as error:
        raise CourseError(f"{name} is not a text file ({error})") from error
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise CourseError(f"{name} is not a readable notebook: {error}") from error
    if not isinstance(nb.get("cells"), list):
        raise CourseError(f"{name} is not a readable notebook: it has no list of cells")
    return nb


def grade_submission(job: dict) -> dict:
    """Grade one submission in a scratch folder of its own and return the result; never raises.

    ``job`` holds the student, the notebook's bytes, the lab's reference (see
    :func:`graded_reference`), the limits and optionally a ``scratch`` folder and a
    ``sandbox`` (a :class:`~mlcycle_ref.course.sandbox.Sandbox`: the kernel then runs in
    it). The kernel starts in a new, empty folder in there (or in the temporary folder) that
    then receives only the notebook and the lab's other files; the folder is removed
    afterwards. The result has ``status`` "graded" (with the executed ``notebook``, the
    ``tasks``, any ``problem`` and ``notes``) or "failed" with a ``reason``, and says whether
    it was ``sandboxed``. Workers of a process pool or a Dask cluster run this same function.

    A file that is not a notebook fails before any kernel starts:

    >>> result = grade_submission({"student": "s001", "notebook": b"print(1)", "sha256": "0",
    ...                            "reference": {"lab": "lab1"}})
    >>> result["status"], result["sandboxed"], result["tasks"]
    ('failed', False, [])
    >>> result["reason"].startswith("s001/lab1.ipynb is not a readable notebook")
    True
    """
    reference = job["reference"]
    name = f"{job['student']}/{reference['lab']}.ipynb"
    result = {"student": job["student"], "lab": reference["lab"], "sha256": job["sha256"],
              "status": FAILED, "reason": "", "problem": "", "notes": [], "tasks": [],
              "notebook": None, "seconds": 0.0, "host": os.uname().nodename,
              "sandboxed": job.get("sandbox") is not None}
    start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="mlcycle-grade-", dir=job.get("scratch")))
    try:
        nb, result["notes"] = restore(_read_submission(job["notebook"], name), reference)
        for relative, content in reference.get("files", {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(content)
        # The student's own file, as handed in: the rebuilt one holds the hidden tests.
        (folder / f"{reference['lab']}.ipynb").write_bytes(job["notebook"])
        box = job.get("sandbox")
        # In a sandbox the launcher sets the memory limit on every process, kernel included.
        nb = _guarded(nb, reference["imports"], None if box else job.get("memory_mb"))
        # Hidden tests draw their data from the course's secret (see mlcycle_ref.labs.secret).
        with in_environment(job.get("secret")):
            result["problem"] = run_notebook(nb, folder, timeout=job["timeout"],
                                             limit=job["limit"], sandbox=box)
        setup = _unguarded(nb)
        setup_errors = [out for out in setup.get("outputs", []) if out.output_type == "error"]
        if setup_errors or not setup.get("outputs") and setup.get("execution_count") is None:
            detail = labs.failure_message(setup_errors[0]) if setup_errors else result["problem"]
            raise CourseError(f"the grading set-up failed before the student's code ran: "
                              f"{detail}")
        _limit_outputs(nb)
        result.update(status=GRADED, tasks=_task_results(nb), notebook=nbformat.writes(nb))
    except CourseError as error:
        result["reason"] = str(error)
    except Exception as error:  # a grader bug must not stop the batch either
        result["reason"] = f"grading failed: {type(error).__name__}: {error}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        result["seconds"] = round(time.perf_counter() - start, 3)
    return result
