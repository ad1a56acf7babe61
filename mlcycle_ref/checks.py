"""Checks for the test cells of the graded labs: a failure is an ``AssertionError`` that teaches.

Each function compares what a student's code produced with what a task asks for. On a
mismatch it raises ``AssertionError`` with a message that names the checked expression, says
what kind of value was wanted and shows what was *found*; it never prints the expected value,
so a message cannot be pasted back as an answer. Test cells describe what they check with
``name``, for example ``"missing_shares(toy)"`` or ``"the columns of one_hot(...)"``.

>>> expect_close("share of missing ages", 0.5, 0.5)
>>> expect_close("share of missing ages", 0.25, 0.5)
Traceback (most recent call last):
...
AssertionError: value of share of missing ages is not correct (checked to within 1e-06); found 0.25
>>> expect_type("missing_shares(frame)", None, pd.Series)
Traceback (most recent call last):
...
AssertionError: missing_shares(frame) should be a pandas Series, found None \
(did you forget a `return` statement?)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

#: Default tolerance of numeric comparisons: absolute for values near zero, relative otherwise.
TOLERANCE = 1e-6
#: Longest text of a found value quoted in a message.
MAX_SHOWN = 120

_KIND_NAMES = {
    pd.DataFrame: "pandas DataFrame",
    pd.Series: "pandas Series",
    np.ndarray: "NumPy array",
    dict: "dict",
    list: "list",
    tuple: "tuple",
    str: "string",
    int: "whole number",
    float: "number",
}


def _kind(expected: type) -> str:
    return _KIND_NAMES.get(expected, expected.__name__)


def _shown(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()  # 0.3 rather than np.float64(0.3)
    text = " ".join(repr(value).split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _described(value) -> str:
    if value is None:
        return "None (did you forget a `return` statement?)"
    return f"a {_kind(type(value))}"


def _fail(message: str, hint: str = ""):
    raise AssertionError(f"{message}. {hint}" if hint else message)


def expect(condition, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds; for checks no other function covers.

    >>> expect(3 > 2, "three should be more than two")
    >>> expect(2 > 3, "two should be more than three")
    Traceback (most recent call last):
    ...
    AssertionError: two should be more than three
    """
    if not condition:
        raise AssertionError(message)


def expect_type(name: str, value, expected: type | tuple[type, ...], hint: str = "") -> None:
    """Fail unless ``value`` is an instance of ``expected`` (a type or a tuple of types).

    ``name`` is the checked expression as the message shows it, ``hint`` an
    optional sentence appended to a failure message (a nudge towards the mistake).

    >>> expect_type("count", 3, (int, float))
    >>> expect_type("one_hot(train, frame, 'job')", [1, 0], pd.DataFrame)
    Traceback (most recent call last):
    ...
    AssertionError: one_hot(train, frame, 'job') should be a pandas DataFrame, found a list
    """
    if isinstance(value, expected):
        return
    wanted = expected if isinstance(expected, tuple) else (expected,)
    kinds = " or ".join(_kind(kind) for kind in wanted)
    _fail(f"{name} should be a {kinds}, found {_described(value)}", hint)


def expect_equal(name: str, found, expected, hint: str = "") -> None:
    """Fail unless ``found == expected``: for counts, labels and other exact answers.

    Arrays and Series are compared element by element.
    ``name`` is the checked expression as the message shows it, ``hint`` an
    optional sentence appended to a failure message (a nudge towards the mistake).

    >>> expect_equal("confusion_counts(...)['tp']", 2, 2)
    >>> expect_equal("confusion_counts(...)['tp']", 3, 2)
    Traceback (most recent call last):
    ...
    AssertionError: value of confusion_counts(...)['tp'] is not correct; found 3
    """
    if not _same(found, expected):
        _fail(f"value of {name} is not correct; found {_shown(found)}", hint)


def _same(found, expected) -> bool:
    arrays = (np.ndarray, pd.Series, pd.Index)
    if isinstance(found, arrays) or isinstance(expected, arrays):
        return np.array_equal(np.asarray(found), np.asarray(expected))
    try:
        return bool(found == expected)
    except (TypeError, ValueError):  # a comparison without a single truth value, e.g. frames
        return False


def _is_close(found, expected, tolerance: float) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return found is None or (isinstance(found, float) and math.isnan(found))
    return math.isclose(found, expected, rel_tol=tolerance, abs_tol=tolerance)


def expect_close(name: str, found, expected: float, tolerance: float = TOLERANCE,
                 hint: str = "") -> None:
    """Fail unless the number ``found`` is within ``tolerance`` of ``expected``.

    The tolerance (default :data:`TOLERANCE`) is relative for large numbers and absolute near
    zero. A missing value is only close to a missing value.
    ``name`` is the checked expression as the message shows it, ``hint`` an
    optional sentence appended to a failure message (a nudge towards the mistake).

    >>> expect_close("mean of the scaled column", 1e-12, 0.0)
    >>> expect_close("roc_auc", "0.8", 0.8)
    Traceback (most recent call last):
    ...
    AssertionError: roc_auc should be a number, found a string
    """
    if isinstance(found, bool) or not isinstance(found, int | float | np.number):
        _fail(f"{name} should be a number, found {_described(found)}", hint)
    if not _is_close(float(found), expected, tolerance):
        _fail(f"value of {name} is not correct (checked to within {tolerance:g}); "
              f"found {_shown(found)}", hint)


def expect_same_items(name: str, found: Iterable, expected: Iterable, hint: str = "") -> None:
    """Fail unless ``found`` holds the same distinct items as ``expected``, in any order.

    The message lists the items that should not be there, but only counts the missing ones.
    ``name`` is the checked expression as the message shows it, ``hint`` an
    optional sentence appended to a failure message (a nudge towards the mistake).

    >>> expect_same_items("sentinel columns", ["pdays", "job"], {"job", "pdays"})
    >>> expect_same_items("sentinel columns", ["pdays", "age"], ["pdays", "job", "contact"])
    Traceback (most recent call last):
    ...
    AssertionError: sentinel columns is not correct: 1 item should not be there (['age']) \
and 2 items are missing
    """
    if isinstance(found, str) or found is None or not isinstance(found, Iterable):
        _fail(f"{name} should be a collection of items, found {_shown(found)}", hint)
    found_items, expected_items = set(found), set(expected)
    extra = sorted(found_items - expected_items, key=str)
    n_missing = len(expected_items - found_items)
    if not extra and not n_missing:
        return
    parts = []
    if extra:
        parts.append(f"{len(extra)} item{'s' if len(extra) > 1 else ''} should not be there"
                     f" ({_shown(extra)})")
    if n_missing:
        parts.append(f"{n_missing} item{'s are' if n_missing > 1 else ' is'} missing")
    _fail(f"{name} is not correct: {' and '.join(parts)}", hint)


def expect_values_close(name: str, found, expected, tolerance: float = TOLERANCE,
                        hint: str = "") -> None:
    """Fail unless two Series (by label) or two arrays (by position) hold close values.

    ``found`` is what the student's code gave; ``expected`` is a Series, or anything NumPy
    reads as an array of numbers. Labels must match as sets (their order does not matter);
    arrays must have the same shape. Values count as close within ``tolerance``, as in
    :func:`expect_close`, and missing values must sit in the same places. The message names
    the first label or position that differs and what was found there.
    ``name`` is the checked expression as the message shows it, ``hint`` an
    optional sentence appended to a failure message (a nudge towards the mistake).

    >>> expect_values_close("scale(...)", np.array([0.0, 0.5, 1.0]), [0, 0.5, 1])
    >>> expect_values_close("missing_shares(frame)", pd.Series({"age": 0.1, "balance": 0.3}),
    ...                     pd.Series({"balance": 0.2, "age": 0.1}))
    Traceback (most recent call last):
    ...
    AssertionError: value of missing_shares(frame) is not correct for 'balance' \
(checked to within 1e-06); found 0.3
    """
    if isinstance(expected, pd.Series):
        expect_type(name, found, pd.Series, hint)
        expect_same_items(f"the index of {name}", found.index, expected.index, hint)
        pairs = ((repr(label), found[label], expected[label]) for label in expected.index)
    else:
        expected = np.asarray(expected, dtype=float)
        expect_type(name, found, np.ndarray, hint)
        if found.shape != expected.shape:
            _fail(f"{name} should have shape {expected.shape}, found shape {found.shape}", hint)
        pairs = ((f"position {index}", value, wanted)
                 for index, value, wanted in zip(np.ndindex(expected.shape), found.ravel(),
                                                 expected.ravel(), strict=True))
    for where, value, wanted in pairs:
        wanted = None if pd.isna(wanted) else float(wanted)
        value = None if pd.isna(value) else value
        if value is None or wanted is None:
            if value is not wanted:
                _fail(f"value of {name} is not correct for {where}: found {_shown(value)}",
                      hint)
        elif not _is_close(float(value), wanted, tolerance):
            _fail(f"value of {name} is not correct for {where} (checked to within "
                  f"{tolerance:g}); found {_shown(value)}", hint)


def expect_raises(name: str, error: type[BaseException], function: Callable, *args,
                  hint: str = "", **kwargs) -> None:
    """Fail unless calling ``function(*args, **kwargs)`` raises ``error``.

    ``error`` is the exception class wanted (a subclass of it counts too).
    ``name`` is the checked expression as the message shows it, ``hint`` an
    optional sentence appended to a failure message (a nudge towards the mistake).

    >>> expect_raises("int('x')", ValueError, int, "x")
    >>> expect_raises("scale(train, values, 'rank')", ValueError, lambda: None)
    Traceback (most recent call last):
    ...
    AssertionError: scale(train, values, 'rank') should raise ValueError, but it returned None
    """
    try:
        result = function(*args, **kwargs)
    except error:
        return
    _fail(f"{name} should raise {error.__name__}, but it returned {_shown(result)}", hint)
