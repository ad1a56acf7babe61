"""Where the course keeps a user's data (job store, quiz progress, model registry) and its files.

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
