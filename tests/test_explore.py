"""Exploration: profile, missing values, correlations, target association and plots."""

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from scipy.stats import pointbiserialr
from scipy.stats.contingency import association
from sklearn.datasets import load_diabetes, load_wine

from mlcycle_ref.data import DataError, campaign_truth, load, simulate_campaign
from mlcycle_ref.explore import (
    correlated_pairs,
    correlations,
    feature_kind,
    missing_report,
    mutual_information,
    plot_correlation_heatmap,
    plot_distributions,
    plot_target_association,
    profile,
    target_association,
)


@pytest.fixture(scope="module")
def campaign():
    return simulate_campaign(50_000, seed=0)


@pytest.fixture(scope="module")
def campaign_ranking(campaign):
    return target_association(campaign, "subscribed", seed=0)


def signal_frame(n=2_000, seed=0):
    """Two features that drive a binary target, two that do not, with some gaps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "signal_num": y * 1.5 + rng.normal(size=n),
            "signal_cat": np.where(rng.random(n) < 0.7, np.where(y == 1, "hi", "lo"), "mid"),
            "noise_num": rng.normal(size=n),
            "noise_cat": rng.choice(["a", "b", "c"], n),
            "y": y,
        }
    )
    frame.loc[::25, "signal_num"] = np.nan
    frame.loc[::30, "noise_cat"] = None
    return frame


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([1.0, np.nan, 3.5]), "numeric"),
        (pd.Series([1, 2, 3], dtype="Int64"), "numeric"),
        (pd.Series(["a", None, "b"], dtype="str"), "categorical"),
        (pd.Series(["a", "b"], dtype="category"), "categorical"),
        (pd.Series([1, "two", None], dtype=object), "categorical"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series([np.nan, np.nan]), "empty"),
        (pd.Series([None, None], dtype="str"), "empty"),
    ],
)
def test_feature_kind(values, expected):
    assert feature_kind(values) == expected


def test_profile_summarises_every_column():
    frame = pd.DataFrame(
        {
            "pdays": [999, 3, 999, np.nan],
            "job": pd.Series(["chef", "chef", None, "admin"], dtype="str"),
            "grade": pd.Categorical(["a", "b", "b", "b"]),
            "flag": [True, False, True, True],
        }
    )
    result = profile(frame)
    assert list(result.index) == ["pdays", "job", "grade", "flag"]
    assert list(result.columns) == [
        "dtype",
        "kind",
        "missing_share",
        "n_unique",
        "mean",
        "std",
        "min",
        "max",
        "top",
    ]
    assert result["kind"].tolist() == ["numeric", "categorical", "categorical", "boolean"]
    assert result.loc["pdays", "dtype"] == "float64" and result.loc["job", "dtype"] == "str"
    assert result["missing_share"].tolist() == [0.25, 0.25, 0.0, 0.0]
    assert result["n_unique"].tolist() == [2, 2, 2, 2]
    assert result.loc["pdays", "mean"] == pytest.approx(667.0)
    assert (result.loc["pdays", "min"], result.loc["pdays", "max"]) == (3.0, 999.0)
    assert result.loc["pdays", "top"] == 999 and result.loc["grade", "top"] == "b"
    assert result.loc[["job", "grade", "flag"], ["mean", "std", "min", "max"]].isna().all().all()


def test_profile_of_empty_column_has_no_statistics():
    result = profile(pd.DataFrame({"gone": [np.nan, np.nan], "x": [1, 2]}))
    assert result.loc["gone", "kind"] == "empty"
    assert result.loc["gone", "missing_share"] == 1.0
    assert pd.isna(result.loc["gone", "top"]) and pd.isna(result.loc["gone", "mean"])


def test_missing_report_counts_gaps_sentinels_and_tokens():
    frame = pd.DataFrame(
        {
            "pdays": [999, 3, 999, 5, 999],
            "job": pd.Series(["admin", "Unknown", None, " unknown ", "chef"], dtype="str"),
            "contact": pd.Categorical(["cell", "unknown", "cell", "cell", "cell"]),
            "age": [30.0, np.nan, 41.0, 52.0, 60.0],
            "complete": [1, 2, 3, 4, 5],
        }
    )
    report = missing_report(frame, sentinels={"pdays": 999})
    assert list(report.index) == ["pdays", "job", "contact", "age"]
    assert report.loc["pdays", ["n_missing", "n_sentinel"]].tolist() == [0, 3]
    assert report.loc["job", ["n_missing", "n_sentinel"]].tolist() == [1, 2]
    assert report.loc["contact", "n_sentinel"] == 1 and report.loc["age", "n_missing"] == 1
    assert report.loc["pdays", "share"] == pytest.approx(0.6)
    assert report.loc["job", ["missing_share", "sentinel_share"]].tolist() == [0.2, 0.4]
    assert report.loc["pdays", "sentinel_values"] == "999"
    assert report["share"].is_monotonic_decreasing


def test_missing_report_accepts_several_sentinels_and_no_tokens():
    frame = pd.DataFrame({"code": [-1, 0, -9, 4], "job": ["unknown", "chef", "chef", "chef"]})
    report = missing_report(frame, sentinels={"code": [-1, -9]}, tokens=())
    assert list(report.index) == ["code"] and report.loc["code", "n_sentinel"] == 2
    assert report.loc["code", "sentinel_values"] == "-1, -9"


def test_missing_report_on_clean_data_is_empty_with_columns():
    report = missing_report(pd.DataFrame({"x": [1, 2]}))
    assert report.empty and "share" in report.columns


def test_missing_report_rejects_unknown_sentinel_column():
    with pytest.raises(DataError, match="no column 'pday'.*pdays"):
        missing_report(pd.DataFrame({"pdays": [1]}), sentinels={"pday": 999})


def test_missing_report_on_campaign_matches_ground_truth(campaign):
    truth = campaign_truth()
    report = missing_report(campaign, sentinels=truth.sentinels)
    assert set(truth.sentinels) <= set(report.index)
    assert report.loc["pdays", "n_sentinel"] == (campaign["pdays"] == 999).sum()
    assert report.loc["contact", "n_sentinel"] == (campaign["contact"] == "unknown").sum()
    assert report.loc["age", "n_missing"] == campaign["age"].isna().sum() > 0
    assert "noise_1" not in report.index


def test_correlations_use_numeric_columns_only():
    wine = load_wine(as_frame=True).frame.assign(label=lambda f: f["target"].astype("str"))
    matrix = correlations(wine)
    assert "label" not in matrix.columns and matrix.shape == (14, 14)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T)
    spearman = correlations(wine, method="spearman")
    assert spearman.loc["alcohol", "proline"] != pytest.approx(matrix.loc["alcohol", "proline"])


def test_correlations_reject_bad_method_and_too_few_columns():
    with pytest.raises(ValueError, match="method must be one of"):
        correlations(pd.DataFrame({"x": [1, 2], "y": [2, 1]}), method="cosine")
    with pytest.raises(ValueError, match="two numeric columns, found 1"):
        correlations(pd.DataFrame({"x": [1, 2], "job": ["a", "b"]}))


def test_correlated_pairs_finds_strong_pairs_of_either_sign():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    frame = pd.DataFrame(
        {
            "x": x,
            "copy": 2 * x + rng.normal(0, 0.01, 500),
            "mirror": -x + rng.normal(0, 0.05, 500),
            "other": rng.normal(size=500),
        }
    )
    pairs = correlated_pairs(frame, threshold=0.9)
    assert list(pairs.columns) == ["column_a", "column_b", "correlation"]
    assert {frozenset(p) for p in zip(pairs["column_a"], pairs["column_b"], strict=True)} == {
        frozenset({"x", "copy"}),
        frozenset({"x", "mirror"}),
        frozenset({"copy", "mirror"}),
    }
    assert (pairs["correlation"].abs() >= 0.9).all()
    assert pairs["correlation"].abs().is_monotonic_decreasing
    assert (pairs.loc[pairs["column_b"] == "mirror", "correlation"] < 0).all()
    assert correlated_pairs(frame, threshold=0.9999)["column_b"].tolist() == ["copy"]
    with pytest.raises(ValueError, match="threshold"):
        correlated_pairs(frame, threshold=1.5)


def test_campaign_duplicates_show_up_as_correlated_pairs(campaign):
    pairs = correlated_pairs(campaign, threshold=0.95)
    found = set(zip(pairs["column_a"], pairs["column_b"], strict=True))
    for copy, original in campaign_truth().duplicates.items():
        assert (original, copy) in found or (copy, original) in found


def test_target_association_ranks_signal_above_noise():
    ranking = target_association(signal_frame(), "y", seed=0)
    assert list(ranking.columns) == [
        "feature",
        "kind",
        "mutual_information",
        "statistic",
        "statistic_name",
    ]
    assert set(ranking["feature"].head(2)) == {"signal_num", "signal_cat"}
    assert ranking["mutual_information"].is_monotonic_decreasing
    named = ranking.set_index("feature")["statistic_name"]
    assert named["signal_num"] == "point_biserial" and named["signal_cat"] == "cramers_v"


def test_target_association_is_reproducible_with_its_seed():
    frame = signal_frame()
    first = target_association(frame, "y", seed=3)
    pd.testing.assert_frame_equal(first, target_association(frame, "y", seed=3))


def test_target_association_statistics_match_scipy():
    frame = signal_frame().dropna()
    ranking = target_association(frame, "y").set_index("feature")["statistic"]
    expected = pointbiserialr(frame["y"], frame["signal_num"]).statistic
    assert ranking["signal_num"] == pytest.approx(expected)
    table = pd.crosstab(frame["signal_cat"], frame["y"]).to_numpy()
    assert ranking["signal_cat"] == pytest.approx(association(table, method="cramer"))


def test_target_association_for_multiclass_uses_correlation_ratio():
    wine = load_wine(as_frame=True).frame
    ranking = target_association(wine, "target").set_index("feature")
    assert (ranking["statistic_name"] == "correlation_ratio").all()
    # eta squared is the R^2 of predicting the feature from its class means.
    means = wine.groupby("target")["proline"].transform("mean")
    proline = wine["proline"]
    r2 = 1 - ((proline - means) ** 2).sum() / ((proline - proline.mean()) ** 2).sum()
    assert ranking.loc["proline", "statistic"] == pytest.approx(np.sqrt(r2))


def test_target_association_for_regression():
    diabetes = load_diabetes(as_frame=True).frame
    diabetes["sex_label"] = np.where(diabetes["sex"] > 0, "m", "f")
    ranking = target_association(diabetes, "target").set_index("feature")
    assert ranking.loc["bmi", "statistic_name"] == "pearson"
    expected = diabetes["bmi"].corr(diabetes["target"])
    assert ranking.loc["bmi", "statistic"] == pytest.approx(expected)
    assert ranking.loc["sex_label", "statistic_name"] == "correlation_ratio"
    assert ranking["mutual_information"].idxmax() in {"bmi", "s5"}


def test_target_association_treats_missing_as_a_level_and_skips_missing_targets():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1_000)
    frame = pd.DataFrame(
        {
            # Only missingness carries the signal here.
            "hint": pd.Series(np.where(y == 1, None, "seen"), dtype="str"),
            "noise": rng.normal(size=1_000),
            "y": y.astype(float),
        }
    )
    frame.loc[:49, "y"] = np.nan
    ranking = target_association(frame, "y").set_index("feature")
    assert ranking.index[0] == "hint"
    assert ranking.loc["hint", "mutual_information"] > 0.5
    assert ranking.loc["hint", "statistic"] == pytest.approx(1.0)


def test_target_association_handles_empty_and_constant_columns():
    frame = signal_frame().assign(gone=np.nan, flat=1.0)
    ranking = target_association(frame, "y").set_index("feature")
    assert ranking.loc["gone", ["kind", "statistic_name"]].tolist() == ["empty", "none"]
    assert ranking.loc["gone", "mutual_information"] == 0
    assert np.isnan(ranking.loc["flat", "statistic"])


def test_target_association_names_a_wrong_target():
    with pytest.raises(DataError, match=r"no column 'subscribe'.*did you mean 'subscribed'.*age"):
        target_association(pd.DataFrame({"age": [1, 2], "subscribed": [0, 1]}), "subscribe")


def test_mutual_information_works_on_string_labels():
    penguins = load("penguins")
    scores = mutual_information(penguins.features, penguins.labels, seed=0)
    assert scores.index[0] in {"flipper_length_mm", "bill_length_mm"}
    assert scores.loc["year"] < 0.05


def test_every_campaign_driver_outranks_every_noise_column(campaign_ranking):
    truth = campaign_truth()
    scores = campaign_ranking.set_index("feature")["mutual_information"]
    # Leaks and near-copies are left out: they are strong by construction, not drivers.
    assert set(truth.leaks) | set(truth.duplicates) <= set(scores.index)
    weakest_driver = scores[list(truth.drivers)].min()
    strongest_noise = scores[list(truth.noise)].max()
    assert weakest_driver > strongest_noise, (
        scores[list(truth.drivers)].idxmin(),
        scores[list(truth.noise)].idxmax(),
    )


def test_leak_tops_the_campaign_ranking(campaign_ranking):
    assert campaign_ranking.loc[0, "feature"] in campaign_truth().leaks


# ----------------------------------------------------------------------------- plots


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "plot functions must not register figures with pyplot"


def test_plot_distributions_without_target():
    penguins = load("penguins").frame
    figure = plot_distributions(penguins)
    assert isinstance(figure, Figure)
    # A notebook can draw it even when pyplot was never set up in the kernel.
    assert figure._repr_png_().startswith(b"\x89PNG")
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == list(penguins.columns)
    assert figure.get_suptitle() == "Distributions"
    assert all(ax.get_xlabel() and ax.get_ylabel() == "count" for ax in axes)


def test_plot_distributions_split_by_target():
    penguins = load("penguins").frame
    figure = plot_distributions(penguins, ["bill_length_mm", "island"], target="species")
    numeric, categorical = figure.axes
    assert figure.get_suptitle() == "Distributions by species"
    assert numeric.get_ylabel() == "density" and categorical.get_ylabel() == "share within class"
    species = sorted(penguins["species"].unique())
    assert [t.get_text() for t in numeric.get_legend().get_texts()] == species
    assert len(numeric.containers) == 3  # one overlaid histogram per species
    assert len(categorical.patches) == 3 * penguins["island"].nunique()  # grouped bars
    assert [t.get_text() for t in categorical.get_xticklabels()] == list(
        penguins["island"].value_counts().index
    )


def test_plot_distributions_limits_and_labels_missing():
    frame = signal_frame().assign(gone=np.nan)
    figure = plot_distributions(frame, max_columns=2)
    drawn = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert drawn == ["signal_num", "signal_cat"]
    figure = plot_distributions(frame, ["noise_cat", "gone"])
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert "(missing)" in labels
    assert figure.axes[1].texts[0].get_text() == "all values missing"


def test_plot_distributions_rejects_bad_requests():
    diabetes = load_diabetes(as_frame=True).frame
    with pytest.raises(ValueError, match="target 'target' has .* levels"):
        plot_distributions(diabetes, ["bmi"], target="target")
    with pytest.raises(DataError, match="no column 'bmx'"):
        plot_distributions(diabetes, ["bmx"])


def test_correlation_heatmap_is_annotated_when_small():
    diabetes = load_diabetes(as_frame=True).frame
    figure = plot_correlation_heatmap(diabetes, method="spearman")
    heatmap = figure.axes[0]
    assert heatmap.get_title() == "Spearman correlation of numeric columns"
    assert len(heatmap.texts) == diabetes.shape[1] ** 2
    assert [t.get_text() for t in heatmap.get_xticklabels()] == list(diabetes.columns)
    assert figure.axes[1].get_ylabel() == "spearman correlation"  # the colour bar
    wide = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 20)))
    assert len(plot_correlation_heatmap(wide).axes[0].texts) == 0


def test_plot_target_association_draws_ranked_horizontal_bars():
    ranking = target_association(signal_frame(), "y")
    figure = plot_target_association(ranking)
    ax = figure.axes[0]
    assert ax.get_title() and ax.get_xlabel().startswith("mutual information")
    assert len(ax.patches) == len(ranking)
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == sorted(widths)  # barh draws bottom up: the strongest ends on top
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == ranking.loc[0, "feature"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"numeric", "categorical"}


def test_plot_target_association_rejects_other_frames():
    with pytest.raises(ValueError, match="output of target_association"):
        plot_target_association(pd.DataFrame({"feature": ["x"], "score": [1.0]}))
