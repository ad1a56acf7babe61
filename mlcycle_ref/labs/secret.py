"""The course secret: hidden-test data nobody can know before grading, even with the tests read.

The course repository is public, so students can read every hidden test. A hidden test
therefore never holds its data: it draws it with :func:`hidden_rng` from a seed derived from
the course's secret, and computes what to expect from the reference behaviour in
``mlcycle_ref``. Knowing the test's code gives nothing to paste; an answer hard-coded from one
course's hidden data fails in another.

:func:`course_secret` makes the secret (a file in the course folder, which is never released)
and the grader hands it to the kernel in the environment variable ``MLCYCLE_COURSE_SECRET``.
Without it - the instructor trying a solution outside a course - a fixed development secret
is used.

>>> import os
>>> os.environ[ENVIRONMENT] = "course A"
>>> a = hidden_seed("missing-shares")
>>> os.environ[ENVIRONMENT] = "course B"
>>> a == hidden_seed("missing-shares"), a == hidden_seed("sentinel-counts")
(False, False)
>>> del os.environ[ENVIRONMENT]
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

ENVIRONMENT = "MLCYCLE_COURSE_SECRET"
FILE = "course-secret"
DEVELOPMENT = "mlcycle development secret: not a course"


def course_secret(course_dir) -> str:
    """The secret of the course in ``course_dir``, made on first use (readable by its owner only).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> course_secret(folder) == course_secret(folder) != course_secret(tempfile.mkdtemp())
    True
    """
    path = Path(course_dir) / FILE
    if not path.is_file():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(f"{path}: the course secret is empty; delete the file to make a new one")
    return secret


def hidden_seed(name: str) -> int:
    """A seed for the hidden data called ``name``, from the secret of the course being graded.

    >>> hidden_seed("missing-shares") == hidden_seed("missing-shares")
    True
    >>> hidden_seed("missing-shares") == hidden_seed("sentinel-counts")
    False
    """
    secret = os.environ.get(ENVIRONMENT) or DEVELOPMENT
    digest = hashlib.sha256(f"{secret}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def hidden_rng(name: str):
    """A NumPy random generator for the hidden data called ``name`` (see :func:`hidden_seed`).

    A hidden test draws its data from it, so the data are the same in every run of one course:

    >>> first, again = hidden_rng("ages").normal(size=3), hidden_rng("ages").normal(size=3)
    >>> (first == again).all()
    np.True_
    """
    import numpy as np

    return np.random.default_rng(hidden_seed(name))


@contextlib.contextmanager
def in_environment(secret: str | None):
    """Set ``MLCYCLE_COURSE_SECRET`` to ``secret`` while a grader starts its kernels (no change
    for None); the previous value comes back afterwards.

    >>> with in_environment("s3cret"):
    ...     os.environ[ENVIRONMENT]
    's3cret'
    >>> ENVIRONMENT in os.environ
    False
    """
    if secret is None:
        yield
        return
    previous = os.environ.get(ENVIRONMENT)
    os.environ[ENVIRONMENT] = secret
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENVIRONMENT, None)
        else:
            os.environ[ENVIRONMENT] = previous
