"""The terminal quiz, driven through stdin."""

import io
from collections import Counter

from mlcycle_ref.quiz import load_bank
from mlcycle_ref.quiz.shuffle import displayed, seed_for
from mlcycle_ref.quiz.terminal import run_quiz

QUIZ = load_bank("quiz")


def shown(question, learner="anonymous", attempt=1):
    """The question as attempt ``attempt`` of ``learner`` displays it."""
    return displayed(question, seed_for(learner, attempt, question.id))


def letter(text, question):
    return "abcdefgh"[list(shown(question).choices).index(text)]


def run(ids, lines, **options):
    out = io.StringIO()
    result = run_quiz(QUIZ, ids=ids, stdin=io.StringIO("".join(f"{x}\n" for x in lines)),
                      stdout=out, **options)
    return result, out.getvalue()


def test_a_full_run_prints_feedback_and_the_score_summary():
    single = QUIZ.question("q02-choice")
    multi = QUIZ.question("q03-multi")
    picks = " ".join(letter(a, multi) for a in multi.answer)
    result, text = run(
        ["q02-choice", "q03-multi", "q04-tf", "q04-numeric", "q03"],
        [letter(single.answer, single), picks, "f", "10 %",
         "Hyperparameters are the knobs that control training, like the learning rate."])
    # The short answer leaves out the second part of the question (the comparison).
    assert result.correct == {"q02-choice": True, "q03-multi": True, "q04-tf": True,
                              "q04-numeric": True, "q03": False}
    assert result.scores["q03"] < 1.0
    assert "Missing:" in text and "mixing desk" in text
    assert "Not yet answered: the part on the comparison." in " ".join(text.split())
    assert "Read more: book/lifecycle/training.html#hyperparameters" in text
    assert "Score: 4.67 / 5 (93%); 4 correct, 0 not reached." in text


def test_unreadable_answers_are_asked_again_and_empty_lines_skip():
    result, text = run(["q02-tf", "q04-numeric"], ["perhaps", "", "twenty", "20"])
    assert text.count("could not read that") == 2
    assert "Skipped." in text
    assert result.scores == {"q02-tf": 0.0, "q04-numeric": 0.0}
    assert "Score: 0.00 / 2 (0%); 0 correct, 0 not reached." in text


def test_quit_or_end_of_input_stops_with_a_summary():
    result, text = run(["q02-tf", "q04-tf", "q06-tf"], ["f", "quit"])
    assert "Stopped." in text
    assert "Score: 1.00 / 3 (33%); 1 correct, 2 not reached." in text
    result, text = run(["q02-tf", "q04-tf"], ["f"])
    assert "1 not reached" in text


def shown_letters(text):
    """The lettered items of the last question displayed: {item: letter}."""
    return {line.split(") ", 1)[1]: line.strip()[0] for line in text.splitlines()
            if line.startswith("   ") and line.strip()[1:3] == ") "}


def test_matching_takes_numbered_pairs_or_letters_in_order():
    question = QUIZ.question("q05-match")
    _, text = run(["q05-match"], [])
    letters = shown_letters(text)
    in_order = [letters[right] for _, right in shown(question).pairs]
    result, _ = run(["q05-match"], [" ".join(f"{n}{x}" for n, x in enumerate(in_order, 1))])
    assert result.correct == {"q05-match": True}
    result, _ = run(["q05-match"], ["".join(in_order)])
    assert result.correct == {"q05-match": True}
    swapped = [in_order[1], in_order[0], *in_order[2:]]
    result, text = run(["q05-match"], [", ".join(f"{n}-{x}" for n, x in enumerate(swapped, 1))])
    assert result.scores == {"q05-match": 0.5} and "2 of 4 pairs are right." in text
    _, text = run(["q05-match"], ["9z"])
    assert "could not read that" in text


def test_ordering_accepts_the_shown_letters_in_the_right_order():
    question = QUIZ.question("q01-order")
    _, text = run(["q01-order"], [])
    letters = shown_letters(text)
    assert list(letters) != list(question.items)  # the display never gives the answer away
    result, _ = run(["q01-order"], [" ".join(letters[item] for item in question.items)])
    assert result.correct == {"q01-order": True}
    _, text = run(["q01-order"], ["a a b"])
    assert "every letter exactly once" in text


def test_shuffle_is_repeatable_per_learner_and_attempt():
    ids = ["q01-multi", "q02-choice", "q03-choice", "q04-tf"]
    _, first = run(ids, [], shuffle=True, learner="ada", attempt=5)
    _, again = run(ids, [], shuffle=True, learner="ada", attempt=5)
    _, other = run(ids, [], shuffle=True, learner="ada", attempt=6)
    assert first == again and first != other


def right_letter(text, question):
    """Where the right answer of a single-choice question was shown: a, b, c..."""
    return shown_letters(text)[question.answer]


def test_the_right_choice_moves_across_attempts_and_the_bank_keeps_its_order():
    for question in [q for q in QUIZ.questions if q.kind == "single"]:
        before = question.choices
        positions = Counter(right_letter(run([question.id], [], attempt=n)[1], question)
                            for n in range(1, 61))
        assert set(positions) == set("abcdefgh"[:len(question.choices)]), question.id
        assert max(positions.values()) < 60 * 0.5, (question.id, positions)
        assert question.choices == before


def test_multiple_choice_right_options_are_not_always_the_first_ones():
    question = QUIZ.question("q03-multi")
    tops = set()
    for attempt in range(1, 31):
        letters = shown_letters(run([question.id], [], attempt=attempt)[1])
        tops.add(frozenset(letters[a] for a in question.answer))
    assert len(tops) > 5


def test_persona_items_and_ordering_items_are_shuffled_per_attempt():
    personas = load_bank("personas").question("sort")
    owners_in_shown_order = set()
    for attempt in range(1, 11):
        _, text = run_personas(attempt)
        rows = [line.split(". ", 1)[1] for line in text.splitlines()
                if line.startswith("   ") and line.strip()[:1].isdigit()]
        owners_in_shown_order.add(tuple(dict(personas.pairs)[row] for row in rows[:5]))
    assert len(owners_in_shown_order) > 5
    question = QUIZ.question("q01-order")
    starts = {tuple(shown_letters(run([question.id], [], attempt=n)[1])) for n in range(1, 21)}
    assert len(starts) > 2 and tuple(question.items) not in starts


def run_personas(attempt):
    out = io.StringIO()
    run_quiz(load_bank("personas"), ids=["sort"], stdin=io.StringIO(""), stdout=out,
             attempt=attempt)
    return None, out.getvalue()


def test_an_essay_is_read_until_an_empty_line():
    essays = load_bank("essays")
    out = io.StringIO()
    lines = essays.question("e3").model_answer.split(". ")
    result = run_quiz(essays, ids=["e3"], stdin=io.StringIO("\n".join(lines) + "\n\n"),
                      stdout=out)
    assert result.correct == {"e3": True}


UNSURE = "For example one-hot encoding, which turns each category into its own 0/1 column."


def test_an_unsure_short_answer_is_compared_with_the_model_answer_and_self_marked(tmp_path):
    from mlcycle_ref.quiz.history import History

    with History(tmp_path / "h.sqlite3") as history:
        result, text = run(["q02"], [UNSURE, "maybe", "y"], history=history)
        assert "Perhaps" in text and QUIZ.question("q02").model_answer[:40] in " ".join(
            text.split())
        assert "Type y or n." in text
        assert result.correct == {"q02": True} and result.scores == {"q02": 1.0}
        [attempt] = history.attempts("quiz")
        assert attempt.self_marked == 1 and history.outcomes(attempt.id) == {
            "q02": ("self-right", 1.0)}
        result, _ = run(["q02"], [UNSURE, "n"], history=history)
        assert result.correct == {"q02": False}
        assert history.missed("quiz") == ["q02"]
