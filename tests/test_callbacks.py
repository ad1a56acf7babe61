"""The one adapter from boosting rounds to the code that watches them, and the import graph."""

import ast
import graphlib
from pathlib import Path

import lightgbm
import numpy as np
import pytest
import xgboost

from mlcycle_ref import callbacks

PACKAGE = Path(callbacks.__file__).parent


class StopAt(callbacks.RoundCallback):
    """Stops after ``last`` rounds and keeps the predictions it was shown."""

    def __init__(self, last):
        self.last = last
        self.rounds = []

    def after_round(self, rounds, predict):
        self.rounds.append(rounds)
        self.shape = predict(X).shape
        return rounds == self.last


X = np.random.default_rng(0).normal(size=(60, 3))
y = (X[:, 0] > 0).astype(int)


def test_xgboost_rounds_are_counted_from_one_and_stopping_keeps_them():
    watcher = StopAt(4)
    model = xgboost.XGBClassifier(n_estimators=20, callbacks=[watcher]).fit(X, y)
    assert watcher.rounds == [1, 2, 3, 4] and watcher.shape == (60,)
    assert model.get_booster().num_boosted_rounds() == 4


def test_lightgbm_calls_after_each_round_and_stopping_keeps_the_rounds():
    watcher = StopAt(4)
    model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=2, verbose=-1).fit(
        X, y, callbacks=[watcher.lightgbm])
    assert watcher.rounds == [1, 2, 3, 4] and watcher.shape == (60,)
    assert model.booster_.current_iteration() == 4


def test_stop_training_reaches_the_caller():
    class Refuse(callbacks.RoundCallback):
        def after_round(self, rounds, predict):
            raise callbacks.StopTraining(f"enough after {rounds}")

    with pytest.raises(callbacks.StopTraining, match="enough after 1"):
        xgboost.XGBClassifier(n_estimators=5, callbacks=[Refuse()]).fit(X, y)


def _run_time_nodes(node):
    """Every node under ``node`` except those only type checkers see (``if TYPE_CHECKING:``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
            continue
        yield child
        yield from _run_time_nodes(child)


def _imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports when it runs, at the top or in a function."""
    found = set()
    for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.startswith("mlcycle_ref."))
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_package_modules_import_each_other_without_a_cycle():
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # A package's __init__ re-exports its modules; the modules themselves form the graph.
        if path.name == "__init__.py":
            continue
        graph[name] = {target for target in _imports(path)
                       if target in modules and target != name
                       and modules[target].name != "__init__.py"}
    assert len(graph) > 15
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"modules import each other in a cycle: {' -> '.join(error.args[1])}")
