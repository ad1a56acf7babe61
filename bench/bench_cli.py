"""Time how fast the ``mlcycle`` command starts, as a ratio to a bare Python start.

Each command runs as a fresh process, as a user runs it, ``--repeat`` times; the fastest run
counts (the one least disturbed by other work). The baseline is ``python -c pass`` timed in
the same way in the same run, so the ratio says what our imports cost whatever the machine.
Target on an idle machine: every command within 0.5 s.

usage: python bench/bench_cli.py [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "mlcycle --version": ["--version"],
    "mlcycle glossary stats": ["glossary", "stats"],
    "mlcycle quiz check": ["quiz", "check", "quiz", "q04", "--answer",
                           "rows kept back to test the model", "--json"],
}
TARGET_SECONDS = 0.5


def fastest(argv: list[str], repeat: int, env: dict) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "MLCYCLE_DATA_DIR": tempfile.mkdtemp()}
    base = fastest([sys.executable, "-c", "pass"], args.repeat, env)
    print(f"{'python -c pass':<26} {base:6.3f} s   1.0x")
    for name, argv in COMMANDS.items():
        seconds = fastest([sys.executable, "-m", "mlcycle_ref.cli", *argv], args.repeat, env)
        verdict = "ok" if seconds <= TARGET_SECONDS else f"over {TARGET_SECONDS} s"
        print(f"{name:<26} {seconds:6.3f} s {seconds / base:5.1f}x  {verdict}")


if __name__ == "__main__":
    main()
