"""Shared pytest set-up for the tests and for the docstring examples in mlcycle_ref."""

import matplotlib
import pytest

from mlcycle_ref import cli

matplotlib.use("Agg")

# Under pytest -n each process takes whole files in collection order (--no-loadscope-reorder;
# xdist's own order puts the files with the most tests first): the costliest go first, so that
# the processes end together rather than one running a long file alone at the end. Each
# figure is the file's CPU seconds alone on an idle 2-core machine.
COSTLIEST_FIRST = (
    "tests/test_site_browser.py",        # 300: its walk audits every page with axe, after
                                         # building the book for the others (~150)
    "tests/test_labs.py",                # 205: every lab graded three times, then self-checked
    "tests/test_labs_selfcheck.py",      # 79
    "tests/test_course_cheats.py",       # 77
    "tests/test_book_figures.py",        # 69
    "tests/test_book_pdf.py",            # 52
    "tests/test_book_accessibility.py",  # 45: the widget states
    "tests/test_book_search.py",         # 35
    "tests/test_scale_postgres.py",      # 34
    "tests/test_tuning.py",              # 33
)


def pytest_collection_modifyitems(items):
    """Put the files of ``COSTLIEST_FIRST`` first, in its order; the rest keep theirs."""
    rank = {path: position for position, path in enumerate(COSTLIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest.fixture(autouse=True)
def user_data_dir(tmp_path, monkeypatch):
    """Keep every job store, quiz progress file and registry out of the real home folder."""
    folder = tmp_path / "mlcycle-data"
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def mlcycle(capsys):
    """Run the ``mlcycle`` command in-process: ``mlcycle("labs", "check", path)``.

    Returns the exit status with what it printed, as ``(code, stdout, stderr)``.
    """
    def run(*argv):
        code = cli.main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run
