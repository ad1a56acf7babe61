"""A keyboard-only reader: arrows choose an answer, Tab reaches the button, Enter or Space
presses it, and focus stays where the reader was."""

import pytest
from browser_support import SITE, ensure_built, launched_browser, serve, watched_page
from playwright.sync_api import expect

from mlcycle_ref.quiz.bank import load_bank

FOCUSED = """() => { const e = document.activeElement;
  return {tag: e.tagName, text: (e.textContent || "").trim()}; }"""


@pytest.fixture(scope="module")
def root():
    ensure_built()
    with serve(SITE) as url:
        yield url


@pytest.fixture
def page(root):
    with launched_browser() as browser, watched_page(browser) as page:
        yield page


def tab_to(page, text: str, limit: int = 12) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED)["text"] == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_a_quiz_question_answered_from_the_keyboard(page, root):
    question = load_bank("quiz").question("q02-choice")
    page.goto(f"{root}/book/quiz/index.html")
    box = page.locator(f"[data-question='{question.id}']")
    box.get_by_role("radio").first.focus()
    for _ in question.choices:
        if box.get_by_label(question.answer).is_checked():
            break
        page.keyboard.press("ArrowDown")
    expect(box.get_by_label(question.answer)).to_be_checked()
    tab_to(page, "Check")
    page.keyboard.press("Enter")
    expect(box.locator(".mlq-feedback")).to_have_class("mlq-feedback mlq-right")
    assert page.evaluate(FOCUSED) == {"tag": "BUTTON", "text": "Check"}


def test_the_persona_sort_from_the_keyboard(page, root):
    page.goto(f"{root}/book/quiz/personas.html")
    choice = page.locator(".mlq-persona-buttons").first.get_by_role("button").first
    choice.focus()
    page.keyboard.press("Space")
    expect(choice).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(FOCUSED)["tag"] == "BUTTON"
    expect(choice).to_be_focused()
