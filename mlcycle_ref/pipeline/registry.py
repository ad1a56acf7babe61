"""The model registry: model groups and numbered versions with metrics and an approval
status, in a database named by a URL."""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, case, func, select
from sqlalchemy.exc import IntegrityError

from mlcycle_ref import storage
from mlcycle_ref.errors import NotFound

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
MODEL_FILE, MODEL_INFO = "model.joblib", "model.json"


def _plain(value):
    """NumPy scalars as Python values, so that they go into JSON."""
    return value.item() if hasattr(value, "item") else value


def load_model(model_uri) -> object:
    """The fitted pipeline stored in a model folder (a training step's output).

    ``model_uri`` is the folder's path; it must hold ``model.joblib``.

    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = joblib.dump(DummyClassifier().fit([[0], [1], [2]], ["a", "b", "b"]),
    ...                 folder / MODEL_FILE)
    >>> load_model(folder).predict([[7]]).tolist()
    ['b']
    >>> load_model(folder.parent)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...: no model.joblib; is this a training step's model?
    """
    folder = Path(model_uri)
    if not (folder / MODEL_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {MODEL_FILE}; is this a training step's model?")
    return joblib.load(folder / MODEL_FILE)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model group.

    ``group`` and ``version`` (counted from 1 within the group) identify it;
    ``approval_status`` is one of ``APPROVAL_STATUSES``; ``model_uri`` is the folder
    holding the fitted model; ``metrics`` the scores it was registered with;
    ``description`` free text for people; ``digest`` identifies the training that made it
    (registering the same digest again gives this version back); ``created`` and
    ``updated`` are Unix times in seconds.

    >>> import tempfile
    >>> from sklearn.dummy import DummyRegressor
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = joblib.dump(DummyRegressor().fit([[0], [1]], [1.0, 3.0]), folder / MODEL_FILE)
    >>> version = ModelRegistry().register("prices", folder, metrics={"rmse": 1.0})
    >>> version.group, version.version, version.approval_status
    ('prices', 1, 'PendingManualApproval')
    >>> version.load().predict([[5]]).tolist()
    [2.0]
    """

    group: str
    version: int
    approval_status: str
    model_uri: str
    metrics: dict
    description: str
    digest: str | None
    created: float
    updated: float

    def load(self):
        """The fitted model of this version."""
        return load_model(self.model_uri)


_METADATA = MetaData()
_GROUPS = Table("model_groups", _METADATA, Column("name", String, primary_key=True),
                Column("description", Text), Column("created", Float))
_VERSIONS = Table(
    "model_versions", _METADATA,
    Column("group_name", String, primary_key=True), Column("version", Integer, primary_key=True),
    Column("approval_status", String, nullable=False), Column("model_uri", Text, nullable=False),
    Column("metrics", Text), Column("description", Text), Column("digest", String),
    Column("created", Float), Column("updated", Float),
)


class ModelRegistry:
    """Model groups and their numbered versions with metrics and approval status.

    ``url`` is any SQLAlchemy URL (see :mod:`mlcycle_ref.storage`): by default the SQLite
    file ``registry.db`` in ``data_dir()``, or a PostgreSQL database a team shares.

    >>> import os, tempfile
    >>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
    >>> registry = ModelRegistry()
    >>> registry.register("churn", "/models/a", metrics={"roc_auc": 0.81}).version
    1
    >>> registry.update_status("churn", 1, "Approved").approval_status
    'Approved'
    >>> registry.approved("churn").metrics
    {'roc_auc': 0.81}
    >>> registry.register("churn", "/models/b", metrics={"roc_auc": 0.79}).version
    2
    >>> registry.get("churn").model_uri  # the latest version
    '/models/b'
    >>> registry.versions("churn")[["version", "approval_status", "roc_auc"]].values.tolist()
    [[1, 'Approved', 0.81], [2, 'PendingManualApproval', 0.79]]
    >>> registry.create_group("fraud", "card payments flagged for review")
    >>> registry.groups()[["group", "versions", "latest_approved"]].values.tolist()
    [['churn', 2, 1.0], ['fraud', 0, nan]]
    """

    def __init__(self, url: str | None = None):
        self.url = storage.store_url(url, "registry.db", "registry")
        self._engine = storage.open_engine(self.url, _METADATA)

    def __repr__(self) -> str:
        return f"ModelRegistry({self.url!r})"

    def create_group(self, name: str, description: str = "") -> None:
        """Create the model group ``name`` (letters, digits, '_' and '-') with a
        ``description`` for people; an existing group is left as it is."""
        if not _NAME.match(str(name)):
            raise ValueError(f"model group name {name!r}: use letters, digits, '_' and '-'")
        with contextlib.suppress(IntegrityError), self._engine.begin() as connection:
            connection.execute(_GROUPS.insert().values(name=name, description=description,
                                                       created=time.time()))

    def register(self, group: str, model_uri, *, metrics: dict | None = None,
                 approval_status: str = "PendingManualApproval", description: str = "",
                 digest: str | None = None) -> ModelVersion:
        """Add the next version to ``group`` (created when new) and return it.

        ``model_uri`` is where the fitted model is (a training step's model folder);
        ``metrics``, ``approval_status``, ``description`` and ``digest`` are stored as the
        :class:`ModelVersion` fields of those names. With a ``digest`` already registered in
        the group, the existing version is returned.
        """
        _check_status(approval_status)
        self.create_group(group)
        in_group = _VERSIONS.c.group_name == group
        while True:
            now = time.time()
            try:
                with self._engine.begin() as connection:
                    if digest is not None:
                        known = connection.execute(select(_VERSIONS.c.version).where(
                            in_group, _VERSIONS.c.digest == digest)).scalar()
                        if known is not None:
                            return self.get(group, known)
                    latest = connection.execute(
                        select(func.coalesce(func.max(_VERSIONS.c.version), 0)).where(in_group)
                    ).scalar()
                    connection.execute(_VERSIONS.insert().values(
                        group_name=group, version=latest + 1, approval_status=approval_status,
                        model_uri=str(model_uri), description=description, digest=digest,
                        metrics=json.dumps(metrics or {}, default=_plain),
                        created=now, updated=now))
                return self.get(group, latest + 1)
            except IntegrityError:
                continue  # another writer took this number first: count again

    def get(self, group: str, version: int | None = None) -> ModelVersion:
        """A version of ``group``; the latest one when ``version`` is None."""
        query = select(_VERSIONS).where(_VERSIONS.c.group_name == group)
        if version is not None:
            query = query.where(_VERSIONS.c.version == int(version))
        with self._engine.connect() as connection:
            row = connection.execute(query.order_by(_VERSIONS.c.version.desc())).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            groups = self.groups()["group"].tolist()
            raise NotFound(f"no {which} of model group {group!r} in {self.url}; "
                           f"groups: {groups}")
        return _as_version(row)

    def approved(self, group: str) -> ModelVersion | None:
        """The newest Approved version of ``group`` - the one to deploy - or None."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_VERSIONS).where(_VERSIONS.c.group_name == group,
                                        _VERSIONS.c.approval_status == "Approved")
                .order_by(_VERSIONS.c.version.desc())).first()
        return None if row is None else _as_version(row)

    def update_status(self, group: str, version: int, approval_status: str) -> ModelVersion:
        """Set ``approval_status`` of version ``version`` of ``group``: approve or reject it,
        or send it back to PendingManualApproval. Returns the updated version."""
        _check_status(approval_status)
        self.get(group, version)
        with self._engine.begin() as connection:
            connection.execute(_VERSIONS.update().where(
                _VERSIONS.c.group_name == group, _VERSIONS.c.version == int(version))
                .values(approval_status=approval_status, updated=time.time()))
        return self.get(group, version)

    def groups(self) -> pd.DataFrame:
        """One row per model group: its description, number of versions, newest approved."""
        approved = case((_VERSIONS.c.approval_status == "Approved", _VERSIONS.c.version))
        query = (select(_GROUPS.c.name, _GROUPS.c.description, func.count(_VERSIONS.c.version),
                        func.max(approved))
                 .select_from(_GROUPS.outerjoin(_VERSIONS,
                                                _VERSIONS.c.group_name == _GROUPS.c.name))
                 .group_by(_GROUPS.c.name, _GROUPS.c.description).order_by(_GROUPS.c.name))
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return pd.DataFrame([tuple(row) for row in rows],
                            columns=["group", "description", "versions", "latest_approved"])

    def versions(self, group: str) -> pd.DataFrame:
        """Every version of ``group``, oldest first, with one column per metric."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(_VERSIONS).where(_VERSIONS.c.group_name == group)
                                      .order_by(_VERSIONS.c.version)).all()
        records = []
        for row in rows:
            version = _as_version(row)
            records.append({"version": version.version, "approval_status":
                            version.approval_status, **version.metrics,
                            "created": pd.Timestamp(version.created, unit="s", tz="UTC"),
                            "model_uri": version.model_uri})
        return pd.DataFrame(records, columns=None if records else
                            ["version", "approval_status", "created", "model_uri"])


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise ValueError(f"approval status must be one of {APPROVAL_STATUSES}, got {status!r}")


def _as_version(row) -> ModelVersion:
    values = row._mapping
    return ModelVersion(group=values["group_name"], version=values["version"],
                        approval_status=values["approval_status"],
                        model_uri=values["model_uri"], metrics=json.loads(values["metrics"]),
                        description=values["description"], digest=values["digest"],
                        created=values["created"], updated=values["updated"])
