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
