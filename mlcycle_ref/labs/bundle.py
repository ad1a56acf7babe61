"""The student's copy of the labs: released notebooks and their data files, nothing else.

Students never work from the course repository, which holds the solutions. They get the labs
from the package they installed (:func:`get`, behind ``mlcycle labs get DIR``) or from the
website, which offers the zip made by :func:`write_zip`.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from mlcycle_ref import labs

SKIPPED = (".ipynb_checkpoints", "__pycache__")
SKIPPED_PARTS = frozenset(SKIPPED)


def lab_files(released: Path = labs.RELEASED) -> dict[str, Path]:
    """Every file of the released labs, by its path relative to ``released``, sorted.

    >>> files = lab_files()
    >>> "lab01_exploration/lab01_exploration.ipynb" in files
    True
    """
    released = Path(released)
    names = labs.available(released)
    return {path.relative_to(released).as_posix(): path
            for name in names for path in sorted((released / name).rglob("*"))
            if path.is_file() and not SKIPPED_PARTS.intersection(path.parts)}



_BOOK_LINK = re.compile(r"\]\(\.\./\.\./book/([^)#\s]+)\.md(#[^)\s]*)?\)")


def with_site_links(nb, site: str):
    """Point a lab's links to book chapters (``../../book/x.md``) at the website ``site``.

    In the repository the links are relative to ``labs/<lab>/``; in a copied or downloaded
    notebook they would lead nowhere, so they are pointed at the published book instead.

    >>> from nbformat.v4 import new_markdown_cell, new_notebook
    >>> nb = new_notebook(cells=[new_markdown_cell("[Training](../../book/lifecycle/training.md)")])
    >>> with_site_links(nb, "https://example.org/ml").cells[0].source
    '[Training](https://example.org/ml/book/lifecycle/training.html)'
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _BOOK_LINK.sub(
                lambda found: f"]({site}/book/{found.group(1)}.html{found.group(2) or ''})",
                cell.source)
    return nb


def get(destination, names=None, *, released: Path = labs.RELEASED,
        overwrite: bool = False, site: str | None = None) -> list[Path]:
    """Copy the released labs (all, or ``names``) into ``destination``; return the notebooks.

    A lab folder already in ``destination`` holds the student's work: it is left alone (and
    reported) unless ``overwrite`` is set. With ``site``, the address of the published book,
    the labs' links to its chapters point there.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> [path.relative_to(folder).as_posix() for path in get(folder, ["lab02"])]
    ['lab02_features/lab02_features.ipynb']
    >>> get(folder, ["lab02"])
    Traceback (most recent call last):
    ...
    mlcycle_ref.labs.LabError: ... already exists: your work is kept (use --overwrite to replace)
    """
    destination, released = Path(destination), Path(released)
    chosen = labs.resolve(names, released)
    existing = [destination / name for name in chosen if (destination / name).exists()]
    if existing and not overwrite:
        raise labs.LabError(f"{', '.join(map(str, existing))} already exists: your work is kept "
                            "(use --overwrite to replace)")
    notebooks = []
    for name in chosen:
        target = destination / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(released / name, target,
                        ignore=shutil.ignore_patterns(*SKIPPED))
        notebook = target / f"{name}.ipynb"
        if site:
            import nbformat

            nbformat.write(with_site_links(nbformat.read(notebook, as_version=4),
                                           site.rstrip("/")), notebook)
        notebooks.append(notebook)
    return notebooks


def write_zip(path, names=None, *, released: Path = labs.RELEASED) -> Path:
    """Write the released labs (all, or ``names``) into the zip ``path`` under ``labs/<lab>/``.

    >>> import tempfile
    >>> archive = write_zip(Path(tempfile.mkdtemp()) / "labs.zip")
    >>> "labs/lab03_training/lab03_training.ipynb" in zipfile.ZipFile(archive).namelist()
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        chosen = set(labs.resolve(names, released))
        for relative, file in lab_files(released).items():
            if relative.split("/")[0] in chosen:
                archive.write(file, f"labs/{relative}")
    return path
