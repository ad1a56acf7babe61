"""Inside a grading sandbox: fill the working folder, set the limits, then become the kernel.

bubblewrap starts this file by its path (``python -I .../_launcher.py``), so it imports the
standard library and nothing of this package: it costs a Python start-up, not the imports of
nbformat, nbclient and nbgrader. It reads one JSON document on standard input (see
:func:`mlcycle_ref.course.sandbox.payload`), writes the submission's files and the kernel's
connection file, sets the hard resource limits, drops root when the grader runs as root, and
replaces itself with the kernel. The executor stays outside, in the grading worker, and talks
to the kernel over ZeroMQ ``ipc`` sockets that the kernel makes in the sandbox's private
``/tmp``.
"""

import base64
import json
import os
import resource
import sys
from pathlib import Path


def unpack(files: dict[str, str], base: Path, uid: int | None) -> None:
    """Write ``files`` (relative path: base64 bytes) under ``base``, owned by ``uid``."""
    for relative, content in files.items():
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"{relative}: not a path inside {base}")
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        (base / path).write_bytes(base64.b64decode(content))
        for depth in range(1, len(path.parts) + 1) if uid is not None else ():
            os.chown(base.joinpath(*path.parts[:depth]), uid, uid, follow_symlinks=False)


def limit(rlimits: dict[str, int]) -> None:
    """Set each limit, soft and hard alike, on this process and so on all it starts."""
    for name, value in rlimits.items():
        number = getattr(resource, name)
        hard = resource.getrlimit(number)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)  # an unprivileged process cannot raise its hard limit
        resource.setrlimit(number, (value, value))


def become(uid: int) -> None:
    """Drop root for ``uid``: no groups, no capabilities, and no way back."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"could not become uid {uid}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError("still able to become root after dropping it")


def main() -> None:
    given = json.loads(sys.stdin.buffer.read())
    uid = given["uid"]
    limit(given["rlimits"])
    unpack(given["files"], Path.cwd(), uid)
    unpack(given["home"], Path(given["home_dir"]), uid)
    if uid is not None:
        os.chown(Path.cwd(), uid, uid)
        become(uid)
    # Nothing the kernel prints reaches the grader's streams; its output goes over ZeroMQ.
    nowhere = os.open(os.devnull, os.O_RDWR)
    for number in (0, 1, 2):
        os.dup2(nowhere, number)
    os.execv(given["argv"][0], given["argv"])


if __name__ == "__main__":
    main()
