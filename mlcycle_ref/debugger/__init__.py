"""Debugger: watch a boosting model while it trains, check built-in rules, write a report.

One module per concern: :mod:`~mlcycle_ref.debugger.rules` (what a rule is and returns),
``builtin`` (the eight rules), ``monitor`` (recording a run through the training-callback
adapter of :mod:`mlcycle_ref.callbacks`), ``fit`` (:func:`debug_fit`, a monitored fit in one
call), ``figures`` and ``report``.

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

from mlcycle_ref.debugger.builtin import (
    BUILT_IN_RULES,
    ClassImbalance,
    Confusion,
    FeatureImportanceOverweight,
    LossNotDecreasing,
    Overfit,
    Overtraining,
    StalledTraining,
    TreeDepth,
    default_rules,
)
from mlcycle_ref.debugger.figures import (
    STATUS_COLORS,
    plot_confusion,
    plot_feature_importance,
    plot_learning_curves,
    plot_rule_summary,
    report_figures,
)
from mlcycle_ref.debugger.fit import debug_fit
from mlcycle_ref.debugger.monitor import ROLES, LightGBMMonitor, Monitor, XGBoostMonitor
from mlcycle_ref.debugger.report import write_report
from mlcycle_ref.debugger.rules import (
    ERROR,
    ISSUES,
    NO_ISSUES,
    DebuggerError,
    MissingData,
    Rule,
    RuleResult,
)

__all__ = ["BUILT_IN_RULES", "ERROR", "ISSUES", "NO_ISSUES", "ROLES", "STATUS_COLORS",
           "ClassImbalance", "Confusion", "DebuggerError", "FeatureImportanceOverweight",
           "LightGBMMonitor", "LossNotDecreasing", "MissingData", "Monitor", "Overfit",
           "Overtraining", "Rule", "RuleResult", "StalledTraining", "TreeDepth",
           "XGBoostMonitor", "debug_fit", "default_rules", "plot_confusion",
           "plot_feature_importance", "plot_learning_curves", "plot_rule_summary",
           "report_figures", "write_report"]
