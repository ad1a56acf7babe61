"""Quiz attempts that last: every attempt and its per-question outcomes, in SQLite.

The file is ``data_dir()/quiz-history.sqlite3`` (a damaged one is kept aside, see
:mod:`~mlcycle_ref.quiz.store`). It also holds the learner's id, a random name made on first
use, which with the attempt number seeds the order of choices (:mod:`~mlcycle_ref.quiz.shuffle`).
An outcome is ``right``, ``wrong``, ``skipped``, or - when the checker was unsure and the
learner compared their answer with the model answer - ``self-right`` / ``self-wrong``.

>>> import tempfile
>>> with History(Path(tempfile.mkdtemp()) / "h.sqlite3") as history:
...     attempt = history.start("quiz")
...     history.record(attempt, "q01", "right", 1.0)
...     history.record(attempt, "q02", "wrong", 0.5)
...     [(a.number, a.score, a.total) for a in history.attempts("quiz")], history.missed("quiz")
([(1, 1.5, 2)], ['q02'])
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlcycle_ref.quiz.drills import data_dir
from mlcycle_ref.quiz.store import open_store

OUTCOMES = ("right", "wrong", "skipped", "self-right", "self-wrong")
PASSED = ("right", "self-right")
SCHEMA = """
CREATE TABLE IF NOT EXISTS learner (id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (id INTEGER PRIMARY KEY, bank TEXT NOT NULL,
    number INTEGER NOT NULL, started TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (attempt INTEGER NOT NULL REFERENCES attempts(id),
    question TEXT NOT NULL, outcome TEXT NOT NULL, score REAL NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (attempt, question));
"""


def outcome_of(feedback, self_marked: bool | None) -> str:
    """The stored outcome of one checked question: skipped (no feedback), self-right or
    self-wrong (the learner's mark on an unsure verdict), else right or wrong.

    >>> from mlcycle_ref.quiz.checking import Feedback
    >>> outcome_of(Feedback(True, 1.0, ""), None), outcome_of(None, None)
    ('right', 'skipped')
    """
    if feedback is None:
        return "skipped"
    if self_marked is not None:
        return "self-right" if self_marked else "self-wrong"
    return "right" if feedback.correct else "wrong"


@dataclass(frozen=True)
class Attempt:
    """One finished or interrupted attempt: its number for that bank, when, and its score."""

    id: int
    bank: str
    number: int
    started: str
    score: float
    total: int
    right: int
    self_marked: int


class History:
    """The attempts of one learner, stored in SQLite; use it as a context manager."""

    def __init__(self, path: str | Path | None = None):
        store = open_store(Path(path) if path else data_dir() / "quiz-history.sqlite3", SCHEMA)
        self.path, self._db = store.path, store.db
        #: Set when a damaged file was kept aside and a fresh one started: print it.
        self.notice = store.notice

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def learner(self) -> str:
        """This learner's id, made on first use."""
        row = self._db.execute("SELECT id FROM learner").fetchone()
        if row:
            return row[0]
        ident = uuid.uuid4().hex[:12]
        self._db.execute("INSERT INTO learner VALUES (?)", (ident,))
        self._db.commit()
        return ident

    def next_number(self, bank: str) -> int:
        """The number the next attempt at ``bank`` will get (1 for the first)."""
        row = self._db.execute("SELECT MAX(number) FROM attempts WHERE bank = ?",
                               (bank,)).fetchone()
        return (row[0] or 0) + 1

    def start(self, bank: str) -> int:
        """Begin an attempt; returns its id for :meth:`record`."""
        cursor = self._db.execute(
            "INSERT INTO attempts (bank, number, started) VALUES (?, ?, ?)",
            (bank, self.next_number(bank), datetime.now().isoformat(timespec="seconds")))
        self._db.commit()
        return cursor.lastrowid

    def record(self, attempt: int, question: str, outcome: str, score: float) -> None:
        """Save one question's outcome at once, so a crash loses nothing answered."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {', '.join(OUTCOMES)}, found {outcome!r}")
        self._db.execute("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?)",
                         (attempt, question, outcome, float(score),
                          datetime.now().isoformat(timespec="seconds")))
        self._db.commit()

    def attempts(self, bank: str) -> list[Attempt]:
        """Every attempt at ``bank`` with at least one answer, oldest first."""
        rows = self._db.execute(
            "SELECT a.id, a.bank, a.number, a.started, SUM(o.score), COUNT(o.question),"
            " SUM(o.outcome IN ('right', 'self-right')), SUM(o.outcome LIKE 'self-%')"
            " FROM attempts a JOIN outcomes o ON o.attempt = a.id WHERE a.bank = ?"
            " GROUP BY a.id ORDER BY a.number", (bank,)).fetchall()
        return [Attempt(*row) for row in rows]

    def outcomes(self, attempt: int) -> dict[str, tuple[str, float]]:
        """Question id -> (outcome, score) in one attempt."""
        rows = self._db.execute("SELECT question, outcome, score FROM outcomes WHERE attempt = ?",
                                (attempt,))
        return {question: (outcome, score) for question, outcome, score in rows}

    def missed(self, bank: str) -> list[str]:
        """Questions whose latest outcome in ``bank`` was not a pass, in the order first asked."""
        rows = self._db.execute(
            "SELECT o.question, o.outcome FROM outcomes o JOIN attempts a ON o.attempt = a.id"
            " WHERE a.bank = ? ORDER BY a.number, o.at, o.rowid", (bank,)).fetchall()
        latest: dict[str, str] = {}
        for question, outcome in rows:
            latest[question] = outcome
        return [question for question, outcome in latest.items() if outcome not in PASSED]
