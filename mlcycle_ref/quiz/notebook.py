"""The notebook front-end: a bank rendered as ipywidgets, checked in the kernel.

Choices, matching targets and ordering items are shown in an order drawn for the learner and
the attempt (:mod:`~mlcycle_ref.quiz.shuffle`); a :class:`QuizView` saves every checked
answer in the attempt history and keeps a running total. Where no widget manager runs (a
notebook opened on GitHub, nbconvert), the view shows as plain HTML: the questions, their
choices and how to take the quiz.

>>> from mlcycle_ref.quiz.notebook import QuestionWidget
>>> from mlcycle_ref.quiz import load_bank
>>> widget = QuestionWidget(load_bank("quiz").question("q02-tf"))
>>> widget.input.value = "False"
>>> widget.button.click()
>>> widget.feedback.correct
True
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from mlcycle_ref.quiz.bank import Bank, Question, load_bank
from mlcycle_ref.quiz.checking import MISSED_HEADINGS, Feedback, ResponseError, check
from mlcycle_ref.quiz.history import History, outcome_of
from mlcycle_ref.quiz.shuffle import displayed, matching_targets, ordering_start, seed_for

LAYOUT = widgets.Layout(width="95%")


class QuestionWidget:
    """One question: its prompt, an input that suits its kind, a Check button, feedback.

    ``seed`` draws the order of choices, pairs and ordering items (see
    :func:`~mlcycle_ref.quiz.shuffle.displayed`); ``on_checked(widget)`` runs after each check
    and each self-mark. The Check button calls ``check``; the two self-mark buttons, shown
    when the checker is unsure of a short answer, call ``mark``.

    >>> from mlcycle_ref.quiz import load_bank
    >>> widget = QuestionWidget(load_bank("quiz").question("q02-tf"))
    >>> widget.check()  # nothing chosen yet
    >>> widget.output.value
    '<p>Answer every part first.</p>'
    >>> widget.input.value = "False"
    >>> widget.response()
    'False'
    >>> widget.check()
    >>> widget.feedback.correct, widget.outcome
    (True, 'right')
    >>> widget.mark(False)  # the learner's own verdict overrides the checker's
    >>> widget.outcome
    'self-wrong'
    """

    def __init__(self, question: Question, seed: int = 0, on_checked=None):
        self.question = question
        self.shown = displayed(question, seed)
        self.seed = seed
        self.on_checked = on_checked
        self.feedback: Feedback | None = None
        #: None, or the learner's own verdict on an answer the checker was unsure of.
        self.self_marked: bool | None = None
        self.input = self._input()
        self.button = widgets.Button(description="Check", button_style="primary")
        self.output = widgets.HTML()
        self.button.on_click(lambda _: self.check())
        self.agree = widgets.Button(description="My answer makes these points")
        self.disagree = widgets.Button(description="It does not")
        self.agree.on_click(lambda _: self.mark(True))
        self.disagree.on_click(lambda _: self.mark(False))
        self.self_mark = widgets.HBox([self.agree, self.disagree],
                                      layout=widgets.Layout(display="none"))
        prompt = widgets.HTML(f"<p><b>{html.escape(question.id)}</b> "
                              f"{html.escape(question.prompt)}</p>")
        parts = [prompt, self.input] if self.input is not None else [prompt]
        self.box = widgets.VBox([*parts, self.button, self.output, self.self_mark])

    def _input(self):
        q = self.shown
        if q.kind == "single":
            return widgets.RadioButtons(options=q.choices, value=None, layout=LAYOUT)
        if q.kind == "multiple":
            return widgets.VBox([widgets.Checkbox(description=c, indent=False, layout=LAYOUT)
                                 for c in q.choices])
        if q.kind == "truefalse":
            return widgets.RadioButtons(options=["True", "False"], value=None)
        if q.kind in ("short", "essay"):
            rows = 8 if q.kind == "essay" else 3
            return widgets.Textarea(placeholder="Your answer in full sentences",
                                    rows=rows, layout=LAYOUT)
        if q.kind == "matching":
            rights = matching_targets(q, self.seed)
            return widgets.VBox([widgets.Dropdown(description=left, options=rights, value=None,
                                                  style={"description_width": "40%"},
                                                  layout=LAYOUT)
                                 for left, _ in q.pairs])
        if q.kind == "ordering":
            items = ordering_start(q.items, self.seed)
            return widgets.VBox([widgets.Dropdown(description=f"{n}.", options=items,
                                                  value=None, layout=LAYOUT)
                                 for n in range(1, len(q.items) + 1)])
        return widgets.Text(placeholder="Your answer", layout=LAYOUT)

    def response(self):
        """The current widget state as a response for :func:`~mlcycle_ref.quiz.checking.check`;
        a :class:`~mlcycle_ref.quiz.checking.ResponseError` while a part is unanswered."""
        q, box = self.question, self.input
        if q.kind == "multiple":
            return [c.description for c in box.children if c.value]
        parts = box.children if q.kind in ("matching", "ordering") else [box]
        if any(part.value is None for part in parts):
            raise ResponseError(f"question {q.id}: not every part is answered")
        if q.kind == "matching":
            return {d.description: d.value for d in parts}
        if q.kind == "ordering":
            return [d.value for d in parts]
        return box.value

    def check(self) -> None:
        """Check the current response and show the verdict, missed points and explanation."""
        try:
            self.feedback = check(self.question, self.response())
        except ResponseError:
            self.feedback = None
            self.output.value = "<p>Answer every part first.</p>"
            return
        self.self_marked = None
        self.output.value = feedback_html(self.question, self.feedback)
        self.self_mark.layout.display = "flex" if self.feedback.unsure else "none"
        if self.on_checked:
            self.on_checked(self)

    def mark(self, agrees: bool) -> None:
        """Record the learner's own verdict after comparing with the model answer: ``agrees``
        is True when they judge that their answer makes the model answer's points."""
        self.self_marked = agrees
        self.self_mark.layout.display = "none"
        self.output.value += (f"<p>Self-marked as {'right' if agrees else 'not yet right'}."
                              "</p>")
        if self.on_checked:
            self.on_checked(self)

    @property
    def outcome(self) -> str | None:
        """The outcome to store: right, wrong, self-right, self-wrong; None before a check."""
        if self.feedback is None or (self.feedback.unsure and self.self_marked is None):
            return None
        return outcome_of(self.feedback, self.self_marked)

    @property
    def score(self) -> float:
        """The score that counts in the total (a self-marked right answer counts fully)."""
        if self.outcome == "self-right":
            return 1.0
        return self.feedback.score if self.feedback else 0.0


def feedback_html(question: Question, feedback: Feedback) -> str:
    """The ``feedback`` on an answer to ``question`` as a small HTML block: the verdict
    (with the score for short answers and essays), missed points, the model answer when the
    checker is unsure, the explanation and where to read more.

    >>> from mlcycle_ref.quiz import check, load_bank
    >>> question = load_bank("quiz").question("q02-tf")
    >>> block = feedback_html(question, check(question, False))
    >>> "Correct." in block, "<code>book/lifecycle/features.html</code>" in block
    (True, True)
    """
    colour = "#555" if feedback.unsure else "#1a7f37" if feedback.correct else "#b35900"
    missed = "".join(f"<li>{html.escape(m)}</li>" for m in feedback.missed)
    heading = MISSED_HEADINGS.get(question.kind)
    rubric = question.kind in ("short", "essay")
    model = (f"<p>Compare with this model answer, then mark your own answer:</p>"
             f"<blockquote>{html.escape(question.model_answer)}</blockquote>"
             if feedback.unsure else "")
    return (
        f"<div style='border-left:4px solid {colour};padding-left:8px'>"
        f"<p style='color:{colour}'>{html.escape(feedback.message)}"
        f"{f' (score {feedback.score:.2f})' if rubric else ''}</p>"
        f"{f'<p>{heading}</p><ul>{missed}</ul>' if missed and heading else ''}{model}"
        f"<p>{html.escape(question.explanation)}</p>"
        f"<p>Read more: <code>{html.escape(feedback.link)}</code></p></div>"
    )


class QuizView:
    """A bank's questions as widgets with a running total; displays itself in a notebook.

    Shows the questions of ``bank`` with the ``ids`` given, in that order (all of them when
    ``ids`` is None or empty). Each checked answer is saved in the attempt history
    (``history``: a :class:`~mlcycle_ref.quiz.history.History`, by default the learner's own
    file); the attempt is started at the first checked answer.

    >>> import tempfile
    >>> from mlcycle_ref.quiz import load_bank
    >>> from mlcycle_ref.quiz.history import History
    >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
    ...     view = QuizView(load_bank("quiz"), ["q02-tf", "q02-choice"], history)
    ...     view.questions[0].input.value = "False"
    ...     view.questions[0].check()
    ...     [(a.number, a.score, a.total) for a in history.attempts("quiz")]
    [(1, 1.0, 1)]
    >>> view.score, view.total.value
    (1.0, '<p><b>Total: 1.00 / 2</b> (1 of 2 checked, attempt 1)</p>')
    """

    def __init__(self, bank: Bank, ids=None, history: History | None = None):
        self.bank = bank
        self.history = history if history is not None else History()
        learner = self.history.learner
        self.attempt = self.history.next_number(bank.name)
        self._attempt_id: int | None = None
        self.questions = [QuestionWidget(q, seed_for(learner, self.attempt, q.id),
                                         on_checked=self._checked)
                          for q in bank.select(ids)]
        self.total = widgets.HTML()
        self._update_total()
        self.box = widgets.VBox([widgets.HTML(f"<h3>{html.escape(bank.title)}</h3>")]
                                + [item.box for item in self.questions] + [self.total])

    def _checked(self, item: QuestionWidget) -> None:
        if item.outcome is not None:
            if self._attempt_id is None:
                self._attempt_id = self.history.start(self.bank.name)
            self.history.record(self._attempt_id, item.question.id, item.outcome, item.score)
        self._update_total()

    @property
    def score(self) -> float:
        """Sum of the scores of the questions checked so far."""
        return sum(item.score for item in self.questions if item.outcome is not None)

    def _update_total(self) -> None:
        answered = sum(item.outcome is not None for item in self.questions)
        self.total.value = (f"<p><b>Total: {self.score:.2f} / {len(self.questions)}</b> "
                            f"({answered} of {len(self.questions)} checked, attempt "
                            f"{self.attempt})</p>")

    def _repr_html_(self) -> str:
        """The questions as static HTML, for viewers without a widget manager."""
        items = []
        for item in self.questions:
            q = item.shown
            options = (q.choices if q.kind in ("single", "multiple")
                       else [left for left, _ in q.pairs] if q.kind == "matching"
                       else ordering_start(q.items, item.seed) if q.kind == "ordering" else ())
            listed = "".join(f"<li>{html.escape(o)}</li>" for o in options)
            items.append(f"<li><p>{html.escape(q.prompt)}</p>"
                         f"{f'<ul>{listed}</ul>' if listed else ''}</li>")
        return (f"<div class='mlcycle-quiz'><h3>{html.escape(self.bank.title)}</h3>"
                f"<p>This quiz needs a running Jupyter kernel with ipywidgets to check answers; "
                f"here are its {len(self.questions)} question(s). In a terminal: "
                f"<code>mlcycle quiz {html.escape(self.bank.name)}</code>.</p>"
                f"<ol>{''.join(items)}</ol></div>")

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle = dict(bundle) if bundle else {}
        bundle["text/html"] = self._repr_html_()
        return bundle


def show(bank: Bank | str, ids=None, history: History | None = None,
         review: bool = False) -> QuizView:
    """All questions of a bank (or those with ``ids``) as widgets, ready to display.

    ``bank`` is a loaded bank or a bank's name; ``history`` keeps the attempts (by default
    the learner's own file, see :class:`QuizView`). ``review=True`` shows only the questions
    whose latest answer in ``history`` was not right, and raises ValueError when there are
    none.

    >>> import tempfile
    >>> from mlcycle_ref.quiz.history import History
    >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
    ...     attempt = history.start("quiz")
    ...     history.record(attempt, "q02-tf", "wrong", 0.0)
    ...     [item.question.id for item in show("quiz", history=history, review=True).questions]
    ['q02-tf']
    """
    bank = bank if isinstance(bank, Bank) else load_bank(bank)
    if review:
        history = history if history is not None else History()
        missed = history.missed(bank.name)
        ids = [i for i in missed if not ids or i in ids]
        if not ids:
            raise ValueError(f"nothing to review in {bank.title}: every question answered "
                             "was right at the latest try")
    return QuizView(bank, ids, history)
