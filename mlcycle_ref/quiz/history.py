"""Quiz attempts that last: every attempt and its per-question outcomes, in a progress store.

The store is ``data_dir()/quiz-history.sqlite3`` unless a URL or another file is named (a
damaged file is kept aside, see :mod:`~mlcycle_ref.quiz.store`). It also holds the learner's
id, a random name made on first use, which with the attempt number seeds the order of
choices (:mod:`~mlcycle_ref.quiz.shuffle`).
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

OUTCOMES = ("right", "wrong", "skipped", "self-right", "self-wrong")
PASSED = ("right", "self-right")


def outcome_of(feedback, self_marked: bool | None) -> str:
    """The stored outcome of one checked question: skipped (no ``feedback``), self-right or
    self-wrong (the learner's mark ``self_marked`` on an unsure verdict), else right or wrong.

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
    """One finished or interrupted attempt: its ``id`` in the store, its ``number`` for that
    ``bank``, when it was ``started``, its ``score`` out of ``total`` questions answered,
    how many were ``right`` and how many of those answers were ``self_marked``.

    >>> attempt = Attempt(7, "quiz", 2, "2025-03-01T10:00:00", 2.5, 3, 2, 1)
    >>> f"#{attempt.number}: {attempt.score} / {attempt.total}"
    '#2: 2.5 / 3'
    """

    id: int
    bank: str
    number: int
    started: str
    score: float
    total: int
    right: int
    self_marked: int


class History:
    """The attempts of one learner in a progress store; ``location`` is a URL, a path to a
    SQLite file, or None for ``data_dir()/quiz-history.sqlite3``. Use it as a context
    manager, or call ``close()``.

    >>> import tempfile
    >>> with History(f"sqlite:///{tempfile.mkdtemp()}/h.sqlite3") as history:
    ...     history.next_number("quiz"), len(history.learner)
    (1, 12)
    >>> history.close()  # done by the with block; closing twice is harmless
    """

    def __init__(self, location: str | Path | None = None):
        # SQLAlchemy is imported only now, when a store opens: checking an answer skips it.
        from mlcycle_ref.quiz.store import HISTORY, Store

        self._store = Store(location, "quiz-history.sqlite3", HISTORY)
        #: Where the attempts are kept: the SQLite file, else the URL (password hidden).
        self.path = self._store.path
        #: Set when a damaged file was kept aside and a fresh one started: print it.
        self.notice = self._store.notice

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the store."""
        self._store.close()

    @property
    def learner(self) -> str:
        """This learner's id, made on first use."""
        stored = self._store.rows("learner")
        if stored:
            return stored[0]["id"]
        ident = uuid.uuid4().hex[:12]
        self._store.insert("learner", id=ident)
        return ident

    def next_number(self, bank: str) -> int:
        """The number the next attempt at ``bank`` will get (1 for the first)."""
        return max((row["number"] for row in self._store.rows("attempts", bank=bank)),
                   default=0) + 1

    def start(self, bank: str) -> int:
        """Begin an attempt at ``bank``; returns its id for :meth:`record`.

        >>> import tempfile
        >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
        ...     first, second = history.start("quiz"), history.start("quiz")
        ...     history.next_number("quiz"), first != second
        (3, True)
        """
        return self._store.insert("attempts", bank=bank, number=self.next_number(bank),
                                  started=datetime.now().isoformat(timespec="seconds"))

    def record(self, attempt: int, question: str, outcome: str, score: float) -> None:
        """Save the ``outcome`` (one of :data:`OUTCOMES`) and ``score`` of ``question`` in
        the ``attempt`` at once, so a crash loses nothing answered.

        The time has microseconds, so questions answered in one second keep their order.

        >>> import tempfile
        >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
        ...     history.record(history.start("quiz"), "q01", "maybe", 0.0)
        Traceback (most recent call last):
        ...
        ValueError: outcome: expected one of right, wrong, ..., found 'maybe'
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {', '.join(OUTCOMES)}, found {outcome!r}")
        at = datetime.now().isoformat(timespec="microseconds")
        self._store.replace("outcomes", attempt=attempt, question=question, outcome=outcome,
                            score=float(score), at=at)

    def _outcomes(self, bank: str) -> tuple[list[dict], list[dict]]:
        """The attempts at ``bank`` by number, and their outcomes in the order answered."""
        attempts = sorted(self._store.rows("attempts", bank=bank), key=lambda a: a["number"])
        numbers = {a["id"]: a["number"] for a in attempts}
        outcomes = self._store.rows("outcomes", attempt=list(numbers))
        return attempts, sorted(outcomes, key=lambda o: (numbers[o["attempt"]], o["at"]))

    def attempts(self, bank: str) -> list[Attempt]:
        """Every attempt at ``bank`` with at least one answer, oldest first.

        >>> import tempfile
        >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
        ...     empty, attempt = history.start("quiz"), history.start("quiz")
        ...     history.record(attempt, "q01", "self-right", 0.8)
        ...     [(a.number, a.score, a.right, a.self_marked) for a in history.attempts("quiz")]
        [(2, 0.8, 1, 1)]
        """
        attempts, outcomes = self._outcomes(bank)
        found = []
        for attempt in attempts:
            mine = [o for o in outcomes if o["attempt"] == attempt["id"]]
            if mine:
                found.append(Attempt(
                    attempt["id"], bank, attempt["number"], attempt["started"],
                    score=sum(o["score"] for o in mine), total=len(mine),
                    right=sum(o["outcome"] in PASSED for o in mine),
                    self_marked=sum(o["outcome"].startswith("self-") for o in mine)))
        return found

    def outcomes(self, attempt: int) -> dict[str, tuple[str, float]]:
        """Question id -> (outcome, score) in the ``attempt``.

        >>> import tempfile
        >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
        ...     attempt = history.start("quiz")
        ...     history.record(attempt, "q01", "wrong", 0.0)
        ...     history.record(attempt, "q01", "right", 1.0)
        ...     history.outcomes(attempt)
        {'q01': ('right', 1.0)}
        """
        return {row["question"]: (row["outcome"], row["score"])
                for row in self._store.rows("outcomes", attempt=attempt)}

    def missed(self, bank: str) -> list[str]:
        """Questions whose latest outcome in ``bank`` was not a pass, in the order first asked.

        >>> import tempfile
        >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
        ...     first, second = history.start("quiz"), history.start("quiz")
        ...     for attempt, question, outcome in [(first, "q02", "wrong"),
        ...             (first, "q01", "wrong"), (second, "q01", "right")]:
        ...         history.record(attempt, question, outcome, 0.0)
        ...     history.missed("quiz")
        ['q02']
        """
        latest: dict[str, str] = {}
        for row in self._outcomes(bank)[1]:
            latest[row["question"]] = row["outcome"]
        return [question for question, outcome in latest.items() if outcome not in PASSED]
