"""The `mlcycle` command, run as a user runs it."""

import subprocess
import sys

import pandas as pd

from mlcycle_ref import cli, data


def run(*args):
    return subprocess.run([sys.executable, "-m", "mlcycle_ref.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_datasets_lists_every_offline_dataset(capsys):
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in data.DATASETS:
        assert name in out
    assert "multiclass" in out and "regression" in out


def test_simulate_writes_a_campaign_csv(tmp_path):
    target = tmp_path / "campaign.csv"
    result = run("simulate", str(target), "--rows", "500", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "500 rows" in result.stdout
    frame = pd.read_csv(target)
    assert len(frame) == 500 and data.CAMPAIGN_TARGET in frame


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path):
    result = run("simulate", str(tmp_path / "missing-folder" / "out.csv"), "--rows", "10")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "missing-folder" in result.stderr


def test_version_and_help():
    assert "mlcycle" in run("--version").stdout
    assert "simulate" in run("--help").stdout
