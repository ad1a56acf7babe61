"""Judge a model by the data it never saw during training.

Metrics compare predictions with the held-out ground truth:

* classification (``"binary"``, ``"multiclass"``): ``accuracy``, ``precision``, ``recall``,
  ``f1`` and, when class probabilities are available, ``roc_auc`` and ``log_loss``.
  A binary task scores the positive class, the last of the sorted labels (1 for 0/1
  labels, ``"yes"`` for no/yes); a multiclass task averages over classes with equal weight
  (macro) and computes ROC AUC one class against the rest.
* regression: ``rmse``, ``mae`` and ``r2``.

``compare`` puts the results of several models in one table, best first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.model_selection import KFold, StratifiedKFold, learning_curve

from mlcycle_ref.data import TASKS
from mlcycle_ref.plots import new_figure

LOWER_IS_BETTER = ("rmse", "mae", "log_loss")
#: The metric names :func:`metrics` reports for each task.
METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "multiclass": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
MAIN_METRICS = ("roc_auc", "accuracy", "rmse")


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")


def _class_labels(y_true, y_pred, labels) -> list:
    if labels is not None:
        return list(labels)
    seen = set(pd.unique(np.asarray(y_true)).tolist()) | set(pd.unique(np.asarray(y_pred)).tolist())
    return sorted(seen)


def _positive_scores(y_score: np.ndarray, labels: list) -> np.ndarray:
    """Reduce binary scores to one column: the probability of the positive class."""
    if y_score.ndim == 1:
        return y_score
    if y_score.ndim == 2 and y_score.shape[1] == 2:
        return y_score[:, 1]
    raise ValueError(
        f"y_score for a binary task must have shape (n,) or (n, 2), got {y_score.shape}"
    )


def metrics(y_true, y_pred, *, task: str, y_score=None, labels=None) -> dict[str, float]:
    """Score predictions against the ground truth.

    Parameters
    ----------
    y_true, y_pred : array-like of the same length
        True and predicted labels (classification) or values (regression).
    task : ``"binary"``, ``"multiclass"`` or ``"regression"``
    y_score : array-like, optional
        Class probabilities, one column per label in ``labels`` order (as returned by
        ``predict_proba``); a binary task also accepts the positive-class column alone.
        Adds ``roc_auc`` and ``log_loss``.
    labels : sequence, optional
        All class labels in column order of ``y_score``; defaults to the sorted labels
        seen in ``y_true`` and ``y_pred``.

    Examples
    --------
    >>> scores = metrics([0, 1, 1, 0], [0, 1, 0, 0], task="binary", y_score=[0.2, 0.9, 0.4, 0.3])
    >>> list(scores)
    ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss']
    >>> scores["precision"], scores["recall"], round(scores["f1"], 3), scores["roc_auc"]
    (1.0, 0.5, 0.667, 1.0)
    >>> metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], task="regression")["r2"]
    0.5
    """
    _check_task(task)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred differ in length: {len(y_true)} and {len(y_pred)}"
        )
    if len(y_true) == 0:
        raise ValueError("y_true is empty: there is nothing to score")
    if task == "regression":
        if y_score is not None:
            raise ValueError("y_score applies to classification only, not to task 'regression'")
        return {
            "rmse": float(skm.root_mean_squared_error(y_true, y_pred)),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }

    labels = _class_labels(y_true, y_pred, labels)
    if task == "binary" and len(labels) > 2:
        raise ValueError(f"a binary task has at most 2 labels, found {len(labels)}: {labels}")
    # Binary scores the positive class alone; multiclass weighs every class equally.
    averaging = (
        {"average": "binary", "pos_label": labels[-1]}
        if task == "binary"
        else {"average": "macro", "labels": labels}
    )
    result = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0, **averaging)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0, **averaging)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0, **averaging)),
    }
    if y_score is None:
        return result

    y_score = np.asarray(y_score, dtype=float)
    if len(y_score) != len(y_true):
        raise ValueError(
            f"y_score has {len(y_score)} rows but y_true has {len(y_true)} values"
        )
    if task == "binary":
        positive = _positive_scores(y_score, labels)
        result["roc_auc"] = float(skm.roc_auc_score(y_true == labels[-1], positive))
        result["log_loss"] = float(skm.log_loss(y_true == labels[-1], positive, labels=[0, 1]))
        return result
    if y_score.ndim != 2 or y_score.shape[1] != len(labels):
        raise ValueError(
            f"y_score for a multiclass task must have one column per label "
            f"({len(labels)}: {labels}), got shape {y_score.shape}"
        )
    totals = y_score.sum(axis=1, keepdims=True)
    if not np.allclose(totals, 1.0, atol=1e-3):
        raise ValueError("y_score rows must be class probabilities that sum to 1")
    # Libraries return float32 probabilities whose rows miss 1 by rounding; rescale them.
    y_score = y_score / totals
    result["roc_auc"] = float(
        skm.roc_auc_score(y_true, y_score, multi_class="ovr", average="macro", labels=labels)
    )
    result["log_loss"] = float(skm.log_loss(y_true, y_score, labels=labels))
    return result


def evaluate(model, frame: pd.DataFrame, target: str, *, task: str) -> dict[str, float]:
    """Predict ``target`` on a held-out ``frame`` with a fitted model and score it.

    Class probabilities come from ``predict_proba`` when the model has it, which
    adds ``roc_auc`` and ``log_loss`` for classification.

    >>> from mlcycle_ref import data, models
    >>> train, validation, test = data.split(data.load("breast_cancer").frame, "target")
    >>> pipe = models.make_pipeline("linear", train, "target", "binary")
    >>> pipe = pipe.fit(train.drop(columns="target"), train["target"])
    >>> evaluate(pipe, test, "target", task="binary")["roc_auc"] > 0.95
    True
    """
    _check_task(task)
    if target not in frame.columns:
        raise ValueError(
            f"target column {target!r} is not in the frame; columns: {list(frame.columns)}"
        )
    inputs, y_true = frame.drop(columns=target), frame[target]
    y_pred = model.predict(inputs)
    if task == "regression" or not hasattr(model, "predict_proba"):
        return metrics(y_true, y_pred, task=task)
    return metrics(
        y_true, y_pred, task=task, y_score=model.predict_proba(inputs), labels=model.classes_
    )


def confusion_matrix(y_true, y_pred, labels=None) -> pd.DataFrame:
    """Count each (true, predicted) pair of classes: rows are true, columns predicted.

    ``y_true`` and ``y_pred`` are the true and predicted classes, of the same length;
    ``labels`` fixes the classes and their order (by default, every class seen, sorted).

    >>> table = confusion_matrix(["a", "b", "b"], ["a", "a", "b"])
    >>> table.loc["b"].to_dict()
    {'a': 1, 'b': 1}
    >>> table.index.name, table.columns.name
    ('true', 'predicted')
    """
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred differ in length: {len(y_true)} and {len(y_pred)}"
        )
    labels = _class_labels(y_true, y_pred, labels)
    counts = skm.confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=labels)
    return pd.DataFrame(
        counts,
        index=pd.Index(labels, name="true"),
        columns=pd.Index(labels, name="predicted"),
    )


def plot_confusion_matrix(y_true, y_pred, labels=None, *, normalize: bool = False) -> Figure:
    """Draw the confusion matrix as a heatmap with every cell written in.

    ``y_true``, ``y_pred`` and ``labels`` are as in :func:`confusion_matrix`.

    With ``normalize=True`` each row is divided by its total, so a cell reads as
    "share of this true class predicted as that class" and the diagonal is the recall.

    >>> fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0], normalize=True)
    >>> fig.axes[0].get_xlabel()
    'predicted'
    """
    table = confusion_matrix(y_true, y_pred, labels)
    values = table.to_numpy(dtype=float)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        # A class absent from y_true keeps a row of zeros instead of dividing by zero.
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    fig = new_figure((1.2 * len(table) + 2.5, 1.2 * len(table) + 2))
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="share of true class" if normalize else "count")
    middle = values.max() / 2
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        ax.text(col, row, text, ha="center", va="center",
                color="white" if value > middle else "black")
    ax.set_xticks(range(len(table)), [str(label) for label in table.columns])
    ax.set_yticks(range(len(table)), [str(label) for label in table.index])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix" + (" (normalized per true class)" if normalize else ""))
    return fig


def compare(results: dict[str, dict[str, float]], *, by: str | None = None) -> pd.DataFrame:
    """Put the metrics of several models side by side, best model first.

    Rows are sorted by ``by``, or else by the first of ``roc_auc``, ``accuracy`` and
    ``rmse`` that the results contain; error metrics (``rmse``, ``mae``, ``log_loss``)
    sort ascending, scores descending.

    >>> table = compare({"slow": {"rmse": 3.0, "r2": 0.5}, "fast": {"rmse": 2.0, "r2": 0.7}})
    >>> table.index.tolist(), table.columns.tolist()
    (['fast', 'slow'], ['rmse', 'r2'])
    """
    if not results:
        raise ValueError("results is empty: pass {model name: metrics dict}")
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "model"
    if by is None:
        by = next((name for name in MAIN_METRICS if name in table.columns), None)
        if by is None:
            raise ValueError(
                f"results contain none of the main metrics {MAIN_METRICS}; "
                f"found {list(table.columns)}; pass by=<metric>"
            )
    elif by not in table.columns:
        raise ValueError(f"metric {by!r} is not in the results; found {list(table.columns)}")
    return table.sort_values(by, ascending=by in LOWER_IS_BETTER, kind="stable")


def plot_roc_curve(y_true, scores, *, labels=None) -> Figure:
    """Draw the ROC curve of one or several binary classifiers on the same data.

    ``scores`` maps a model name to its scores (the positive-class column, or the
    two-column output of ``predict_proba``); a single array is drawn as ``"model"``.
    The positive class is the last of ``labels`` (default: sorted labels of ``y_true``).

    >>> fig = plot_roc_curve([0, 0, 1, 1], {"a": [0.1, 0.4, 0.35, 0.8]})
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'a (AUC 0.75)'
    """
    if not isinstance(scores, dict):
        scores = {"model": scores}
    y_true = np.asarray(y_true)
    labels = _class_labels(y_true, y_true, labels)
    if len(labels) != 2:
        raise ValueError(f"a ROC curve needs exactly 2 classes, found {len(labels)}: {labels}")
    fig = new_figure((5, 5))
    ax = fig.subplots()
    for name, score in scores.items():
        positive = _positive_scores(np.asarray(score, dtype=float), labels)
        if len(positive) != len(y_true):
            raise ValueError(
                f"scores of {name!r} have {len(positive)} rows but y_true has {len(y_true)}"
            )
        fpr, tpr, _ = skm.roc_curve(y_true == labels[-1], positive)
        auc = skm.auc(fpr, tpr)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.2f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    return fig


def plot_learning_curve(
    model, frame: pd.DataFrame, target: str, *, task: str,
    sizes=(0.1, 0.25, 0.5, 0.75, 1.0), folds: int = 3, seed: int = 0,
) -> Figure:
    """Plot training and validation score against the amount of training data.

    A wide gap that stays open means overfitting (more data or regularisation helps);
    two low curves that meet mean underfitting (a richer model helps). Scores are
    ROC AUC (binary), accuracy (multiclass) or RMSE (regression), from ``folds``-fold
    cross-validation on ``frame``. ``sizes`` are the shares of the training rows to try;
    ``seed`` fixes the folds.

    >>> from mlcycle_ref import data, models
    >>> frame = data.load("breast_cancer").frame
    >>> pipe = models.make_pipeline("linear", frame, "target", "binary")
    >>> fig = plot_learning_curve(pipe, frame, "target", task="binary")
    >>> fig.axes[0].get_ylabel()
    'roc_auc'
    """
    _check_task(task)
    if target not in frame.columns:
        raise ValueError(
            f"target column {target!r} is not in the frame; columns: {list(frame.columns)}"
        )
    scoring, name, sign = {
        "binary": ("roc_auc", "roc_auc", 1),
        "multiclass": ("accuracy", "accuracy", 1),
        "regression": ("neg_root_mean_squared_error", "rmse", -1),
    }[task]
    splitter = (KFold if task == "regression" else StratifiedKFold)(
        n_splits=folds, shuffle=True, random_state=seed
    )
    sizes_used, train_scores, valid_scores = learning_curve(
        model, frame.drop(columns=target), frame[target], train_sizes=sizes, cv=splitter,
        scoring=scoring, shuffle=True, random_state=seed, n_jobs=1,
    )
    fig = new_figure((6, 4))
    ax = fig.subplots()
    for scores, label in ((train_scores, "training"), (valid_scores, "validation")):
        mean, spread = sign * scores.mean(axis=1), scores.std(axis=1)
        ax.plot(sizes_used, mean, marker="o", label=label)
        ax.fill_between(sizes_used, mean - spread, mean + spread, alpha=0.2)
    ax.set_xlabel("training rows")
    ax.set_ylabel(name)
    ax.set_title("Learning curve")
    ax.legend()
    return fig
