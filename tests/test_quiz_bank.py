"""The question banks: their content, the schema, and the errors a broken bank gets."""

import re
import textwrap
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlcycle_ref.quiz import BankError, check, load_bank
from mlcycle_ref.quiz.bank import KINDS, bank_schema, banks_dir
from mlcycle_ref.quiz.rubric import KEYWORD_CAP

BANKS = ("quiz", "essays", "glossary", "personas")
ROOT = Path(__file__).resolve().parents[1]
GUIDE_TERMS = (
    "Algorithm", "Categorical Data", "Convergence", "Data Exploration", "Data Frame",
    "Feature Engineering", "Foundation Models", "Hyperparameters", "Hyperparameter Optimization",
    "Jupyter Notebook", "Matplotlib", "MLOps Engineer", "Model Artifact", "NumPy",
    "One-hot Encoding", "Pandas", "SageMaker Debugger", "SageMaker JumpStart",
    "SageMaker Pipelines", "SageMaker Studio", "SageMaker Training", "Scikit-learn",
    "Target Variable",
)


def all_questions():
    return [pytest.param(q, id=f"{name}:{q.id}") for name in BANKS
            for q in load_bank(name).questions]


def wrong_response(question):
    """A response that must score below the pass mark."""
    if question.kind in ("single", "multiple"):
        other = next(c for c in question.choices if c not in question.reference)
        return [other] if question.kind == "multiple" else other
    if question.kind == "truefalse":
        return not question.answer
    if question.kind == "numeric":
        return question.answer + 10 * question.tolerance + 1
    if question.kind == "text":
        return "zebra crossing"
    if question.kind == "matching":
        rights = {right for _, right in question.pairs}
        return {left: min(rights - {right}) for left, right in question.pairs}
    if question.kind == "ordering":
        return list(reversed(question.items))
    return "I am not sure, I think it is something to do with computers."


@pytest.mark.parametrize("question", all_questions())
def test_reference_answer_scores_one_and_a_wrong_one_falls_below_the_pass_mark(question):
    right = check(question, question.reference)
    assert right.correct and right.score == 1.0, right
    wrong = check(question, wrong_response(question))
    assert not wrong.correct and wrong.score < question.pass_mark, wrong


@cache
def book_pages() -> frozenset[str]:
    """Every page in the book's table of contents."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = {toc["root"]}
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            pages |= {chapter["file"], *(s["file"] for s in chapter.get("sections", []))}
    return frozenset(pages)


@pytest.mark.parametrize("question", all_questions())
def test_every_question_is_complete_and_links_to_a_book_page(question):
    assert question.kind in KINDS
    assert question.prompt and question.explanation and question.tags
    assert question.difficulty in ("easy", "medium", "hard")
    assert question.link.partition("#")[0] in book_pages(), question.link


def test_quiz_has_the_ten_short_answers_in_order_with_objective_variants():
    quiz = load_bank("quiz")
    short = [q for q in quiz.questions if q.kind == "short"]
    assert [q.id for q in short] == [f"q{n:02d}" for n in range(1, 11)]
    for question in short:
        assert question.model_answer and len(question.rubric) >= 3
        variants = [q for q in quiz.questions if q.id.startswith(question.id + "-")]
        assert len(variants) >= 2, question.id
        assert all(q.kind not in ("short", "essay") for q in variants)
    objective_kinds = {q.kind for q in quiz.questions} - {"short"}
    assert {"single", "multiple", "truefalse", "numeric", "matching", "ordering"} <= objective_kinds


def test_question_ids_are_stable_and_unique_across_banks():
    ids = [q.id for name in BANKS for q in load_bank(name).questions]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9_-]*", i) for i in ids)


def test_glossary_has_every_guide_term_with_aliases_and_related_terms():
    glossary = load_bank("glossary")
    names = {t.term.lower() for t in glossary.terms}
    assert {t.lower() for t in GUIDE_TERMS} <= names
    aliases = {a.lower() for t in glossary.terms for a in t.aliases}
    assert {"hpo", "one-hot", "lgbm", "dataframe", "sklearn"} <= aliases
    assert all(t.related for t in glossary.terms)
    assert len(glossary.questions) == 2 * len(glossary.terms)
    assert glossary.term("hpo").link == "book/glossary#term-Hyperparameter-Optimization"


def test_personas_bank_assigns_tasks_and_outputs_to_three_personas():
    bank = load_bank("personas")
    assert [p.name for p in bank.personas] == ["Data Engineer", "Data Scientist", "MLOps Engineer"]
    for persona in bank.personas:
        kinds = {i.kind for i in bank.items if i.persona == persona.id}
        assert kinds == {"task", "output"}, persona.id
    sort = bank.question("sort")
    assert sort.kind == "matching" and len(sort.pairs) == len(bank.items)


def test_essays_bank_has_five_essays_with_rubrics():
    essays = load_bank("essays")
    assert [q.id for q in essays.questions] == ["e1", "e2", "e3", "e4", "e5"]
    assert all(q.kind == "essay" and len(q.rubric) >= 5 and q.min_words for q in
               essays.questions)


def test_a_bank_loads_by_path_and_from_the_directory_in_the_environment(tmp_path, monkeypatch):
    (tmp_path / "mine.yml").write_text(QUESTION.format(extra=""))
    assert load_bank(tmp_path / "mine.yml").name == "mine"
    monkeypatch.setenv("MLCYCLE_QUIZ_DIR", str(tmp_path))
    assert banks_dir() == tmp_path
    assert load_bank("mine").question("x1").kind == "single"
    with pytest.raises(BankError, match=r"no bank named 'quiz' .*\['mine'\]"):
        load_bank("quiz")


def test_select_keeps_the_order_asked_and_names_unknown_ids():
    quiz = load_bank("quiz")
    assert [q.id for q in quiz.select(["q03", "q01"])] == ["q03", "q01"]
    with pytest.raises(BankError, match=r"quiz\.yml: no question with id 'q77'"):
        quiz.select(["q77"])


QUESTION = textwrap.dedent("""\
    title: A test bank
    questions:
      - id: x1
        kind: single
        prompt: Pick one.
        choices: [a, b]
        answer: a
        explanation: Because.
        link: book/lifecycle/training
        difficulty: easy
        tags: [t]
    {extra}""")


SHORT = textwrap.dedent("""\
    title: t
    questions:
      - id: s1
        kind: short
        prompt: Why?
        model_answer: Because of reasons.
        explanation: e
        link: book/glossary
        difficulty: hard
        tags: [t]
        rubric:
          - point: reasons
            phrasings: ["reason"]
    """)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('phrasings: ["reason"]', 'phrasings: ["the of and"]', r"s1: field 'rubric' point 1: "
                                                           r"phrasing 'the of and' has no content"),
    ('phrasings: ["reason"]', 'phrasings: []', r"s1: field 'rubric' point 1: field 'phrasings'"),
    ("- point: reasons", "- point: reasons\n        subject: pandas",
     r"s1: field 'rubric' point 1: subject 'pandas'"),
    ("tags: [t]", "tags: [t]\n    pass_mark: 0.2", r"s1: field 'pass_mark'"),
    ("tags: [t]", "tags: [t]\n    choices: [a]", r"s1: field 'choices': not used by kind 'short'"),
])
def test_rubric_errors_name_the_point(tmp_path, old, new, message):
    path = tmp_path / "short.yml"
    path.write_text(SHORT.replace(old, new))
    with pytest.raises(BankError, match=message):
        load_bank(path)


def replaced(*changes):
    """QUESTION with each (old, new) change made."""
    text = QUESTION.format(extra="")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


GLOSSARY_BANK = "title: g\nlink: book/glossary\nterms:\n  - {id: a, term: A, definition: first}\n"
PERSONAS_BANK = ("title: p\nlink: book/personas/index\npersonas:\n"
                 "  - {id: a, name: A, summary: first}\n  - {id: b, name: B, summary: second}\n"
                 "items:\n  - {id: i1, kind: task, persona: a, text: Clean data}\n")


@pytest.mark.parametrize(("text", "message"), [
    ("title: t\n", r"expected 'questions', 'terms' or 'personas'"),
    ("- just a list\n", r"expected a mapping at the top"),
    ("title: [unclosed\n", r"not valid YAML"),
    (QUESTION.replace("kind: single", "kind: essayish"), r"question x1: field 'kind'"),
    (QUESTION.replace("    prompt: Pick one.\n", ""), r"question x1: field 'prompt': missing"),
    (QUESTION.replace("answer: a", "answer: c"), r"question x1: field 'answer'"),
    (QUESTION.replace("link: book/lifecycle/training", "link: https://example.com"),
     r"question x1: field 'link'"),
    (QUESTION.replace("difficulty: easy", "difficulty: tricky"),
     r"question x1: field 'difficulty'"),
    (QUESTION.replace("tags: [t]", "tags: [t]\n    colour: red"), r"question x1: field 'colour'"),
    (QUESTION.replace("id: x1", "id: X 1"), r"question #1: field 'id'"),
    (QUESTION.format(extra="  - " + QUESTION.split("  - ", 1)[1]), r"question x1: field 'id': dup"),
    ("questions: []\n", r"broken\.yml: field 'title': missing"),
    (replaced(("title: A test bank", "title: t\npass_mark: 0.3")),
     r"broken\.yml: field 'pass_mark': expected a number above 0\.4"),
    ("title: t\nquestions:\n  - just text\n",
     r"question #1: expected a mapping of the question's fields, found 'just text'"),
    (replaced(("tags: [t]", "tags: []")),
     r"question x1: field 'tags': expected a list of at least one non-empty text, found \[\]"),
    (replaced(("tags: [t]", "tags: [t, '  ']")),
     r"question x1: field 'tags' item 2: expected non-empty text, found '  '"),
    (replaced(("choices: [a, b]", "choices: [a, a]")),
     r"question x1: field 'choices': expected a list of at least two different non-empty"),
    (replaced(("kind: single", "kind: truefalse"), ("    choices: [a, b]\n", ""),
              ("answer: a", "answer: maybe")),
     r"question x1: field 'answer': expected true or false, found 'maybe'"),
    (replaced(("kind: single", "kind: numeric"), ("    choices: [a, b]\n", ""),
              ("answer: a", "answer: 10\n    tolerance: -1")),
     r"question x1: field 'tolerance': expected a number >= 0, found -1"),
    (replaced(("kind: single", "kind: matching"),
              ("    choices: [a, b]\n    answer: a\n", "    pairs: [[a, b, c], [d, e]]\n")),
     r"question x1: field 'pairs' pair 1: expected a \[left, right\] pair of texts"),
    (SHORT.replace("phrasings: [\"reason\"]", "phrasings: [\"reason\"]\n        weight: 2"),
     r"question s1: field 'rubric' point 1: field 'weight': unknown \(fields: contradictions"),
    (SHORT.replace("tags: [t]", "tags: [t]\n    min_words: 50"),
     r"question s1: field 'min_words': not used by kind 'short'"),
    (GLOSSARY_BANK.replace(", definition: first", ""), r"term a: field 'definition': missing"),
    (GLOSSARY_BANK.replace("id: a", "id: A a"), r"term #1: field 'id': expected lower-case"),
    (PERSONAS_BANK.replace("kind: task", "kind: chore"),
     r"item i1: field 'kind': expected task or output, found 'chore'"),
    (PERSONAS_BANK.replace("  - {id: b, name: B, summary: second}\n", ""),
     r"field 'personas': expected a list of at least two personas"),
])
def test_schema_errors_name_the_file_the_question_and_the_field(tmp_path, text, message):
    path = tmp_path / "broken.yml"
    path.write_text(text.replace("{extra}", ""))
    with pytest.raises(BankError, match=message) as error:
        load_bank(path)
    assert str(error.value).startswith(f"{path}: ")


def test_a_bank_is_checked_against_the_schema_once_per_version_of_its_text(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "mine.yml"
    path.write_text(QUESTION.format(extra=""))
    assert load_bank(path).question("x1").answer == "a"
    checked = tmp_path / "data" / "checked-banks"
    assert len(list(checked.iterdir())) == 1
    assert load_bank(path).question("x1").answer == "a"  # the same text: no new mark
    path.write_text(QUESTION.format(extra="").replace("difficulty: easy", "difficulty: tricky"))
    with pytest.raises(BankError, match=r"field 'difficulty'"):  # a new text is checked again
        load_bank(path)
    assert len(list(checked.iterdir())) == 1


def test_the_schema_is_valid_json_schema_and_shares_the_checker_constants():
    schema = bank_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    definitions = schema["definitions"]
    assert definitions["pass_mark"]["exclusiveMinimum"] == KEYWORD_CAP
    kind_schemas = {rule["if"]["properties"]["kind"]["enum"][0]
                    for rule in definitions["question"]["allOf"][1:]}
    assert kind_schemas == set(KINDS)
    for name in ("quiz", "essays", "glossary", "personas"):  # jsonschema agrees on every bank
        data = yaml.safe_load((banks_dir() / f"{name}.yml").read_text(encoding="utf-8"))
        assert not list(jsonschema.Draft7Validator(schema).iter_errors(data)), name


def test_glossary_errors_name_the_term(tmp_path):
    path = tmp_path / "g.yml"
    path.write_text("title: g\nlink: book/glossary\nterms:\n"
                    "  - {id: a, term: A, definition: first, related: [zz]}\n")
    with pytest.raises(BankError, match=r"term a: field 'related': no term 'zz'"):
        load_bank(path)


def test_missing_bank_file_is_named():
    with pytest.raises(BankError, match=r"nope\.yml: no such bank file"):
        load_bank(Path("nope.yml"))


def test_a_stray_field_from_an_unquoted_comma_is_reported(tmp_path):
    bank_file = tmp_path / "team.yml"
    bank_file.write_text(
        "title: Team\nlink: book/personas/index\n"
        "personas:\n"
        "  - {id: a, name: A, summary: first}\n"
        "  - {id: b, name: B, summary: second}\n"
        "items:\n"
        "  - {id: i1, kind: output, persona: a, text: Clean, tidy data}\n"
        "  - {id: i2, kind: task, persona: b, text: Train models}\n", encoding="utf-8")
    with pytest.raises(BankError, match=r"team\.yml: item i1: field 'tidy data': unknown"):
        load_bank(bank_file)
