"""Waiting in tests by polling a condition, never by sleeping a fixed time: a test goes on as
soon as what it waits for is true, and says what it waited for when it never is."""

import time


def eventually(check, timeout: float = 10.0, interval: float = 0.05, what: str = "the condition"):
    """Call ``check()`` until it returns something true and return that; after ``timeout``
    seconds raise an AssertionError naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s (last: {value!r})")
        time.sleep(interval)
