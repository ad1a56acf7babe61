"""No test judges speed: a busy machine must not turn the suite red.

Timings belong in ``bench/``, as ratios to a baseline measured in the same run. This scans
every ``tests/*.py`` with :mod:`ast` for what would make a test depend on the wall clock:

* reading a clock (``time.time``, ``perf_counter``, ``monotonic``, ``process_time`` and their
  ``_ns`` forms, however imported) anywhere but in :func:`waiting.wait_until`, whose give-up
  deadline only keeps a broken run from hanging;
* an ``assert`` that bounds a duration from above (``elapsed < 30``, ``30 >= took``): a
  duration is a name or attribute such as ``seconds``, ``elapsed``, ``duration`` or
  ``total_seconds()``, or a variable assigned from one. A lower bound (``lasted >= 1.5``: it
  did wait) cannot fail because the machine is slow and is allowed;
* a ``timeout`` mark (pytest-timeout's) on a test, a class or a module.
"""

import ast
import re
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CLOCKS = {"time", "perf_counter", "monotonic", "process_time", "thread_time",
          "time_ns", "perf_counter_ns", "monotonic_ns", "process_time_ns", "thread_time_ns"}
#: The one function allowed to read a clock: (file name, function name).
ALLOWED = {("waiting.py", "wait_until")}
DURATION = re.compile(r"(^|_)(seconds|secs|elapsed|duration|took|runtime|wall)($|_)|"
                      r"total_seconds", re.IGNORECASE)
#: A column or key of timings, as in ``table["seconds"]`` (not "duration": the campaign data
#: has a column of that name, the length of a phone call).
TIMING_KEY = re.compile(r"seconds|elapsed", re.IGNORECASE)
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _names(node: ast.AST) -> list[str]:
    """Identifiers an expression mentions: names and attributes."""
    return [part.id if isinstance(part, ast.Name) else part.attr for part in ast.walk(node)
            if isinstance(part, ast.Name | ast.Attribute)]


def _keys(node: ast.AST) -> list[str]:
    """Constant string subscripts an expression mentions: ``table["seconds"]`` gives seconds."""
    return [part.slice.value for part in ast.walk(node) if isinstance(part, ast.Subscript)
            and isinstance(part.slice, ast.Constant) and isinstance(part.slice.value, str)]


class _Scanner(ast.NodeVisitor):
    def __init__(self, name: str):
        self.name, self.found, self.function = name, [], None
        self.time_modules, self.clock_names, self.durations = set(), set(), set()

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.name}:{node.lineno}: {what}")

    def visit_Import(self, node: ast.Import) -> None:
        self.time_modules |= {alias.asname or alias.name for alias in node.names
                              if alias.name == "time"}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "time":
            self.clock_names |= {alias.asname or alias.name for alias in node.names
                                 if alias.name in CLOCKS}

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for decorator in node.decorator_list:
            self._timeout_mark(decorator)
        outer, self.function = self.function, node.name
        known, self.durations = self.durations, set(self.durations)
        self.generic_visit(node)
        self.function, self.durations = outer, known

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self._timeout_mark(decorator)
        self.generic_visit(node)

    def timed(self, node: ast.AST) -> str | None:
        """The name that makes ``node`` a duration, if it is one."""
        return next((name for name in _names(node)
                     if DURATION.search(name) or name in self.durations), None) or next(
            (key for key in _keys(node) if TIMING_KEY.search(key)), None)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self.timed(node.value):
            self.durations |= {name for target in node.targets for name in _names(target)}
        if any(isinstance(target, ast.Name) and target.id == "pytestmark"
               for target in node.targets):
            for mark in ast.walk(node.value):
                if isinstance(mark, ast.Attribute):
                    self._timeout_mark(mark)
        self.generic_visit(node)

    def _timeout_mark(self, node: ast.AST) -> None:
        target = node.func if isinstance(node, ast.Call) else node
        if isinstance(target, ast.Attribute) and target.attr == "timeout" and (
                "mark" in _names(target.value)):
            self.report(node, "a timeout mark: a slow machine would fail the test")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        clock = (isinstance(func, ast.Attribute) and func.attr in CLOCKS
                 and isinstance(func.value, ast.Name) and func.value.id in self.time_modules
                 ) or (isinstance(func, ast.Name) and func.id in self.clock_names)
        if clock and (self.name, self.function) not in ALLOWED:
            self.report(node, f"reads the clock ({ast.unparse(func)}); to wait for something, "
                        "use waiting.wait_until; to time something, write a bench/ script")
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        for compare in ast.walk(node.test):
            if isinstance(compare, ast.Compare):
                sides = [compare.left, *compare.comparators]
                for left, op, right in zip(sides, compare.ops, sides[1:], strict=False):
                    small = left if isinstance(op, (ast.Lt, ast.LtE)) else right
                    name = self.timed(small) if isinstance(op, ORDERING) else None
                    if name:
                        self.report(node, f"bounds a duration ({name}) from above: "
                                    f"{ast.unparse(compare)}")
                        break
        self.generic_visit(node)


def wall_clock_uses(source: str, name: str) -> list[str]:
    """``name:line: what`` for each place in ``source`` where a test would depend on time."""
    scanner = _Scanner(name)
    scanner.visit(ast.parse(source, filename=name))
    return scanner.found


def test_no_test_depends_on_the_wall_clock():
    found = [problem for path in sorted(TESTS.glob("*.py"))
             for problem in wall_clock_uses(path.read_text(encoding="utf-8"), path.name)]
    assert not found, "wall-clock dependence in tests/ (timings go to bench/):\n" + "\n".join(
        found)


@pytest.mark.parametrize(("source", "what"), [
    ("import time\nstart = time.perf_counter()\nrun()\nassert time.perf_counter() - start < 30",
     "reads the clock (time.perf_counter)"),
    ("from time import monotonic as now\ndef test_x():\n    t = now()",
     "reads the clock (now)"),
    ("import time as t\ndef test_x():\n    while t.time() < deadline:\n        pass",
     "reads the clock (t.time)"),
    ("def test_x():\n    assert report.seconds < MAX_SOLUTION_SECONDS",
     "bounds a duration (seconds)"),
    ("def test_x():\n    assert elapsed <= 2 and ok",
     "bounds a duration (elapsed)"),
    ("def test_x():\n    assert (end - start).total_seconds() < 3",
     "bounds a duration (total_seconds)"),
    ("def test_x():\n    assert table['seconds'].sum() < other",
     "bounds a duration (seconds)"),
    ("def test_x():\n    lasted = (end - start).total_seconds()\n    assert 1.5 <= lasted <= 3",
     "bounds a duration (lasted)"),
    ("def test_x():\n    assert 30 > report.seconds", "bounds a duration (seconds)"),
    ("import pytest\n@pytest.mark.timeout(60)\ndef test_x():\n    pass", "a timeout mark"),
    ("import pytest\npytestmark = [pytest.mark.timeout(60)]", "a timeout mark"),
])
def test_the_scan_finds_each_kind_of_wall_clock_dependence(source, what):
    found = wall_clock_uses(source, "test_example.py")
    assert found and all(what in problem for problem in found), found
    assert re.match(r"test_example\.py:\d+: ", found[0]), "the file and line are named"


def test_the_scan_allows_waiting_and_durations_that_are_not_judged():
    allowed = textwrap.dedent("""
        import time
        from waiting import wait_until

        def test_x(job, monitor):
            time.sleep(0.1)
            wait_until(lambda: job.done, "the job finished")
            assert job.seconds == 12.5 and job.count < 3
            lasted = job.seconds
            assert lasted >= 1.5 and 2 < lasted
            assert {"seconds", "tree_depth"} <= set(monitor.history.columns)
            auc = roc_auc_score(frame["subscribed"], frame["duration"])
            assert auc > 0.8

        def test_y(frame):
            auc = score(frame)
            assert 0.6 < auc < 0.9
        """)
    assert wall_clock_uses(allowed, "test_example.py") == []
    helper = "import time\ndef wait_until(p, what):\n    deadline = time.monotonic() + 5"
    assert wall_clock_uses(helper, "waiting.py") == []
    assert len(wall_clock_uses(helper, "other_helpers.py")) == 1


def test_the_files_handed_out_first_exist():
    # conftest.COSTLIEST_FIRST orders the files for pytest -n; a renamed file would drop out
    # of that order without a word.
    import runpy

    root = TESTS.parent
    first = runpy.run_path(str(root / "conftest.py"))["COSTLIEST_FIRST"]
    assert [path for path in first if not (root / path).is_file()] == []
