"""Tests for mlcycle_ref.evaluate: metrics, held-out evaluation, confusion matrix, comparison."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import Ridge

from mlcycle_ref import data, evaluate, models


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def penguins_split():
    dataset = data.load("penguins")
    train, _, test = data.split(dataset.frame, dataset.target, seed=0, task="multiclass")
    return train, test, dataset.target


def test_binary_metrics_score_the_positive_class():
    # Labels sort to ("no", "yes"): "yes" is positive. 2 true positives, 1 false
    # positive, 1 false negative, 2 true negatives.
    y_true = ["yes", "yes", "yes", "no", "no", "no"]
    y_pred = ["yes", "yes", "no", "yes", "no", "no"]
    result = evaluate.metrics(y_true, y_pred, task="binary")
    assert result == pytest.approx(
        {"accuracy": 4 / 6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_binary_scores_accept_one_column_or_two():
    y_true = [0, 0, 1, 1, 1]
    y_pred = [0, 1, 1, 1, 0]
    positive = np.array([0.1, 0.6, 0.8, 0.7, 0.3])
    one = evaluate.metrics(y_true, y_pred, task="binary", y_score=positive)
    two = evaluate.metrics(
        y_true, y_pred, task="binary", y_score=np.column_stack([1 - positive, positive]))
    assert one == pytest.approx(two)
    # Pairs (positive, negative) ranked correctly: 0.8 and 0.7 beat both negatives,
    # 0.3 beats 0.1 only -> 5 of 6.
    assert one["roc_auc"] == pytest.approx(5 / 6)
    expected_loss = -np.mean(np.log([0.9, 0.4, 0.8, 0.7, 0.3]))
    assert one["log_loss"] == pytest.approx(expected_loss)


def test_multiclass_metrics_average_classes_equally():
    y_true = ["a", "a", "a", "a", "b", "c"]
    y_pred = ["a", "a", "a", "a", "c", "c"]
    result = evaluate.metrics(y_true, y_pred, task="multiclass")
    # Recall per class: a 1, b 0, c 1 -> macro 2/3 although 5 of 6 rows are right.
    assert result["accuracy"] == pytest.approx(5 / 6)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["precision"] == pytest.approx((1 + 0 + 0.5) / 3)


def test_multiclass_scores_add_one_vs_rest_auc_and_log_loss():
    y_true = ["a", "b", "c", "a"]
    y_score = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    result = evaluate.metrics(y_true, ["a", "b", "c", "a"], task="multiclass", y_score=y_score)
    assert result["roc_auc"] == pytest.approx(1.0)
    assert result["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.7, 0.6])))


def test_regression_metrics():
    result = evaluate.metrics([3.0, 5.0, 7.0, 9.0], [4.0, 5.0, 7.0, 6.0], task="regression")
    assert result["rmse"] == pytest.approx(math.sqrt((1 + 9) / 4))
    assert result["mae"] == pytest.approx(1.0)
    assert result["r2"] == pytest.approx(1 - 10 / 20)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 1, 1], "y_pred": [0, 1], "task": "binary"}, "length"),
        ({"y_true": [], "y_pred": [], "task": "binary"}, "empty"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "task": "ranking"}, "'ranking'.*regression"),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "task": "binary"}, "at most 2 labels"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "task": "binary", "y_score": np.ones((2, 3)) / 3},
         r"shape \(n,\) or \(n, 2\)"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "task": "binary", "y_score": [0.3, 0.6, 0.2]},
         "3 rows"),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "task": "multiclass",
          "y_score": np.ones((3, 2)) / 2}, "one column per label"),
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "task": "multiclass",
          "y_score": np.ones((3, 3))}, "sum to 1"),
        ({"y_true": [1.0, 2.0], "y_pred": [1.0, 2.0], "task": "regression",
          "y_score": [0.5, 0.5]}, "classification only"),
    ],
)
def test_metrics_reject_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate.metrics(**kwargs)


def test_evaluate_scores_a_fitted_pipeline_on_held_out_data(penguins_split):
    train, test, target = penguins_split
    pipe = models.make_pipeline("linear", train, target, "multiclass")
    pipe.fit(train.drop(columns=target), train[target])
    result = evaluate.evaluate(pipe, test, target, task="multiclass")
    assert set(result) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    predictions = pipe.predict(test.drop(columns=target))
    assert result["accuracy"] == pytest.approx((predictions == test[target].to_numpy()).mean())
    assert result["accuracy"] > 0.9


def test_evaluate_without_probabilities_and_for_regression():
    frame = pd.DataFrame({"x": np.arange(20.0), "y": 2 * np.arange(20.0) + 1})
    model = Ridge(alpha=1e-6).fit(frame[["x"]], frame["y"])
    result = evaluate.evaluate(model, frame, "y", task="regression")
    assert set(result) == {"rmse", "mae", "r2"}
    assert result["r2"] == pytest.approx(1.0)


def test_evaluate_names_a_missing_target(penguins_split):
    _, test, _ = penguins_split
    with pytest.raises(ValueError, match="'label'"):
        evaluate.evaluate(None, test, "label", task="multiclass")


def test_confusion_matrix_is_labelled_and_keeps_absent_classes():
    table = evaluate.confusion_matrix(["a", "b", "b", "a"], ["a", "b", "a", "a"],
                                      labels=["b", "a", "c"])
    assert list(table.index) == ["b", "a", "c"]
    assert list(table.columns) == ["b", "a", "c"]
    assert (table.index.name, table.columns.name) == ("true", "predicted")
    assert table.loc["b", "a"] == 1
    assert table.loc["a", "a"] == 2
    assert table.loc["c"].sum() == 0
    assert table.to_numpy().sum() == 4
    with pytest.raises(ValueError, match="length"):
        evaluate.confusion_matrix([1, 2], [1])


def _cell_texts(fig: Figure) -> list[str]:
    return [text.get_text() for text in fig.axes[0].texts]


def test_plot_confusion_matrix_writes_counts_or_shares():
    y_true = [0, 0, 0, 1]
    y_pred = [0, 0, 1, 1]
    counts = evaluate.plot_confusion_matrix(y_true, y_pred)
    assert isinstance(counts, Figure)
    assert _cell_texts(counts) == ["2", "1", "0", "1"]
    shares = evaluate.plot_confusion_matrix(y_true, y_pred, labels=[0, 1, 2], normalize=True)
    # A class nobody belongs to gets a row of zeros rather than a division by zero.
    assert _cell_texts(shares) == ["0.67", "0.33", "0.00", "0.00", "1.00", "0.00",
                                   "0.00", "0.00", "0.00"]
    assert "normalized" in shares.axes[0].get_title()


def test_compare_sorts_by_the_main_metric():
    classification = {
        "linear": {"accuracy": 0.90, "roc_auc": 0.95},
        "xgboost": {"accuracy": 0.92, "roc_auc": 0.99},
        "forest": {"accuracy": 0.94, "roc_auc": 0.97},
    }
    assert list(evaluate.compare(classification).index) == ["xgboost", "forest", "linear"]
    assert list(evaluate.compare(classification, by="accuracy").index) == [
        "forest", "xgboost", "linear"]
    without_auc = {name: {"accuracy": m["accuracy"]} for name, m in classification.items()}
    assert list(evaluate.compare(without_auc).index) == ["forest", "xgboost", "linear"]
    regression = {"a": {"rmse": 3.0, "r2": 0.1}, "b": {"rmse": 1.0, "r2": 0.8}}
    table = evaluate.compare(regression)
    assert list(table.index) == ["b", "a"]
    assert table.index.name == "model"
    assert list(table.columns) == ["rmse", "r2"]


def test_compare_sorts_losses_ascending_when_asked():
    results = {"a": {"accuracy": 0.9, "log_loss": 0.2}, "b": {"accuracy": 0.8, "log_loss": 0.1}}
    assert list(evaluate.compare(results, by="log_loss").index) == ["b", "a"]


@pytest.mark.parametrize(
    ("results", "by", "message"),
    [({}, None, "empty"), ({"a": {"f1": 0.5}}, None, "main metrics"),
     ({"a": {"f1": 0.5}}, "mae", "'mae'")],
)
def test_compare_rejects_unusable_results(results, by, message):
    with pytest.raises(ValueError, match=message):
        evaluate.compare(results, by=by)


def test_plot_roc_curve_draws_each_model_with_its_auc():
    y_true = ["no", "no", "yes", "yes"]
    fig = evaluate.plot_roc_curve(
        y_true, {"good": [0.1, 0.2, 0.8, 0.9], "poor": np.array([[0.4, 0.6], [0.6, 0.4],
                                                                  [0.5, 0.5], [0.7, 0.3]])})
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert legend == ["good (AUC 1.00)", "poor (AUC 0.25)", "chance"]
    with pytest.raises(ValueError, match="exactly 2 classes"):
        evaluate.plot_roc_curve([0, 1, 2], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="'short'"):
        evaluate.plot_roc_curve([0, 1, 1], {"short": [0.2, 0.5]})


def test_plot_learning_curve_shows_training_and_validation(penguins_split):
    train, _, target = penguins_split
    pipe = models.make_pipeline("linear", train, target, "multiclass")
    fig = evaluate.plot_learning_curve(pipe, train, target, task="multiclass",
                                       sizes=(0.3, 1.0), folds=3)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
    assert ax.get_ylabel() == "accuracy"
    validation = ax.get_lines()[1].get_ydata()
    assert 0.8 < validation[-1] <= 1.0
