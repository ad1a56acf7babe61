"""One adapter from XGBoost and LightGBM boosting rounds to the code that watches them.

XGBoost calls ``after_iteration(model, epoch, evals_log)`` on a ``TrainingCallback``;
LightGBM calls a function with its training environment. A :class:`RoundCallback` is the
first and gives the second as its ``lightgbm`` method; it hands its subclass one question
per round, ``after_round(rounds, predict)``, where ``predict(X)`` scores rows with the model
as it stands after ``rounds`` rounds. Returning True ends boosting and keeps the rounds
done so far; raising :class:`StopTraining` ends the training job as ``Stopped``.

Training jobs stop at their deadline this way and the tuner reports each trial's score
to Optuna. A job names its callback by import path (:func:`load`), so the job worker
never imports the tuner.

A callback that needs more than predictions - the debugger's monitors read the evaluation
metrics, the depth of the newest trees and the feature importance - overrides
:meth:`RoundCallback.on_round` instead, which receives the whole :class:`BoostingRound`,
and :meth:`RoundCallback.start` and :meth:`RoundCallback.finish`, called around training.
:class:`RoundCallback` shows one callback serving both libraries.
"""

from __future__ import annotations

import importlib
import json

import lightgbm
import xgboost


class StopTraining(Exception):  # noqa: N818 - it is a request, not an error
    """Raised from a training callback to end the job as ``Stopped`` with this message.

    The tuner's pruning callback raises it when a trial is not worth finishing. It passes
    through the library's ``fit`` to the job worker, which records the message:

    >>> import numpy as np
    >>> class GiveUp(RoundCallback):
    ...     def after_round(self, rounds, predict):
    ...         raise StopTraining(f"not worth it after {rounds} round")
    >>> X, y = np.arange(20.0).reshape(-1, 1), np.arange(20) % 2
    >>> xgboost.XGBClassifier(n_estimators=5, callbacks=[GiveUp()]).fit(X, y)
    Traceback (most recent call last):
    ...
    mlcycle_ref.callbacks.StopTraining: not worth it after 1 round
    """


class BoostingRound:
    """The model after one boosting round, the same view whichever library trains it.

    ``rounds`` counts the rounds done so far from 1; ``scores`` lists, in the library's order
    of evaluation sets, ``(set name, metric, value)`` for this round. The methods read the
    model as it stands after ``rounds`` rounds: :meth:`predict` scores rows (probabilities for
    classifiers), :meth:`tree_depth` is the depth of the deepest tree this round added, and
    :meth:`importance` gives each feature's ``"weight"`` (times used in a split) or ``"gain"``
    (total gain of its splits). They cost a pass over the model, so they run only when called.

    >>> import numpy as np, xgboost
    >>> class Look(RoundCallback):
    ...     def on_round(self, state):
    ...         self.state = state
    ...         return False
    >>> X, y = np.arange(40.0).reshape(-1, 2), np.arange(20) % 2
    >>> look = Look()
    >>> _ = xgboost.XGBClassifier(n_estimators=3, max_depth=2, callbacks=[look]).fit(
    ...     X, y, eval_set=[(X, y)], verbose=False)
    >>> look.state.rounds, look.state.scores[0][:2], look.state.predict(X).shape
    (3, ('validation_0', 'logloss'), (20,))
    >>> look.state.tree_depth() <= 2, sorted(look.state.importance("gain")) <= ["f0", "f1"]
    (True, True)
    """

    def __init__(self, rounds: int, scores: list[tuple[str, str, float]]):
        self.rounds = rounds
        self.scores = scores

    def predict(self, X):
        """Scores of the rows ``X`` by the model of the first ``rounds`` rounds."""
        raise NotImplementedError

    def tree_depth(self) -> int:
        """Levels of the deepest tree added in this round (0 for a lone leaf)."""
        raise NotImplementedError

    def importance(self, kind: str) -> dict[str, float]:
        """``{feature: importance}`` of ``kind`` "weight" or "gain"; unused features are left out.
        """
        raise NotImplementedError


def _xgboost_depth(node: dict) -> int:
    return 0 if "leaf" in node else 1 + max(_xgboost_depth(child) for child in node["children"])


class _XGBoostRound(BoostingRound):
    _IMPORTANCE = {"weight": "weight", "gain": "total_gain"}

    def __init__(self, booster: xgboost.Booster, epoch: int, evals_log: dict):
        super().__init__(epoch + 1, [(name, metric, float(values[-1]))
                                     for name, metrics in evals_log.items()
                                     for metric, values in metrics.items()])
        self.booster = booster

    def predict(self, X):
        return self.booster.predict(xgboost.DMatrix(X), iteration_range=(0, self.rounds))

    def tree_depth(self):
        trees = self.booster[self.rounds - 1:self.rounds].get_dump(dump_format="json")
        return max(_xgboost_depth(json.loads(tree)) for tree in trees)

    def importance(self, kind):
        scores = self.booster.get_score(importance_type=self._IMPORTANCE[kind])
        return {name: float(value) for name, value in scores.items()}


def _lightgbm_depth(node: dict) -> int:
    if "leaf_value" in node:
        return 0
    return 1 + max(_lightgbm_depth(node["left_child"]), _lightgbm_depth(node["right_child"]))


class _LightGBMRound(BoostingRound):
    _IMPORTANCE = {"weight": "split", "gain": "gain"}

    def __init__(self, env):
        super().__init__(env.iteration + 1, [(result[0], result[1], float(result[2]))
                                             for result in env.evaluation_result_list or []])
        self.booster = env.model

    def predict(self, X):
        return self.booster.predict(X, num_iteration=self.rounds)

    def tree_depth(self):
        dump = self.booster.dump_model(start_iteration=self.rounds - 1, num_iteration=1)
        return max(_lightgbm_depth(tree["tree_structure"]) for tree in dump["tree_info"])

    def importance(self, kind):
        values = self.booster.feature_importance(self._IMPORTANCE[kind], iteration=self.rounds)
        return {name: float(value) for name, value in
                zip(self.booster.feature_name(), values, strict=True) if value > 0}


class RoundCallback(xgboost.callback.TrainingCallback):
    """Base of every per-round training callback, for XGBoost and LightGBM alike.

    Subclasses implement :meth:`after_round`, or :meth:`on_round` when they need more of the
    round than predictions; :meth:`start` and :meth:`finish` may prepare and close a run.
    The instance itself is the XGBoost callback, its :meth:`lightgbm` method the LightGBM
    one. This one stops either library after 3 rounds:

    >>> import numpy as np, lightgbm
    >>> class Count(RoundCallback):
    ...     def after_round(self, rounds, predict):
    ...         self.seen = rounds, predict(X).shape
    ...         return rounds == 3
    >>> X, y = np.arange(20.0).reshape(-1, 1), np.arange(20) % 2
    >>> counter = Count()
    >>> _ = xgboost.XGBClassifier(n_estimators=10, callbacks=[counter]).fit(X, y)
    >>> counter.seen
    (3, (20,))
    >>> model = lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=2, verbose=-1)
    >>> model.fit(X, y, callbacks=[counter.lightgbm]).booster_.num_trees()
    3
    >>> RoundCallback().after_round(1, None)  # the base class has no rule of its own
    Traceback (most recent call last):
    ...
    NotImplementedError
    """

    def after_round(self, rounds: int, predict) -> bool:
        """Look at the model after ``rounds`` rounds; return True to stop boosting.

        ``predict(X)`` scores the rows ``X`` with the first ``rounds`` rounds of the model:
        probabilities for classifiers, values for regression.
        """
        raise NotImplementedError

    def on_round(self, state: BoostingRound) -> bool:
        """Look at the whole :class:`BoostingRound` ``state``; return True to stop boosting.

        The default hands :meth:`after_round` the round count and the predictions.

        >>> import numpy as np, xgboost
        >>> class Deepest(RoundCallback):
        ...     def on_round(self, state):
        ...         self.depth = state.tree_depth()
        ...         return False
        >>> deepest = Deepest()
        >>> X, y = np.arange(40.0).reshape(-1, 2), np.arange(20) % 3
        >>> _ = xgboost.XGBRegressor(n_estimators=2, max_depth=1, callbacks=[deepest]).fit(X, y)
        >>> deepest.depth
        1
        """
        return self.after_round(state.rounds, state.predict)

    def start(self) -> None:
        """Called once before the first round of each training run; does nothing here.

        >>> RoundCallback().start() is None
        True
        """

    def finish(self) -> None:
        """Called once training ends; does nothing here.

        XGBoost calls it however training ended. LightGBM has no end-of-training hook: the
        adapter calls it after the last round asked for or when this callback stops training,
        so a LightGBM run ended early by another callback (early stopping) needs a call by hand.

        >>> RoundCallback().finish() is None
        True
        """

    def before_training(self, model):
        self.start()
        return model

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        return bool(self.on_round(_XGBoostRound(model, epoch, evals_log)))

    def after_training(self, model):
        self.finish()
        return model

    def lightgbm(self, env) -> None:
        """The LightGBM callback: pass ``callbacks=[instance.lightgbm]``.

        A method, not the instance: LightGBM runs any callback that has a
        ``before_iteration`` attribute, as XGBoost callbacks do, before each round.
        ``env`` is the training environment LightGBM hands its callbacks.
        """
        if env.iteration == env.begin_iteration:
            self.start()
        stop = self.on_round(_LightGBMRound(env))
        if stop or env.iteration == env.end_iteration - 1:
            self.finish()
        if stop:
            # LightGBM ends boosting, keeping the rounds done, on this exception.
            raise lightgbm.callback.EarlyStopException(env.iteration,
                                                       env.evaluation_result_list or [])


def load(path: str):
    """The object named by ``path``, ``"package.module:name"``, imported on demand.

    >>> load("mlcycle_ref.callbacks:StopTraining").__name__
    'StopTraining'
    >>> load("mlcycle_ref.callbacks")
    Traceback (most recent call last):
    ...
    ValueError: callback factory 'mlcycle_ref.callbacks': expected 'package.module:name'
    """
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"callback factory {path!r}: expected 'package.module:name'")
    return getattr(importlib.import_module(module), name)
