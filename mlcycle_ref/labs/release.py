"""Releasing the labs: the student version of each source notebook, made by nbgrader."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlcycle_ref import labs


def release(names=None, *, source: Path = labs.SOLUTIONS,
            destination: Path = labs.ROOT / "labs") -> list[Path]:
    """Generate the student version of each lab into ``destination/<lab>/``; return the notebooks.

    ``names`` are lab names or unique prefixes (all labs when None), looked up in
    ``source``, the folder of nbgrader source labs. A lab's folder in ``destination`` is
    replaced as a whole. The nbgrader course directory and
    its gradebook are temporary, so nothing but the released folders is written.

    >>> out = Path(tempfile.mkdtemp())
    >>> [path.name for path in release(["lab01"], destination=out)]
    ['lab01_exploration.ipynb']
    >>> text = (out / "lab01_exploration" / "lab01_exploration.ipynb").read_text()
    >>> "SOLUTION" in text, labs.BEGIN_HIDDEN in text
    (False, False)
    """
    from nbgrader.apps import NbGraderAPI

    source, destination = Path(source), Path(destination)
    chosen = labs.resolve(names, source)
    written = []
    with tempfile.TemporaryDirectory(prefix="mlcycle-release-") as scratch, labs.venv_on_path():
        course = Path(scratch)
        for name in chosen:
            shutil.copytree(source / name, course / "source" / name)
        api = NbGraderAPI(config=labs.course_config(course))
        for name in chosen:
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise labs.LabError(f"nbgrader could not release {name}:\n"
                                    f"{result.get('error') or result.get('log', '')}")
            target = destination / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(course / "release" / name, target)
            written.append(target / f"{name}.ipynb")
    return written
