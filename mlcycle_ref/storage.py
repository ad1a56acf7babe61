"""Every store the course keeps is a database URL on SQLAlchemy.

The job store and the model registry take a URL, as Optuna and nbgrader do: a SQLite file
on one machine (``sqlite:///path/to/jobs.db``, the default under :func:`data_dir`), a
PostgreSQL database (``postgresql+psycopg://user@host/db``) when several machines share
it. One code path serves both; only the URL changes.

Connections are not pooled: each operation opens one and closes it, so a store survives a
``fork`` (training jobs run in forked workers) and leaves no file handle behind.
:func:`open_engine` shows a store made and used.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from mlcycle_ref.errors import MlcycleError
from mlcycle_ref.paths import data_dir

#: Seconds a SQLite writer waits for another process's lock before giving up.
SQLITE_BUSY_SECONDS = 30


class StoreError(MlcycleError, ValueError):
    """A store named by something that is not a database URL, or by a URL that no installed
    database driver serves; the message names the URL.

    >>> issubclass(StoreError, MlcycleError)
    True
    """


class StoreUnreachable(MlcycleError, ConnectionError):
    """A store whose database cannot be opened (a server down, a file not writable); the
    message names the URL with its password hidden.

    >>> issubclass(StoreUnreachable, ConnectionError)
    True
    """


def store_url(url: str | None, default_name: str, what: str) -> str:
    """The URL of a store: ``url`` checked, or the SQLite file ``default_name`` in data_dir().

    ``what`` names the store in the error message.

    >>> store_url("postgresql+psycopg://db/jobs", "jobs.db", "job store")
    'postgresql+psycopg://db/jobs'
    >>> store_url("jobs.db", "jobs.db", "job store")
    Traceback (most recent call last):
    ...
    mlcycle_ref.storage.StoreError: job store URL must be a database URL ...
    """
    if url is None:
        return f"sqlite:///{data_dir() / default_name}"
    try:
        make_url(str(url))
    except ArgumentError:
        raise StoreError(f"{what} URL must be a database URL (sqlite:///path/to/{default_name}),"
                         f" got {url!r}") from None
    return str(url)


def open_engine(url: str, metadata: MetaData) -> Engine:
    """An engine for ``url`` whose database holds the tables of ``metadata`` (made if missing).

    A SQLite file's folder is created; writers from several processes wait for each other.
    A URL without an installed driver raises :class:`StoreError`, a database that cannot be
    reached :class:`StoreUnreachable`, each naming the URL (password hidden).

    >>> import tempfile
    >>> from sqlalchemy import Column, MetaData, String, Table, select
    >>> metadata = MetaData()
    >>> notes = Table("notes", metadata, Column("text", String))
    >>> engine = open_engine(f"sqlite:///{tempfile.mkdtemp()}/notes.db", metadata)
    >>> with engine.begin() as connection:
    ...     _ = connection.execute(notes.insert().values(text="hello"))
    >>> with engine.connect() as connection:
    ...     connection.execute(select(notes.c.text)).scalar()
    'hello'
    """
    parsed = make_url(url)
    options = {"poolclass": NullPool}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
    try:
        engine = create_engine(url, **options)
    except NoSuchModuleError as error:
        raise StoreError(f"{url}: no SQLAlchemy driver for this URL ({error})") from None
    try:
        metadata.create_all(engine)
    except OperationalError as error:
        raise StoreUnreachable(f"{engine.url!r}: cannot open the database: "
                              f"{error.orig or error}") from None
    return engine
