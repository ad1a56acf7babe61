"""A throwaway PostgreSQL server for the tests, started from Debian's ``postgresql`` package.

:func:`postgres_server` makes a temporary folder, creates a database cluster in it with
``initdb`` (every connection trusted: it listens on 127.0.0.1 only and lives for one test
session), starts it with ``pg_ctl`` on a free port of 127.0.0.1 with its Unix socket in the
same folder, waits until it accepts connections and yields a :class:`PostgresServer`. When
the block ends - normally or with an error - the server is stopped and the folder deleted.
PostgreSQL refuses to run as root, so a root user runs the programs as the ``postgres``
system user, who owns the folder.

Use it in a fixture::

    @pytest.fixture(scope="session")
    def postgres():
        with postgres_server() as server:
            yield server

    def test_something(postgres):
        url = postgres.create_database("gradebook")   # postgresql+psycopg://...
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where Debian's ``postgresql`` package puts the server programs (one folder per version).
SERVER_FOLDERS = "/usr/lib/postgresql/*/bin"
PROGRAMS = ("initdb", "pg_ctl")
SYSTEM_USER = "postgres"
SUPERUSER = "postgres"
#: A test server need not survive a power cut: skipping the disk flushes makes it faster.
SPEED_SETTINGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(RuntimeError):
    """The server programs are missing or the server did not start; the message says why."""


def _version(folder: str) -> int:
    name = Path(folder).parent.name
    return int(name) if name.isdigit() else 0


#: What to do when :func:`server_folder` finds nothing.
MISSING = (f"the PostgreSQL server programs ({', '.join(PROGRAMS)}) are neither in "
           f"{SERVER_FOLDERS} nor on PATH: install Debian's `postgresql` package "
           "(apt-get install postgresql; .ci/run does this)")


def server_folder() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: the newest Debian version, else PATH's."""
    for folder in sorted(glob.glob(SERVER_FOLDERS), key=_version, reverse=True):
        if all(os.access(Path(folder) / name, os.X_OK) for name in PROGRAMS):
            return Path(folder)
    found = [shutil.which(name) for name in PROGRAMS]
    return Path(found[0]).parent if all(found) else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its port on 127.0.0.1 and the folder of its data, socket and log."""

    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` (psycopg 3 driver), as Optuna and nbgrader take it.

        >>> PostgresServer(5433, Path("/tmp/pg")).url("course")
        'postgresql+psycopg://postgres@127.0.0.1:5433/course'
        """
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        """A psycopg connection to ``database`` in autocommit mode; use it in a ``with`` block."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                               dbname=database, autocommit=True)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _run(command: list, what: str, log: Path | None = None) -> None:
    """Run a server program as the system user when we are root; fail with its output."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", SYSTEM_USER, "--", *command]
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        details = done.stdout + done.stderr
        if log is not None and log.is_file():
            details += f"\n--- {log.name} ---\n{log.read_text()}"
        raise PostgresUnavailable(f"{what} failed (exit code {done.returncode}):\n{details}")


@contextlib.contextmanager
def postgres_server():
    """Start a throwaway PostgreSQL server; stop it and delete its files when the block ends."""
    programs = server_folder()
    if programs is None:
        raise PostgresUnavailable(MISSING)
    folder = Path(tempfile.mkdtemp(prefix="mlcycle-postgres-"))
    data, log = folder / "data", folder / "server.log"
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, SYSTEM_USER, SYSTEM_USER)
        _run([programs / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "--no-sync",
              "--encoding=UTF8", "--locale=C"], "initdb")
        port = free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {port} "
                   f"-c unix_socket_directories='{folder}' {SPEED_SETTINGS}")
        started = True  # from here on a half-started server is stopped too
        _run([programs / "pg_ctl", "start", "-D", data, "-l", log, "-w", "-t", "60",
              "-o", options], "pg_ctl start", log)
        yield PostgresServer(port, folder)
    finally:
        if started:
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                _run([programs / "pg_ctl", "stop", "-D", data, "-m", "immediate", "-w"],
                     "pg_ctl stop")
        shutil.rmtree(folder, ignore_errors=True)
