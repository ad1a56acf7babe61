"""Model zoo: small pre-trained models that ship with the package, and fine-tuning them.

Each model was trained once on a large sample of the simulated campaign (the *source*
population, ``simulate_campaign(shift=False)``) and is stored in its library's own format
(XGBoost UBJSON, LightGBM text) next to the fitted preprocessor and a *model card*: the data
it saw, its metrics, what it is for and where it fails. ``scripts/build_zoo.py`` rebuilds
every file from fixed seeds.

A later campaign (``simulate_campaign(shift=True)``) behaves differently. With only a few
hundred labelled rows of it, starting from a pre-trained model beats training a new one:
:func:`fine_tune` either keeps boosting from the trained trees (``method="continue"``) or
keeps the trees and re-estimates their leaf values on the new rows (``method="refresh"``).

>>> list_models()["id"].tolist()
['campaign-lightgbm', 'campaign-xgboost']
>>> from mlcycle_ref import data, evaluate
>>> later = data.simulate_campaign(1_000, seed=5, shift=True)
>>> tuned = fine_tune("campaign-xgboost", later.drop(columns="subscribed"), later["subscribed"])
>>> evaluate.evaluate(tuned, data.simulate_campaign(2_000, seed=6, shift=True), "subscribed",
...                   task="binary")["roc_auc"] > 0.75
True
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import warnings
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import joblib
import lightgbm
import numpy as np
import pandas as pd
import xgboost
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from mlcycle_ref import data, evaluate, features, models

FINE_TUNE_METHODS = ("continue", "refresh")
TARGET = data.CAMPAIGN_TARGET
LEAKS = ("duration",)  # known only after the call: a deployed model cannot use it


def _zoo_folder(folder) -> Path:
    return Path(folder) if folder is not None else Path(
        str(resources.files("mlcycle_ref") / "zoo_models"))


# --------------------------------------------------------------------------- model cards


@dataclass(frozen=True)
class ModelCard:
    """What a pre-trained model is: data, training, metrics, intended use and limitations.

    Stored as ``<id>.json``; :meth:`to_markdown` gives the readable ``<id>.md``.

    The fields: ``id`` names the model in the zoo and its files; ``title`` is a heading for
    people; ``algorithm`` is "xgboost" or "lightgbm"; ``task`` the learning task, ``target``
    the column predicted and ``classes`` the labels of the probability columns. ``summary``
    says in a sentence what the model scores. ``training_data`` describes the rows it was
    trained on (generator, seed, row counts, share of positives); ``features`` lists the
    numeric, categorical and dropped input columns; ``training`` holds the library's own
    parameters and the number of rounds; ``metrics`` maps each evaluation set to its scores.
    ``intended_use`` and ``limitations`` say what the model is for and where it fails;
    ``fine_tuning`` records the benchmark of :func:`fine_tune` on the later campaign;
    ``files`` maps the role of each file ("model", "preprocessor") to its name,
    ``checksums`` each file name to its SHA-256; ``versions`` the library versions that
    built it, and ``license`` the terms of use.

    >>> card = model_card("campaign-xgboost")
    >>> card.algorithm, card.target, card.classes
    ('xgboost', 'subscribed', (0, 1))
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "copy.json"
    >>> _ = path.write_text(card.to_json(), encoding="utf-8")
    >>> ModelCard.from_json(path) == card
    True
    >>> card.to_markdown().splitlines()[0]
    '# Campaign response model (XGBoost)'
    """

    id: str
    title: str
    algorithm: str
    task: str
    target: str
    classes: tuple
    summary: str
    training_data: dict
    features: dict
    training: dict
    metrics: dict
    intended_use: str
    limitations: tuple[str, ...]
    fine_tuning: dict
    files: dict
    checksums: dict
    versions: dict
    license: str = "MIT, like the rest of mlcycle; trained on simulated data only."

    @classmethod
    def from_json(cls, path) -> ModelCard:
        """Read a card from the JSON file at ``path``; a missing field raises ``ValueError``."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [f for f in cls.__dataclass_fields__ if f not in raw and f != "license"]
        if missing:
            raise ValueError(f"{path}: model card lacks the fields {missing}")
        raw["classes"], raw["limitations"] = tuple(raw["classes"]), tuple(raw["limitations"])
        return cls(**raw)

    def to_json(self) -> str:
        """The card as the JSON text of ``<id>.json``, which :meth:`from_json` reads back."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    def to_markdown(self) -> str:
        """The card as Markdown, for people: the same facts as the JSON file."""
        metric_names = sorted({name for values in self.metrics.values() for name in values})
        header = "| data | " + " | ".join(metric_names) + " |"
        lines = [header, "|" + "---|" * (len(metric_names) + 1)]
        for where, values in self.metrics.items():
            cells = " | ".join(f"{values[name]:.4f}" if name in values else ""
                               for name in metric_names)
            lines.append(f"| {where} | {cells} |")
        tuning = self.fine_tuning
        tuning_rows = "\n".join(f"| {name} | {found['roc_auc']:.4f} | {found['log_loss']:.4f} |"
                                for name, found in tuning["scores"].items())
        return f"""# {self.title}

`{self.id}` - {self.algorithm}, {self.task} classification of `{self.target}`.

{self.summary}

## Training data
{self.training_data["description"]}

* rows used for training: {self.training_data["train_rows"]:,}; held-out test rows: \
{self.training_data["test_rows"]:,}
* share of positives: {self.training_data["positive_rate"]:.3f}
* numeric features: {", ".join(self.features["numeric"])}
* categorical features (one-hot encoded): {", ".join(self.features["categorical"])}
* left out: {", ".join(f"{name} ({why})" for name, why in self.features["dropped"].items())}

## Training
{self.training["rounds"]} boosting rounds with `{json.dumps(self.training["params"])}`.

## Metrics
{chr(10).join(lines)}

## Intended use
{self.intended_use}

## Limitations
{chr(10).join(f"* {item}" for item in self.limitations)}

## Fine-tuning
{tuning["description"]}

| model | ROC AUC | log loss |
|---|---|---|
{tuning_rows}

## Files
{chr(10).join(f"* `{name}` (sha256 `{self.checksums[name]}`)" for name in self.files.values())}

Built with {", ".join(f"{lib} {version}" for lib, version in self.versions.items())}.
License: {self.license}
"""


def _card_paths(folder) -> list[Path]:
    return sorted(_zoo_folder(folder).glob("*.json"))


def model_card(model_id: str, *, folder=None) -> ModelCard:
    """The card of the zoo model ``model_id``; an unknown id raises ``KeyError`` listing the
    known ones.

    ``folder`` is the zoo to look in, by default the models shipped in the package.

    >>> model_card("campaign-lightgbm").files["model"]
    'campaign-lightgbm.txt'
    """
    path = _zoo_folder(folder) / f"{model_id}.json"
    if not path.is_file():
        known = [p.stem for p in _card_paths(folder)]
        raise KeyError(f"no model {model_id!r} in the zoo at {path.parent}; known: {known}")
    return ModelCard.from_json(path)


def list_models(*, folder=None) -> pd.DataFrame:
    """The catalogue: one row per model with its headline metrics and file size.

    ``folder`` is the zoo to list, by default the models shipped in the package; the
    metrics are ROC AUC on held-out source rows and on the later campaign, sizes in KiB.

    >>> list_models().columns.tolist()
    ['id', 'algorithm', 'task', 'target', 'source_roc_auc', 'later_campaign_roc_auc', 'size_kb', \
'title']
    """
    rows = []
    for path in _card_paths(folder):
        card = ModelCard.from_json(path)
        size = sum((path.parent / name).stat().st_size for name in card.files.values())
        rows.append({"id": card.id, "algorithm": card.algorithm, "task": card.task,
                     "target": card.target,
                     "source_roc_auc": card.metrics["source test"]["roc_auc"],
                     "later_campaign_roc_auc": card.metrics["later campaign"]["roc_auc"],
                     "size_kb": round(size / 1024, 1), "title": card.title})
    return pd.DataFrame(rows, columns=["id", "algorithm", "task", "target", "source_roc_auc",
                                       "later_campaign_roc_auc", "size_kb", "title"])


# --------------------------------------------------------------------------- loaded models


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_preprocessor(path: Path, card: ModelCard):
    """The stored preprocessor, or the same one fitted again when this scikit-learn can't read it.

    A pickled transformer is tied to the scikit-learn release that wrote it; the boosters are
    not. The preprocessor is a deterministic function of the card's source data, so a newer
    scikit-learn refits it from the simulator instead of failing or warning on every load.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            return joblib.load(path)
        except (InconsistentVersionWarning, AttributeError, ImportError, TypeError, ValueError):
            pass
    train, _ = _source_split(card.training_data["rows"])
    return features.build_preprocessor(train, TARGET).fit(train.drop(columns=TARGET))


def _source_split(n_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The zoo's source population, split 90/10 as when the models were trained."""
    source = _campaign(n_rows, SOURCE_SEED)
    return train_test_split(source, test_size=0.1, random_state=SOURCE_SEED,
                            stratify=source[TARGET])


def load_pretrained(model_id: str, *, folder=None) -> Pipeline:
    """A zoo model as a fitted ``Pipeline(preprocess, model)``, ready to predict raw rows.

    ``model_id`` is a zoo model's id (see :func:`list_models`) and ``folder`` the zoo, by
    default the package's own. The files are checked against the checksums in the card
    first, so a damaged or edited file is reported instead of silently giving other
    predictions.

    >>> from mlcycle_ref import data
    >>> model = load_pretrained("campaign-lightgbm")
    >>> model.predict_proba(data.simulate_campaign(3, seed=1)).shape
    (3, 2)
    """
    card = model_card(model_id, folder=folder)
    base = _zoo_folder(folder)
    for name in card.files.values():
        path = base / name
        if not path.is_file() or _sha256(path) != card.checksums[name]:
            raise ValueError(f"{path}: missing or not the file the model card describes "
                             "(checksum differs); rebuild the zoo with scripts/build_zoo.py")
    preprocess = _load_preprocessor(base / card.files["preprocessor"], card)
    model = models.TrainedBooster.load(card.algorithm, base / card.files["model"], card.classes)
    return Pipeline([("preprocess", preprocess), ("model", model)])


# --------------------------------------------------------------------------- fine-tuning


def _prepared(preprocess, X: pd.DataFrame, y, classes) -> tuple[pd.DataFrame, np.ndarray]:
    """Transform raw rows with the model's own preprocessor and number the labels 0..k-1."""
    if not isinstance(X, pd.DataFrame):
        raise data.DataError(f"fine_tune: X must be a pandas DataFrame, got {type(X).__name__}")
    needed = list(preprocess.feature_names_in_)
    missing = [name for name in needed if name not in X.columns]
    if missing:
        raise data.DataError(f"fine_tune: X lacks the columns {missing} that the pre-trained "
                             "model was trained with")
    labels = pd.Series(np.asarray(y))
    unknown = sorted(set(labels.unique()) - set(classes), key=str)
    if unknown:
        raise data.DataError(f"fine_tune: labels {unknown} are not among the model's classes "
                             f"{list(classes)}")
    codes = labels.map({label: code for code, label in enumerate(classes)}).to_numpy()
    return preprocess.transform(X[needed]), codes


def fine_tune(model_id: str, X: pd.DataFrame, y, method: str = "continue", *,
              n_estimators: int = 20, learning_rate: float = 0.05, decay_rate: float = 0.9,
              seed: int = 0, folder=None) -> Pipeline:
    """Adapt a zoo model to a few labelled rows of a new population.

    ``model_id`` names the zoo model to start from, in ``folder`` (default: the package's
    zoo). ``X`` holds raw rows (the columns the model was trained with; others are ignored)
    and is transformed by the preprocessor fitted on the source data, so the new rows land
    in the feature space the trees were built for. ``y`` holds their labels, which must be
    among the model's classes. ``seed`` seeds the extra boosting rounds.

    * ``method="continue"``: ``n_estimators`` more boosting rounds at ``learning_rate``,
      starting from the pre-trained trees (XGBoost ``xgb_model``, LightGBM ``init_model``);
      the new trees correct what the old ones get wrong on the new rows.
    * ``method="refresh"``: keep every tree's splits and re-estimate the leaf values on the
      new rows (XGBoost ``process_type="update"`` with the ``refresh`` updater and
      ``refresh_leaf``; LightGBM ``Booster.refit``, where a leaf keeps ``decay_rate`` of its
      old value).

    Returns a new fitted ``Pipeline``; the files in the zoo are not changed.

    >>> from mlcycle_ref import data
    >>> later = data.simulate_campaign(500, seed=3, shift=True)
    >>> tuned = fine_tune("campaign-lightgbm", later, later["subscribed"], method="refresh")
    >>> tuned.named_steps["model"].booster.num_trees() == load_pretrained(
    ...     "campaign-lightgbm").named_steps["model"].booster.num_trees()
    True
    """
    card = model_card(model_id, folder=folder)
    return _tuned(load_pretrained(model_id, folder=folder), card.algorithm,
                  card.training["params"], card.classes, X, y, method,
                  n_estimators=n_estimators, learning_rate=learning_rate,
                  decay_rate=decay_rate, seed=seed)


def _tuned(pretrained: Pipeline, algorithm: str, params: dict, classes, X, y, method: str, *,
           n_estimators: int, learning_rate: float, decay_rate: float, seed: int) -> Pipeline:
    if method not in FINE_TUNE_METHODS:
        raise ValueError(f"fine_tune: method must be one of {FINE_TUNE_METHODS}, got {method!r}")
    preprocess = pretrained.named_steps["preprocess"]
    booster = pretrained.named_steps["model"].booster
    X_new, codes = _prepared(preprocess, X, y, classes)
    params = dict(params)
    if algorithm == "xgboost":
        matrix = xgboost.DMatrix(X_new, codes)
        if method == "continue":
            tuned = xgboost.train({**params, "eta": learning_rate, "seed": seed}, matrix,
                                  num_boost_round=n_estimators, xgb_model=booster)
        else:
            params.pop("tree_method", None)  # the refresh updater replaces the tree method
            refresh = {**params, "process_type": "update", "updater": "refresh",
                       "refresh_leaf": True}
            with warnings.catch_warnings():
                # XGBoost warns whenever an updater is named; refreshing requires naming one.
                warnings.filterwarnings("ignore", message=".*manually specified the `updater`")
                tuned = xgboost.train(refresh, matrix,
                                      num_boost_round=booster.num_boosted_rounds(),
                                      xgb_model=booster)
    elif method == "continue":
        tuned = lightgbm.train({**params, "learning_rate": learning_rate, "seed": seed},
                               lightgbm.Dataset(X_new, codes), num_boost_round=n_estimators,
                               init_model=booster)
    else:
        tuned = booster.refit(X_new, codes, decay_rate=decay_rate)
    return Pipeline([("preprocess", preprocess),
                     ("model", models.TrainedBooster(tuned, tuple(classes)))])


# --------------------------------------------------------------------------- building the zoo


@dataclass(frozen=True)
class Recipe:
    """How one zoo model is trained: library, file extension, native parameters, rounds.

    ``id`` becomes the model's id and file stem, ``algorithm`` is "xgboost" or "lightgbm",
    ``title`` heads its card, ``extension`` is the model file's suffix ("ubj", "txt"),
    ``rounds`` the number of boosting rounds and ``params`` the library's own training
    parameters.

    >>> recipe = RECIPES[0]
    >>> recipe.id, recipe.extension, recipe.rounds
    ('campaign-xgboost', 'ubj', 150)
    """

    id: str
    algorithm: str
    title: str
    extension: str
    rounds: int
    params: dict


RECIPES = (
    Recipe("campaign-xgboost", "xgboost", "Campaign response model (XGBoost)", "ubj", 150,
           {"objective": "binary:logistic", "eta": 0.1, "max_depth": 4, "subsample": 0.8,
            "colsample_bytree": 0.8, "min_child_weight": 1.0, "lambda": 1.0,
            "tree_method": "hist", "nthread": 1, "seed": 0}),
    Recipe("campaign-lightgbm", "lightgbm", "Campaign response model (LightGBM)", "txt", 200,
           {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15,
            "min_child_samples": 50, "subsample": 0.8, "subsample_freq": 1,
            "colsample_bytree": 0.8, "reg_lambda": 1.0, "num_threads": 1, "seed": 0,
            "deterministic": True, "verbose": -1}),
)
SOURCE_SEED, LATER_SEED, SAMPLE_SEED = 20_240_601, 20_240_602, 20_240_603
FINE_TUNE_ROWS = 500


def _campaign(n_rows: int, seed: int, *, shift: bool = False) -> pd.DataFrame:
    return data.simulate_campaign(n_rows, seed, shift=shift).drop(columns=list(LEAKS))


def _scores(model, frame: pd.DataFrame) -> dict[str, float]:
    found = evaluate.evaluate(model, frame, TARGET, task="binary")
    return {name: round(found[name], 4) for name in ("roc_auc", "log_loss", "accuracy")}


def _train_booster(recipe: Recipe, X: pd.DataFrame, y: np.ndarray):
    if recipe.algorithm == "xgboost":
        return xgboost.train(recipe.params, xgboost.DMatrix(X, y), num_boost_round=recipe.rounds)
    return lightgbm.train(recipe.params, lightgbm.Dataset(X, y), num_boost_round=recipe.rounds)


def _fine_tuning_benchmark(recipe: Recipe, pretrained: Pipeline, later: pd.DataFrame) -> dict:
    """Fine-tuning against training from scratch on the same small later-campaign sample."""
    sample = _campaign(FINE_TUNE_ROWS, SAMPLE_SEED, shift=True)
    X, y = sample.drop(columns=TARGET), sample[TARGET]
    scratch = models.make_pipeline(recipe.algorithm, sample, TARGET, "binary", seed=0).fit(X, y)
    results = {"pre-trained, unchanged": pretrained,
               "trained from scratch (models.make_pipeline defaults)": scratch}
    for method in FINE_TUNE_METHODS:
        results[f"fine_tune(method={method!r})"] = _tuned(
            pretrained, recipe.algorithm, recipe.params, (0, 1), X, y, method,
            n_estimators=20, learning_rate=0.05, decay_rate=0.9, seed=0)
    return {
        "description": (
            f"Measured when the zoo was built: {FINE_TUNE_ROWS} labelled rows of the later "
            f"campaign (simulate_campaign(shift=True), seed {SAMPLE_SEED}), scored on "
            f"{len(later):,} other later-campaign rows (seed {LATER_SEED}); fine_tune with "
            "its default settings."
        ),
        "scores": {name: _scores(model, later) for name, model in results.items()},
    }


def build(folder=None, *, n_rows: int = 200_000, ids=None) -> list[ModelCard]:
    """Train the zoo's models from fixed seeds and write model, preprocessor and cards.

    ``folder`` defaults to the package's ``zoo_models``; ``n_rows`` is the size of the
    source sample (10% of it is held out for the card's metrics); ``ids`` picks recipes by
    id (default: all of ``RECIPES``). The same arguments give the same files, byte for
    byte. Training takes seconds even on a small sample (``scripts/build_zoo.py`` runs the
    full build), so the example shows only how a wrong id is refused before any training:

    >>> import tempfile
    >>> build(tempfile.mkdtemp(), ids=["campaign-catboost"])
    Traceback (most recent call last):
    ...
    KeyError: "unknown recipe ids ['campaign-catboost']"
    """
    folder = _zoo_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = [r for r in RECIPES if ids is None or r.id in ids]
    if ids is not None and len(chosen) != len(set(ids)):
        raise KeyError(f"unknown recipe ids {sorted(set(ids) - {r.id for r in RECIPES})}")
    train, test = _source_split(n_rows)
    later = _campaign(20_000, LATER_SEED, shift=True)
    preprocess = features.build_preprocessor(train, TARGET).fit(train.drop(columns=TARGET))
    numeric, categorical = features.feature_columns(train, TARGET)
    cards = []
    for recipe in chosen:
        files = {"model": f"{recipe.id}.{recipe.extension}",
                 "preprocessor": f"{recipe.id}.preprocess.joblib"}
        booster = _train_booster(recipe, preprocess.transform(train.drop(columns=TARGET)),
                                 train[TARGET].to_numpy())
        booster.save_model(str(folder / files["model"]))
        joblib.dump(preprocess, folder / files["preprocessor"], compress=3)
        model = Pipeline([("preprocess", preprocess),
                          ("model", models.TrainedBooster(booster, (0, 1)))])
        card = ModelCard(
            id=recipe.id, title=recipe.title, algorithm=recipe.algorithm, task="binary",
            target=TARGET, classes=(0, 1),
            summary=("Scores how likely a client is to take the term deposit when called, "
                     "from the client's profile and earlier contacts, before the call is made."),
            training_data={
                "description": (f"{n_rows:,} rows drawn by mlcycle_ref.data.simulate_campaign "
                                f"(seed {SOURCE_SEED}, shift=False), split 90/10 with "
                                "stratification on the target."),
                "generator": "mlcycle_ref.data.simulate_campaign", "rows": n_rows,
                "seed": SOURCE_SEED, "shift": False, "train_rows": len(train),
                "test_rows": len(test), "positive_rate": round(float(train[TARGET].mean()), 4),
            },
            features={"numeric": numeric, "categorical": categorical,
                      "dropped": {"duration": "leaks the outcome: known only after the call"}},
            training={"params": recipe.params, "rounds": recipe.rounds,
                      "preprocessing": "features.build_preprocessor defaults: median "
                                       "imputation, quantile clipping, standard scaling, "
                                       "one-hot encoding"},
            metrics={"source test": _scores(model, test), "later campaign": _scores(model, later)},
            intended_use=("Teaching: a starting point for fine-tuning on a later campaign with "
                          "few labels, and a worked example of a model card. Ranks clients to "
                          "call first; the score is a probability for the source campaign."),
            limitations=(
                "Trained on simulated clients only; no real bank's data is behind it.",
                "Probabilities are calibrated to the source campaign (about 11% positives); "
                "the later campaign has about 16%, so raw scores run low there until the "
                "model is fine-tuned.",
                "Effects differ in the later campaign (see campaign_truth(shift=True)); "
                "ranking holds up better than calibration.",
                "Needs every input column of the campaign except duration; new category "
                "levels are encoded as all zeros.",
                "Not for decisions about real people: there is no fairness review.",
            ),
            fine_tuning=_fine_tuning_benchmark(recipe, model, later),
            files=files,
            checksums={name: _sha256(folder / name) for name in files.values()},
            versions={lib: importlib.metadata.version(lib)
                      for lib in ("xgboost", "lightgbm", "scikit-learn", "pandas")},
        )
        (folder / f"{recipe.id}.json").write_text(card.to_json(), encoding="utf-8")
        (folder / f"{recipe.id}.md").write_text(card.to_markdown(), encoding="utf-8")
        cards.append(card)
    return cards
