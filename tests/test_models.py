"""Tests for mlcycle_ref.models: registry, defaults, search spaces, estimators, pipelines."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import SkipTestWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import check_estimator

from mlcycle_ref import data, models
from mlcycle_ref.models import ALGORITHMS, LabelEncodedClassifier, Range

TASK_DATASETS = {"binary": "breast_cancer", "multiclass": "penguins", "regression": "diabetes"}


@pytest.fixture(scope="module")
def splits():
    """Train and test frames per task; penguins brings string labels and missing values."""
    result = {}
    for task, name in TASK_DATASETS.items():
        dataset = data.load(name)
        train, _, test = data.split(dataset.frame, dataset.target, seed=0, task=task)
        result[task] = (train, test, dataset.target)
    return result


def _inner(model):
    """The library estimator, looking through the label-encoding wrapper."""
    return model.estimator if isinstance(model, LabelEncodedClassifier) else model


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_defaults_are_applied_and_valid(algorithm, task):
    model = _inner(models.make_model(algorithm, task, seed=7))
    params = model.get_params()
    defaults = models.default_hyperparameters(algorithm, task)
    assert defaults, "every algorithm documents its defaults"
    for name, value in defaults.items():
        assert params[name] == value
    assert params["random_state"] == 7


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_tunable_ranges_name_real_parameters_and_contain_defaults(algorithm, task):
    params = _inner(models.make_model(algorithm, task)).get_params()
    defaults = models.default_hyperparameters(algorithm, task)
    ranges = models.tunable_ranges(algorithm, task)
    assert ranges
    for r in ranges:
        assert r.name in params
        if r.kind == "categorical":
            assert r.choices
        elif defaults.get(r.name) is not None:
            assert r.low <= defaults[r.name] <= r.high, r.name


def test_tunable_ranges_cover_the_documented_search_spaces():
    names = {a: {r.name for r in models.tunable_ranges(a)} for a in ALGORITHMS}
    assert {"learning_rate", "max_depth", "n_estimators", "subsample", "colsample_bytree",
            "min_child_weight", "reg_lambda"} <= names["xgboost"]
    assert {"learning_rate", "num_leaves", "n_estimators", "min_child_samples", "subsample",
            "colsample_bytree", "reg_lambda"} <= names["lightgbm"]
    assert {"n_estimators", "max_depth", "min_samples_leaf", "max_features"} <= names[
        "random_forest"]
    learning_rate = next(r for r in models.tunable_ranges("xgboost") if r.name == "learning_rate")
    assert (learning_rate.kind, learning_rate.low, learning_rate.high, learning_rate.log) == (
        "float", 0.01, 0.3, True)
    assert [r.name for r in models.tunable_ranges("linear", "binary")] == ["C"]
    assert [r.name for r in models.tunable_ranges("linear", "regression")] == ["alpha"]


def test_default_hyperparameters_returns_a_copy():
    models.default_hyperparameters("xgboost", "binary")["max_depth"] = 99
    assert models.default_hyperparameters("xgboost", "binary")["max_depth"] != 99


def test_hyperparameters_override_defaults_and_keep_the_rest():
    model = models.make_model("lightgbm", "binary", num_leaves=7)
    assert model.get_params()["num_leaves"] == 7
    assert model.get_params()["verbose"] == -1
    assert models.make_model("linear", "regression", alpha=3.0).get_params()["alpha"] == 3.0


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: models.make_model("catboost", "binary"), ["'catboost'", "xgboost", "linear"]),
        (lambda: models.make_model("xgboost", "ranking"), ["'ranking'", "binary", "regression"]),
        (lambda: models.make_model("xgboost", "binary", max_dept=3),
         ["'max_dept'", "xgboost", "max_depth"]),
        (lambda: models.make_model("linear", "regression", C=1.0), ["'C'", "alpha"]),
        (lambda: models.tunable_ranges("svm"), ["'svm'", "random_forest"]),
        (lambda: models.default_hyperparameters("lightgbm", "clustering"), ["'clustering'"]),
    ],
)
def test_bad_names_fail_with_the_valid_choices(call, expected):
    with pytest.raises(ValueError) as error:
        call()
    for text in expected:
        assert text in str(error.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("depth", "integer", 1, 5), {}, "kind"),
        (("depth", "int", 5, 1), {}, "low"),
        (("rate", "float", 0.0, 1.0), {"log": True}, "log"),
        (("features", "categorical"), {}, "choices"),
    ],
)
def test_range_rejects_inconsistent_definitions(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Range(*args, **kwargs)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_pipelines_learn_every_task(splits, algorithm, task):
    train, test, target = splits[task]
    # Fewer trees keep the test quick; linear models have no trees.
    hyperparameters = {} if algorithm == "linear" else {"n_estimators": 30}
    pipe = models.make_pipeline(algorithm, train, target, task, seed=0, **hyperparameters)
    assert [name for name, _ in pipe.steps] == ["preprocess", "model"]
    pipe.fit(train.drop(columns=target), train[target])
    predictions = pipe.predict(test.drop(columns=target))
    assert len(predictions) == len(test)
    if task == "regression":
        assert np.corrcoef(predictions, test[target])[0, 1] > 0.4
        return
    assert set(predictions) <= set(train[target])
    assert list(pipe.classes_) == sorted(set(train[target]))
    probabilities = pipe.predict_proba(test.drop(columns=target))
    assert probabilities.shape == (len(test), len(pipe.classes_))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (predictions == test[target].to_numpy()).mean() > 0.85


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "random_forest"])
def test_same_seed_same_model_other_seed_other_model(splits, algorithm):
    train, test, target = splits["binary"]
    X, y = train.drop(columns=target), train[target]

    def probabilities(seed):
        model = models.make_model(algorithm, "binary", seed=seed, n_estimators=20)
        return model.fit(X, y).predict_proba(test.drop(columns=target))

    np.testing.assert_array_equal(probabilities(3), probabilities(3))
    assert not np.array_equal(probabilities(3), probabilities(4))


def test_xgboost_classifier_takes_string_labels_and_returns_them(splits):
    train, test, target = splits["multiclass"]
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    model = models.make_model("xgboost", "multiclass", n_estimators=20)
    assert isinstance(model, LabelEncodedClassifier)
    model.fit(train[numeric], train[target])
    assert list(model.classes_) == ["Adelie", "Chinstrap", "Gentoo"]
    assert set(model.predict(test[numeric])) <= set(model.classes_)
    assert model.feature_importances_.shape == (len(numeric),)
    assert list(model.feature_names_in_) == numeric


def test_label_encoded_classifier_clones_and_tunes_like_any_estimator(splits):
    train, _, target = splits["multiclass"]
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    model = models.make_model("xgboost", "multiclass", max_depth=5)
    assert model.get_params()["estimator__max_depth"] == 5
    tuned = clone(model).set_params(estimator__max_depth=2, estimator__n_estimators=5)
    assert tuned.estimator.max_depth == 2
    assert model.estimator.max_depth == 5, "cloning must not share the inner estimator"
    tuned.fit(train[numeric], train[target])
    assert tuned.estimator_.get_booster().num_boosted_rounds() == 5


def test_label_encoded_classifier_encodes_monitoring_sets(splits):
    train, test, target = splits["multiclass"]
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    model = models.make_model("xgboost", "multiclass", n_estimators=10)
    model.fit(train[numeric], train[target], eval_set=[(test[numeric], test[target])],
              verbose=False)
    history = model.estimator_.evals_result()["validation_0"]["mlogloss"]
    assert len(history) == 10
    assert history[-1] < history[0]


def test_label_encoded_classifier_must_be_fitted_first():
    model = models.make_model("xgboost", "binary")
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(np.zeros((2, 3)))


def test_label_encoded_classifier_follows_the_scikit_learn_api():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)
        results = check_estimator(LabelEncodedClassifier(LogisticRegression()), on_fail=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    assert len(results) > 40 and not failed


def test_label_encoded_classifier_refuses_a_continuous_target():
    X = np.arange(20.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="Unknown label type"):
        LabelEncodedClassifier(LogisticRegression()).fit(X, X.ravel() / 7)
