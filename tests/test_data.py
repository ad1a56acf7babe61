"""Data: named datasets, CSV loading, task inference, splits and the campaign simulator."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, mannwhitneyu
from sklearn.metrics import roc_auc_score
from xgboost import XGBClassifier

from mlcycle_ref.data import (
    DATASETS,
    CampaignTruth,
    DataError,
    Dataset,
    Split,
    campaign_truth,
    from_csv,
    infer_task,
    load,
    simulate_campaign,
    split,
)


@pytest.fixture(scope="module")
def campaign():
    return simulate_campaign(50_000, seed=0)


# ----------------------------------------------------------------------------- load


@pytest.mark.parametrize(
    ("name", "target", "task", "n_rows"),
    [
        ("penguins", "species", "multiclass", 344),
        ("breast_cancer", "target", "binary", 569),
        ("wine", "target", "multiclass", 178),
        ("diabetes", "target", "regression", 442),
        ("campaign", "subscribed", "binary", 10_000),
    ],
)
def test_load_gives_a_documented_dataset(name, target, task, n_rows):
    dataset = load(name)
    assert isinstance(dataset, Dataset)
    assert (dataset.name, dataset.target, dataset.task) == (name, target, task)
    assert len(dataset.frame) == n_rows
    assert dataset.labels.name == target and dataset.labels.notna().all()
    assert target not in dataset.features.columns
    assert dataset.features.shape[1] == dataset.frame.shape[1] - 1
    for text in (dataset.description, dataset.source, dataset.license):
        assert isinstance(text, str) and len(text) > 10


def test_load_covers_every_listed_name_and_cites_licenses():
    assert set(DATASETS) == {"penguins", "breast_cancer", "wine", "diabetes", "campaign"}
    assert "CC0" in load("penguins").license
    assert "UCI" in load("wine").source and "CC BY 4.0" in load("breast_cancer").license


def test_load_passes_size_and_seed_to_the_campaign():
    small = load("campaign", n_rows=300, seed=4)
    pd.testing.assert_frame_equal(small.frame, simulate_campaign(300, seed=4))


def test_load_rejects_an_unknown_name_listing_the_choices():
    with pytest.raises(DataError, match=r"'pengiuns'.*did you mean 'penguins'.*breast_cancer"):
        load("pengiuns")
    with pytest.raises(DataError, match="available: penguins, breast_cancer, wine"):
        load("iris")


# ----------------------------------------------------------------------------- from_csv


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_from_csv_detects_the_separator(tmp_path, sep):
    rows = ["size,colour,kind", "1.5,red,a", "2.5,blue,b", "0.5,red,a"]
    path = write(tmp_path, "\n".join(row.replace(",", sep) for row in rows) + "\n")
    dataset = from_csv(path, target="kind")
    assert list(dataset.frame.columns) == ["size", "colour", "kind"]
    assert dataset.frame["size"].tolist() == [1.5, 2.5, 0.5]
    assert (dataset.name, dataset.target, dataset.task) == ("data", "kind", "binary")
    assert str(path.name) in dataset.description and dataset.license


def test_from_csv_uses_a_given_separator_and_task(tmp_path):
    path = write(tmp_path, "x;y\n1;0\n2;1\n3;2\n4;1\n")
    assert from_csv(path, target="y", sep=";").task == "multiclass"
    assert from_csv(path, target="y", sep=";", task="regression").task == "regression"


def test_from_csv_keeps_rows_with_a_missing_target(tmp_path):
    dataset = from_csv(write(tmp_path, "x,y\n1,0\n2,\n3,1\n"), target="y")
    assert len(dataset.frame) == 3 and dataset.task == "binary"


def test_from_csv_reports_a_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nowhere\.csv: no such file"):
        from_csv(tmp_path / "nowhere.csv", target="y")


@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_from_csv_reports_an_empty_file(tmp_path, text):
    with pytest.raises(DataError, match=r"data\.csv: the file is empty"):
        from_csv(write(tmp_path, text), target="y")


def test_from_csv_names_a_missing_target_and_suggests_a_near_match(tmp_path):
    path = write(tmp_path, "bill,species\n1,a\n2,b\n")
    with pytest.raises(DataError, match=r"'specie'.*did you mean 'species'.*found: bill, species"):
        from_csv(path, target="specie")
    with pytest.raises(DataError, match=r"no column 'Species'.*did you mean 'species'"):
        from_csv(path, target="Species")


def test_from_csv_reports_an_unparseable_file(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv: not readable as CSV.*Expected 3 fields"):
        from_csv(write(tmp_path, "a,b,y\n1,2,0\n1,2,3,4\n"), target="y")
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\xff\xfe\x00\x01")
    with pytest.raises(DataError, match=r"image\.csv: not a UTF-8 text file"):
        from_csv(binary, target="y")


def test_from_csv_suspects_the_separator_when_one_column_comes_out(tmp_path):
    path = write(tmp_path, "a b y\n1 2 0\n3 4 1\n")
    with pytest.raises(DataError, match=r"single column 'a b y'.*separator.*sep="):
        from_csv(path, target="y")
    with pytest.raises(DataError, match=r"no column 'y'.*columns found: a b y"):
        from_csv(path, target="y", sep=",")


def test_from_csv_refuses_a_single_class_or_an_empty_target(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv: target 'y': only one value"):
        from_csv(write(tmp_path, "x,y\n1,a\n2,a\n"), target="y")
    with pytest.raises(DataError, match=r"data\.csv: target 'y': every value is missing"):
        from_csv(write(tmp_path, "x,y\n1,\n2,\n"), target="y")


def test_from_csv_checks_a_given_task(tmp_path):
    path = write(tmp_path, "x,y\n1,a\n2,b\n3,c\n")
    with pytest.raises(DataError, match="task must be one of binary, multiclass, regression"):
        from_csv(path, target="y", task="classification")
    with pytest.raises(DataError, match="'binary' needs 2 classes, found 3"):
        from_csv(path, target="y", task="binary")
    with pytest.raises(DataError, match="'regression' needs numbers"):
        from_csv(path, target="y", task="regression")


# ----------------------------------------------------------------------------- infer_task


@pytest.mark.parametrize(
    ("labels", "task"),
    [
        (pd.Series([True, False, True]), "binary"),
        (pd.Series(["yes", "no", None], dtype="str"), "binary"),
        (pd.Series(["a", "b", "c"], dtype="category"), "multiclass"),
        (pd.Series([0, 1, 1, 0]), "binary"),
        (pd.Series([3, 1, 2, 2]), "multiclass"),
        (pd.Series(range(20)), "multiclass"),
        (pd.Series(range(21)), "regression"),
        (pd.Series([0.0, 1.0, np.nan, 1.0]), "binary"),
        (pd.Series([0.5, 1.0, 2.0]), "regression"),
        (pd.Series(np.linspace(0, 1, 50)), "regression"),
    ],
)
def test_infer_task_follows_the_documented_rule(labels, task):
    assert infer_task(labels) == task


def test_infer_task_rejects_targets_with_nothing_to_learn():
    with pytest.raises(DataError, match="target 'y': only one value"):
        infer_task(pd.Series([1, 1, 1], name="y"))
    with pytest.raises(DataError, match="every value is missing"):
        infer_task(pd.Series([np.nan, np.nan]))
    with pytest.raises(DataError, match="dtype datetime64"):
        infer_task(pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"])))


# ----------------------------------------------------------------------------- split


def assert_partition(parts, frame):
    indexes = [part.index for part in parts]
    assert sum(len(index) for index in indexes) == len(frame)
    assert set().union(*indexes) == set(frame.index)
    for part in parts:
        assert list(part.columns) == list(frame.columns)
        pd.testing.assert_frame_equal(part, frame.loc[part.index])


@pytest.mark.parametrize(
    ("n_rows", "fractions", "sizes"),
    [
        (10, (0.7, 0.2, 0.1), (7, 2, 1)),
        (1_000, (0.7, 0.2, 0.1), (700, 200, 100)),
        # 15 * 0.1 = 1.5 and 25 * 0.1 = 2.5: Python's round sends halves to the even number.
        (15, (0.7, 0.2, 0.1), (10, 3, 2)),
        (25, (0.7, 0.2, 0.1), (18, 5, 2)),
        (33, (0.5, 0.25, 0.25), (17, 8, 8)),
    ],
)
def test_split_sizes_follow_the_documented_rounding(n_rows, fractions, sizes):
    frame = pd.DataFrame({"x": np.arange(n_rows, dtype=float) / 7})
    frame["y"] = frame["x"] * 2.5
    parts = split(frame, "y", fractions, seed=0)
    assert tuple(len(part) for part in parts) == sizes
    assert_partition(parts, frame)


def test_split_stratifies_classes_across_the_three_parts(campaign):
    frame = campaign.iloc[:10_000].set_index(np.arange(10_000) * 3 + 5)
    parts = split(frame, "subscribed", seed=1)
    assert isinstance(parts, Split)
    assert_partition(parts, frame)
    overall = frame["subscribed"].mean()
    for part in parts:
        assert part["subscribed"].mean() == pytest.approx(overall, abs=0.01)


def test_split_stratifies_string_classes():
    penguins = load("penguins")
    train, validation, test = split(penguins.frame, "species", seed=0)
    shares = penguins.labels.value_counts(normalize=True)
    for part in (train, validation, test):
        part_shares = part["species"].value_counts(normalize=True)
        assert (part_shares - shares).abs().max() < 0.02


def test_split_is_random_but_reproducible_for_regression():
    diabetes = load("diabetes")
    first = split(diabetes.frame, "target", seed=0)
    again = split(diabetes.frame, "target", seed=0)
    other = split(diabetes.frame, "target", seed=1)
    assert_partition(first, diabetes.frame)
    for a, b in zip(first, again, strict=True):
        assert a.index.equals(b.index)
    assert not first.test.index.equals(other.test.index)
    assert not first.train.index.is_monotonic_increasing


@pytest.mark.parametrize(
    "fractions",
    [(0.8, 0.2), (0.7, 0.3, 0.0), (0.8, 0.3, -0.1), (0.7, 0.2, 0.2), (0.7, 0.2, float("nan")),
     ("a", "b", "c"), 0.7],
)
def test_split_rejects_bad_fractions_and_names_them(fractions):
    frame = pd.DataFrame({"x": range(100), "y": [0, 1] * 50})
    with pytest.raises(DataError, match=r"split: fractions must be 3.*got"):
        split(frame, "y", fractions)


def test_split_accepts_fractions_within_the_tolerance():
    frame = pd.DataFrame({"x": range(100), "y": [0, 1] * 50})
    assert [len(p) for p in split(frame, "y", (0.7, 0.2, 0.1 + 1e-12))] == [70, 20, 10]


def test_split_refuses_too_few_rows_missing_targets_and_unknown_columns():
    frame = pd.DataFrame({"x": range(4), "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="4 rows are too few"):
        split(frame, "y")
    frame = pd.DataFrame({"x": range(20), "y": [0, 1, None, 1] * 5})
    with pytest.raises(DataError, match=r"target 'y' is missing in 5 rows.*dropna"):
        split(frame, "y")
    with pytest.raises(DataError, match=r"no column 'Y'.*did you mean 'y'"):
        split(frame, "Y")
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        split(frame.to_numpy(), "y")


def test_split_falls_back_to_random_when_a_class_is_too_small():
    frame = pd.DataFrame({"x": range(40), "y": ["common"] * 39 + ["rare"]})
    with pytest.warns(UserWarning, match="cannot stratify on 'y'.*at random"):
        parts = split(frame, "y", seed=0)
    assert_partition(parts, frame)


# ----------------------------------------------------------------------------- simulator


def test_campaign_has_the_documented_columns_and_dtypes(campaign):
    truth = campaign_truth()
    named = set(truth.drivers) | set(truth.noise) | set(truth.leaks) | set(truth.duplicates)
    assert set(campaign.columns) == named | {"subscribed"}
    assert campaign["subscribed"].dtype == np.int64
    assert set(campaign["subscribed"].unique()) == {0, 1}
    for column in ("job", "marital", "education", "housing", "contact", "month", "poutcome"):
        assert pd.api.types.is_string_dtype(campaign[column].dtype), column
    assert set(campaign["month"].unique()) <= {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}


def test_campaign_is_deterministic_for_a_seed():
    first = simulate_campaign(2_000, seed=7)
    pd.testing.assert_frame_equal(first, simulate_campaign(2_000, seed=7))
    assert not first.equals(simulate_campaign(2_000, seed=8))
    assert not first.equals(simulate_campaign(2_000, seed=7, shift=True))


def test_campaign_positive_rate_is_about_eleven_percent(campaign):
    assert 0.09 <= campaign["subscribed"].mean() <= 0.13
    assert campaign_truth().positive_rate == pytest.approx(0.11)


def test_shifted_campaign_has_its_own_rate_and_effects():
    shifted = simulate_campaign(50_000, seed=0, shift=True)
    truth, base = campaign_truth(shift=True), campaign_truth()
    assert shifted["subscribed"].mean() == pytest.approx(truth.positive_rate, abs=0.01)
    assert truth.positive_rate > base.positive_rate + 0.03
    assert truth.drivers.keys() == base.drivers.keys()
    assert sum(truth.drivers[c] != base.drivers[c] for c in base.drivers) >= 8


def test_campaign_has_sentinels_unknown_tokens_and_missing_values(campaign):
    truth = campaign_truth()
    for column, value in truth.sentinels.items():
        assert (campaign[column] == value).mean() > 0.01, column
    never = campaign["pdays"] == 999
    assert (never == (campaign["previous"] == 0)).all()
    assert (never == (campaign["poutcome"] == "unknown")).all()
    assert campaign.loc[~never, "pdays"].max() < 999
    for column in ("age", "balance"):
        assert 0.01 < campaign[column].isna().mean() < 0.1, column


def test_campaign_balance_is_heavy_tailed(campaign):
    balance = campaign["balance"].dropna()
    assert balance.max() > 10 * balance.quantile(0.99)
    assert (balance < 0).any()
    assert balance.skew() > 5


def test_campaign_duplicates_are_near_copies(campaign):
    for copy, original in campaign_truth().duplicates.items():
        assert campaign[copy].corr(campaign[original]) > 0.95, copy
        assert not campaign[copy].equals(campaign[original])


def test_campaign_duration_leaks_the_outcome(campaign):
    auc = roc_auc_score(campaign["subscribed"], campaign["duration"])
    assert auc > 0.8


def test_campaign_noise_is_independent_of_the_target(campaign):
    positive = campaign["subscribed"] == 1
    for column in campaign_truth().noise:
        values = campaign[column]
        if pd.api.types.is_numeric_dtype(values):
            p_value = mannwhitneyu(values[positive], values[~positive]).pvalue
        else:
            p_value = chi2_contingency(pd.crosstab(values, positive)).pvalue
        # One fixed seed, so this cannot flake; a real effect would give p far below 0.001.
        assert p_value > 0.001, column


def test_campaign_drivers_change_the_outcome(campaign):
    rate = campaign.groupby("poutcome")["subscribed"].mean()
    assert rate["success"] > 3 * rate["unknown"]
    extreme = (campaign["age"] < 25) | (campaign["age"] >= 60)
    assert campaign.loc[extreme, "subscribed"].mean() > campaign["subscribed"].mean() + 0.03
    by_loan = campaign.groupby("loan")["subscribed"].mean()
    assert by_loan["yes"] < 0.7 * by_loan["no"]
    for driver in campaign_truth().drivers:
        values = campaign[driver]
        if pd.api.types.is_numeric_dtype(values):
            values = pd.qcut(values.rank(method="first"), 5)
        table = pd.crosstab(values, campaign["subscribed"])
        assert chi2_contingency(table).pvalue < 1e-20, driver


def test_campaign_rejects_a_bad_size():
    for n_rows in (0, -5, 2.5, True):
        with pytest.raises(DataError, match="n_rows must be a positive integer"):
            simulate_campaign(n_rows)


def test_campaign_truth_is_consistent():
    for shift in (False, True):
        truth = campaign_truth(shift=shift)
        assert isinstance(truth, CampaignTruth)
        roles = [set(truth.drivers), set(truth.noise), set(truth.leaks), set(truth.duplicates)]
        assert sum(len(r) for r in roles) == len(set().union(*roles))
        assert truth.leaks == ("duration",) and truth.sentinels["pdays"] == 999
        assert set(truth.duplicates.values()) <= set(truth.drivers)
        assert {"noise_1", "noise_2", "noise_3"} <= set(truth.noise)
        for low, high in (truth.auc_without_leak, truth.auc_with_leak):
            assert 0.5 < low < high < 1
        assert truth.auc_without_leak[1] < truth.auc_with_leak[0]


def test_gradient_boosting_lands_in_the_documented_auc_ranges(campaign):
    truth = campaign_truth()
    train, _, test = split(campaign, "subscribed", seed=0)

    def auc(drop):
        columns = [c for c in campaign.columns if c not in {"subscribed", *drop}]
        codes = {c: pd.CategoricalDtype(sorted(campaign[c].unique()))
                 for c in columns if pd.api.types.is_string_dtype(campaign[c].dtype)}
        model = XGBClassifier(n_estimators=100, enable_categorical=True, n_jobs=1, random_state=0)
        model.fit(train[columns].astype(codes), train["subscribed"])
        scores = model.predict_proba(test[columns].astype(codes))[:, 1]
        return roc_auc_score(test["subscribed"], scores)

    without_leak, with_leak = auc(truth.leaks), auc(())
    assert truth.auc_without_leak[0] <= without_leak <= truth.auc_without_leak[1]
    assert truth.auc_with_leak[0] <= with_leak <= truth.auc_with_leak[1]
