"""The debugger's figures: learning curves, feature importance, confusion, the rule table.

Each function takes a :class:`~mlcycle_ref.debugger.monitor.Monitor` that has watched a run
and returns a matplotlib figure; :func:`report_figures` draws all that the run's records
allow.

Every function's ``monitor`` is one that has watched a training run, such as the second
value :func:`~mlcycle_ref.debugger.fit.debug_fit` returns.
"""

from __future__ import annotations

import textwrap

import pandas as pd
from matplotlib.figure import Figure

from mlcycle_ref import evaluate
from mlcycle_ref.debugger.monitor import Monitor
from mlcycle_ref.debugger.rules import ERROR, ISSUES, NO_ISSUES, DebuggerError, MissingData
from mlcycle_ref.plots import new_figure

STATUS_COLORS = {NO_ISSUES: "#d8f0d8", ISSUES: "#f8d0c8", ERROR: "#f0e0a0"}


def plot_learning_curves(monitor: Monitor) -> Figure:
    """Loss per round for each evaluation set, and the seconds each round took.

    A validation curve that turns up while training keeps falling is overfitting.

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
    ...                        n_estimators=10)
    >>> [axes.get_title() for axes in plot_learning_curves(monitor).axes]
    ['Learning curves', 'Time per round']
    """
    history = monitor.history
    if history.empty:
        raise DebuggerError("the monitor has recorded no round yet; train with it first")
    fig = new_figure((10, 3.8))
    losses, times = fig.subplots(1, 2)
    metric_columns = [name for name in history.columns if name not in ("seconds", "tree_depth")]
    for name in metric_columns:
        losses.plot(history.index, history[name], label=name)
    losses.set_xlabel("boosting round")
    losses.set_ylabel("metric")
    losses.set_title("Learning curves")
    if metric_columns:
        losses.legend()
    times.plot(history.index, history["seconds"], color="tab:gray")
    times.set_xlabel("boosting round")
    times.set_ylabel("seconds")
    times.set_title("Time per round")
    return fig


def plot_feature_importance(monitor: Monitor, kind: str = "gain", top: int = 15) -> Figure:
    """Horizontal bars: the ``top`` features by importance, as a share of the total.

    ``kind`` is "gain" (total loss reduction of a feature's splits) or "weight" (their
    number), read at the monitor's latest check.

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
    ...                        n_estimators=10)
    >>> axes = plot_feature_importance(monitor, kind="weight", top=3).axes[0]
    >>> axes.get_xlabel(), len(axes.patches)
    ('share of total weight importance', 3)
    """
    importance = monitor.importance(kind)
    shares = (importance / importance.sum()).sort_values().tail(top)
    fig = new_figure((6, 0.3 * len(shares) + 1.5))
    ax = fig.subplots()
    ax.barh([str(name) for name in shares.index], shares.to_numpy(), color="tab:blue")
    ax.set_xlabel(f"share of total {kind} importance")
    ax.set_title("Feature importance")
    return fig


def plot_confusion(monitor: Monitor) -> Figure:
    """Confusion matrix of the monitored rows at the last check, normalized per true class.

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
    ...                        n_estimators=10)
    >>> plot_confusion(monitor).axes[0].get_xlabel()
    'predicted'
    """
    labels, predictions = monitor.labels_and_predictions()
    return evaluate.plot_confusion_matrix(labels, predictions, labels=monitor.classes,
                                          normalize=True)


def plot_rule_summary(monitor: Monitor) -> Figure:
    """The rule results as a colored table: green quiet, red fired, yellow error.

    Messages wrap instead of being cut, and the text is 10 points on a 10-inch figure, so it
    stays legible where the book shows the figure about 690 pixels wide.

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
    ...                        n_estimators=10)
    >>> [table[1, 0].get_text().get_text() for table in plot_rule_summary(monitor).axes[0].tables]
    ['LossNotDecreasing']
    """
    table = monitor.results()
    cells = [[row.rule, row.status, "" if pd.isna(row.iteration) else str(int(row.iteration)),
              "\n".join(textwrap.wrap(row.message, 60)) or ""]
             for row in table.itertuples()]
    lines = [max(1, cell[3].count("\n") + 1) for cell in cells]
    fig = new_figure((10, 0.3 * (sum(lines) + 1) + 0.6))
    ax = fig.subplots()
    ax.axis("off")
    drawn = ax.table(cellText=cells, colLabels=["rule", "status", "round", "what it saw"],
                     cellLoc="left", colWidths=[0.27, 0.14, 0.06, 0.53], bbox=[0, 0, 1, 1])
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(10)
    for row, (status, height) in enumerate(zip(table["status"], lines, strict=True), start=1):
        for col in range(4):
            drawn[row, col].set_facecolor(STATUS_COLORS[status])
            # Rows as tall as their wrapped message; the bbox scales them all to fit.
            drawn[row, col].set_height(height)
    for col in range(4):
        drawn[0, col].set_height(1)
    ax.set_title("Debugger rules")
    return fig


def report_figures(monitor: Monitor) -> dict[str, Figure]:
    """The report's figures by name; parts without data (no labels, say) are left out.

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
    ...                        n_estimators=10)
    >>> sorted(report_figures(monitor))
    ['confusion_matrix', 'feature_importance', 'learning_curves', 'rule_summary']
    """
    figures = {"rule_summary": plot_rule_summary(monitor),
               "learning_curves": plot_learning_curves(monitor)}
    for name, plot in (("feature_importance", plot_feature_importance),
                       ("confusion_matrix", plot_confusion)):
        try:
            figures[name] = plot(monitor)
        except MissingData:
            continue
    return figures
