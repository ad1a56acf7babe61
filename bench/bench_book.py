"""How long the book takes to build: cold, warm with --all, and with nothing to do.

Builds a snapshot of the repository (the working tree's files, or a commit's with --rev) in a
temporary folder, never the shared _build, so the first build executes every page and nobody's
edit during the run re-executes pages half-way. Targets on an idle 2-core machine: cold at
most 120 s, warm (--all, cache full) at most 15 s. Prints the times, each as a share of the
cold build, the CPU seconds of the build and its kernels, the load before and after (a busy
machine moves the seconds; the CPU seconds of a build that runs on one core, warm or with
nothing to do, stay close to its time on an idle machine), and the pages that took longest
to execute.

    .venv/bin/python bench/bench_book.py [--rev REV] [--keep FOLDER]

``--rev HEAD~3`` measures an older commit in the same conditions, for a before/after pair.
"""

import argparse
import io
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"cold": 120.0, "warm --all": 15.0}
SLOWEST_SHOWN = 6


def snapshot(destination: Path, rev: str | None) -> Path:
    """Copy the repository's files into ``destination``: a commit's, or (``rev`` None) the
    working tree's tracked and untracked files that git does not ignore."""
    destination.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(destination, filter="data")
        return destination
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source, target = ROOT / name, destination / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return destination


def build(source: Path, output: Path, *options: str) -> tuple[float, float]:
    """Build the book in ``source`` into ``output``; return the seconds it took and the CPU
    seconds it and its kernels used (fails loudly)."""
    bin_dir = Path(sys.executable).parent
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [str(bin_dir / "jupyter-book"), "build", str(source), "-W", "-n", "--keep-going",
         "--path-output", str(output), *options],
        capture_output=True, text=True,
        # The snapshot's package, not the editable install of the repository, runs the
        # extensions and the pages' code.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
             "PYTHONPATH": str(source), "OMP_NUM_THREADS": "1",
             "OPENBLAS_NUM_THREADS": "1"})
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"build failed after {seconds:.0f} s:\n{(result.stdout + result.stderr)[-3000:]}")
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)


def execution_times(source: Path, output: Path) -> list[tuple[float, str]]:
    """The seconds each page took to execute, slowest first, as jupyter-cache recorded them."""
    from jupyter_cache import get_cache

    times = []
    for folder in (output / "_build" / ".jupyter_cache").iterdir():
        for record in get_cache(folder).list_cache_records():
            page = os.path.relpath(record.uri, source)
            times.append((record.data.get("execution_seconds", 0.0), page))
    return sorted(times, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="build this commit instead of the working tree")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    arguments = parser.parse_args()
    folder = arguments.keep or Path(tempfile.mkdtemp(prefix="mlcycle-bench-book-"))
    source = snapshot(folder / "source", arguments.rev)
    output = folder / "output"
    load_before = os.getloadavg()[0]
    times = {"cold": build(source, output), "warm --all": build(source, output, "--all"),
             "nothing to do": build(source, output)}
    print(f"book build times of {arguments.rev or 'the working tree'} ({os.cpu_count()} cores, "
          f"load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after):")
    cold = times["cold"][0]
    for name, (seconds, cpu) in times.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  target <= {target:.0f} s: " + (
            "met" if seconds <= target else "missed")
        print(f"  {name:14} {seconds:7.1f} s  {seconds / cold:5.2f} of cold  "
              f"{cpu:7.1f} CPU s{verdict}")
    executed = execution_times(source, output)
    print(f"pages executed: {len(executed)}, {sum(s for s, _ in executed):.1f} s in all; "
          "slowest:")
    for seconds, page in executed[:SLOWEST_SHOWN]:
        print(f"  {seconds:6.1f} s  {page}")


if __name__ == "__main__":
    main()
