"""Explore a data frame before modelling: profile, missing values, correlations, target association.

Every function takes a plain pandas ``DataFrame`` and returns a ``DataFrame`` or a matplotlib
``Figure``. The plot functions build figures without touching pyplot's global state, so they
never show anything by themselves: a notebook displays the returned figure.

>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [31, 45, None, 52], "job": ["admin", "unknown", "admin", "chef"]})
>>> profile(frame)["kind"].to_dict()
{'age': 'numeric', 'job': 'categorical'}
>>> missing_report(frame)["share"].to_dict()
{'age': 0.25, 'job': 0.25}
"""


import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from pandas.api import types
from scipy.stats import chi2_contingency
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

from mlcycle_ref.data import _require_column, infer_task
from mlcycle_ref.plots import new_figure

KINDS = ("numeric", "categorical", "boolean", "empty")
CORRELATION_METHODS = ("pearson", "spearman", "kendall")
#: A target with more levels than this is not split into one colour per level in plots.
MAX_TARGET_LEVELS = 10
#: Bar charts of a categorical column show at most this many of its most frequent levels.
MAX_BARS = 15
#: Heatmaps up to this many columns print the coefficient in every cell.
MAX_ANNOTATED = 12
MISSING_LABEL = "(missing)"


def feature_kind(series: pd.Series) -> str:
    """Say how the column ``series`` should be treated: "numeric", "categorical", "boolean"
    or "empty".

    A column with no observed value is "empty" whatever its dtype. Strings (pandas 3 ``str``),
    ``category`` and any other non-numeric dtype are "categorical".

    >>> feature_kind(pd.Series([1.5, 2.0])), feature_kind(pd.Series(["a", "b"]))
    ('numeric', 'categorical')
    >>> feature_kind(pd.Series([True, False])), feature_kind(pd.Series([None, None]))
    ('boolean', 'empty')
    """
    if series.isna().all():
        return "empty"
    if types.is_bool_dtype(series.dtype):
        return "boolean"
    if types.is_numeric_dtype(series.dtype):
        return "numeric"
    return "categorical"


def profile(frame: pd.DataFrame) -> pd.DataFrame:
    """Summarise every column: dtype, kind, missing share, distinct values and statistics.

    ``mean``, ``std``, ``min`` and ``max`` are filled for numeric columns only; ``top`` is the
    most frequent value of any column (a sentinel such as 999 often shows up there).

    >>> frame = pd.DataFrame({"pdays": [999, 3, 999], "sex": ["f", "m", None]})
    >>> summary = profile(frame)
    >>> summary.loc["pdays", "top"], summary.loc["sex", "kind"]
    (999, 'categorical')
    """
    rows = {}
    for name, series in frame.items():
        kind = feature_kind(series)
        observed = series.dropna()
        numeric = kind == "numeric"
        rows[name] = {
            "dtype": str(series.dtype),
            "kind": kind,
            "missing_share": float(series.isna().mean()) if len(series) else 0.0,
            "n_unique": int(observed.nunique()),
            "mean": float(observed.mean()) if numeric else np.nan,
            "std": float(observed.std()) if numeric else np.nan,
            "min": float(observed.min()) if numeric else np.nan,
            "max": float(observed.max()) if numeric else np.nan,
            # tolist() turns a NumPy scalar into a plain Python value.
            "top": observed.value_counts().index[:1].tolist()[0] if len(observed) else np.nan,
        }
    columns = ["dtype", "kind", "missing_share", "n_unique", "mean", "std", "min", "max", "top"]
    result = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    result.index.name = "column"
    return result


def missing_report(
    frame: pd.DataFrame, sentinels: dict | None = None, tokens=("unknown",)
) -> pd.DataFrame:
    """Count true missing values and sentinels (stand-ins for "missing") per column.

    ``sentinels`` maps a column to a value, or a list of values, that means "not known"
    there, such as ``{"pdays": 999}``. ``tokens`` are strings that mean the same in every
    categorical column; they match whatever the case and surrounding spaces. Only columns with
    at least one missing value or sentinel get a row; rows are sorted by ``share``, the
    fraction of values that are missing or sentinel.

    >>> frame = pd.DataFrame({"pdays": [999, 3, 999, 5], "job": ["admin", "Unknown", None, "chef"]})
    >>> report = missing_report(frame, sentinels={"pdays": 999})
    >>> report[["n_missing", "n_sentinel"]].to_dict(orient="index")
    {'pdays': {'n_missing': 0, 'n_sentinel': 2}, 'job': {'n_missing': 1, 'n_sentinel': 1}}
    """
    sentinels = dict(sentinels or {})
    for name in sentinels:
        _require_column(frame, name, where="missing_report: sentinels")
    wanted_tokens = {str(token).strip().lower() for token in tokens}
    rows = {}
    for name, series in frame.items():
        values = sentinels.get(name, [])
        values = list(values) if isinstance(values, list | tuple | set) else [values]
        is_sentinel = series.isin(values) & series.notna()
        if wanted_tokens and feature_kind(series) == "categorical":
            text = series.astype("str").str.strip().str.lower()
            is_sentinel |= text.isin(wanted_tokens) & series.notna()
        n_missing, n_sentinel = int(series.isna().sum()), int(is_sentinel.sum())
        if n_missing or n_sentinel:
            rows[name] = {
                "n_missing": n_missing,
                "n_sentinel": n_sentinel,
                "missing_share": n_missing / len(series),
                "sentinel_share": n_sentinel / len(series),
                "share": (n_missing + n_sentinel) / len(series),
                "sentinel_values": ", ".join(sorted({str(v) for v in series[is_sentinel]})),
            }
    columns = [
        "n_missing",
        "n_sentinel",
        "missing_share",
        "sentinel_share",
        "share",
        "sentinel_values",
    ]
    result = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    result.index.name = "column"
    return result.sort_values("share", ascending=False, kind="stable")


def correlations(frame: pd.DataFrame, method: str = "pearson") -> pd.DataFrame:
    """Correlation matrix of the numeric columns ("pearson", "spearman" or "kendall").

    >>> frame = pd.DataFrame({"x": [1, 2, 3], "y": [2, 4, 7], "label": ["a", "b", "c"]})
    >>> correlations(frame, method="spearman")
         x    y
    x  1.0  1.0
    y  1.0  1.0
    """
    if method not in CORRELATION_METHODS:
        raise ValueError(f"method must be one of {CORRELATION_METHODS}, got {method!r}")
    numeric = [name for name, series in frame.items() if feature_kind(series) == "numeric"]
    if len(numeric) < 2:
        raise ValueError(
            f"correlations need at least two numeric columns, found {len(numeric)}: {numeric}"
        )
    return frame[numeric].corr(method=method)


def correlated_pairs(
    frame: pd.DataFrame, threshold: float = 0.9, *, method: str = "pearson"
) -> pd.DataFrame:
    """List the pairs of numeric columns whose absolute correlation reaches ``threshold``.

    ``method`` is the correlation, as in :func:`correlations`.

    Sorted from the strongest pair down; a strong negative correlation counts too.

    >>> frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [2, 4, 6, 9], "z": [4, 1, 3, 1]})
    >>> correlated_pairs(frame, threshold=0.95).round(3)
      column_a column_b  correlation
    0        x        y        0.994
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    matrix = correlations(frame, method=method)
    names = list(matrix.columns)
    pairs = [
        (a, b, matrix.loc[a, b])
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if abs(matrix.loc[a, b]) >= threshold
    ]
    result = pd.DataFrame(pairs, columns=["column_a", "column_b", "correlation"])
    order = result["correlation"].abs().sort_values(ascending=False, kind="stable").index
    return result.loc[order].reset_index(drop=True)


def mutual_information(
    features: pd.DataFrame, labels: pd.Series, *, task: str | None = None, seed: int = 0
) -> pd.Series:
    """Mutual information (in nats) between each column and the labels, sorted high to low.

    ``task`` ("binary", "multiclass" or "regression") is inferred from the labels when not
    given.

    Categorical, boolean and empty columns are encoded as integer codes and treated as
    discrete, with "missing" as a level of its own; numeric columns have their gaps filled with
    the median and use scikit-learn's nearest-neighbour estimate, seeded by ``seed``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = pd.Series(rng.integers(0, 2, 500))
    >>> features = pd.DataFrame({"signal": labels + rng.normal(0, 0.3, 500),
    ...                          "noise": rng.normal(size=500)})
    >>> mutual_information(features, labels).index.tolist()
    ['signal', 'noise']
    """
    task = task or infer_task(labels)
    columns, discrete = {}, []
    for name, series in features.items():
        if feature_kind(series) == "numeric":
            columns[name] = series.fillna(series.median()).to_numpy(dtype=float)
            discrete.append(False)
        else:
            columns[name] = pd.factorize(series, use_na_sentinel=False)[0]
            discrete.append(True)
    matrix = np.column_stack(list(columns.values())) if columns else np.empty((len(labels), 0))
    if task == "regression":
        scores = mutual_info_regression(
            matrix, labels.to_numpy(dtype=float), discrete_features=discrete, random_state=seed
        )
    else:
        codes = pd.factorize(labels)[0]
        scores = mutual_info_classif(matrix, codes, discrete_features=discrete, random_state=seed)
    result = pd.Series(scores, index=list(columns), name="mutual_information")
    return result.sort_values(ascending=False, kind="stable")


def _point_biserial(values: pd.Series, labels: pd.Series) -> float:
    # The larger of the two sorted labels is "1": 1 for 0/1, "yes" for no/yes, True for booleans.
    present = values.notna()
    ones = (labels == sorted(labels.unique())[-1]).astype(float)
    return _pearson(values[present], ones[present])


def _pearson(a: pd.Series, b: pd.Series) -> float:
    present = a.notna() & b.notna()
    a, b = a[present].astype(float), b[present].astype(float)
    if a.nunique() < 2 or b.nunique() < 2:
        return np.nan  # a constant has no correlation with anything
    return float(np.corrcoef(a, b)[0, 1])


def _cramers_v(a: pd.Series, b: pd.Series) -> float:
    table = pd.crosstab(a.fillna(MISSING_LABEL), b.fillna(MISSING_LABEL))
    if min(table.shape) < 2:
        return 0.0
    chi2 = chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1))))


def _correlation_ratio(groups: pd.Series, values: pd.Series) -> float:
    # Share of the variance of ``values`` explained by the group means, square-rooted (eta).
    present = values.notna()
    groups, values = groups[present].fillna(MISSING_LABEL), values[present].astype(float)
    total = ((values - values.mean()) ** 2).sum()
    if total == 0:
        return np.nan
    means = values.groupby(groups, observed=True).transform("mean")
    return float(np.sqrt(((means - values.mean()) ** 2).sum() / total))


def _statistic(series: pd.Series, labels: pd.Series, task: str) -> tuple[float, str]:
    kind = feature_kind(series)
    if kind == "empty":
        return np.nan, "none"
    if kind == "numeric":
        if task == "binary":
            return _point_biserial(series, labels), "point_biserial"
        if task == "multiclass":
            return _correlation_ratio(labels, series), "correlation_ratio"
        return _pearson(series, labels), "pearson"
    if task == "regression":
        return _correlation_ratio(series, labels), "correlation_ratio"
    return _cramers_v(series, labels), "cramers_v"


def target_association(
    frame: pd.DataFrame, target: str, *, task: str | None = None, seed: int = 0
) -> pd.DataFrame:
    """Rank every feature by how much it tells about the target, strongest first.

    ``mutual_information`` is the ranking score: it works for numeric and categorical
    features alike and catches relations that are not straight lines. ``statistic`` is the
    classic measure that fits the pair of kinds, named in ``statistic_name``:

    ===========  ==============================  ==========================
    feature      classification target           regression target
    ===========  ==============================  ==========================
    numeric      point_biserial (binary),        pearson
                 correlation_ratio (multiclass)
    categorical  cramers_v                       correlation_ratio
    ===========  ==============================  ==========================

    Booleans count as categorical; rows with a missing target are left out. ``task`` is
    inferred from the target when not given.

    >>> from sklearn.datasets import load_breast_cancer
    >>> cancer = load_breast_cancer(as_frame=True).frame
    >>> ranking = target_association(cancer, "target", seed=0)
    >>> ranking.columns.tolist()
    ['feature', 'kind', 'mutual_information', 'statistic', 'statistic_name']
    >>> ranking.loc[0, "statistic_name"]
    'point_biserial'
    """
    _require_column(frame, target, where="target_association: target")
    frame = frame[frame[target].notna()]
    labels = frame[target]
    task = task or infer_task(labels)
    features = frame.drop(columns=target)
    scores = mutual_information(features, labels, task=task, seed=seed)
    rows = []
    for name, score in scores.items():
        statistic, statistic_name = _statistic(features[name], labels, task)
        rows.append((name, feature_kind(features[name]), score, statistic, statistic_name))
    columns = ["feature", "kind", "mutual_information", "statistic", "statistic_name"]
    return pd.DataFrame(rows, columns=columns)


# Panels of 3.2 x 2.8 inches, three to a row: the book shows a 9.6-inch-wide grid about 690
# pixels wide, so its 10-point text stays above 9 pixels on screen.
def _grid(n_panels: int, width: float = 3.2, height: float = 2.8):
    n_cols = min(3, n_panels)
    n_rows = -(-n_panels // n_cols)
    figure = new_figure((width * n_cols, height * n_rows))
    axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
    for unused in axes[n_panels:]:
        unused.set_visible(False)
    return figure, axes[:n_panels]


def _histogram(ax, series: pd.Series, groups: dict) -> None:
    values = series.dropna().astype(float)
    bins = np.histogram_bin_edges(values, bins=30)
    if not groups:
        ax.hist(values, bins=bins, color="tab:blue")
        ax.set_ylabel("count")
        _few_ticks(ax)
        return
    for level, rows in groups.items():
        ax.hist(
            series[rows].dropna().astype(float),
            bins=bins,
            alpha=0.5,
            density=True,
            label=str(level),
        )
    # Densities, not counts: a rare class would otherwise be too flat to compare.
    ax.set_ylabel("density")
    _few_ticks(ax)


def _few_ticks(ax) -> None:
    # Long numbers (balances in the thousands) collide when a narrow panel has six ticks.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))


def _bars(ax, series: pd.Series, groups: dict) -> None:
    text = series.astype("object").where(series.notna(), MISSING_LABEL).astype(str)
    levels = text.value_counts().index[:MAX_BARS]
    positions = np.arange(len(levels))
    if not groups:
        ax.bar(positions, text.value_counts()[levels].to_numpy(), color="tab:blue")
        ax.set_ylabel("count")
    else:
        width = 0.8 / len(groups)
        for i, (level, rows) in enumerate(groups.items()):
            shares = text[rows].value_counts(normalize=True).reindex(levels, fill_value=0)
            ax.bar(
                positions + i * width - 0.4 + width / 2,
                shares.to_numpy(),
                width=width,
                label=str(level),
            )
        # Shares within each class, so classes of different sizes compare fairly.
        ax.set_ylabel("share within class")
    ax.set_xticks(positions, levels, rotation=45, ha="right")


def plot_distributions(
    frame: pd.DataFrame, columns=None, *, target: str | None = None, max_columns: int = 12
) -> Figure:
    """Draw one panel per column: a histogram for numbers, bars for categories.

    With ``target`` (a column with at most ``MAX_TARGET_LEVELS`` levels), each panel splits by
    the target: overlaid histograms of densities, or grouped bars of shares within each class.
    Only the first ``max_columns`` columns are drawn; bars show the ``MAX_BARS`` most frequent
    levels, with missing values as a level named "(missing)".

    >>> from sklearn.datasets import load_wine
    >>> wine = load_wine(as_frame=True).frame
    >>> figure = plot_distributions(wine, ["alcohol", "proline"], target="target")
    >>> len(figure.axes), figure.axes[0].get_title()
    (2, 'alcohol')
    """
    columns = [c for c in frame.columns if c != target] if columns is None else list(columns)
    for name in [*columns, *([] if target is None else [target])]:
        _require_column(frame, name, where="plot_distributions")
    if not columns:
        raise ValueError("plot_distributions needs at least one column to draw")
    columns = columns[:max_columns]
    groups = {}
    if target is not None:
        levels = sorted(frame[target].dropna().unique())
        if len(levels) > MAX_TARGET_LEVELS:
            raise ValueError(
                f"target {target!r} has {len(levels)} levels; splitting the plots by it needs "
                f"at most {MAX_TARGET_LEVELS} (leave target=None for a continuous target)"
            )
        groups = {level: frame[target] == level for level in levels}
    figure, axes = _grid(len(columns))
    for ax, name in zip(axes, columns, strict=True):
        series = frame[name]
        kind = feature_kind(series)
        if kind == "empty":
            ax.text(
                0.5, 0.5, "all values missing", ha="center", va="center", transform=ax.transAxes
            )
        elif kind == "numeric":
            _histogram(ax, series, groups)
        else:
            _bars(ax, series, groups)
        ax.set_title(str(name))
        ax.set_xlabel(str(name))
        if groups and kind != "empty":
            ax.legend(title=str(target))
    figure.suptitle("Distributions" if target is None else f"Distributions by {target}")
    return figure


def plot_correlation_heatmap(frame: pd.DataFrame, method: str = "pearson") -> Figure:
    """Draw the correlation matrix of the numeric columns as a heatmap from -1 to 1.

    Up to ``MAX_ANNOTATED`` columns, each cell also prints its coefficient. ``method`` is
    ``"pearson"`` (linear), ``"spearman"`` or ``"kendall"`` (rank), as in :func:`correlations`.

    >>> from sklearn.datasets import load_diabetes
    >>> figure = plot_correlation_heatmap(load_diabetes(as_frame=True).frame)
    >>> figure.axes[0].get_title()
    'Pearson correlation of numeric columns'
    """
    matrix = correlations(frame, method=method)
    size = max(4.0, 0.5 * len(matrix) + 2)
    figure = new_figure((size + 1, size))
    ax = figure.subplots()
    image = ax.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    positions = np.arange(len(matrix))
    ax.set_xticks(positions, matrix.columns, rotation=45, ha="right")
    ax.set_yticks(positions, matrix.index)
    if len(matrix) <= MAX_ANNOTATED:
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                color="white" if abs(value) > 0.6 else "black",
            )
    figure.colorbar(image, ax=ax, label=f"{method} correlation")
    ax.set_title(f"{method.capitalize()} correlation of numeric columns")
    return figure


def plot_target_association(association: pd.DataFrame) -> Figure:
    """Draw the ranking from :func:`target_association` as horizontal bars, strongest on top.

    ``association`` needs the columns ``feature``, ``kind`` and ``mutual_information``; bars
    are colored by kind.

    >>> ranking = pd.DataFrame({"feature": ["age", "job"], "kind": ["numeric", "categorical"],
    ...                         "mutual_information": [0.12, 0.03]})
    >>> plot_target_association(ranking).axes[0].get_xlabel()
    'mutual information with the target (nats)'
    """
    needed = {"feature", "kind", "mutual_information"}
    if not needed <= set(association.columns):
        raise ValueError(
            f"association needs the columns {sorted(needed)} (the output of target_association), "
            f"got {list(association.columns)}"
        )
    ranking = association.sort_values("mutual_information", kind="stable")
    figure = new_figure((7, max(3.0, 0.3 * len(ranking) + 1.5)))
    ax = figure.subplots()
    colours = {kind: f"C{i}" for i, kind in enumerate(KINDS)}
    ax.barh(
        ranking["feature"].astype(str),
        ranking["mutual_information"],
        color=[colours.get(kind, "grey") for kind in ranking["kind"]],
    )
    shown = [kind for kind in KINDS if (ranking["kind"] == kind).any()]
    ax.legend(
        handles=[Patch(color=colours[kind], label=kind) for kind in shown],
        title="kind",
        loc="lower right",
    )
    ax.set_xlabel("mutual information with the target (nats)")
    ax.set_ylabel("feature")
    ax.set_title("Association of each feature with the target")
    return figure
