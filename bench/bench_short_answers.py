"""Score the short-answer checker against a held-out set of human-labelled answers.

    python bench/bench_short_answers.py [PATH]

PATH defaults to the newest set, ``bench/heldout_short_answers_5.yml``; sets 3 and 4 were each
scored once before the rule changes their aggregate figures prompted, so they still serve as
a check that those changes did not overfit. A set holds ``answers: [{question, label, style,
answer}]`` with label ``correct`` (should pass), ``partial`` or ``incorrect`` (should not).
The held-out answers were written by people who never saw the checker's rules and are never
used to write them; rules are tuned on ``tests/data/short_answer_cases.yml``, which this
script also reads (``--tuning``) for comparison. Only aggregate figures are printed, never
an answer, so running it cannot leak the set into the rules. A held-out set that has been
scored often is retired: its answers move into the tuning set and a new set is written.

In the tuning set an answer's label is its ``label`` field (the retired held-out answers)
or follows from ``expect``: pass is correct, unsure is ``unsure`` (the checker should leave
it to the learner), fail is partial for the kinds named partial and incorrect otherwise.
Unsure-labelled answers count in the abstentions and the per-label table only.

Figures, per question and overall:
  agreement      decided verdicts that match the label, over the decided answers
  strict         the same over all answers (unsure-labelled aside), an abstention counted
                 as a disagreement
  false passes   partial or incorrect answers judged correct, over those answers
  false fails    correct answers judged not correct (abstentions excluded), over those
  abstentions    answers the checker was unsure of (the learner then self-marks)
then, per label, how many answers passed, were left unsure and failed, and per style how
many answers of that style passed (adversarial styles must pass none).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlcycle_ref.quiz import check, load_bank

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "bench" / "heldout_short_answers_5.yml"
TUNING = ROOT / "tests" / "data" / "short_answer_cases.yml"
LABELS = ("correct", "partial", "incorrect")
#: Labels of the tuning set, which also has answers the checker should leave unsure.
TUNING_LABELS = (*LABELS, "unsure")
VERDICTS = ("pass", "unsure", "fail")
ADVERSARIAL = ("keywords", "filler", "hedged", "question-repeat", "contradiction", "negation")
TARGETS = {"agreement": 0.90, "false_passes": 0.03, "abstentions": 0.15}


@dataclass
class Tally:
    """Counts of verdicts against labels for one group of answers."""

    n: int = 0
    agree: int = 0
    decided: int = 0
    should_fail: int = 0
    false_passes: int = 0
    should_pass: int = 0
    false_fails: int = 0
    unsure: int = 0
    passed: int = 0
    styles: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    labels: dict = field(default_factory=lambda: defaultdict(lambda: dict.fromkeys(VERDICTS, 0)))

    def add(self, label: str, verdict: str, style: str) -> None:
        self.n += 1
        self.styles[style][0] += 1
        self.labels[label][verdict] += 1
        if verdict == "pass":
            self.passed += 1
            self.styles[style][1] += 1
        if verdict == "unsure":
            self.unsure += 1
        if label == "unsure":
            return
        if verdict != "unsure":
            self.decided += 1
            self.agree += (verdict == "pass") == (label == "correct")
        if label == "correct":
            self.should_pass += 1
            self.false_fails += verdict == "fail"
        else:
            self.should_fail += 1
            self.false_passes += verdict == "pass"

    def row(self, name: str) -> str:
        def share(a: int, b: int) -> str:
            return f"{a / b:6.1%}" if b else "     -"
        labelled = self.should_pass + self.should_fail
        return (f"{name:<8} {self.n:>4}  {share(self.agree, self.decided)}  "
                f"{share(self.agree, labelled)}  {share(self.false_passes, self.should_fail)} "
                f"({self.false_passes:>2})  {share(self.false_fails, self.should_pass)} "
                f"({self.false_fails:>2})  {share(self.unsure, self.n)} ({self.unsure:>2})")


def load_answers(path: Path) -> list[dict]:
    """Answers as {question, label, style, answer}; the tuning set's form is converted."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "answers" in data:
        answers = data["answers"]
        for n, item in enumerate(answers, 1):
            missing = {"question", "label", "answer"} - set(item)
            if missing or item["label"] not in LABELS:
                sys.exit(f"{path}: answer #{n}: expected question, label ({'|'.join(LABELS)}) "
                         f"and answer; field {sorted(missing)[0] if missing else 'label'} is "
                         "wrong")
        return answers
    return [{"question": question, "answer": case["answer"], "style": case["kind"],
             "label": case.get("label") or tuning_label(case)}
            for question, cases in data.items() for case in cases]


def tuning_label(case: dict) -> str:
    """The label of a tuning answer that has none of its own, from what it expects."""
    if case["expect"] != "fail":
        return {"pass": "correct", "unsure": "unsure"}[case["expect"]]
    return "partial" if case["kind"].startswith("partial") else "incorrect"


def verdict_of(question, answer: str) -> str:
    feedback = check(question, answer)
    # getattr: a checker from before the unsure verdict can be scored too, for a baseline
    # (PYTHONPATH pointing at an older checkout of mlcycle_ref).
    unsure = getattr(feedback, "unsure", False)
    return "pass" if feedback.correct else "unsure" if unsure else "fail"


def score(path: Path) -> tuple[Tally, dict[str, Tally]]:
    """Check every answer of a labelled set: the overall tally and one per question."""
    quiz = load_bank("quiz")
    overall = Tally()
    per_question: dict[str, Tally] = defaultdict(Tally)
    for item in load_answers(path):
        style = str(item.get("style", "-"))
        verdict = verdict_of(quiz.question(item["question"]), str(item["answer"]))
        overall.add(item["label"], verdict, style)
        per_question[item["question"]].add(item["label"], verdict, style)
    return overall, per_question


def targets(overall: Tally) -> dict[str, bool]:
    """Whether each target of issue 11 is met."""
    adversarial_passes = sum(overall.styles[s][1] for s in ADVERSARIAL if s in overall.styles)
    return {
        f"agreement >= {TARGETS['agreement']:.0%}":
            bool(overall.decided) and overall.agree / overall.decided >= TARGETS["agreement"],
        f"false passes <= {TARGETS['false_passes']:.0%}": bool(overall.should_fail) and
            overall.false_passes / overall.should_fail <= TARGETS["false_passes"],
        "no adversarial answer passes": adversarial_passes == 0,
        f"abstentions <= {TARGETS['abstentions']:.0%}":
            overall.unsure / overall.n <= TARGETS["abstentions"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=HELDOUT)
    parser.add_argument("--tuning", action="store_true", help="score the tuning set instead")
    args = parser.parse_args(argv)
    path = TUNING if args.tuning else args.path
    if not path.is_file():
        sys.exit(f"{path}: no such file" + ("; the held-out set is added for the final "
                 "measurement (score the tuning set with --tuning)" if path == HELDOUT else ""))
    overall, per_question = score(path)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
          f"{overall.n} answers")
    print("question    n  agree  strict  false passes  false fails  abstentions")
    for name in sorted(per_question):
        print(per_question[name].row(name))
    print(overall.row("overall"))
    print("\nlabel        n   pass  unsure  fail")
    for label in TUNING_LABELS:
        if label in overall.labels:
            counts = overall.labels[label]
            print(f"{label:<10} {sum(counts.values()):>4}  "
                  + "  ".join(f"{counts[v]:>5}" for v in VERDICTS))
    print("\nstyle                 n  passed")
    for style in sorted(overall.styles):
        n, passed = overall.styles[style]
        mark = "  <- adversarial: must be 0" if style in ADVERSARIAL and passed else ""
        print(f"{style:<20} {n:>3}  {passed:>5}{mark}")
    print()
    for name, ok in targets(overall).items():
        print(f"{'met    ' if ok else 'MISSED '} {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
