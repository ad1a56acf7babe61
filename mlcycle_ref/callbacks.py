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

>>> import numpy as np, xgboost
>>> class Count(RoundCallback):
...     def after_round(self, rounds, predict):
...         self.seen = rounds, predict(X).shape
...         return rounds == 3
>>> X, y = np.arange(20.0).reshape(-1, 1), np.arange(20) % 2
>>> counter = Count()
>>> _ = xgboost.XGBClassifier(n_estimators=10, callbacks=[counter]).fit(X, y)
>>> counter.seen
(3, (20,))
"""

from __future__ import annotations

import importlib

import lightgbm
import xgboost


class StopTraining(Exception):  # noqa: N818 - it is a request, not an error
    """Raised from a training callback to end the job as ``Stopped`` with this message.

    The tuner's pruning callback raises it when a trial is not worth finishing.
    """


class RoundCallback(xgboost.callback.TrainingCallback):
    """Base of every per-round training callback, for XGBoost and LightGBM alike.

    Subclasses implement :meth:`after_round`.
    """

    def after_round(self, rounds: int, predict) -> bool:
        """Look at the model after ``rounds`` rounds; return True to stop boosting."""
        raise NotImplementedError

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        rounds = epoch + 1
        return bool(self.after_round(
            rounds, lambda X: model.predict(xgboost.DMatrix(X), iteration_range=(0, rounds))))

    def lightgbm(self, env) -> None:
        """The LightGBM callback: pass ``callbacks=[instance.lightgbm]``.

        A method, not the instance: LightGBM runs any callback that has a
        ``before_iteration`` attribute, as XGBoost callbacks do, before each round.
        """
        rounds = env.iteration + 1
        if self.after_round(rounds, lambda X: env.model.predict(X, num_iteration=rounds)):
            # LightGBM ends boosting, keeping the rounds done, on this exception.
            raise lightgbm.callback.EarlyStopException(env.iteration,
                                                       env.evaluation_result_list or [])


def load(path: str):
    """The object named by ``"package.module:name"``, imported on demand.

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
