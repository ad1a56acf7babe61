"""Where the course keeps a user's data: job store, quiz progress, model registry.

``MLCYCLE_DATA_DIR`` overrides the location (tests point it at a temporary folder);
otherwise the XDG data directory is used.
"""

import os
from pathlib import Path


def data_dir() -> Path:
    """Return the user's mlcycle data folder, creating it when missing.

    >>> data_dir().is_dir()
    True
    """
    configured = os.environ.get("MLCYCLE_DATA_DIR")
    if configured:
        folder = Path(configured)
    else:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        folder = Path(base) / "mlcycle"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


SQLITE_PREFIX = "sqlite:///"


def sqlite_file(url: str | None, default_name: str, what: str) -> tuple[str, Path]:
    """Resolve a storage URL to ``(url, database file)``; None means data_dir() / default_name.

    Stores are named by URL, as Optuna names its storages, so that another backend can take
    the same place later; today only SQLite files are understood. ``what`` names the store in
    the error message.

    >>> sqlite_file("sqlite:////tmp/jobs.db", "jobs.db", "job store")
    ('sqlite:////tmp/jobs.db', PosixPath('/tmp/jobs.db'))
    >>> sqlite_file("postgresql://db/jobs", "jobs.db", "job store")
    Traceback (most recent call last):
    ...
    ValueError: job store URL must look like 'sqlite:///path/to/jobs.db', got 'postgresql://db/jobs'
    """
    url = url or f"{SQLITE_PREFIX}{data_dir() / default_name}"
    if not url.startswith(SQLITE_PREFIX) or len(url) == len(SQLITE_PREFIX):
        raise ValueError(
            f"{what} URL must look like '{SQLITE_PREFIX}path/to/{default_name}', got {url!r}")
    path = Path(url[len(SQLITE_PREFIX):])
    path.parent.mkdir(parents=True, exist_ok=True)
    return url, path
