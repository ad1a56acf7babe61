"""Shared pytest set-up for the tests and for the docstring examples in mlcycle_ref."""

import matplotlib
import pytest

from mlcycle_ref import cli

matplotlib.use("Agg")


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
