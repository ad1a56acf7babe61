"""Sphinx extension: question banks rendered as interactive pages, checked in the browser.

Three directives, each taking a bank name (a file in ``quizzes/``) or a path::

    ```{quiz} quiz
    :ids: q01, q01-multi, q01-order
    ```

    ```{flashcards} glossary
    ```

    ```{persona-sort} personas
    ```

``quiz`` renders questions of any kind (``:ids:`` picks some, in that order; default all);
``flashcards`` drills a glossary bank with Leitner boxes kept in the reader's browser
(localStorage); ``persona-sort`` asks the reader to assign each task and output of a
personas bank to its persona. The page embeds the questions as JSON, choices and items in a
seeded order rather than the author's; ``quiz.js`` renders them in a fresh order per attempt
and keeps attempts in the reader's browser, and ``quiz-check.js`` - a port of the Python
checker reading the same compiled data, tested against it - checks the answers, with no
kernel and nothing fetched from the network. The scripts are added only
to pages that use a directive.

Each question's ``link`` (``book/lifecycle/training#evaluation``) becomes a relative link
from the page; a link to a page that is not in the book is a warning of type
``mlcycle_quiz.link``. Enable the extension in ``_config.yml``::

    sphinx:
      extra_extensions: [mlcycle_ref.quiz.sphinx_ext]
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from mlcycle_ref.quiz.bank import BankError, bank_path, load_bank, question_payload
from mlcycle_ref.quiz.checker_data import CHECKER_DATA
from mlcycle_ref.quiz.shuffle import displayed, fnv1a, shuffled

STATIC = Path(__file__).with_name("static")
#: Where the scripts go, relative to the site's ``_static`` folder.
FOLDER = "mlcycle-quiz"
SCRIPTS = ("quiz-lexicon.js", "quiz-check.js", "quiz.js")
STYLES = ("quiz.css",)

logger = logging.getLogger(__name__)


class bank_view(nodes.General, nodes.Element):  # noqa: N801 - docutils names nodes in lower case
    """A bank view: ``payload`` is the JSON the page script renders, ``prompts`` the
    questions' prompts, listed for readers without JavaScript.

    >>> node = bank_view(payload={"view": "quiz", "bank": "tools", "questions": []},
    ...                  prompts=["What does pandas hold?"])
    >>> node["payload"]["view"], node["prompts"]
    ('quiz', ['What does pandas hold?'])
    """


class BankDirective(SphinxDirective):
    """Shared part of the three directives: load the bank, build the node.

    Each directive names its ``view`` and builds its ``payload`` from the loaded ``bank``
    and the directive's ``options`` (a dict of option name to text); the payload always
    holds the ``questions`` whose prompts the page lists for readers without JavaScript. It
    needs no Sphinx environment, so it can be tried on its own:

    >>> from mlcycle_ref.quiz import load_bank
    >>> for directive, bank in [(QuizDirective, "quiz"), (FlashcardsDirective, "glossary"),
    ...                         (PersonaSortDirective, "personas")]:
    ...     print(directive.view, sorted(directive.payload(load_bank(bank), {})))
    quiz ['questions', 'title']
    flashcards ['questions', 'terms']
    persona-sort ['items', 'personas', 'question', 'questions']
    """

    required_arguments = 1
    view = ""

    def run(self):
        try:
            path = bank_path(self.arguments[0])
            bank = load_bank(path)
            payload = self.payload(bank, self.options)
        except BankError as error:
            raise self.error(str(error)) from error
        self.env.note_dependency(str(path.resolve()))
        node = bank_view(payload={"view": self.view, "bank": bank.name, **payload},
                         prompts=[q["prompt"] for q in payload["questions"]])
        self.set_source_info(node)
        return [node]

    @classmethod
    def payload(cls, bank, options: dict) -> dict:
        raise NotImplementedError


class QuizDirective(BankDirective):
    """``quiz``: questions of a bank, optionally only ``:ids:`` (in ``options``, the ids
    separated by commas or spaces), in that order. Choices and pairs are listed in a seeded
    order, not the author's.

    >>> from mlcycle_ref.quiz import load_bank
    >>> payload = QuizDirective.payload(load_bank("quiz"), {"ids": "q02-tf, q02-choice"})
    >>> [question["id"] for question in payload["questions"]]
    ['q02-tf', 'q02-choice']
    """

    view = "quiz"
    option_spec = {"ids": directives.unchanged}

    @classmethod
    def payload(cls, bank, options: dict) -> dict:
        ids = options.get("ids", "").replace(",", " ").split()
        # The page lists choices and pairs in a seeded order, not the author's (whose first
        # choice is often the right one); quiz.js reorders them again for every attempt.
        return {"title": bank.title,
                "questions": [question_payload(displayed(q, fnv1a(f"{bank.name}|{q.id}")))
                              for q in bank.select(ids)]}


class FlashcardsDirective(BankDirective):
    """``flashcards``: the terms of a glossary bank as Leitner flashcards, with the
    type-the-term questions; a bank without terms is an error. The directive takes no
    ``options``.

    >>> from mlcycle_ref.quiz import load_bank
    >>> payload = FlashcardsDirective.payload(load_bank("glossary"), {})
    >>> len(payload["terms"]) == len(load_bank("glossary").terms)
    True
    >>> FlashcardsDirective.payload(load_bank("quiz"), {})
    Traceback (most recent call last):
    ...
    mlcycle_ref.quiz.bank.BankError: ...quiz.yml: flashcards need a glossary bank (with 'terms')
    """

    view = "flashcards"

    @classmethod
    def payload(cls, bank, options: dict) -> dict:
        if not bank.terms:
            raise BankError(f"{bank.path}: flashcards need a glossary bank (with 'terms')")
        terms = [{"id": t.id, "term": t.term, "definition": t.definition, "link": t.link,
                  "aliases": list(t.aliases)} for t in bank.terms]
        questions = [question_payload(q) for q in bank.questions if q.kind == "text"]
        return {"terms": terms, "questions": questions}


class PersonaSortDirective(BankDirective):
    """``persona-sort``: assign each task and output of a personas bank to a persona; the
    items come in a seeded order, with the matching question that checks the sort. The
    directive takes no ``options``.

    >>> from mlcycle_ref.quiz import load_bank
    >>> payload = PersonaSortDirective.payload(load_bank("personas"), {})
    >>> payload["question"]["kind"], len(payload["items"]) == len(payload["question"]["pairs"])
    ('matching', True)
    """

    view = "persona-sort"

    @classmethod
    def payload(cls, bank, options: dict) -> dict:
        if not bank.personas:
            raise BankError(f"{bank.path}: persona-sort needs a personas bank (with 'personas')")
        seed = fnv1a(f"{bank.name}|sort")
        sort = question_payload(displayed(bank.question("sort"), seed))
        return {
            "personas": [{"id": p.id, "name": p.name, "summary": p.summary}
                         for p in bank.personas],
            "items": [{"id": i.id, "text": i.text, "persona": i.persona, "kind": i.kind}
                      for i in shuffled(bank.items, seed)],
            "question": sort,
            "questions": [sort],
        }


def _href(app, fromdoc: str, link: str, node, what: str) -> str:
    page, _, anchor = link.partition("#")
    if page not in app.env.all_docs:
        logger.warning(f"{what}: link {link!r} names no page of the book", location=node,
                       type="mlcycle_quiz", subtype="link")
        return ""
    return app.builder.get_relative_uri(fromdoc, page) + (f"#{anchor}" if anchor else "")


def _glossary_href(app, fromdoc: str, term: dict, node) -> str:
    # The glossary page decides the anchor of a term: ask the std domain, as {term} does.
    wanted = {name.lower() for name in [term["term"], *term["aliases"]]}
    for (kind, name), (docname, labelid) in app.env.get_domain("std").objects.items():
        if kind == "term" and name.lower() in wanted:
            return f"{app.builder.get_relative_uri(fromdoc, docname)}#{labelid}"
    return _href(app, fromdoc, term["link"], node, f"term {term['id']}")


def _resolve_links(app, doctree, fromdoc: str) -> None:
    for node in doctree.findall(bank_view):
        payload = node["payload"]
        for question in payload["questions"]:
            question["href"] = _href(app, fromdoc, question["link"], node,
                                     f"{payload['bank']}: question {question['id']}")
        for term in payload.get("terms", []):
            term["href"] = _glossary_href(app, fromdoc, term, node)


def visit_bank_view_html(self, node) -> None:
    """Write a :class:`bank_view` ``node`` into the page of the HTML translator ``self``:
    its payload as JSON in a script tag (``</`` escaped), the prompts as a fallback for
    readers without JavaScript. Raises SkipNode: the node has no children to visit.

    >>> from docutils.frontend import get_default_settings
    >>> from docutils.utils import new_document
    >>> from docutils.writers.html5_polyglot import HTMLTranslator, Writer
    >>> translator = HTMLTranslator(new_document("page", get_default_settings(Writer)))
    >>> node = bank_view(payload={"view": "quiz", "bank": "tools", "questions": []},
    ...                  prompts=["Is </script> safe?"])
    >>> visit_bank_view_html(translator, node)
    Traceback (most recent call last):
    ...
    docutils.nodes.SkipNode
    >>> print(translator.body[-1])  # doctest: +NORMALIZE_WHITESPACE
    <div class="mlq" data-mlq="quiz"><script type="application/json"
    class="mlq-data">{"view": "quiz", "bank": "tools", "questions": []}</script><div
    class="mlq-root"><noscript><p>These exercises need JavaScript to check answers. The
    questions:</p><ol><li>Is &lt;/script&gt; safe?</li></ol></noscript></div></div>
    """
    payload = json.dumps(node["payload"], ensure_ascii=False).replace("</", "<\\/")
    prompts = "".join(f"<li>{html.escape(p)}</li>" for p in node["prompts"])
    self.body.append(
        f'<div class="mlq" data-mlq="{node["payload"]["view"]}">'
        f'<script type="application/json" class="mlq-data">{payload}</script>'
        f'<div class="mlq-root"><noscript><p>These exercises need JavaScript to check '
        f"answers. The questions:</p><ol>{prompts}</ol></noscript></div></div>")
    raise nodes.SkipNode


def skip(self, node) -> None:
    """Leave a :class:`bank_view` ``node`` out of a page that cannot run the scripts
    (LaTeX, text, man, Texinfo); ``self`` is that builder's translator.

    >>> skip(None, bank_view())
    Traceback (most recent call last):
    ...
    docutils.nodes.SkipNode
    """
    raise nodes.SkipNode


def _install_static(app) -> None:
    if app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for name in (*SCRIPTS[1:], *STYLES):
        shutil.copy2(STATIC / name, target / name)
    # The compiled checker data, exactly as the Python checker reads it.
    lexicon = json.dumps(CHECKER_DATA, ensure_ascii=False, sort_keys=True)
    (target / SCRIPTS[0]).write_text(
        f"/* Generated from mlcycle_ref/quiz/checker-data.json. */\n"
        f"window.MLQ_LEXICON = {lexicon};\n", encoding="utf-8")


def _add_assets(app, pagename, templatename, context, doctree) -> None:
    if doctree is not None and any(True for _ in doctree.findall(bank_view)):
        for name in SCRIPTS:
            app.add_js_file(f"{FOLDER}/{name}")
        for name in STYLES:
            app.add_css_file(f"{FOLDER}/{name}")


def setup(app):
    """Register the directives, the node and the page assets with the Sphinx application
    ``app``; Sphinx calls this when ``conf.py`` lists the extension."""
    app.add_node(bank_view, html=(visit_bank_view_html, None), latex=(skip, None),
                 text=(skip, None), man=(skip, None), texinfo=(skip, None))
    app.add_directive("quiz", QuizDirective)
    app.add_directive("flashcards", FlashcardsDirective)
    app.add_directive("persona-sort", PersonaSortDirective)
    app.connect("builder-inited", _install_static)
    app.connect("doctree-resolved", _resolve_links)
    # Before other page-context handlers: one that rebuilds the page's script list (as
    # mlcycle_ref.book does to drop thebe) would otherwise hide the scripts added here.
    app.connect("html-page-context", _add_assets, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
