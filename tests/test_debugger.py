"""The debugger: every built-in rule fires when provoked and stays quiet on a healthy run."""

import re
import time

import lightgbm
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xgboost

from mlcycle_ref import callbacks, data, debugger, models
from mlcycle_ref.debugger import ERROR, ISSUES, NO_ISSUES
from mlcycle_ref.errors import MlcycleError


def make_frame(n_rows, *, seed=0, informative=6, noise=2, flip=0.03, positive_share=None):
    """Binary target from an additive score of the first ``informative`` columns."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, informative + noise))
    score = np.tanh(2 * X[:, :informative]).sum(axis=1)
    cut = 0.0 if positive_share is None else np.quantile(score, 1 - positive_share)
    y = (score > cut) ^ (rng.random(n_rows) < flip)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["y"] = y.astype(int)
    return frame


def run(frame, algorithm="xgboost", **kwargs):
    train, validation, _ = data.split(frame, "y", seed=0)
    return debugger.debug_fit(algorithm, train, validation, "y", **kwargs)


def statuses(monitor):
    return dict(zip(monitor.results()["rule"], monitor.results()["status"], strict=True))


def message(monitor, rule):
    return monitor.results().set_index("rule").loc[rule, "message"]


HEALTHY = {"learning_rate": 0.3, "n_estimators": 40}


@pytest.fixture(scope="module")
def healthy_frame():
    return make_frame(20_000)


@pytest.fixture(scope="module")
def deep_small():
    """Depth-10 trees on 300 rows: the textbook way to memorize a training set."""
    return run(make_frame(300), max_depth=10, min_child_weight=0, learning_rate=0.3,
               n_estimators=60)


@pytest.mark.parametrize("algorithm, shape", [("xgboost", {"max_depth": 2}),
                                              ("lightgbm", {"num_leaves": 4, "max_depth": 2})])
def test_every_rule_stays_quiet_on_a_healthy_run(healthy_frame, algorithm, shape):
    model, monitor = run(healthy_frame, algorithm, **HEALTHY, **shape)
    assert statuses(monitor) == {rule.__name__: NO_ISSUES for rule in debugger.BUILT_IN_RULES}
    history = monitor.history
    assert len(history) == 40
    assert {"seconds", "tree_depth", "train_logloss" if algorithm == "xgboost"
            else "train_binary_logloss"} <= set(history.columns)
    assert history["tree_depth"].max() <= 2
    assert monitor.stopped_by is None
    assert set(monitor.importance("gain").index) <= set(healthy_frame.columns)
    assert model.predict(healthy_frame.drop(columns="y").head()).shape == (5,)


def test_deep_trees_on_little_data_overfit(deep_small):
    _, monitor = deep_small
    found = statuses(monitor)
    assert found["Overfit"] == ISSUES
    assert found["TreeDepth"] == ISSUES
    assert re.search(r"trees reach depth (\d+)", message(monitor, "TreeDepth")).group(1) != "4"
    assert "above training" in message(monitor, "Overfit")


def test_training_past_the_best_validation_loss_is_overtraining(deep_small):
    _, monitor = deep_small
    assert statuses(monitor)["Overtraining"] == ISSUES
    assert "validation" in message(monitor, "Overtraining")


def test_a_1_to_20_target_triggers_class_imbalance():
    frame = make_frame(12_000, flip=0.0, positive_share=1 / 21)
    _, monitor = run(frame, max_depth=2, **HEALTHY)
    found = statuses(monitor)
    assert found["ClassImbalance"] == ISSUES
    assert "to 1 (threshold_imbalance=10.0)" in message(monitor, "ClassImbalance")
    # The same data with a looser threshold passes the size check.
    _, loose = run(frame, max_depth=2, rules=[debugger.ClassImbalance(threshold_imbalance=30)],
                   **HEALTHY)
    assert "to 1 (threshold" not in message(loose, "ClassImbalance")


def test_a_weak_model_triggers_confusion(healthy_frame):
    _, monitor = run(healthy_frame, max_depth=1, learning_rate=0.05, n_estimators=10)
    assert statuses(monitor)["Confusion"] == ISSUES
    assert "predicted as itself" in message(monitor, "Confusion")


def test_a_tiny_learning_rate_triggers_loss_not_decreasing(healthy_frame):
    _, monitor = run(healthy_frame, max_depth=2, learning_rate=1e-5, n_estimators=25)
    assert statuses(monitor)["LossNotDecreasing"] == ISSUES
    assert "fell only" in message(monitor, "LossNotDecreasing")


def test_one_dominant_feature_triggers_feature_importance_overweight():
    frame = make_frame(6_000, informative=2, noise=8, flip=0.0)
    _, monitor = run(frame, max_depth=2, **HEALTHY)
    assert statuses(monitor)["FeatureImportanceOverweight"] == ISSUES
    assert "x0" in message(monitor, "FeatureImportanceOverweight")


class SlowRound(xgboost.callback.TrainingCallback):
    """Sleeps once, as a stuck data loader or a busy machine would."""

    def after_iteration(self, model, epoch, evals_log):
        if epoch == 3:
            time.sleep(0.3)
        return False


def test_a_slow_round_triggers_stalled_training_with_the_native_api():
    frame = make_frame(2_000)
    matrix = xgboost.DMatrix(frame.drop(columns="y"), frame["y"])
    stalled = debugger.XGBoostMonitor([debugger.StalledTraining(threshold=0.2),
                                       debugger.StalledTraining()], check_every=5)
    xgboost.train({"max_depth": 2, "nthread": 1}, matrix, num_boost_round=8,
                  evals=[(matrix, "train")], callbacks=[stalled, SlowRound()], verbose_eval=False)
    results = stalled.results()
    assert results["status"].tolist() == [ISSUES, NO_ISSUES]
    assert results["iteration"][0] == 4
    assert "threshold=0.2 s" in results["message"][0]


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm"])
def test_a_rule_with_stop_action_ends_training(algorithm):
    rules = [debugger.Overfit(stop_training_on_fire=True), debugger.TreeDepth()]
    shape = {"max_depth": 10, "min_child_weight": 0} if algorithm == "xgboost" \
        else {"num_leaves": 64, "min_child_samples": 2}
    model, monitor = run(make_frame(300), algorithm, rules=rules, check_every=5,
                         learning_rate=0.3, n_estimators=60, **shape)
    assert monitor.stopped_by == "Overfit"
    assert len(monitor.history) == 5
    fitted = model.named_steps["model"]
    trees = (fitted.estimator_.get_booster().num_boosted_rounds() if algorithm == "xgboost"
             else fitted.booster_.current_iteration())
    assert trees == 5


def test_on_iteration_sees_scores_and_can_stop(healthy_frame):
    seen = []

    def prune(iteration, scores):
        seen.append(scores["validation_logloss"])
        return iteration == 6

    _, monitor = run(healthy_frame, max_depth=2, on_iteration=prune, **HEALTHY)
    assert len(seen) == 7 and seen[-1] < seen[0]
    assert monitor.stopped_by == "on_iteration"


def test_missing_inputs_end_in_error_not_in_a_crash():
    diabetes = data.load("diabetes").frame
    train, validation, _ = data.split(diabetes, "target", seed=0)
    _, monitor = debugger.debug_fit("xgboost", train, validation, "target", n_estimators=12)
    found = statuses(monitor)
    assert found["ClassImbalance"] == ERROR and found["Confusion"] == ERROR
    assert "regression" in message(monitor, "Confusion")
    assert found["Overfit"] == NO_ISSUES or found["Overfit"] == ISSUES  # rmse curves exist
    # Without a validation set, the rules that compare curves say what is missing.
    frame = make_frame(500)
    only_train = debugger.LightGBMMonitor([debugger.Overfit()])
    lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(
        frame.drop(columns="y"), frame["y"], eval_X=(frame.drop(columns="y"),),
        eval_y=(frame["y"],), callbacks=[only_train])
    result = only_train.results().iloc[0]
    assert result["status"] == ERROR
    assert "no validation metric recorded" in result["message"]


def test_a_monitor_survives_cloning_inside_a_pipeline():
    frame = make_frame(1_000)
    monitor = debugger.XGBoostMonitor(check_every=4)
    model = models.make_model("xgboost", "binary", n_estimators=8, callbacks=[monitor])
    model.fit(frame.drop(columns="y"), frame["y"])
    assert len(monitor.history) == 8


def test_a_plain_monitor_watches_lightgbm_through_the_shared_adapter():
    frame = make_frame(1_000)
    X, y = frame.drop(columns="y"), frame["y"]
    monitor = debugger.Monitor([debugger.TreeDepth(depth=1)], data=(X, y), check_every=3)
    assert isinstance(monitor, callbacks.RoundCallback)
    assert debugger.XGBoostMonitor is debugger.Monitor
    lightgbm.LGBMClassifier(n_estimators=6, num_leaves=4, verbose=-1).fit(
        X, y, eval_X=(X,), eval_y=(y,), callbacks=[monitor.lightgbm])
    assert monitor.history.index.tolist() == list(range(6))
    assert monitor.history["tree_depth"].between(2, 3).all()
    assert monitor.results()["status"].tolist() == [ISSUES]
    assert monitor.classes == [0, 1]
    # A second fit starts a fresh record.
    lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y, callbacks=[monitor.lightgbm])
    assert len(monitor.history) == 2


def test_rules_reject_bad_parameters():
    with pytest.raises(debugger.DebuggerError, match="mode must be 'TRAIN' or 'EVAL'"):
        debugger.LossNotDecreasing(mode="train")
    with pytest.raises(MlcycleError, match="importance_type must be 'weight' or 'gain'"):
        debugger.FeatureImportanceOverweight(importance_type="cover")
    with pytest.raises(ValueError, match="check_every must be >= 1"):
        debugger.Monitor(check_every=0)
    with pytest.raises(TypeError, match="rules must be Rule objects"):
        debugger.XGBoostMonitor(["Overfit"])
    with pytest.raises(ValueError, match="algorithm must be 'xgboost' or 'lightgbm'"):
        debugger.debug_fit("linear", make_frame(50), make_frame(50), "y")


def test_report_is_one_self_contained_html_file(deep_small, tmp_path):
    _, monitor = deep_small
    figures = debugger.report_figures(monitor)
    assert set(figures) == {"rule_summary", "learning_curves", "feature_importance",
                            "confusion_matrix"}
    for fig in figures.values():
        plt.close(fig)
    page = debugger.write_report(monitor, tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    assert "http" not in page
    for rule in debugger.BUILT_IN_RULES:
        assert rule.__name__ in page
    assert "IssuesFound" in page and "depth=4" in page


def test_the_report_escapes_what_it_shows(deep_small, tmp_path):
    _, monitor = deep_small
    page = debugger.write_report(monitor, tmp_path / "report.html",
                                 title='<script>alert("x")</script> & co').read_text()
    assert "<script>" not in page
    assert "<title>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co</title>" in page
    assert "60 boosting rounds" in page and "training ran to the end" in page


def test_missing_data_is_a_course_error_and_a_lookup_error():
    with pytest.raises(MlcycleError, match="no validation metric recorded"):
        debugger.Monitor().loss("validation")
    assert issubclass(debugger.MissingData, LookupError)


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm"])
def test_text_class_labels_are_monitored(algorithm):
    penguins = data.load("penguins")
    parts = data.split(penguins.frame, penguins.target, seed=0)
    model, monitor = debugger.debug_fit(algorithm, parts.train, parts.validation,
                                        penguins.target, n_estimators=15)
    predictions = model.predict(parts.test.drop(columns=penguins.target))
    assert set(predictions) <= set(penguins.labels)
    assert (predictions == parts.test[penguins.target]).mean() > 0.9
    assert len(monitor.history) == 15
