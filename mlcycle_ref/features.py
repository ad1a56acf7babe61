"""Feature engineering as scikit-learn transformers that keep column names.

Everything here follows the scikit-learn API: a constructor only stores its parameters,
``fit`` learns attributes whose names end in ``_`` from the training data, and ``transform``
applies what was learned, nothing more. That is what keeps validation and test data out of
the fitted state. All pieces compose in ``Pipeline`` and ``ColumnTransformer`` and give
pandas output with ``set_output(transform="pandas")``.

>>> import pandas as pd
>>> train = pd.DataFrame({"age": [25.0, 38.0, None, 61.0], "job": ["chef", "admin", "chef", None],
...                       "subscribed": [0, 1, 0, 1]})
>>> preprocessor = build_preprocessor(train, "subscribed").fit(train)
>>> preprocessor.get_feature_names_out().tolist()
['age', 'job_admin', 'job_chef']
"""

import warnings

import numpy as np
import pandas as pd
from pandas.api import types
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectorMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from mlcycle_ref.data import DataError, _require_column, infer_task
from mlcycle_ref.explore import feature_kind, mutual_information

CLIP_METHODS = ("quantile", "iqr")
SCALERS = ("standard", "minmax")


def _column_names(estimator, n_columns: int) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    return list(names) if names is not None else [f"x{i}" for i in range(n_columns)]


def _checked_frame(estimator, X, y=None):
    """Validate ``X`` (and ``y``) the scikit-learn way, keeping a data frame as it is."""
    if y is None:
        values = validate_data(estimator, X, dtype=None, ensure_all_finite="allow-nan")
    else:
        values, y = validate_data(
            estimator, X, y, dtype=None, ensure_all_finite="allow-nan", ensure_min_samples=2
        )
    if isinstance(X, pd.DataFrame):
        return X, y
    # A NumPy array of objects may still hold numbers: give each column its proper dtype.
    frame = pd.DataFrame(values, columns=_column_names(estimator, values.shape[1]))
    return frame.infer_objects(), y


def _check_numeric(X, owner: str) -> None:
    if isinstance(X, pd.DataFrame):
        wrong = {
            name: str(X[name].dtype)
            for name in X.columns
            if not types.is_numeric_dtype(X[name].dtype)
        }
        if wrong:
            raise DataError(
                f"{owner} works on numeric columns only; found non-numeric columns {wrong}. "
                "Encode them first or leave them out."
            )


class OutlierClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each numeric column to bounds learned from the training data.

    Missing values are ignored when learning the bounds and stay missing. A column with no
    observed value, or one that is not numeric, raises an error that names it.

    Parameters
    ----------
    method : str
        "quantile" uses the ``lower`` and ``upper`` quantiles as bounds; "iqr" uses Tukey's
        fences, ``factor`` interquartile ranges below the first and above the third quartile.
    lower, upper : float
        Quantiles for the "quantile" method, with ``0 <= lower < upper <= 1``.
    factor : float
        Width of the fences for the "iqr" method, in interquartile ranges.

    Attributes
    ----------
    lower_bounds_, upper_bounds_ : pandas.Series
        The bounds per column, indexed by column name.

    Examples
    --------
    >>> clipper = OutlierClipper(lower=0.0, upper=0.5).fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    >>> clipper.transform(pd.DataFrame({"x": [-5.0, 2.5, 100.0]})).ravel().tolist()
    [1.0, 2.0, 2.0]
    """

    def __init__(self, method="quantile", lower=0.01, upper=0.99, factor=1.5):
        self.method = method
        self.lower = lower
        self.upper = upper
        self.factor = factor

    def _check_parameters(self) -> None:
        if self.method not in CLIP_METHODS:
            raise ValueError(f"method must be one of {CLIP_METHODS}, got {self.method!r}")
        if not 0 <= self.lower < self.upper <= 1:
            raise ValueError(
                f"need 0 <= lower < upper <= 1, got lower={self.lower!r}, upper={self.upper!r}"
            )
        if self.factor < 0:
            raise ValueError(f"factor must be at least 0, got {self.factor!r}")

    def fit(self, X, y=None):
        """Learn the lower and upper bound of every column of ``X``; ``y`` is ignored.

        ``y`` is accepted so the clipper fits inside a ``Pipeline`` like any transformer.
        """
        self._check_parameters()
        _check_numeric(X, "OutlierClipper")
        values = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        names = _column_names(self, values.shape[1])
        empty = [
            name for name, column in zip(names, values.T, strict=True) if np.isnan(column).all()
        ]
        if empty:
            raise DataError(f"OutlierClipper: no observed value to learn bounds from in {empty}")
        if self.method == "quantile":
            low, high = np.nanquantile(values, [self.lower, self.upper], axis=0)
        else:
            first, third = np.nanquantile(values, [0.25, 0.75], axis=0)
            spread = self.factor * (third - first)
            low, high = first - spread, third + spread
        self.lower_bounds_ = pd.Series(low, index=names, name="lower")
        self.upper_bounds_ = pd.Series(high, index=names, name="upper")
        return self

    def transform(self, X):
        """Clip ``X`` to the learned bounds with ``numpy.clip``."""
        check_is_fitted(self)
        _check_numeric(X, "OutlierClipper")
        values = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        return np.clip(values, self.lower_bounds_.to_numpy(), self.upper_bounds_.to_numpy())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class _ColumnSelector(SelectorMixin, BaseEstimator):
    """What both selectors share: ``fit`` sets ``support_``, the rest comes from scikit-learn."""

    def transform(self, X):
        """Keep the selected columns of ``X``."""
        check_is_fitted(self)
        return super().transform(X)

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags


class InfluenceSelector(_ColumnSelector):
    """Keep only the features whose mutual information with the target reaches ``threshold``.

    Mutual information is computed as in :func:`mlcycle_ref.explore.mutual_information`, so
    numeric and categorical columns are both welcome. ``task`` ("binary", "multiclass" or
    "regression") is inferred from ``y`` when left as None; ``seed`` fixes the estimate.
    If no feature reaches the threshold, ``fit`` warns, naming the best one, and keeps no
    column, as scikit-learn's own selectors do; a model cannot then be trained, so lower the
    threshold. The default threshold, 0.005, sits between the
    weakest real driver of the campaign simulator (about 0.006 on 50,000 rows) and its
    strongest pure-noise column (about 0.003); small samples give noisier estimates.

    Attributes
    ----------
    scores_ : pandas.Series
        Mutual information of each input column, in input order.
    support_ : numpy.ndarray of bool
        Which input columns are kept.
    task_ : str
        The task the scores were computed for.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> X = pd.DataFrame({"signal": y + rng.normal(0, 0.5, 400), "noise": rng.normal(size=400)})
    >>> InfluenceSelector(threshold=0.05).fit(X, y).get_feature_names_out().tolist()
    ['signal']
    """

    def __init__(self, threshold=0.005, task=None, seed=0):
        self.threshold = threshold
        self.task = task
        self.seed = seed

    def fit(self, X, y=None):
        """Score every column of ``X`` against the target ``y`` and pick those to keep."""
        if y is None:
            raise ValueError(
                "InfluenceSelector requires y to be passed, but the target y is None: "
                "call fit(X, y)"
            )
        frame, values = _checked_frame(self, X, y)
        # Keep a Series as it is: its dtype and name help infer the task.
        labels = y if isinstance(y, pd.Series) else pd.Series(values, name="y")
        labels = labels.reset_index(drop=True)
        frame = frame.reset_index(drop=True)
        self.task_ = self.task or infer_task(labels)
        scores = mutual_information(frame, labels, task=self.task_, seed=self.seed)
        self.scores_ = scores.reindex(frame.columns)
        self.support_ = (self.scores_ >= self.threshold).to_numpy()
        if not self.support_.any():
            warnings.warn(
                f"no feature reaches threshold={self.threshold!r}; the best is "
                f"{scores.index[0]!r} with {scores.iloc[0]:.4f}: no column is kept",
                UserWarning, stacklevel=2,
            )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class CorrelatedFeatureDropper(_ColumnSelector):
    """Drop numeric columns that nearly repeat an earlier column.

    Columns are visited in order; one whose absolute Pearson correlation with a column kept
    before it reaches ``threshold`` is dropped, so the first of each correlated pair stays.
    Non-numeric columns are always kept.

    Attributes
    ----------
    dropped_ : dict
        Each dropped column mapped to the kept column it repeats.
    support_ : numpy.ndarray of bool
        Which input columns are kept.

    Examples
    --------
    >>> X = pd.DataFrame({"cm": [150.0, 160.0, 170.0], "inch": [59.1, 63.0, 66.9],
    ...                   "kg": [60.0, 52.0, 75.0]})
    >>> CorrelatedFeatureDropper(threshold=0.95).fit(X).dropped_
    {'inch': 'cm'}
    """

    def __init__(self, threshold=0.95):
        self.threshold = threshold

    def fit(self, X, y=None):
        """Find the columns of ``X`` that repeat an earlier column; ``y`` is ignored."""
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        frame, _ = _checked_frame(self, X)
        numeric = [name for name in frame.columns if feature_kind(frame[name]) == "numeric"]
        strength = frame[numeric].astype(float).corr().abs()
        self.dropped_ = {}
        for i, name in enumerate(numeric):
            partners = [
                kept
                for kept in numeric[:i]
                if kept not in self.dropped_ and strength.loc[kept, name] >= self.threshold
            ]
            if partners:
                self.dropped_[name] = partners[0]
        self.support_ = ~frame.columns.isin(list(self.dropped_))
        return self


def make_imputer(kind: str = "numeric") -> SimpleImputer:
    """Fill gaps: the median for "numeric" columns, the most frequent value for "categorical".

    ``kind`` is the kind of column the imputer will fill, "numeric" (the default) or
    "categorical"; anything else raises ``ValueError``.

    The median resists outliers; the most frequent level keeps the set of levels unchanged.

    >>> make_imputer("categorical").strategy
    'most_frequent'
    """
    strategies = {"numeric": "median", "categorical": "most_frequent"}
    if kind not in strategies:
        raise ValueError(f"kind must be one of {tuple(strategies)}, got {kind!r}")
    return SimpleImputer(strategy=strategies[kind])


def make_scaler(kind: str | None = "standard"):
    """Return a scaler: "standard" (mean 0, variance 1), "minmax" (to [0, 1]) or None.

    ``kind`` picks one of those three; "standard" is the default.

    None gives the string "passthrough", which ``Pipeline`` and ``ColumnTransformer`` read
    as "leave the columns as they are".

    >>> make_scaler("minmax")
    MinMaxScaler()
    """
    if kind is None:
        return "passthrough"
    if kind not in SCALERS:
        raise ValueError(f"kind must be one of {SCALERS} or None, got {kind!r}")
    return StandardScaler() if kind == "standard" else MinMaxScaler()


def make_one_hot() -> OneHotEncoder:
    """One column of 0/1 per level; a level never seen in fit becomes a row of zeros.

    >>> encoder = make_one_hot().fit(pd.DataFrame({"job": ["chef", "admin"]}))
    >>> encoder.transform(pd.DataFrame({"job": ["pilot"]})).tolist()
    [[0.0, 0.0]]
    """
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def feature_columns(frame: pd.DataFrame, target: str | None = None) -> tuple[list, list]:
    """Split the feature columns into (numeric, categorical), leaving out the target.

    Strings, ``category`` and booleans are categorical. Columns with no observed value fit
    neither list and are left out (see :func:`mlcycle_ref.explore.feature_kind`).

    >>> frame = pd.DataFrame({"age": [30, 40], "job": ["chef", "admin"], "y": [0, 1]})
    >>> feature_columns(frame, target="y")
    (['age'], ['job'])
    """
    if target is not None:
        _require_column(frame, target, where="target")
    kinds = {name: feature_kind(frame[name]) for name in frame.columns if name != target}
    numeric = [name for name, kind in kinds.items() if kind == "numeric"]
    categorical = [name for name, kind in kinds.items() if kind in ("categorical", "boolean")]
    return numeric, categorical


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    # One dtype for every categorical column: booleans, mixed objects and None all become
    # strings or NaN, which the imputer and the encoders handle alike.
    return pd.DataFrame(frame).astype("str")


def _short_names_are_unique(frame, numeric, categorical, one_hot) -> bool:
    # Predicts the output names from the levels in ``frame``; only one-hot names can clash.
    names = list(numeric) + [
        f"{name}_{level}"
        for name in categorical
        for level in frame[name].dropna().astype("str").unique()
    ]
    return not one_hot or len(names) == len(set(names))


def build_preprocessor(
    frame: pd.DataFrame,
    target: str | None = None,
    *,
    scale: str | None = "standard",
    clip: str | None = "quantile",
    one_hot: bool = True,
    drop=(),
) -> ColumnTransformer:
    """Build an unfitted ``ColumnTransformer`` for the features of ``frame``.

    Numeric columns: median imputation, then :class:`OutlierClipper` (``clip`` is "quantile",
    "iqr" or None), then :func:`make_scaler` (``scale``). Categorical columns: most frequent
    imputation, then :func:`make_one_hot`, or integer codes when ``one_hot`` is False (for tree
    models; an unseen level gets -1). The target and the columns in ``drop`` are left out.

    ``frame`` only decides which columns go where; nothing is learned until ``fit``, which
    should see the training split alone. A column with no observed value in ``frame`` is
    dropped with a ``UserWarning`` that names it. Output is a pandas ``DataFrame`` whose
    columns keep their original names (one-hot columns are ``column_level``), unless two
    names would clash, in which case they are prefixed with ``numeric__`` or ``categorical__``.

    >>> frame = pd.DataFrame({"age": [30.0, 40.0, 50.0], "job": ["chef", "admin", "chef"],
    ...                       "id": [1, 2, 3], "y": [0, 1, 1]})
    >>> build_preprocessor(frame, "y", drop=["id"]).fit_transform(frame).columns.tolist()
    ['age', 'job_admin', 'job_chef']
    """
    drop = list(drop)
    for name in drop:
        _require_column(frame, name, where="build_preprocessor: drop")
    if clip is not None and clip not in CLIP_METHODS:
        raise ValueError(f"clip must be one of {CLIP_METHODS} or None, got {clip!r}")
    numeric, categorical = feature_columns(frame.drop(columns=drop), target)
    empty = [
        name
        for name in frame.columns
        if name not in (target, *drop) and feature_kind(frame[name]) == "empty"
    ]
    if empty:
        warnings.warn(
            f"dropping columns with no observed value: {empty}", UserWarning, stacklevel=2
        )
    numeric_steps = [("impute", make_imputer("numeric"))]
    if clip is not None:
        numeric_steps.append(("clip", OutlierClipper(method=clip)))
    numeric_steps.append(("scale", make_scaler(scale)))
    encoder = (
        make_one_hot()
        if one_hot
        else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    )
    categorical_steps = [
        ("as_text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
        ("impute", make_imputer("categorical")),
        ("encode", encoder),
    ]
    preprocessor = ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            ("categorical", Pipeline(categorical_steps), categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=not _short_names_are_unique(frame, numeric, categorical, one_hot),
    )
    return preprocessor.set_output(transform="pandas")
