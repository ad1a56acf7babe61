"""The eight built-in rules, with the parameter names and defaults of SageMaker Debugger.

Rules on curves (LossNotDecreasing, Overfit, Overtraining, TreeDepth, StalledTraining) read
the monitor's per-round history; rules on the model (ClassImbalance, Confusion,
FeatureImportanceOverweight) read its predictions and feature importance at the latest check.

Each rule below judges one run of 20 rounds of XGBoost's default trees (six levels allowed,
four used) on the breast cancer data:

>>> from mlcycle_ref import data
>>> from mlcycle_ref.debugger import debug_fit
>>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
>>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target", n_estimators=20)
>>> for rule in (Overfit(), Overtraining(), ClassImbalance(samples=100), Confusion(),
...              FeatureImportanceOverweight(), TreeDepth()):
...     print(*rule.check(monitor), sep=" | ")
True | at round 7 validation logloss 0.3156 is 13% above training 0.2789, beyond \
ratio_threshold=0.1 for 2 rounds in a row | 7
False | training and validation losses were still improving | 19
False | largest to smallest class 1.7 to 1; worst class mispredicted in 7% of its rows | 19
False | smallest diagonal share 93%, largest off-diagonal 7% | 19
False | the top 3 features (worst texture, worst perimeter, mean texture) hold 32% of the \
weight importance | 19
False | deepest tree: 4 levels | 19
>>> TreeDepth(depth=2).check(monitor), Confusion(min_diag=0.95).check(monitor)[0]
((True, 'trees reach depth 4 (first at round 0); depth=2', 0), True)
>>> StalledTraining(threshold=0.0).check(monitor)[0]  # any round is too slow for 0 s
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcycle_ref import evaluate
from mlcycle_ref.debugger.rules import DebuggerError, MissingData, Rule


@dataclass(frozen=True, kw_only=True)
class LossNotDecreasing(Rule):
    """The loss must fall by ``diff_percent`` % over every window of ``num_steps`` rounds.

    A rise of up to ``increase_threshold_percent`` % in a window is forgiven as noise (row
    subsampling makes losses wobble); a larger rise fires. ``mode`` "TRAIN" watches the
    training loss, "EVAL" the validation loss.
    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> LossNotDecreasing().parameters
    "stop_training_on_fire=False, num_steps=10, diff_percent=0.1, \
increase_threshold_percent=5.0, mode='TRAIN'"

    A learning rate close to zero leaves the loss where it started:

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import debug_fit
    >>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
    ...                        n_estimators=12, learning_rate=1e-5)
    >>> LossNotDecreasing().check(monitor)
    (True, 'train logloss fell only 0.013% over rounds 0-10 (diff_percent=0.1)', 10)
    """

    num_steps: int = 10
    diff_percent: float = 0.1
    increase_threshold_percent: float = 5.0
    mode: str = "TRAIN"

    def __post_init__(self):
        self._require_one_of("mode", ("TRAIN", "EVAL"))
        if self.num_steps < 1:
            raise DebuggerError(f"LossNotDecreasing: num_steps must be >= 1, got {self.num_steps}")

    def check(self, monitor):
        role = "train" if self.mode == "TRAIN" else "validation"
        loss = monitor.loss(role)
        if len(loss) <= self.num_steps:
            message = f"{len(loss)} rounds so far; the first check needs {self.num_steps + 1}"
            return False, message, None
        smallest = np.inf
        for end in range(self.num_steps, len(loss), self.num_steps):
            before, now = loss.iloc[end - self.num_steps], loss.iloc[end]
            fall = 100 * (before - now) / abs(before) if before else 0.0
            where = f"rounds {loss.index[end - self.num_steps]}-{loss.index[end]}"
            if -fall > self.increase_threshold_percent:
                message = (f"{role} {loss.name} rose {-fall:.2f}% over {where} "
                           f"(increase_threshold_percent={self.increase_threshold_percent})")
                return True, message, int(loss.index[end])
            if 0 <= fall < self.diff_percent:
                message = (f"{role} {loss.name} fell only {fall:.3f}% over {where} "
                           f"(diff_percent={self.diff_percent})")
                return True, message, int(loss.index[end])
            smallest = min(smallest, fall)
        message = (f"{role} {loss.name} kept falling; its smallest fall over {self.num_steps} "
                   f"rounds was {smallest:.2f}%")
        return False, message, monitor.iteration


@dataclass(frozen=True, kw_only=True)
class Overfit(Rule):
    """The validation loss must stay close to the training loss.

    The ratio ``(validation - training) / training`` may exceed ``ratio_threshold`` for at
    most ``patience`` rounds in a row, counting from round ``start_step``.
    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> from mlcycle_ref.debugger import Monitor
    >>> Overfit().check(Monitor())  # a monitor that has seen no training yet
    Traceback (most recent call last):
    ...
    mlcycle_ref.debugger.rules.MissingData: no train metric recorded: pass the train data \
as an evaluation set (eval_roles=('train', 'validation'))
    """

    start_step: int = 0
    patience: int = 1
    ratio_threshold: float = 0.1

    def check(self, monitor):
        train, valid = monitor.loss("train"), monitor.loss("validation")
        ratio = ((valid - train) / train.where(train > 0)).fillna(np.inf)
        ratio = ratio[ratio.index >= self.start_step]
        run = 0
        for iteration, value in ratio.items():
            run = run + 1 if value > self.ratio_threshold else 0
            if run > self.patience:
                return True, (
                    f"at round {iteration} validation {valid.name} {valid[iteration]:.4f} is "
                    f"{value:.0%} above training {train[iteration]:.4f}, beyond "
                    f"ratio_threshold={self.ratio_threshold} for {run} rounds in a row"
                ), int(iteration)
        if ratio.empty:
            return False, f"no round at or after start_step={self.start_step} yet", None
        worst = ratio.idxmax()
        message = f"largest gap: validation {ratio[worst]:.1%} above training at round {worst}"
        return False, message, monitor.iteration


def _rounds_without_progress(loss: pd.Series, delta: float) -> pd.Series:
    """Rounds since the loss last beat its best so far by more than ``delta`` (relative)."""
    best, since, counts = np.inf, 0, []
    for value in loss:
        if value < best * (1 - delta) or best == np.inf:
            best, since = value, 0
        else:
            since += 1
        counts.append(since)
    return pd.Series(counts, index=loss.index)


@dataclass(frozen=True, kw_only=True)
class Overtraining(Rule):
    """Stop rewarding rounds that no longer improve a loss.

    A loss counts as improved when it beats its best value so far by more than ``delta``
    (relative, 0.01 = 1%). The rule fires when the training loss has not improved for
    ``patience_train`` rounds or the validation loss for ``patience_validation`` rounds.
    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> Overtraining(patience_validation=5).parameters
    'stop_training_on_fire=False, patience_train=5, patience_validation=5, delta=0.01'
    """

    patience_train: int = 5
    patience_validation: int = 10
    delta: float = 0.01

    def check(self, monitor):
        for role, patience in (("train", self.patience_train),
                               ("validation", self.patience_validation)):
            loss = monitor.loss(role)
            stale = _rounds_without_progress(loss, self.delta)
            over = stale[stale >= patience]
            if not over.empty:
                iteration = int(over.index[0])
                best = loss.iloc[: loss.index.get_loc(iteration) + 1].min()
                return True, (
                    f"{role} {loss.name} has not improved by more than {self.delta:.0%} for "
                    f"{patience} rounds (best {best:.4f}) at round {iteration}"
                ), iteration
        return False, "training and validation losses were still improving", monitor.iteration


@dataclass(frozen=True, kw_only=True)
class ClassImbalance(Rule):
    """Classes should be of comparable size and none should be mostly mispredicted.

    Looks at the labels and predictions of the monitored rows once at least ``samples``
    labels are there. Fires when the largest class has more than ``threshold_imbalance``
    times the rows of the smallest, or when a class is mispredicted in more than a share
    ``threshold_misprediction`` of its rows.
    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> from mlcycle_ref.debugger import Monitor
    >>> ClassImbalance().evaluate(Monitor()).message
    'needs class labels: give the monitor data=(X, y)'
    """

    threshold_imbalance: float = 10.0
    threshold_misprediction: float = 0.7
    samples: int = 500

    def check(self, monitor):
        labels, predictions = monitor.labels_and_predictions()
        if len(labels) < self.samples:
            message = f"saw {len(labels)} labels; the rule waits for samples={self.samples}"
            return False, message, monitor.iteration
        counts = pd.Series(labels).value_counts()
        ratio = counts.iloc[0] / counts.iloc[-1]
        problems = []
        if ratio > self.threshold_imbalance:
            problems.append(
                f"class {counts.index[0]} has {counts.iloc[0]} rows and class "
                f"{counts.index[-1]} {counts.iloc[-1]}: {ratio:.1f} to 1 "
                f"(threshold_imbalance={self.threshold_imbalance})"
            )
        wrong = pd.Series(labels != predictions).groupby(labels).mean()
        for label, share in wrong[wrong > self.threshold_misprediction].items():
            problems.append(f"class {label} is mispredicted in {share:.0%} of its rows "
                            f"(threshold_misprediction={self.threshold_misprediction})")
        if problems:
            return True, "; ".join(problems), monitor.iteration
        message = (f"largest to smallest class {ratio:.1f} to 1; worst class mispredicted in "
                   f"{wrong.max():.0%} of its rows")
        return False, message, monitor.iteration


@dataclass(frozen=True, kw_only=True)
class Confusion(Rule):
    """Each class should mostly be predicted as itself.

    In the confusion matrix normalized per true class, every diagonal share must reach
    ``min_diag`` and every off-diagonal share stay at or below ``max_off_diag``.
    ``category_no``, when given, is the number of classes the labels must have.
    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> Confusion(min_diag=0.6, max_off_diag=0.4).parameters
    'stop_training_on_fire=False, category_no=None, min_diag=0.6, max_off_diag=0.4'
    """

    category_no: int | None = None
    min_diag: float = 0.9
    max_off_diag: float = 0.1

    def check(self, monitor):
        labels, predictions = monitor.labels_and_predictions()
        table = evaluate.confusion_matrix(labels, predictions, labels=monitor.classes)
        if self.category_no is not None and len(table) != self.category_no:
            raise MissingData(f"category_no={self.category_no} but the labels hold "
                              f"{len(table)} classes")
        shares = table.div(table.sum(axis=1).where(lambda total: total > 0), axis=0).fillna(0.0)
        values = shares.to_numpy()
        diagonal = np.diag(values)
        off = values[~np.eye(len(values), dtype=bool)]
        problems = [f"only {share:.0%} of class {label} predicted as itself"
                    for label, share in zip(shares.index, diagonal, strict=True)
                    if share < self.min_diag]
        if off.size and off.max() > self.max_off_diag:
            row, col = np.unravel_index(
                np.where(np.eye(len(values), dtype=bool), -1, values).argmax(), values.shape)
            problems.append(f"{values[row, col]:.0%} of class {shares.index[row]} predicted as "
                            f"{shares.columns[col]}")
        if problems:
            limits = f" (min_diag={self.min_diag}, max_off_diag={self.max_off_diag})"
            return True, "; ".join(problems) + limits, monitor.iteration
        message = (f"smallest diagonal share {diagonal.min():.0%}, largest off-diagonal "
                   f"{off.max() if off.size else 0:.0%}")
        return False, message, monitor.iteration


@dataclass(frozen=True, kw_only=True)
class FeatureImportanceOverweight(Rule):
    """No handful of features should carry the whole model.

    Fires when the ``nfeatures`` most important features hold more than a share ``threshold``
    of the total importance. ``importance_type`` is "weight" (number of splits on the
    feature, SageMaker's default) or "gain" (total loss reduction of those splits).
    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> FeatureImportanceOverweight(importance_type="cover")
    Traceback (most recent call last):
    ...
    mlcycle_ref.debugger.rules.DebuggerError: FeatureImportanceOverweight: importance_type \
must be 'weight' or 'gain', got 'cover'
    """

    threshold: float = 0.8
    nfeatures: int = 3
    importance_type: str = "weight"

    def __post_init__(self):
        self._require_one_of("importance_type", ("weight", "gain"))

    def check(self, monitor):
        importance = monitor.importance(self.importance_type)
        total = importance.sum()
        if total <= 0:
            return False, "no split yet", monitor.iteration
        top = importance.sort_values(ascending=False).head(self.nfeatures)
        share = top.sum() / total
        names = ", ".join(map(str, top.index))
        message = (f"the top {len(top)} features ({names}) hold {share:.0%} of the "
                   f"{self.importance_type} importance")
        if share > self.threshold:
            return True, f"{message} (threshold={self.threshold})", monitor.iteration
        return False, message, monitor.iteration


@dataclass(frozen=True, kw_only=True)
class TreeDepth(Rule):
    """Trees deeper than ``depth`` levels memorize rather than generalize on small data.

    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> TreeDepth(depth=6, stop_training_on_fire=True).stop_training_on_fire
    True
    """

    depth: int = 4

    def check(self, monitor):
        depths = monitor.history["tree_depth"] if monitor.history.size else pd.Series()
        if depths.empty:
            raise MissingData("no tree depth recorded yet")
        deeper = depths[depths > self.depth]
        if not deeper.empty:
            first = int(deeper.index[0])
            message = (f"trees reach depth {depths.max()} (first at round {first}); "
                       f"depth={self.depth}")
            return True, message, first
        return False, f"deepest tree: {depths.max()} levels", monitor.iteration


@dataclass(frozen=True, kw_only=True)
class StalledTraining(Rule):
    """Training should make progress: no round may take longer than ``threshold`` seconds.

    ``stop_training_on_fire``, as for every rule, ends training when the rule fires.

    >>> StalledTraining(threshold=60).parameters
    'stop_training_on_fire=False, threshold=60'
    """

    threshold: float = 1800.0

    def check(self, monitor):
        seconds = monitor.history["seconds"] if monitor.history.size else pd.Series()
        if seconds.empty:
            return False, "no round finished yet", None
        slowest = seconds.idxmax()
        if seconds[slowest] > self.threshold:
            message = (f"round {slowest} took {seconds[slowest]:.2f} s without progress "
                       f"(threshold={self.threshold} s)")
            return True, message, int(slowest)
        return False, f"slowest round: {seconds[slowest]:.3f} s", monitor.iteration


BUILT_IN_RULES = (LossNotDecreasing, Overfit, Overtraining, ClassImbalance, Confusion,
                  FeatureImportanceOverweight, TreeDepth, StalledTraining)


def default_rules() -> tuple[Rule, ...]:
    """One of each built-in rule with its default parameters.

    >>> [rule.name for rule in default_rules()][:3]
    ['LossNotDecreasing', 'Overfit', 'Overtraining']
    """
    return tuple(rule() for rule in BUILT_IN_RULES)

