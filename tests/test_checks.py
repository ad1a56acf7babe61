"""The lab checks pass what they should, and fail with messages that teach but never answer."""

import numpy as np
import pandas as pd
import pytest

from mlcycle_ref import checks

SECRET = 0.123456


def failure(function, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


def test_messages_name_the_expression_show_the_found_value_and_hide_the_expected_one():
    message = failure(checks.expect_close, "missing_shares(frame)['age']", 0.5, SECRET)
    assert "missing_shares(frame)['age']" in message and "found 0.5" in message
    assert str(SECRET) not in message
    message = failure(checks.expect_equal, "count", 3, 41_986)
    assert "found 3" in message and "41986" not in message
    message = failure(checks.expect_values_close, "scores", pd.Series({"a": 1.0}),
                      pd.Series({"a": SECRET}))
    assert "'a'" in message and str(SECRET) not in message


def test_missing_items_are_counted_not_named():
    message = failure(checks.expect_same_items, "sentinel columns", ["pdays", "age"],
                      ["pdays", "job", "contact"])
    assert "['age']" in message and "2 items are missing" in message
    assert "job" not in message and "contact" not in message


def test_a_hint_is_appended_to_the_message():
    message = failure(checks.expect_equal, "tp", 1, 2, hint="Count rows where both are 1")
    assert message.endswith("found 1. Count rows where both are 1")


def test_type_checks_explain_none_and_wrong_kinds():
    assert "forget a `return`" in failure(checks.expect_type, "f(x)", None, pd.Series)
    assert "pandas DataFrame or dict, found a list" in failure(
        checks.expect_type, "f(x)", [1], (pd.DataFrame, dict))
    assert "should be a number, found a string" in failure(checks.expect_close, "auc", "0.8",
                                                           0.8)
    assert "found a bool" in failure(checks.expect_close, "auc", True, 1.0)


def test_tolerances_accept_floating_point_noise_and_matching_gaps():
    checks.expect_close("x", 0.1 + 0.2, 0.3)
    checks.expect_close("big", 1e9 + 1, 1e9)
    checks.expect_values_close("v", np.array([1.0, np.nan]), [1.0 + 1e-12, np.nan])
    checks.expect_values_close("s", pd.Series({"b": 2.0, "a": 1.0}), pd.Series({"a": 1, "b": 2}))
    assert "position (1,)" in failure(checks.expect_values_close, "v", np.array([1.0, 2.0]),
                                      [1.0, np.nan])
    assert "shape (3,), found shape (2,)" in failure(checks.expect_values_close, "v",
                                                     np.zeros(2), [0, 0, 0])


def test_expect_raises_and_expect():
    checks.expect_raises("int('x')", ValueError, int, "x")
    assert "should raise ValueError, but it returned 3" in failure(
        checks.expect_raises, "int('3')", ValueError, int, "3")
    checks.expect(True, "unused")
    assert failure(checks.expect, False, "exactly this") == "exactly this"


def test_equality_of_arrays_of_other_shapes_fails_cleanly():
    checks.expect_equal("codes", np.array([1, 2]), [1, 2])
    assert "found [1, 2]" in failure(checks.expect_equal, "codes", [1, 2], np.array([1, 2, 3]))
    assert "not correct" in failure(checks.expect_equal, "frame", pd.DataFrame({"a": [1]}), 1)


def test_long_found_values_are_shortened():
    message = failure(checks.expect_equal, "frame", list(range(500)), [])
    assert len(message) < 200 and message.endswith("...")
