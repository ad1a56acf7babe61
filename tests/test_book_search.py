"""Search that serves: a glossary term is one hit however many aliases match, excerpts carry no
button labels, the words of one family ("leak" and "leakage", "normalise" and "normalize") find
the same pages over http and from disk, the page script stems words as the index does, and a
page opened from disk explains how to get excerpts instead of failing quietly."""

import re
from contextlib import contextmanager

import pytest
from browser_support import ROOT, SITE, ensure_built, launched_browser, serve, watched_page

from mlcycle_ref.book import SearchAsQueried

RESULTS = """() => [...document.querySelectorAll("#search-results ul.search li")].map((item) => ({
  href: item.querySelector("a").getAttribute("href"),
  excerpt: item.querySelector("p.context")?.textContent || ""}))"""
FINISHED = "document.querySelector('.search-summary')?.textContent.length > 0"


@pytest.fixture(scope="module")
def browser():
    ensure_built()
    with launched_browser() as chromium:
        yield chromium


@contextmanager
def search_page(browser, over: str):
    """A function that runs a query on the search page, served over http or opened from disk
    (``over`` "file"), and returns the results."""
    with watched_page(browser) as page, serve(SITE) as root:
        base = root if over == "http" else SITE.as_uri()

        def run(query: str) -> list[dict]:
            page.goto(f"{base}/search.html?q={query}")
            page.wait_for_function(FINISHED)
            page.wait_for_load_state("networkidle")
            return page.evaluate(RESULTS)

        yield run


@pytest.fixture(params=["http", "file"])
def search(request, browser):
    with search_page(browser, request.param) as run:
        yield run


@pytest.fixture
def search_over_http(browser):
    with search_page(browser, "http") as run:
        yield run


def pages(hits: list[dict]) -> set[str]:
    return {hit["href"].split("#")[0] for hit in hits}


def test_a_term_is_one_hit_however_many_aliases_match(search):
    hits = [hit["href"] for hit in search("hyperparameter")]
    # Two glossary terms contain the word (Hyperparameters, Hyperparameter Optimization); the
    # latter's aliases (HPO, hyperparameter tuning, ...) must not add hits of their own.
    terms = [href for href in hits if href.startswith("book/glossary.html#term-")]
    assert len(terms) == len(set(terms)) <= 2, terms
    assert any(not href.startswith("book/glossary.html") for href in hits[:5]), hits[:5]


def test_excerpts_carry_no_button_labels(search_over_http):
    excerpts = [hit["excerpt"] for hit in search_over_http("correlation")]
    assert excerpts and any(excerpts)
    for label in (".md", ".pdf", "book .pdf", "Download"):
        assert not any(label in excerpt.split() for excerpt in excerpts), label


@pytest.mark.parametrize("short, long", [("leak", "leakage"), ("normalize", "normalise"),
                                         ("random", "randomly")])
def test_words_of_one_family_find_the_same_pages(search, short, long):
    found = pages(search(short))
    assert len(found) >= 2 and found == pages(search(long)), (short, long)


def test_the_page_script_stems_words_as_the_index_does(browser):
    # Every word of the book's sources: a query stemmed differently from the pages would find
    # only what Sphinx's substring fallback happens to catch.
    words = sorted({word.lower() for path in (ROOT / "book").rglob("*.md")
                    for word in re.findall(r"[A-Za-z]+", path.read_text(encoding="utf-8"))})
    with watched_page(browser) as page:
        page.goto((SITE / "search.html").as_uri())
        in_browser = page.evaluate(
            "(words) => { const stemmer = new Stemmer(); "
            "return words.map((word) => stemmer.stemWord(word)); }", words)
    stem = SearchAsQueried({}).stem
    differ = [(word, js) for word, js in zip(words, in_browser, strict=True) if stem(word) != js]
    assert len(words) > 1000 and not differ, differ[:20]


def test_search_from_a_file_explains_how_to_serve_the_site(browser):
    with watched_page(browser) as page:
        page.goto((SITE / "search.html").as_uri() + "?q=leakage")
        page.wait_for_function(FINISHED)
        note = page.locator("#mlcycle-search-note")
        assert "make serve" in note.text_content()
        assert page.locator("#search-results ul.search li").count() >= 1
