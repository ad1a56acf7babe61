"""Where the test suite's CPU time goes: run ``make test``'s pytest and sample every process.

The suite keeps every core busy, so only less CPU makes it faster. While pytest runs, each
process's CPU time is read from ``/proc`` twice a second and filed under what the process
is: notebook kernels, Chromium, the test processes themselves, grading and job workers, Jupyter
Book, PostgreSQL. Processes that live less than a sample are missed. (The operating system's
own total for a process's children is no help here: it counts only the children that each
parent waited for, and test processes leave without waiting.) Run by hand, on an idle machine
(Linux only; it takes as long as the suite):

usage: python bench/suite_cpu.py [PYTEST ARGUMENT ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.5
TICKS = os.sysconf("SC_CLK_TCK")
#: (what a process is, a piece of its command line that says so), first match wins.
KINDS = (
    ("notebook kernels", "ipykernel"),
    ("notebook kernels", "course/_launcher.py"),  # becomes a sandboxed kernel
    ("Chromium", "chrom"),
    ("Playwright driver", "playwright"),
    ("test processes (pytest)", "sys.stdin.readline"),  # an xdist worker
    ("test processes (pytest)", "pytest"),
    ("worker processes (grading, jobs, Dask)", "multiprocessing"),
    ("Jupyter Book", "jupyter-book"),
    ("PostgreSQL", "postgres"),
    ("Node.js (quiz checker)", "node"),
)


def kind_of(command: str) -> str:
    """What a process is, from its command line.

    >>> kind_of("python -m ipykernel_launcher -f kernel.json")
    'notebook kernels'
    >>> kind_of("/usr/lib/chromium/chromium --type=renderer")
    'Chromium'
    >>> kind_of("sleep 1")
    'other'
    """
    return next((kind for kind, mark in KINDS if mark in command), "other")


def processes() -> dict[tuple[int, int], tuple[str, float, int]]:
    """Every live process: (pid, start tick) -> (command line, CPU seconds so far, parent)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:  # it ended while being read
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        found[int(entry.name), int(fields[19])] = (command, cpu, int(fields[1]))
    return found


def main(argv: list[str]) -> int:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    started = time.monotonic()
    suite = subprocess.Popen([sys.executable, "-m", "pytest", "-n", "auto", "--dist", "loadfile",
                              "-q", *argv], cwd=ROOT, env=env)
    seen: dict[tuple[int, int], tuple[str, float]] = {}
    ours = {suite.pid}  # the suite and its descendants, not the rest of the machine
    while suite.poll() is None:
        for key, (command, cpu, parent) in sorted(processes().items(), key=lambda i: i[0][1]):
            if key in seen or parent in ours:  # oldest first: parents before children
                ours.add(key[0])
                # Keep the first command line seen: a sandbox's launcher execs a kernel.
                seen[key] = (seen.get(key, (command,))[0], cpu)
        time.sleep(SAMPLE_SECONDS)
    wall = time.monotonic() - started
    by_kind, count = Counter(), Counter()
    for command, cpu in seen.values():
        kind = kind_of(command)
        by_kind[kind] += cpu
        count[kind] += 1
    total = sum(by_kind.values())
    print(f"\npytest exited with {suite.returncode} after {wall:.0f} s; {total:.0f} s of CPU, "
          f"{total / wall:.2f} of {os.cpu_count()} cores busy on average")
    for kind, cpu in by_kind.most_common():
        print(f"{cpu:8.0f} s  {cpu / total:5.1%}  {kind}"
              + (f" ({count[kind]} processes)" if count[kind] else ""))
    return suite.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
