"""Where a learner's progress lasts: glossary cards and quiz attempts, in a database named by
a URL, on the course's one storage layer (:mod:`mlcycle_ref.storage`).

A progress store is given as a SQLAlchemy URL (``postgresql+psycopg://host/course`` for a
class that shares one server), as a path (a SQLite file), or not at all: the SQLite file
``drills.sqlite3`` or ``quiz-history.sqlite3`` in ``data_dir()``. This module imports
SQLAlchemy; :mod:`~mlcycle_ref.quiz.drills` and :mod:`~mlcycle_ref.quiz.history` import it
only when they open a store, so checking an answer never pays for it.

A SQLite file that cannot be read as a database - truncated, overwritten, or empty although
it was created with tables - is never silently replaced: it is renamed to
``<name>.damaged-<time>``, a fresh file takes its place, and :attr:`Store.notice` says so,
naming both files, for the front-end to print.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "p.sqlite3"
>>> _ = path.write_bytes(b"")
>>> store = Store(path, "drills.sqlite3", DRILLS)
>>> "damaged" in store.notice and store.kept_aside.exists()
True
>>> store.replace("cards", term_id="pandas", box=2, due="2025-01-02", seen=1, right=1)
>>> [row["box"] for row in store.rows("cards", term_id="pandas")]
[2]
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Column, Float, ForeignKey, Integer, MetaData, String, Table, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError

from mlcycle_ref import storage

#: The glossary drills' Leitner boxes: one card per term.
DRILLS = MetaData()
Table("cards", DRILLS, Column("term_id", String, primary_key=True),
      Column("box", Integer, nullable=False), Column("due", String, nullable=False),
      Column("seen", Integer, nullable=False), Column("right", Integer, nullable=False))

#: The quiz history: the learner's id, every attempt, and each question's outcome in it.
HISTORY = MetaData()
Table("learner", HISTORY, Column("id", String, nullable=False))
Table("attempts", HISTORY, Column("id", Integer, primary_key=True),
      Column("bank", String, nullable=False), Column("number", Integer, nullable=False),
      Column("started", String, nullable=False))
Table("outcomes", HISTORY,
      Column("attempt", Integer, ForeignKey("attempts.id"), primary_key=True),
      Column("question", String, primary_key=True), Column("outcome", String, nullable=False),
      Column("score", Float, nullable=False), Column("at", String, nullable=False))


class StoreError(storage.StoreError):
    """A progress store named by a URL that no installed database driver serves.

    >>> Store("nosuch://host/course", "drills.sqlite3", DRILLS)
    Traceback (most recent call last):
    ...
    mlcycle_ref.quiz.store.StoreError: progress store nosuch://host/course: no SQLAlchemy driver ...
    """


def progress_url(location: str | Path | None, default_name: str) -> str:
    """The URL of a progress store given as ``location``: a URL, a path to a SQLite file,
    or None (the file ``default_name`` in ``data_dir()``).

    >>> progress_url("postgresql+psycopg://db/course", "drills.sqlite3")
    'postgresql+psycopg://db/course'
    >>> progress_url("/home/ada/drills.sqlite3", "drills.sqlite3")
    'sqlite:////home/ada/drills.sqlite3'
    >>> progress_url(None, "drills.sqlite3").endswith("/drills.sqlite3")
    True
    """
    if location is None:
        return storage.store_url(None, default_name, "progress store")
    if not isinstance(location, Path):
        try:
            make_url(location)
            return location
        except ArgumentError:
            pass
    return f"sqlite:///{location}"


class Store:
    """An open progress store: rows in, rows out, each operation on its own connection.

    ``location`` is a URL, a path or None, as :func:`progress_url` reads it with
    ``default_name``; ``metadata`` holds the tables (:data:`DRILLS` or :data:`HISTORY`),
    made if missing. ``path`` says where the progress is kept, for messages: the SQLite
    file, else the URL (password hidden). ``notice`` is set when a damaged file was kept
    aside as ``kept_aside`` and a fresh one started.

    >>> import tempfile
    >>> store = Store(Path(tempfile.mkdtemp()) / "h.sqlite3", "quiz-history.sqlite3", HISTORY)
    >>> store.insert("attempts", bank="quiz", number=1, started="2025-01-01T10:00:00")
    1
    >>> store.notice, store.path.name
    ('', 'h.sqlite3')
    >>> store.close()
    """

    def __init__(self, location: str | Path | None, default_name: str, metadata: MetaData):
        self.url = progress_url(location, default_name)
        self._metadata = metadata
        self.notice = ""
        self.kept_aside: Path | None = None
        parsed = make_url(self.url)
        self.path: Path | str = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            self._engine = self._open(check=False)
            return
        self.path = path = Path(parsed.database)
        problem = ""
        if path.exists() and path.stat().st_size == 0:
            problem = "it is empty (0 bytes), so its progress was lost before this run"
        else:
            try:
                self._engine = self._open(check=True)
                return
            except DatabaseError as error:
                problem = f"it cannot be read ({error.orig or error})"
        self.kept_aside = path.with_name(f"{path.name}.damaged-{datetime.now():%Y%m%d-%H%M%S-%f}")
        path.rename(self.kept_aside)
        self.notice = (f"The progress file {path} is damaged: {problem}. It was kept aside as "
                       f"{self.kept_aside} and a fresh one was started.")
        self._engine = self._open(check=True)

    def _open(self, check: bool):
        try:
            engine = storage.open_engine(self.url, self._metadata)
        except storage.StoreError as error:  # no driver for this kind of URL
            raise StoreError(f"progress store {error}") from None
        if not check:
            return engine
        # quick_check reads every page: a truncated file fails here, not in the middle of a drill.
        with engine.connect() as connection:
            verdict = connection.exec_driver_sql("PRAGMA quick_check").scalar()
        if verdict != "ok":
            raise DatabaseError("PRAGMA quick_check", None, Exception(f"integrity: {verdict}"))
        return engine

    def close(self) -> None:
        """Let go of the database (no connection stays open between operations anyway)."""
        self._engine.dispose()

    def _table(self, name: str) -> Table:
        return self._metadata.tables[name]

    def rows(self, table: str, **where) -> list[dict]:
        """The rows of ``table`` whose columns equal the values in ``where`` (a list: any).

        >>> import tempfile
        >>> store = Store(Path(tempfile.mkdtemp()) / "p.sqlite3", "drills.sqlite3", DRILLS)
        >>> for term in ("pandas", "numpy"):
        ...     store.replace("cards", term_id=term, box=1, due="2025-01-01", seen=1, right=0)
        >>> sorted(row["term_id"] for row in store.rows("cards", term_id=["numpy", "scipy"]))
        ['numpy']
        """
        found = self._table(table)
        query = select(found)
        for column, value in where.items():
            query = query.where(found.c[column].in_(value) if isinstance(value, list | tuple)
                                else found.c[column] == value)
        with self._engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def insert(self, table: str, **values):
        """Add a row of ``values`` to ``table``; returns its primary key when that is a single
        column (a new attempt's id), else None (see the class example)."""
        with self._engine.begin() as connection:
            key = connection.execute(self._table(table).insert().values(**values)
                                     ).inserted_primary_key
        return key[0] if key and len(key) == 1 else None

    def replace(self, table: str, **values) -> None:
        """Write a row of ``values`` to ``table``, replacing the one with the same primary key,
        in one transaction.

        >>> import tempfile
        >>> store = Store(Path(tempfile.mkdtemp()) / "p.sqlite3", "drills.sqlite3", DRILLS)
        >>> for box in (1, 2):
        ...     store.replace("cards", term_id="pandas", box=box, due="2025-01-02", seen=box,
        ...                   right=box - 1)
        >>> [(row["box"], row["seen"]) for row in store.rows("cards")]
        [(2, 2)]
        """
        found = self._table(table)
        same = [column == values[column.name] for column in found.primary_key.columns]
        with self._engine.begin() as connection:
            connection.execute(found.delete().where(*same))
            connection.execute(found.insert().values(**values))
