"""Glossary drills: Leitner boxes in SQLite, drill plans, and a drill driven through stdin."""

import io
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from mlcycle_ref.quiz import check, load_bank
from mlcycle_ref.quiz.drills import (
    BOXES,
    Progress,
    data_dir,
    matching_question,
    meaning_question,
    plan_drill,
    terms_right,
)
from mlcycle_ref.quiz.terminal import print_stats, run_drill

DAY = date(2025, 3, 1)
GLOSSARY = load_bank("glossary")


@pytest.fixture
def progress(tmp_path):
    with Progress(tmp_path / "drills.sqlite3") as store:
        yield store


def test_data_dir_prefers_the_mlcycle_variable_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "mine"
    monkeypatch.delenv("MLCYCLE_DATA_DIR")
    assert data_dir() == tmp_path / "xdg" / "mlcycle"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir() == tmp_path / ".local" / "share" / "mlcycle"


def test_default_store_lives_in_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCYCLE_DATA_DIR", str(tmp_path / "deep" / "dir"))
    with Progress() as store:
        store.record("pandas", True, DAY)
    assert (tmp_path / "deep" / "dir" / "drills.sqlite3").is_file()


def test_right_answers_climb_the_boxes_and_a_wrong_one_drops_to_box_one(progress):
    boxes = [progress.record("pandas", True, DAY).box for _ in range(BOXES + 1)]
    assert boxes == [2, 3, 4, 5, 5, 5]
    card = progress.record("pandas", False, DAY)
    assert (card.box, card.due, card.seen, card.right) == (1, DAY, 7, 6)


def test_a_higher_box_waits_longer(progress):
    dues = [(progress.record("numpy", True, DAY).due - DAY).days for _ in range(4)]
    assert dues == [1, 3, 7, 14]


def test_progress_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "p.sqlite3"
    with Progress(path) as store:
        store.record("convergence", True, DAY)
        store.record("convergence", True, DAY)
    with Progress(path) as store:
        card = store.card("convergence")
    assert (card.box, card.seen, card.right, card.due) == (3, 2, 2, DAY + timedelta(days=3))


def test_unknown_card_starts_new_in_box_one(progress):
    card = progress.card("algorithm")
    assert card.box == 1 and card.due is None and card.seen == 0


def test_next_cards_puts_due_ones_first_then_new_then_later(progress):
    progress.record("a", True, DAY)                  # box 2, due tomorrow
    progress.record("b", False, DAY)                 # box 1, due today
    progress.record("c", True, DAY - timedelta(5))   # box 2, overdue
    ids = ["a", "b", "c", "d", "e"]
    assert progress.next_cards(ids, 5, DAY) == ["b", "c", "d", "e", "a"]
    assert progress.next_cards(ids, 2, DAY) == ["b", "c"]
    # A day later "a" is due too: box 1 first, then the longest overdue of box 2.
    assert progress.next_cards(ids, 5, DAY + timedelta(days=1)) == ["b", "c", "a", "d", "e"]


def test_stats_count_boxes_new_cards_answers_and_due(progress):
    progress.record("a", True, DAY)
    progress.record("a", False, DAY)
    progress.record("b", True, DAY)
    stats = progress.stats(["a", "b", "c"], DAY)
    assert stats.boxes == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0}
    assert (stats.new, stats.answers, stats.right, stats.due_today) == (1, 3, 2, 1)
    assert stats.accuracy == pytest.approx(2 / 3)


def test_plan_rotates_the_three_drill_kinds(progress):
    plan = plan_drill(GLOSSARY, progress, 6, random.Random(0), DAY)
    assert [q.kind for q, _ in plan] == ["text", "single", "matching"] * 2
    ids = [t for _, terms in plan for t in terms]
    assert len(ids) == len(set(ids)) == 1 + 1 + 4 + 1 + 1 + 4


def test_plan_is_repeatable_with_a_seed(progress):
    first = plan_drill(GLOSSARY, progress, 5, random.Random(7), DAY)
    again = plan_drill(GLOSSARY, progress, 5, random.Random(7), DAY)
    assert [q.id for q, _ in first] == [q.id for q, _ in again]


def test_drill_questions_check_like_bank_questions():
    meaning = meaning_question(GLOSSARY, "convergence", random.Random(1))
    assert len(meaning.choices) == 4 and meaning.answer in meaning.choices
    assert check(meaning, meaning.answer).correct
    match = matching_question(GLOSSARY, ["pandas", "numpy", "matplotlib"])
    feedback = check(match, {"Pandas": GLOSSARY.term("numpy").definition,
                             "NumPy": GLOSSARY.term("pandas").definition,
                             "Matplotlib": GLOSSARY.term("matplotlib").definition})
    assert terms_right(GLOSSARY, match, ("pandas", "numpy", "matplotlib"), feedback.missed,
                       feedback.correct) == {"pandas": False, "numpy": False, "matplotlib": True}


def test_a_drill_through_stdin_moves_cards_and_the_moves_reload(tmp_path):
    path = tmp_path / "p.sqlite3"
    with Progress(path) as store:
        plan = plan_drill(GLOSSARY, store, 2, random.Random(3), DAY)
    # Type the first term right; then an unreadable answer, then a wrong meaning's letter.
    term_q, meaning_q = plan[0][0], plan[1][0]
    wrong_letter = "abcd"[next(n for n, c in enumerate(meaning_q.choices)
                               if c != meaning_q.answer)]
    out = io.StringIO()
    with Progress(path) as store:
        results = run_drill(GLOSSARY, store, rounds=2, seed=3, today=DAY,
                            stdin=io.StringIO(f"{term_q.answer.upper()}\nzz\n{wrong_letter}\n"),
                            stdout=out)
    assert list(results.values()) == [True, False]
    text = out.getvalue()
    assert "could not read that" in text and "Stopped" not in text
    assert "Drill done: 1 of 2 card(s) right." in text
    with Progress(path) as store:
        assert store.card(plan[0][1][0]).box == 2
        assert store.card(plan[1][1][0]).box == 1 and store.card(plan[1][1][0]).seen == 1


def test_quitting_a_drill_keeps_what_was_answered(tmp_path):
    with Progress(tmp_path / "p.sqlite3") as store:
        plan = plan_drill(GLOSSARY, store, 3, random.Random(0), DAY)
        out = io.StringIO()
        results = run_drill(GLOSSARY, store, rounds=3, seed=0, today=DAY,
                            stdin=io.StringIO(f"{plan[0][0].answer}\nquit\n"), stdout=out)
        assert results == {plan[0][1][0]: True}
        assert "progress so far is saved" in out.getvalue()
        assert store.stats([t.id for t in GLOSSARY.terms], DAY).answers == 1


def test_stats_are_printed_per_box(progress):
    progress.record("pandas", True, DAY)
    out = io.StringIO()
    print_stats(GLOSSARY, progress, DAY, stdout=out)
    text = out.getvalue()
    assert f"({len(GLOSSARY.terms)} terms)" in text
    assert "Box 2 (review after 1 day): 1" in text
    assert f"New (not drilled yet): {len(GLOSSARY.terms) - 1}" in text
    assert str(Path(progress.path)) in text
