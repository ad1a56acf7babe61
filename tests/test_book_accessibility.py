"""axe-core audits every page of the built site, and the widgets in each state a reader reaches.

axe-core comes from the npm registry (installed once into the build folder, outside git) and
is injected into each page by Playwright; the Chromium is Debian's. A page passes when axe
finds nothing serious or critical.
"""

import json
import re
import shutil
import subprocess

import pytest
from browser_support import (
    OUTPUT,
    PHONE,
    SITE,
    builds_locked,
    ensure_built,
    launched_browser,
    serve,
    watched_page,
)
from test_book import toc_files

from mlcycle_ref.quiz.bank import load_bank

AXE_VERSION = "4.14.1"
AXE_FOLDER = OUTPUT / "_build" / "node"
AXE_SCRIPT = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
# The dark scheme changes colours only (the site has no scheme-only elements), so in it the
# walk of every page runs the rules that read colours; the widget states get every rule.
COLOUR_RULES = ("color-contrast", "link-in-text-block")
AUDIT = """async (rules) => {
  const options = {resultTypes: ["violations"]};
  if (rules) options.runOnly = {type: "rule", values: rules};
  const result = await axe.run(document, options);
  return result.violations.map((v) => ({id: v.id, impact: v.impact,
    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5), count: v.nodes.length}));
}"""


def install_axe() -> str:
    """Return the path of axe.min.js, installing axe-core from npm into the build folder."""
    with builds_locked():  # one test process installs it, the others wait
        if not AXE_SCRIPT.is_file():
            _npm_install_axe()
    return str(AXE_SCRIPT)


def _npm_install_axe() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed once to install axe-core (apt-get install npm)"
    AXE_FOLDER.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--no-save", "--prefix", str(AXE_FOLDER),
                             f"axe-core@{AXE_VERSION}"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and AXE_SCRIPT.is_file(), result.stderr[-2000:]


@pytest.fixture(scope="module")
def audit():
    """A function that audits the page it is given; every finding of every call is kept."""
    ensure_built()
    script = install_axe()
    findings: dict[str, list] = {}

    def run(page, state: str, rules=None) -> list:
        """Audit with every rule, or with ``rules`` only."""
        if not page.evaluate("typeof axe !== 'undefined'"):  # once per page load
            page.add_script_tag(path=script)
        violations = page.evaluate(AUDIT, list(rules) if rules else None)
        findings[state] = violations
        return [v for v in violations if v["impact"] in BLOCKING]

    yield run
    summary = {state: {v["id"]: v["count"] for v in found} for state, found in findings.items()}
    report = SITE.parent / "axe-report.json"
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


def describe(blocking: dict[str, list]) -> str:
    return "\n".join(f"{state}: {v['id']} ({v['impact']}, {v['count']} nodes) {v['nodes']}"
                     for state, found in blocking.items() for v in found)


def use_scheme(page, scheme: str) -> None:
    """Show the page in a colour scheme, as the theme's switch does, and end the colour
    transitions the switch starts (axe would measure colours half-way)."""
    page.evaluate(f"document.documentElement.dataset.theme = '{scheme}'")
    page.evaluate("document.getAnimations().forEach((running) => running.finish())")


def test_every_page_has_no_serious_violation_in_either_scheme(page, audit, url_of):
    blocking = {}
    for source in toc_files():
        page.emulate_media(color_scheme="light")
        page.goto(url_of(source))
        assert page.locator(".only-dark, .only-light").count() == 0, (
            f"{source} shows elements in one scheme only: audit the dark one with every rule")
        for scheme in ("light", "dark"):  # one visit, both schemes: as the switch shows them
            page.emulate_media(color_scheme=scheme)
            use_scheme(page, scheme)
            found = audit(page, f"{source} ({scheme})",
                          COLOUR_RULES if scheme == "dark" else None)
            if found:
                blocking[f"{source} ({scheme})"] = found
    assert not blocking, describe(blocking)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_widget_states_have_no_serious_violation(page, audit, url_of, scheme):
    page.emulate_media(color_scheme=scheme)
    blocking = {}

    def check(state):
        use_scheme(page, scheme)
        found = audit(page, f"{state} ({scheme})")
        if found:
            blocking[state] = found

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
    assert not blocking, describe(blocking)


def test_search_results_have_no_serious_violation(page, audit, url_of):
    page.goto(url_of("search") + "?q=leakage")
    page.wait_for_function("document.querySelector('.search-summary')?.textContent.length > 0")
    found = audit(page, "search page")
    assert not found, describe({"search": found})
