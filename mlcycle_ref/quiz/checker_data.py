"""The checker's decision data, compiled once from ``lexicon.yml`` into ``checker-data.json``.

The Python checker (:mod:`mlcycle_ref.quiz.rubric`), the drills and the book's scripts all
read the JSON file, so the word lists, thresholds and Leitner intervals cannot drift apart
between Python and the browser. After editing ``lexicon.yml``, run::

    python mlcycle_ref/quiz/checker_data.py

(run by path: the package itself reads the JSON file). A test fails while the JSON file
differs from what the YAML compiles to.

>>> CHECKER_DATA["leitner"]["intervals"]["2"]
1
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

SOURCE = Path(__file__).with_name("lexicon.yml")
COMPILED = Path(__file__).with_name("checker-data.json")


def _check_words(source: Path, key: str, values) -> None:
    # YAML reads a bare no/yes/on as a boolean: insist on strings so a word never goes missing.
    words = [*values, *values.values()] if isinstance(values, dict) else list(values)
    bad = [w for w in words if not isinstance(w, (str, list))]
    if bad:
        raise ValueError(f"{source}: {key}: expected words, found {bad!r} (quote them)")


def compile_data(source: Path = SOURCE) -> dict:
    """Read and validate the YAML ``source`` (by default ``lexicon.yml`` beside this module);
    return the data as JSON-ready values, with every form of the ``verbs`` added as
    ``verb_forms`` and the Leitner boxes as text keys. A ValueError names the file and the
    key of a list that holds something other than words, or boxes that are not 1 to n.

    >>> import tempfile
    >>> source = Path(tempfile.mkdtemp()) / "lexicon.yml"
    >>> _ = source.write_text("verbs: [study]\\nleitner: {intervals: {1: 0, 2: 1}}\\n")
    >>> data = compile_data(source)
    >>> data["verb_forms"], data["leitner"]["intervals"]
    (['studied', 'studies', 'study'], {'1': 0, '2': 1})
    >>> _ = source.write_text("hedges: [maybe, no]\\nverbs: []\\nleitner: {intervals: {1: 0}}\\n")
    >>> compile_data(source)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../lexicon.yml: hedges: expected words, found [False] (quote them)
    """
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for key, values in data.items():
        if key not in ("thresholds", "leitner"):
            _check_words(source, key, values)
    intervals = data["leitner"]["intervals"]
    if sorted(intervals) != list(range(1, len(intervals) + 1)):
        raise ValueError(f"{source}: leitner.intervals: expected boxes 1..n, found "
                         f"{sorted(intervals)}")
    data["verb_forms"] = sorted({form for verb in data["verbs"] for form in verb_forms(verb)})
    # JSON keys are text: boxes become "1", "2", ... in both languages.
    data["leitner"]["intervals"] = {str(box): days for box, days in intervals.items()}
    return data


def verb_forms(verb: str) -> list[str]:
    """The base, -s and past forms of a regular verb (made here once, for both checkers).

    >>> verb_forms("study"), verb_forms("plot")
    (['study', 'studies', 'studied'], ['plot', 'plots', 'ploted', 'plotted'])
    """
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return [verb, verb[:-1] + "ies", verb[:-1] + "ied"]
    if verb.endswith("e"):
        return [verb, verb + "s", verb + "d"]
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return [verb, verb + "es", verb + "ed"]
    forms = [verb, verb + "s", verb + "ed"]
    if len(verb) <= 4 and verb[-1] not in "aeiouwy" and verb[-2:-1] in tuple("aeiou"):
        forms.append(verb + verb[-1] + "ed")
    return forms


def render(data: dict) -> str:
    """The JSON text of ``data`` as written to ``checker-data.json``: sorted keys, one
    stable form, so the file changes only when the data does.

    >>> print(render({"verbs": ["fit"], "leitner": {"retry_after": 3}}), end="")
    {
     "leitner": {
      "retry_after": 3
     },
     "verbs": [
      "fit"
     ]
    }
    """
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def load() -> dict:
    """The compiled data from ``checker-data.json`` (compiled on the fly when the file is
    missing); the module reads it once as ``CHECKER_DATA``.

    >>> load()["leitner"] == CHECKER_DATA["leitner"]
    True
    """
    if not COMPILED.is_file():
        return compile_data()
    return json.loads(COMPILED.read_text(encoding="utf-8"))


CHECKER_DATA: dict = load()

if __name__ == "__main__":
    COMPILED.write_text(render(compile_data()), encoding="utf-8")
    print(f"wrote {COMPILED}")
