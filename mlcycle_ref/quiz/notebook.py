"""The notebook front-end: a bank rendered as ipywidgets, checked in the kernel.

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
from mlcycle_ref.quiz.checking import Feedback, ResponseError, check

LAYOUT = widgets.Layout(width="95%")


class QuestionWidget:
    """One question: its prompt, an input that suits its kind, a Check button, feedback."""

    def __init__(self, question: Question):
        self.question = question
        self.feedback: Feedback | None = None
        self.input = self._input()
        self.button = widgets.Button(description="Check", button_style="primary")
        self.output = widgets.HTML()
        self.button.on_click(lambda _: self.check())
        prompt = widgets.HTML(f"<p><b>{html.escape(question.id)}</b> "
                              f"{html.escape(question.prompt)}</p>")
        parts = [prompt, self.input] if self.input is not None else [prompt]
        self.box = widgets.VBox([*parts, self.button, self.output])

    def _input(self):
        q = self.question
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
            rights = sorted({right for _, right in q.pairs})
            return widgets.VBox([widgets.Dropdown(description=left, options=rights, value=None,
                                                  style={"description_width": "40%"},
                                                  layout=LAYOUT)
                                 for left, _ in q.pairs])
        if q.kind == "ordering":
            return widgets.VBox([widgets.Dropdown(description=f"{n}.", options=sorted(q.items),
                                                  value=None, layout=LAYOUT)
                                 for n in range(1, len(q.items) + 1)])
        return widgets.Text(placeholder="Your answer", layout=LAYOUT)

    def response(self):
        """The current widget state as a response for :func:`~mlcycle_ref.quiz.checking.check`."""
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
        self.output.value = feedback_html(self.question, self.feedback)


def feedback_html(question: Question, feedback: Feedback) -> str:
    """Verdict, score, missed points, explanation and link as a small HTML block."""
    colour = "#1a7f37" if feedback.correct else "#b35900"
    missed = "".join(f"<li>{html.escape(m)}</li>" for m in feedback.missed)
    rubric = question.kind in ("short", "essay")
    return (
        f"<div style='border-left:4px solid {colour};padding-left:8px'>"
        f"<p style='color:{colour}'>{html.escape(feedback.message)}"
        f"{f' (score {feedback.score:.2f})' if rubric else ''}</p>"
        f"{f'<p>Missing:</p><ul>{missed}</ul>' if missed and rubric else ''}"
        f"<p>{html.escape(question.explanation)}</p>"
        f"<p>Read more: <code>{html.escape(feedback.link)}</code></p></div>"
    )


class QuizView:
    """A bank's questions as widgets; displays itself in a notebook."""

    def __init__(self, bank: Bank, ids=None):
        self.questions = [QuestionWidget(q) for q in bank.select(ids)]
        self.box = widgets.VBox([widgets.HTML(f"<h3>{html.escape(bank.title)}</h3>")]
                                + [item.box for item in self.questions])

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def show(bank: Bank | str, ids=None) -> QuizView:
    """All questions of a bank (or those with ``ids``) as widgets, ready to display."""
    return QuizView(bank if isinstance(bank, Bank) else load_bank(bank), ids)
