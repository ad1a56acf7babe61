"""How long the book takes to build: cold, warm with --all, and with nothing to do.

Builds into a fresh temporary folder (never the shared _build), so the first build executes
every page. Targets on an idle 2-core machine: cold at most 120 s, warm (--all, cache full) at
most 15 s. Prints the times and each as a share of the cold build; a busy machine moves the
seconds, the shares much less.

    .venv/bin/python bench/bench_book.py [--keep FOLDER]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"cold": 120.0, "warm --all": 15.0}


def build(output: Path, *options: str) -> float:
    """Build the book into ``output``; return the seconds it took (fails loudly on error)."""
    bin_dir = Path(sys.executable).parent
    started = time.perf_counter()
    result = subprocess.run(
        [str(bin_dir / "jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going",
         "--path-output", str(output), *options],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
             "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"build failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    arguments = parser.parse_args()
    folder = arguments.keep or Path(tempfile.mkdtemp(prefix="mlcycle-bench-book-"))
    times = {"cold": build(folder), "warm --all": build(folder, "--all"),
             "nothing to do": build(folder)}
    print(f"book build times ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}):")
    for name, seconds in times.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  target <= {target:.0f} s: " + (
            "met" if seconds <= target else "missed")
        print(f"  {name:14} {seconds:7.1f} s  {seconds / times['cold']:5.2f} of cold{verdict}")


if __name__ == "__main__":
    main()
