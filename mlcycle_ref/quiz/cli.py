"""The ``mlcycle quiz`` and ``mlcycle glossary`` commands.

``register(subparsers)`` adds them to the ``mlcycle`` parser; each sets ``handler`` to a
handler that takes the parsed arguments and returns the exit status::

    mlcycle quiz [BANK] [--ids ID ...] [--shuffle] [--seed N]   interactive quiz
    mlcycle quiz [BANK] --review                                 the questions last missed
    mlcycle quiz [BANK] --history                                score of every attempt
    mlcycle quiz check BANK ID --answer TEXT [--json]           check one answer
    mlcycle glossary drill [--rounds N] [--seed N]              Leitner drill
    mlcycle glossary stats                                      progress per box

``--store PATH|URL`` keeps the attempts (``quiz``) or the cards (``glossary``) in another
SQLite file or in a database (``postgresql+psycopg://host/course``) instead of the file in
the data folder.

``check`` exits with 0 when the answer is correct and 1 when it is not (2: bad usage),
so scripts can test answers; ``--json`` prints correct, unsure, score, missed, message,
explanation and link. Quiz attempts are saved with their outcomes
(:mod:`~mlcycle_ref.quiz.history`); choices appear in a new order on every attempt, and
``--seed N`` replays one fixed order without saving the attempt.
"""

from __future__ import annotations

import argparse
import json
import sys

from mlcycle_ref.quiz.bank import load_bank
from mlcycle_ref.quiz.checking import ResponseError, check
from mlcycle_ref.quiz.drills import Progress
from mlcycle_ref.quiz.history import History
from mlcycle_ref.quiz.terminal import print_history, print_stats, run_drill, run_quiz

QUIZ_USAGE = """mlcycle quiz [BANK] [--ids ID ...] [--shuffle] [--seed N] [--store PATH|URL]
       mlcycle quiz [BANK] --review | --history [--store PATH|URL]
       mlcycle quiz check BANK ID --answer TEXT [--json]"""


def register(subparsers) -> None:
    """Add the ``quiz`` and ``glossary`` commands to an argparse subparsers object."""
    quiz = subparsers.add_parser(
        "quiz", usage=QUIZ_USAGE, help="take a quiz in the terminal, or check one answer",
        description="Take a quiz interactively (BANK: quiz, essays, glossary, personas or a "
                    "path to a YAML bank; default quiz), or check one answer with 'check'.")
    quiz.add_argument("words", nargs="*", metavar="BANK | check BANK ID",
                      help="a bank to quiz on, or 'check' followed by a bank and a question id")
    quiz.add_argument("--ids", nargs="+", metavar="ID", help="only these questions, in this order")
    quiz.add_argument("--shuffle", action="store_true", help="shuffle the questions too")
    quiz.add_argument("--seed", type=int, default=None,
                      help="replay a fixed order of choices (and of questions with --shuffle); "
                           "not saved")
    quiz.add_argument("--review", action="store_true",
                      help="ask again the questions whose latest answer was not right")
    quiz.add_argument("--history", action="store_true", help="print the score of every attempt")
    _store_option(quiz, "quiz-history.sqlite3")
    quiz.add_argument("--answer", help="with 'check': the answer to check")
    quiz.add_argument("--json", action="store_true", help="with 'check': print JSON")
    quiz.set_defaults(handler=lambda args: _quiz(quiz, args))

    glossary = subparsers.add_parser("glossary", help="drill the glossary with Leitner boxes")
    actions = glossary.add_subparsers(dest="action", metavar="{drill,stats}")
    actions.required = True
    drill = actions.add_parser("drill", help="a spaced-repetition drill of glossary terms")
    drill.add_argument("--rounds", type=_positive, default=10, help="questions (default 10)")
    drill.add_argument("--seed", type=int, default=None, help="seed for a repeatable drill")
    drill.set_defaults(handler=_drill)
    stats = actions.add_parser("stats", help="how many terms sit in each Leitner box")
    stats.set_defaults(handler=_stats)
    for action in (drill, stats):
        _store_option(action, "drills.sqlite3")


def _store_option(parser: argparse.ArgumentParser, default_name: str) -> None:
    parser.add_argument("--store", metavar="PATH|URL", default=None,
                        help="where progress is kept: a SQLite file or a database URL "
                             f"(default: {default_name} in the data folder)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, found {text}")
    return value


def _quiz(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    words = list(args.words)
    if words and words[0] == "check":
        if len(words) != 3 or args.answer is None:
            parser.error("usage: mlcycle quiz check BANK ID --answer TEXT [--json]")
        return _check(words[1], words[2], args.answer, args.json)
    if len(words) > 1:
        parser.error(f"expected at most one BANK, found {' '.join(words)}")
    if args.answer is not None or args.json:
        parser.error("--answer and --json go with 'check': mlcycle quiz check BANK ID ...")
    ids = [i for chunk in args.ids or [] for i in chunk.split(",") if i]
    bank = load_bank(words[0] if words else "quiz")
    bank.select(ids)  # an unknown id fails here, before the first question is asked
    if args.seed is not None:
        run_quiz(bank, ids=ids, shuffle=args.shuffle, learner="seed", attempt=args.seed)
        return 0
    with History(args.store) as history:
        if history.notice:
            print(history.notice, file=sys.stderr)
        if args.history:
            print_history(history, bank)
            return 0
        if args.review:
            ids = [i for i in history.missed(bank.name) if not ids or i in ids]
            if not ids:
                print(f"Nothing to review in {bank.title}: every question you answered "
                      "was right at your latest try.")
                return 0
        run_quiz(bank, ids=ids, shuffle=args.shuffle, history=history)
    return 0


def _check(bank_name: str, question_id: str, answer: str, as_json: bool) -> int:
    question = load_bank(bank_name).question(question_id)
    feedback = check(question, _response(question, answer))
    if as_json:
        print(json.dumps(feedback.to_dict(), ensure_ascii=False))
    else:
        print(feedback.message)
        for point in feedback.missed:
            print(f"- missing: {point}")
        if feedback.unsure:
            print(f"Compare with a model answer: {question.model_answer}")
        print(feedback.explanation)
        print(f"Read more: {feedback.link}")
    return 0 if feedback.correct else 1


def _response(question, answer: str):
    # On the command line every answer is text: lists are comma-separated, pairs are
    # "left=right" separated by ";".
    if question.kind == "multiple":
        return [a.strip() for a in answer.split(",") if a.strip()]
    if question.kind == "ordering":
        return [a.strip() for a in answer.split(",")]
    if question.kind == "matching":
        pairs = [p.split("=", 1) for p in answer.split(";") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ResponseError("a matching answer is 'left=right; left=right; ...'")
        return {left.strip(): right.strip() for left, right in pairs}
    return answer


def _drill(args: argparse.Namespace) -> int:
    with Progress(args.store) as progress:
        run_drill(load_bank("glossary"), progress, rounds=args.rounds, seed=args.seed)
    return 0


def _stats(args: argparse.Namespace) -> int:
    with Progress(args.store) as progress:
        if progress.notice:
            print(progress.notice, file=sys.stderr)
        print_stats(load_bank("glossary"), progress)
    return 0
