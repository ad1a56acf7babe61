"""Time the grading of a class: ``mlcycle course autograde --workers 2`` against nbgrader.

One run builds a class of submissions of one lab (three in four with the model answers, the
rest untouched), then measures, on this machine and in this order:

1. *nbclient alone*: each kind of submission executed from a clean kernel with nothing
   around it - no restoring, no guard, no gradebook. The class's mix of these times is the
   floor for one submission; it is measured before and after the graders and averaged, as
   other work on a shared machine comes and goes.
2. *nbgrader*: plain ``nbgrader autograde LAB`` over the whole class in a course of its own,
   one process grading one submission after the other.
3. *mlcycle*: ``mlcycle course autograde LAB --workers 2`` over the same class, each
   submission in its bubblewrap sandbox.
4. *mlcycle unsandboxed*: the same command with ``--no-sandbox --force``, grading the class
   again as the instructor's user, twice, then once more in sandboxes: sandboxed, plain,
   plain, sandboxed, so that a load on the machine that rises or falls steadily weighs on
   both alike.

The graders are timed as commands, start-up included. Targets: mlcycle at least 1.6 times
faster than nbgrader, its time per submission and worker (wall time x workers /
submissions) at most 1.3 times the nbclient floor, and the sandboxed run at most 1.10 times
the unsandboxed one.

usage: python bench/bench_course.py [--submissions N] [--workers N] [--lab LAB]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from mlcycle_ref import course, labs

SPEEDUP_TARGET = 1.6
OVERHEAD_TARGET = 1.3
SANDBOX_TARGET = 1.10
CLI = ("import argparse, sys\nfrom mlcycle_ref import course\n"
       "parser = argparse.ArgumentParser()\ncourse.register(parser.add_subparsers())\n"
       "args = parser.parse_args(sys.argv[1:])\nsys.exit(args.handler(args))")


def class_of(grading_course: course.Course, lab: str, size: int) -> dict[str, bytes]:
    """``size`` submissions: every fourth one the untouched student version."""
    solved = nbformat.writes(course.model_submission(grading_course, lab)).encode()
    blank = (grading_course.root / "release" / lab / f"{lab}.ipynb").read_bytes()
    return {f"s{number:03d}": blank if number % 4 == 3 else solved for number in range(size)}


def alone_seconds(submissions: dict[str, bytes], folder: Path) -> float:
    """Mean seconds to execute the class's submissions with nbclient, one of each kind timed."""
    seconds = {}
    for content in set(submissions.values()):
        nb = nbformat.reads(content.decode(), as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=labs.CELL_TIMEOUT, kernel_name=labs.KERNEL, allow_errors=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
        seconds[content] = time.perf_counter() - start
    return statistics.mean(seconds[content] for content in submissions.values())


def file_submissions(root: Path, lab: str, submissions: dict[str, bytes]) -> None:
    for student, content in submissions.items():
        folder = root / "submitted" / student / lab
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{lab}.ipynb").write_bytes(content)


def nbgrader_seconds(root: Path, lab: str, submissions: dict[str, bytes]) -> float:
    """Wall seconds of plain ``nbgrader autograde`` over the class, in a course of its own."""
    from nbgrader.apps import NbGraderAPI

    shutil.copytree(labs.SOLUTIONS / lab, root / "source" / lab)
    with labs.venv_on_path():
        result = NbGraderAPI(config=labs.course_config(root)).generate_assignment(lab)
    if not result["success"]:
        raise SystemExit(f"nbgrader could not generate {lab}: {result.get('error')}")
    file_submissions(root, lab, submissions)
    command = [str(Path(sys.executable).with_name("nbgrader")), "autograde", lab,
               f"--CourseDirectory.root={root}", f"--Execute.timeout={labs.CELL_TIMEOUT}"]
    start = time.perf_counter()
    with labs.venv_on_path():
        subprocess.run(command, cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start


def mlcycle_seconds(grading_course: course.Course, lab: str, workers: int, *options) -> float:
    command = [sys.executable, "-c", CLI, "course", "autograde", lab, "--course",
               str(grading_course.root), "--workers", str(workers), *options]
    start = time.perf_counter()
    with labs.venv_on_path():
        subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lab", default="lab02")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mlcycle-bench-") as scratch:
        scratch = Path(scratch)
        roster = scratch / "students.csv"
        roster.write_text("id\n" + "\n".join(f"s{n:03d}" for n in range(args.submissions)))
        grading_course = course.init(scratch / "mlcycle", roster, lab_names=[args.lab])
        lab = grading_course.resolve(args.lab)
        submissions = class_of(grading_course, lab, args.submissions)
        (scratch / "alone").mkdir()
        before = alone_seconds(submissions, scratch / "alone")
        print(f"{lab}: {len(submissions)} submissions, {args.workers} workers, "
              f"{os.cpu_count()} CPUs")
        plain = nbgrader_seconds(scratch / "nbgrader", lab, submissions)
        print(f"nbgrader autograde, sequential      {plain:7.1f} s")
        file_submissions(grading_course.root, lab, submissions)
        ours = mlcycle_seconds(grading_course, lab, args.workers)
        records = [course.read_record(grading_course.record(student, lab))
                   for student in submissions]
        graded = sum(record is not None and record["status"] == course.GRADED
                     for record in records)
        unsandboxed = [mlcycle_seconds(grading_course, lab, args.workers, "--no-sandbox",
                                       "--force") for _ in range(2)]
        sandboxed = [ours, mlcycle_seconds(grading_course, lab, args.workers, "--force")]
        after = alone_seconds(submissions, scratch / "alone")
        alone = (before + after) / 2
        print(f"nbclient alone, per submission      {alone:7.1f} s  (before {before:.1f} s, "
              f"after {after:.1f} s)")
        print(f"mlcycle course autograde            {ours:7.1f} s  ({graded} graded)")
        print(f"  then --no-sandbox, twice          {unsandboxed[0]:7.1f} s, "
              f"{unsandboxed[1]:.1f} s; sandboxed again {sandboxed[1]:.1f} s")
        per_slot = ours * args.workers / len(submissions)
        in_worker = statistics.mean(record["seconds"] for record in records if record)
        speedup = plain / ours
        overhead = per_slot / alone
        print(f"speed-up over nbgrader              {speedup:7.2f} x  (target >= "
              f"{SPEEDUP_TARGET})")
        print(f"per submission and worker           {per_slot:7.1f} s  = {overhead:.2f} x "
              f"nbclient alone (target <= {OVERHEAD_TARGET})")
        print(f"  of which inside the worker        {in_worker:7.1f} s  = "
              f"{in_worker / alone:.2f} x nbclient alone")
        sandbox_cost = sum(sandboxed) / sum(unsandboxed)
        print(f"sandboxed / unsandboxed             {sandbox_cost:7.2f} x  (target <= "
              f"{SANDBOX_TARGET})")
    met = graded == len(submissions) and speedup >= SPEEDUP_TARGET and (
        overhead <= OVERHEAD_TARGET) and sandbox_cost <= SANDBOX_TARGET
    print("targets met" if met else "targets MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
