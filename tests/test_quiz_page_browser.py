"""The book's quiz scripts in Chromium: per-attempt order, saved attempts, review, flashcards.

A small Sphinx site with the real banks is built once; pages open from disk, as a reader who
downloaded the book would open them.
"""

import json
import re
from collections import Counter

import pytest
from playwright import sync_api
from sphinx.application import Sphinx

from mlcycle_ref.quiz import check, load_bank
from mlcycle_ref.quiz.drills import RETRY_AFTER
from mlcycle_ref.quiz.shuffle import displayed, seed_for

QUIZ = load_bank("quiz")
SINGLES = [q.id for q in QUIZ.questions if q.kind == "single"]
IDS = [*SINGLES, "q02-tf", "q04-numeric", "q05-match", "q02"]
UNSURE = "For example one-hot encoding, which turns each category into its own 0/1 column."
PAGES = {
    "index": "Home\n====\n\n.. toctree::\n\n   quiz\n   two\n   cards\n   sort\n   glossary\n",
    "two": "Two\n===\n\nA\n-\n\n.. quiz:: quiz\n   :ids: q02-tf, q04-tf\n\nB\n-\n\n"
           ".. quiz:: quiz\n   :ids: q06-tf\n",
    "quiz": f"Quiz\n====\n\n.. quiz:: quiz\n   :ids: {', '.join(IDS)}\n",
    "cards": "Cards\n=====\n\n.. flashcards:: glossary\n",
    "sort": "Sort\n====\n\n.. persona-sort:: personas\n",
    "glossary": "Glossary\n========\n\n.. glossary::\n\n   Convergence\n      Settling.\n",
}
STORE = "mlcycle.flashcards.v1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("quizsite")
    src, out = root / "src", root / "out"
    (src / "book").mkdir(parents=True)
    (src / "conf.py").write_text("extensions = ['mlcycle_ref.quiz.sphinx_ext']\n"
                                 "root_doc = 'book/index'\n"
                                 "suppress_warnings = ['mlcycle_quiz.link']\n")
    for name, text in PAGES.items():
        (src / "book" / f"{name}.rst").write_text(text)
    Sphinx(str(src), str(src), str(out), str(root / "doctrees"), "html", status=None,
           warning=None, freshenv=True).build()
    return out / "book"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def shown_choices(page, question_id):
    box = page.locator(f"[data-question='{question_id}']")
    return [label.strip() for label in box.locator(".mlq-option").all_text_contents()]


def test_choices_follow_the_python_order_for_each_attempt_and_the_answer_moves(page, site):
    page.goto((site / "quiz.html").as_uri())
    learner = page.evaluate("localStorage.getItem('mlcycle.learner')")
    positions = Counter()
    for attempt in range(1, 9):
        if attempt > 1:
            page.get_by_role("button", name="Start a new attempt").click()
        expect_total = f"(attempt {attempt})"
        assert expect_total in page.locator(".mlq-total").text_content()
        for question_id in SINGLES:
            question = QUIZ.question(question_id)
            shown = shown_choices(page, question_id)
            wanted = displayed(question, seed_for(learner, attempt, question_id)).choices
            assert shown == list(wanted), (question_id, attempt)
            positions[shown.index(question.answer)] += 1
    assert set(positions) == {0, 1, 2, 3} and max(positions.values()) < 0.5 * sum(
        positions.values()), positions


def answer_single(page, question_id, choice):
    box = page.locator(f"[data-question='{question_id}']")
    box.get_by_label(choice, exact=True).check()
    box.get_by_role("button", name="Check").click()


def test_answers_survive_a_reload_and_review_asks_only_what_was_missed(page, site):
    page.goto((site / "quiz.html").as_uri())
    right, wrong = QUIZ.question(SINGLES[0]), QUIZ.question(SINGLES[1])
    answer_single(page, right.id, right.answer)
    answer_single(page, wrong.id, next(c for c in wrong.choices if c != wrong.answer))
    total = page.locator(".mlq-total")
    assert "Answered 2 of" in total.text_content() and "score 1.00" in total.text_content()
    page.reload()
    assert "Answered 2 of" in total.text_content()
    feedback = page.locator(f"[data-question='{wrong.id}'] .mlq-feedback")
    assert "mlq-wrong" in feedback.get_attribute("class")
    assert wrong.answer in feedback.locator(".mlq-missed").text_content()
    page.get_by_role("button", name="Review what I missed").click()
    assert page.locator(".mlq-question").count() == 1
    assert page.locator(f"[data-question='{wrong.id}']").count() == 1
    assert "#1: 1.00 / " in page.locator(".mlq-history").text_content()
    answer_single(page, wrong.id, wrong.answer)
    assert page.get_by_role("button", name="Review what I missed").is_disabled()


def card_state(page):
    return json.loads(page.evaluate(f"localStorage.getItem('{STORE}')") or "{}")


def test_an_early_flashcard_review_does_not_promote(page, site):
    glossary = load_bank("glossary")
    tomorrow = page.evaluate("(() => { const d = new Date(); d.setDate(d.getDate() + 1);"
                             " return d.toISOString().slice(0, 10); })()")
    cards = {t.id: {"box": 2, "due": tomorrow, "seen": 1, "right": 1} for t in glossary.terms}
    page.goto((site / "cards.html").as_uri())
    page.evaluate(f"localStorage.setItem('{STORE}', {json.dumps(json.dumps({'cards': cards}))})")
    page.reload()
    stats = page.locator(".mlq-stats")
    for _ in range(3):
        page.get_by_role("button", name="Show the definition").click()
        page.get_by_role("button", name="I knew it").click()
    assert f"box 2: {len(cards)}" in stats.text_content()
    assert "box 3: 0" in stats.text_content()
    assert sum(card["seen"] for card in card_state(page)["cards"].values()) == len(cards) + 3


def test_a_missed_flashcard_comes_back_later_in_the_same_session(page, site):
    page.goto((site / "cards.html").as_uri())
    shown = []
    for n in range(RETRY_AFTER + 2):
        shown.append(page.locator(".mlq-term").text_content())
        page.get_by_role("button", name="Show the definition").click()
        page.get_by_role("button", name="Not yet" if n == 0 else "I knew it").click()
    assert shown[0] not in shown[1:RETRY_AFTER]
    assert shown[RETRY_AFTER] == shown[0], shown


def test_damaged_flashcard_progress_is_kept_aside_with_a_notice(page, site):
    page.goto((site / "cards.html").as_uri())
    page.evaluate(f"localStorage.setItem('{STORE}', '{{\"cards\": {{\"conv')")
    page.reload()
    notice = page.locator(".mlq-notice").text_content()
    assert STORE in notice and "kept aside" in notice
    kept = page.evaluate("Object.keys(localStorage).filter(k => k.includes('.damaged-'))")
    assert len(kept) == 1
    assert page.evaluate(f"localStorage.getItem('{kept[0]}')").startswith('{"cards"')


def test_persona_items_come_in_a_new_order_on_every_visit(page, site):
    orders = set()
    for _ in range(4):
        page.goto((site / "sort.html").as_uri())
        orders.add(tuple(page.locator(".mlq-item").evaluate_all(
            "rows => rows.map(r => r.dataset.item)")))
    assert len(orders) == 4
    personas = load_bank("personas")
    owners = [next(i.persona for i in personas.items if i.id == item) for item in orders.pop()]
    assert re.sub(r"(.)\1+", r"\1", "".join(o[0] for o in owners)) != "".join(
        dict.fromkeys(o[0] for o in owners))


def test_an_unsure_short_answer_is_self_marked_and_the_mark_survives_a_reload(page, site):
    assert check(QUIZ.question("q02"), UNSURE).unsure
    page.goto((site / "quiz.html").as_uri())
    box = page.locator("[data-question='q02']")
    box.get_by_role("textbox").fill(UNSURE)
    box.get_by_role("button", name="Check").click()
    assert "Perhaps" in box.locator(".mlq-verdict").first.text_content()
    assert box.locator(".mlq-model").get_attribute("open") is not None
    assert "Answered 0 of" in page.locator(".mlq-total").text_content()
    box.get_by_role("button", name="My answer makes these points").click()
    assert "Self-marked as right" in box.locator(".mlq-self").text_content()
    assert "Answered 1 of" in page.locator(".mlq-total").text_content()
    page.reload()
    assert "Self-marked as right" in box.locator(".mlq-self").text_content()
    assert box.get_by_role("textbox").input_value() == UNSURE
    page.screenshot(path=str(site.parent / "quiz-unsure.png"), full_page=True)


def test_a_page_with_several_quiz_views_shows_its_overall_score(page, site):
    page.goto((site / "two.html").as_uri())
    overall = page.locator(".mlq-page-total")
    assert overall.text_content() == "This page: answered 0 of 3; score 0.00 / 3."
    for question_id, answer in (("q02-tf", "False"), ("q06-tf", "True")):
        box = page.locator(f"[data-question='{question_id}']")
        box.get_by_label(answer, exact=True).check()
        box.get_by_role("button", name="Check").click()
    right = sum(check(QUIZ.question(q), a).correct for q, a in (("q02-tf", False),
                                                                 ("q06-tf", True)))
    assert overall.text_content() == f"This page: answered 2 of 3; score {right:.2f} / 3."
