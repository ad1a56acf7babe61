"""Tables for reading: numbers printed the way a person reads them.

pandas prints every float of a column with the same number of decimals, so a count stored
as a float shows as ``187.0000`` and a column that mixes 0.5 and 1,559 turns into
``1.559e+03``. :func:`readable_number` prints whole numbers without decimals and keeps
about four significant digits otherwise; :func:`show_readable` makes it pandas' format for
the rest of a notebook.
"""

import math

import pandas as pd


def readable_number(value: float) -> str:
    """Return ``value`` as a reader would write it.

    Whole numbers have no decimals (with thousands separators from 10,000 up); other numbers
    keep four significant digits, or four decimals below 1, so metrics such as a ROC AUC
    still differ where they differ.

    >>> [readable_number(v) for v in (187.0, 42.5, 1559.25, 123456.0, 0.82051, 0.0001234)]
    ['187', '42.5', '1559', '123,456', '0.8205', '0.0001234']
    >>> readable_number(float("nan"))
    'nan'
    """
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if value == round(value) or size >= 1000:
        return f"{value:,.0f}" if size >= 10_000 else f"{value:.0f}"
    if size >= 1:
        return f"{value:.4g}"
    if size >= 0.001:
        return f"{value:.4f}".rstrip("0")
    return f"{value:.4g}"


def show_readable(max_text: int = 28) -> None:
    """Make pandas print floats with :func:`readable_number` and cut text longer than
    ``max_text`` characters (with an ellipsis), so no column wraps a long name.

    >>> show_readable()
    >>> print(pd.DataFrame({"n": [187.0, 50.0], "mean": [42.5, 0.25]}).to_string())
        n  mean
    0 187  42.5
    1  50  0.25
    >>> pd.reset_option("display.float_format"); pd.reset_option("display.max_colwidth")
    """
    pd.set_option("display.float_format", readable_number)
    pd.set_option("display.max_colwidth", max_text)
