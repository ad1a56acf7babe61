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


# --------------------------------------------------------------------------- course files

#: The source tree this module sits in; it holds ``quizzes/``, ``labs/`` and ``solutions/``
#: only when the package runs from a checkout of the course repository.
REPOSITORY = Path(__file__).resolve().parents[1]
#: Where a built wheel keeps the course files it ships (see ``setup.py``): the question banks
#: and the released labs, never the solutions.
PACKAGED = "course_files"
SHIPPED = ("quizzes", "labs")


def course_files(name: str) -> Path:
    """The folder of shipped course files ``name`` ("quizzes" or "labs").

    An installed wheel carries them as package data (read with :mod:`importlib.resources`);
    an editable install or a checkout reads the repository's own folder.

    >>> course_files("quizzes").joinpath("quiz.yml").is_file()
    True
    >>> sorted(path.name for path in course_files("labs").iterdir())[0]
    'lab01_exploration'
    >>> course_files("solutions")
    Traceback (most recent call last):
    ...
    ValueError: 'solutions' is not shipped with the package; shipped: quizzes, labs
    """
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not shipped with the package; shipped: "
                         f"{', '.join(SHIPPED)}")
    from importlib import resources

    packaged = resources.files("mlcycle_ref").joinpath(PACKAGED, name)
    if packaged.is_dir():
        return Path(str(packaged))
    return REPOSITORY / name


def lab_sources() -> Path | None:
    """The instructor's lab sources (``solutions/``) of the repository checkout, or None.

    Installed packages do not carry them: an instructor names the folder explicitly.

    >>> lab_sources().name
    'solutions'
    """
    folder = REPOSITORY / "solutions"
    return folder if folder.is_dir() else None
