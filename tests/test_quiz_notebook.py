"""The notebook front-end: widgets built from a bank, checked when Check is clicked."""

import html
from collections import Counter

import pytest

from mlcycle_ref.quiz import load_bank, show
from mlcycle_ref.quiz.history import History
from mlcycle_ref.quiz.notebook import QuestionWidget

QUIZ = load_bank("quiz")


def widget(question_id):
    return QuestionWidget(QUIZ.question(question_id))


def test_show_builds_one_widget_per_question_and_displays():
    view = show("quiz", ids=["q01", "q02-tf"])
    assert [w.question.id for w in view.questions] == ["q01", "q02-tf"]
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert len(show(QUIZ).questions) == len(QUIZ.questions)


def test_short_answer_feedback_lists_what_is_missing():
    w = widget("q03")
    w.input.value = "Hyperparameters are settings that control how the model trains."
    w.button.click()
    assert not w.feedback.correct
    assert "Missing:" in w.output.value and "mixing desk" in w.output.value
    assert "book/lifecycle/training.html#hyperparameters" in w.output.value


def test_every_objective_kind_reads_its_widgets():
    single = widget("q02-choice")
    single.input.value = single.question.answer
    multiple = widget("q03-multi")
    for box in multiple.input.children:
        box.value = box.description in multiple.question.answer
    matching = widget("q05-match")
    for dropdown in matching.input.children:
        dropdown.value = dict(matching.question.pairs)[dropdown.description]
    ordering = widget("q01-order")
    for dropdown, item in zip(ordering.input.children, ordering.question.items, strict=True):
        dropdown.value = item
    numeric = widget("q04-numeric")
    numeric.input.value = "10"
    truefalse = widget("q04-tf")
    truefalse.input.value = "False"
    for w in (single, multiple, matching, ordering, numeric, truefalse):
        w.button.click()
        assert w.feedback.correct, w.question.id


def test_an_unanswered_part_asks_for_an_answer_instead_of_grading():
    w = widget("q05-match")
    w.input.children[0].value = w.question.pairs[0][1]
    w.button.click()
    assert w.feedback is None and "Answer every part first" in w.output.value


def test_the_right_choice_is_spread_over_positions_across_attempts():
    for question in [q for q in QUIZ.questions if q.kind == "single"]:
        positions = Counter(QuestionWidget(question, seed).input.options.index(question.answer)
                            for seed in range(80))
        assert set(positions) == set(range(len(question.choices))), question.id
    ordering = QUIZ.question("q01-order")
    firsts = {QuestionWidget(ordering, seed).input.children[0].options for seed in range(20)}
    assert len(firsts) > 2 and tuple(ordering.items) not in firsts


def test_a_view_keeps_a_total_and_saves_the_attempt(tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        view = show("quiz", ids=["q02-tf", "q04-numeric"], history=history)
        assert "Total: 0.00 / 2" in view.total.value and "attempt 1" in view.total.value
        view.questions[0].input.value = "False"
        view.questions[0].button.click()
        view.questions[1].input.value = "30"
        view.questions[1].button.click()
        assert "Total: 1.00 / 2" in view.total.value and "2 of 2 checked" in view.total.value
        [attempt] = history.attempts("quiz")
        assert (attempt.score, attempt.total, attempt.right) == (1.0, 2, 1)
        assert history.missed("quiz") == ["q04-numeric"]
        assert show("quiz", ids=["q02-tf"], history=history).attempt == 2


def test_without_a_widget_manager_the_view_falls_back_to_html(tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        view = show("quiz", ids=["q02-choice", "q05-match"], history=history)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    assert "mlcycle quiz quiz" in page and html.escape(QUIZ.question("q02-choice").prompt) in page
    assert all(html.escape(c) in page for c in QUIZ.question("q02-choice").choices)
    assert "VBox(" not in page and page == view._repr_html_()



def test_an_unsure_short_answer_offers_self_marking_and_records_it(tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        view = show("quiz", ids=["q02"], history=history)
        item = view.questions[0]
        item.input.value = ("For example one-hot encoding, which turns each category into its "
                            "own 0/1 column.")
        item.button.click()
        assert item.feedback.unsure and item.outcome is None
        assert item.self_mark.layout.display == "flex"
        assert "model answer" in item.output.value
        assert history.attempts("quiz") == []  # nothing recorded until the learner decides
        item.disagree.click()
        assert item.outcome == "self-wrong" and item.self_mark.layout.display == "none"
        [attempt] = history.attempts("quiz")
        assert attempt.self_marked == 1 and attempt.right == 0
        assert "Total: 0.67 / 1" in view.total.value  # the points made still count


def test_review_shows_only_what_was_missed(tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        view = show("quiz", ids=["q02-tf", "q04-tf"], history=history)
        view.questions[0].input.value = "False"
        view.questions[1].input.value = "True"
        for item in view.questions:
            item.button.click()
        review = show("quiz", history=history, review=True)
        assert [item.question.id for item in review.questions] == ["q04-tf"]
        review.questions[0].input.value = "False"
        review.questions[0].button.click()
        with pytest.raises(ValueError, match="nothing to review"):
            show("quiz", history=history, review=True)
