"""Waiting in tests for something another process does, without timing anything.

The only clock a test may read is :func:`wait_until`'s: its give-up deadline is generous and
exists so that a broken run fails instead of hanging the suite; it never judges speed.
``tests/test_no_clocks.py`` enforces that.
"""

import time

#: Seconds :func:`wait_until` waits by default before it gives up: long enough for a busy
#: 2-core machine, short enough that a hang is reported the same hour.
GIVE_UP_SECONDS = 300


def wait_until(predicate, what: str, *, seconds: float = GIVE_UP_SECONDS,
               interval: float = 0.1, detail=None):
    """Call ``predicate()`` until it returns something true, and return that.

    ``what`` says what is awaited ("the first grading record is written"); if it has not
    happened after ``seconds`` the test fails saying so, with what ``detail()`` returns then,
    if given (what is still left, say). The predicate may assert on its own, e.g. that the
    process it watches is still running.

    >>> wait_until(lambda: 42, "the answer is known")
    42
    >>> wait_until(lambda: None, "nothing happens", seconds=0.2, interval=0.05)
    Traceback (most recent call last):
    AssertionError: nothing happens: still not the case after 0.2 s of waiting
    >>> wait_until(lambda: False, "it is empty", seconds=0, detail=lambda: ["a.txt"])
    Traceback (most recent call last):
    AssertionError: it is empty: still not the case after 0 s of waiting; at the end: ['a.txt']
    """
    deadline = time.monotonic() + seconds
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            found = f"; at the end: {detail()!r}" if detail else ""
            raise AssertionError(f"{what}: still not the case after {seconds:g} s of "
                                 f"waiting{found}")
        time.sleep(interval)
