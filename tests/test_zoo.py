"""The model zoo: shipped models load and predict, fine-tuning beats training from scratch."""

import hashlib
import shutil
import warnings

import numpy as np
import pytest
from sklearn.exceptions import InconsistentVersionWarning

from mlcycle_ref import data, evaluate, models, zoo

IDS = ["campaign-lightgbm", "campaign-xgboost"]
TARGET = "subscribed"


@pytest.fixture(scope="module")
def later():
    """A small labelled sample of the later campaign and a large held-out part of it.

    ``duration`` leaks the outcome; the zoo models leave it out, so a fair model trained
    from scratch must do without it too.
    """
    sample = data.simulate_campaign(500, seed=11, shift=True).drop(columns="duration")
    held_out = data.simulate_campaign(10_000, seed=12, shift=True).drop(columns="duration")
    return sample, held_out


def auc(model, frame):
    return evaluate.evaluate(model, frame, TARGET, task="binary")["roc_auc"]


def test_catalogue_lists_small_models_with_complete_cards():
    catalogue = zoo.list_models()
    assert catalogue["id"].tolist() == IDS
    assert (catalogue["size_kb"] < 1024).all()
    folder = zoo._zoo_folder(None)
    for model_id in IDS:
        card = zoo.model_card(model_id)
        assert card.training_data["rows"] == 200_000 and not card.training_data["shift"]
        assert "duration" in card.features["dropped"]
        assert card.intended_use and len(card.limitations) >= 3
        assert set(card.metrics) == {"source test", "later campaign"}
        for name in card.files.values():
            assert (folder / name).stat().st_size < 1_000_000
        # The Markdown card is the JSON card, written for people.
        assert (folder / f"{model_id}.md").read_text() == card.to_markdown()


@pytest.mark.parametrize("model_id", IDS)
def test_pretrained_model_scores_fresh_source_rows_as_its_card_says(model_id):
    model = zoo.load_pretrained(model_id)
    fresh = data.simulate_campaign(10_000, seed=77)
    card = zoo.model_card(model_id)
    assert auc(model, fresh) == pytest.approx(card.metrics["source test"]["roc_auc"], abs=0.03)
    assert model.predict(fresh.head(4)).tolist()[0] in (0, 1)
    with pytest.raises(TypeError, match="fine_tune"):
        model.named_steps["model"].fit(fresh, fresh[TARGET])


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm"])
def test_fine_tuning_beats_training_from_scratch_on_a_small_later_sample(later, algorithm):
    sample, held_out = later
    X, y = sample.drop(columns=TARGET), sample[TARGET]
    scratch = models.make_pipeline(algorithm, sample, TARGET, "binary", seed=0).fit(X, y)
    scratch_auc = auc(scratch, held_out)
    model_id = f"campaign-{algorithm}"
    for method in zoo.FINE_TUNE_METHODS:
        tuned_auc = auc(zoo.fine_tune(model_id, X, y, method=method), held_out)
        assert tuned_auc > scratch_auc + 0.02, (method, tuned_auc, scratch_auc)


def test_continue_adds_trees_and_refresh_keeps_them(later):
    sample, held_out = later
    X, y = sample.drop(columns=TARGET), sample[TARGET]
    base = zoo.load_pretrained("campaign-xgboost")
    rounds = base.named_steps["model"].booster.num_boosted_rounds()
    more = zoo.fine_tune("campaign-xgboost", X, y, "continue", n_estimators=7)
    refreshed = zoo.fine_tune("campaign-xgboost", X, y, "refresh")
    assert more.named_steps["model"].booster.num_boosted_rounds() == rounds + 7
    assert refreshed.named_steps["model"].booster.num_boosted_rounds() == rounds
    before = base.predict_proba(held_out.head(50))[:, 1]
    after = refreshed.predict_proba(held_out.head(50))[:, 1]
    assert abs(before - after).max() > 1e-3
    # The shipped files are untouched: loading again gives the original predictions.
    again = zoo.load_pretrained("campaign-xgboost").predict_proba(held_out.head(50))[:, 1]
    assert (again == before).all()


def test_build_is_reproducible(tmp_path):
    first = zoo.build(tmp_path / "a", n_rows=4_000, ids=["campaign-lightgbm"])[0]
    second = zoo.build(tmp_path / "b", n_rows=4_000, ids=["campaign-lightgbm"])[0]
    assert first == second
    for name in [*first.files.values(), "campaign-lightgbm.json", "campaign-lightgbm.md"]:
        digest = [hashlib.sha256((tmp_path / part / name).read_bytes()).hexdigest()
                  for part in ("a", "b")]
        assert digest[0] == digest[1], name
    assert zoo.list_models(folder=tmp_path / "a")["id"].tolist() == ["campaign-lightgbm"]


def test_a_damaged_file_is_reported(tmp_path):
    shutil.copytree(zoo._zoo_folder(None), tmp_path, dirs_exist_ok=True)
    model_file = tmp_path / "campaign-xgboost.ubj"
    model_file.write_bytes(model_file.read_bytes()[:-10])
    with pytest.raises(ValueError, match="checksum differs"):
        zoo.load_pretrained("campaign-xgboost", folder=tmp_path)


def test_bad_requests_get_clear_errors(later):
    sample, _ = later
    with pytest.raises(KeyError, match="campaign-xgboost"):
        zoo.load_pretrained("campaign-catboost")
    with pytest.raises(data.DataError, match=r"lacks the columns \['age'\]"):
        zoo.fine_tune("campaign-xgboost", sample.drop(columns="age"), sample[TARGET])
    with pytest.raises(data.DataError, match="labels \\['yes'\\] are not among"):
        zoo.fine_tune("campaign-xgboost", sample, sample[TARGET].replace({1: "yes"}))
    with pytest.raises(ValueError, match="method must be one of"):
        zoo.fine_tune("campaign-lightgbm", sample, sample[TARGET], method="retrain")


def test_a_preprocessor_from_another_scikit_learn_is_fitted_again(tmp_path, monkeypatch):
    card = zoo.build(tmp_path, n_rows=4_000, ids=["campaign-lightgbm"])[0]
    stored = zoo.load_pretrained(card.id, folder=tmp_path)
    real_load = zoo.joblib.load

    def load_from_an_older_release(path):
        warnings.warn(InconsistentVersionWarning(estimator_name="ColumnTransformer",
                                                 current_sklearn_version="9.9",
                                                 original_sklearn_version="1.0"), stacklevel=2)
        return real_load(path)

    monkeypatch.setattr(zoo.joblib, "load", load_from_an_older_release)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refitted = zoo.load_pretrained(card.id, folder=tmp_path)
    rows = data.simulate_campaign(200, seed=5).drop(columns=["duration"])
    np.testing.assert_allclose(refitted.predict_proba(rows), stored.predict_proba(rows))
