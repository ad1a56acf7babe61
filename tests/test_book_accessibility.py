"""axe-core audits the widgets in each state a reader reaches, and the search results.

Every page of the site is audited, in both colour schemes, in the one walk of every page
that test_site_browser.py makes. Here the states need clicks first, and the pages are served
over http, so axe also runs its rule that reads the stylesheets themselves.
"""

import json
import re

import pytest
from axe_support import audit as run_audit
from axe_support import blocking, describe, install_axe, use_scheme
from browser_support import PHONE, SITE, ensure_built, launched_browser, serve, watched_page

from mlcycle_ref.quiz.bank import load_bank


@pytest.fixture(scope="module")
def audit():
    """A function that audits the page it is given; every finding of every call is kept."""
    ensure_built()
    script = install_axe()
    findings: dict[str, list] = {}

    def run(page, state: str) -> list:
        findings[state] = run_audit(page, script)
        return blocking(findings[state])

    yield run
    summary = {state: {v["id"]: v["count"] for v in found} for state, found in findings.items()}
    report = SITE.parent / "axe-report-widgets.json"
    report.write_text(json.dumps(summary, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def http_root():
    # Over http: axe reads the stylesheets, which Chromium forbids from file://.
    with serve(SITE) as root:
        yield root


@pytest.fixture(scope="module")
def browser():
    with launched_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    with watched_page(browser) as page:
        yield page


@pytest.fixture
def url_of(http_root):
    return lambda source: f"{http_root}/{source}.html"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widget_states_have_no_serious_violation(page, audit, url_of, scheme):
    failing = {}

    def check(state):
        use_scheme(page, scheme)
        found = audit(page, f"{state} ({scheme})")
        if found:
            failing[state] = found

    question = load_bank("quiz").question("q02-choice")
    page.goto(url_of("book/quiz/index"))
    box = page.locator(f"[data-question='{question.id}']")
    wrong = next(choice for choice in question.choices if choice != question.answer)
    box.get_by_label(wrong).check()
    box.get_by_role("button", name="Check").click()
    check("quiz: a wrong answer")
    box.get_by_label(question.answer).check()
    box.get_by_role("button", name="Check").click()
    check("quiz: a right answer")

    page.goto(url_of("book/quiz/flashcards"))
    page.get_by_role("button", name="Show the definition").click()
    check("flashcards: definition shown")
    page.get_by_label("Drill mode").select_option("type")
    page.get_by_role("button", name="Check").click()
    check("flashcards: typed mode, checked")

    page.goto(url_of("book/quiz/personas"))
    check("personas: unsorted")
    for group in page.locator(".mlq-persona-buttons").all():
        group.get_by_role("button").first.click()
    page.get_by_role("button", name=re.compile("Check", re.I)).first.click()
    check("personas: checked")

    page.set_viewport_size(PHONE)
    page.goto(url_of("book/lifecycle/exploration"))
    page.locator("button.primary-toggle:visible").click()
    check("phone: table of contents open")
    assert not failing, describe(failing)


def test_search_results_have_no_serious_violation(page, audit, url_of):
    page.goto(url_of("search") + "?q=leakage")
    page.wait_for_function("document.querySelector('.search-summary')?.textContent.length > 0")
    found = audit(page, "search page")
    assert not found, describe({"search": found})
