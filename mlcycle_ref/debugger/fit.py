"""One call that fits the usual model pipeline with a monitor watching it train.

>>> from mlcycle_ref import data
>>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
>>> model, monitor = debug_fit("xgboost", parts.train, parts.validation, "target",
...                            n_estimators=15)
>>> model.predict(parts.test.drop(columns="target")).shape == (len(parts.test),)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlcycle_ref import models
from mlcycle_ref.data import infer_task
from mlcycle_ref.debugger.monitor import Monitor
from mlcycle_ref.debugger.rules import DebuggerError


def debug_fit(algorithm: str, train: pd.DataFrame, validation: pd.DataFrame, target: str,
              task: str | None = None, *, rules=None, check_every: int = 10, seed: int = 0,
              on_iteration=None, **hyperparameters):
    """Fit ``models.make_pipeline`` with a monitor watching training and validation data.

    The preprocessor is fitted on ``train``; the monitor sees both sets as the model sees
    them and predicts the ``validation`` rows at every check. Returns ``(pipeline, monitor)``;
    the fitted pipeline keeps no reference to the monitor.

    Parameters
    ----------
    algorithm : "xgboost" or "lightgbm", the boosting libraries a monitor can watch
    train, validation : frames holding the features and the ``target`` column
    target : name of the column to predict
    task : "binary", "multiclass" or "regression"; inferred from the target when None
    rules, check_every, on_iteration : passed to the :class:`~mlcycle_ref.debugger.monitor.Monitor`
    seed : random seed of the model
    hyperparameters : the model's hyperparameters (``n_estimators``, ``max_depth``, ...)

    Examples
    --------
    >>> from mlcycle_ref import data
    >>> train, validation, _ = data.split(data.load("wine").frame, "target", seed=0)
    >>> model, monitor = debug_fit("lightgbm", train, validation, "target", n_estimators=20,
    ...                            num_leaves=4)
    >>> len(monitor.history), sorted(set(monitor.results()["status"]))
    (20, ['IssuesFound', 'NoIssuesFound'])
    """
    if algorithm not in ("xgboost", "lightgbm"):
        raise DebuggerError(f"debug_fit watches boosting: algorithm must be 'xgboost' or "
                            f"'lightgbm', got {algorithm!r}")
    task = task or infer_task(train[target])
    pipeline = models.make_pipeline(algorithm, train, target, task, seed=seed, **hyperparameters)
    X_train, y_train = train.drop(columns=target), train[target]
    X_valid, y_valid = validation.drop(columns=target), validation[target]
    preprocess = pipeline.named_steps["preprocess"].fit(X_train, y_train)
    X_train, X_valid = preprocess.transform(X_train), preprocess.transform(X_valid)
    model = pipeline.named_steps["model"]
    monitor = Monitor(rules, data=(X_valid, y_valid), check_every=check_every,
                      on_iteration=on_iteration)
    if algorithm == "xgboost":
        booster = model.estimator if isinstance(model, models.LabelEncodedClassifier) else model
        booster.set_params(callbacks=[monitor])
        model.fit(X_train, y_train, eval_set=[(X_train, y_train), (X_valid, y_valid)],
                  verbose=False)
        for estimator in (booster, getattr(model, "estimator_", None)):
            if estimator is not None:
                estimator.set_params(callbacks=None)
    else:
        # LightGBM 4.7 encodes the labels of ``eval_set`` but not of ``eval_X``/``eval_y``, so
        # text labels (penguin species) reach it raw: hand it the codes its encoder uses.
        eval_y = (y_train, y_valid)
        if task != "regression":
            classes = np.unique(y_train)
            eval_y = tuple(pd.Series(np.searchsorted(classes, y), index=y.index) for y in eval_y)
        model.fit(X_train, y_train, eval_X=(X_train, X_valid), eval_y=eval_y,
                  callbacks=[monitor.lightgbm])
        monitor.finish()
    return pipeline, monitor
