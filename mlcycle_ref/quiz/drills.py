"""Glossary drills with Leitner boxes, kept in a progress store that survives restarts.

Every glossary term is a card in one of five boxes. A right answer moves it up a box and
pushes its next review further away (box 1: same day, 2: 1 day, 3: 3 days, 4: 7 days,
5: 14 days); a wrong answer sends it back to box 1. A drill asks the cards that are due,
then cards never drilled, then the ones due soonest, so there is always something to do.

Three kinds of drill: ``term`` (read a definition, type the term - aliases and small typos
accepted), ``meaning`` (pick the definition of a term) and ``matching`` (pair a few terms
with their definitions). The questions are ordinary bank questions checked by
:func:`~mlcycle_ref.quiz.checking.check`; the interactive loop is in
:mod:`~mlcycle_ref.quiz.terminal`.

>>> import tempfile, datetime
>>> with Progress(Path(tempfile.mkdtemp()) / "p.sqlite3") as progress:
...     card = progress.record("convergence", True, today=datetime.date(2025, 1, 1))
>>> card.box, card.due
(2, datetime.date(2025, 1, 2))
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from mlcycle_ref.quiz.bank import Bank, Question, definition_choices
from mlcycle_ref.quiz.checker_data import CHECKER_DATA

#: Days until a card in each box is due again (box 1: the same day), from the checker data
#: that the book's flashcards read too.
INTERVALS: dict[int, int] = {int(box): days
                             for box, days in CHECKER_DATA["leitner"]["intervals"].items()}
BOXES = len(INTERVALS)
#: A card missed in a drill is asked again this many rounds later in the same drill.
RETRY_AFTER = CHECKER_DATA["leitner"]["retry_after"]
DRILL_KINDS = ("term", "meaning", "matching")
MATCHING_SIZE = 4


@dataclass(frozen=True)
class Card:
    """A term's place in the Leitner boxes and its record: the glossary ``term_id``, its
    ``box`` (1 to 5), the day it is ``due`` again (None before its first answer), and how
    often it was ``seen`` and answered ``right``.

    >>> Card("pandas", box=2, due=date(2025, 1, 2), seen=1, right=1).box
    2
    """

    term_id: str
    box: int = 1
    due: date | None = None
    seen: int = 0
    right: int = 0


@dataclass(frozen=True)
class Stats:
    """Progress over a glossary: ``boxes`` (box -> cards drilled in it), ``new`` cards never
    drilled, ``answers`` given and how many were ``right``, and cards ``due_today``.

    >>> Stats({1: 1, 2: 1}, new=3, answers=4, right=3, due_today=1).accuracy
    0.75
    """

    boxes: dict[int, int]
    new: int
    answers: int
    right: int
    due_today: int

    @property
    def accuracy(self) -> float:
        """Share of answers that were right (0 before any answer)."""
        return self.right / self.answers if self.answers else 0.0


class Progress:
    """Leitner boxes of glossary cards in a progress store; ``location`` is a URL, a path to
    a SQLite file, or None for ``data_dir()/drills.sqlite3`` (see
    :mod:`~mlcycle_ref.quiz.store`).

    Use it as a context manager, or call ``close()``.

    >>> import tempfile
    >>> with Progress(f"sqlite:///{tempfile.mkdtemp()}/p.sqlite3") as progress:
    ...     _ = progress.record("pandas", False, today=date(2025, 1, 1))
    ...     progress.card("pandas").box, progress.card("numpy").due
    (1, None)
    >>> progress.close()  # done by the with block; closing twice is harmless
    """

    def __init__(self, location: str | Path | None = None):
        # SQLAlchemy is imported only now, when a store opens: checking an answer skips it.
        from mlcycle_ref.quiz.store import DRILLS, Store

        self._store = Store(location, "drills.sqlite3", DRILLS)
        #: Where the cards are kept: the SQLite file, else the URL (password hidden).
        self.path = self._store.path
        #: Set when a damaged file was kept aside and a fresh one started: print it.
        self.notice = self._store.notice

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the store."""
        self._store.close()

    def cards(self, term_ids) -> list[Card]:
        """The cards of the terms ``term_ids`` in their order, read at once; new ones in box 1.

        >>> import tempfile
        >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
        ...     [card.seen for card in progress.cards(["pandas", "numpy"])]
        [0, 0]
        """
        term_ids = list(term_ids)
        stored = {row["term_id"]: row for row in self._store.rows("cards", term_id=term_ids)}
        return [Card(t, stored[t]["box"], date.fromisoformat(stored[t]["due"]),
                     stored[t]["seen"], stored[t]["right"]) if t in stored else Card(t)
                for t in term_ids]

    def card(self, term_id: str) -> Card:
        """The stored card, or a new one in box 1.

        >>> import tempfile
        >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
        ...     progress.card("pandas")
        Card(term_id='pandas', box=1, due=None, seen=0, right=0)
        """
        return self.cards([term_id])[0]

    def record(self, term_id: str, correct: bool, today: date | None = None) -> Card:
        """Move the card of ``term_id`` after an answer (``correct`` or not) given ``today``
        (default: the real today) and save it at once.

        A right answer to a card that is not due yet (an early review) counts in the record
        but leaves the card in its box until its day: reviewing six times in one day must
        not carry a term to the last box. A wrong answer always sends it back to box 1.

        >>> import tempfile
        >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
        ...     first = progress.record("numpy", True, today=date(2025, 1, 1))
        ...     early = progress.record("numpy", True, today=date(2025, 1, 1))
        >>> (first.box, first.due), (early.box, early.seen)
        ((2, datetime.date(2025, 1, 2)), (2, 2))
        """
        today = today or date.today()
        card = self.card(term_id)
        early = card.due is not None and card.due > today
        if correct and early:
            box, due = card.box, card.due
        else:
            box = min(card.box + 1, BOXES) if correct else 1
            due = today + timedelta(days=INTERVALS[box])
        card = replace(card, box=box, due=due, seen=card.seen + 1,
                       right=card.right + bool(correct))
        self._store.replace("cards", term_id=term_id, box=card.box, due=card.due.isoformat(),
                            seen=card.seen, right=card.right)
        return card

    def next_cards(self, term_ids, n: int, today: date | None = None) -> list[str]:
        """Up to ``n`` terms to drill: due ones (lowest box first), new ones, then the rest.

        Ties keep the order of ``term_ids``.

        >>> import tempfile
        >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
        ...     _ = progress.record("numpy", True, today=date(2025, 1, 1))
        ...     progress.next_cards(["numpy", "pandas"], 2, today=date(2025, 1, 1))
        ['pandas', 'numpy']
        """
        today = today or date.today()
        cards = self.cards(term_ids)
        due = sorted((c for c in cards if c.due is not None and c.due <= today),
                     key=lambda c: (c.box, c.due))
        new = [c for c in cards if c.due is None]
        later = sorted((c for c in cards if c.due is not None and c.due > today),
                       key=lambda c: (c.due, c.box))
        return [c.term_id for c in (due + new + later)[:n]]

    def stats(self, term_ids, today: date | None = None) -> Stats:
        """Counts over the terms ``term_ids``, with what is due ``today`` (default: today).

        >>> import tempfile
        >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
        ...     _ = progress.record("numpy", False, today=date(2025, 1, 1))
        ...     stats = progress.stats(["numpy", "pandas"], today=date(2025, 1, 1))
        >>> stats.boxes[1], stats.new, stats.due_today, stats.accuracy
        (1, 1, 1, 0.0)
        """
        today = today or date.today()
        cards = self.cards(term_ids)
        seen = [c for c in cards if c.due is not None]
        return Stats(
            boxes={box: sum(c.box == box for c in seen) for box in range(1, BOXES + 1)},
            new=len(cards) - len(seen),
            answers=sum(c.seen for c in seen),
            right=sum(c.right for c in seen),
            due_today=sum(c.due <= today for c in seen),
        )


def term_question(bank: Bank, term_id: str) -> Question:
    """Read the definition of ``term_id`` in the glossary ``bank``, type the term.

    >>> from mlcycle_ref.quiz import load_bank
    >>> term_question(load_bank("glossary"), "hpo").answer
    'Hyperparameter Optimization'
    """
    return bank.question(f"{term_id}-term")


def meaning_question(bank: Bank, term_id: str, rng: random.Random) -> Question:
    """Pick the definition of ``term_id`` among four from ``bank``, shuffled by ``rng``.

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = meaning_question(load_bank("glossary"), "hpo", random.Random(0))
    >>> len(question.choices), question.answer in question.choices
    (4, True)
    """
    question = bank.question(f"{term_id}-meaning")
    return replace(question, choices=definition_choices(bank.term(term_id), bank.terms, rng))


def matching_question(bank: Bank, term_ids: list[str]) -> Question:
    """Pair each of a few terms ``term_ids`` of ``bank`` with its definition.

    >>> from mlcycle_ref.quiz import load_bank
    >>> [left for left, _ in matching_question(load_bank("glossary"), ["pandas", "numpy"]).pairs]
    ['Pandas', 'NumPy']
    """
    terms = [bank.term(t) for t in term_ids]
    return Question(
        id="match-" + "-".join(term_ids), kind="matching",
        prompt="Match each term with its definition.",
        explanation=" ".join(f"{t.term}: {t.definition}" for t in terms),
        link=terms[0].link.partition("#")[0], difficulty="easy", tags=("glossary",),
        pairs=tuple((t.term, t.definition) for t in terms),
    )


def plan_drill(bank: Bank, progress: Progress, rounds: int, rng: random.Random,
               today: date | None = None) -> list[tuple[Question, tuple[str, ...]]]:
    """The questions of a drill of ``rounds`` questions on the glossary ``bank``, each with
    the terms whose cards its answer moves, picked from ``progress`` as of ``today``.

    Kinds rotate term, meaning, matching; a matching round uses up to four cards. New
    cards come in an order shuffled by ``rng``, so two learners do not see the glossary
    alphabetically.

    >>> import tempfile
    >>> from mlcycle_ref.quiz import load_bank
    >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
    ...     plan = plan_drill(load_bank("glossary"), progress, 3, random.Random(0))
    >>> [(question.kind, len(terms)) for question, terms in plan]
    [('text', 1), ('single', 1), ('matching', 4)]
    """
    ids = [t.id for t in bank.terms]
    rng.shuffle(ids)
    queue = progress.next_cards(ids, rounds * MATCHING_SIZE, today)
    plan = []
    for n in range(rounds):
        if not queue:
            break
        kind = DRILL_KINDS[n % len(DRILL_KINDS)]
        if kind == "matching" and len(queue) >= 2:
            group, queue = queue[:MATCHING_SIZE], queue[MATCHING_SIZE:]
            plan.append((matching_question(bank, group), tuple(group)))
        else:
            term_id, queue = queue[0], queue[1:]
            question = (meaning_question(bank, term_id, rng) if kind == "meaning"
                        else term_question(bank, term_id))
            plan.append((question, (term_id,)))
    return plan


def retry_question(bank: Bank, term_id: str, missed: Question,
                   rng: random.Random) -> Question:
    """The question of ``bank`` that brings the card of ``term_id`` back later in a drill
    after the question ``missed``: another kind of question (type the term after a choice or a
    matching round, else pick the meaning, its choices shuffled by ``rng``).

    >>> from mlcycle_ref.quiz import load_bank
    >>> glossary = load_bank("glossary")
    >>> missed = term_question(glossary, "hpo")
    >>> retry_question(glossary, "hpo", missed, random.Random(0)).kind
    'single'
    """
    if missed.kind == "text":
        return meaning_question(bank, term_id, rng)
    return term_question(bank, term_id)


def terms_right(bank: Bank, question: Question, term_ids: tuple[str, ...],
                missed: tuple[str, ...], correct: bool) -> dict[str, bool]:
    """Which of the cards ``term_ids`` an answer to ``question`` of ``bank`` got right: the
    verdict ``correct``, or for a matching round each pair (terms listed in ``missed`` are
    wrong).

    >>> from mlcycle_ref.quiz import load_bank
    >>> glossary = load_bank("glossary")
    >>> match = matching_question(glossary, ["pandas", "numpy"])
    >>> terms_right(glossary, match, ("pandas", "numpy"), ("NumPy",), False)
    {'pandas': True, 'numpy': False}
    """
    if question.kind != "matching":
        return {term_ids[0]: correct}
    return {t: bank.term(t).term not in missed for t in term_ids}
