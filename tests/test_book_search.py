"""Search that serves: a glossary term is one hit however many aliases match, excerpts carry no
button labels, "leak" and "leakage" find the same pages, and a page opened from disk explains
how to get excerpts instead of failing quietly."""

import pytest
from browser_support import SITE, ensure_built, launched_browser, serve, watched_page

RESULTS = """() => [...document.querySelectorAll("#search-results ul.search li")].map((item) => ({
  href: item.querySelector("a").getAttribute("href"),
  excerpt: item.querySelector("p.context")?.textContent || ""}))"""
FINISHED = "document.querySelector('.search-summary')?.textContent.length > 0"


@pytest.fixture(scope="module")
def browser():
    ensure_built()
    with launched_browser() as chromium:
        yield chromium


@pytest.fixture
def search(browser):
    """Run a query on the search page over http; return the results."""
    with watched_page(browser) as page, serve(SITE) as root:
        def run(query: str) -> list[dict]:
            page.goto(f"{root}/search.html?q={query}")
            page.wait_for_function(FINISHED)
            page.wait_for_load_state("networkidle")
            return page.evaluate(RESULTS)

        yield run


def test_a_term_is_one_hit_however_many_aliases_match(search):
    hits = [hit["href"] for hit in search("hyperparameter")]
    # Two glossary terms contain the word (Hyperparameters, Hyperparameter Optimization); the
    # latter's aliases (HPO, hyperparameter tuning, ...) must not add hits of their own.
    terms = [href for href in hits if href.startswith("book/glossary.html#term-")]
    assert len(terms) == len(set(terms)) <= 2, terms
    assert any(not href.startswith("book/glossary.html") for href in hits[:5]), hits[:5]


def test_excerpts_carry_no_button_labels(search):
    excerpts = [hit["excerpt"] for hit in search("correlation")]
    assert excerpts and any(excerpts)
    for label in (".md", ".pdf", "book .pdf", "Download"):
        assert not any(label in excerpt.split() for excerpt in excerpts), label


def test_leak_and_leakage_find_the_same_pages(search):
    leak = {hit["href"].split("#")[0] for hit in search("leak")}
    leakage = {hit["href"].split("#")[0] for hit in search("leakage")}
    assert len(leak) >= 3 and leak == leakage


def test_search_from_a_file_explains_how_to_serve_the_site(browser):
    with watched_page(browser) as page:
        page.goto((SITE / "search.html").as_uri() + "?q=leakage")
        page.wait_for_function(FINISHED)
        note = page.locator("#mlcycle-search-note")
        assert "make serve" in note.text_content()
        assert page.locator("#search-results ul.search li").count() >= 1
