"""The job store: every job run so far, in a database named by a URL."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sqlalchemy import Column, Float, MetaData, String, Table, Text, select

from mlcycle_ref import storage
from mlcycle_ref.errors import NotFound
from mlcycle_ref.jobs.job import Job
from mlcycle_ref.jobs.spec import FINISHED

_METADATA = MetaData()
_JOBS = Table(
    "jobs", _METADATA,
    Column("name", String, primary_key=True), Column("folder", String, nullable=False),
    Column("created", Float, nullable=False), Column("backend", String),
    Column("algorithm", String), Column("task", String), Column("status", String),
    Column("secondary_status", String), Column("training_time", Float), Column("metrics", Text),
)


class JobStore:
    """The list of jobs run so far, in a database named by a URL.

    ``url`` is any SQLAlchemy URL (see :mod:`mlcycle_ref.storage`): by default the SQLite
    file ``jobs.db`` in ``data_dir()``, or a PostgreSQL database shared by several
    machines. The store is an index: each job's folder stays the record of what happened.

    >>> import os, tempfile
    >>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
    >>> JobStore().list().columns.tolist()[:3]
    ['name', 'status', 'secondary_status']
    """

    _COLUMNS = ("name", "status", "secondary_status", "algorithm", "task", "backend",
                "created", "training_time", "folder")

    def __init__(self, url: str | None = None):
        self.url = storage.store_url(url, "jobs.db", "job store")
        self._engine = storage.open_engine(self.url, _METADATA)

    def __repr__(self) -> str:
        return f"JobStore({self.url!r})"

    def __contains__(self, name: str) -> bool:
        with self._engine.connect() as connection:
            found = connection.execute(select(_JOBS.c.name).where(_JOBS.c.name == name))
            return found.first() is not None

    def _add(self, name: str, folder: Path, record: dict) -> None:
        with self._engine.begin() as connection:
            connection.execute(_JOBS.insert().values(
                name=name, folder=str(folder), created=record["created"],
                backend=record["backend"], algorithm=record["algorithm"], task=record["task"],
                status="InProgress", secondary_status="Starting"))

    def _update(self, job: Job) -> None:
        summary = job.describe()
        with self._engine.begin() as connection:
            connection.execute(_JOBS.update().where(_JOBS.c.name == job.name).values(
                status=summary["status"], secondary_status=summary["secondary_status"],
                training_time=summary["training_time"],
                metrics=json.dumps(summary["final_metrics"])))

    def get(self, name: str) -> Job:
        """The job called ``name``; :class:`~mlcycle_ref.errors.NotFound` naming close matches.

        >>> import tempfile
        >>> JobStore(f"sqlite:///{tempfile.mkdtemp()}/jobs.db").get("first-job")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlcycle_ref.errors.NotFound: no job called 'first-job' in sqlite:///.../jobs.db
        """
        with self._engine.connect() as connection:
            folder = connection.execute(
                select(_JOBS.c.folder).where(_JOBS.c.name == name)).scalar()
            names = [] if folder else connection.execute(select(_JOBS.c.name)).scalars().all()
        if folder is None:
            close = [n for n in names if name in n or n in name][:5]
            hint = f"; similar names: {close}" if close else ""
            raise NotFound(f"no job called {name!r} in {self.url}{hint}")
        return Job(name, folder, self)

    def list(self) -> pd.DataFrame:
        """One row per job, oldest first, with its status, timing and final metrics."""
        with self._engine.connect() as connection:
            running = connection.execute(select(_JOBS.c.name).where(
                _JOBS.c.status.not_in(FINISHED))).scalars().all()
        for name in running:  # reading the status refreshes jobs running at the last look
            _ = self.get(name).status
        columns = [_JOBS.c[name] for name in self._COLUMNS]
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(*columns, _JOBS.c.metrics).order_by(_JOBS.c.created)).all()
        records = [{**dict(zip(self._COLUMNS, row[:-1], strict=True)),
                    **json.loads(row[-1] or "{}")} for row in rows]
        table = pd.DataFrame(records, columns=None if records else list(self._COLUMNS))
        table["created"] = pd.to_datetime(table["created"], unit="s", utc=True)
        return table


def as_store(store) -> JobStore:
    """``store`` itself when it is a :class:`JobStore`, else the store at that URL (None: default).

    >>> as_store("sqlite:////tmp/jobs.db")
    JobStore('sqlite:////tmp/jobs.db')
    """
    if isinstance(store, JobStore):
        return store
    return JobStore(store)
