"""Quizzes and glossary drills: one question bank, three front-ends.

Banks are YAML files (``quizzes/*.yml``) loaded by
:func:`~mlcycle_ref.quiz.bank.load_bank`; :func:`~mlcycle_ref.quiz.checking.check` turns a
response into :class:`~mlcycle_ref.quiz.checking.Feedback`; ``show`` renders a bank as
ipywidgets in a notebook (:func:`mlcycle_ref.quiz.notebook.show`).
The terminal quiz and drills are the ``mlcycle quiz`` and ``mlcycle glossary`` commands,
and the book renders banks with the Sphinx extension ``mlcycle_ref.quiz.sphinx_ext``.
Every front-end shows choices in a per-attempt order (:mod:`~mlcycle_ref.quiz.shuffle`),
keeps attempts (:mod:`~mlcycle_ref.quiz.history`; the book in browser storage) and reads the
checker's data from one compiled file (:mod:`~mlcycle_ref.quiz.checker_data`).

>>> from mlcycle_ref.quiz import load_bank, check
>>> question = load_bank("quiz").question("q02-tf")
>>> check(question, False).correct
True
"""

from mlcycle_ref.quiz.bank import Bank, BankError, Question, load_bank
from mlcycle_ref.quiz.checking import Feedback, check


def show(bank, ids=None, history=None, review=False):
    """Render a bank (a name such as ``"quiz"``, or a loaded bank) as notebook widgets:
    the questions with the ``ids`` given (all when None), attempts kept in ``history`` (a
    :class:`~mlcycle_ref.quiz.history.History`, by default the learner's own file);
    ``review=True`` shows only what was missed at the latest try. See
    :func:`mlcycle_ref.quiz.notebook.show`.

    >>> import tempfile
    >>> from mlcycle_ref.quiz.history import History
    >>> with History(f"{tempfile.mkdtemp()}/h.sqlite3") as history:
    ...     view = show("quiz", ids=["q02-tf", "q02-choice"], history=history)
    >>> [item.question.id for item in view.questions], view.attempt
    (['q02-tf', 'q02-choice'], 1)
    """
    # ipywidgets is only imported when a notebook asks for widgets.
    from mlcycle_ref.quiz.notebook import show as show_widgets

    return show_widgets(bank, ids, history, review)


__all__ = ["Bank", "BankError", "Feedback", "Question", "check", "load_bank", "show"]
