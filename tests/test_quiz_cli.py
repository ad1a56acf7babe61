"""The quiz and glossary commands, registered on a parser as the mlcycle command does."""

import io
import json
import sqlite3
from contextlib import closing

import pytest

from mlcycle_ref import cli
from mlcycle_ref.quiz import load_bank


def mlcycle(*argv):
    """The exit status of the ``mlcycle`` command run in-process, as a user runs it."""
    return cli.main([str(arg) for arg in argv])


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_check_prints_json_and_exits_zero_when_correct(capsys):
    status = mlcycle("quiz", "check", "quiz", "q04", "--json", "--answer",
                     "Test on rows the model has never seen and compare its predictions with "
                     "the true labels; that shows how well it generalises.")
    feedback = json.loads(capsys.readouterr().out)
    assert status == 0
    assert feedback == {"correct": True, "score": 1.0, "missed": [], "unsure": False,
                        "message": "Correct: your answer makes 3 of 3 key points.",
                        "explanation": load_bank("quiz").question("q04").explanation,
                        "link": "book/lifecycle/training.html#evaluation"}


def test_check_lists_missed_points_and_exits_one_when_not_correct(capsys):
    status = mlcycle("quiz", "check", "quiz", "q04", "--answer", "To check the model.", "--json")
    feedback = json.loads(capsys.readouterr().out)
    assert status == 1
    assert set(feedback) >= {"correct", "score", "missed", "message", "link"}
    assert feedback["correct"] is False and len(feedback["missed"]) == 3


def test_check_without_json_prints_plain_text(capsys):
    assert mlcycle("quiz", "check", "quiz", "q02-tf", "--answer", "true") == 1
    out = capsys.readouterr().out
    assert "the statement is false" in out and "Read more: book/lifecycle/features.html" in out


@pytest.mark.parametrize(("question_id", "answer"), [
    ("q03-multi", "The learning rate, The number of boosting rounds, The maximum tree depth"),
    ("q01-order", "Data exploration, Feature engineering, Model training and evaluation"),
    ("q08-match", "Data Engineer=Scalable, repeatable data pipelines; MLOps Engineer=Scalable, "
                  "reliable ML pipelines that deploy models; Data Scientist=Predictive models "
                  "and analytical insights"),
    ("q04-numeric", "10%"),
    ("sagemaker-studio-term", "studio"),
])
def test_check_reads_every_kind_from_text(question_id, answer):
    bank = "glossary" if question_id.endswith("-term") else "quiz"
    assert mlcycle("quiz", "check", bank, question_id, "--answer", answer) == 0


def test_check_errors_are_clear(capsys):
    assert mlcycle("quiz", "check", "quiz", "q99", "--answer", "x") == 2
    assert "no question with id 'q99'" in capsys.readouterr().err
    assert mlcycle("quiz", "check", "nobank", "q01", "--answer", "x") == 2
    assert "no bank named 'nobank'" in capsys.readouterr().err
    assert mlcycle("quiz", "check", "quiz", "q02-tf", "--answer", "perhaps") == 2
    assert "expected true or false" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        mlcycle("quiz", "check", "quiz", "q01")
    assert stop.value.code == 2
    with pytest.raises(SystemExit):
        mlcycle("quiz", "quiz", "--answer", "x")
    with pytest.raises(SystemExit):
        mlcycle("quiz", "quiz", "essays")


def test_interactive_quiz_reads_stdin_and_prints_the_score(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("f\nt\n"))
    assert mlcycle("quiz", "quiz", "--ids", "q02-tf,q06-tf") == 0
    out = capsys.readouterr().out
    assert "[2/2]" in out and "Score: 2.00 / 2 (100%); 2 correct" in out


def test_attempts_are_kept_and_review_asks_only_what_was_missed(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("t\nt\n30\n"))
    assert mlcycle("quiz", "--ids", "q02-tf,q06-tf,q04-numeric") == 0
    assert "attempt 1" in capsys.readouterr().out
    assert mlcycle("quiz", "--history") == 0
    out = capsys.readouterr().out
    assert "#1 " in out and ": 1.00 / 3, 1 right" in out
    assert "To review: 2 question(s) - mlcycle quiz quiz --review" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("f\n10\n"))
    assert mlcycle("quiz", "--review") == 0
    out = capsys.readouterr().out
    assert "2 question(s), attempt 2" in out and "[2/2]" in out
    assert "Score: 2.00 / 2 (100%)" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert mlcycle("quiz", "--review") == 0
    assert "Nothing to review" in capsys.readouterr().out
    assert mlcycle("quiz", "--history") == 0
    assert "#2 " in capsys.readouterr().out


def test_a_replay_with_a_seed_is_not_saved(monkeypatch, capsys, data_dir):
    monkeypatch.setattr("sys.stdin", io.StringIO("f\n"))
    assert mlcycle("quiz", "--ids", "q02-tf", "--seed", "4") == 0
    capsys.readouterr()
    assert mlcycle("quiz", "--history") == 0
    assert "No attempts" in capsys.readouterr().out


def test_a_damaged_history_file_is_named_and_kept_aside(monkeypatch, capsys, data_dir):
    (data_dir / "quiz-history.sqlite3").write_text("garbage " * 100)
    monkeypatch.setattr("sys.stdin", io.StringIO("f\n"))
    assert mlcycle("quiz", "--ids", "q02-tf") == 0
    err = capsys.readouterr().err
    assert str(data_dir / "quiz-history.sqlite3") in err and "kept aside" in err
    assert len(list(data_dir.glob("quiz-history.sqlite3.damaged-*"))) == 1


def test_quiz_defaults_to_the_quiz_bank_and_accepts_a_path(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert mlcycle("quiz", "--ids", "q10-tf") == 0
    assert "Score: 0.00 / 1" in capsys.readouterr().out
    assert mlcycle("quiz", "glossary", "--ids", "pandas-term", "--shuffle", "--seed", "3") == 0
    assert "Which term is this?" in capsys.readouterr().out


def test_unknown_ids_fail_before_the_quiz_starts(capsys):
    assert mlcycle("quiz", "quiz", "--ids", "q01", "nope") == 2
    captured = capsys.readouterr()
    assert "no question with id 'nope'" in captured.err and "[1/" not in captured.out


def test_glossary_drill_and_stats_share_progress(monkeypatch, capsys, data_dir):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n"))
    assert mlcycle("glossary", "drill", "--rounds", "2", "--seed", "1") == 0
    assert "Drill done: 0 of 2 card(s) right at the first try." in capsys.readouterr().out
    assert (data_dir / "drills.sqlite3").is_file()
    assert mlcycle("glossary", "stats") == 0
    out = capsys.readouterr().out
    assert "Box 1 (review the same day): 2" in out and "Answers: 2, right: 0 (0%)" in out


def test_glossary_needs_an_action_and_a_positive_round_count():
    with pytest.raises(SystemExit):
        mlcycle("glossary")
    with pytest.raises(SystemExit):
        mlcycle("glossary", "drill", "--rounds", "0")


def test_progress_is_kept_in_the_file_or_database_named_by_store(monkeypatch, capsys, data_dir):
    attempts, cards = data_dir / "class" / "attempts.db", data_dir / "class" / "cards.db"
    monkeypatch.setattr("sys.stdin", io.StringIO("f\n"))
    assert mlcycle("quiz", "--ids", "q02-tf", "--store", attempts) == 0
    capsys.readouterr()
    assert mlcycle("quiz", "--history", "--store", f"sqlite:///{attempts}") == 0  # same, as a URL
    out = capsys.readouterr().out
    assert "#1 " in out and str(attempts) in out
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert mlcycle("glossary", "drill", "--rounds", "1", "--seed", "1",
                   "--store", f"sqlite:///{cards}") == 0
    assert mlcycle("glossary", "stats", "--store", cards) == 0
    assert "Answers: 1, right: 0" in capsys.readouterr().out
    assert not list(data_dir.glob("*.sqlite3"))  # nothing went to the default files


@pytest.mark.parametrize(("url", "message"), [
    ("nosuch://host/db", "nosuch://host/db: no SQLAlchemy driver"),
    ("postgresql+psycopg://learner@127.0.0.1:1/course", "cannot open the database"),
])
def test_a_store_that_cannot_be_opened_is_one_line_naming_it(capsys, url, message):
    assert mlcycle("glossary", "stats", "--store", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlcycle: error:") and message in err and len(err.splitlines()) <= 2


OLD_HISTORY = """
CREATE TABLE learner (id TEXT NOT NULL);
CREATE TABLE attempts (id INTEGER PRIMARY KEY, bank TEXT NOT NULL, number INTEGER NOT NULL,
    started TEXT NOT NULL);
CREATE TABLE outcomes (attempt INTEGER NOT NULL REFERENCES attempts(id), question TEXT NOT NULL,
    outcome TEXT NOT NULL, score REAL NOT NULL, at TEXT NOT NULL, PRIMARY KEY (attempt, question));
INSERT INTO learner VALUES ('0123456789ab');
INSERT INTO attempts VALUES (1, 'quiz', 1, '2025-03-01T10:00:00');
INSERT INTO outcomes VALUES (1, 'q02-tf', 'wrong', 0.0, '2025-03-01T10:00:05');
"""


def test_a_history_file_written_before_the_storage_layer_keeps_its_attempts(
        monkeypatch, capsys, data_dir):
    with closing(sqlite3.connect(data_dir / "quiz-history.sqlite3")) as db:
        db.executescript(OLD_HISTORY)
    monkeypatch.setattr("sys.stdin", io.StringIO("f\n"))
    assert mlcycle("quiz", "--review") == 0
    captured = capsys.readouterr()
    assert "1 question(s), attempt 2" in captured.out and captured.err == ""
    assert mlcycle("quiz", "--history") == 0
    out = capsys.readouterr().out
    assert "#1 " in out and "#2 " in out and "To review: 0 question(s)" in out
