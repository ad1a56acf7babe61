"""Hyperparameter tuning: many training jobs, each trying values chosen by a search strategy.

A :class:`Tuner` takes a job template (a :class:`~mlcycle_ref.jobs.JobSpec`), the validation
metric to optimize and the ranges to explore (:class:`~mlcycle_ref.models.Range`: integer,
continuous or categorical, on a linear or log scale). It runs on Optuna:

==============  ===========================================================================
strategy        how the next values are chosen
==============  ===========================================================================
``bayesian``    a model of the results so far proposes promising values (Optuna's TPE)
``random``      independent random draws from the ranges
``grid``        every combination of ``grid_points`` values per range (categoricals: all)
``hyperband``   random draws, and trials that score poorly after few boosting rounds are
                stopped so that the budget goes to the promising ones (successive halving)
==============  ===========================================================================

``early_stopping=True`` stops a trial whose validation score after a number of boosting
rounds is worse than the median of earlier trials at the same round. Both hyperband and early
stopping need per-round validation scores, so they apply to ``xgboost`` and ``lightgbm``:
the job reports its score every ``REPORT_EVERY`` rounds through :class:`TrialReporter`.

Every trial is a training job in the job store, run by the ``local`` or ``dask`` backend,
up to ``max_parallel_jobs`` at a time. The study lives in an Optuna storage (by default a
journal file under ``data_dir()``) that every worker process reaches, and its default name
is derived from the settings: running the same tuning again - after an interruption, say -
continues the study instead of repeating finished trials. :class:`Tuner` shows a whole
tuning run in its example.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import pickle
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: Optuna's own file lock is used instead
    fcntl = None

import numpy as np
import optuna
import pandas as pd
import psutil
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
from optuna.trial import TrialState
from rich.progress import MofNCompleteColumn, Progress

from mlcycle_ref import callbacks, evaluate, jobs, models
from mlcycle_ref.paths import data_dir
from mlcycle_ref.plots import new_figure

STRATEGIES = ("bayesian", "random", "grid", "hyperband")
PRUNERS = ("median", "hyperband")
REPORT_EVERY = 10  # boosting rounds between two validation scores sent to the tuner
BAYESIAN_STARTUP_TRIALS = 5  # random trials before TPE starts modelling the results
CLAIM_GRACE = 2.0  # seconds a live tuner may take between asking for a trial and claiming it
MEDIAN_STARTUP_TRIALS = 5  # trials that finish before the median rule stops any trial
_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


# --------------------------------------------------------------------------- building blocks


def parse_objective(objective: str, direction: str | None = None) -> tuple[str, str]:
    """Split ``objective``, ``"validation:roc_auc"`` or just ``"roc_auc"``, into the metric
    and its direction.

    Error metrics (``rmse``, ``mae``, ``log_loss``) are minimized, scores maximized, unless
    ``direction`` ("maximize" or "minimize") says otherwise.

    >>> parse_objective("validation:log_loss")
    ('log_loss', 'minimize')
    >>> parse_objective("f1")
    ('f1', 'maximize')
    """
    channel, _, metric = objective.rpartition(":")
    if channel not in ("", "validation"):
        raise ValueError(
            f"objective {objective!r}: tuning optimizes a validation metric, "
            f"write 'validation:{metric}' or just '{metric}'"
        )
    known = sorted({name for names in evaluate.METRICS.values() for name in names})
    if metric not in known:
        raise ValueError(f"objective {objective!r}: unknown metric {metric!r}; choose from {known}")
    if direction is None:
        direction = "minimize" if metric in evaluate.LOWER_IS_BETTER else "maximize"
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return metric, direction


def grid(ranges: Sequence[models.Range], points: int = 3) -> dict[str, list]:
    """Discretize ranges for the grid strategy: ``points`` values each, evenly spaced
    (geometrically on a log scale); integers are rounded and deduplicated.

    >>> grid([models.Range("depth", "int", 2, 10),
    ...       models.Range("rate", "float", 0.01, 1.0, log=True)])
    {'depth': [2, 6, 10], 'rate': [0.01, 0.1, 1.0]}
    """
    values = {}
    for item in ranges:
        if item.kind == "categorical":
            values[item.name] = list(item.choices)
            continue
        spaced = (np.geomspace if item.log else np.linspace)(item.low, item.high, points)
        if item.kind == "int":
            values[item.name] = sorted({int(round(v)) for v in spaced})
        else:
            values[item.name] = [float(round(v, 12)) for v in spaced]
    return values


def make_sampler(strategy: str, ranges: Sequence[models.Range], *, seed: int = 0,
                 grid_points: int = 3) -> optuna.samplers.BaseSampler:
    """The Optuna sampler behind a strategy (hyperband samples at random).

    ``strategy`` is one of ``STRATEGIES``; ``ranges`` (the search space) matters only to
    the grid, which takes ``grid_points`` values of each numeric range (see :func:`grid`).
    ``seed`` seeds the sampler, so the same seed proposes the same values.

    >>> type(make_sampler("bayesian", [])).__name__
    'TPESampler'
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "bayesian":
        # Multivariate TPE models the parameters jointly (learning rate and number of rounds
        # only make sense together); starting it after 5 random trials rather than Optuna's
        # 10 needed fewer trials in bench/bench_platform.py.
        return optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                          n_startup_trials=BAYESIAN_STARTUP_TRIALS)
    if strategy == "grid":
        return _GridSampler(grid(ranges, grid_points), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus its call to ``Study.stop`` once the grid is covered:
    that call works only inside ``Study.optimize``, and the tuner's budget stops it anyway."""

    def after_trial(self, study, trial, state, values) -> None:
        return None


def make_pruner(kind, *, max_resource: int | None = None) -> optuna.pruners.BasePruner:
    """The pruner ``kind`` names: ``"median"`` (early stopping), ``"hyperband"`` or None (no
    pruning).

    Steps are boosting rounds; ``max_resource`` is the largest number of rounds a trial runs.
    A pruner object, or one made portable by the tuner, comes back as it is.

    >>> type(make_pruner("median")).__name__
    'MedianPruner'
    >>> type(make_pruner(_portable(optuna.pruners.ThresholdPruner(lower=0.5)))).__name__
    'ThresholdPruner'
    """
    if isinstance(kind, optuna.pruners.BasePruner):
        return kind
    if isinstance(kind, dict):
        return pickle.loads(base64.b64decode(kind["pickle"]))
    if kind is None:
        return optuna.pruners.NopPruner()
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                           n_warmup_steps=2 * REPORT_EVERY)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=REPORT_EVERY,
                                              max_resource=max_resource, reduction_factor=3)
    raise ValueError(f"pruner must be 'median', 'hyperband' or None, got {kind!r}")


def _portable(pruner):
    """A pruner as JSON for the training job's spec: its name, or the object pickled."""
    if isinstance(pruner, optuna.pruners.BasePruner):
        return {"pickle": base64.b64encode(pickle.dumps(pruner)).decode("ascii")}
    return pruner


def suggest(trial: optuna.Trial, ranges: Sequence[models.Range]) -> dict:
    """Ask the Optuna ``trial`` for one value per entry of ``ranges`` (``models.Range``).

    Returns the values by range name, integers for "int" ranges.

    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> params = suggest(study.ask(), [models.Range("depth", "int", 2, 10)])
    >>> 2 <= params["depth"] <= 10
    True
    """
    values = {}
    for item in ranges:
        if item.kind == "int":
            values[item.name] = trial.suggest_int(item.name, int(item.low), int(item.high),
                                                  log=item.log)
        elif item.kind == "float":
            values[item.name] = trial.suggest_float(item.name, item.low, item.high, log=item.log)
        else:
            values[item.name] = trial.suggest_categorical(item.name, list(item.choices))
    return values


class _ProcessLock:
    """Lock of a journal file held with ``flock``: the system drops it when its process dies.

    Optuna's own file locks survive a killed process and are only broken after 30 seconds,
    which would stall a tuning resumed right after an interruption.
    """

    def __init__(self, journal: str):
        self.path = journal + ".flock"
        self._file = None

    def acquire(self) -> bool:
        self._file = open(self.path, "a")  # noqa: SIM115 - held until release()
        fcntl.flock(self._file, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None


JOURNAL = "journal:///"


def storage_url(storage: str | Path | None) -> str:
    """The URL of an Optuna storage: a database URL, or ``journal:///path`` for a journal file.

    A ``Path`` names a journal file; None is the default journal in ``data_dir()``. A plain
    string must say which it is, so a typo never becomes a new file.

    >>> storage_url(Path("/tmp/studies.journal"))
    'journal:////tmp/studies.journal'
    >>> storage_url("postgresql+psycopg://tuner@db/studies")
    'postgresql+psycopg://tuner@db/studies'
    >>> storage_url("studies.journal")
    Traceback (most recent call last):
    ...
    ValueError: storage 'studies.journal': give a database URL or journal:///path/to/file
    """
    if storage is None:
        storage = data_dir() / "tuning" / "studies.journal"
    if isinstance(storage, Path):
        return f"{JOURNAL}{storage.resolve()}"
    if storage.startswith(JOURNAL):
        return storage
    # SQLAlchemy only here: each trial's worker imports this module for TrialReporter, and
    # importing SQLAlchemy there took half the time of a small trial.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(storage)
    except ArgumentError:
        raise ValueError(f"storage {storage!r}: give a database URL or "
                         f"{JOURNAL}path/to/file") from None
    return storage


def open_storage(storage: str | Path | None):
    """An Optuna storage for :func:`storage_url` ``(storage)``.

    A journal file (``JournalFileBackend``) is safe for many processes on one machine; SQLite
    is not (it reports "database is locked"), so it suits a single process only.

    >>> import tempfile
    >>> type(open_storage(Path(tempfile.mkdtemp()) / "studies.journal")).__name__
    'JournalStorage'
    >>> open_storage("postgresql+psycopg://tuner@db/studies")  # Optuna opens a URL itself
    'postgresql+psycopg://tuner@db/studies'
    """
    url = storage_url(storage)
    if not url.startswith(JOURNAL):
        return url
    path = Path(url[len(JOURNAL) - 1:])
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    lock = _ProcessLock(str(path)) if fcntl is not None else None
    return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))


# --------------------------------------------------------------------------- the reporter


class TrialReporter(callbacks.RoundCallback):
    """Send the validation score of a boosting job to its Optuna trial every few rounds.

    Every ``REPORT_EVERY`` rounds it scores the model so far on the validation rows with
    the tuner's metric, reports it, and raises :class:`~mlcycle_ref.callbacks.StopTraining`
    when the trial's pruner says the trial is not worth finishing. ``link`` holds the
    storage, study name, trial id, metric and pruner; the training job creates the reporter
    from it, through the import path the tuner puts in the job's spec. ``inputs`` and
    ``labels`` are the validation rows and their labels, ``task`` the learning task and
    ``classes`` the labels in the order of the model's probability columns.

    >>> reporter = TrialReporter({"metric": "accuracy"}, pd.DataFrame({"x": [0.0, 1.0]}),
    ...                          pd.Series(["no", "yes"]), task="binary", classes=["no", "yes"])
    >>> reporter.score([0.2, 0.4])  # the second row is scored "no", wrongly
    0.5
    >>> reporter.after_round(3, predict=None)  # reports only every REPORT_EVERY rounds
    False
    """

    def __init__(self, link: dict, inputs: pd.DataFrame, labels: pd.Series, *, task: str,
                 classes: np.ndarray):
        self.link = link
        self.inputs = inputs
        self.labels = np.asarray(labels)
        self.task = task
        self.classes = np.asarray(classes)
        self._trial = None

    def after_round(self, rounds: int, predict) -> bool:
        """Every ``REPORT_EVERY`` rounds, report the score of ``predict(inputs)``; never stop
        boosting itself (the pruner does, by :class:`~mlcycle_ref.callbacks.StopTraining`)."""
        if rounds % REPORT_EVERY == 0:
            self._report(rounds, predict(self.inputs))
        return False

    def score(self, predictions: np.ndarray) -> float:
        """The tuner's metric for ``predictions`` (probabilities for classifiers: one per row
        for binary tasks, one column per class otherwise)."""
        predictions = np.asarray(predictions)
        if self.task == "regression":
            return evaluate.metrics(self.labels, predictions, task=self.task)[self.link["metric"]]
        if predictions.ndim == 1:
            predicted = self.classes[(predictions > 0.5).astype(int)]
        else:
            predicted = self.classes[predictions.argmax(axis=1)]
        return evaluate.metrics(self.labels, predicted, task=self.task, y_score=predictions,
                                labels=self.classes)[self.link["metric"]]

    def _open(self) -> optuna.Trial:
        if self._trial is None:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study = optuna.load_study(
                study_name=self.link["study_name"], storage=open_storage(self.link["storage"]),
                sampler=optuna.samplers.RandomSampler(),
                pruner=make_pruner(self.link["pruner"], max_resource=self.link["max_resource"]))
            self._trial = optuna.trial.Trial(study, self.link["trial_id"])
        return self._trial

    def _report(self, rounds: int, predictions) -> None:
        value = self.score(predictions)
        trial = self._open()
        trial.report(value, rounds)
        if trial.should_prune():
            raise callbacks.StopTraining(
                f"pruned by the tuner after {rounds} boosting rounds "
                f"(validation {self.link['metric']} {value:.4f})"
            )


# --------------------------------------------------------------------------- the tuner


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _abandoned(owner: str) -> bool:
    """True when the tuner process that ran a trial is gone (or is this very process)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return int(pid) == os.getpid() or not psutil.pid_exists(int(pid))


def _fingerprint(channel) -> str:
    if isinstance(channel, pd.DataFrame):
        return hashlib.sha1(pd.util.hash_pandas_object(channel).to_numpy().tobytes()).hexdigest()
    return str(channel)


class Tuner:
    """Search hyperparameters by running one training job per trial.

    Parameters
    ----------
    job_template : JobSpec
        Algorithm, task, channels (a validation channel is required), fixed
        hyperparameters and resources shared by every trial.
    objective : str
        Validation metric to optimize, ``"validation:roc_auc"`` or just ``"roc_auc"``.
    ranges : sequence of models.Range, optional
        The search space; default ``models.tunable_ranges(algorithm, task)``.
    strategy : ``"bayesian"``, ``"random"``, ``"grid"``, ``"hyperband"``, or an Optuna sampler
        Each name is a shortcut for a sampler (and, for hyperband, a pruner) set up for
        boosting; a sampler object is used as it is, ``seed`` does not reach it.
    pruner : ``"median"``, ``"hyperband"``, an Optuna pruner, or None
        Stops poor trials from their per-round validation scores (boosting algorithms only).
        A pruner object must pickle: each training job rebuilds it to ask it.
    max_jobs : int
        Trials to finish in total (completed, pruned and failed ones count; a grid stops
        earlier when it has tried every combination).
    max_parallel_jobs : int
        Jobs running at the same time.
    early_stopping : bool
        Shortcut for ``pruner="median"``.
    seed : int
        Seed of the sampler; trials and their order are reproducible with one parallel job.
    storage : str or Path, optional
        A database URL, ``journal:///path/to/file.journal`` or a ``Path`` to a journal file;
        default ``data_dir()/tuning/studies.journal``.
    study_name : str, optional
        Default: derived from the settings, so the same tuning resumes its own study.
    direction : ``"maximize"`` or ``"minimize"``, optional
        Default: minimize error metrics (rmse, mae, log_loss), maximize the others.
    warm_start : str or Tuner, optional
        An earlier study (its name in ``storage``, or its tuner): its completed trials are
        copied in first, so the bayesian strategy starts from what it learned.
    backend, client, store
        Where the jobs run and are recorded, as in :func:`mlcycle_ref.jobs.run`.
    grid_points : int
        Values per numeric range for the grid strategy.

    Examples
    --------
    Three trials of a logistic regression; each is a training job, so this takes seconds.

    >>> import os, tempfile
    >>> os.environ["MLCYCLE_DATA_DIR"] = tempfile.mkdtemp()
    >>> from mlcycle_ref import data, jobs
    >>> train, validation, _ = data.split(data.load("breast_cancer").frame, "target")
    >>> template = jobs.JobSpec("linear", "binary", "target", train, validation)
    >>> tuner = Tuner(template, "validation:roc_auc", strategy="random", max_jobs=3)
    >>> tuner.run(progress=False).results()["state"].tolist()
    ['COMPLETE', 'COMPLETE', 'COMPLETE']
    >>> tuner.best_job().status
    'Completed'
    >>> tuner.importance().to_dict()  # one range, so it explains everything
    {'C': 1.0}
    >>> figures = tuner.plot_history(), tuner.plot_parameters(), tuner.plot_importance()
    >>> [len(figure.axes) for figure in figures]
    [1, 1, 1]
    """

    def __init__(self, job_template: jobs.JobSpec, objective: str,
                 ranges: Sequence[models.Range] | None = None, *,
                 strategy: str | optuna.samplers.BaseSampler = "bayesian",
                 pruner: str | optuna.pruners.BasePruner | None = None,
                 max_jobs: int = 20, max_parallel_jobs: int = 1, early_stopping: bool = False,
                 seed: int = 0, storage: str | Path | None = None, study_name: str | None = None,
                 direction: str | None = None, warm_start: str | Tuner | None = None,
                 backend: str = "local", client=None, store=None, grid_points: int = 3):
        template = job_template
        self.metric, self.direction = parse_objective(objective, direction)
        if self.metric not in evaluate.METRICS[template.task]:
            raise ValueError(f"objective {objective!r} is not a metric of a {template.task} task; "
                             f"choose from {evaluate.METRICS[template.task]}")
        if template.validation is None:
            raise ValueError("job_template.validation is None: tuning scores every trial on "
                             "a validation channel, so the template needs one")
        self.sampler = None
        if isinstance(strategy, optuna.samplers.BaseSampler):
            self.sampler, strategy = strategy, type(strategy).__name__
        elif strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES} or an Optuna sampler, "
                             f"got {strategy!r}")
        if max_jobs < 1 or max_parallel_jobs < 1:
            raise ValueError(f"max_jobs and max_parallel_jobs must be >= 1, "
                             f"got {max_jobs} and {max_parallel_jobs}")
        self.ranges = tuple(ranges if ranges is not None
                            else models.tunable_ranges(template.algorithm, template.task))
        names = [item.name for item in self.ranges]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"ranges must be non-empty with distinct names, got {names}")
        if (strategy == "hyperband" or pruner is not None) and early_stopping:
            raise ValueError(f"{'hyperband' if pruner is None else 'the pruner'} stops poor "
                             f"trials itself: leave early_stopping False")
        if isinstance(pruner, str) and pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {PRUNERS}, an Optuna pruner or None, "
                             f"got {pruner!r}")
        self.pruner = pruner or ("hyperband" if strategy == "hyperband" else (
            "median" if early_stopping else None))
        if self.pruner and template.algorithm not in ("xgboost", "lightgbm"):
            raise ValueError(f"{strategy if strategy == 'hyperband' else 'early stopping'} needs "
                             f"per-round scores: use xgboost or lightgbm, not "
                             f"{template.algorithm}")
        metrics = template.metrics and tuple(dict.fromkeys((*template.metrics, self.metric)))
        self.template = replace(template, metrics=metrics, name=None, callback=None)
        self.strategy, self.seed, self.grid_points = strategy, seed, grid_points
        self.max_jobs, self.max_parallel_jobs = max_jobs, max_parallel_jobs
        self.storage = storage_url(storage)
        self.study_name = study_name or self._default_name()
        self.warm_start = warm_start
        self.backend, self.client = backend, client
        self.store = jobs.as_store(store)
        self._study: optuna.Study | None = None

    def __repr__(self) -> str:
        return (f"Tuner({self.study_name!r}, strategy={self.strategy!r}, "
                f"objective='validation:{self.metric}' ({self.direction}))")

    def _default_name(self) -> str:
        settings = {
            **asdict(replace(self.template, train=None, validation=None, output=None)),
            "train": _fingerprint(self.template.train),
            "validation": _fingerprint(self.template.validation),
            "objective": [self.metric, self.direction], "strategy": self.strategy,
            "ranges": [asdict(item) for item in self.ranges], "seed": self.seed,
            "grid_points": self.grid_points, "pruner": _portable(self.pruner),
        }
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode())
        return f"{self.template.algorithm}-{self.strategy}-{digest.hexdigest()[:10]}"

    @property
    def study(self) -> optuna.Study:
        """The Optuna study (created, or loaded when it exists in the storage)."""
        if self._study is None:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            study = optuna.create_study(
                storage=open_storage(self.storage), study_name=self.study_name,
                direction=self.direction, load_if_exists=True,
                pruner=make_pruner(self.pruner, max_resource=self._max_rounds()))
            if study.direction.name.lower() != self.direction:
                raise ValueError(f"study {self.study_name!r} in {self.storage} was made to "
                                 f"{study.direction.name.lower()}, not to {self.direction}")
            # A resumed study continues the random stream instead of replaying its start.
            study.sampler = self.sampler or make_sampler(
                self.strategy, self.ranges, seed=self.seed + len(study.trials),
                grid_points=self.grid_points)
            self._study = study
            self._copy_warm_start()
        return self._study

    def _max_rounds(self) -> int | None:
        if self.template.algorithm not in ("xgboost", "lightgbm"):
            return None
        for item in self.ranges:
            if item.name == "n_estimators":
                return int(max(item.choices) if item.kind == "categorical" else item.high)
        defaults = models.default_hyperparameters(self.template.algorithm, self.template.task)
        return int(self.template.hyperparameters.get("n_estimators", defaults["n_estimators"]))

    def _copy_warm_start(self) -> None:
        if self.warm_start is None:
            return
        if isinstance(self.warm_start, Tuner):
            name, storage = self.warm_start.study_name, self.warm_start.storage
        else:
            name, storage = str(self.warm_start), self.storage
        study = self._study
        if any(t.user_attrs.get("warm_start_from") for t in study.trials):
            return  # copied when the study was first run
        parent = optuna.load_study(study_name=name, storage=open_storage(storage))
        if parent.direction != study.direction:
            raise ValueError(f"warm start study {name!r} optimizes in the other direction")
        for old in parent.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            study.add_trial(optuna.trial.create_trial(
                params=old.params, distributions=old.distributions, value=old.value,
                user_attrs={**old.user_attrs, "warm_start_from": name}))

    # ----------------------------------------------------------------------- running

    def _counted(self) -> list:
        return [t for t in self.study.get_trials(deepcopy=False, states=_COUNTED)
                if not t.user_attrs.get("interrupted") and "warm_start_from" not in t.user_attrs]

    def _budget(self) -> int:
        total = self.max_jobs
        if self.strategy == "grid":
            total = min(total, math.prod(len(v) for v in grid(self.ranges,
                                                              self.grid_points).values()))
        return max(0, total - len(self._counted()))

    def _channels(self) -> dict:
        """Write data-frame channels once for all trials instead of once per job."""
        folder = data_dir() / "tuning" / self.study_name
        paths = {}
        for channel in ("train", "validation"):
            value = getattr(self.template, channel)
            if isinstance(value, pd.DataFrame):
                path = folder / f"{channel}.pkl"
                if not path.exists():
                    folder.mkdir(parents=True, exist_ok=True)
                    value.to_pickle(path)
                value = str(path)
            paths[channel] = value
        return paths

    def _launch(self, trial: optuna.Trial, channels: dict) -> jobs.Job:
        trial.set_user_attr("tuner", _owner())
        params = suggest(trial, self.ranges)
        name = f"{self.study_name}-{trial.number:03d}-{uuid.uuid4().hex[:4]}"
        trial.set_user_attr("job", name)
        link = None if self.pruner is None else {
            "storage": self.storage, "study_name": self.study_name, "trial_id": trial._trial_id,
            "metric": self.metric, "pruner": _portable(self.pruner),
            "max_resource": self._max_rounds()}
        callback = None if link is None else {"factory": f"{__name__}:TrialReporter",
                                              "options": link}
        spec = replace(self.template, **channels, name=name, callback=callback,
                       hyperparameters={**self.template.hyperparameters, **params})
        return jobs.run(spec, backend=self.backend, wait=False, store=self.store,
                        client=self.client)

    def _tell(self, trial: optuna.Trial, job: jobs.Job) -> TrialState:
        """Record a finished job as the outcome of its trial."""
        summary = job.describe()
        trial.set_user_attr("job_status", summary["status"])
        if summary["failure_reason"]:
            trial.set_user_attr("failure_reason", summary["failure_reason"])
        value = summary["final_metrics"].get(f"validation:{self.metric}")
        if summary["status"] == "Completed" and value is not None and np.isfinite(value):
            self.study.tell(trial, value)
            return TrialState.COMPLETE
        pruned = (summary["status"] == "Stopped" and summary["secondary_status"] == "Stopped"
                  and not job.stop_requested)
        state = TrialState.PRUNED if pruned else TrialState.FAIL
        self.study.tell(trial, state=state)
        return state

    def _recover(self) -> None:
        """Settle trials left running by a tuner that died: adopt the result of a job that
        completed, otherwise mark the trial interrupted and queue its parameters again."""
        study = self.study
        for frozen in self._running_after_grace():
            owner = frozen.user_attrs.get("tuner")
            # Unclaimed after the grace period: its tuner died between asking and claiming.
            if owner is not None and not _abandoned(owner):
                continue
            trial = optuna.trial.Trial(study, frozen._trial_id)
            name = frozen.user_attrs.get("job")
            if name is not None and name in self.store:
                job = self.store.get(name).wait()
                if job.status == "Completed":
                    self._tell(trial, job)
                    continue
            trial.set_user_attr("interrupted", True)
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(frozen.params, user_attrs={"retry_of": frozen.number})

    def _running_after_grace(self) -> list:
        """Running trials, read again once any unclaimed one is older than the grace period.

        A tuner asks Optuna for a trial, then claims it (the ``tuner`` attribute); one killed
        in between leaves a trial nobody claims, while a live one claims it within
        ``CLAIM_GRACE`` seconds.
        """
        def running():
            return self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))

        unclaimed = [t.datetime_start for t in running() if "tuner" not in t.user_attrs]
        if unclaimed:
            age = (datetime.now() - max(unclaimed)).total_seconds()
            time.sleep(max(0.0, CLAIM_GRACE - age))
        return running()

    def run(self, *, progress: bool = True) -> Tuner:
        """Run trials until ``max_jobs`` have finished; returns the tuner.

        ``progress=True`` (the default) shows a progress bar of the finished trials.

        Interrupting it (Ctrl-C) stops the running jobs; calling ``run`` again continues.
        """
        self._recover()
        budget = self._budget()
        channels = self._channels()
        running: dict[int, tuple[optuna.Trial, jobs.Job]] = {}
        done = len(self._counted())
        bar = Progress(*Progress.get_default_columns(), MofNCompleteColumn(), disable=not progress)
        task = bar.add_task(self.study_name, total=done + budget, completed=done)
        bar.start()
        try:
            while budget > 0 or running:
                while budget > 0 and len(running) < self.max_parallel_jobs:
                    trial = self.study.ask()
                    try:
                        running[trial.number] = (trial, self._launch(trial, channels))
                    except Exception:
                        self.study.tell(trial, state=TrialState.FAIL)
                        raise
                    budget -= 1
                for number, (trial, job) in list(running.items()):
                    if job.finished:
                        self._tell(trial, job)
                        del running[number]
                        bar.advance(task)
                time.sleep(jobs.POLL_INTERVAL)
        except BaseException:
            for _, job in running.values():
                job.stop()
            raise
        finally:
            bar.stop()
        return self

    # ----------------------------------------------------------------------- results

    def results(self) -> pd.DataFrame:
        """One row per trial: state, objective value, parameters, job, its status and time."""
        rows = []
        for trial in self.study.trials:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if (
                trial.datetime_complete and trial.datetime_start) else None
            rows.append({
                "trial": trial.number,
                "state": trial.state.name,
                f"validation:{self.metric}": trial.value,
                **trial.params,
                "job": trial.user_attrs.get("job"),
                "job_status": trial.user_attrs.get("job_status"),
                "failure_reason": trial.user_attrs.get("failure_reason"),
                "seconds": seconds,
                "source": ("warm start" if "warm_start_from" in trial.user_attrs
                           else "this study"),
            })
        return pd.DataFrame(rows)

    @property
    def best_params(self) -> dict:
        """Hyperparameters of the best completed trial."""
        return self.study.best_trial.params

    @property
    def best_value(self) -> float:
        """Objective value of the best completed trial."""
        return self.study.best_value

    def best_job(self) -> jobs.Job:
        """The training job of the best completed trial (``load_model`` it to predict)."""
        completed = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not completed:
            raise ValueError(f"study {self.study_name!r} has no completed trial yet: run() first")
        return self.store.get(self.study.best_trial.user_attrs["job"])

    def _completed(self) -> pd.DataFrame:
        table = self.results()
        table = table[table["state"] == "COMPLETE"]
        if table.empty:
            raise ValueError(f"study {self.study_name!r} has no completed trial to plot")
        return table

    def plot_history(self) -> Figure:
        """The objective of each completed trial, and the best value so far."""
        table = self._completed()
        column = f"validation:{self.metric}"
        best = (table[column].cummax() if self.direction == "maximize"
                else table[column].cummin())
        fig = new_figure((6, 4))
        ax = fig.subplots()
        ax.scatter(table["trial"], table[column], label="trial", alpha=0.7)
        ax.step(table["trial"], best, where="post", color="tab:red", label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel(column)
        ax.set_title(f"{self.strategy} search: {self.metric} over trials")
        ax.legend()
        return fig

    def plot_parameters(self) -> Figure:
        """One panel per hyperparameter: its value against the objective."""
        table = self._completed()
        column = f"validation:{self.metric}"
        columns = min(3, len(self.ranges))
        rows = math.ceil(len(self.ranges) / columns)
        # Panels of 3.2 inches, three to a row: shown about 690 pixels wide in the book, the
        # 10-point labels stay above 9 pixels.
        fig = new_figure((3.2 * columns, 2.8 * rows))
        axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
        for ax, item in zip(axes.flat, self.ranges, strict=False):
            values = table[item.name]
            if item.kind == "categorical":
                values = values.astype(str)
            ax.scatter(values, table[column], alpha=0.7)
            if item.log:
                ax.set_xscale("log")
                # Plain numbers at 1, 2 and 5 per decade read better than powers of ten.
                ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(item.name)
        for ax in axes[:, 0]:
            ax.set_ylabel(column)
        for ax in list(axes.flat)[len(self.ranges):]:
            ax.set_visible(False)
        fig.suptitle("Each hyperparameter against the objective")
        return fig

    def importance(self) -> pd.Series:
        """Share of the objective's variation due to each hyperparameter (fANOVA)."""
        self._completed()
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=self.seed)
        scores = optuna.importance.get_param_importances(self.study, evaluator=evaluator)
        return pd.Series(scores, name="importance", dtype=float).sort_values(ascending=False)

    def plot_importance(self) -> Figure:
        """Bar chart of :meth:`importance`."""
        scores = self.importance().sort_values()
        fig = new_figure((6, 0.4 * len(scores) + 1.5))
        ax = fig.subplots()
        ax.barh(scores.index, scores.to_numpy())
        ax.set_xlabel("importance (share of the objective's variance)")
        ax.set_title("Hyperparameter importance")
        return fig
