"""The notebook front-end: widgets built from a bank, checked when Check is clicked."""

from mlcycle_ref.quiz import load_bank, show
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
    for dropdown, (_, right) in zip(matching.input.children, matching.question.pairs,
                                    strict=True):
        dropdown.value = right
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
