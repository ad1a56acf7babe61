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
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from mlcycle_ref.quiz.bank import Bank, Question
from mlcycle_ref.quiz.checking import Feedback, ResponseError, check, parse_number
from mlcycle_ref.quiz.drills import BOXES, INTERVALS, Progress, plan_drill, terms_right

WIDTH = 88
QUIT_WORDS = ("quit", "exit", ":q")


class Quit(Exception):
    """The learner asked to stop, or input ran out."""


@dataclass
class QuizResult:
    """Scores of a quiz run, question by question."""

    scores: dict[str, float] = field(default_factory=dict)
    correct: dict[str, bool] = field(default_factory=dict)
    total: int = 0

    @property
    def score(self) -> float:
        """Sum of the question scores: one point per question at most."""
        return sum(self.scores.values())


class Console:
    """Reads answers and writes wrapped text; the only place that touches the streams."""

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
    """Shows one question in the terminal, reads and parses the answer, checks it."""

    def __init__(self, console: Console, rng: random.Random, shuffle: bool = False):
        self.console, self.rng, self.shuffle = console, rng, shuffle

    def ask(self, question: Question, number: str = "") -> Feedback | None:
        """Ask until the answer can be read; None when skipped with an empty line."""
        say = self.console.say
        say()
        say(f"{number}{question.prompt}")
        parse = getattr(self, f"_show_{question.kind}")(question)
        while True:
            try:
                text = (self.console.read_block() if question.kind == "essay"
                        else self.console.read())
                if not text:
                    return None
                return check(question, parse(text))
            except ResponseError as error:
                say(f"Sorry, I could not read that: {error}.", "  ")

    def _shown(self, items) -> list:
        items = list(items)
        if self.shuffle:
            self.rng.shuffle(items)
        return items

    def _list(self, items) -> None:
        for letter, item in zip(_letters(len(items)), items, strict=True):
            self.console.say(f"{letter}) {item}", "   ")

    def _show_single(self, question: Question):
        choices = self._shown(question.choices)
        self._list(choices)
        self.console.say("(type a letter)", "  ")
        return lambda text: choices[_pick_letters(text, len(choices))[0]]

    def _show_multiple(self, question: Question):
        choices = self._shown(question.choices)
        self._list(choices)
        self.console.say("(type every letter that applies, e.g. 'a c')", "  ")
        return lambda text: [choices[i] for i in _pick_letters(text, len(choices))]

    def _show_truefalse(self, question: Question):
        self.console.say("(true or false: t/f)", "  ")
        return lambda text: text

    def _show_numeric(self, question: Question):
        self.console.say(f"(a number{', in ' + question.unit if question.unit else ''})", "  ")
        return parse_number

    def _show_text(self, question: Question):
        self.console.say("(type the term)", "  ")
        return lambda text: text

    def _show_short(self, question: Question):
        self.console.say("(answer in one or two sentences on one line)", "  ")
        return lambda text: text

    def _show_essay(self, question: Question):
        self.console.say(f"(write at least {question.min_words} words; finish with an empty "
                         "line)", "  ")
        return lambda text: text

    def _show_matching(self, question: Question):
        lefts = [left for left, _ in question.pairs]
        rights = sorted({right for _, right in question.pairs})
        self.rng.shuffle(rights)
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

    def _show_ordering(self, question: Question):
        items = list(question.items)
        while len(items) > 1 and items == list(question.items):
            self.rng.shuffle(items)
        self._list(items)
        self.console.say("(type the letters in the right order, e.g. 'c a b')", "  ")

        def parse(text: str) -> list[str]:
            picks = _pick_letters(text, len(items))
            if sorted(picks) != list(range(len(items))):
                raise ResponseError("use every letter exactly once")
            return [items[i] for i in picks]

        return parse


def show_feedback(console: Console, question: Question, feedback: Feedback | None) -> None:
    """Print a verdict, the missed points, the explanation and where to read more."""
    if feedback is None:
        console.say("Skipped.", "  ")
    else:
        extra = f" (score {feedback.score:.2f})" if question.kind in ("short", "essay") else ""
        console.say(feedback.message + extra, "  ")
        if feedback.missed and question.kind in ("short", "essay"):
            console.say("Missing:", "  ")
            for point in feedback.missed:
                console.say(f"- {point}", "    ")
    console.say(question.explanation, "  ")
    console.say(f"Read more: {question.html_link}", "  ")


def run_quiz(bank: Bank, ids=None, shuffle: bool = False, seed: int = 0,
             stdin: TextIO | None = None, stdout: TextIO | None = None) -> QuizResult:
    """Ask the bank's questions (or those with ``ids``) and print a score summary."""
    console = Console(stdin, stdout)
    rng = random.Random(seed)
    questions = list(bank.select(ids))
    if shuffle:
        rng.shuffle(questions)
    asker = Asker(console, rng, shuffle)
    result = QuizResult(total=len(questions))
    console.say(f"{bank.title} - {len(questions)} question(s). Empty line: skip; 'quit': stop.")
    try:
        for n, question in enumerate(questions, 1):
            feedback = asker.ask(question, f"[{n}/{len(questions)}] ")
            result.scores[question.id] = feedback.score if feedback else 0.0
            result.correct[question.id] = bool(feedback and feedback.correct)
            show_feedback(console, question, feedback)
    except Quit:
        console.say()
        console.say("Stopped.")
    print_summary(console, questions, result)
    return result


def print_summary(console: Console, questions: list[Question], result: QuizResult) -> None:
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
    """A glossary drill of ``rounds`` questions; every answer moves its cards at once."""
    console = Console(stdin, stdout)
    rng = random.Random(seed)
    plan = plan_drill(bank, progress, rounds, rng, today)
    asker = Asker(console, rng)
    results: dict[str, bool] = {}
    console.say(f"Glossary drill - {len(plan)} round(s). Empty line: skip; 'quit': stop.")
    try:
        for n, (question, term_ids) in enumerate(plan, 1):
            feedback = asker.ask(question, f"[{n}/{len(plan)}] ")
            missed = feedback.missed if feedback else tuple(bank.term(t).term for t in term_ids)
            right = terms_right(bank, question, term_ids, missed,
                                bool(feedback and feedback.correct))
            for term_id, ok in right.items():
                card = progress.record(term_id, ok, today)
                results[term_id] = ok
                console.say(f"{bank.term(term_id).term}: box {card.box}", "  ")
            show_feedback(console, question, feedback)
    except Quit:
        console.say()
        console.say("Stopped; progress so far is saved.")
    console.say()
    console.say(f"Drill done: {sum(results.values())} of {len(results)} card(s) right.")
    return results


def print_stats(bank: Bank, progress: Progress, today: date | None = None,
                stdout: TextIO | None = None) -> None:
    """Print how many terms sit in each box, how many are new and what is due."""
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
