"""What a debugger rule is: its verdict, its statuses and the errors of the debugger.

A rule reads what a :class:`~mlcycle_ref.debugger.monitor.Monitor` recorded - the metric of
every round, tree depths, round times, feature importance, the monitored rows' labels and
predictions - and ends as ``NoIssuesFound``, ``IssuesFound`` or ``Error`` (the data it needs
was not recorded), with a message saying what it saw. Rules never train anything, so one
recorded run can be judged again by rules with other parameters. The eight built-in rules
are in :mod:`~mlcycle_ref.debugger.builtin`.

>>> from mlcycle_ref import data
>>> from mlcycle_ref.debugger import TreeDepth, debug_fit
>>> parts = data.split(data.load("breast_cancer").frame, "target", seed=0)
>>> _, monitor = debug_fit("xgboost", parts.train, parts.validation, "target", n_estimators=20)
>>> [result.status for result in (TreeDepth(depth=1).evaluate(monitor),
...                                TreeDepth(depth=6).evaluate(monitor))]
['IssuesFound', 'NoIssuesFound']
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from mlcycle_ref.errors import MlcycleError

if TYPE_CHECKING:
    from mlcycle_ref.debugger.monitor import Monitor

NO_ISSUES, ISSUES, ERROR = "NoIssuesFound", "IssuesFound", "Error"


class DebuggerError(MlcycleError, ValueError):
    """A rule, monitor or report asked for with a value it cannot use; the message says which.

    >>> from mlcycle_ref.debugger import LossNotDecreasing
    >>> try:
    ...     LossNotDecreasing(mode="train")
    ... except DebuggerError as error:
    ...     print(error)
    LossNotDecreasing: mode must be 'TRAIN' or 'EVAL', got 'train'
    """


class MissingData(MlcycleError, LookupError):
    """A rule needs something the monitor did not record; the rule then ends in ``Error``.

    >>> from mlcycle_ref.debugger import Monitor
    >>> try:
    ...     Monitor().loss("validation")
    ... except MissingData as error:
    ...     print(error)
    no validation metric recorded: pass the validation data as an evaluation set \
(eval_roles=('train', 'validation'))
    """


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule.

    ``rule`` is the rule's name, ``status`` one of ``NoIssuesFound``, ``IssuesFound`` and
    ``Error``, ``message`` what the rule saw, and ``iteration`` the round (counted from 0)
    the verdict refers to, or None when it refers to none.

    >>> RuleResult("TreeDepth", NO_ISSUES, "deepest tree: 3 levels", 19).status
    'NoIssuesFound'
    """

    rule: str
    status: str
    message: str
    iteration: int | None = None


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Base of the rules: :meth:`evaluate` judges a monitor and returns a :class:`RuleResult`.

    A subclass implements :meth:`check`. ``stop_training_on_fire=True`` makes the monitor end
    training the moment the rule fires (SageMaker Debugger's "stop training job" action).

    >>> from mlcycle_ref import data
    >>> from mlcycle_ref.debugger import StalledTraining, debug_fit
    >>> parts = data.split(data.load("wine").frame, "target", seed=0)
    >>> _, monitor = debug_fit("lightgbm", parts.train, parts.validation, "target",
    ...                        n_estimators=10, num_leaves=4)
    >>> result = StalledTraining().evaluate(monitor)
    >>> result.rule, result.status, result.iteration
    ('StalledTraining', 'NoIssuesFound', 9)
    >>> StalledTraining(threshold=0.0).check(monitor)[0]
    True
    """

    stop_training_on_fire: bool = False

    @property
    def name(self) -> str:
        """The rule's class name, as results and reports show it."""
        return type(self).__name__

    @property
    def parameters(self) -> str:
        """The rule's parameters as ``name=value`` text, for tables and reports."""
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))

    def _require_one_of(self, field: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, field)
        if value not in choices:
            raise DebuggerError(f"{self.name}: {field} must be "
                                f"{' or '.join(map(repr, choices))}, got {value!r}")

    def evaluate(self, monitor: Monitor) -> RuleResult:
        """The rule's verdict on what ``monitor`` recorded so far; ``Error`` on missing data."""
        try:
            fired, message, iteration = self.check(monitor)
        except MissingData as error:
            return RuleResult(self.name, ERROR, str(error), monitor.iteration)
        return RuleResult(self.name, ISSUES if fired else NO_ISSUES, message, iteration)

    def check(self, monitor: Monitor) -> tuple[bool, str, int | None]:
        """``(fired, message, iteration)`` for ``monitor``; raises :class:`MissingData` when
        the monitor lacks what the rule needs.

        ``iteration`` is the round the message refers to, counted from 0, or None.

        >>> from mlcycle_ref.debugger import Monitor, StalledTraining
        >>> StalledTraining(threshold=60).check(Monitor())  # a monitor that saw no round
        (False, 'no round finished yet', None)
        """
        raise NotImplementedError
