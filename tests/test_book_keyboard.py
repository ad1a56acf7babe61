"""A keyboard-only reader: arrows choose an answer, Tab reaches the button, Enter or Space
presses it, Enter submits an answer field, and after every button focus stays on the widget
(never falls back to the page body) in the quiz, the flashcards and the persona sort."""

import pytest
from browser_support import SITE, ensure_built, launched_browser, serve, watched_page
from playwright.sync_api import expect

from mlcycle_ref.quiz.bank import load_bank

FOCUSED = """() => { const e = document.activeElement;
  return {tag: e.tagName, text: (e.textContent || "").trim()}; }"""
# Where focus is: the element's tag, its label, and whether it sits inside a quiz widget.
FOCUS = """() => { const e = document.activeElement;
  return {tag: e.tagName, label: e.getAttribute("aria-label") || (e.textContent || "").trim(),
          widget: Boolean(e.closest(".mlq"))}; }"""
UNSURE = "For example one-hot encoding, which turns each category into its own 0/1 column."


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


def focus_in_widget(page) -> dict:
    """Where focus is, failing if it fell to the page body or left the widget."""
    focus = page.evaluate(FOCUS)
    assert focus["tag"] != "BODY", "focus fell to the page body"
    assert focus["widget"], f"focus left the widget: {focus}"
    return focus


def test_enter_submits_the_quiz_answer_fields(page, root):
    page.goto(f"{root}/book/quiz/index.html")
    short = page.locator("[data-question='q02']")
    field = short.get_by_role("textbox")
    field.focus()
    page.keyboard.type("A first line")
    page.keyboard.press("Shift+Enter")
    expect(short.locator(".mlq-feedback")).to_be_hidden()
    page.keyboard.type(UNSURE)
    page.keyboard.press("Enter")
    expect(short.locator(".mlq-verdict").first).not_to_be_empty()
    assert field.input_value() == "A first line\n" + UNSURE  # Enter added no line
    expect(field).to_be_focused()

    numeric = page.locator("[data-question='q04-numeric']")
    numeric.get_by_role("textbox").focus()
    page.keyboard.type("0.5")
    page.keyboard.press("Enter")
    expect(numeric.locator(".mlq-verdict")).not_to_be_empty()


def test_self_marking_keeps_focus_in_the_question(page, root):
    page.goto(f"{root}/book/quiz/index.html")
    box = page.locator("[data-question='q02']")
    box.get_by_role("textbox").fill(UNSURE)
    box.get_by_role("textbox").press("Enter")
    box.get_by_role("button", name="My answer makes these points").focus()
    page.keyboard.press("Enter")
    expect(box.locator(".mlq-self")).to_contain_text("Self-marked as right")
    expect(box.get_by_role("button", name="Check")).to_be_focused()


def test_the_ordering_arrows_keep_focus_on_the_moved_item(page, root):
    page.goto(f"{root}/book/quiz/index.html")
    box = page.locator("[data-question='q01-order']")
    items = box.locator(".mlq-order-item").all_text_contents()
    first = items[0]
    box.get_by_role("button", name=f'Move "{first}" down').focus()
    for position in range(1, len(items)):
        page.keyboard.press("Enter")
        assert box.locator(".mlq-order-item").nth(position).text_content() == first
        assert first in focus_in_widget(page)["label"]
    # At the bottom the down arrow is disabled: focus moved to the item's up arrow.
    expect(box.get_by_role("button", name=f'Move "{first}" up')).to_be_focused()
    page.keyboard.press("Enter")
    assert box.locator(".mlq-order-item").nth(len(items) - 2).text_content() == first
    expect(box.get_by_role("button", name=f'Move "{first}" up')).to_be_focused()


def test_a_new_attempt_puts_focus_on_its_first_question(page, root):
    page.goto(f"{root}/book/quiz/index.html")
    page.get_by_role("button", name="Start a new attempt").first.focus()
    page.keyboard.press("Enter")
    focus_in_widget(page)
    assert page.evaluate("document.activeElement.closest('.mlq-question') !== null")


def test_the_flashcards_from_the_keyboard(page, root):
    page.goto(f"{root}/book/quiz/flashcards.html")
    for verdict in ("I knew it", "Not yet"):
        reveal = page.get_by_role("button", name="Show the definition")
        reveal.focus()
        page.keyboard.press("Enter")
        expect(page.locator(".mlq-back")).to_be_visible()
        expect(page.get_by_role("button", name="I knew it")).to_be_focused()
        if verdict == "Not yet":
            page.keyboard.press("Tab")
            expect(page.get_by_role("button", name="Not yet")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Show the definition")).to_be_focused()

    page.get_by_label("Drill mode").focus()
    page.get_by_label("Drill mode").select_option("type")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past "Forget my progress", to the answer field
    expect(page.get_by_label("The term")).to_be_focused()
    page.keyboard.type("not a glossary term")
    page.keyboard.press("Enter")
    expect(page.locator(".mlq-card .mlq-verdict")).not_to_be_empty()
    expect(page.get_by_role("button", name="Next card")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("The term")).to_be_focused()
    expect(page.locator(".mlq-card .mlq-verdict")).to_be_empty()
    page.keyboard.press("Enter")  # an empty answer gets a verdict too
    expect(page.locator(".mlq-card .mlq-verdict")).not_to_be_empty()
    focus_in_widget(page)


def test_the_whole_persona_sort_from_the_keyboard(page, root):
    page.goto(f"{root}/book/quiz/personas.html")
    for group in page.locator(".mlq-persona-buttons").all():
        group.get_by_role("button").last.focus()
        page.keyboard.press("Enter")
        focus_in_widget(page)
    check = page.locator(".mlq-sort ~ .mlq-actions").get_by_role("button", name="Check")
    check.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".mlq-sort ~ .mlq-feedback")).to_be_visible()
    expect(check).to_be_focused()
