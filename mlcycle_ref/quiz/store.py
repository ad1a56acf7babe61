"""SQLite files that keep a learner's progress, and what happens when one is damaged.

:func:`open_store` opens (or creates) a progress file with its schema. A file that cannot be
read as that schema - truncated, overwritten, or empty although it was created with tables -
is never silently replaced: it is renamed to ``<name>.damaged-<time>``, a fresh file takes its
place, and :attr:`Store.notice` says so, naming both files, for the front-end to print.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "p.sqlite3"
>>> _ = path.write_bytes(b"")
>>> store = open_store(path, "CREATE TABLE t (x INTEGER)")
>>> "damaged" in store.notice and store.kept_aside.exists()
True
>>> store.db.close()
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass
class Store:
    """An open progress file: the connection, and a notice when a damaged one was set aside."""

    db: sqlite3.Connection
    path: Path
    notice: str = ""
    kept_aside: Path | None = None


def _connect(path: Path, schema: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    try:
        db.executescript(schema)
        # quick_check reads every page: a truncated file fails here, not in the middle of a drill.
        row = db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {row}")
        db.commit()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def open_store(path: Path, schema: str) -> Store:
    """Open a progress file with ``schema`` (``CREATE TABLE IF NOT EXISTS`` statements)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    problem = ""
    if path.exists() and path.stat().st_size == 0:
        problem = "it is empty (0 bytes), so its progress was lost before this run"
    else:
        try:
            return Store(_connect(path, schema), path)
        except sqlite3.DatabaseError as error:
            problem = f"it cannot be read ({error})"
    aside = path.with_name(f"{path.name}.damaged-{datetime.now():%Y%m%d-%H%M%S-%f}")
    path.rename(aside)
    notice = (f"The progress file {path} is damaged: {problem}. It was kept aside as "
              f"{aside} and a fresh one was started.")
    return Store(_connect(path, schema), path, notice, aside)
