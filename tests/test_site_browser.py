"""The built website in a real browser (Chromium via Playwright), as a reader uses it.

One browser for the session, one context per test; every context records its requests and
fails the test on any request that would leave the machine, and on any script or console error.
"""

import json
import re

import pytest
from axe_support import COLOUR_RULES, audit, blocking, describe, install_axe, use_scheme
from browser_support import (
    DESKTOP,
    PHONE,
    SITE,
    Watch,
    ensure_built,
    launched_browser,
    serve,
    watched_page,
)
from playwright.sync_api import expect
from test_book import toc_files

from mlcycle_ref.quiz.bank import load_bank
from mlcycle_ref.quiz.checking import check

SCREENSHOTS = SITE.parent / "screenshots"
IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)
# Everything a page shows once its scripts have run: maths typeset, images decoded.
SETTLED = """async () => {
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  await Promise.all([...document.images].map((img) => img.decode().catch(() => null)));
}"""
# Per page: headings, images, the next/previous links and the glossary links.
PAGE_FACTS = """() => ({
  // The theme repeats the title in a print-only <h1> outside <article>: count the h1s a
  // reader sees and those inside the page's own content.
  visibleH1: [...document.querySelectorAll("h1")].filter((h) => h.getClientRects().length).length,
  articleH1: document.querySelectorAll("article h1").length,
  images: [...document.images].map((img) => ({src: img.getAttribute("src"),
    alt: img.getAttribute("alt") || "", width: img.naturalWidth})),
  next: document.querySelector("a.right-next")?.href || null,
  previous: document.querySelector("a.left-prev")?.href || null,
  glossaryLinks: [...document.querySelectorAll("article a[href*='glossary.html#']")]
    .map((a) => new URL(a.href).hash.slice(1)),
})"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
UNNAMED_CONTROL = re.compile(
    r"^\s*- (button|checkbox|radio|radiogroup|group|textbox|combobox|spinbutton)\s*(:|\[|$)",
    re.MULTILINE)


@pytest.fixture(scope="session")
def site():
    return ensure_built()


@pytest.fixture(scope="session")
def http_root(site):
    with serve(site) as url:
        yield url


# Module scope: Playwright's sync API allows one running instance, and other modules start
# their own.
@pytest.fixture(scope="module")
def browser():
    with launched_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, site):
    """A fresh desktop-sized page; the test fails on any error or outside request it causes."""
    with watched_page(browser) as page:
        yield page


def test_the_watch_sees_errors_and_outside_requests(browser):
    context = browser.new_context()
    watch = Watch()
    watch.attach(context)
    page = context.new_page()
    with page.expect_event("pageerror"):
        page.set_content("<img src='https://cdn.example.org/x.png'>"
                         "<script>console.error('logged'); throw new Error('thrown');</script>")
    context.close()
    assert watch.outside == ["https://cdn.example.org/x.png"]
    assert any("logged" in error for error in watch.errors)
    assert any("thrown" in error for error in watch.errors)


def url_of(source: str) -> str:
    return (SITE / f"{source}.html").as_uri()


@pytest.fixture(scope="module")
def visits(browser, site):
    """Open every page of the table of contents once over file://; what each one showed.

    Each page is read at desktop width and audited by axe-core, with every rule in the light
    scheme and with the colour rules in the dark one (``axe``: the violations in each). Then
    it is narrowed to a phone's width, where ``phoneOverflow`` is how many pixels wider than
    the screen it lays out (the layout follows the width as when the page is opened on a
    phone). One visit per page serves every test below instead of a walk each.
    """
    script = install_axe()
    context = browser.new_context(viewport=DESKTOP)
    watch = Watch()
    watch.attach(context)
    page = context.new_page()
    facts = {}
    for source in toc_files():
        page.set_viewport_size(DESKTOP)
        use_scheme(page, "light")
        page.goto(url_of(source))
        page.evaluate(SETTLED)
        facts[source] = page.evaluate(PAGE_FACTS)
        facts[source]["schemeOnly"] = page.locator(".only-dark, .only-light").count()
        facts[source]["axe"] = {"light": audit(page, script)}
        use_scheme(page, "dark")
        facts[source]["axe"]["dark"] = audit(page, script, COLOUR_RULES)
        page.set_viewport_size(PHONE)
        facts[source]["phoneOverflow"] = page.evaluate(OVERFLOW)
    context.close()
    summary = {f"{source} ({scheme})": {v["id"]: v["count"] for v in found}
               for source, f in facts.items() for scheme, found in f["axe"].items()}
    (SITE.parent / "axe-report-pages.json").write_text(json.dumps(summary, indent=1),
                                                         encoding="utf-8")
    return facts, watch


def test_every_page_loads_without_javascript_errors(visits):
    facts, watch = visits
    assert len(facts) == len(toc_files())
    assert not watch.errors, "\n".join(watch.errors)


def test_no_request_leaves_the_machine(visits):
    _, watch = visits
    assert not watch.outside, watch.outside


def test_each_page_has_one_h1(visits):
    facts, _ = visits
    wrong = {source: (f["visibleH1"], f["articleH1"]) for source, f in facts.items()
             if (f["visibleH1"], f["articleH1"]) != (1, 1)}
    assert not wrong, f"pages without exactly one h1 (visible, in article): {wrong}"


def test_every_image_loads(visits):
    facts, _ = visits
    broken = [f"{source}: {img['src']}" for source, f in facts.items()
              for img in f["images"] if img["width"] == 0]
    assert not broken, broken
    assert sum(len(f["images"]) for f in facts.values()) >= 5, "the chapters show no plots"


def test_every_image_has_alt_text(visits):
    # Sphinx falls back to the file's path as alt text, which tells a screen reader nothing;
    # a notebook figure gets real alt text from its cell's `mystnb: image: alt:` option.
    facts, _ = visits
    missing = [f"{source}: {img['src']}" for source, f in facts.items() for img in f["images"]
               if not img["alt"].strip() or img["alt"] == img["src"]
               or IMAGE_FILE.search(img["alt"])]
    assert not missing, f"{len(missing)} images without alt text:\n" + "\n".join(missing)


def test_every_page_has_no_serious_accessibility_violation_in_either_scheme(visits):
    facts, _ = visits
    one_scheme = [source for source, f in facts.items() if f["schemeOnly"]]
    assert not one_scheme, f"elements shown in one scheme only (audit it fully): {one_scheme}"
    failing = {f"{source} ({scheme})": blocking(found)
               for source, f in facts.items() for scheme, found in f["axe"].items()}
    assert not any(failing.values()), describe(failing)


def test_next_and_previous_links_follow_the_table_of_contents(visits, page):
    facts, _ = visits
    pages = toc_files()
    for before, after in zip(pages, pages[1:], strict=False):
        assert facts[before]["next"] == url_of(after), f"next of {before}"
        assert facts[after]["previous"] == url_of(before), f"previous of {after}"
    assert facts[pages[-1]]["next"] is None
    # Clicking them works too.
    page.goto(url_of(pages[1]))
    page.locator("a.right-next").click()
    expect(page).to_have_url(url_of(pages[2]))
    page.locator("a.left-prev").click()
    expect(page).to_have_url(url_of(pages[1]))


def test_sidebar_navigation_on_desktop_and_phone(page):
    page.goto(url_of("book/index"))
    sidebar = page.locator(".bd-sidebar-primary")
    sidebar.get_by_role("link", name="Training and evaluation", exact=True).click()
    expect(page).to_have_url(url_of("book/lifecycle/training"))
    expect(page.locator("article h1")).to_contain_text("Training and evaluation")
    expect(sidebar.locator("a.current")).to_have_text("Training and evaluation")
    page.locator("button.primary-toggle:visible").click()
    expect(sidebar).to_be_hidden()

    # On a phone the sidebars hide behind the header's buttons and open as dialogs.
    page.set_viewport_size(PHONE)
    page.goto(url_of("book/index"))
    expect(sidebar).not_to_be_in_viewport()
    page.locator("button.primary-toggle:visible").click()
    contents = page.get_by_role("dialog")
    contents.get_by_role("link", name="Data exploration", exact=True).click()
    expect(page).to_have_url(url_of("book/lifecycle/exploration"))
    page.locator("button.secondary-toggle:visible").click()
    section = page.locator("article section section h2").first
    contents.get_by_role("link", name=section.text_content().rstrip("#")).click()
    expect(section).to_be_in_viewport()


def test_search_finds_a_glossary_term_and_a_chapter_phrase(page, http_root):
    # Sphinx search fetches result pages for snippets, which file:// forbids: use http.
    def results():
        page.wait_for_function(
            "document.querySelector('.search-summary')?.textContent.includes('finished')")
        return page.eval_on_selector_all("#search-results ul.search li a",
                                         "links => links.map(a => a.pathname)")

    page.goto(f"{http_root}/book/lifecycle/exploration.html")
    page.locator("button.search-button__button:visible").first.click()
    box = page.locator("#pst-search-dialog input[name=q]")
    box.fill("hyperparameters")
    box.press("Enter")
    assert "/book/glossary.html" in results()

    page.goto(f"{http_root}/search.html?q=correlation+heatmap")
    assert "/book/lifecycle/exploration.html" in results()


def test_glossary_links_land_on_their_term(visits, page):
    facts, _ = visits
    page.goto(url_of("book/lifecycle/exploration"))
    link = page.locator("article a[href*='glossary.html#term-']").first
    term = link.get_attribute("href").split("#", 1)[1]
    link.click()
    expect(page).to_have_url(f"{url_of('book/glossary')}#{term}")
    target = page.locator(f"[id='{term}']")
    expect(target).to_be_in_viewport()
    assert target.evaluate("node => node.tagName") == "DT"
    # The sticky header must not cover the term it landed on.
    header_bottom = page.locator(".bd-header").bounding_box()
    assert target.bounding_box()["y"] >= header_bottom["y"] + header_bottom["height"] - 1

    defined = set(page.eval_on_selector_all("dt[id]", "terms => terms.map(t => t.id)"))
    dangling = {f"{source}: {t}" for source, f in facts.items()
                for t in f["glossaryLinks"] if t not in defined}
    assert not dangling, dangling


def question_box(page, question_id: str):
    return page.locator(f"[data-question='{question_id}']")


def test_quiz_answer_wrong_then_right(page):
    question = load_bank("quiz").question("q02-choice")
    wrong = next(choice for choice in question.choices if choice != question.answer)
    page.goto(url_of("book/quiz/index"))
    box = question_box(page, question.id)
    feedback = box.locator(".mlq-feedback")
    expect(feedback).to_be_hidden()

    box.get_by_label(wrong).check()
    box.get_by_role("button", name="Check").click()
    expect(feedback).to_have_class(re.compile(r"\bmlq-wrong\b"))
    expect(feedback.locator(".mlq-verdict")).to_contain_text("Not quite")
    expect(feedback.locator(".mlq-explanation")).to_have_text(question.explanation)

    box.get_by_label(question.answer).check()
    box.get_by_role("button", name="Check").click()
    expect(feedback).to_have_class(re.compile(r"\bmlq-right\b"))
    expect(feedback.locator(".mlq-verdict")).to_have_text("Correct.")
    expect(feedback.locator(".mlq-explanation")).to_have_text(question.explanation)
    expect(box.locator("xpath=..").locator(".mlq-total")).to_contain_text("Answered 1 of")

    # "Read more" leads to the section that teaches it.
    anchor = question.link.split("#", 1)[1]
    feedback.get_by_role("link", name="Read more in the book").click()
    expect(page).to_have_url(f"{url_of(question.link.split('#')[0])}#{anchor}")
    expect(page.locator(f"[id='{anchor}']")).to_be_in_viewport()


def test_short_answer_feedback_lists_the_missed_points(page):
    question = load_bank("quiz").question("q01")
    answer = "I would draw histograms and other charts of the data."
    expected = check(question, answer)
    assert expected.missed and not expected.correct, "pick an answer that misses points"

    page.goto(url_of("book/quiz/index"))
    box = question_box(page, question.id)
    box.get_by_role("textbox").fill(answer)
    box.get_by_role("button", name="Check").click()
    feedback = box.locator(".mlq-feedback")
    expect(feedback).to_have_class(re.compile(r"\bmlq-wrong\b"))
    expect(feedback.locator(".mlq-missed li")).to_have_text(list(expected.missed))
    expect(box.locator(".mlq-model")).to_be_visible()


def test_flashcards_flip_and_keep_progress(page, http_root):
    glossary = load_bank("glossary")
    definitions = {term.term: term.definition for term in glossary.terms}
    page.goto(f"{http_root}/book/quiz/flashcards.html")
    stats = page.locator(".mlq-stats")
    expect(stats).to_contain_text(f"new: {len(definitions)}")

    term = page.locator(".mlq-term").text_content()
    back = page.locator(".mlq-back")
    expect(back).to_be_hidden()
    page.get_by_role("button", name="Show the definition").click()
    expect(back).to_be_visible()
    expect(back).to_contain_text(definitions[term])
    page.get_by_role("button", name="I knew it").click()
    expect(stats).to_contain_text("box 2: 1")
    expect(page.locator(".mlq-term")).not_to_have_text(term)

    page.reload()
    expect(stats).to_contain_text("box 2: 1")
    expect(stats).to_contain_text(f"new: {len(definitions) - 1}")

    # The other mode: read the definition, type the term.
    page.get_by_label("Drill mode").select_option("type")
    shown = page.locator(".mlq-definition").text_content()
    wanted = next(name for name, definition in definitions.items() if definition == shown)
    page.get_by_label("The term").fill(wanted)
    page.get_by_role("button", name="Check").click()
    expect(page.locator(".mlq-card .mlq-verdict")).to_contain_text("Correct")

    page.get_by_role("button", name="Forget my progress").click()
    expect(stats).to_contain_text(f"new: {len(definitions)}")


def test_maths_renders(page):
    page.goto(url_of("book/start/reading"))
    page.evaluate(SETTLED)
    maths = page.locator("mjx-container")
    expect(maths.first).to_be_visible()
    assert maths.count() >= 1 and maths.first.bounding_box()["width"] > 5
    expect(page.locator("mjx-merror")).to_have_count(0)


def test_quiz_controls_have_accessible_names(page):
    for source in ("book/quiz/index", "book/quiz/flashcards", "book/quiz/personas"):
        page.goto(url_of(source))
        for view in page.locator(".mlq.mlq-ready").all():
            tree = view.aria_snapshot()
            unnamed = [match.group(0).strip() for match in UNNAMED_CONTROL.finditer(tree)]
            assert not unnamed, f"{source}: controls without a name: {unnamed}"


def test_no_page_overflows_a_phone_screen(visits):
    # Wide tables and code blocks scroll inside their own boxes; the page itself must not.
    facts, _ = visits
    wide = {source: f["phoneOverflow"] for source, f in facts.items() if f["phoneOverflow"] > 1}
    assert not wide, f"pages wider than a phone (extra pixels): {wide}"


def test_quiz_is_usable_on_a_phone(page):
    question = load_bank("quiz").question("q02-choice")
    page.set_viewport_size(PHONE)
    page.goto(url_of("book/quiz/index"))
    box = question_box(page, question.id)
    box.get_by_label(question.answer).check()
    button = box.get_by_role("button", name="Check")
    button.click()
    expect(box.locator(".mlq-feedback")).to_have_class(re.compile(r"\bmlq-right\b"))
    for control in (button, box.locator(".mlq-options"), box.locator(".mlq-feedback")):
        area = control.bounding_box()
        assert area["x"] >= 0 and area["x"] + area["width"] <= PHONE["width"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    box.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "quiz-phone.png")


def test_screenshots_for_review(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, source in (("home", "book/index"), ("chapter", "book/lifecycle/exploration"),
                         ("quiz", "book/quiz/index"), ("glossary", "book/glossary")):
        page.goto(url_of(source))
        page.evaluate(SETTLED)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path)
        assert path.stat().st_size > 10_000, f"{name} looks blank"
