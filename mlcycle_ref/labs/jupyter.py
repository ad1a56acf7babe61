"""JupyterLab for students: nbgrader's instructor tools turned off.

nbgrader installs one JupyterLab extension for everybody. Its Formgrader, Course List and
Create Assignment panels are for instructors and only confuse a student (Create Assignment
even edits a lab's grading metadata); Assignment List and the Validate button stay.
:func:`student_setup` disables the three in the user's own JupyterLab settings, the same
``page_config.json`` that ``jupyter labextension disable --level=user`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:create-assignment")


def student_setup(config_dir=None) -> Path:
    """Disable nbgrader's instructor plugins for this user; return the settings file written.

    ``config_dir`` is the Jupyter configuration folder, by default the user's
    (``jupyter --config-dir``). Other settings in the file are kept; running it again
    changes nothing.

    >>> import tempfile
    >>> path = student_setup(tempfile.mkdtemp())
    >>> sorted(json.loads(path.read_text())["disabledExtensions"])[0]
    '@jupyter/nbgrader:course-list'
    """
    if config_dir is None:
        from jupyter_core.paths import jupyter_config_dir

        config_dir = jupyter_config_dir()
    path = Path(config_dir) / "labconfig" / "page_config.json"
    settings = json.loads(path.read_text()) if path.is_file() else {}
    for key in ("disabledExtensions", "lockedExtensions"):
        settings.setdefault(key, {}).update(dict.fromkeys(INSTRUCTOR_PLUGINS, True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path
