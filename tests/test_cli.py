"""The `mlcycle` command, run as a user runs it."""

import os
import subprocess
import sys

import pandas as pd
import pytest

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


HEAVY = ("pandas", "sklearn", "xgboost", "lightgbm", "nbformat", "nbgrader", "matplotlib")


@pytest.mark.parametrize("argv", [
    ["--version"], ["--help"], ["glossary", "stats"],
    ["quiz", "check", "quiz", "q04", "--answer", "rows kept back", "--json"],
])
def test_commands_that_compute_nothing_import_no_heavy_library(argv, tmp_path):
    script = ("import sys\nfrom mlcycle_ref import cli\n"
              f"try:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
              f"print(sorted(set({HEAVY!r}) & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "MLCYCLE_DATA_DIR": str(tmp_path)})
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


def test_an_error_the_user_can_fix_is_one_line_and_status_2(mlcycle, tmp_path):
    code, _, err = mlcycle("pipeline", "run", tmp_path / "missing.yml")
    assert code == 2 and err.startswith("mlcycle: error:") and "missing.yml" in err
