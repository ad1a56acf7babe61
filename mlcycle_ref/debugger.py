"""Debugger: watch a boosting model while it trains, check built-in rules, write a report.

A *monitor* is a callback that XGBoost or LightGBM calls after every boosting round. It
records the training and validation metrics, the seconds each round took, the depth of the
newest trees and (at every check) the feature importance and the predictions on the
monitored rows. Every ``check_every`` rounds, and once more at the end, it evaluates its
*rules*. Each rule ends as ``NoIssuesFound``, ``IssuesFound`` or ``Error`` (the data it needs
was not recorded), with a message that says what it saw. A rule built with
``stop_training_on_fire=True`` stops training the moment it fires.

The eight built-in rules carry the parameter names and defaults of SageMaker Debugger's
rules of the same name (the ``*_regex`` and collection parameters are left out: there are
no named tensors here, the monitor hands the rules what they need):

============================  ==============================================================
rule                          fires when
============================  ==============================================================
LossNotDecreasing             over ``num_steps`` rounds the loss fell less than
                              ``diff_percent`` % or rose more than ``increase_threshold_percent`` %
Overfit                       (validation - training) / training loss stays above
                              ``ratio_threshold`` for more than ``patience`` rounds in a row
Overtraining                  no new best training loss for ``patience_train`` rounds, or no
                              new best validation loss for ``patience_validation`` rounds
ClassImbalance                largest / smallest class above ``threshold_imbalance``, or a class
                              mispredicted more often than ``threshold_misprediction``
Confusion                     a diagonal share of the row-normalized confusion matrix is below
                              ``min_diag`` or an off-diagonal share above ``max_off_diag``
FeatureImportanceOverweight   the top ``nfeatures`` features hold more than ``threshold`` of
                              the total importance
TreeDepth                     a tree grows deeper than ``depth``
StalledTraining               one round took longer than ``threshold`` seconds
============================  ==============================================================

>>> from mlcycle_ref import data
>>> train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
>>> model, monitor = debug_fit("xgboost", train, validation, "target", n_estimators=30)
>>> monitor.results().set_index("rule").loc["TreeDepth", "status"]
'NoIssuesFound'
"""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
import time
from dataclasses import dataclass, fields
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import xgboost
from matplotlib.figure import Figure

from mlcycle_ref import evaluate, models
from mlcycle_ref.data import infer_task
from mlcycle_ref.plots import new_figure

NO_ISSUES, ISSUES, ERROR = "NoIssuesFound", "IssuesFound", "Error"
ROLES = ("train", "validation")


class MissingData(LookupError):
    """A rule needs something the monitor did not record; the rule then ends in ``Error``."""


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule: status, the round it refers to and what the rule saw."""

    rule: str
    status: str
    message: str
    iteration: int | None = None


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Base of the built-in rules: ``evaluate(monitor)`` returns a :class:`RuleResult`.

    A subclass implements ``check(monitor)``, which returns ``(fired, message, iteration)``
    and raises :class:`MissingData` when the monitor lacks what it needs.
    """

    stop_training_on_fire: bool = False

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def parameters(self) -> str:
        """The rule's parameters as ``name=value`` text, for tables and reports."""
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))

    def evaluate(self, monitor: Monitor) -> RuleResult:
        try:
            fired, message, iteration = self.check(monitor)
        except MissingData as error:
            return RuleResult(self.name, ERROR, str(error), monitor.iteration)
        return RuleResult(self.name, ISSUES if fired else NO_ISSUES, message, iteration)

    def check(self, monitor: Monitor) -> tuple[bool, str, int | None]:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class LossNotDecreasing(Rule):
    """The loss must fall by ``diff_percent`` % over every window of ``num_steps`` rounds.

    A rise of up to ``increase_threshold_percent`` % in a window is forgiven as noise (row
    subsampling makes losses wobble); a larger rise fires. ``mode`` "TRAIN" watches the
    training loss, "EVAL" the validation loss.

    >>> LossNotDecreasing().parameters
    "stop_training_on_fire=False, num_steps=10, diff_percent=0.1, \
increase_threshold_percent=5.0, mode='TRAIN'"
    """

    num_steps: int = 10
    diff_percent: float = 0.1
    increase_threshold_percent: float = 5.0
    mode: str = "TRAIN"

    def __post_init__(self):
        if self.mode not in ("TRAIN", "EVAL"):
            raise ValueError(f"LossNotDecreasing: mode must be 'TRAIN' or 'EVAL', "
                             f"got {self.mode!r}")
        if self.num_steps < 1:
            raise ValueError(f"LossNotDecreasing: num_steps must be >= 1, got {self.num_steps}")

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
    labels are there.
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

    ``importance_type`` is "weight" (number of splits on the feature, SageMaker's default) or
    "gain" (total loss reduction of those splits).
    """

    threshold: float = 0.8
    nfeatures: int = 3
    importance_type: str = "weight"

    def __post_init__(self):
        if self.importance_type not in ("weight", "gain"):
            raise ValueError(f"FeatureImportanceOverweight: importance_type must be 'weight' "
                             f"or 'gain', got {self.importance_type!r}")

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
    """Trees deeper than ``depth`` levels memorize rather than generalize on small data."""

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
    """Training should make progress: no round may take longer than ``threshold`` seconds."""

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


# --------------------------------------------------------------------------- monitors


class Monitor:
    """What XGBoostMonitor and LightGBMMonitor share: recording, rule checks, results.

    Parameters
    ----------
    rules : rules to evaluate (default: :func:`default_rules`)
    data : ``(X, y)`` rows whose predictions ClassImbalance and Confusion look at, usually
        the validation set in the form the model receives it (after preprocessing)
    eval_roles : the role of each evaluation set, in the order they are given to the library;
        the default reads the first as training and the second as validation data
    check_every : evaluate the rules every this many rounds (and once at the end)
    on_iteration : optional ``function(iteration, scores)`` called after every round with the
        latest metrics (``{"validation_logloss": 0.31, ...}``); returning True stops
        training (a tuner uses this to prune a poor trial)

    Attributes
    ----------
    history : one row per round: ``seconds``, ``tree_depth`` and ``<role>_<metric>`` columns
    stopped_by : name of the rule (or "on_iteration") that stopped training, else None
    """

    def __init__(self, rules=None, *, data=None, eval_roles=ROLES, check_every: int = 10,
                 on_iteration=None):
        if check_every < 1:
            raise ValueError(f"check_every must be >= 1, got {check_every}")
        self.rules = tuple(default_rules() if rules is None else rules)
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"rules must be Rule objects, got {rule!r}")
        self.data = data
        self.eval_roles = tuple(eval_roles)
        self.check_every = check_every
        self.on_iteration = on_iteration
        self._reset()

    def __deepcopy__(self, memo):
        # scikit-learn's clone deep-copies constructor parameters such as XGBoost's
        # ``callbacks``; a copy would record the run while the caller's monitor stayed empty.
        return self

    def _reset(self) -> None:
        self._rows: list[dict] = []
        self._importance: dict[str, pd.Series] = {}
        self._labels = self._predictions = None
        self._results: list[RuleResult | None] = [None] * len(self.rules)
        self.classes = None
        self.stopped_by: str | None = None
        self._finished = False
        self._clock = time.perf_counter()

    # ---- what rules read

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows).set_index("iteration") if self._rows else pd.DataFrame()

    @property
    def iteration(self) -> int | None:
        return self._rows[-1]["iteration"] if self._rows else None

    def loss(self, role: str) -> pd.Series:
        """The first metric recorded for ``role`` ("train" or "validation"), one per round."""
        prefix = f"{role}_"
        columns = [name for name in self.history.columns if name.startswith(prefix)]
        if not columns:
            raise MissingData(f"no {role} metric recorded: pass the {role} data as an "
                              f"evaluation set (eval_roles={self.eval_roles})")
        return self.history[columns[0]].rename(columns[0][len(prefix):])

    def importance(self, kind: str = "gain") -> pd.Series:
        """Feature importance at the latest check: "weight" (split count) or "gain"."""
        if kind not in ("weight", "gain"):
            raise ValueError(f"importance kind must be 'weight' or 'gain', got {kind!r}")
        if kind not in self._importance:
            raise MissingData("no feature importance recorded yet")
        return self._importance[kind]

    def labels_and_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """True and predicted classes of the monitored rows at the latest check."""
        if self.data is None:
            raise MissingData("needs class labels: give the monitor data=(X, y)")
        if self._labels is None:
            raise MissingData("needs class labels: the monitored target is not a class label "
                              "(regression) or no check has run yet")
        return self._labels, self._predictions

    # ---- recording

    def _record(self, iteration: int, scores: dict[str, float], depth: int) -> bool:
        """Store one round; return True when training should stop."""
        seconds = time.perf_counter() - self._clock
        self._rows.append({"iteration": iteration, "seconds": seconds, "tree_depth": depth,
                           **scores})
        stop = False
        if self.on_iteration is not None and self.on_iteration(iteration, dict(scores)):
            self.stopped_by, stop = "on_iteration", True
        if not stop and (len(self._rows) % self.check_every == 0):
            stop = self._check()
        # The clock restarts after our own work so that "seconds" measures the library alone.
        self._clock = time.perf_counter()
        return stop

    def _check(self) -> bool:
        self._refresh()
        # Every check judges the whole run so far: rules on curves report the first round that
        # broke them, rules on predictions the model as it stands now.
        self._results = [rule.evaluate(self) for rule in self.rules]
        for rule, result in zip(self.rules, self._results, strict=True):
            if rule.stop_training_on_fire and result.status == ISSUES:
                self.stopped_by = rule.name
                return True
        return False

    def _refresh(self) -> None:
        """Read importance and predictions from the model being trained."""
        self._importance = self._read_importance()
        if self.data is None:
            return
        X, y = self.data
        y = np.asarray(y)
        if infer_task(pd.Series(y)) == "regression":
            return
        # Libraries number classes 0..k-1 in sorted order, as LabelEncoder does.
        classes = np.unique(y)
        scores = np.asarray(self._predict(X))
        codes = (scores > 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        self.classes = classes.tolist()
        self._labels, self._predictions = y, classes[codes]

    def finish(self) -> Monitor:
        """Evaluate the rules a last time; XGBoost calls this itself, LightGBM at its last round.

        Call it by hand when another callback (early stopping) ended a LightGBM run.
        """
        if not self._finished and self._rows:
            self._check()
        self._finished = True
        return self

    def results(self) -> pd.DataFrame:
        """One row per rule: rule, status, iteration, message, parameters."""
        rows = []
        for rule, result in zip(self.rules, self._results, strict=True):
            result = result or RuleResult(rule.name, NO_ISSUES, "not evaluated yet")
            rows.append({"rule": result.rule, "status": result.status,
                         "iteration": result.iteration, "message": result.message,
                         "parameters": rule.parameters})
        return pd.DataFrame(rows, columns=["rule", "status", "iteration", "message", "parameters"])

    def _scores(self, named_values) -> dict[str, float]:
        """``{role_metric: value}`` from ``(set name, metric, value)`` in library order."""
        sets = list(dict.fromkeys(name for name, _, _ in named_values))
        roles = {name: (self.eval_roles[i] if i < len(self.eval_roles) else name)
                 for i, name in enumerate(sets)}
        return {f"{roles[name]}_{metric}": float(value) for name, metric, value in named_values}

    def _read_importance(self) -> dict[str, pd.Series]:
        raise NotImplementedError

    def _predict(self, X):
        raise NotImplementedError


def _xgboost_depth(node: dict) -> int:
    return 0 if "leaf" in node else 1 + max(_xgboost_depth(child) for child in node["children"])


class XGBoostMonitor(Monitor, xgboost.callback.TrainingCallback):
    """Monitor for XGBoost: pass it in ``callbacks`` (``xgboost.train`` or the estimators).

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> monitor = XGBoostMonitor(check_every=5)
    >>> _ = xgboost.XGBClassifier(n_estimators=10, max_depth=2, callbacks=[monitor]).fit(
    ...     X, y, eval_set=[(X, y)], verbose=False)
    >>> monitor.history.columns.tolist()
    ['seconds', 'tree_depth', 'train_logloss']
    """

    def before_training(self, model):
        self._reset()
        self._booster = model
        return model

    def after_iteration(self, model, epoch, evals_log) -> bool:
        self._booster = model
        scores = self._scores([(name, metric, values[-1])
                               for name, metrics in evals_log.items()
                               for metric, values in metrics.items()])
        last = model.num_boosted_rounds()
        trees = model[last - 1:last].get_dump(dump_format="json")
        depth = max(_xgboost_depth(json.loads(tree)) for tree in trees)
        return self._record(epoch, scores, depth)

    def after_training(self, model):
        self._booster = model
        self.finish()
        self._booster = None  # let the booster go with the training run
        return model

    def _read_importance(self):
        return {kind: pd.Series(self._booster.get_score(importance_type=source), dtype=float)
                for kind, source in (("weight", "weight"), ("gain", "total_gain"))}

    def _predict(self, X):
        return self._booster.predict(xgboost.DMatrix(X))


def _lightgbm_depth(node: dict) -> int:
    if "leaf_value" in node:
        return 0
    return 1 + max(_lightgbm_depth(node["left_child"]), _lightgbm_depth(node["right_child"]))


class LightGBMMonitor(Monitor):
    """Monitor for LightGBM: pass it in ``callbacks`` of ``lightgbm.train`` or ``fit``.

    Stopping training raises ``lightgbm.callback.EarlyStopException``, LightGBM's own way
    for a callback to end a run; the model keeps the rounds trained so far.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> monitor = LightGBMMonitor(check_every=5)
    >>> _ = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(
    ...     X, y, eval_X=(X,), eval_y=(y,), callbacks=[monitor])
    >>> monitor.history.columns.tolist()
    ['seconds', 'tree_depth', 'train_binary_logloss']
    """

    order = 25  # after LightGBM's own recording callbacks, before its early stopping
    before_iteration = False

    def __call__(self, env) -> None:
        if env.iteration == env.begin_iteration:
            self._reset()
        self._booster = env.model
        scores = self._scores([(result[0], result[1], result[2])
                               for result in env.evaluation_result_list or []])
        dump = env.model.dump_model(start_iteration=env.iteration, num_iteration=1)
        depth = max(_lightgbm_depth(tree["tree_structure"]) for tree in dump["tree_info"])
        stop = self._record(env.iteration, scores, depth)
        if stop or env.iteration == env.end_iteration - 1:
            self.finish()
            self._booster = None
        if stop:
            raise lightgbm.callback.EarlyStopException(env.iteration,
                                                       env.evaluation_result_list or [])

    def _read_importance(self):
        names = self._booster.feature_name()
        return {kind: pd.Series(self._booster.feature_importance(source), index=names,
                                dtype=float)
                for kind, source in (("weight", "split"), ("gain", "gain"))}

    def _predict(self, X):
        return self._booster.predict(X)


# --------------------------------------------------------------------------- one call


def debug_fit(algorithm: str, train: pd.DataFrame, validation: pd.DataFrame, target: str,
              task: str | None = None, *, rules=None, check_every: int = 10, seed: int = 0,
              on_iteration=None, **hyperparameters):
    """Fit ``models.make_pipeline`` with a monitor watching training and validation data.

    The preprocessor is fitted on ``train``; the monitor sees both sets as the model sees
    them and predicts the validation rows at every check. Returns ``(pipeline, monitor)``;
    the fitted pipeline keeps no reference to the monitor.

    >>> from mlcycle_ref import data
    >>> train, validation, _ = data.split(data.load("wine").frame, "target", seed=0)
    >>> model, monitor = debug_fit("lightgbm", train, validation, "target", n_estimators=20,
    ...                            num_leaves=4)
    >>> len(monitor.history), monitor.results()["status"].isin([NO_ISSUES, ISSUES]).all()
    (20, np.True_)
    """
    if algorithm not in ("xgboost", "lightgbm"):
        raise ValueError(f"debug_fit watches boosting: algorithm must be 'xgboost' or "
                         f"'lightgbm', got {algorithm!r}")
    task = task or infer_task(train[target])
    pipeline = models.make_pipeline(algorithm, train, target, task, seed=seed, **hyperparameters)
    X_train, y_train = train.drop(columns=target), train[target]
    X_valid, y_valid = validation.drop(columns=target), validation[target]
    preprocess = pipeline.named_steps["preprocess"].fit(X_train, y_train)
    X_train, X_valid = preprocess.transform(X_train), preprocess.transform(X_valid)
    model = pipeline.named_steps["model"]
    if algorithm == "xgboost":
        monitor = XGBoostMonitor(rules, data=(X_valid, y_valid), check_every=check_every,
                                 on_iteration=on_iteration)
        booster = model.estimator if isinstance(model, models.LabelEncodedClassifier) else model
        booster.set_params(callbacks=[monitor])
        model.fit(X_train, y_train, eval_set=[(X_train, y_train), (X_valid, y_valid)],
                  verbose=False)
        for estimator in (booster, getattr(model, "estimator_", None)):
            if estimator is not None:
                estimator.set_params(callbacks=None)
    else:
        monitor = LightGBMMonitor(rules, data=(X_valid, y_valid), check_every=check_every,
                                  on_iteration=on_iteration)
        # LightGBM 4.7 encodes the labels of ``eval_set`` but not of ``eval_X``/``eval_y``, so
        # text labels (penguin species) reach it raw: hand it the codes its encoder uses.
        eval_y = (y_train, y_valid)
        if task != "regression":
            classes = np.unique(y_train)
            eval_y = tuple(pd.Series(np.searchsorted(classes, y), index=y.index) for y in eval_y)
        model.fit(X_train, y_train, eval_X=(X_train, X_valid), eval_y=eval_y, callbacks=[monitor])
        monitor.finish()
    return pipeline, monitor


# --------------------------------------------------------------------------- report


def plot_learning_curves(monitor: Monitor) -> Figure:
    """Loss per round for each evaluation set, and the seconds each round took.

    A validation curve that turns up while training keeps falling is overfitting.
    """
    history = monitor.history
    if history.empty:
        raise ValueError("the monitor has recorded no round yet; train with it first")
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
    """Horizontal bars: the ``top`` features by importance, as a share of the total."""
    importance = monitor.importance(kind)
    shares = (importance / importance.sum()).sort_values().tail(top)
    fig = new_figure((6, 0.3 * len(shares) + 1.5))
    ax = fig.subplots()
    ax.barh([str(name) for name in shares.index], shares.to_numpy(), color="tab:blue")
    ax.set_xlabel(f"share of total {kind} importance")
    ax.set_title("Feature importance")
    return fig


def plot_confusion(monitor: Monitor) -> Figure:
    """Confusion matrix of the monitored rows at the last check, normalized per true class."""
    labels, predictions = monitor.labels_and_predictions()
    return evaluate.plot_confusion_matrix(labels, predictions, labels=monitor.classes,
                                          normalize=True)


_STATUS_COLORS = {NO_ISSUES: "#d8f0d8", ISSUES: "#f8d0c8", ERROR: "#f0e0a0"}


def plot_rule_summary(monitor: Monitor) -> Figure:
    """The rule results as a colored table: green quiet, red fired, yellow error.

    Messages wrap instead of being cut, and the text is 10 points on a 10-inch figure, so it
    stays legible where the book shows the figure about 690 pixels wide.
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
            drawn[row, col].set_facecolor(_STATUS_COLORS[status])
            # Rows as tall as their wrapped message; the bbox scales them all to fit.
            drawn[row, col].set_height(height)
    for col in range(4):
        drawn[0, col].set_height(1)
    ax.set_title("Debugger rules")
    return fig


def report_figures(monitor: Monitor) -> dict[str, Figure]:
    """The report's figures by name; parts without data (no labels, say) are left out."""
    figures = {"rule_summary": plot_rule_summary(monitor),
               "learning_curves": plot_learning_curves(monitor)}
    for name, plot in (("feature_importance", plot_feature_importance),
                       ("confusion_matrix", plot_confusion)):
        try:
            figures[name] = plot(monitor)
        except MissingData:
            continue
    return figures


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_report(monitor: Monitor, path, *, title: str = "Debugger report") -> Path:
    """Write one self-contained HTML file: rule table and figures as embedded PNG images.

    Nothing in the file points to another file or to the network, so it opens anywhere.

    >>> import tempfile
    >>> from mlcycle_ref import data
    >>> train, validation, _ = data.split(data.load("breast_cancer").frame, "target", seed=0)
    >>> _, monitor = debug_fit("xgboost", train, validation, "target", n_estimators=10)
    >>> page = write_report(monitor, Path(tempfile.mkdtemp()) / "report.html")
    >>> "data:image/png;base64," in page.read_text()
    True
    """
    path = Path(path)
    rows = "\n".join(
        f'<tr style="background:{_STATUS_COLORS[row.status]}"><td>{html.escape(row.rule)}</td>'
        f"<td>{row.status}</td><td>{'' if pd.isna(row.iteration) else int(row.iteration)}</td>"
        f"<td>{html.escape(row.message)}</td><td><code>{html.escape(row.parameters)}</code></td>"
        "</tr>"
        for row in monitor.results().itertuples()
    )
    figures = report_figures(monitor)
    figures.pop("rule_summary")
    images = "\n".join(
        f'<h2>{name.replace("_", " ").capitalize()}</h2>'
        f'<img alt="{name}" src="data:image/png;base64,{_png(fig)}">'
        for name, fig in figures.items()
    )
    history = monitor.history
    stopped = f"stopped by {monitor.stopped_by}" if monitor.stopped_by else "ran to the end"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:left}}
img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{len(history)} boosting rounds, {history["seconds"].sum() if len(history) else 0:.2f} s of
training; training {stopped}.</p>
<h2>Rule summary</h2>
<table><tr><th>rule</th><th>status</th><th>round</th><th>what it saw</th><th>parameters</th></tr>
{rows}
</table>
{images}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
