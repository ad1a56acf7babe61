"""Short answers read against a rubric of key points: deterministic, offline, no model.

An answer is normalised (case, accents, contractions, punctuation), cut into sentences and
clauses, tokenised and lightly stemmed. A rubric point is made when one of its phrasings
is found inside one sentence: every slot of the phrasing matched by a word of the answer,
all within ``MAX_SPAN`` content words. A phrasing is written in plain words; ``[a|b|c]``
offers alternatives for one slot, and an alternative may be several words in a row::

    "[compare|check] [prediction|output] [truth|label|actual]"

The slots match in any order, unless the phrasing starts with ``>`` (see :func:`is_ordered`).

A match does not count when it is negated (a "not", "never", "without", "instead of" ...
earlier in its clause or between its words, or "is not"/"does not" right after it),
when one of the point's contradictions is claimed, or when the words come from the
question itself. A point made in one sentence and flatly denied in another ("they plot it.
Plotting hardly matters") counts as claimed against, as a contradiction does. A point may
name a ``subject`` of the question (say "pandas" against "matplotlib"): its words must then
be about that subject, i.e. nearer to a mention of it than to a mention of another subject.
The word lists live in ``lexicon.yml``, shared with the browser port
``static/quiz-check.js``.

>>> analyse_answer(
...     "Pandas loads data into data frames; Matplotlib draws charts.",
...     prompt="What do pandas and Matplotlib do?",
...     points=[Point("pandas loads data", ("[load|read] data",), subject="pandas"),
...             Point("matplotlib plots", ("[chart|plot]",), subject="matplotlib")],
...     subjects={"pandas": ("pandas",), "matplotlib": ("matplotlib",)},
... ).made
(True, True)
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz.distance import OSA

from mlcycle_ref.quiz.checker_data import CHECKER_DATA

LEXICON: dict = CHECKER_DATA

#: Largest distance, in content words, between the first and last word of a match.
MAX_SPAN: int = LEXICON["thresholds"]["max_span"]
#: Runs of this many words or more shared with the question earn no credit.
COPY_RUN: int = LEXICON["thresholds"]["copy_run"]
#: A bare keyword list scores at most this much, below any pass mark.
KEYWORD_CAP: float = LEXICON["thresholds"]["keyword_cap"]
#: A sentence without a verb of at most this many content words is a lone term.
LONE_WORDS: int = LEXICON["thresholds"]["lone_words"]
#: This many signs of doubt (hedges, a question mark at the end) make an answer a guess.
GUESS_SIGNS: int = LEXICON["thresholds"]["guess_signs"]
#: Stem that every negator becomes, in answers and in phrasings alike.
NEG = "~not"


def _words(key: str) -> frozenset[str]:
    return frozenset(w for w in LEXICON[key] if isinstance(w, str))


STOPWORDS = _words("stopwords")
AUXILIARIES = _words("auxiliaries")
COPULAS = _words("copulas")
NEGATORS = _words("negators")
NOT_CANCELLERS = _words("not_cancellers")
ADVERB_NEGATORS = _words("adverb_negators")
CLAUSE_BREAKS = _words("clause_breaks")
PRONOUNS = _words("pronouns")
CRITIQUE = _words("critique_words")
COMPARERS = _words("comparers")
NO_STEM = _words("no_stem")
POST_NEGATORS = _words("post_negators")
FILLERS = _words("fillers")
HEDGES = tuple(LEXICON["hedges"])
WEAK_HEDGES = tuple(LEXICON["weak_hedges"])
LIGHT_HEDGES = tuple(LEXICON["light_hedges"])
CHATTER = tuple(LEXICON["chatter"])
LOOSE_CHATTER = _words("loose_chatter")
VERB_FORMS = frozenset(LEXICON["verb_forms"])
JOINS = tuple(tuple(pair) for pair in LEXICON["joins"])
IRREGULAR: dict[str, str] = LEXICON["irregular"]
CANONICAL: dict[str, str] = LEXICON["canonical"]
VOWELS = set("aeiouy")


def lexicon_payload() -> dict:
    """The compiled checker data, as the browser port of this module reads it.

    >>> lexicon_payload()["thresholds"]["max_span"] == MAX_SPAN
    True
    """
    return LEXICON


@dataclass(frozen=True)
class Point:
    """One key point of a rubric: a short description (``point``) and the ``phrasings`` that
    make it; ``contradictions``, phrasings of the opposite claim, which cancel it; the
    ``subject`` of the question its words must be about, if any; and the ``part`` of the
    question it answers.

    >>> point = Point("pandas holds data frames", ("[dataframe|table]",), subject="pandas",
    ...               part="pandas")
    >>> point.subject, compile_phrasing(point.phrasings[0])
    ('pandas', ((('datafram',), ('tabl',)),))
    """

    point: str
    phrasings: tuple[str, ...]
    contradictions: tuple[str, ...] = ()
    subject: str | None = None
    #: The part of the question this point answers; a correct answer covers every part.
    part: str | None = None


@dataclass(frozen=True)
class Token:
    """A word of an answer, with where it sits and what it is: its ``surface`` form, its
    ``stem`` (:data:`NEG` for a negator), the numbers of its ``sentence`` and ``clause``, and
    whether it is a ``stop`` word (a function word of ``STOPWORDS``).

    >>> tokenise("It is not hosted.")[2]
    Token(surface='not', stem='~not', sentence=0, clause=0, stop=False)
    """

    surface: str
    stem: str
    sentence: int
    clause: int
    stop: bool


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyse_answer` found. Point by point (one bool per rubric point): which
    points are ``made``, ``negated`` (found only under a negator), ``contradicted`` (the
    opposite claimed), ``near`` (one word short of a phrasing), ``exact`` (made with no typing
    slip) and ``bare`` (made only by a lone term). For the whole answer: whether it is a
    ``keyword_list``, ``restated`` question, ``terse`` or ``padded`` string of terms, the
    ``copied_share`` of its content words taken from the question, its ``n_words``, how much
    ``chatter`` (filler) it holds, whether it is ``hedged`` (a guess), ``doubtful`` or only
    ``lightly_hedged``, and whether it ``denies`` something, with ``denial_near`` a point.

    >>> found = analyse_answer("Maybe it loads data into a table.", "What does pandas do?",
    ...                        [Point("loads data", ("[load|read] data",)),
    ...                         Point("data frames", ("[dataframe|table]",))])
    >>> found.made, found.lightly_hedged, found.score
    ((True, True), True, 1.0)
    """

    made: tuple[bool, ...]
    negated: tuple[bool, ...]
    contradicted: tuple[bool, ...]
    keyword_list: bool
    copied_share: float  # of the content words
    n_words: int
    #: Points not made for which one slot of a phrasing was missing (the checker may be wrong).
    near: tuple[bool, ...] = ()
    #: The answer says it is a guess ("no idea", "something to do with"), or holds
    #: ``GUESS_SIGNS`` signs of doubt ("not sure ... maybe ...?").
    hedged: bool = False
    #: The answer voices milder doubt ("not sure", "I guess", a light hedge beside other
    #: doubt), or ends with "?".
    doubtful: bool = False
    #: One or two light hedges ("I think ... probably") and no other doubt: fine in a complete
    #: answer.
    lightly_hedged: bool = False
    #: A negator that no phrasing accounts for: the answer denies something.
    denies: bool = False
    #: The answer mostly repeats the question's own words and adds almost nothing.
    restated: bool = False
    #: A few content words with no function word at all ("analysis visualisation features").
    terse: bool = False
    #: Course terms padded with conversational filler ("basically like test data and stuff").
    padded: bool = False
    #: How many pieces of conversational filler the answer holds (``LOOSE_CHATTER`` aside).
    chatter: int = 0
    #: Points made with the words as written, no typing slip allowed.
    exact: tuple[bool, ...] = ()
    #: Points made only by a lone term in a sentence without a verb, not by a statement.
    bare: tuple[bool, ...] = ()
    #: A negator that no phrasing accounts for, in a sentence that makes a point.
    denial_near: bool = False

    @property
    def capped(self) -> bool:
        """A keyword list, a terse string of terms, a restated question or a guess: it states
        nothing, whatever words it has."""
        return self.keyword_list or self.restated or self.terse or self.hedged or self.padded

    @property
    def score(self) -> float:
        """Share of the points made, capped for a bare keyword list or a restated question."""
        share = sum(self.made) / len(self.made) if self.made else 0.0
        return min(share, KEYWORD_CAP) if self.capped else share


def stem(word: str) -> str:
    """Reduce a lower-case word to a stem shared by its inflections.

    >>> [stem(w) for w in ("features", "feature", "trained", "plotting", "visualization")]
    ['featur', 'featur', 'train', 'plot', 'visualis']
    >>> stem("settings") == stem("setting") == stem("set")
    True
    """
    word = IRREGULAR.get(word, word)
    if word in NO_STEM or len(word) <= 3 or not word.isalpha():
        return CANONICAL.get(word, word)
    word = word.replace("yz", "ys").replace("iz", "is")
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") or (word.endswith("ed") and not word.endswith("eed")):
        base = word[:-3] if word.endswith("ing") else word[:-2]
        if len(base) >= 3 and VOWELS & set(base):
            word = _undouble(base)
    for suffix, replacement in (("isation", "is"), ("ation", ""), ("ition", ""), ("tion", "t"),
                                ("sion", "s"), ("sis", "s"), ("ment", ""), ("ness", "")):
        if word.endswith(suffix):
            if len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return CANONICAL.get(word, word)


def _undouble(base: str) -> str:
    # "plott" -> "plot", "modell" -> "model"; "fill" and "pass" keep their double letter.
    if base[-1] == base[-2] and base[-1] not in "aeiouylsz":
        return base[:-1]
    if base.endswith("ell") and len(base) >= 5:
        return base[:-1]
    return base


def normalise(text: str) -> str:
    """The ``text`` of an answer in lower case and plain ASCII, contractions expanded,
    ``rewrites`` applied and negating phrases turned into "not".

    >>> normalise("You shouldn't use ALL the data, rather than keep some back.").split()
    ['you', 'should', 'not', 'use', 'all', 'the', 'data,', 'not', 'keep', 'some', 'back.']
    """
    text = strip_marks(text).lower()
    text = re.sub(r"[\u2018\u2019\u02bc`\u00b4]", "'", text)
    text = re.sub(r"[\u201c\u201d]", '"', text)
    text = re.sub(r"\be\.g\.?", " eg ", text)
    text = re.sub(r"\bi\.e\.?", " ie ", text)
    text = re.sub(r"\b(etc|vs)\.", r" \1 ", text)
    text = re.sub(r"\bcan'?t\b", "can not", text)
    text = re.sub(r"\bwon't\b", "will not", text)
    text = re.sub(r"\bshan't\b", "shall not", text)
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(r"\bcannot\b", "can not", text)
    # Contractions typed without the apostrophe: "hasnt", "dont", "isnt" (not "wont": a word).
    text = re.sub(r"\b(do|does|did|is|are|was|were|has|have|had|should|could|would|must|"
                  r"need)nt\b", r"\1 not", text)
    text = re.sub(r"([a-z])'(s|re|ve|ll|d|m)\b", r"\1 ", text)
    text = text.replace("'", " ")
    for phrase, word in LEXICON["rewrites"].items():
        # ASCII letters, and spaces, slashes or hyphens between the words, as in the browser.
        text = re.sub(r"(?<![a-z0-9])" + r"[ \t\r\n/-]+".join(phrase.split()) + r"(?![a-z0-9])",
                      f" {word} ", text)
    for phrase in LEXICON["negating_phrases"]:
        text = re.sub(r"\b" + r"\s+".join(phrase.split()) + r"\b", " not ", text)
    return text


def strip_marks(text: str) -> str:
    """The ``text`` in NFKD, then every mark (category M) dropped, exactly as the browser's
    ``\\p{M}``.

    >>> strip_marks("Café naïve")
    'Cafe naive'
    """
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.category(c).startswith("M"))


def _sentences(text: str) -> list[str]:
    # [0-9], not \d: Python's \d also matches other scripts' digits, JavaScript's does not.
    return [s for s in re.split(r"[!?;\n]+|\.(?![0-9])", text) if s.strip()]


def _pieces(sentence: str) -> list[str]:
    return re.split(r"[,:()\[\]{}\"=\u2013\u2014]|\s-+>?(?=\s)|->", sentence)


def _join(words: list[str]) -> list[str]:
    joined: list[str] = []
    for word in words:
        if joined and any(joined[-1] == first and word.startswith(start)
                          for first, start in JOINS):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


@lru_cache(maxsize=256)  # one check reads its answer and its question's prompt several times
def tokenise(text: str, subject_starts: frozenset[str] = frozenset()) -> tuple[Token, ...]:
    """Split an answer (``text``) into tokens that know their sentence and clause; "and" or
    "or" before a pronoun, or before a word of ``subject_starts`` (the first stem of each
    subject's names), starts a new clause.

    >>> [(t.stem, t.clause) for t in tokenise("Pre-trained models, no need to train.")]
    [('pretrain', 0), ('model', 0), ('~not', 1), ('train', 1)]
    """
    tokens: list[Token] = []
    clause = -1
    for sentence_no, sentence in enumerate(_sentences(normalise(text))):
        for piece in _pieces(sentence):
            words = _join(re.findall(r"[a-z0-9]+", piece))
            clause += 1
            for i, word in enumerate(words):
                nxt = words[i + 1] if i + 1 < len(words) else ""
                # "and the MLOps engineer": an article may stand before the subject.
                after = words[i + 2] if nxt in FILLERS and i + 2 < len(words) else nxt
                if word in NEGATORS and nxt in NOT_CANCELLERS:
                    continue
                denies = word in NEGATORS or (word in POST_NEGATORS and i > 0
                                              and words[i - 1] in AUXILIARIES)
                starts_clause = word in CLAUSE_BREAKS or (
                    word in ("and", "or") and (nxt in PRONOUNS or stem(after) in subject_starts)
                )
                if starts_clause and i > 0:
                    clause += 1
                tokens.append(Token(
                    surface=word,
                    stem=NEG if denies else stem(word),
                    sentence=sentence_no,
                    clause=clause,
                    stop=word in STOPWORDS,
                ))
    return tuple(tokens)


def is_ordered(phrasing: str) -> bool:
    """A phrasing that starts with ``>`` matches only in its written order, within one clause:
    "> [number] [text]" is "numbers become text", not "text becomes numbers".

    >>> is_ordered("> [number] [text]"), is_ordered("[number] [text]")
    (True, False)
    """
    return phrasing.lstrip().startswith(">")


@cache
def compile_phrasing(phrasing: str) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Turn a phrasing into slots of alternatives of stems, dropping function words.

    >>> compile_phrasing("[compare|check] the prediction [ground truth|label]")
    ((('compar',), ('check',)), (('predict',),), (('ground', 'truth'), ('label',)))
    """
    slots = []
    for group, word in re.findall(r"\[([^\]]*)\]|(\S+)", phrasing):
        alternatives = []
        for alternative in (group.split("|") if group else [word]):
            stems = tuple(t.stem for t in tokenise(alternative) if not t.stop)
            if stems and stems not in alternatives:
                alternatives.append(stems)
        if alternatives:
            slots.append(tuple(alternatives))
    return tuple(slots)


def similar(word: str, target: str, surface: str = "") -> bool:
    """Is an answer's word (its stem, or its ``surface`` form) the target stem, allowing for
    a typing slip in longer words?

    Stems of five letters or more may differ by one insertion, deletion, substitution or
    swap (two from nine letters on) but must start with the same letter. A misspelt word
    often keeps its suffix, so the start of the surface form is compared too.

    >>> similar("visuals", "visualis"), similar("analis", "analys"), similar("brain", "train")
    (True, True, False)
    >>> similar("imputaton", "imput", "imputaton"), similar("price", "prior", "price")
    (True, False)
    """
    if word == target:
        return True
    if len(target) < 5 or word[:1] != target[:1] or NEG in (word, target):
        return False
    allowed = 1 if len(target) < 9 else 2
    if len(word) >= 5 and abs(len(word) - len(target)) <= allowed and _slips(word, target,
                                                                            allowed):
        return True
    return (len(target) < len(surface) <= len(target) + 5
            and _slips(surface[:len(target)], target, allowed))


@cache
def _slips(word: str, target: str, allowed: int) -> bool:
    return OSA.distance(word, target, score_cutoff=allowed) <= allowed


class _Answer:
    """An answer prepared for matching: tokens, usable positions, subjects, copied words."""

    def __init__(self, text: str, prompt: str, subjects: Mapping[str, Sequence[str]]):
        aliases = {name: [compile_phrasing(f"[{a}]")[0][0] for a in names]
                   for name, names in subjects.items()}
        starts = frozenset(alias[0] for forms in aliases.values() for alias in forms)
        self.tokens = tokenise(text, starts)
        #: Match words exactly as written (no typing slips): see :func:`similar`.
        self.exact = False
        #: Stems the rubric itself uses: such a word is no slip for another ("input" is not a
        #: misspelt "impute" when "input" is a word of the rubric).
        self.known: frozenset[str] = frozenset()
        # Where each stem was found so far: a rubric asks for the same stems again and again
        # (each near match leaves out one slot); which words match depends on the settings.
        self._found: dict[tuple, frozenset[int]] = {}
        self.content = [i for i, t in enumerate(self.tokens) if not t.stop]
        self.rank = {pos: n for n, pos in enumerate(self.content)}
        self.copied = _copied(self.tokens, tokenise(prompt, starts))
        mentions = self._mentions(aliases)
        self.subject = self._subjects(mentions)

    def _mentions(self, aliases) -> list[tuple[str, tuple[int, ...]]]:
        found = []
        for name, forms in aliases.items():
            for form in forms:
                found += [(name, run) for run in self.runs(form, mentions=True)]
        return sorted(found, key=lambda m: m[1])

    def _subjects(self, mentions) -> list[str | None]:
        # Each word belongs to the mention nearest to it in its sentence: first by clauses,
        # then by words (ties: the earlier mention). A sentence without a mention goes on
        # with the last subject mentioned before it.
        subject: list[str | None] = []
        for i, token in enumerate(self.tokens):
            best = None
            for name, run in mentions:
                if self.tokens[run[0]].sentence != token.sentence:
                    continue
                near = min(run, key=lambda p: abs(p - i))
                distance = (abs(self.tokens[near].clause - token.clause), abs(near - i))
                if best is None or distance < best[0]:
                    best = (distance, name)
            if best is None:
                earlier = [name for name, run in mentions
                           if self.tokens[run[0]].sentence < token.sentence]
                subject.append(earlier[-1] if earlier else None)
            else:
                subject.append(best[1])
        return subject

    def runs(self, stems: tuple[str, ...], mentions: bool = False) -> list[tuple[int, ...]]:
        """Where ``stems`` occur as consecutive content words of one sentence.

        Words copied from the question are not available for matching, unless ``mentions`` is
        set: then the runs are mentions of a subject, which count even when copied.
        """
        places = [self.where(stem) for stem in stems]
        found = []
        for first in sorted(places[0]):
            n = self.rank[first]
            run = tuple(self.content[n:n + len(stems)])
            if (len(run) == len(stems)
                    and all(p in where for p, where in zip(run[1:], places[1:], strict=True))
                    and len({self.tokens[p].sentence for p in run}) == 1
                    and (mentions or not any(p in self.copied for p in run))):
                found.append(run)
        return found

    def where(self, stem: str) -> frozenset[int]:
        """The positions of the content words that are ``stem``: exactly when ``exact`` is set
        or the word is one of the rubric's own (``known``), else allowing a typing slip."""
        key = (stem, self.exact, self.known)
        if key not in self._found:
            self._found[key] = frozenset(
                p for p in self.content
                if (self.tokens[p].stem == stem if self.exact or self.tokens[p].stem in self.known
                    else similar(self.tokens[p].stem, stem, self.tokens[p].surface)))
        return self._found[key]

    def matches(self, phrasing: str, subject: str | None) -> list[tuple[int, ...]]:
        """Every structurally valid match of a phrasing (negation not yet considered)."""
        return self.slot_matches(compile_phrasing(phrasing), subject, is_ordered(phrasing))

    def near_matches(self, phrasing: str, subject: str | None) -> list[tuple[int, ...]]:
        """Matches of the phrasing with any one of its slots left out (three slots or more,
        so at least two words still agree)."""
        slots = compile_phrasing(phrasing)
        if len(slots) < 3:
            return []
        return [m for k in range(len(slots))
                for m in self.slot_matches(slots[:k] + slots[k + 1:], subject,
                                           is_ordered(phrasing))]

    def slot_matches(self, slots, subject: str | None,
                     ordered: bool = False) -> list[tuple[int, ...]]:
        """Every structurally valid match of compiled slots (in written order and within one
        clause when ``ordered``)."""
        per_slot = [[(alt == (NEG,), run) for alt in slot for run in self.runs(alt)]
                    for slot in slots]
        found = []
        for combo in itertools.product(*per_slot):
            positions = [p for _, run in combo for p in run]
            if len(set(positions)) < len(positions):
                continue
            if len({self.tokens[p].sentence for p in positions}) > 1:
                continue
            # A phrasing with a negator is read in its written order ("many features never
            # converge"): a negator elsewhere in the sentence is not its own.
            if (ordered or any(is_neg for is_neg, _ in combo)) and any(
                    combo[k][1][-1] > min(combo[k + 1][1]) for k in range(len(combo) - 1)):
                continue
            if ordered and len({self.tokens[p].clause for p in positions}) > 1:
                continue
            # The negator of a phrasing denies the word after it in its own clause, not a word
            # of another claim further on ("does not offer X, ... than starting from scratch").
            if any(is_neg and k + 1 < len(combo) and self.tokens[run[-1]].clause
                   != self.tokens[combo[k + 1][1][0]].clause
                   for k, (is_neg, run) in enumerate(combo)):
                continue
            if self.rank[max(positions)] - self.rank[min(positions)] + 1 > MAX_SPAN:
                continue
            if subject is not None and any(self.subject[p] != subject for p in positions):
                continue
            found.append(tuple(sorted(positions)))
        return found

    def negated(self, match: tuple[int, ...], consumed: set[int]) -> bool:
        """Is this match denied by a negator that no phrasing accounts for?"""
        first, last = match[0], match[-1]
        for q, token in enumerate(self.tokens):
            if token.stem != NEG or q in consumed:
                continue
            if first < q < last:
                return True
            # A negator reaches forward to the end of its clause, or to a pronoun that opens
            # a new claim ("instead of starting from nothing you pick a pre-trained model").
            if any(q < p and token.clause == self.tokens[p].clause
                   and not any(t.surface in PRONOUNS for t in self.tokens[q + 1:p])
                   for p in match):
                return True
            # "X is not needed", "X is useless": the auxiliary follows the match at once (two
            # words between at most, "X of Y is not", and no pronoun, which would start
            # another claim); or the negator itself does ("plotting hardly matters").
            between = self.tokens[last + 1:q - 1]
            if q > last and token.clause == self.tokens[last].clause and (
                    (q == last + 1 and token.surface in ADVERB_NEGATORS)
                    or self.tokens[q - 1].surface in AUXILIARIES
                    and len(between) <= 2 and not any(t.surface in PRONOUNS for t in between)):
                return True
        return False

    def flatly_denied(self, match: tuple[int, ...], consumed: set[int]) -> bool:
        """Does a negator deny the match as a claim: after it ("plotting hardly
        matters", "fine-tuning is never needed") or opening its clause ("no need to plot",
        "skip the charts"), not inside a description ("the features with no influence")?"""
        clause = self.tokens[match[0]].clause
        opening = next((q for q, t in enumerate(self.tokens) if t.clause == clause
                        and not t.stop), None)
        return any(t.stem == NEG and q not in consumed and t.sentence
                   == self.tokens[match[0]].sentence and (q > match[-1] or q == opening)
                   for q, t in enumerate(self.tokens))

    def acting(self, match: tuple[int, ...]) -> bool:
        """Does a match name an act (it starts with a verb, "-ing" form included) and hold
        no negator of its own?"""
        first = self.tokens[match[0]].surface
        return (first in VERB_FORMS or first.endswith("ing")) and all(
            self.tokens[q].stem != NEG for q in match)

    def verbless(self, match: tuple[int, ...]) -> bool:
        """Is the sentence of a match a lone term, not a statement: at most ``LONE_WORDS``
        content words, and neither a verb nor a pronoun? ("Matplotlib: charts.", where a
        longer run of terms describes: "visualisation (histograms, correlation maps)")"""
        sentence = self.tokens[match[0]].sentence
        words = [t for t in self.tokens if t.sentence == sentence]
        return sum(not t.stop for t in words) <= LONE_WORDS and not any(
            t.surface in VERB_FORMS or t.surface in AUXILIARIES or t.surface in PRONOUNS
            for t in words)

    def critiqued(self, match: tuple[int, ...]) -> bool:
        """Is an opposite claim criticised, imagined or compared against, not made? A critique
        word elsewhere in its sentence (not one of its own words: "removing features is a
        mistake" is the claim), or "than" before it in its clause ("quicker than training
        from scratch")."""
        first = self.tokens[match[0]]
        return any(t.sentence == first.sentence and q not in match and (
            t.surface in CRITIQUE or (t.surface in COMPARERS and q < match[0]
                                      and t.clause == first.clause))
            for q, t in enumerate(self.tokens))


def _copied(answer: list[Token], prompt: list[Token]) -> set[int]:
    # Longest common runs of content words, by dynamic programming; runs of COPY_RUN words
    # (or the whole question, when it is shorter) are masked. Function words do not count.
    mine = [i for i, t in enumerate(answer) if not t.stop]
    theirs = [t.stem for t in prompt if not t.stop]
    needed = min(COPY_RUN, len(theirs)) or 1
    copied: set[int] = set()
    previous = [0] * (len(theirs) + 1)
    for n, i in enumerate(mine):
        current = [0] * (len(theirs) + 1)
        for j, other in enumerate(theirs):
            if answer[i].stem == other:
                current[j + 1] = previous[j] + 1
                if current[j + 1] >= needed:
                    copied.update(mine[n - current[j + 1] + 1:n + 1])
        previous = current
    return copied


def is_keyword_list(text: str) -> bool:
    """Is the answer (``text``) a bare list of keywords: short items cut by commas or dashes,
    few function words?

    >>> is_keyword_list("analysis, visualisation, feature selection")
    True
    >>> is_keyword_list("They analyse the data, plot it and pick the useful features.")
    False
    """
    tokens = tokenise(text)
    pieces = [words for s in re.split(r"[,;/|\n\u2022*]|\s-+>?\s|->", normalise(text))
              if (words := re.findall(r"[a-z0-9]+", s))]
    segments = [len(words) for words in pieces]
    # Items that are mostly actions ("plot distributions, pick useful features") or linked by
    # arrows ("data pipelines -> clean data") say something.
    actions = (sum(len(words) >= 2 and acts(words) for words in pieces)
               + len(re.findall(r"->|=>|\u2192", text)))
    function_words = sum(t.stop for t in tokens)
    if len(tokens) < 3:
        return False
    # Content words joined only by "the" or "a" state nothing ("the new data the truth").
    if (any(t.surface in FILLERS for t in tokens)
            and not any(t.stop and t.surface not in FILLERS for t in tokens)
            and not acts([t.surface for t in tokens])):
        return True
    if function_words > len(tokens) // 10:
        return False
    short_items = (len(segments) >= 2 and sum(segments) / len(segments) <= 3.5
                   and actions * 2 <= len(segments))
    return short_items or (function_words == 0 and len(tokens) >= 6 and actions * 2 <= len(
        segments))


def acts(words: Sequence[str]) -> bool:
    """Does a run of words hold a verb used as a verb (not right after "the" or "a")?

    >>> acts(["plot", "distributions"]), acts(["the", "plots"])
    (True, False)
    """
    return any(w in VERB_FORMS and (k == 0 or words[k - 1] not in FILLERS)
               for k, w in enumerate(words))


def is_terse(text: str) -> bool:
    """Is the answer (``text``) three to five words and not one function word, too little to
    show how ideas connect?

    >>> is_terse("analysis visualisation features"), is_terse("pandas loads the data")
    (True, False)
    """
    tokens = tokenise(text)
    return (3 <= len(tokens) <= 5 and not any(t.stop for t in tokens)
            and not acts([t.surface for t in tokens]))


def is_hedged(text: str, hedges: Sequence[str] = HEDGES) -> bool:
    """Does the answer (``text``) call itself a guess (``hedges``; ``WEAK_HEDGES`` for
    milder doubt)?

    >>> is_hedged("I have no idea, maybe something about unseen data?")
    True
    >>> is_hedged("The model is scored on data it has not seen.")
    False
    """
    return count_hedges(text, hedges) > 0


def count_hedges(text: str, hedges: Sequence[str]) -> int:
    """How many times the answer (``text``) uses one of the ``hedges`` (a phrase is counted
    once where a longer one holds it: "i think maybe" is not also "maybe").

    >>> count_hedges("Maybe it loads data, I think.", LIGHT_HEDGES)
    2
    """
    plain = normalise(text)
    count = 0
    for hedge in sorted(hedges, key=len, reverse=True):
        # ASCII spaces and letters only, exactly as the browser port reads them.
        pattern = r"(?<![a-z0-9])" + r"[ \t\r\n]+".join(hedge.split()) + r"(?![a-z0-9])"
        plain, n = re.subn(pattern, ",", plain)
        count += n
    return count


def strip_chatter(text: str) -> tuple[str, int, int]:
    """The answer (``text``) normalised, with conversational filler cut out (a comma left in
    its place), how many pieces of filler there were, and how many of them were not
    ``LOOSE_CHATTER``.

    >>> strip_chatter("Basically like validation data and stuff, you know")
    (', , validation data ,, ,', 4, 3)
    """
    plain = normalise(text)
    count = strong = 0
    for phrase in CHATTER:
        # ASCII spaces and letters only, exactly as the browser port reads them.
        pattern = r"(?<![a-z0-9])" + r"[ \t\r\n]+".join(phrase.split()) + r"(?![a-z0-9])"
        plain, n = re.subn(pattern, ",", plain)
        count += n
        strong += 0 if phrase in LOOSE_CHATTER else n
    return plain, count, strong


def is_padded(text: str) -> bool:
    """Is the answer (``text``) terms padded with filler: once the filler is cut out, a
    keyword list or a terse string of terms; or, with two pieces of filler or more, words with
    no verb but "is"?

    >>> is_padded("basically unseen data, like, ground truth and stuff")
    True
    >>> is_padded("Basically you score the model on rows it never saw.")
    False
    """
    rest, count, _ = strip_chatter(text)
    words = re.findall(r"[a-z0-9]+", rest)
    # "X is the A and the B": a form of "be" alone links terms without saying what they do.
    verbs = any(w in VERB_FORMS or (w in AUXILIARIES and w not in COPULAS) or w.endswith("ed")
                for w in words)
    return count > 0 and (is_keyword_list(rest) or is_terse(rest) or (count > 1 and not verbs))


def is_restated(prepared: _Answer, prompt_stems: set[str]) -> bool:
    """Is the answer (``prepared`` for matching) the question reworded a little: nearly every
    content word is one of the ``prompt_stems``, the stems of the question's content words?

    >>> prompt = "Why keep part of the data aside for testing?"
    >>> stems = {t.stem for t in tokenise(prompt) if not t.stop}
    >>> is_restated(_Answer("To keep part of the data aside.", prompt, {}), stems)
    True
    """
    content = [prepared.tokens[i].stem for i in prepared.content
               if prepared.tokens[i].stem != NEG]
    novel = [s for s in content if s not in prompt_stems]
    return bool(content) and len(novel) < 3 and len(novel) <= 0.3 * len(content)


def analyse_answer(answer: str, prompt: str, points: Sequence[Point],
                   subjects: Mapping[str, Sequence[str]] | None = None) -> Analysis:
    """Decide, point by point, whether an ``answer`` to the question ``prompt`` makes the key
    ``points`` of a rubric; ``subjects`` maps each subject a point may name to its names.

    >>> found = analyse_answer("You test it on data it has not seen.",
    ...                        "Why keep test data?", [Point("unseen", ("not [see|train]",))])
    >>> found.made, found.denies, found.n_words
    ((True,), False, 9)
    """
    prepared = _Answer(answer, prompt, subjects or {})
    prepared.known = frozenset(word for point in points
                               for phrasing in (*point.phrasings, *point.contradictions)
                               for slot in compile_phrasing(phrasing)
                               for alternative in slot for word in alternative)
    found = [([m for p in point.phrasings for m in prepared.matches(p, point.subject)],
              [m for p in point.contradictions for m in prepared.matches(p, point.subject)])
             for point in points]
    # Which matches are lone terms: a phrasing of one slot, in a clause without a verb.
    lone = [[m for p in point.phrasings if len(compile_phrasing(p)) == 1
             for m in prepared.matches(p, point.subject) if prepared.verbless(m)]
            for point in points]
    # A negator that belongs to some phrasing ("data it has not seen") denies nothing else;
    # an opposite claim, though, only counts when no negator at all is near it.
    consumed = {q for matches, _ in found for m in matches for q in m
                if prepared.tokens[q].stem == NEG}
    made, negated, contradicted, near, bare, affirmed_all = [], [], [], [], [], []
    for point, (matches, against), lone_terms in zip(points, found, lone, strict=True):
        # A negator that a phrasing of the same point took from the end of an act denies the
        # act and every match inside it: in "picking the useful features is never needed",
        # "features ... not needed" (which ones are unnecessary) does not make the point.
        denied = [m for m in matches if prepared.acting(m) and not prepared.negated(
            m, consumed) and prepared.negated(
            m, consumed - {q for o in matches if o[0] == m[-1] != m[0] for q in o})]
        affirmed = [m for m in matches if not prepared.negated(m, consumed)
                    and not any(d[0] <= m[0] <= d[-1] for d in denied)]
        affirmed_all += affirmed
        bare.append(bool(affirmed) and all(m in lone_terms for m in affirmed))
        # A point made in one sentence and flatly denied in another ("they plot it. Plotting
        # hardly matters") is claimed against: the denial makes the answer wrong.
        made_in = {prepared.tokens[m[0]].sentence for m in affirmed}
        opposed = any(not prepared.negated(m, set()) and not prepared.critiqued(m)
                      for m in against) or bool(affirmed) and any(
            prepared.tokens[m[0]].sentence not in made_in and prepared.flatly_denied(m, consumed)
            for m in matches if m not in affirmed)
        made.append(bool(affirmed) and not opposed)
        negated.append(bool(matches) and not affirmed)
        contradicted.append(opposed)
        near.append(not made[-1] and not opposed and not matches and any(
            not prepared.negated(m, consumed)
            for p in point.phrasings for m in prepared.near_matches(p, point.subject)))
    # Where each affirmed match ends, clause by clause: a negator before that end (though a
    # pronoun kept it from negating the match) sits next to the point.
    made_ends: dict[int, int] = {}
    for m in affirmed_all:
        for q in m:
            clause = prepared.tokens[q].clause
            made_ends[clause] = max(made_ends.get(clause, q), q)
    prepared.exact = True
    exact = [ok and any(not prepared.negated(m, consumed) for p in point.phrasings
                        for m in prepared.matches(p, point.subject))
             for point, ok in zip(points, made, strict=True)]
    n_words = len(prepared.tokens)
    n_content = len(prepared.content)
    prompt_stems = {t.stem for t in tokenise(prompt) if not t.stop}
    # Signs of doubt: weak and light hedges, and a question mark at the end. One or two light
    # hedges alone are fine in a complete answer; three signs make the answer a guess.
    light = count_hedges(answer, LIGHT_HEDGES)
    signs = (count_hedges(answer, WEAK_HEDGES) + light
             + bool(re.search(r"\?[ \t\r\n]*\Z", answer)))
    lightly_hedged = 0 < signs < GUESS_SIGNS and light == signs
    return Analysis(
        made=tuple(made),
        negated=tuple(negated),
        contradicted=tuple(contradicted),
        keyword_list=is_keyword_list(answer),
        copied_share=len(prepared.copied) / n_content if n_content else 0.0,
        n_words=n_words,
        near=tuple(near),
        hedged=is_hedged(answer) or signs >= GUESS_SIGNS,
        doubtful=signs > 0 and not lightly_hedged,
        lightly_hedged=lightly_hedged,
        denies=any(t.stem == NEG and q not in consumed for q, t in enumerate(prepared.tokens)),
        restated=is_restated(prepared, prompt_stems),
        terse=is_terse(answer),
        padded=is_padded(answer),
        chatter=strip_chatter(answer)[2],
        exact=tuple(exact),
        bare=tuple(b and ok for b, ok in zip(bare, made, strict=True)),
        denial_near=any(t.stem == NEG and q not in consumed and q < made_ends.get(t.clause, -1)
                        for q, t in enumerate(prepared.tokens)),
    )
