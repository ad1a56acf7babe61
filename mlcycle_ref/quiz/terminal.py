"""The terminal front-end: an interactive quiz and glossary drill on stdin and stdout.

Answers are typed on one line (an essay ends with an empty line). Choices are letters,
``a c`` picks several, matching takes ``1b 2a 3c`` (or the letters in order), ordering
takes the letters in the order you choose. An empty line skips a question and ``quit``
ends the quiz; the score summary is printed either way.

>>> import io
>>> from mlcycle_ref.quiz import load_bank
>>> out = io.StringIO()
>>> result = run_quiz(load_bank("quiz"), ids=["q02-tf"], stdin=io.StringIO("f\\n"), stdout=out)
>>> result.score, result.total
(1.0, 1)
"""

from __future__ import annotations

import random
import string
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from mlcycle_ref.quiz.bank import Bank, Question
from mlcycle_ref.quiz.checking import (
    MISSED_HEADINGS,
    Feedback,
    ResponseError,
    check,
    parse_number,
)
from mlcycle_ref.quiz.drills import (
    BOXES,
    INTERVALS,
    RETRY_AFTER,
    Progress,
    plan_drill,
    retry_question,
    terms_right,
)
from mlcycle_ref.quiz.history import PASSED, History, outcome_of
from mlcycle_ref.quiz.shuffle import displayed, matching_targets, ordering_start, seed_for

WIDTH = 88
QUIT_WORDS = ("quit", "exit", ":q")


class Quit(Exception):
    """The learner asked to stop, or input ran out.

    >>> import io
    >>> Console(io.StringIO("quit\\n")).read()
    Traceback (most recent call last):
    ...
    mlcycle_ref.quiz.terminal.Quit
    """


@dataclass
class QuizResult:
    """Scores of a quiz run, question by question: ``scores`` (question id -> score from 0
    to 1) and ``correct`` (question id -> passed) for the questions reached, and the
    ``total`` number of questions asked for.

    >>> result = QuizResult({"q1": 1.0, "q2": 0.5}, {"q1": True, "q2": False}, total=3)
    >>> result.score, result.total
    (1.5, 3)
    """

    scores: dict[str, float] = field(default_factory=dict)
    correct: dict[str, bool] = field(default_factory=dict)
    total: int = 0

    @property
    def score(self) -> float:
        """Sum of the question scores: one point per question at most."""
        return sum(self.scores.values())


class Console:
    """Reads answers and writes wrapped text; the only place that touches the streams.

    ``stdin`` and ``stdout`` are the streams to read from and write to (by default the
    process's own). ``say`` wraps ``text`` at 88 characters, each line starting with
    ``indent``; ``read`` prints ``prompt`` and returns one stripped line; ``read_block``
    joins lines up to an empty one. Both raise :class:`Quit` on ``quit`` or at the end of
    the input.

    >>> import io
    >>> console = Console(io.StringIO("t\\nfirst line\\nsecond line\\n\\n"))
    >>> console.say("Pandas holds tables.", indent="  ")
      Pandas holds tables.
    >>> console.read()
    > 't'
    >>> console.read_block()
    > > > 'first line second line'
    """

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None):
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout

    def say(self, text: str = "", indent: str = "") -> None:
        lines = textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent,
                              break_long_words=False, break_on_hyphens=False)
        print("\n".join(lines) if text else "", file=self.stdout)

    def read(self, prompt: str = "> ") -> str:
        print(prompt, end="", file=self.stdout, flush=True)
        line = self.stdin.readline()
        if not line or line.strip().lower() in QUIT_WORDS:
            raise Quit
        return line.strip()

    def read_block(self) -> str:
        """Lines up to an empty line (or the end of input)."""
        lines = []
        while True:
            print("> ", end="", file=self.stdout, flush=True)
            line = self.stdin.readline()
            if not line.strip():
                if not line and not lines:
                    raise Quit
                return " ".join(lines)
            lines.append(line.strip())


def _letters(n: int) -> str:
    return string.ascii_lowercase[:n]


def _pick_letters(text: str, n: int) -> list[int]:
    letters = [c for c in text.lower() if c.isalpha()]
    if not letters or any(c not in _letters(n) for c in letters):
        raise ResponseError(f"type letters from a to {_letters(n)[-1]}")
    return [_letters(n).index(c) for c in letters]


class Asker:
    """Shows one question in the terminal, reads and parses the answer, checks it.

    ``console`` is the :class:`Console` to talk through; ``seed_of(question id)`` gives the
    seed of that question's display order in this attempt (see
    :func:`~mlcycle_ref.quiz.shuffle.seed_for`). ``ask`` shows ``question`` after the label
    ``number`` (such as ``"[2/5] "``) and asks again while the answer cannot be read.

    >>> import io
    >>> from mlcycle_ref.quiz.bank import Question
    >>> question = Question("t1", "single", "What does pandas hold?", "", "book/tools",
    ...                     "easy", (), choices=("tables", "images"), answer="tables")
    >>> asker = Asker(Console(io.StringIO("z\\na\\n")), lambda question_id: 0)
    >>> asker.ask(question, "[1/1] ").correct
    <BLANKLINE>
    [1/1] What does pandas hold?
       a) tables
       b) images
      (type a letter)
    >   Sorry, I could not read that: type letters from a to b.
    > True
    """

    def __init__(self, console: Console, seed_of: Callable[[str], int]):
        self.console, self.seed_of = console, seed_of

    def ask(self, question: Question, number: str = "") -> Feedback | None:
        """Ask until the answer can be read; None when skipped with an empty line."""
        say = self.console.say
        say()
        say(f"{number}{question.prompt}")
        parse = getattr(self, f"_show_{question.kind}")(question, self.seed_of(question.id))
        while True:
            try:
                text = (self.console.read_block() if question.kind == "essay"
                        else self.console.read())
                if not text:
                    return None
                return check(question, parse(text))
            except ResponseError as error:
                say(f"Sorry, I could not read that: {error}.", "  ")

    def _list(self, items) -> None:
        for letter, item in zip(_letters(len(items)), items, strict=True):
            self.console.say(f"{letter}) {item}", "   ")

    def _show_single(self, question: Question, seed: int):
        choices = list(displayed(question, seed).choices)
        self._list(choices)
        self.console.say("(type a letter)", "  ")
        return lambda text: choices[_pick_letters(text, len(choices))[0]]

    def _show_multiple(self, question: Question, seed: int):
        choices = list(displayed(question, seed).choices)
        self._list(choices)
        self.console.say("(type every letter that applies, e.g. 'a c')", "  ")
        return lambda text: [choices[i] for i in _pick_letters(text, len(choices))]

    def _show_truefalse(self, question: Question, seed: int):
        self.console.say("(true or false: t/f)", "  ")
        return lambda text: text

    def _show_numeric(self, question: Question, seed: int):
        self.console.say(f"(a number{', in ' + question.unit if question.unit else ''})", "  ")
        return parse_number

    def _show_text(self, question: Question, seed: int):
        self.console.say("(type the term)", "  ")
        return lambda text: text

    def _show_short(self, question: Question, seed: int):
        self.console.say("(answer in one or two sentences on one line)", "  ")
        return lambda text: text

    def _show_essay(self, question: Question, seed: int):
        self.console.say(f"(write at least {question.min_words} words; finish with an empty "
                         "line)", "  ")
        return lambda text: text

    def _show_matching(self, question: Question, seed: int):
        lefts = [left for left, _ in displayed(question, seed).pairs]
        rights = matching_targets(question, seed)
        for n, left in enumerate(lefts, 1):
            self.console.say(f"{n}. {left}", "   ")
        self._list(rights)
        self.console.say("(pair them like '1b 2a 3c', or give the letters in order)", "  ")

        def parse(text: str) -> dict[str, str]:
            words = text.replace(",", " ").split()
            if len(words) == 1 and len(words[0]) == len(lefts) and words[0].isalpha():
                words = list(words[0])
            if len(words) == len(lefts) and all(w.isalpha() and len(w) == 1 for w in words):
                picks = _pick_letters("".join(words), len(rights))
                return {left: rights[i] for left, i in zip(lefts, picks, strict=True)}
            chosen = {}
            for word in words:
                number, letter = word.rstrip(string.ascii_letters), word[-1:]
                number = number.rstrip("-:.=")
                if not number.isdigit() or not 1 <= int(number) <= len(lefts):
                    raise ResponseError(f"'{word}' should be a number 1-{len(lefts)} and a letter")
                chosen[lefts[int(number) - 1]] = rights[_pick_letters(letter, len(rights))[0]]
            return chosen

        return parse

    def _show_ordering(self, question: Question, seed: int):
        items = ordering_start(question.items, seed)
        self._list(items)
        self.console.say("(type the letters in the right order, e.g. 'c a b')", "  ")

        def parse(text: str) -> list[str]:
            picks = _pick_letters(text, len(items))
            if sorted(picks) != list(range(len(items))):
                raise ResponseError("use every letter exactly once")
            return [items[i] for i in picks]

        return parse


def show_feedback(console: Console, question: Question, feedback: Feedback | None) -> None:
    """Print on ``console`` the verdict of ``feedback`` on an answer to ``question`` (None:
    skipped), the missed points, the explanation and where to read more.

    >>> from mlcycle_ref.quiz import check
    >>> from mlcycle_ref.quiz.bank import Question
    >>> question = Question("t1", "truefalse", "Pandas holds tables.",
    ...                     "A DataFrame is a table.", "book/tools", "easy", (), answer=True)
    >>> show_feedback(Console(), question, check(question, "t"))
      Correct.
      A DataFrame is a table.
      Read more: book/tools.html
    """
    if feedback is None:
        console.say("Skipped.", "  ")
    else:
        extra = f" (score {feedback.score:.2f})" if question.kind in ("short", "essay") else ""
        console.say(feedback.message + extra, "  ")
        heading = MISSED_HEADINGS.get(question.kind)
        if feedback.missed and heading:
            console.say(heading, "  ")
            for point in feedback.missed:
                console.say(f"- {point}", "    ")
    console.say(question.explanation, "  ")
    console.say(f"Read more: {question.html_link}", "  ")


def self_mark(console: Console, question: Question) -> bool:
    """Show the model answer of ``question`` on ``console`` and let the learner judge their
    own answer: True for yes, asked again until the reply is y or n.

    >>> import io
    >>> from mlcycle_ref.quiz.bank import Question
    >>> question = Question("s1", "short", "What is pandas for?", "", "book/tools", "easy",
    ...                     (), model_answer="Loading and reshaping tables.")
    >>> self_mark(Console(io.StringIO("maybe\\ny\\n")), question)
      I cannot tell for sure. Compare your answer with this model answer:
        Loading and reshaping tables.
    Does your answer make the same points? (y/n)   Type y or n.
    Does your answer make the same points? (y/n) True
    """
    console.say("I cannot tell for sure. Compare your answer with this model answer:", "  ")
    console.say(question.model_answer, "    ")
    while True:
        reply = console.read("Does your answer make the same points? (y/n) ").lower()
        if reply in ("y", "yes", "n", "no"):
            return reply.startswith("y")
        console.say("Type y or n.", "  ")


def run_quiz(bank: Bank, ids=None, shuffle: bool = False, learner: str = "anonymous",
             attempt: int = 1, history: History | None = None, stdin: TextIO | None = None,
             stdout: TextIO | None = None) -> QuizResult:
    """Ask the bank's questions (or those with ``ids``) and print a score summary.

    Choices, matching targets and ordering items appear in an order drawn for this
    ``learner`` and ``attempt``; ``shuffle`` also shuffles the questions. With a
    ``history``, the learner and the attempt number come from it and every outcome is saved
    as soon as it is known. When the checker is unsure of a short answer, the learner
    compares it with the model answer and marks it; it is recorded as self-marked.
    Answers are read from ``stdin`` and everything is printed to ``stdout`` (by default the
    process's own streams).

    >>> import io
    >>> from pathlib import Path
    >>> from mlcycle_ref.quiz.bank import Bank, Question
    >>> question = Question("t1", "truefalse", "Pandas holds tables.",
    ...                     "A DataFrame is a table.", "book/tools", "easy", (), answer=True)
    >>> tools = Bank("tools", "Tools quiz", Path("tools.yml"), (question,))
    >>> run_quiz(tools, stdin=io.StringIO("t\\n")).correct
    Tools quiz - 1 question(s), attempt 1. Empty line: skip; 'quit': stop.
    <BLANKLINE>
    [1/1] Pandas holds tables.
      (true or false: t/f)
    >   Correct.
      A DataFrame is a table.
      Read more: book/tools.html
    <BLANKLINE>
    Score: 1.00 / 1 (100%); 1 correct, 0 not reached.
      ok  t1                       1.00
    {'t1': True}
    """
    console = Console(stdin, stdout)
    attempt_id = None
    if history is not None:
        learner, attempt = history.learner, history.next_number(bank.name)
        attempt_id = history.start(bank.name)
    questions = list(bank.select(ids))
    if shuffle:
        random.Random(seed_for(learner, attempt, bank.name)).shuffle(questions)
    asker = Asker(console, lambda question_id: seed_for(learner, attempt, question_id))
    result = QuizResult(total=len(questions))
    console.say(f"{bank.title} - {len(questions)} question(s), attempt {attempt}. "
                "Empty line: skip; 'quit': stop.")
    try:
        for n, question in enumerate(questions, 1):
            feedback = asker.ask(question, f"[{n}/{len(questions)}] ")
            marked = None
            if feedback is not None and feedback.unsure:
                show_feedback(console, question, feedback)
                marked = self_mark(console, question)
            outcome = outcome_of(feedback, marked)
            score = 1.0 if outcome == "self-right" else feedback.score if feedback else 0.0
            result.scores[question.id] = score
            result.correct[question.id] = outcome in PASSED
            if marked is None:
                show_feedback(console, question, feedback)
            if attempt_id is not None:
                history.record(attempt_id, question.id, outcome, score)
    except Quit:
        console.say()
        console.say("Stopped.")
    print_summary(console, questions, result)
    return result


def print_history(history: History, bank: Bank, stdout: TextIO | None = None) -> None:
    """Print the score of every attempt at ``bank`` kept in ``history`` and what is left to
    review, to ``stdout`` (by default the process's own).

    >>> import tempfile
    >>> from pathlib import Path
    >>> tools = Bank("tools", "Tools quiz", Path("tools.yml"), ())
    >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
    ...     attempt = history.start("tools")
    ...     history.record(attempt, "t1", "wrong", 0.0)
    ...     print_history(history, tools)  # doctest: +ELLIPSIS
    Tools quiz: 1 attempt(s), kept in .../h.sqlite3
      #1 ...: 0.00 / 1, 0 right
      To review: 1 question(s) - mlcycle quiz tools --review
    """
    console = Console(stdout=stdout)
    attempts = history.attempts(bank.name)
    if not attempts:
        console.say(f"No attempts at {bank.title} yet (kept in {history.path}).")
        return
    console.say(f"{bank.title}: {len(attempts)} attempt(s), kept in {history.path}")
    for a in attempts:
        self_marked = f", {a.self_marked} self-marked" if a.self_marked else ""
        console.say(f"#{a.number} {a.started}: {a.score:.2f} / {a.total}, {a.right} right"
                    f"{self_marked}", "  ")
    missed = history.missed(bank.name)
    console.say(f"To review: {len(missed)} question(s)"
                + (f" - mlcycle quiz {bank.name} --review" if missed else ""), "  ")


def print_summary(console: Console, questions: list[Question], result: QuizResult) -> None:
    """Print on ``console`` the total of ``result`` and the score of each of ``questions``
    that was reached (those not reached are counted, not listed).

    >>> from mlcycle_ref.quiz import load_bank
    >>> questions = load_bank("quiz").select(["q02-tf", "q02-choice"])
    >>> print_summary(Console(), questions, QuizResult({"q02-tf": 1.0}, {"q02-tf": True}, 2))
    <BLANKLINE>
    Score: 1.00 / 2 (50%); 1 correct, 1 not reached.
      ok  q02-tf                   1.00
    """
    console.say()
    share = result.score / result.total if result.total else 0.0
    console.say(f"Score: {result.score:.2f} / {result.total} ({share:.0%}); "
                f"{sum(result.correct.values())} correct, "
                f"{result.total - len(result.scores)} not reached.")
    for question in questions:
        if question.id in result.scores:
            mark = "ok " if result.correct[question.id] else "-- "
            console.say(f"{mark} {question.id:<24} {result.scores[question.id]:.2f}", "  ")


def run_drill(bank: Bank, progress: Progress, rounds: int = 10, seed: int | None = None,
              today: date | None = None, stdin: TextIO | None = None,
              stdout: TextIO | None = None) -> dict[str, bool]:
    """A glossary drill of ``rounds`` questions; every answer moves its cards at once.

    A missed card comes back ``RETRY_AFTER`` questions later (or at the end) as a question
    of another kind, up to twice per drill. The result maps each card to its first answer.

    The cards of glossary ``bank`` move in ``progress``; ``seed`` makes the choice of cards
    and questions repeatable (None: a fresh drill each time), ``today`` is the day the
    answers count for (by default the real today), and answers are read from ``stdin`` and
    everything printed to ``stdout`` (by default the process's own streams).

    >>> import datetime, io, tempfile
    >>> from mlcycle_ref.quiz import load_bank
    >>> from mlcycle_ref.quiz.drills import Progress
    >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
    ...     results = run_drill(load_bank("glossary"), progress, rounds=1, seed=0,
    ...                         today=datetime.date(2025, 1, 6), stdin=io.StringIO("\\n"),
    ...                         stdout=io.StringIO())
    ...     [progress.card(term_id).box for term_id in results], list(results.values())
    ([1], [False])
    """
    console = Console(stdin, stdout)
    if progress.notice:
        # Unwrapped, so the file names can be copied whole.
        print(progress.notice, file=console.stdout)
    rng = random.Random(seed)
    plan = plan_drill(bank, progress, rounds, rng, today)
    drill = rng.getrandbits(32) if seed is None else seed
    asker = Asker(console, lambda question_id: seed_for("drill", drill, question_id))
    results: dict[str, bool] = {}
    retries: dict[str, int] = {}
    again: set[int] = set()  # ids of the plan entries that bring a missed card back
    console.say(f"Glossary drill - {len(plan)} round(s). Empty line: skip; 'quit': stop.")
    n = 0
    try:
        while n < len(plan):
            question, term_ids = plan[n]
            n += 1
            label = f"[{n}/{len(plan)}] " + ("(again) " if id(plan[n - 1]) in again else "")
            feedback = asker.ask(question, label)
            missed = feedback.missed if feedback else tuple(bank.term(t).term for t in term_ids)
            right = terms_right(bank, question, term_ids, missed,
                                bool(feedback and feedback.correct))
            for term_id, ok in right.items():
                card = progress.record(term_id, ok, today)
                results.setdefault(term_id, ok)
                console.say(f"{bank.term(term_id).term}: box {card.box}", "  ")
                if not ok and retries.get(term_id, 0) < 2:
                    retries[term_id] = retries.get(term_id, 0) + 1
                    entry = (retry_question(bank, term_id, question, rng), (term_id,))
                    again.add(id(entry))
                    plan.insert(min(n + RETRY_AFTER - 1, len(plan)), entry)
            show_feedback(console, question, feedback)
    except Quit:
        console.say()
        console.say("Stopped; progress so far is saved.")
    console.say()
    console.say(f"Drill done: {sum(results.values())} of {len(results)} card(s) right "
                "at the first try.")
    return results


def print_stats(bank: Bank, progress: Progress, today: date | None = None,
                stdout: TextIO | None = None) -> None:
    """Print how many terms of glossary ``bank`` sit in each box of ``progress``, how many
    are new and what is due on ``today`` (by default the real today), to ``stdout`` (by
    default the process's own).

    >>> import datetime, tempfile
    >>> from pathlib import Path
    >>> from mlcycle_ref.quiz.bank import Bank, Term
    >>> tools = Bank("tools", "Tools", Path("tools.yml"), (),
    ...              terms=(Term("pandas", "Pandas", "Tables."), Term("numpy", "NumPy", "Arrays.")))
    >>> day = datetime.date(2025, 1, 6)
    >>> with Progress(f"{tempfile.mkdtemp()}/p.sqlite3") as progress:
    ...     _ = progress.record("pandas", True, today=day)
    ...     print_stats(tools, progress, today=day)  # doctest: +ELLIPSIS
    Glossary progress (2 terms), kept in .../p.sqlite3
      Box 1 (review the same day): 0
      Box 2 (review after 1 day): 1
      Box 3 (review after 3 days): 0
      Box 4 (review after 7 days): 0
      Box 5 (review after 14 days): 0
      New (not drilled yet): 1
      Answers: 1, right: 1 (100%)
      Due today: 0
    """
    console = Console(stdout=stdout)
    stats = progress.stats([t.id for t in bank.terms], today)
    console.say(f"Glossary progress ({len(bank.terms)} terms), kept in {progress.path}")
    for box in range(1, BOXES + 1):
        days = INTERVALS[box]
        every = "the same day" if days == 0 else f"after {days} day{'s' * (days > 1)}"
        console.say(f"Box {box} (review {every}): {stats.boxes[box]}", "  ")
    console.say(f"New (not drilled yet): {stats.new}", "  ")
    console.say(f"Answers: {stats.answers}, right: {stats.right} ({stats.accuracy:.0%})", "  ")
    console.say(f"Due today: {stats.due_today}", "  ")
