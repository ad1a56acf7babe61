"""Question banks: the YAML schema of ``quizzes/*.yml``, loading and validation.

A bank is a YAML file with a ``title`` and either ``questions`` (the quiz, the essays),
``terms`` (the glossary) or ``personas`` and ``items`` (the personas exercise). Glossary and
personas banks also get questions generated from their entries, so every front-end can
quiz them. The schema is documented in ``quizzes/README.md``; any error names the file,
the question id and the field.

>>> bank = load_bank("quiz")
>>> bank.question("q04").kind
'short'
>>> len([q for q in bank.questions if q.kind == "short"])
10
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from mlcycle_ref.errors import MlcycleError
from mlcycle_ref.paths import course_files
from mlcycle_ref.quiz.rubric import KEYWORD_CAP, Point, compile_phrasing

# The repository's quizzes/, or the copy an installed wheel carries as package data.
REPOSITORY_BANKS = course_files("quizzes")

KINDS = ("single", "multiple", "truefalse", "numeric", "text", "short", "essay", "matching",
         "ordering")
DIFFICULTIES = ("easy", "medium", "hard")
DEFAULT_PASS_MARK = 0.6
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LINK_PATTERN = re.compile(r"^book/[a-z0-9_/-]+(#[A-Za-z0-9_-]+)?$")

COMMON_FIELDS = {"id", "kind", "prompt", "explanation", "link", "difficulty", "tags"}
KIND_FIELDS = {
    "single": {"choices", "answer"},
    "multiple": {"choices", "answer"},
    "truefalse": {"answer"},
    "numeric": {"answer", "tolerance", "unit"},
    "text": {"answer", "accepted"},
    "short": {"model_answer", "rubric", "subjects", "pass_mark"},
    "essay": {"model_answer", "rubric", "subjects", "pass_mark", "min_words"},
    "matching": {"pairs"},
    "ordering": {"items"},
}
OPTIONAL_FIELDS = {"tolerance", "unit", "accepted", "subjects", "pass_mark", "min_words"}


class BankError(MlcycleError, ValueError):
    """A bank file that does not follow the schema; the message says where."""


@dataclass(frozen=True)
class Question:
    """One question of a bank. Which fields are used depends on ``kind``."""

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

    >>> question_payload(load_bank("quiz").question("q05"))["subjects"]["pandas"]
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
    """A glossary entry."""

    id: str
    term: str
    definition: str
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    link: str = ""


@dataclass(frozen=True)
class Persona:
    """One of the three personas of the personas exercise."""

    id: str
    name: str
    summary: str


@dataclass(frozen=True)
class PersonaItem:
    """A task or output to assign to a persona."""

    id: str
    text: str
    persona: str
    kind: str


@dataclass(frozen=True)
class Bank:
    """A loaded, validated bank."""

    name: str
    title: str
    path: Path
    questions: tuple[Question, ...]
    terms: tuple[Term, ...] = ()
    personas: tuple[Persona, ...] = ()
    items: tuple[PersonaItem, ...] = field(default=())

    def question(self, question_id: str) -> Question:
        """The question with this id; the error lists the ids that exist."""
        for question in self.questions:
            if question.id == question_id:
                return question
        known = ", ".join(q.id for q in self.questions)
        raise BankError(f"{self.path}: no question with id {question_id!r} (ids: {known})")

    def select(self, ids=None) -> tuple[Question, ...]:
        """The questions with these ids, in the order given; all of them when ids is empty."""
        return tuple(self.question(i) for i in ids) if ids else self.questions

    def term(self, term_id: str) -> Term:
        """The glossary term with this id."""
        for term in self.terms:
            if term.id == term_id:
                return term
        raise BankError(f"{self.path}: no term with id {term_id!r}")


def banks_dir() -> Path:
    """Where named banks live: ``$MLCYCLE_QUIZ_DIR``, else the repository's ``quizzes/``."""
    return Path(os.environ.get("MLCYCLE_QUIZ_DIR", REPOSITORY_BANKS))


def bank_path(name_or_path: str | Path) -> Path:
    """Resolve a bank name ("quiz") or a path to a YAML file."""
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
    """Load and validate a bank by name (``"quiz"``, ``"glossary"``...) or by path."""
    path = bank_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise BankError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise BankError(f"{path}: expected a mapping at the top, found {type(data).__name__}")
    title = _text(data, "title", str(path), "bank")
    if "terms" in data:
        terms = _terms(data, path)
        return Bank(path.stem, title, path, _glossary_questions(terms), terms=terms)
    if "personas" in data:
        personas, items = _personas(data, path)
        return Bank(path.stem, title, path, _persona_questions(data, personas, items, path),
                    personas=personas, items=items)
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        raise BankError(f"{path}: expected 'questions', 'terms' or 'personas' as a non-empty list")
    pass_mark = data.get("pass_mark", DEFAULT_PASS_MARK)
    parsed = tuple(_question(raw, path, n, pass_mark) for n, raw in enumerate(questions))
    _unique([q.id for q in parsed], path, "question")
    return Bank(path.stem, title, path, parsed)


def _where(path, ident) -> str:
    return f"{path}: {ident}"


def _text(raw: dict, key: str, path, ident: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BankError(f"{_where(path, ident)}: field {key!r}: expected non-empty text, "
                        f"found {value!r}")
    return value.strip()


def _texts(raw: dict, key: str, path, ident: str, minimum: int = 1) -> tuple[str, ...]:
    value = raw.get(key)
    if (not isinstance(value, list) or len(value) < minimum
            or not all(isinstance(v, str) and v.strip() for v in value)):
        raise BankError(f"{_where(path, ident)}: field {key!r}: expected a list of at least "
                        f"{minimum} non-empty texts, found {value!r}")
    return tuple(v.strip() for v in value)


def _unique(ids: list[str], path, what: str) -> None:
    seen = set()
    for ident in ids:
        if ident in seen:
            raise BankError(f"{path}: {what} {ident}: field 'id': duplicated")
        seen.add(ident)


def _question(raw: Any, path: Path, n: int, pass_mark: float) -> Question:
    if not isinstance(raw, dict):
        raise BankError(f"{path}: question #{n + 1}: expected a mapping, found {raw!r}")
    ident = raw.get("id")
    if not isinstance(ident, str) or not ID_PATTERN.match(ident):
        raise BankError(f"{path}: question #{n + 1}: field 'id': expected lower-case letters, "
                        f"digits, - or _, found {ident!r}")
    where = f"question {ident}"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BankError(f"{path}: {where}: field 'kind': expected one of {', '.join(KINDS)}, "
                        f"found {kind!r}")
    allowed = COMMON_FIELDS | KIND_FIELDS[kind]
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise BankError(f"{path}: {where}: field {unknown[0]!r}: not used by kind {kind!r} "
                        f"(fields: {', '.join(sorted(allowed))})")
    missing = sorted(allowed - OPTIONAL_FIELDS - set(raw))
    if missing:
        raise BankError(f"{path}: {where}: field {missing[0]!r}: missing")
    link = _text(raw, "link", path, where)
    if not LINK_PATTERN.match(link):
        raise BankError(f"{path}: {where}: field 'link': expected a book page such as "
                        f"'book/lifecycle/training#evaluation', found {link!r}")
    difficulty = raw.get("difficulty")
    if difficulty not in DIFFICULTIES:
        raise BankError(f"{path}: {where}: field 'difficulty': expected one of "
                        f"{', '.join(DIFFICULTIES)}, found {difficulty!r}")
    common = dict(
        id=ident, kind=kind, prompt=_text(raw, "prompt", path, where),
        explanation=_text(raw, "explanation", path, where), link=link, difficulty=difficulty,
        tags=_texts(raw, "tags", path, where),
    )
    return Question(**common, **_kind_fields(raw, kind, path, where, pass_mark))


def _kind_fields(raw: dict, kind: str, path: Path, where: str, pass_mark: float) -> dict:
    if kind in ("single", "multiple"):
        choices = _texts(raw, "choices", path, where, minimum=2)
        if len(set(choices)) < len(choices):
            raise BankError(f"{path}: {where}: field 'choices': two choices are the same")
        answers = raw["answer"] if kind == "multiple" else [raw["answer"]]
        if not isinstance(answers, list) or not answers or any(a not in choices for a in answers):
            raise BankError(f"{path}: {where}: field 'answer': expected "
                            f"{'a list of choices' if kind == 'multiple' else 'one of the choices'}"
                            f", found {raw['answer']!r}")
        answer = tuple(a.strip() for a in answers) if kind == "multiple" else answers[0].strip()
        return dict(choices=choices, answer=answer)
    if kind == "truefalse":
        if not isinstance(raw["answer"], bool):
            raise BankError(f"{path}: {where}: field 'answer': expected true or false, "
                            f"found {raw['answer']!r}")
        return dict(answer=raw["answer"])
    if kind == "numeric":
        numbers = {key: raw.get(key, 0) for key in ("answer", "tolerance")}
        for key, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    key == "tolerance" and value < 0):
                raise BankError(f"{path}: {where}: field {key!r}: expected a number"
                                f"{' >= 0' if key == 'tolerance' else ''}, found {value!r}")
        return dict(answer=float(numbers["answer"]), tolerance=float(numbers["tolerance"]),
                    unit=str(raw.get("unit", "")))
    if kind == "text":
        accepted = _texts(raw, "accepted", path, where, minimum=0) if "accepted" in raw else ()
        return dict(answer=_text(raw, "answer", path, where), accepted=accepted)
    if kind == "matching":
        pairs = raw["pairs"]
        if (not isinstance(pairs, list) or len(pairs) < 2 or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)
                for p in pairs)):
            raise BankError(f"{path}: {where}: field 'pairs': expected a list of at least two "
                            f"[left, right] pairs of texts, found {pairs!r}")
        lefts = [p[0] for p in pairs]
        if len(set(lefts)) < len(lefts):
            raise BankError(f"{path}: {where}: field 'pairs': a left-hand side appears twice")
        return dict(pairs=tuple((p[0].strip(), p[1].strip()) for p in pairs))
    if kind == "ordering":
        items = _texts(raw, "items", path, where, minimum=2)
        if len(set(items)) < len(items):
            raise BankError(f"{path}: {where}: field 'items': an item appears twice")
        return dict(items=items)
    return _rubric_fields(raw, kind, path, where, pass_mark)


def _rubric_fields(raw: dict, kind: str, path: Path, where: str, pass_mark: float) -> dict:
    subjects = raw.get("subjects", {})
    if not isinstance(subjects, dict) or not all(
            isinstance(v, list) and v and all(isinstance(a, str) for a in v)
            for v in subjects.values()):
        raise BankError(f"{path}: {where}: field 'subjects': expected a mapping of names to "
                        f"lists of the words that mention them, found {subjects!r}")
    rubric = raw["rubric"]
    if not isinstance(rubric, list) or not rubric:
        raise BankError(f"{path}: {where}: field 'rubric': expected a non-empty list of points, "
                        f"found {rubric!r}")
    points = []
    for n, item in enumerate(rubric):
        at = f"{where}: field 'rubric' point {n + 1}"
        if not isinstance(item, dict) or set(item) - {"point", "phrasings", "contradictions",
                                                       "subject", "part"}:
            raise BankError(f"{path}: {at}: expected point, phrasings and optionally "
                            f"contradictions, subject and part, found {item!r}")
        part = item.get("part")
        if part is not None and (not isinstance(part, str) or not part.strip()):
            raise BankError(f"{path}: {at}: field 'part': expected a short name of a part of "
                            f"the question, found {part!r}")
        subject = item.get("subject")
        if subject is not None and subject not in subjects:
            raise BankError(f"{path}: {at}: subject {subject!r} is not one of the question's "
                            f"subjects {sorted(subjects)}")
        phrasings = _texts(item, "phrasings", path, at)
        contradictions = (_texts(item, "contradictions", path, at)
                          if "contradictions" in item else ())
        for phrasing in phrasings + contradictions:
            if not compile_phrasing(phrasing):
                raise BankError(f"{path}: {at}: phrasing {phrasing!r} has no content words")
        points.append(Point(_text(item, "point", path, at), phrasings, contradictions, subject,
                            part))
    mark = raw.get("pass_mark", pass_mark)
    if isinstance(mark, bool) or not isinstance(mark, int | float) or not (
            KEYWORD_CAP < mark <= 1):
        raise BankError(f"{path}: {where}: field 'pass_mark': expected a number above "
                        f"{KEYWORD_CAP} and at most 1, found {mark!r}")
    min_words = raw.get("min_words", 0)
    if isinstance(min_words, bool) or not isinstance(min_words, int) or min_words < 0:
        raise BankError(f"{path}: {where}: field 'min_words': expected a whole number >= 0, "
                        f"found {min_words!r}")
    return dict(
        model_answer=_text(raw, "model_answer", path, where),
        rubric=tuple(points),
        subjects=tuple((name, tuple(aliases)) for name, aliases in subjects.items()),
        pass_mark=float(mark),
        min_words=min_words,
    )


def _terms(data: dict, path: Path) -> tuple[Term, ...]:
    link = _text(data, "link", path, "bank")
    raw_terms = data.get("terms")
    if not isinstance(raw_terms, list) or not raw_terms:
        raise BankError(f"{path}: field 'terms': expected a non-empty list")
    terms = []
    for n, raw in enumerate(raw_terms):
        ident = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(ident, str) or not ID_PATTERN.match(ident):
            raise BankError(f"{path}: term #{n + 1}: field 'id': expected lower-case letters, "
                            f"digits, - or _, found {ident!r}")
        where = f"term {ident}"
        _known_fields(raw, {"id", "term", "definition", "aliases", "related"}, path, where)
        term = _text(raw, "term", path, where)
        terms.append(Term(
            id=ident, term=term, definition=_text(raw, "definition", path, where),
            aliases=_texts(raw, "aliases", path, where, 0) if "aliases" in raw else (),
            related=_texts(raw, "related", path, where, 0) if "related" in raw else (),
            link=f"{link}#term-{re.sub(r'[^A-Za-z0-9]+', '-', term).strip('-')}",
        ))
    _unique([t.id for t in terms], path, "term")
    ids = {t.id for t in terms}
    for term in terms:
        for other in term.related:
            if other not in ids:
                raise BankError(f"{path}: term {term.id}: field 'related': no term {other!r}")
    return tuple(terms)


def definition_choices(term: Term, terms: tuple[Term, ...], rng: random.Random,
                       n: int = 4) -> tuple[str, ...]:
    """The term's definition and ``n - 1`` others, related terms first, shuffled by ``rng``."""
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


def _known_fields(raw: dict, known: set, path: Path, where: str) -> None:
    # A stray key is usually a YAML slip, such as an unquoted comma in a flow mapping.
    unknown = sorted(set(raw) - known, key=str)
    if unknown:
        raise BankError(f"{path}: {where}: field {unknown[0]!r}: unknown "
                        f"(fields: {', '.join(sorted(known))}; quote text that has a comma)")


def _personas(data: dict, path: Path) -> tuple[tuple[Persona, ...], tuple[PersonaItem, ...]]:
    raw_personas, raw_items = data.get("personas"), data.get("items")
    if not isinstance(raw_personas, list) or len(raw_personas) < 2:
        raise BankError(f"{path}: field 'personas': expected a list of at least two personas")
    if not isinstance(raw_items, list) or not raw_items:
        raise BankError(f"{path}: field 'items': expected a non-empty list")
    personas = []
    for n, raw in enumerate(raw_personas):
        raw = raw if isinstance(raw, dict) else {}
        where = f"persona {raw.get('id', '#' + str(n + 1))}"
        _known_fields(raw, {"id", "name", "summary"}, path, where)
        personas.append(Persona(_text(raw, "id", path, where), _text(raw, "name", path, where),
                                _text(raw, "summary", path, where)))
    _unique([p.id for p in personas], path, "persona")
    ids = {p.id for p in personas}
    items = []
    for n, raw in enumerate(raw_items):
        raw = raw if isinstance(raw, dict) else {}
        where = f"item {raw.get('id', '#' + str(n + 1))}"
        _known_fields(raw, {"id", "text", "persona", "kind"}, path, where)
        item = PersonaItem(_text(raw, "id", path, where), _text(raw, "text", path, where),
                           _text(raw, "persona", path, where), _text(raw, "kind", path, where))
        if item.persona not in ids:
            raise BankError(f"{path}: {where}: field 'persona': expected one of {sorted(ids)}, "
                            f"found {item.persona!r}")
        if item.kind not in ("task", "output"):
            raise BankError(f"{path}: {where}: field 'kind': expected task or output, "
                            f"found {item.kind!r}")
        items.append(item)
    _unique([i.id for i in items], path, "item")
    _unique([i.text for i in items], path, "item text")
    return tuple(personas), tuple(items)


def _persona_questions(data: dict, personas, items, path: Path) -> tuple[Question, ...]:
    link = _text(data, "link", path, "bank")
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
