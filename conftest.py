"""Shared pytest set-up for the tests and for the docstring examples in mlcycle_ref."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def user_data_dir(tmp_path, monkeypatch):
    """Keep every job store, quiz progress file and registry out of the real home folder."""
    folder = tmp_path / "mlcycle-data"
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(folder))
    return folder
