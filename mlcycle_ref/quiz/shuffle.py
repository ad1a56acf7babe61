"""Seeded shuffles of choices, matching targets and ordering items, the same in Python and JS.

A bank keeps the author's order; every front-end shows a fresh order per attempt, drawn from a
seed made of the learner, the attempt and the question (:func:`seed_for`), so a test or a
learner who replays an attempt sees the same screen again. The generator is mulberry32 and
the seed hash FNV-1a over UTF-8: a few lines each, ported line for line in
``static/quiz-check.js`` (``seedFor``, ``shuffled``), so the book shows the order Python would.

>>> shuffled(["a", "b", "c", "d"], seed_for("learner", 1, "q01"))
['a', 'c', 'b', 'd']
>>> shuffled(["a", "b", "c", "d"], seed_for("learner", 2, "q01"))
['c', 'd', 'b', 'a']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

from mlcycle_ref.quiz.bank import Question

T = TypeVar("T")
MASK = 0xFFFFFFFF


def fnv1a(text: str) -> int:
    """A 32-bit FNV-1a hash of the UTF-8 bytes of ``text``.

    >>> fnv1a(""), fnv1a("a")
    (2166136261, 3826002220)
    """
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & MASK
    return value


def seed_for(learner: str, attempt: int, scope: str) -> int:
    """The seed of one question's shuffle in one attempt of one learner: the FNV-1a hash of
    ``learner`` (the learner's id in the attempt history), ``attempt`` (the attempt's number
    for that bank, from 1) and ``scope`` (what is shuffled: a question id, or a bank name
    when the questions themselves are shuffled).

    >>> seed_for("learner", 1, "q01")
    868661177
    >>> seed_for("learner", 1, "q01") == seed_for("learner", 2, "q01")
    False
    """
    return fnv1a(f"{learner}|{attempt}|{scope}")


def mulberry32(seed: int) -> Iterator[float]:
    """Endless floats in [0, 1) from a 32-bit ``seed`` (wider seeds keep their low 32 bits);
    mulberry32: tiny, fast, easy to port exactly.

    >>> from itertools import islice
    >>> [round(x, 4) for x in islice(mulberry32(1), 3)]
    [0.6271, 0.0027, 0.5274]
    """
    state = seed & MASK
    while True:
        state = (state + 0x6D2B79F5) & MASK
        t = ((state ^ (state >> 15)) * (state | 1)) & MASK
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & MASK)) & MASK) ^ t
        yield ((t ^ (t >> 14)) & MASK) / 4294967296


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    """A Fisher-Yates shuffle of a copy of ``items`` driven by :func:`mulberry32` from
    ``seed``; the same seed gives the same order here and in the browser.

    >>> shuffled([1, 2, 3, 4, 5], 42)
    [1, 5, 3, 2, 4]
    """
    result = list(items)
    draws = mulberry32(seed)
    for i in range(len(result) - 1, 0, -1):
        j = int(next(draws) * (i + 1))
        result[i], result[j] = result[j], result[i]
    return result


def displayed(question: Question, seed: int) -> Question:
    """The question as one attempt shows it: choices, pairs and persona items reordered
    by ``seed`` (from :func:`seed_for`).

    Checking does not depend on the order of ``choices`` or ``pairs``, so the shown question
    checks exactly as the bank's. Ordering items keep the author's order (it is the answer);
    front-ends show them with :func:`ordering_start`.

    >>> from mlcycle_ref.quiz import load_bank
    >>> q = load_bank("quiz").question("q02-choice")
    >>> sorted(displayed(q, 7).choices) == sorted(q.choices)
    True
    """
    # Shuffling starts from a sorted copy, so a page that already lists the choices in
    # another order (the book's) still shows what Python would for the same seed.
    if question.kind in ("single", "multiple"):
        return replace(question, choices=tuple(shuffled(in_code_order(question.choices), seed)))
    if question.kind == "matching":
        by_left = sorted(question.pairs, key=lambda pair: utf16(pair[0]))
        return replace(question, pairs=tuple(shuffled(by_left, seed)))
    return question


def utf16(text: str) -> bytes:
    """A sort key that orders text as JavaScript's ``<`` does (by UTF-16 code units).

    >>> utf16("é")
    b'\\x00\\xe9'
    """
    return text.encode("utf-16-be")


def in_code_order(items: Sequence[str]) -> list[str]:
    """The texts ``items`` sorted as JavaScript sorts them by default.

    >>> in_code_order(["b", "a", "\U0001F600", "\uFFFD"])
    ['a', 'b', '😀', '�']
    """
    return sorted(items, key=utf16)


def ordering_start(items: Sequence[T], seed: int) -> list[T]:
    """``items`` in an order drawn from ``seed`` that is never already the right one (for
    two or more items): a draw that keeps the order is rotated by one.

    >>> ordering_start(["a", "b"], 1)
    ['b', 'a']
    """
    order = shuffled(items, seed)
    if len(order) > 1 and order == list(items):
        order = order[1:] + order[:1]
    return order


def matching_targets(question: Question, seed: int) -> list[str]:
    """The distinct right-hand items of a matching ``question``, in an order drawn from
    ``seed`` (another order than that of the left-hand items for the same seed).

    >>> from mlcycle_ref.quiz.bank import Question
    >>> tools = Question("tools", "matching", "Pair each library with what it handles.", "",
    ...                  "book/x", "easy", (), pairs=(("pandas", "tables"),
    ...                  ("NumPy", "arrays"), ("Matplotlib", "plots")))
    >>> matching_targets(tools, 3)
    ['plots', 'arrays', 'tables']
    """
    return shuffled(in_code_order({right for _, right in question.pairs}), seed ^ 0x9E3779B9)
