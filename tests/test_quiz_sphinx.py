"""The Sphinx extension: bank views in a small book, their links, scripts and payloads."""

import html
import io
import json
import re
import textwrap
from pathlib import Path

import pytest
from sphinx.application import Sphinx

from mlcycle_ref.quiz import load_bank
from mlcycle_ref.quiz.bank import REPOSITORY_BANKS
from mlcycle_ref.quiz.shuffle import displayed, fnv1a

BANK = textwrap.dedent("""\
    title: Tiny bank
    questions:
      - id: t1
        kind: truefalse
        prompt: Is this </script> safe?
        answer: true
        explanation: Yes.
        link: book/chapter#part-two
        difficulty: easy
        tags: [t]
      - id: t2
        kind: single
        prompt: Pick b.
        choices: [a, b]
        answer: b
        explanation: Because.
        link: book/chapter
        difficulty: easy
        tags: [t]
    """)


def build(tmp_path, pages: dict[str, str], conf: str = ""):
    """Build a small book whose pages live under book/; return the site and its warnings."""
    src, out = tmp_path / "src", tmp_path / "out"
    tiny = tmp_path / "tiny.yml"
    (src / "book").mkdir(parents=True)
    tiny.write_text(BANK)
    (src / "conf.py").write_text("extensions = ['mlcycle_ref.quiz.sphinx_ext']\n"
                                 f"root_doc = 'book/index'\n{conf}")
    for name, text in pages.items():
        page = src / "book" / f"{name}.rst"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(text.replace("{tiny}", str(tiny)))
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html",
                 status=None, warning=warnings, freshenv=True)
    app.build()
    # Several Sphinx apps in one process re-register docutils nodes: not our warning.
    ours = [line for line in warnings.getvalue().splitlines() if "already registered" not in line]
    return out, "\n".join(ours)


def payloads(page: Path) -> list[dict]:
    text = page.read_text(encoding="utf-8")
    return [json.loads(m) for m in re.findall(
        r'<script type="application/json" class="mlq-data">(.*?)</script>', text, re.S)]


PAGES = {
    "index": "Home\n====\n\n.. toctree::\n\n   chapter\n   quiz\n   glossary\n   cards\n"
             "   personas/index\n",
    "personas/index": "Personas\n========\n\nText.\n",
    "chapter": "Chapter\n=======\n\nPart two\n--------\n\nText.\n",
    "quiz": "Quiz\n====\n\n.. quiz:: {tiny}\n   :ids: t2, t1\n",
    "glossary": "Glossary\n========\n\n.. glossary::\n\n   Convergence\n      Settling.\n",
    "cards": "Cards\n=====\n\n.. flashcards:: glossary\n\n.. persona-sort:: personas\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out, warnings = build(tmp_path_factory.mktemp("site"), PAGES)
    return out, warnings


def test_a_quiz_page_embeds_its_questions_with_relative_links(site):
    out, warnings = site
    assert warnings == ""
    [data] = payloads(out / "book" / "quiz.html")
    assert data["view"] == "quiz" and data["bank"] == "tiny"
    assert [q["id"] for q in data["questions"]] == ["t2", "t1"]
    assert data["questions"][0]["href"] == "chapter.html"
    assert data["questions"][1]["href"] == "chapter.html#part-two"
    assert data["questions"][1]["html_link"] == "book/chapter.html#part-two"


def test_the_embedded_json_cannot_close_its_script_tag(site):
    text = (site[0] / "book" / "quiz.html").read_text(encoding="utf-8")
    assert "Is this <\\/script> safe?" in text
    assert "<noscript>" in text and html.escape("Is this </script> safe?") in text


def test_scripts_and_styles_come_from_the_site_and_only_where_needed(site):
    out, _ = site
    quiz_page = (out / "book" / "quiz.html").read_text(encoding="utf-8")
    for name in ("quiz-lexicon.js", "quiz-check.js", "quiz.js", "quiz.css"):
        assert f"_static/mlcycle-quiz/{name}" in quiz_page
        assert (out / "_static" / "mlcycle-quiz" / name).is_file()
    assert "mlcycle-quiz" not in (out / "book" / "chapter.html").read_text(encoding="utf-8")
    lexicon = (out / "_static" / "mlcycle-quiz" / "quiz-lexicon.js").read_text(encoding="utf-8")
    data = json.loads(lexicon.split("window.MLQ_LEXICON = ", 1)[1].rstrip().rstrip(";"))
    assert data["thresholds"]["max_span"] > 0 and "not" in data["negators"]
    assert data["leitner"]["intervals"]["5"] == 14


def test_flashcards_link_terms_to_the_glossary_entries(site):
    [cards, sort] = payloads(site[0] / "book" / "cards.html")
    assert cards["view"] == "flashcards" and len(cards["terms"]) >= 23
    hrefs = {t["id"]: t["href"] for t in cards["terms"]}
    assert hrefs["convergence"] == "glossary.html#term-Convergence"
    assert hrefs["pandas"] == "glossary.html#term-Pandas"
    assert {q["kind"] for q in cards["questions"]} == {"text"}
    assert sort["view"] == "persona-sort" and len(sort["items"]) == len(sort["question"]["pairs"])
    assert [p["name"] for p in sort["personas"]] == ["Data Engineer", "Data Scientist",
                                                     "MLOps Engineer"]


def test_a_link_to_a_missing_page_is_a_named_warning(tmp_path):
    _, warnings = build(tmp_path, {
        "index": "Home\n====\n\n.. quiz:: {tiny}\n",
    })
    assert "tiny: question t1: link 'book/chapter#part-two' names no page" in warnings
    _, warnings = build(tmp_path / "quiet", {"index": "Home\n====\n\n.. quiz:: {tiny}\n"},
                        conf="suppress_warnings = ['mlcycle_quiz.link']\n")
    assert "names no page" not in warnings


@pytest.mark.parametrize(("directive", "message"), [
    (".. quiz:: nosuchbank", "no bank named 'nosuchbank'"),
    (".. quiz:: {tiny}\n   :ids: t9", "no question with id 't9'"),
    (".. flashcards:: {tiny}", "flashcards need a glossary bank"),
    (".. persona-sort:: glossary", "persona-sort needs a personas bank"),
])
def test_directive_errors_name_the_problem(tmp_path, directive, message):
    _, warnings = build(tmp_path, {"index": f"Home\n====\n\n{directive}\n"})
    assert message in warnings


def test_the_repository_banks_are_the_default(site):
    assert (REPOSITORY_BANKS / "glossary.yml").is_file()


def test_the_built_page_does_not_list_right_answers_first(tmp_path):
    quiz = load_bank("quiz")
    singles = [q.id for q in quiz.questions if q.kind == "single"]
    multiples = [q for q in quiz.questions if q.kind == "multiple"]
    pages = {"index": "Home\n====\n\n.. toctree::\n\n   chapter\n   all\n",
             "chapter": "Chapter\n=======\n\nText.\n",
             "all": f"All\n===\n\n.. quiz:: quiz\n   :ids: {', '.join(singles)}\n"}
    out, _ = build(tmp_path, pages)
    [data] = payloads(out / "book" / "all.html")
    firsts = [q["choices"][0] == q["answer"] for q in data["questions"]]
    assert len(firsts) == len(singles) >= 8
    # Left in the author's order, nearly every first choice was the right one.
    assert sum(firsts) <= len(firsts) / 2, sum(firsts)
    authored = sum(quiz.question(i).choices[0] == quiz.question(i).answer for i in singles)
    assert authored > sum(firsts)
    for question in multiples:
        shown = displayed(question, fnv1a(f"quiz|{question.id}")).choices
        assert set(shown) == set(question.choices) and shown != question.choices


def test_persona_items_are_not_grouped_by_owner_in_the_page(site):
    [_, sort] = payloads(site[0] / "book" / "cards.html")
    owners = [item["persona"] for item in sort["items"]]
    changes = sum(owners[n] != owners[n + 1] for n in range(len(owners) - 1))
    assert changes > len(set(owners)) + 2, owners
