"""Glossary drills: Leitner boxes in SQLite, drill plans, and a drill driven through stdin."""

import io
import random
import re
import sqlite3
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest

from mlcycle_ref.paths import data_dir
from mlcycle_ref.quiz import check, load_bank
from mlcycle_ref.quiz.drills import (
    BOXES,
    RETRY_AFTER,
    Progress,
    matching_question,
    meaning_question,
    plan_drill,
    terms_right,
)
from mlcycle_ref.quiz.shuffle import displayed, seed_for
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


def on_due_days(progress, term_id, answers):
    """Answer a card each time on the day it falls due; return the cards."""
    cards, day = [], DAY
    for correct in answers:
        cards.append(progress.record(term_id, correct, day))
        day = max(day, cards[-1].due)
    return cards


def test_right_answers_on_due_days_climb_the_boxes_and_a_wrong_one_drops_to_box_one(progress):
    cards = on_due_days(progress, "pandas", [True] * (BOXES + 1) + [False])
    assert [c.box for c in cards] == [2, 3, 4, 5, 5, 5, 1]
    last = cards[-1]
    assert (last.seen, last.right) == (7, 6) and last.due == cards[-2].due


def test_a_higher_box_waits_longer(progress):
    cards = on_due_days(progress, "numpy", [True] * 4)
    dues = [card.due for card in cards]
    assert [(dues[n + 1] - dues[n]).days for n in range(3)] == [3, 7, 14]
    assert (cards[0].due - DAY).days == 1


def test_an_early_review_counts_but_does_not_promote(progress):
    boxes = [progress.record("pandas", True, DAY).box for _ in range(6)]
    assert boxes == [2] * 6  # six drills in one day: still box 2, due tomorrow
    card = progress.card("pandas")
    assert (card.due, card.seen, card.right) == (DAY + timedelta(days=1), 6, 6)
    assert progress.record("pandas", True, DAY + timedelta(days=1)).box == 3
    # A wrong answer is never early: it sends the card back at once.
    assert progress.record("pandas", False, DAY + timedelta(days=1)).box == 1


def test_progress_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "p.sqlite3"
    with Progress(path) as store:
        store.record("convergence", True, DAY)
        store.record("convergence", True, DAY + timedelta(days=1))
    with Progress(path) as store:
        card = store.card("convergence")
    assert (card.box, card.seen, card.right, card.due) == (3, 2, 2, DAY + timedelta(days=4))


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
    # Type the first term right; then an unreadable answer, then a wrong meaning's letter;
    # the missed card comes back at the end as "type the term", answered right.
    term_q, meaning_q = plan[0][0], plan[1][0]
    shown = displayed(meaning_q, seed_for("drill", 3, meaning_q.id)).choices
    wrong_letter = "abcd"[next(n for n, c in enumerate(shown) if c != meaning_q.answer)]
    missed_term = GLOSSARY.term(plan[1][1][0]).term
    out = io.StringIO()
    with Progress(path) as store:
        results = run_drill(GLOSSARY, store, rounds=2, seed=3, today=DAY, stdout=out,
                            stdin=io.StringIO(f"{term_q.answer.upper()}\nzz\n{wrong_letter}\n"
                                              f"{missed_term}\n"))
    assert list(results.values()) == [True, False]
    text = out.getvalue()
    assert "could not read that" in text and "Stopped" not in text
    assert "[3/3] (again) Which term is this?" in text
    assert "Drill done: 1 of 2 card(s) right at the first try." in text
    with Progress(path) as store:
        assert store.card(plan[0][1][0]).box == 2
        again = store.card(plan[1][1][0])
        assert (again.box, again.seen, again.right) == (2, 2, 1)


def test_a_missed_card_comes_back_later_in_the_same_drill(tmp_path):
    with Progress(tmp_path / "p.sqlite3") as store:
        plan = plan_drill(GLOSSARY, store, 6, random.Random(5), DAY)
        first = plan[0][1][0]
        out = io.StringIO()
        # Miss the first card, then skip everything: it returns RETRY_AFTER questions later.
        run_drill(GLOSSARY, store, rounds=6, seed=5, today=DAY, stdout=out,
                  stdin=io.StringIO("zebra\n" + "\n" * 40))
    asked = re.findall(r"\[(\d+)/\d+\] (.*)", out.getvalue())
    prompts = [prompt for _, prompt in asked]
    term = GLOSSARY.term(first)
    again = [n for n, prompt in enumerate(prompts)
             if n > 0 and (term.definition in prompt or f"“{term.term}”" in prompt)]
    assert again and again[0] == RETRY_AFTER
    assert len(prompts) > 6


def test_a_truncated_progress_file_is_kept_aside_with_a_message_naming_it(tmp_path):
    path = tmp_path / "drills.sqlite3"
    with Progress(path) as store:
        for term in ("pandas", "numpy", "matplotlib"):
            store.record(term, True, DAY)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])
    with Progress(path) as store:
        assert str(path) in store.notice and "damaged" in store.notice
        assert store.card("pandas").seen == 0  # a fresh start
        store.record("pandas", True, DAY)
    [aside] = tmp_path.glob("drills.sqlite3.damaged-*")
    assert aside.read_bytes() == data[: len(data) // 2 + 100] and str(aside) in store.notice
    with Progress(path) as store:
        assert store.notice == "" and store.card("pandas").seen == 1


def test_an_empty_progress_file_is_reported_not_silently_reset(tmp_path):
    path = tmp_path / "drills.sqlite3"
    path.write_bytes(b"")
    out = io.StringIO()
    with Progress(path) as store:
        assert "empty (0 bytes)" in store.notice
        run_drill(GLOSSARY, store, rounds=1, seed=0, today=DAY, stdin=io.StringIO(""),
                  stdout=out)
    assert str(path) in out.getvalue() and "kept aside" in out.getvalue()
    assert len(list(tmp_path.glob("drills.sqlite3.damaged-*"))) == 1


def test_a_progress_file_written_before_the_storage_layer_keeps_its_cards(tmp_path):
    path = tmp_path / "drills.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            "CREATE TABLE cards (term_id TEXT PRIMARY KEY, box INTEGER NOT NULL, due TEXT NOT"
            " NULL, seen INTEGER NOT NULL, right INTEGER NOT NULL);"
            f"INSERT INTO cards VALUES ('pandas', 3, '{DAY.isoformat()}', 2, 2);")
    with Progress(path) as store:
        assert store.notice == "" and store.card("pandas").box == 3
        assert store.record("pandas", True, DAY).box == 4
    assert not list(tmp_path.glob("*.damaged-*"))


def test_garbage_in_the_progress_file_is_kept_aside_too(tmp_path):
    path = tmp_path / "drills.sqlite3"
    path.write_text("this is not a database, it is a shopping list\n" * 50)
    with Progress(path) as store:
        assert "cannot be read" in store.notice
        assert store.record("numpy", True, DAY).box == 2


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
