"""Grading one notebook with its kernel inside a bubblewrap sandbox: what student code may see,
reach and use.

Autograde runs code written by students, so each submission's kernel runs in a sandbox made by
bubblewrap (the ``bwrap`` command Flatpak uses) instead of as the instructor. Only the kernel:
the executor stays in the grading worker, where nbformat, nbclient and nbgrader are already
imported, and starts the kernel through :func:`provisioner` instead of as a plain process. A
small launcher (``course/_launcher.py``, the standard library only) receives the
scratch folder's files on its standard input, sets the limits and becomes the kernel. The
kernel makes its ZeroMQ sockets as ``ipc`` files in the sandbox's private ``/tmp``, which the
worker reaches through ``/proc/<kernel pid>/root``; nothing of the host is shared with the
sandbox for it. Only the worker's parent writes the gradebook.

Inside the sandbox

* the file system holds the system folders (``/usr``, ``/etc``), the Python environment and
  the course package, all read-only. The working folder (at the scratch folder's path, with a
  copy of its files) and ``/tmp`` are private in-memory folders of limited size, so student
  code writes nothing on the host's disks. Everything else of the host is absent: the course
  folder, the gradebook, the lab sources, other submissions, home folders, the host's ``/tmp``.
  Folders an instructor names in ``hide`` are covered even when they lie inside those above;
* the network is a namespace of its own with only a loopback interface: no route out, and
  the host's 127.0.0.1 is another machine's;
* processes live in a PID namespace of their own, in a new session, and die with the sandbox;
* the user is unprivileged: uid 65534 in a new user namespace, or, when grading runs as root,
  a fresh uid of its own with no capabilities (root mapped into a namespace would still own
  every root file and escape the process limit);
* the environment holds only the names in :data:`KEPT_ENV`, a PATH to the course environment
  and HOME set to the private ``/tmp``;
* :class:`Limits` cap memory, processes, file size and CPU time as hard resource limits that
  the launcher sets before it becomes the kernel, so student code cannot raise them.

What the kernel sends back is read by the executor outside, which student code cannot reach:
it can print what it likes in its own cells, as in any kernel, but not rewrite the notebook.

>>> limits = Limits(memory_mb=512, processes=64)
>>> limits.rlimits()["RLIMIT_NPROC"], limits.rlimits()["RLIMIT_DATA"] // 2**20
(64, 512)
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlcycle_ref.course.folder import CONFIG_FILE, CourseError

BWRAP = "bwrap"
INSTALL = ("install bubblewrap (Debian or Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
           "`sudo dnf install bubblewrap`), or grade without a sandbox with --no-sandbox")
#: The uid student code runs as inside a user namespace (``nobody``).
NOBODY = 65534
#: Grading as root: each sandbox gets a fresh uid from this range, unused by real accounts.
ROOT_UIDS = (1_900_000_000, 100_000_000)
#: Host folders the sandbox sees, read-only.
SYSTEM = ("/usr", "/etc")
#: Top-level names that are links into /usr on merged-/usr systems, folders on others.
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: The only variables of the grader's environment that reach student code.
KEPT_ENV = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_MESSAGES", "TZ",
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS",
            # Hidden tests draw their data from it (mlcycle_ref.labs.secret).
            "MLCYCLE_COURSE_SECRET")
HOME = "/tmp"
#: Where the kernel reads its connection file and makes its sockets, inside the sandbox.
CONNECTION = f"{HOME}/kernel.json"
IPC = f"{HOME}/kernel-ipc"
MIB = 2**20
LIMIT_NAMES = ("memory_mb", "processes", "file_mb", "cpu_seconds")


@dataclass(frozen=True)
class Limits:
    """What one submission may use; each becomes a hard resource limit of every process.

    ``memory_mb`` caps each process's data segment (``RLIMIT_DATA``: what malloc, NumPy and
    pandas allocate), so an allocation past it fails with ``MemoryError`` in the cell that
    made it. ``processes`` caps the processes and threads of the sandbox's user
    (``RLIMIT_NPROC``), which stops a fork bomb. ``file_mb`` caps the size of any one file
    written (``RLIMIT_FSIZE``: a bigger write fails with "File too large"); each of the two
    folders it can write, its working folder and ``/tmp``, holds twice that ("No space left on
    device" past it). ``cpu_seconds`` caps the CPU time of each process (``RLIMIT_CPU``).

    >>> Limits(processes=0)
    Traceback (most recent call last):
    ...
    mlcycle_ref.course.folder.CourseError: sandbox limit processes must be a whole ...
    """

    memory_mb: int = 4096
    processes: int = 256
    file_mb: int = 1024
    cpu_seconds: int = 1200

    def __post_init__(self):
        for name in LIMIT_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"sandbox limit {name} must be a whole number above 0, "
                                  f"got {value!r}")

    def rlimits(self) -> dict[str, int]:
        """The resource limits by name, in the units ``setrlimit`` takes.

        Memory and file size go in bytes, CPU time in seconds; core dumps are always off.

        >>> rlimits = Limits(memory_mb=512, cpu_seconds=60).rlimits()
        >>> rlimits["RLIMIT_DATA"] == 512 * 2**20, rlimits["RLIMIT_CPU"], rlimits["RLIMIT_CORE"]
        (True, 60, 0)
        """
        return {"RLIMIT_DATA": self.memory_mb * MIB, "RLIMIT_NPROC": self.processes,
                "RLIMIT_FSIZE": self.file_mb * MIB, "RLIMIT_CPU": self.cpu_seconds,
                "RLIMIT_CORE": 0}


@dataclass(frozen=True)
class Sandbox:
    """How to sandbox a submission: its limits and which host folders to show or cover.

    ``hide`` lists folders that must stay invisible even where they lie inside a folder the
    sandbox shows (the course folder, the lab sources, the gradebook's folder); ``expose``
    lists extra folders student code may read, such as a shared dataset folder.
    ``limits`` are the resource limits every process of the sandbox gets (see ``Limits``).

    >>> box = Sandbox(Limits(memory_mb=1024), hide=("/srv/ml101",), expose=("/srv/datasets",))
    >>> box.limits.memory_mb, box.limits.processes, box.expose
    (1024, 256, ('/srv/datasets',))
    """

    limits: Limits = field(default_factory=Limits)
    hide: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()


def course_sandbox(course, **overrides) -> Sandbox:
    """The sandbox that grades ``course``: its limits, and its own folders covered.

    Limits come from ``c.Sandbox.<name> = value`` lines in the course's ``nbgrader_config.py``
    (names as in :class:`Limits`), then from ``overrides`` that are not None (the command
    line's options). The course folder, the lab sources and the gradebook's folder are hidden.
    ``course`` needs only its ``root``, ``source`` and ``db_url``.

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> with tempfile.TemporaryDirectory() as root:
    ...     _ = (Path(root) / CONFIG_FILE).write_text("c.Sandbox.cpu_seconds = 60")
    ...     course = SimpleNamespace(root=root, source=f"{root}/source",
    ...                              db_url=f"sqlite:///{root}/gradebook.db")
    ...     box = course_sandbox(course, memory_mb=2048, processes=None)
    ...     box.hide == (root, f"{root}/source", root)
    True
    >>> box.limits
    Limits(memory_mb=2048, processes=256, file_mb=1024, cpu_seconds=60)
    """
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(course.root) / CONFIG_FILE
    section = dict(PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config()
                   .get("Sandbox", {})) if path.is_file() else {}
    unknown = sorted(set(section) - set(LIMIT_NAMES))
    if unknown:
        raise CourseError(f"{path}: c.Sandbox.{unknown[0]} is not a sandbox setting; the "
                          f"settings are {', '.join(LIMIT_NAMES)}")
    try:
        limits = Limits(**section)
    except CourseError as error:
        raise CourseError(f"{path}: {error}") from None
    chosen = {name: value for name, value in overrides.items() if value is not None}
    limits = Limits(**{name: chosen.get(name, getattr(limits, name)) for name in LIMIT_NAMES})
    hidden = [str(course.root), str(course.source)]
    if course.db_url.startswith("sqlite:///"):
        hidden.append(str(Path(course.db_url[len("sqlite:///"):]).parent))
    return Sandbox(limits, hide=tuple(hidden))


def _namespaces(privileged: bool) -> list[str]:
    common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
              "--unshare-cgroup-try", "--hostname", "grading", "--die-with-parent",
              "--new-session"]
    if privileged:  # the launcher drops to a fresh uid itself (see the module's notes)
        return common
    return ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns",
            *common]


@functools.cache
def problem() -> str:
    """Why a sandbox cannot be made on this machine, or "" when it can.

    It tries one: bubblewrap may be missing, or installed where user namespaces are off.
    """
    if not sys.platform.startswith("linux"):
        return (f"bubblewrap sandboxes need Linux and this is {sys.platform}; grade on a Linux "
                "machine (or a Dask cluster of them), or with --no-sandbox")
    if shutil.which(BWRAP) is None:
        return f"the `{BWRAP}` command was not found on PATH; {INSTALL}"
    argv = [BWRAP, *_namespaces(os.geteuid() == 0), "--ro-bind", "/", "/", "--proc", "/proc",
            "--dev", "/dev", "true"]
    try:
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`{BWRAP}` could not be run ({error}); {INSTALL}"
    if probe.returncode:
        detail = probe.stderr.strip() or f"exit code {probe.returncode}"
        return (f"`{BWRAP}` is installed but cannot make a sandbox here ({detail}). It needs "
                "unprivileged user namespaces: allow them (sysctl user.max_user_namespaces, "
                "kernel.unprivileged_userns_clone, or the container's settings), or grade "
                "with --no-sandbox")
    return ""


def require() -> None:
    """Raise :class:`CourseError` saying what is missing when no sandbox can be made here."""
    reason = problem()
    if reason:
        raise CourseError(f"cannot grade in a sandbox: {reason}")


def _inside(path: str, folders) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def python_paths() -> list[str]:
    """The folders the kernel needs beyond the system: the Python environment and this package.

    An editable install keeps the package in its repository, of which only the package folder
    is shown. Folders inside another one listed, or inside the system folders, are left out.

    >>> import mlcycle_ref
    >>> package = str(Path(mlcycle_ref.__file__).parent)
    >>> paths = python_paths()
    >>> any(package == path or package.startswith(path + "/") for path in paths)
    True
    >>> any(path == "/usr" or path.startswith("/usr/") for path in paths)
    False
    """
    import mlcycle_ref

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(mlcycle_ref.__file__).parent)}
    paths |= {os.path.realpath(path) for path in paths}
    return _outermost(path for path in paths
                      if os.path.isdir(path) and not _inside(path, SYSTEM))


def _outermost(paths) -> list[str]:
    """``paths`` without those inside another of them, sorted."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not _inside(path, kept):
            kept.append(path)
    return kept


def command(folder, argv: list[str], sandbox: Sandbox, *, privileged: bool,
            exposed: list[str]) -> list[str]:
    """The ``bwrap`` command that runs ``argv`` in ``folder``, sandboxed as ``sandbox`` says.

    ``exposed`` folders are shown read-only. No host folder is writable: at ``folder``'s path
    and at ``/tmp`` are private in-memory folders of twice ``sandbox.limits.file_mb`` MiB.

    >>> argv = command("/tmp/grading/s001", ["python", "run.py"], Sandbox(hide=("/srv",)),
    ...                privileged=False, exposed=["/srv/venv"])
    >>> argv[:4]
    ['bwrap', '--unshare-user', '--uid', '65534']
    >>> argv[-4:]
    ['--chdir', '/tmp/grading/s001', 'python', 'run.py']
    >>> "--unshare-net" in argv, "--bind" in argv, argv[argv.index("--chdir") - 1]
    (True, False, '/tmp/grading/s001')
    >>> argv[argv.index("/srv/venv") - 1]
    '--ro-bind'
    """
    folder = os.path.abspath(folder)
    argv_out = [BWRAP, *_namespaces(privileged)]
    for path in SYSTEM:
        if os.path.isdir(path):
            argv_out += ["--ro-bind", path, path]
    for path in SYSTEM_LINKS:
        if os.path.islink(path):
            argv_out += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv_out += ["--ro-bind", path, path]
    size = str(2 * sandbox.limits.file_mb * MIB)
    argv_out += ["--dev", "/dev", "--proc", "/proc", "--size", size, "--tmpfs", "/tmp",
                 "--chmod", "1777", "/tmp"]
    made: set[str] = set()
    shown = _outermost([*exposed, *map(os.path.abspath, sandbox.expose)])
    for path in shown:
        argv_out += _parents(path, made) + ["--ro-bind", path, path]
    for path in _outermost(map(os.path.abspath, sandbox.hide)):
        if _inside(path, shown) and os.path.isdir(path):
            argv_out += ["--tmpfs", path]
    argv_out += _parents(folder, made) + ["--size", size, "--tmpfs", folder, "--chdir", folder]
    return argv_out + list(argv)


def _parents(path: str, made: set[str]) -> list[str]:
    """Create the folders above ``path`` open to all: bwrap would make them private to root."""
    argv = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name in ("/", "/tmp") or name in made or _inside(name, SYSTEM):
            continue
        made.add(name)
        argv += ["--perms", "0755", "--dir", name]
    return argv


def environment() -> dict[str, str]:
    """The environment student code sees: an allow-list, nothing else of the grader's.

    When this package is not installed in the Python environment (a source checkout on
    ``PYTHONPATH``, an editable install run from another folder), PYTHONPATH points at the
    folder holding it, where the sandbox shows nothing else.

    >>> env = environment()
    >>> env["HOME"], env["TMPDIR"], env["PATH"].endswith("/usr/local/bin:/usr/bin:/bin")
    ('/tmp', '/tmp', True)
    >>> set(env) <= {*KEPT_ENV, "PATH", "HOME", "TMPDIR", "PYTHONPATH"}
    True
    """
    import mlcycle_ref

    kept = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin",
                            "/bin"])
    env = {**kept, "PATH": path, "HOME": HOME, "TMPDIR": "/tmp"}
    holder = str(Path(mlcycle_ref.__file__).parent.parent)
    if not _inside(holder, [sys.prefix]):
        env["PYTHONPATH"] = holder
    return env


def _files(folder: Path) -> dict[str, str]:
    """The files under ``folder`` by relative path, their bytes in base64 (for JSON)."""
    return {path.relative_to(folder).as_posix(): base64.b64encode(path.read_bytes()).decode()
            for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()}


def _font_cache() -> dict[str, str]:
    """The grader's matplotlib font list, as files for the sandbox's HOME (see :func:`_files`).

    Without it the first plot of every sandboxed kernel scans the system's fonts again: a
    few seconds per submission on a busy machine.
    """
    folder = (Path(os.environ["MPLCONFIGDIR"]) if os.environ.get("MPLCONFIGDIR") else
              Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib")
    return {f".cache/matplotlib/{path.name}": base64.b64encode(path.read_bytes()).decode()
            for path in sorted(folder.glob("fontlist-v*.json")) if path.is_file()}


def payload(folder: Path, kernel: list[str], connection: bytes, limits: Limits,
            uid: int | None) -> bytes:
    """What the launcher reads on its standard input (``course/_launcher.py``).

    The kernel's command ``kernel``, reading its connection file at :data:`CONNECTION`; the
    files of ``folder`` and, for HOME, the font cache and the ``connection`` file's content;
    the resource limits ``limits``; and the uid ``uid`` to become (None: stay the namespace's
    unprivileged user). ``connection`` is the bytes of the kernel's connection file.

    >>> import json, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "lab1.ipynb").write_text("{}")
    ...     sent = json.loads(payload(Path(folder), ["python", "-m", "ipykernel", "-f", CONNECTION],
    ...                               b"{}", Limits(processes=64), None))
    >>> sent["files"], sent["home"]["kernel.json"], sent["uid"], sent["rlimits"]["RLIMIT_NPROC"]
    ({'lab1.ipynb': 'e30='}, 'e30=', None, 64)
    """
    home = {**_font_cache(), Path(CONNECTION).name: base64.b64encode(connection).decode()}
    return json.dumps({"argv": kernel, "files": _files(folder), "home": home, "home_dir": HOME,
                       "rlimits": limits.rlimits(), "uid": uid}).encode()


def _read_all(descriptor: int) -> bytes:
    chunks = []
    while chunk := os.read(descriptor, 65536):
        chunks.append(chunk)
    os.close(descriptor)
    return b"".join(chunks)


def start(folder, kernel: list[str], connection: bytes, sandbox: Sandbox,
          env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """Start ``kernel`` in a sandbox working in a copy of ``folder``: bwrap's process, and the
    kernel's process id as this machine sees it.

    The kernel runs :data:`CONNECTION`; bwrap is the leader of a process group of its own,
    and killing it takes down the sandbox with everything in it. Raises :class:`CourseError`
    with bubblewrap's message when the sandbox cannot be made.

    ``connection`` is the content of the connection file the kernel manager wrote, handed to
    the kernel as ``CONNECTION`` inside; ``env`` is the environment bwrap and the kernel start
    with (``environment()`` gives the one student code should see).
    """
    require()
    folder = Path(folder).resolve()
    privileged = os.geteuid() == 0
    uid = ROOT_UIDS[0] + secrets.randbelow(ROOT_UIDS[1]) if privileged else None
    launcher = [sys.executable, "-I", str(Path(__file__).with_name("_launcher.py"))]
    argv = command(folder, launcher, sandbox, privileged=privileged, exposed=python_paths())
    info, info_out = os.pipe()
    argv[1:1] = ["--info-fd", str(info_out)]
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=env, pass_fds=(info_out,),
                                   start_new_session=True)
    finally:
        os.close(info_out)
    try:
        process.stdin.write(payload(folder, kernel, connection, sandbox.limits, uid))
        process.stdin.close()
    except BrokenPipeError:
        pass  # bwrap failed: its message is read below
    found = _read_all(info)
    if not found:
        process.wait()
        detail = " ".join(process.stderr.read().decode(errors="replace").split())
        raise CourseError(f"the sandbox could not be made (exit code {process.returncode}): "
                          f"{detail or 'no message'}")
    return process, json.loads(found)["child-pid"]


@functools.cache
def provisioner_class():
    """jupyter_client's local provisioner, starting the kernel in a sandbox (see :func:`start`).

    Its kernel binds ``ipc`` sockets at :data:`IPC` inside the sandbox, and the executor
    reaches them from outside through ``/proc/<kernel pid>/root``: nothing is shared but the
    sockets, and the network namespace needs no route. An interrupt goes to the kernel's
    process group inside; killing the kernel kills bwrap, and with it the sandbox.
    """
    from jupyter_client.provisioning import LocalProvisioner

    class SandboxProvisioner(LocalProvisioner):
        sandbox: Sandbox = Sandbox()
        kernel_pid: int | None = None

        async def pre_launch(self, **kwargs):
            self.parent.transport, self.parent.ip = "ipc", IPC
            return await super().pre_launch(**kwargs)

        async def launch_kernel(self, cmd: list[str], **kwargs):
            written = os.path.realpath(self.parent.connection_file)
            kernel = [CONNECTION if arg == written else arg for arg in cmd]
            self.process, self.kernel_pid = start(
                kwargs["cwd"], kernel, Path(written).read_bytes(), self.sandbox, kwargs["env"])
            self.pid = self.pgid = self.process.pid
            self.cwd = kwargs["cwd"]
            return {**self.connection_info, "ip": f"/proc/{self.kernel_pid}/root{IPC}"}

        async def send_signal(self, signum: int) -> None:
            if signum == signal.SIGINT and self.kernel_pid and await self.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.kernel_pid, signum)
                return
            await super().send_signal(signum)

    return SandboxProvisioner


def provisioner(manager, sandbox: Sandbox):
    """A ``provisioner_class()`` for the kernel manager ``manager``, sandboxed as ``sandbox``.

    Making one starts nothing: the kernel manager calls it when it starts its kernel.

    >>> from jupyter_client.manager import KernelManager
    >>> made = provisioner(KernelManager(kernel_name="python3"), Sandbox(Limits(processes=64)))
    >>> type(made).__name__, made.sandbox.limits.processes
    ('SandboxProvisioner', 64)
    """
    made = provisioner_class()(kernel_id=manager.kernel_id, kernel_spec=manager.kernel_spec,
                               parent=manager)
    made.sandbox = sandbox
    return made
