"""Choose an algorithm, build it with sensible defaults, and know what can be tuned.

Four algorithms are registered, each with a classifier and a regressor form:

==============  =====================================  =====================================
algorithm       classification                         regression
==============  =====================================  =====================================
xgboost         ``xgboost.XGBClassifier`` (wrapped)    ``xgboost.XGBRegressor``
lightgbm        ``lightgbm.LGBMClassifier``            ``lightgbm.LGBMRegressor``
linear          ``LogisticRegression``                 ``Ridge``
random_forest   ``RandomForestClassifier``             ``RandomForestRegressor``
==============  =====================================  =====================================

Default hyperparameters (``default_hyperparameters`` returns them as a dict):

* xgboost: ``n_estimators=200, learning_rate=0.1, max_depth=4, subsample=0.8,
  colsample_bytree=0.8, min_child_weight=1.0, reg_lambda=1.0, tree_method="hist", n_jobs=1``
* lightgbm: ``n_estimators=200, learning_rate=0.05, num_leaves=31, min_child_samples=20,
  subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, n_jobs=1, verbose=-1``
  (``subsample_freq=1`` because LightGBM ignores ``subsample`` without it)
* linear: ``C=1.0, max_iter=5000`` for classification, ``alpha=1.0`` for regression
* random_forest: ``n_estimators=200, min_samples_leaf=1, n_jobs=1`` and
  ``max_features="sqrt"`` for classification, ``1.0`` (all features) for regression

Every model gets ``random_state=seed`` and runs on one thread, so the same seed gives the
same model on any machine. ``tunable_ranges`` lists the search space a tuner explores.

XGBoost wants class labels numbered ``0 .. k-1``; its classifier is therefore wrapped in
``LabelEncodedClassifier`` so that every classifier here accepts labels as they come
(strings such as penguin species, or 0/1). Its hyperparameters then sit one level down:
``get_params()`` names them ``estimator__max_depth`` and so on. To try other values, build
a new model with ``make_model`` (or ``make_pipeline``) rather than editing one in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm
import numpy as np
import pandas as pd
import xgboost
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from mlcycle_ref import features
from mlcycle_ref.data import TASKS

ALGORITHMS = ("xgboost", "lightgbm", "linear", "random_forest")
RANGE_KINDS = ("int", "float", "categorical")


@dataclass(frozen=True)
class Range:
    """The values a tuner may try for one hyperparameter.

    ``kind`` is ``"int"`` or ``"float"`` (between ``low`` and ``high``, sampled on a log
    scale when ``log`` is true) or ``"categorical"`` (one of ``choices``).

    >>> Range("max_depth", "int", 2, 10)
    Range(name='max_depth', kind='int', low=2, high=10, log=False, choices=())
    >>> Range("depth", "int", 5, 1)
    Traceback (most recent call last):
    ...
    ValueError: Range 'depth': low (5) must be below high (1)
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = field(default=())

    def __post_init__(self):
        if self.kind not in RANGE_KINDS:
            raise ValueError(
                f"Range {self.name!r}: kind must be one of {RANGE_KINDS}, got {self.kind!r}"
            )
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError(f"Range {self.name!r}: a categorical range needs choices")
            return
        if self.low is None or self.high is None or self.low >= self.high:
            raise ValueError(
                f"Range {self.name!r}: low ({self.low}) must be below high ({self.high})"
            )
        if self.log and self.low <= 0:
            raise ValueError(f"Range {self.name!r}: a log range needs low > 0, got {self.low}")


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Let a classifier that needs labels ``0 .. k-1`` learn from any labels.

    ``fit`` numbers the classes with a ``LabelEncoder`` before fitting a clone of
    ``estimator``; ``predict`` turns the numbers back into the original labels and
    ``classes_`` lists those labels in the column order of ``predict_proba``.

    Parameters
    ----------
    estimator : classifier
        The unfitted classifier to wrap.

    Attributes
    ----------
    estimator_ : the fitted clone of ``estimator``
    encoder_ : the fitted ``LabelEncoder``
    classes_ : the original labels, sorted

    Examples
    --------
    >>> import numpy as np
    >>> from xgboost import XGBClassifier
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> clf = LabelEncodedClassifier(XGBClassifier(n_estimators=5, min_child_weight=0))
    >>> clf.fit(X, ["cat", "cat", "dog", "dog"]).classes_.tolist()
    ['cat', 'dog']
    >>> clf.predict(np.array([[1.05]])).tolist()
    ['dog']
    >>> clf.predict_proba(np.array([[1.05]])).shape  # one column per class, as in classes_
    (1, 2)
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        """Number the labels ``y`` and fit a clone of ``estimator`` on ``X`` and the numbers.

        ``fit_params`` go on to the estimator's ``fit``; the labels of an ``eval_set`` are
        numbered the same way.
        """
        # A continuous target would otherwise become hundreds of "classes" without a word.
        check_classification_targets(y)
        self.encoder_ = LabelEncoder().fit(y)
        # Monitoring sets (used to watch training curves) need the same numbering as y.
        if fit_params.get("eval_set") is not None:
            fit_params["eval_set"] = [
                (X_eval, self.encoder_.transform(y_eval))
                for X_eval, y_eval in fit_params["eval_set"]
            ]
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
        self.classes_ = self.encoder_.classes_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X):
        check_is_fitted(self)
        return self.encoder_.inverse_transform(self.estimator_.predict(X))

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @property
    def feature_importances_(self):
        check_is_fitted(self)
        return self.estimator_.feature_importances_

    def __sklearn_tags__(self):
        # What the wrapped classifier accepts (sparse input, missing values) is what we accept.
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.classifier_tags.multi_class = inner.classifier_tags.multi_class
        return tags


@dataclass(frozen=True)
class _Algorithm:
    """Registry entry: estimator classes, defaults and search space of one algorithm."""

    classifier: type
    regressor: type
    classifier_defaults: dict
    regressor_defaults: dict
    classifier_ranges: tuple[Range, ...]
    regressor_ranges: tuple[Range, ...]


_BOOSTING_RANGES = (
    Range("learning_rate", "float", 0.01, 0.3, log=True),
    Range("n_estimators", "int", 50, 500),
    Range("subsample", "float", 0.5, 1.0),
    Range("colsample_bytree", "float", 0.5, 1.0),
    Range("reg_lambda", "float", 1e-3, 10.0, log=True),
)
_XGBOOST_DEFAULTS = {
    "n_estimators": 200,
    "learning_rate": 0.1,
    "max_depth": 4,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "n_jobs": 1,
}
_XGBOOST_RANGES = (
    *_BOOSTING_RANGES,
    Range("max_depth", "int", 2, 10),
    Range("min_child_weight", "float", 1.0, 10.0, log=True),
)
_LIGHTGBM_DEFAULTS = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "n_jobs": 1,
    "verbose": -1,
}
_LIGHTGBM_RANGES = (
    *_BOOSTING_RANGES,
    Range("num_leaves", "int", 8, 128, log=True),
    Range("min_child_samples", "int", 5, 100, log=True),
)
_FOREST_DEFAULTS = {"n_estimators": 200, "min_samples_leaf": 1, "n_jobs": 1}
_FOREST_RANGES = (
    Range("n_estimators", "int", 50, 500),
    Range("max_depth", "int", 2, 20),
    Range("min_samples_leaf", "int", 1, 20, log=True),
    Range("max_features", "categorical", choices=("sqrt", "log2", 0.5, 1.0)),
)

_REGISTRY = {
    "xgboost": _Algorithm(
        xgboost.XGBClassifier,
        xgboost.XGBRegressor,
        _XGBOOST_DEFAULTS,
        _XGBOOST_DEFAULTS,
        _XGBOOST_RANGES,
        _XGBOOST_RANGES,
    ),
    "lightgbm": _Algorithm(
        lightgbm.LGBMClassifier,
        lightgbm.LGBMRegressor,
        _LIGHTGBM_DEFAULTS,
        _LIGHTGBM_DEFAULTS,
        _LIGHTGBM_RANGES,
        _LIGHTGBM_RANGES,
    ),
    "linear": _Algorithm(
        LogisticRegression,
        Ridge,
        {"C": 1.0, "max_iter": 5000},
        {"alpha": 1.0},
        (Range("C", "float", 1e-3, 100.0, log=True),),
        (Range("alpha", "float", 1e-3, 1000.0, log=True),),
    ),
    "random_forest": _Algorithm(
        RandomForestClassifier,
        RandomForestRegressor,
        {**_FOREST_DEFAULTS, "max_features": "sqrt"},
        {**_FOREST_DEFAULTS, "max_features": 1.0},
        _FOREST_RANGES,
        _FOREST_RANGES,
    ),
}


def _lookup(algorithm: str, task: str) -> tuple[_Algorithm, bool]:
    """Return the registry entry and whether the task is a classification."""
    if algorithm not in _REGISTRY:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    return _REGISTRY[algorithm], task != "regression"


def default_hyperparameters(algorithm: str, task: str) -> dict:
    """The hyperparameters ``make_model`` uses unless told otherwise (``seed`` aside).

    ``algorithm`` is one of ``ALGORITHMS`` and ``task`` one of "binary", "multiclass"
    or "regression"; classification and regression may use different estimators and so
    different defaults.

    >>> default_hyperparameters("linear", "binary")
    {'C': 1.0, 'max_iter': 5000}
    >>> default_hyperparameters("linear", "regression")
    {'alpha': 1.0}
    """
    entry, is_classification = _lookup(algorithm, task)
    return dict(entry.classifier_defaults if is_classification else entry.regressor_defaults)


def tunable_ranges(algorithm: str, task: str = "binary") -> tuple[Range, ...]:
    """The search space of an algorithm, one ``Range`` per hyperparameter.

    ``task`` matters only for ``linear``: logistic regression tunes ``C``, ridge
    regression tunes ``alpha``.

    >>> [r.name for r in tunable_ranges("linear")]
    ['C']
    >>> [r.name for r in tunable_ranges("linear", "regression")]
    ['alpha']
    """
    entry, is_classification = _lookup(algorithm, task)
    return entry.classifier_ranges if is_classification else entry.regressor_ranges


def make_model(algorithm: str, task: str, *, seed: int = 0, **hyperparameters):
    """Build an unfitted scikit-learn estimator for ``algorithm`` and ``task``.

    ``algorithm`` is one of ``ALGORITHMS``, ``task`` one of "binary", "multiclass" or
    "regression", and ``seed`` becomes the estimator's ``random_state``. The keyword
    arguments ``hyperparameters`` override :func:`default_hyperparameters`; each name is
    checked against the estimator's own parameters, so a typo fails here rather than being
    ignored.

    >>> model = make_model("xgboost", "multiclass", seed=1, max_depth=3)
    >>> model.estimator.max_depth, model.estimator.random_state
    (3, 1)
    >>> make_model("linear", "regression", C=2.0)
    Traceback (most recent call last):
    ...
    ValueError: unknown hyperparameter 'C' for linear (regression); valid names: alpha, copy_X, \
fit_intercept, max_iter, positive, random_state, solver, tol
    """
    entry, is_classification = _lookup(algorithm, task)
    estimator = entry.classifier() if is_classification else entry.regressor()
    valid = estimator.get_params()
    unknown = sorted(set(hyperparameters) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown hyperparameter {', '.join(map(repr, unknown))} for {algorithm} ({task}); "
            f"valid names: {', '.join(sorted(valid))}"
        )
    params = {**default_hyperparameters(algorithm, task), "random_state": seed, **hyperparameters}
    estimator.set_params(**params)
    if algorithm == "xgboost" and is_classification:
        return LabelEncodedClassifier(estimator)
    return estimator


def make_pipeline(
    algorithm: str, frame: pd.DataFrame, target: str, task: str, *, seed: int = 0,
    **hyperparameters,
) -> Pipeline:
    """Chain the standard preprocessor for ``frame`` with ``make_model``.

    ``frame`` (usually the training split) decides which columns are numeric and which
    are categorical; the pipeline is fitted on the features without ``target``.
    ``algorithm``, ``task``, ``seed`` and the keyword ``hyperparameters`` go to
    :func:`make_model`.

    >>> from mlcycle_ref import data
    >>> penguins = data.load("penguins")
    >>> pipe = make_pipeline("lightgbm", penguins.frame, "species", "multiclass")
    >>> [name for name, _ in pipe.steps]
    ['preprocess', 'model']
    """
    return Pipeline([
        ("preprocess", features.build_preprocessor(frame, target)),
        ("model", make_model(algorithm, task, seed=seed, **hyperparameters)),
    ])


class TrainedBooster(BaseEstimator):
    """A trained XGBoost or LightGBM booster behind scikit-learn's ``predict`` API.

    Training jobs save boosters in their library's own file format and the model zoo ships
    them that way; this class makes such a booster predict like the fitted estimator did.
    It does not train: ``fit`` refuses, because refitting would throw the training away.

    Parameters
    ----------
    booster : ``xgboost.Booster`` or ``lightgbm.Booster``, already trained
    classes : the labels of the booster's outputs 0, 1, ... in order; None for regression

    Examples
    --------
    >>> import numpy as np, lightgbm
    >>> X, y = np.arange(40.0).reshape(-1, 1), np.arange(40) >= 20
    >>> booster = lightgbm.train({"objective": "binary", "verbose": -1, "min_data_in_leaf": 2},
    ...                          lightgbm.Dataset(X, y), num_boost_round=5)
    >>> TrainedBooster(booster, classes=["no", "yes"]).predict(np.array([[1.0], [39.0]])).tolist()
    ['no', 'yes']
    """

    def __init__(self, booster=None, classes=None):
        self.booster = booster
        self.classes = classes

    @classmethod
    def load(cls, algorithm: str, path, classes=None) -> TrainedBooster:
        """Read a booster saved in its library's own file (``"xgboost"`` or ``"lightgbm"``).

        ``algorithm`` names the library that wrote the file at ``path`` (``model.json`` or
        ``.ubj`` for XGBoost, ``model.txt`` for LightGBM); ``classes`` is as for the class.

        >>> TrainedBooster.load("linear", "model.joblib")
        Traceback (most recent call last):
        ...
        ValueError: only xgboost and lightgbm boosters load from their own files, not 'linear'
        """
        if algorithm == "xgboost":
            return cls(xgboost.Booster(model_file=str(path)), classes)
        if algorithm == "lightgbm":
            return cls(lightgbm.Booster(model_file=str(path)), classes)
        raise ValueError(f"only xgboost and lightgbm boosters load from their own files, "
                         f"not {algorithm!r}")

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is None:
            raise AttributeError("a regression model has no classes_")
        return np.asarray(self.classes)

    def __sklearn_is_fitted__(self) -> bool:
        return self.booster is not None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor" if self.classes is None else "classifier"
        return tags

    def fit(self, X, y=None):
        """Not supported: train a new model with :func:`make_model` (or fine-tune a zoo model).

        >>> TrainedBooster().fit([[0.0]], [1])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: this model wraps an already trained booster and cannot be refitted; ...
        """
        raise TypeError("this model wraps an already trained booster and cannot be refitted; "
                        "train a new one with models.make_model, or adapt a zoo model with "
                        "zoo.fine_tune")

    def _raw_predict(self, X) -> np.ndarray:
        if isinstance(self.booster, xgboost.Booster):
            return np.asarray(self.booster.predict(xgboost.DMatrix(X)), dtype=float)
        return np.asarray(self.booster.predict(X), dtype=float)

    def _is_classifier(self) -> bool:
        return self.classes is not None

    @available_if(_is_classifier)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes``."""
        scores = self._raw_predict(X)
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""
        if self.classes is None:
            return self._raw_predict(X)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
