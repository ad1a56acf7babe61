"""Checking a response against a question: pure functions that return :class:`Feedback`.

``check(question, response)`` works for every kind; the response takes the form the kind
needs (see :attr:`Question.reference <mlcycle_ref.quiz.bank.Question.reference>`):

========== =============================================================================
kind       response
========== =============================================================================
single     the chosen choice's text, or its index
multiple   a list of choice texts or indices
truefalse  a bool, or text such as "true", "f", "yes"
numeric    a number, or text such as "10" or "10%"
text       the typed text; aliases and small typos are accepted
short      free text, read against the rubric (:mod:`mlcycle_ref.quiz.rubric`)
essay      free text, as ``short``, with a minimum length
matching   a mapping of each left-hand item to the chosen right-hand item
ordering   the items as a list, in the chosen order
========== =============================================================================

Objective kinds are correct only when entirely right; the score gives partial credit.
Short answers and essays are correct when the score reaches the question's pass mark.

>>> from mlcycle_ref.quiz import load_bank
>>> question = load_bank("quiz").question("q04")
>>> feedback = check(question, "To check the model.")
>>> feedback.correct, feedback.score, len(feedback.missed)
(False, 0.0, 3)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from rapidfuzz.distance import OSA, LCSseq

from mlcycle_ref.errors import MlcycleError
from mlcycle_ref.quiz.bank import Question
from mlcycle_ref.quiz.checker_data import CHECKER_DATA
from mlcycle_ref.quiz.rubric import analyse_answer, strip_marks

#: Spaces (the usual ones and those used between thousands), commas and % around a number.
NUMBER_NOISE = "[\t\n\v\f\r \u00a0\u2009\u202f,%]"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class Feedback:
    """The verdict on one response, ready to show or to print as JSON: whether it is
    ``correct``, its ``score`` from 0 to 1, the ``message`` to show, what it ``missed`` (key
    points, right options, pairs or items, as the kind's heading in :data:`MISSED_HEADINGS`
    says), a ``link`` to the section to read, whether the checker is ``unsure`` (the learner
    then marks it) and the question's ``explanation``.

    >>> feedback = Feedback(False, 0.5, "1 of 2 pairs are right.", ("pandas",))
    >>> feedback.to_dict()["missed"], feedback.unsure
    (['pandas'], False)
    """

    correct: bool
    score: float
    message: str
    missed: tuple[str, ...] = ()
    link: str = ""
    #: The checker cannot tell: the learner should compare with the model answer.
    unsure: bool = False
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: correct, unsure, score (rounded to 3 places), message, missed,
        explanation, link."""
        data = asdict(self)
        data["score"] = round(self.score, 3)
        data["missed"] = list(self.missed)
        return data


#: How each kind names the ``missed`` of its feedback, for the front-ends' headings; from the
#: checker data, which the book's script reads too.
MISSED_HEADINGS: dict[str, str] = CHECKER_DATA["missed_headings"]


class ResponseError(MlcycleError, ValueError):
    """A response in a form the question kind cannot read (not a wrong answer).

    >>> from mlcycle_ref.quiz import load_bank
    >>> try:
    ...     check(load_bank("quiz").question("q04-numeric"), "ten")
    ... except ResponseError as error:
    ...     print(error)
    expected a number, found 'ten'
    """


def check(question: Question, response: Any) -> Feedback:
    """Check a ``response`` to any kind of ``question``, in the form the table above gives
    for its kind; the feedback carries the question's link and explanation.

    >>> from mlcycle_ref.quiz import load_bank
    >>> feedback = check(load_bank("quiz").question("q05-choice"), "A data frame")
    >>> feedback.correct, feedback.link
    (True, 'book/toolset/pandas.html')
    """
    return replace(CHECKERS[question.kind](question, response), link=question.html_link,
                   explanation=question.explanation)


def _choice(question: Question, response: Any) -> str:
    if isinstance(response, int) and not isinstance(response, bool):
        if not 0 <= response < len(question.choices):
            raise ResponseError(f"question {question.id}: choice number {response} out of range "
                                f"0..{len(question.choices) - 1}")
        return question.choices[response]
    wanted = _plain(str(response))
    for choice in question.choices:
        if _plain(choice) == wanted:
            return choice
    raise ResponseError(f"question {question.id}: {response!r} is not one of the choices")


def check_single(question: Question, response: Any) -> Feedback:
    """Check a single-choice ``question``: ``response`` is the chosen choice's text (case,
    accents and punctuation aside) or its index.

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = load_bank("quiz").question("q05-choice")
    >>> check_single(question, "a DATA frame").correct, check_single(question, 1).missed
    (True, ('A data frame',))
    """
    chosen = _choice(question, response)
    if chosen == question.answer:
        return Feedback(True, 1.0, "Correct.")
    return Feedback(False, 0.0, f"Not quite: “{chosen}” is not the best answer.",
                    (question.answer,))


def check_multiple(question: Question, response: Any) -> Feedback:
    """Check a multiple-choice ``question``: ``response`` is a list of choice texts or
    indices (or one of them); each wrong pick cancels a right one in the score.

    >>> from mlcycle_ref.quiz import load_bank
    >>> feedback = check_multiple(load_bank("quiz").question("q01-multi"), [0, 1, 3])
    >>> feedback.correct, round(feedback.score, 3), feedback.missed
    (False, 0.333, ('Spotting which features seem to matter',))
    """
    if isinstance(response, str | int):
        response = [response]
    chosen = {_choice(question, r) for r in response}
    right = chosen & set(question.answer)
    wrong = chosen - set(question.answer)
    score = max(0, len(right) - len(wrong)) / len(question.answer)
    missed = [a for a in question.answer if a not in chosen]
    if not missed and not wrong:
        return Feedback(True, 1.0, "Correct: you picked exactly the right options.")
    message = (f"Not quite: {len(right)} of your picks are right and {len(wrong)} wrong; "
               f"{len(missed)} right option(s) not picked.")
    return Feedback(False, score, message, tuple(missed))


def check_truefalse(question: Question, response: Any) -> Feedback:
    """Check a true-or-false ``question``: ``response`` is a bool or a word of
    ``TRUE_WORDS`` or ``FALSE_WORDS`` ("yes", "f" ...).

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = load_bank("quiz").question("q02-tf")
    >>> check_truefalse(question, "F").correct, check_truefalse(question, True).message
    (True, 'Not quite: the statement is false.')
    """
    if isinstance(response, str):
        word = _plain(response)
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ResponseError(f"question {question.id}: expected true or false, "
                                f"found {response!r}")
        response = word in TRUE_WORDS
    if bool(response) == question.answer:
        return Feedback(True, 1.0, "Correct.")
    truth = "true" if question.answer else "false"
    return Feedback(False, 0.0, f"Not quite: the statement is {truth}.")


def parse_number(text: Any) -> float:
    """Read a number typed by a learner (``text``, or a number as it is): ``"10"``,
    ``"10 %"``, ``"1,000"``, ``"0.5"``; anything else raises :class:`ResponseError`.

    >>> parse_number(" 12.5% "), parse_number("1,000")
    (12.5, 1000.0)
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    cleaned = re.sub(NUMBER_NOISE, "", str(text))
    # The same pattern as the browser port, so both read exactly the same numbers: ASCII
    # digits only (Python's \d would also take other scripts' digits, JavaScript's would not).
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", cleaned):
        raise ResponseError(f"expected a number, found {text!r}")
    return float(cleaned)


def check_numeric(question: Question, response: Any) -> Feedback:
    """Check a numeric ``question``: ``response`` is a number or text :func:`parse_number`
    reads; it is right within the question's tolerance.

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = load_bank("quiz").question("q04-numeric")
    >>> check_numeric(question, "10 %").correct, check_numeric(question, 20).message
    (True, 'Not quite: 20% is not the expected value.')
    """
    value = parse_number(response)
    if abs(value - question.answer) <= question.tolerance + 1e-9:
        return Feedback(True, 1.0, "Correct.")
    return Feedback(False, 0.0,
                    f"Not quite: {number_text(value)}{question.unit} is not the expected value.")


def number_text(value: float) -> str:
    """A number (``value``) as JavaScript's ``String(number)`` writes it, so both checkers
    say the same.

    >>> number_text(1234567.0), number_text(0.1), number_text(1e21), number_text(0.0000001)
    ('1234567', '0.1', '1e+21', '1e-7')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    k, n = len(text), len(text) + exponent  # ECMAScript Number::toString, steps k and n
    minus = "-" if value < 0 else ""
    if k <= n <= 21:
        return minus + text + "0" * (n - k)
    if 0 < n <= 21:
        return minus + text[:n] + "." + text[n:]
    if -6 < n <= 0:
        return minus + "0." + "0" * -n + text
    mantissa = text[0] + ("." + text[1:] if k > 1 else "")
    return f"{minus}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _plain(text: str) -> str:
    # Case, accents, punctuation and spacing do not matter when comparing typed names.
    return re.sub(r"[^a-z0-9]+", "", strip_marks(text).lower())


def typo_allowance(text: str) -> int:
    """How many typing slips a name (``text``) of this length may have: 0 up to 4 letters,
    then 1 up to 8, then 2.

    >>> typo_allowance("pandas"), typo_allowance("numpy"), typo_allowance("matplotlib")
    (1, 1, 2)
    """
    return 0 if len(text) <= 4 else 1 if len(text) <= 8 else 2


def check_text(question: Question, response: Any) -> Feedback:
    """Check a text ``question``: ``response`` is the typed name, right when it is the
    answer or an accepted spelling, up to :func:`typo_allowance` slips.

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = load_bank("glossary").question("convergence-term")
    >>> check_text(question, "converging").correct, check_text(question, "Convergense").message
    (True, 'Correct - watch the spelling: “Convergence”.')
    """
    typed = _plain(str(response))
    if not typed:
        return Feedback(False, 0.0, "No answer yet.", (question.answer,))
    for accepted in (question.answer, *question.accepted):
        target = _plain(accepted)
        if typed == target:
            return Feedback(True, 1.0, "Correct.")
        # Optimal string alignment: a swap of two letters is one slip ("nmupy").
        if OSA.distance(typed, target) <= typo_allowance(target):
            return Feedback(True, 1.0, f"Correct - watch the spelling: “{accepted}”.")
    return Feedback(False, 0.0, f"Not quite: the answer is “{question.answer}”.",
                    (question.answer,))


def check_matching(question: Question, response: Any) -> Feedback:
    """Check a matching ``question``: ``response`` maps each left-hand item to the chosen
    right-hand item; the score is the share of pairs that are right.

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = load_bank("quiz").question("q08-match")
    >>> chosen = dict(question.pairs) | {"Data Engineer": "Predictive models and analytical "
    ...                                  "insights"}
    >>> check_matching(question, chosen).message, check_matching(question, chosen).missed
    ('2 of 3 pairs are right.', ('Data Engineer',))
    """
    if not isinstance(response, Mapping):
        raise ResponseError(f"question {question.id}: expected a mapping of left to right items")
    wrong = [left for left, right in question.pairs if response.get(left) != right]
    score = 1 - len(wrong) / len(question.pairs)
    if not wrong:
        return Feedback(True, 1.0, "Correct: every pair matches.")
    right = len(question.pairs) - len(wrong)
    return Feedback(False, score, f"{right} of {len(question.pairs)} pairs are right.",
                    tuple(wrong))


def longest_in_order(response: list[str], items: tuple[str, ...]) -> list[str]:
    """The longest run of response items that keeps the right relative order (an LCS).

    When several runs are equally long, RapidFuzz's choice is kept; the browser port picks the
    same one (it backtracks from the end, dropping a response item on a tie).

    >>> longest_in_order(["b", "a", "c"], ("a", "b", "c"))
    ['b', 'c']
    """
    dropped = {op.src_pos for op in LCSseq.editops(response, items) if op.tag == "delete"}
    return [item for n, item in enumerate(response) if n not in dropped]


def check_ordering(question: Question, response: Any) -> Feedback:
    """Check an ordering ``question``: ``response`` lists every item once (texts or
    indices) in the chosen order; the score is the share in the right relative order.

    >>> from mlcycle_ref.quiz import load_bank
    >>> feedback = check_ordering(load_bank("quiz").question("q01-order"), [1, 0, 2])
    >>> feedback.message, feedback.missed
    ('2 of 3 items are in the right order.', ('Data exploration',))
    """
    response = [question.items[r] if isinstance(r, int) else str(r) for r in response]
    if sorted(response) != sorted(question.items):
        raise ResponseError(f"question {question.id}: expected each item exactly once")
    if response == list(question.items):
        return Feedback(True, 1.0, "Correct: the order is right.")
    kept = longest_in_order(response, question.items)
    misplaced = [item for item in question.items if item not in kept]
    message = f"{len(kept)} of {len(question.items)} items are in the right order."
    return Feedback(False, len(kept) / len(question.items), message, tuple(misplaced))


def parts_missing(question: Question, made: tuple[bool, ...]) -> list[str]:
    """The parts of the question (see ``part`` in the rubric) that no made point answers.

    >>> from mlcycle_ref.quiz import load_bank
    >>> q = load_bank("quiz").question("q03")
    >>> parts_missing(q, (True, True, False))
    ['the comparison']
    """
    parts = dict.fromkeys(p.part for p in question.rubric if p.part)
    covered = {p.part for p, ok in zip(question.rubric, made, strict=True) if ok}
    return [part for part in parts if part not in covered]


def check_rubric(question: Question, response: Any) -> Feedback:
    """Read a short answer or essay (``response``, free text) against the rubric of the
    ``question``.

    Correct needs the pass mark and every part of the question answered, with no claim
    against a key point, no guess ("no idea", "something to do with") and not a keyword list
    or the question restated. When the answer misses exactly one part but comes close to it
    (a phrasing short of one word) and denies nothing, or would pass but voices doubt ("not
    sure", "I guess") or is too close to call (see :func:`marginal`), the verdict is
    *unsure*: the learner compares with the model answer and marks it.

    >>> from mlcycle_ref.quiz import load_bank
    >>> question = load_bank("quiz").question("q07")
    >>> check_rubric(question, "It offers pre-trained models that you fine-tune for your "
    ...              "problem, so you get a quick prototype without training from scratch.").correct
    True
    >>> brief = check_rubric(question, "It offers pre-trained models that you fine-tune.")
    >>> brief.correct, brief.unsure
    (False, True)
    """
    text = str(response or "").strip()
    points = [p.point for p in question.rubric]
    if not text:
        return Feedback(False, 0.0, "No answer yet: write one or two sentences.", tuple(points))
    analysis = analyse_answer(text, question.prompt, question.rubric, dict(question.subjects))
    score = analysis.score
    too_short = question.kind == "essay" and analysis.n_words < question.min_words
    missing_parts = parts_missing(question, analysis.made)
    opposed = any(analysis.contradicted)
    meets = score >= question.pass_mark - 1e-9 and not missing_parts and not too_short
    doubt = marginal(question, analysis) if meets and question.kind == "short" else ""
    correct = (meets and not analysis.hedged and not analysis.doubtful and not opposed
               and not doubt)
    unsure = (not correct and not opposed and not analysis.capped and not analysis.hedged
              and not too_short and (meets or not analysis.denies and _one_step_short(
                  question, analysis, missing_parts)))
    made = sum(analysis.made)
    verdict = "Correct" if correct else "Perhaps" if unsure else "Not yet"
    notes = [f"{verdict}: your answer makes {made} of {len(points)} key points." if not
             analysis.capped else f"{verdict}: your answer mentions {made} of {len(points)} key "
             "points without stating them."]
    if unsure:
        notes.append(f"I cannot tell for sure{' (' + doubt + ')' if doubt else ''}: compare it "
                     "with the model answer and mark it yourself.")
    if analysis.keyword_list:
        notes.append("It reads as a list of keywords, which states nothing: write sentences "
                     "that say what each idea does and how they connect.")
    elif analysis.padded:
        notes.append("It is course terms padded with filler words, which states nothing: write "
                     "sentences that say what each idea does.")
    elif analysis.terse:
        notes.append("It is a few keywords with nothing that links them: write a sentence "
                     "that says what they do.")
    elif analysis.restated:
        notes.append("It mostly repeats the question: say something the question does not.")
    elif analysis.copied_share >= 0.5:
        notes.append("Much of it repeats the question; words taken from the question earn no "
                     "credit.")
    if analysis.hedged or analysis.doubtful:
        notes.append("It reads as a guess: state what you think as a claim.")
    for point, negated, contradicted in zip(question.rubric, analysis.negated,
                                            analysis.contradicted, strict=True):
        if contradicted:
            notes.append(f"It claims the opposite of a key point: {point.point}.")
        elif negated and not correct:
            notes.append(f"It seems to deny a key point: {point.point}.")
    if missing_parts and not analysis.capped:
        notes.append(f"Not yet answered: the part on {' and '.join(missing_parts)}.")
    if too_short:
        notes.append(f"An essay needs at least {question.min_words} words; this has "
                     f"{analysis.n_words}.")
    missed = [p for p, made in zip(points, analysis.made, strict=True) if not made]
    return Feedback(correct, score, " ".join(notes), tuple(missed), unsure=unsure)


def _passes(question: Question, made: tuple[bool, ...]) -> bool:
    return (sum(made) / len(made) >= question.pass_mark - 1e-9
            and not parts_missing(question, made))


def marginal(question: Question, analysis) -> str:
    """Why a short answer to ``question`` that reaches the pass mark is still too close to
    call ("" if it is not), from its ``analysis`` by
    :func:`~mlcycle_ref.quiz.rubric.analyse_answer`: it passes only through a typing slip, a
    part of the question is answered by a lone term and no statement, a "not" or "instead of"
    sits in a sentence that makes a point, it is padded with filler, or two weaker signs meet
    (filler, one point above nothing more than the minimum, an answer far shorter or longer
    than the model answer). A key point denied,
    a light hedge ("maybe") in an answer that leaves a point out, or an answer that leaves a
    point out and is brief (fewer words than ``partial_share`` of the model answer, a
    threshold of ``lexicon.yml``) is too close to call too: there the pass rests on the pass
    mark's leeway, not on evidence for every point.

    >>> from mlcycle_ref.quiz import load_bank
    >>> from mlcycle_ref.quiz.rubric import analyse_answer
    >>> q = load_bank("quiz").question("q01")
    >>> marginal(q, analyse_answer("They analize the dataset, make vizualisations of the "
    ...          "columns and identfy the usefull features.", q.prompt, q.rubric))
    'a key point is matched only through a spelling slip'
    """
    if not _passes(question, analysis.exact):
        return "a key point is matched only through a spelling slip"
    if not _passes(question, tuple(m and not b for m, b in zip(analysis.made, analysis.bare,
                                                                 strict=True))):
        return "a part of the question is answered by a lone term, not a statement"
    if any(analysis.negated):
        return "it seems to deny a key point"
    if analysis.denial_near:
        return "a negation sits next to a key point"
    if analysis.lightly_hedged and not all(analysis.made):
        return "it hedges and leaves a key point out"
    limits = CHECKER_DATA["thresholds"]
    model_words = len(question.model_answer.split())
    if not all(analysis.made) and analysis.n_words < limits["partial_share"] * model_words:
        return "it is brief and leaves a key point out"
    if analysis.chatter > 1:
        return "it is padded with filler words"
    weak = [analysis.chatter == 1,
            analysis.n_words < limits["short_share"] * model_words,
            analysis.n_words > limits["long_share"] * model_words,
            sum(analysis.made) <= math.ceil(question.pass_mark * len(analysis.made) - 1e-9)]
    return "it only just makes the pass mark" if sum(weak) >= 2 else ""


def _one_step_short(question: Question, analysis, missing_parts: list[str]) -> bool:
    # One part missing (or, without parts, one point short of the pass mark), and a phrasing
    # of that part came within one word of matching: the checker's word list may be too narrow.
    near = {p.part if p.part else p.point for p, close in zip(question.rubric, analysis.near,
                                                              strict=True) if close}
    if question.kind != "short" or analysis.n_words < 8:
        return False
    if missing_parts:
        return len(missing_parts) == 1 and missing_parts[0] in near and (
            analysis.score + 1e-9 >= question.pass_mark - 1 / len(question.rubric))
    short_by_one = analysis.score < question.pass_mark - 1e-9 and (
        sum(analysis.made) + 1) / len(analysis.made) >= question.pass_mark - 1e-9
    return short_by_one and any(analysis.near)


CHECKERS: dict[str, Callable[[Question, Any], Feedback]] = {
    "single": check_single,
    "multiple": check_multiple,
    "truefalse": check_truefalse,
    "numeric": check_numeric,
    "text": check_text,
    "short": check_rubric,
    "essay": check_rubric,
    "matching": check_matching,
    "ordering": check_ordering,
}
