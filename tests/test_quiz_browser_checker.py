"""The browser checker (static/quiz-check.js) agrees with the Python checker, run in node.

One node process checks every case: the hand-written short-answer table, every question of
every bank with right, wrong, partial and unreadable responses, and the stems of every word
the banks use. Verdicts, scores, messages, missed points and links must be identical.
"""

import json
import random
import re
import shutil
import subprocess
from itertools import combinations, permutations
from pathlib import Path

import pytest
import yaml

from mlcycle_ref.quiz import check, load_bank
from mlcycle_ref.quiz.bank import banks_dir, question_payload
from mlcycle_ref.quiz.checking import ResponseError
from mlcycle_ref.quiz.rubric import lexicon_payload, stem
from mlcycle_ref.quiz.shuffle import seed_for, shuffled

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT / "mlcycle_ref" / "quiz" / "static" / "quiz-check.js"
HARNESS = Path(__file__).parent / "js" / "run_checker.js"
CASES = yaml.safe_load((Path(__file__).parent / "data" / "short_answer_cases.yml").read_text())
BANKS = ("quiz", "essays", "glossary", "personas")
SEEDS = [[learner, attempt, scope] for learner in ("", "ada", "Zoë-日本", "a" * 300)
         for attempt in (0, 1, 7, 2**31) for scope in ("q01", "sort", "é")]
SHUFFLES = [(list(range(n)), seed) for n in (0, 1, 2, 3, 4, 5, 9)
            for seed in (0, 1, 2**31 - 1, 2**31, 2**32 - 1, 123456789)]


def responses(question):
    """Right, wrong, partial and unreadable responses for any kind of question."""
    kind, reference = question.kind, question.reference
    if kind == "single":
        return [*question.choices, *range(len(question.choices)), "not a choice", 99]
    if kind == "multiple":
        return [list(c) for n in (1, 2) for c in combinations(question.choices, n)] + [
            list(reference), "not a choice"]
    if kind == "truefalse":
        return [True, False, "t", "No", "perhaps"]
    if kind == "numeric":
        return [reference, reference + 1, f"{reference:g}%", "1e1", " 2 0 ", "ten", "1_0"]
    if kind == "text":
        typo = reference[:-2] + reference[-1] if len(reference) > 3 else reference + "x"
        return [reference, *question.accepted, typo, reference.upper(), "zebra", ""]
    if kind == "matching":
        rights = [right for _, right in question.pairs]
        rotated = rights[1:] + rights[:1]
        return [reference, dict(zip(reference, rotated, strict=True)),
                {left: rights[0] for left in reference}, ["not", "a", "mapping"]]
    if kind == "ordering":
        # Every order: where several runs keep the order equally well, both pick the same.
        items = list(question.items)
        return [*map(list, permutations(items)), list(range(len(items))), items[:-1]]
    model = question.model_answer
    words = re.findall(r"[A-Za-z]+", model)
    return [model, model.upper(), model.split(". ")[0], ", ".join(words[::3][:6]),
            "It is not true that " + model[0].lower() + model[1:], question.prompt,
            "I am not sure, I think it is something to do with computers.", "", "   "]


ODD_PIECES = ["١٢٣", "０１２", "x²", "1234567", "1,234,567", "12345.25", "0.000001", "1e400",
              "-0", "café", "naïve", "ÅNGSTRÖM", "e\u0301t\u00e9", "\u00a0", "\t", "\n",
              "\u2009", " ", "", "😀", "ß", "İstanbul", "ﬁne-tune", "3.١", "don’t", "isn't",
              "hardly", "no need to", "useless", "not really", "—", "e.g.", "…", "?", "!"]


def generated_answers(n=3000, seed=11):
    """Answers made by mixing words of the banks and tuning set with odd Unicode pieces."""
    rng = random.Random(seed)
    words = re.findall(r"\S+", " ".join(case["answer"] for answers in CASES.values()
                                         for case in answers))
    quiz = load_bank("quiz")
    targets = [q for q in quiz.questions if q.kind in ("short", "numeric", "text")]
    cases = [(q, "") for q in targets] + [(q, " \t\n ") for q in targets]
    while len(cases) < n:
        question = rng.choice(targets)
        pieces = [rng.choice(words) for _ in range(rng.randint(0, 30))]
        for _ in range(rng.randint(0, 4)):
            pieces.insert(rng.randint(0, len(pieces)), rng.choice(ODD_PIECES))
        text = rng.choice([" ", "  ", " "]).join(pieces)
        if question.kind == "numeric":
            text = rng.choice([text, rng.choice(ODD_PIECES), f"{rng.randint(0, 10**7):,}",
                               f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 4)}f}%"])
        cases.append((question, text))
    return cases


def test_generated_answers_get_identical_verdicts_and_scores(node, tmp_path):
    cases = generated_answers()
    path = tmp_path / "generated.json"
    path.write_text(json.dumps({
        "lexicon": lexicon_payload(),
        "cases": [{"question": question_payload(q), "response": r} for q, r in cases],
        "words": [],
    }), encoding="utf-8")
    run = subprocess.run([node, str(HARNESS), str(CHECKER), str(path)], capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)["results"]
    assert len(results) == len(cases) >= 3000
    differ = []
    for (question, response), js in zip(cases, results, strict=True):
        py = python_result(question, response)
        if "error" not in js:
            js["score"] = round(js["score"], 3)
        if ("error" in py) != ("error" in js) or ("error" not in py and py != js):
            differ.append((question.id, response, py, js))
    assert not differ, differ[:3]
    verdicts = {(r.get("correct"), r.get("unsure")) for r in results}
    assert len(verdicts) >= 3  # the generated set reaches right, wrong and unsure verdicts


def all_cases():
    cases = []
    quiz = load_bank("quiz")
    for question_id, answers in CASES.items():
        cases += [(quiz.question(question_id), case["answer"]) for case in answers]
    for name in BANKS:
        for question in load_bank(name).questions:
            cases += [(question, response) for response in responses(question)]
    return cases


def vocabulary():
    text = " ".join(p.read_text(encoding="utf-8") for p in banks_dir().glob("*.yml"))
    text += yaml.safe_dump(CASES)
    return sorted(set(re.findall(r"[a-z0-9]+", text.lower())))


def python_result(question, response):
    try:
        return check(question, response).to_dict()
    except ResponseError:
        return {"error": True}


@pytest.fixture(scope="module")
def node():
    path = shutil.which("node")
    if path is None:
        pytest.fail("node (v18 or later) is needed to test the browser checker: install nodejs")
    return path


@pytest.fixture(scope="module")
def agreement(node, tmp_path_factory):
    cases = all_cases()
    words = vocabulary()
    path = tmp_path_factory.mktemp("js") / "cases.json"
    path.write_text(json.dumps({
        "lexicon": lexicon_payload(),
        "cases": [{"question": question_payload(q), "response": r} for q, r in cases],
        "words": words,
        "seeds": SEEDS,
        "shuffles": [{"items": items, "seed": seed} for items, seed in SHUFFLES],
    }), encoding="utf-8")
    run = subprocess.run([node, str(HARNESS), str(CHECKER), str(path)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)
    return cases, output["results"], words, output["stems"], output


def test_the_checkers_agree_on_every_case(agreement):
    cases, results, _, _, _ = agreement
    assert len(results) == len(cases) > 1000
    disagreements = []
    for (question, response), js in zip(cases, results, strict=True):
        py = python_result(question, response)
        if "error" in py or "error" in js:
            same = "error" in py and "error" in js
        else:
            js["score"] = round(js["score"], 3)
            same = js == py
        if not same:
            disagreements.append((question.id, response, py, js))
    assert not disagreements, disagreements[:5]


def test_the_table_verdicts_hold_in_the_browser_too(agreement):
    cases, results, _, _, _ = agreement
    table = [case for answers in CASES.values() for case in answers]
    # The labelled answers (retired held-out sets) are held to targets, not case by case.
    exact = [n for n, case in enumerate(table) if "label" not in case]
    assert [results[n]["correct"] for n in exact] == [table[n]["expect"] == "pass"
                                                      for n in exact]
    assert len(cases) > len(table) > len(exact) > 500


def test_the_stemmers_agree_on_every_word_of_the_banks(agreement):
    _, _, words, stems, _ = agreement
    assert len(words) > 1000
    assert stems == [stem(word) for word in words]


def test_the_seeded_shuffles_agree_so_the_book_shows_the_order_python_would(agreement):
    output = agreement[-1]
    assert output["seeds"] == [seed_for(learner, attempt, scope)
                               for learner, attempt, scope in SEEDS]
    assert output["shuffles"] == [shuffled(items, seed) for items, seed in SHUFFLES]
