"""Question banks: loading ``quizzes/*.yml`` and checking them against their JSON Schema.

A bank is a YAML file with a ``title`` and either ``questions`` (the quiz, the essays),
``terms`` (the glossary) or ``personas`` and ``items`` (the personas exercise). Glossary and
personas banks also get questions generated from their entries, so every front-end can
quiz them. The format is the JSON Schema ``bank.schema.json`` beside this module (documented
for authors in ``quizzes/README.md``); what a schema cannot say - an answer that is one of
the choices, a rubric subject that the question names, ids used once - is checked after it.
Any error names the file, the question (term, persona, item) and the field.

>>> bank = load_bank("quiz")
>>> bank.question("q04").kind
'short'
>>> len([q for q in bank.questions if q.kind == "short"])
10
"""

from __future__ import annotations

import json
import os
import random
import re
from contextlib import suppress
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlcycle_ref.errors import MlcycleError
from mlcycle_ref.paths import course_files, data_dir
from mlcycle_ref.quiz.rubric import Point, compile_phrasing

# The repository's quizzes/, or the copy an installed wheel carries as package data.
REPOSITORY_BANKS = course_files("quizzes")
#: The JSON Schema (draft 7) of a bank file, shipped as package data.
SCHEMA_FILE = Path(__file__).with_name("bank.schema.json")
DEFAULT_PASS_MARK = 0.6
#: How a schema error names the entry a field belongs to, and the members of a list field.
ENTRIES = {"questions": "question", "terms": "term", "personas": "persona", "items": "item"}
MEMBERS = {"rubric": "point", "pairs": "pair"}


@cache
def bank_schema() -> dict:
    """The JSON Schema every bank file follows.

    >>> bank_schema()["definitions"]["common"]["properties"]["difficulty"]["enum"]
    ['easy', 'medium', 'hard']
    """
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


KINDS = tuple(bank_schema()["definitions"]["common"]["properties"]["kind"]["enum"])


class BankError(MlcycleError, ValueError):
    """A bank file that does not follow the schema; the message says where.

    >>> issubclass(BankError, MlcycleError)
    True
    """


@dataclass(frozen=True)
class Question:
    """One question of a bank, with the fields of ``quizzes/README.md``: ``id``, ``kind``,
    ``prompt``, ``explanation``, ``link`` (a book page), ``difficulty`` and ``tags``; then
    those of its kind: ``choices`` and ``answer`` (single, multiple; ``answer`` alone for
    truefalse, numeric, text), ``accepted`` spellings (text), ``tolerance`` and ``unit``
    (numeric), ``pairs`` (matching), ``items`` in order (ordering), and for short answers
    and essays the ``model_answer``, ``rubric`` points, ``subjects``, ``pass_mark`` and
    ``min_words``.

    >>> question = load_bank("quiz").question("q02-tf")
    >>> question.kind, question.reference, question.html_link
    ('truefalse', False, 'book/lifecycle/features.html')
    """

    id: str
    kind: str
    prompt: str
    explanation: str
    link: str
    difficulty: str
    tags: tuple[str, ...]
    choices: tuple[str, ...] = ()
    answer: Any = None
    accepted: tuple[str, ...] = ()
    tolerance: float = 0.0
    unit: str = ""
    pairs: tuple[tuple[str, str], ...] = ()
    items: tuple[str, ...] = ()
    model_answer: str = ""
    rubric: tuple[Point, ...] = ()
    subjects: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pass_mark: float = DEFAULT_PASS_MARK
    min_words: int = 0

    @property
    def reference(self) -> Any:
        """A response that scores 1.0, in the form that
        :func:`~mlcycle_ref.quiz.checking.check` takes."""
        if self.kind in ("short", "essay"):
            return self.model_answer
        if self.kind == "matching":
            return dict(self.pairs)
        if self.kind == "ordering":
            return list(self.items)
        return self.answer

    @property
    def html_link(self) -> str:
        """The link as a path in the built site: ``book/x#y`` -> ``book/x.html#y``."""
        page, _, anchor = self.link.partition("#")
        return page + ".html" + ("#" + anchor if anchor else "")


def question_payload(question: Question) -> dict:
    """A question as plain JSON-ready data, the form the browser checker reads.

    >>> question_payload(load_bank("quiz").question("q05"))["subjects"]["pandas"][:2]
    ['pandas', 'pd']
    """
    data = {f.name: getattr(question, f.name) for f in fields(question)}
    data["rubric"] = [{"point": p.point, "phrasings": list(p.phrasings),
                       "contradictions": list(p.contradictions), "subject": p.subject,
                       "part": p.part}
                      for p in question.rubric]
    data["subjects"] = {name: list(aliases) for name, aliases in question.subjects}
    data["pairs"] = [list(pair) for pair in question.pairs]
    data["html_link"] = question.html_link
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in data.items()}


@dataclass(frozen=True)
class Term:
    """A glossary entry: its ``id``, the ``term``, its ``definition``, other spellings
    (``aliases``), the ids of ``related`` terms, and its ``link`` in the book's glossary.

    >>> load_bank("glossary").term("hpo").aliases[0]
    'HPO'
    """

    id: str
    term: str
    definition: str
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    link: str = ""


@dataclass(frozen=True)
class Persona:
    """One of the three personas of the personas exercise: ``id``, ``name`` and ``summary``.

    >>> load_bank("personas").personas[0].name
    'Data Engineer'
    """

    id: str
    name: str
    summary: str


@dataclass(frozen=True)
class PersonaItem:
    """A task or output (its ``kind``) with its ``id`` and ``text``, to assign to the
    ``persona`` with that id.

    >>> load_bank("personas").items[0].kind in ("task", "output")
    True
    """

    id: str
    text: str
    persona: str
    kind: str


@dataclass(frozen=True)
class Bank:
    """A loaded, checked bank: its ``name`` (the file's stem), ``title`` and ``path``, its
    ``questions``, and for a glossary its ``terms``, for the personas exercise its
    ``personas`` and ``items``.

    >>> quiz = load_bank("quiz")
    >>> [q.id for q in quiz.select(["q03", "q01"])], quiz.question("q01").kind
    (['q03', 'q01'], 'short')
    >>> load_bank("glossary").term("pandas").term
    'Pandas'
    """

    name: str
    title: str
    path: Path
    questions: tuple[Question, ...]
    terms: tuple[Term, ...] = ()
    personas: tuple[Persona, ...] = ()
    items: tuple[PersonaItem, ...] = field(default=())

    def question(self, question_id: str) -> Question:
        """The question with the id ``question_id``; the error lists the ids that exist."""
        for question in self.questions:
            if question.id == question_id:
                return question
        known = ", ".join(q.id for q in self.questions)
        raise BankError(f"{self.path}: no question with id {question_id!r} (ids: {known})")

    def select(self, ids=None) -> tuple[Question, ...]:
        """The questions with these ``ids``, in the order given; all of them when ``ids`` is
        empty."""
        return tuple(self.question(i) for i in ids) if ids else self.questions

    def term(self, term_id: str) -> Term:
        """The glossary term with the id ``term_id``."""
        for term in self.terms:
            if term.id == term_id:
                return term
        raise BankError(f"{self.path}: no term with id {term_id!r}")


def banks_dir() -> Path:
    """Where named banks live: ``$MLCYCLE_QUIZ_DIR``, else the repository's ``quizzes/``.

    >>> (banks_dir() / "quiz.yml").is_file()
    True
    """
    return Path(os.environ.get("MLCYCLE_QUIZ_DIR", REPOSITORY_BANKS))


def bank_path(name_or_path: str | Path) -> Path:
    """The file of a bank named by ``name_or_path``: a name ("quiz") or a path to a YAML file.

    >>> bank_path("glossary").name
    'glossary.yml'
    >>> bank_path("nope.yml")
    Traceback (most recent call last):
    ...
    mlcycle_ref.quiz.bank.BankError: nope.yml: no such bank file
    """
    path = Path(name_or_path)
    if path.suffix in (".yml", ".yaml"):
        if not path.is_file():
            raise BankError(f"{path}: no such bank file")
        return path
    folder = banks_dir()
    candidate = folder / f"{name_or_path}.yml"
    if not candidate.is_file():
        names = sorted(p.stem for p in folder.glob("*.yml"))
        raise BankError(f"no bank named {str(name_or_path)!r} in {folder} (banks: {names})")
    return candidate


def load_bank(name_or_path: str | Path) -> Bank:
    """Load and check a bank by name (``"quiz"``, ``"glossary"``...) or by path:
    ``name_or_path``.

    >>> load_bank("glossary").term("hpo").term
    'Hyperparameter Optimization'
    >>> load_bank("no-such-bank")
    Traceback (most recent call last):
    ...
    mlcycle_ref.quiz.bank.BankError: no bank named 'no-such-bank' in ...
    """
    path = bank_path(name_or_path)
    text = path.read_text(encoding="utf-8")
    try:
        # libyaml's loader reads a bank four times faster than the pure-Python one, a share
        # of every `mlcycle quiz` and `mlcycle glossary` start.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise BankError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise BankError(f"{path}: expected a mapping at the top, found {type(data).__name__}")
    if not {"questions", "terms", "personas"} & set(data):
        raise BankError(f"{path}: expected 'questions', 'terms' or 'personas' as a non-empty list")
    passed = _passed_marker(text)
    if not passed.exists():
        validate(data, path)
        with suppress(OSError):  # a read-only data folder only costs checking again next time
            passed.parent.mkdir(parents=True, exist_ok=True)
            passed.touch()
    title = data["title"].strip()
    if "terms" in data:
        terms = _terms(data, path)
        return Bank(path.stem, title, path, _glossary_questions(terms), terms=terms)
    if "personas" in data:
        personas, items = _personas(data, path)
        return Bank(path.stem, title, path, _persona_questions(data, personas, items),
                    personas=personas, items=items)
    pass_mark = data.get("pass_mark", DEFAULT_PASS_MARK)
    parsed = tuple(_question(raw, path, pass_mark) for raw in data["questions"])
    _unique([q.id for q in parsed], path, "question")
    return Bank(path.stem, title, path, parsed)


def _passed_marker(text: str) -> Path:
    """The file whose presence says that a bank with this exact text passed this schema.

    Compiling the schema costs tens of milliseconds per process, so `mlcycle quiz check`
    checks a bank against it once per version of the bank (or of the schema), not on every
    run; the checks after the schema run on every load.
    """
    import hashlib  # OpenSSL loads with it: only when a bank loads, not for `--help`

    digest = hashlib.sha256(SCHEMA_FILE.read_bytes() + text.encode()).hexdigest()
    return data_dir() / "checked-banks" / digest


@cache
def _validator():
    # fastjsonschema compiles the schema to Python once per process; it imports in ~8 ms,
    # where jsonschema takes ~1 s (its format checkers build a grammar at import), which
    # would double the start of `mlcycle quiz check`.
    import fastjsonschema

    return fastjsonschema.compile(bank_schema())


def validate(data: Any, path: Path) -> None:
    """Check a bank's ``data`` against :func:`bank_schema`; the error names the file
    ``path``, the question (term, persona, item) and the field.

    >>> validate({"title": "t", "questions": [{"id": "q1", "kind": "truefalse"}]}, "b.yml")
    Traceback (most recent call last):
    ...
    mlcycle_ref.quiz.bank.BankError: b.yml: question q1: field 'prompt': missing
    """
    import fastjsonschema

    try:
        _validator()(data)
    except fastjsonschema.JsonSchemaValueException as error:
        raise BankError(f"{path}: {_explain(error, data)}") from None


def _explain(error, data: dict) -> str:
    """Where a schema error is - entry, then fields - and what is wrong there."""
    steps = [int(step) if step.isdigit() else step for step in error.path[1:]]
    if error.rule == "required":
        steps.append(next(key for key in error.rule_definition if key not in error.value))
        problem = "missing"
    elif error.rule == "additionalProperties":
        allowed = sorted(error.definition["properties"])
        steps.append(min((key for key in error.value if key not in allowed), key=str))
        problem = (f"not used by kind {error.value['kind']!r} (fields: {', '.join(allowed)})"
                   if steps[0] == "questions" and len(steps) == 3 else
                   f"unknown (fields: {', '.join(allowed)}; quote text that has a comma)")
    else:
        problem = (f"expected {error.definition.get('description', error.message)}, "
                   f"found {error.value!r}")
    parts = []
    if steps[0] in ENTRIES and len(steps) > 1:
        entry = data[steps[0]][steps[1]]
        ident = entry.get("id") if isinstance(entry, dict) else None
        named = isinstance(ident, str) and steps[2:] != ["id"]
        parts.append(f"{ENTRIES[steps[0]]} {ident if named else '#' + str(steps[1] + 1)}")
        steps = steps[2:]
    for n, step in enumerate(steps):
        if isinstance(step, int):  # a member of the list field named just before it
            parts[-1] += f" {MEMBERS.get(steps[n - 1], 'item')} {step + 1}"
        else:
            parts.append(f"field {step!r}")
    return ": ".join(parts + [problem])


def _stripped(texts) -> tuple[str, ...]:
    return tuple(text.strip() for text in texts)


def _unique(ids: list[str], path, what: str) -> None:
    seen = set()
    for ident in ids:
        if ident in seen:
            raise BankError(f"{path}: {what} {ident}: field 'id': duplicated")
        seen.add(ident)


def _question(raw: dict, path: Path, pass_mark: float) -> Question:
    where, kind = f"{path}: question {raw['id']}", raw["kind"]
    found = dict(id=raw["id"], kind=kind, prompt=raw["prompt"].strip(),
                 explanation=raw["explanation"].strip(), link=raw["link"],
                 difficulty=raw["difficulty"], tags=_stripped(raw["tags"]))
    if kind in ("single", "multiple"):
        answers = raw["answer"] if kind == "multiple" else [raw["answer"]]
        if any(answer not in raw["choices"] for answer in answers):
            raise BankError(f"{where}: field 'answer': expected "
                            f"{'a list of choices' if kind == 'multiple' else 'one of the choices'}"
                            f", found {raw['answer']!r}")
        answer = _stripped(answers) if kind == "multiple" else answers[0].strip()
        found.update(choices=_stripped(raw["choices"]), answer=answer)
    elif kind == "truefalse":
        found.update(answer=raw["answer"])
    elif kind == "numeric":
        found.update(answer=float(raw["answer"]), tolerance=float(raw.get("tolerance", 0)),
                     unit=raw.get("unit", ""))
    elif kind == "text":
        found.update(answer=raw["answer"].strip(), accepted=_stripped(raw.get("accepted", [])))
    elif kind == "matching":
        lefts = [left for left, _ in raw["pairs"]]
        if len(set(lefts)) < len(lefts):
            raise BankError(f"{where}: field 'pairs': a left-hand side appears twice")
        found.update(pairs=tuple((left.strip(), right.strip()) for left, right in raw["pairs"]))
    elif kind == "ordering":
        found.update(items=_stripped(raw["items"]))
    else:
        found.update(_rubric_fields(raw, where, pass_mark))
    return Question(**found)


def _rubric_fields(raw: dict, where: str, pass_mark: float) -> dict:
    subjects = raw.get("subjects", {})
    points = []
    for n, item in enumerate(raw["rubric"]):
        at = f"{where}: field 'rubric' point {n + 1}"
        subject = item.get("subject")
        if subject is not None and subject not in subjects:
            raise BankError(f"{at}: subject {subject!r} is not one of the question's "
                            f"subjects {sorted(subjects)}")
        phrasings = _stripped(item["phrasings"])
        contradictions = _stripped(item.get("contradictions", []))
        for phrasing in phrasings + contradictions:
            if not compile_phrasing(phrasing):
                raise BankError(f"{at}: phrasing {phrasing!r} has no content words")
        points.append(Point(item["point"].strip(), phrasings, contradictions, subject,
                            item.get("part")))
    return dict(
        model_answer=raw["model_answer"].strip(), rubric=tuple(points),
        subjects=tuple((name, tuple(aliases)) for name, aliases in subjects.items()),
        pass_mark=float(raw.get("pass_mark", pass_mark)), min_words=raw.get("min_words", 0))


def _terms(data: dict, path: Path) -> tuple[Term, ...]:
    terms = tuple(Term(
        id=raw["id"], term=raw["term"].strip(), definition=raw["definition"].strip(),
        aliases=_stripped(raw.get("aliases", [])), related=_stripped(raw.get("related", [])),
        link=f"{data['link']}#term-{re.sub(r'[^A-Za-z0-9]+', '-', raw['term']).strip('-')}",
    ) for raw in data["terms"])
    _unique([t.id for t in terms], path, "term")
    ids = {t.id for t in terms}
    for term in terms:
        for other in term.related:
            if other not in ids:
                raise BankError(f"{path}: term {term.id}: field 'related': no term {other!r}")
    return terms


def definition_choices(term: Term, terms: tuple[Term, ...], rng: random.Random,
                       n: int = 4) -> tuple[str, ...]:
    """The definition of ``term`` and ``n - 1`` others from ``terms``, related terms first,
    shuffled by ``rng``.

    >>> glossary = load_bank("glossary")
    >>> choices = definition_choices(glossary.term("hpo"), glossary.terms, random.Random(0))
    >>> len(choices), glossary.term("hpo").definition in choices
    (4, True)
    """
    related = [t for t in terms if t.id in term.related]
    others = [t for t in terms if t.id != term.id and t not in related]
    rng.shuffle(others)
    picked = [term.definition] + [t.definition for t in (related + others)[: n - 1]]
    rng.shuffle(picked)
    return tuple(picked)


def _glossary_questions(terms: tuple[Term, ...]) -> tuple[Question, ...]:
    questions = []
    for term in terms:
        related = ", ".join(t.term for t in terms if t.id in term.related)
        explanation = f"{term.term}: {term.definition}" + (f" Related: {related}." if related
                                                          else "")
        common = dict(explanation=explanation, link=term.link, difficulty="easy",
                      tags=("glossary",))
        questions.append(Question(
            id=f"{term.id}-term", kind="text",
            prompt=f"Which term is this? {term.definition}",
            answer=term.term, accepted=term.aliases, **common))
        questions.append(Question(
            id=f"{term.id}-meaning", kind="single",
            prompt=f"What does “{term.term}” mean?",
            choices=definition_choices(term, terms, random.Random(term.id)),
            answer=term.definition, **common))
    return tuple(questions)


def _personas(data: dict, path: Path) -> tuple[tuple[Persona, ...], tuple[PersonaItem, ...]]:
    personas = tuple(Persona(*(raw[key].strip() for key in ("id", "name", "summary")))
                     for raw in data["personas"])
    _unique([p.id for p in personas], path, "persona")
    ids = {p.id for p in personas}
    items = tuple(PersonaItem(*(raw[key].strip() for key in ("id", "text", "persona", "kind")))
                  for raw in data["items"])
    for item in items:
        if item.persona not in ids:
            raise BankError(f"{path}: item {item.id}: field 'persona': expected one of "
                            f"{sorted(ids)}, found {item.persona!r}")
    _unique([i.id for i in items], path, "item")
    _unique([i.text for i in items], path, "item text")
    return personas, items


def _persona_questions(data: dict, personas, items) -> tuple[Question, ...]:
    link = data["link"]
    names = {p.id: p.name for p in personas}
    common = dict(link=link, difficulty="easy", tags=("personas",))
    questions = [Question(
        id="sort", kind="matching",
        prompt="Sort these tasks and outputs: which persona owns each one?",
        explanation=" ".join(f"{p.name}: {p.summary}" for p in personas),
        pairs=tuple((item.text, names[item.persona]) for item in items), **common)]
    for item in items:
        questions.append(Question(
            id=item.id, kind="single",
            prompt=f"Who owns this {item.kind}? {item.text}",
            explanation=f"{names[item.persona]}: "
                        f"{next(p.summary for p in personas if p.id == item.persona)}",
            choices=tuple(names.values()), answer=names[item.persona], **common))
    return tuple(questions)
