"""Monitors: record a boosting run round by round and evaluate the rules as it goes.

A :class:`Monitor` is a :class:`~mlcycle_ref.callbacks.RoundCallback`, the adapter the job
worker and the tuner use too, so one class watches XGBoost and LightGBM alike: pass the
monitor itself in XGBoost's ``callbacks``, its ``lightgbm`` method in LightGBM's (or a
:class:`LightGBMMonitor`, which LightGBM takes as it is).

>>> import numpy as np, xgboost
>>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
>>> monitor = Monitor(check_every=5, data=(X, y))
>>> _ = xgboost.XGBClassifier(n_estimators=10, max_depth=2, callbacks=[monitor]).fit(
...     X, y, eval_set=[(X, y)], verbose=False)
>>> len(monitor.history), monitor.results().loc[0, "rule"]
(10, 'LossNotDecreasing')
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from mlcycle_ref.callbacks import BoostingRound, RoundCallback
from mlcycle_ref.data import infer_task
from mlcycle_ref.debugger.builtin import default_rules
from mlcycle_ref.debugger.rules import (
    ISSUES,
    NO_ISSUES,
    DebuggerError,
    MissingData,
    Rule,
    RuleResult,
)

ROLES = ("train", "validation")


class Monitor(RoundCallback):
    """Record every round of a boosting run and evaluate the rules every ``check_every`` rounds.

    After each round it records the evaluation metrics, the seconds the round took and the
    depth of the newest trees; at every check, and once more when training ends, it also
    reads the feature importance and predicts the monitored rows.

    Parameters
    ----------
    rules : rules to evaluate (default: :func:`~mlcycle_ref.debugger.builtin.default_rules`)
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
    iteration : the latest round recorded, counted from 0 (None before the first)
    classes : the monitored rows' classes at the latest check (None for regression)
    stopped_by : name of the rule (or "on_iteration") that stopped training, else None

    Examples
    --------
    >>> import lightgbm, numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> monitor = Monitor(data=(X, y), check_every=4)
    >>> _ = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(
    ...     X, y, eval_X=(X, X), eval_y=(y, y), callbacks=[monitor.lightgbm])
    >>> monitor.loss("validation").name, monitor.iteration, monitor.classes
    ('binary_logloss', 7, [0, 1])
    >>> labels, predictions = monitor.labels_and_predictions()
    >>> float((labels == predictions).mean()) > 0.9
    True
    >>> monitor.importance("weight").idxmax()
    'Column_0'
    >>> found = monitor.results()
    >>> found.loc[found["status"] == "IssuesFound", "rule"].tolist()  # 3 features hold it all
    ['FeatureImportanceOverweight']
    """

    def __init__(self, rules=None, *, data=None, eval_roles=ROLES, check_every: int = 10,
                 on_iteration=None):
        if check_every < 1:
            raise DebuggerError(f"check_every must be >= 1, got {check_every}")
        self.rules = tuple(default_rules() if rules is None else rules)
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"rules must be Rule objects, got {rule!r}")
        self.data = data
        self.eval_roles = tuple(eval_roles)
        self.check_every = check_every
        self.on_iteration = on_iteration
        self.start()

    def __deepcopy__(self, memo):
        # scikit-learn's clone deep-copies constructor parameters such as XGBoost's
        # ``callbacks``; a copy would record the run while the caller's monitor stayed empty.
        return self

    # ---- the training callback

    def start(self) -> None:
        """Forget any earlier run; the adapter calls this before a training run's first round.

        >>> monitor = Monitor()
        >>> monitor.start()
        >>> monitor.history.empty, monitor.stopped_by
        (True, None)
        """
        self._rows: list[dict] = []
        self._round: BoostingRound | None = None
        self._importance: dict[str, pd.Series] = {}
        self._labels = self._predictions = None
        self._results: list[RuleResult | None] = [None] * len(self.rules)
        self.classes = None
        self.stopped_by: str | None = None
        self._finished = False
        self._clock = time.perf_counter()

    def on_round(self, state: BoostingRound) -> bool:
        """Record the round ``state``, evaluate the rules when a check is due; True stops.

        >>> import numpy as np, xgboost
        >>> X = np.arange(60.0).reshape(-1, 3); y = np.arange(20) % 2
        >>> monitor = Monitor()
        >>> _ = xgboost.XGBClassifier(n_estimators=3, max_depth=1, callbacks=[monitor]).fit(
        ...     X, y, eval_set=[(X, y)], verbose=False)
        >>> monitor.history["tree_depth"].tolist()
        [1, 1, 1]
        """
        self._round = state
        scores = self._scores(state.scores)
        return self._record(state.rounds - 1, scores, state.tree_depth())

    def finish(self) -> None:
        """Evaluate the rules a last time; the adapter calls this when training ends.

        Call it by hand when another callback (early stopping) ended a LightGBM run. Calling
        it again does nothing.

        Random labels give early stopping something to stop:

        >>> import lightgbm, numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
        >>> X_valid, y_valid = rng.normal(size=(100, 3)), rng.integers(0, 2, 100)
        >>> monitor = Monitor(check_every=50)
        >>> _ = lightgbm.LGBMClassifier(n_estimators=50, early_stopping_round=3, verbose=-1).fit(
        ...     X, y, eval_X=(X, X_valid), eval_y=(y, y_valid), callbacks=[monitor.lightgbm])
        >>> len(monitor.history), monitor.results().loc[1, "message"]
        (4, 'not evaluated yet')
        >>> monitor.finish()
        >>> monitor.results().loc[1, "message"]
        'largest gap: validation 8.5% above training at round 3'
        """
        if not self._finished and self._rows:
            self._check()
        self._finished = True
        self._round = None  # let the model go with the training run

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
        """Feature importance at the latest check, of ``kind`` "weight" (splits) or "gain"."""
        if kind not in ("weight", "gain"):
            raise DebuggerError(f"importance kind must be 'weight' or 'gain', got {kind!r}")
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

    def results(self) -> pd.DataFrame:
        """One row per rule: rule, status, iteration, message, parameters."""
        rows = []
        for rule, result in zip(self.rules, self._results, strict=True):
            result = result or RuleResult(rule.name, NO_ISSUES, "not evaluated yet")
            rows.append({"rule": result.rule, "status": result.status,
                         "iteration": result.iteration, "message": result.message,
                         "parameters": rule.parameters})
        return pd.DataFrame(rows, columns=["rule", "status", "iteration", "message", "parameters"])

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
        self._importance = {kind: pd.Series(self._round.importance(kind), dtype=float)
                            for kind in ("weight", "gain")}
        if self.data is None:
            return
        X, y = self.data
        y = np.asarray(y)
        if infer_task(pd.Series(y)) == "regression":
            return
        # Libraries number classes 0..k-1 in sorted order, as LabelEncoder does.
        classes = np.unique(y)
        scores = np.asarray(self._round.predict(X))
        codes = (scores > 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        self.classes = classes.tolist()
        self._labels, self._predictions = y, classes[codes]

    def _scores(self, named_values) -> dict[str, float]:
        """``{role_metric: value}`` from ``(set name, metric, value)`` in library order."""
        sets = list(dict.fromkeys(name for name, _, _ in named_values))
        roles = {name: (self.eval_roles[i] if i < len(self.eval_roles) else name)
                 for i, name in enumerate(sets)}
        return {f"{roles[name]}_{metric}": float(value) for name, metric, value in named_values}


XGBoostMonitor = Monitor  # the name for XGBoost, which takes any monitor in its callbacks


class LightGBMMonitor(Monitor):
    """A :class:`Monitor` that LightGBM takes as it is: ``callbacks=[monitor]``.

    A plain monitor is passed to LightGBM as ``monitor.lightgbm``; this one is callable
    itself and tells LightGBM to call it after each round, not before. Stopping training
    raises ``lightgbm.callback.EarlyStopException``, LightGBM's own way for a callback to end
    a run; the model keeps the rounds trained so far.

    >>> import lightgbm, numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> monitor = LightGBMMonitor(check_every=5)
    >>> _ = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(
    ...     X, y, eval_X=(X,), eval_y=(y,), callbacks=[monitor])
    >>> monitor.history.columns.tolist()
    ['seconds', 'tree_depth', 'train_binary_logloss']
    """

    # LightGBM runs a callback with a true ``before_iteration`` before each round.
    before_iteration = False

    def __call__(self, env) -> None:
        self.lightgbm(env)
