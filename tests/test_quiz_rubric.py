"""The short-answer engine: normalising, stemming, matching phrasings and what defeats them."""

import pytest

from mlcycle_ref.quiz.rubric import (
    KEYWORD_CAP,
    Point,
    analyse_answer,
    compile_phrasing,
    is_keyword_list,
    is_padded,
    normalise,
    stem,
    tokenise,
)

HOLD = Point("held-back data", ("[unseen|new] data", "not [see|train]"),
             contradictions=("[use|train] all data",))
COMPARE = Point("compare with truth", ("compare prediction [truth|label]",))


def made(answer, points=(HOLD, COMPARE), prompt="Why hold data back?", subjects=None):
    return analyse_answer(answer, prompt, points, subjects).made


@pytest.mark.parametrize("family", [
    ("feature", "features", "featured"),
    ("train", "trains", "trained", "training"),
    ("plot", "plots", "plotted", "plotting"),
    ("visualise", "visualize", "visualising", "visualization", "visualisations"),
    ("analyse", "analyze", "analysis", "analyses", "analysing"),
    ("category", "categories"),
    ("setting", "settings", "set"),
    ("model", "models", "modelling", "modeling"),
    ("hold", "held", "holding", "holds"),
    ("use", "used", "uses", "using"),
])
def test_stem_unites_a_word_family(family):
    assert len({stem(word) for word in family}) == 1, [stem(w) for w in family]


def test_stem_leaves_short_words_numbers_and_protected_words():
    assert [stem(w) for w in ("bias", "data", "gpu", "70", "is", "pandas")] == [
        "bias", "data", "gpu", "70", "is", "pandas"]
    assert stem("dataset") == stem("datasets") == "data"


def test_normalise_expands_contractions_and_negating_phrases():
    assert normalise("Don't, can't, won't, isn't").split() == [
        "do", "not,", "can", "not,", "will", "not,", "is", "not"]
    assert "not" in normalise("instead of training").split()
    assert normalise("Café ÉTÉ").split() == ["cafe", "ete"]


def test_tokenise_joins_split_words_and_marks_clauses():
    tokens = tokenise("Fine-tune a pre trained model, but not only one-hot data frames.")
    assert [t.stem for t in tokens] == [
        "finetun", "a", "pretrain", "model", "but", "only", "onehot", "datafram"]
    assert tokens[0].clause == tokens[3].clause != tokens[4].clause


def test_sentences_split_at_full_stops_but_not_decimals():
    tokens = tokenise("A score of 0.5 is poor. Next sentence")
    assert tokens[4].surface == "5" and tokens[4].sentence == 0
    assert tokens[-1].sentence == 1


def test_compile_phrasing_drops_function_words_and_keeps_negators():
    assert compile_phrasing("not [the|a] model") == ((("~not",),), (("model",),))
    assert compile_phrasing("the of and") == ()


def test_a_point_needs_all_its_slots_in_one_sentence():
    assert made("Compare the prediction with the truth.") == (False, True)
    assert made("Compare the prediction. The truth is out there.") == (False, False)


def test_slots_may_come_in_any_order():
    assert made("The truth and the predictions are compared.") == (False, True)


def test_words_too_far_apart_do_not_make_a_point():
    far = ("Compare the prediction of the model, whatever it was that they built over the "
           "many long months of hard and careful work, with the truth.")
    assert made(far) == (False, False)


@pytest.mark.parametrize("answer", [
    "You never need new data.",
    "Do not test on new data.",
    "Testing on new data is not needed.",
    "There is no need to use new data.",
    "Rather than new data, reuse the old rows.",
    "You can test without new data.",
])
def test_negation_defeats_a_point(answer):
    assert made(answer)[0] is False
    assert analyse_answer(answer, "", [HOLD]).negated == (True,)


def test_a_negator_in_another_clause_does_not_count():
    assert made("It does not matter how, but test on new data.")[0]
    assert made("Not only old data: new data matters too.")[0]


def test_a_negator_that_belongs_to_a_phrasing_is_not_a_negation():
    assert made("Measure it on rows it has not seen.")[0]
    assert made("Hold rows back that the model was not trained on.")[0]


def test_a_negator_in_a_phrasing_must_come_first():
    assert not made("It sees and does not stop.")[0]


def test_the_opposite_claim_defeats_a_point_unless_it_is_negated_or_criticised():
    assert made("Use new data, and train on all the data.")[0] is False
    assert analyse_answer("Use new data, and train on all the data.", "",
                          [HOLD]).contradicted == (True,)
    assert made("Use new data; never train on all the data.")[0]
    assert made("Use new data; if you used all the data you would fool yourself.")[0]


def test_subjects_keep_two_tools_apart():
    points = [Point("pandas loads", ("load data",), subject="pandas"),
              Point("matplotlib plots", ("plot",), subject="matplotlib")]
    subjects = {"pandas": ["pandas"], "matplotlib": ["matplotlib"]}

    def verdict(answer):
        return analyse_answer(answer, "", points, subjects).made

    assert verdict("Pandas loads data and matplotlib draws a plot.") == (True, True)
    assert verdict("Data is loaded by pandas, while plots come from matplotlib.") == (True, True)
    assert verdict("Pandas draws a plot and matplotlib loads data.") == (False, False)
    # An article before the next subject still starts its clause.
    assert verdict("The pandas library draws a plot and the matplotlib one loads data.") == (
        False, False)
    assert verdict("Pandas is handy. It can load data.") == (True, False)
    assert verdict("It can load data and plot.") == (False, False)


def test_words_copied_from_the_question_earn_nothing():
    prompt = "Why compare the predictions with the truth on new data?"
    analysis = analyse_answer("Why compare the predictions with the truth on new data?", prompt,
                              [HOLD, COMPARE])
    assert analysis.made == (False, False) and analysis.copied_share == 1.0
    analysis = analyse_answer("Because you compare predictions with labels.", prompt,
                              [HOLD, COMPARE])
    assert analysis.made == (False, True) and analysis.copied_share == 0.0


@pytest.mark.parametrize(("text", "expected"), [
    ("analysis, visualisation, feature identification", True),
    ("pandas - dataframes, matplotlib - plots", True),
    ("unseen data ground truth generalisation unbiased estimate", True),
    ("They analyse the data, plot it and pick the useful features.", False),
    ("Matplotlib makes charts.", False),
    ("One-hot encoding.", False),
    ("TOO MANY FEATURES STOP CONVERGENCE, AND DROPPING IRRELEVANT ONES LOWERS DIMENSIONS", False),
])
def test_keyword_lists(text, expected):
    assert is_keyword_list(text) is expected


def test_a_keyword_list_is_capped_below_any_pass_mark():
    analysis = analyse_answer("new data, compare prediction truth, labels", "", [HOLD, COMPARE])
    assert analysis.made == (True, True)
    assert analysis.keyword_list and analysis.score == KEYWORD_CAP


@pytest.mark.parametrize(("text", "expected"), [
    ("basically unseen data, like, ground truth and generalisation and stuff", True),
    ("You know, kind of the unseen rows, the true labels, overfitting and so on.", True),
    ("Basically foundation models, kind of fine tuning, quick prototyping and so on.", True),
    ("Um, data structure, charts, kind of feature selection, I guess, etc.", True),
    ("well, um, Studio is basically the IDE and the JupyterLab and the browser, like, all that",
     True),  # "is" alone links the terms
    ("Studio is basically the IDE you open in the browser, you know, to explore data.", False),
    # Filler around a real claim, and "like" that introduces an example, state something.
    ("Basically you score the model on rows it never saw and compare with the labels.", False),
    ("Transforming the dataset so it suits the model, like one-hot encoding the categories.",
     False),
    ("unseen data, ground truth", False),  # a keyword list, but not padded
])
def test_terms_padded_with_filler(text, expected):
    assert is_padded(text) is expected


def test_a_padded_term_list_is_capped_like_a_keyword_list():
    analysis = analyse_answer("basically new data and stuff, you know, compare prediction "
                              "truth etc", "", [HOLD, COMPARE])
    assert analysis.made == (True, True)
    assert analysis.padded and analysis.score == KEYWORD_CAP


def test_exact_words_bare_terms_and_nearby_negations_are_recorded():
    typo = analyse_answer("Test it on unsen data.", "", [HOLD, COMPARE])
    assert typo.made == (True, False) and typo.exact == (False, False)
    lone = analyse_answer("Compare predictions with labels. Unseen data.", "", [HOLD, COMPARE])
    assert lone.made == (True, True) and lone.exact == (True, True)
    assert lone.bare == (False, False)  # a two-word phrasing is no lone term
    term = Point("a chart", ("[chart|plot]",))
    assert analyse_answer("Charts.", "", [term]).bare == (True,)
    assert analyse_answer("You draw charts.", "", [term]).bare == (False,)
    # A longer run of terms without a verb describes, as a statement would.
    assert analyse_answer("Visualisation (histograms, scatter plots, correlation maps).", "",
                          [term]).bare == (False,)
    # A negator before the point in its clause, kept off it by a pronoun; one after it in the
    # clause denies something else ("charts, not tables") and one in another clause is apart.
    assert analyse_answer("Rather than tables you draw charts.", "", [term]).denial_near
    assert not analyse_answer("You draw charts, not tables.", "", [term]).denial_near
    assert not analyse_answer("You draw charts and not tables.", "", [term]).denial_near
    assert not analyse_answer("You draw charts. Tables are not needed.", "",
                              [term]).denial_near


def test_the_compiled_checker_data_matches_its_yaml_source():
    from mlcycle_ref.quiz.checker_data import COMPILED, compile_data, render

    assert COMPILED.read_text(encoding="utf-8") == render(compile_data()), (
        "run: python mlcycle_ref/quiz/checker_data.py")


def test_a_word_of_the_rubric_is_no_typing_slip_for_another():
    impute = Point("imputation", ("[impute|imputation]",))
    inputs = Point("inputs for the model", ("input model",))
    assert made("Imputaton fills the gaps.", [impute]) == (True,)
    assert made("Clean inputs help the model.", [impute]) == (True,)  # a slip, on its own
    assert made("Clean inputs help the model.", [impute, inputs]) == (False, True)


def test_an_ordered_phrasing_reads_one_clause_in_its_written_order():
    backwards = Point("text becomes numbers", ("[text|category] [number]",),
                      contradictions=("> [number] [text]",))
    assert analyse_answer("It turns numbers into text.", "", [backwards]).contradicted == (True,)
    right = analyse_answer("It turns text into numbers.", "", [backwards])
    assert right.made == (True,) and right.contradicted == (False,)
    apart = analyse_answer("Numeric columns stay, text columns become numbers.", "", [backwards])
    assert apart.made == (True,) and apart.contradicted == (False,)


def test_rewritten_phrases_deny_nothing_and_read_as_one_word():
    assert "no" not in normalise("separate yes/no columns").split()
    assert normalise("the model learns it by itself").split()[-1] == "automatically"
    assert normalise("data disjoint from the training set").split()[1] == "not"


def test_a_critique_word_inside_the_opposite_claim_does_not_excuse_it():
    drop = Point("drop useless features", ("drop useless feature",),
                 contradictions=("> drop feature [mistake|always]",))
    claim = analyse_answer("Dropping features is a mistake.", "", [drop])
    assert claim.contradicted == (True,)
    compared = analyse_answer("Quicker than training from scratch.", "",
                              [Point("quick", ("quick",), contradictions=("train scratch",))])
    assert compared.contradicted == (False,) and compared.made == (True,)
    skipped = analyse_answer("You skip training from scratch, it is quick.", "",
                             [Point("quick", ("quick",), contradictions=("train scratch",))])
    assert skipped.contradicted == (False,)
