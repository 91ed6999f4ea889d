"""Why a test was slow, when a shared fixture it asked for did the work: the run's summary prints it."""

from __future__ import annotations


def note(request, reason: str) -> None:
    """Give the test that asked for a fixture the reason: what the fixture before this one did, then ``reason``.

    The test's own slow mark stays first among its reasons; the summary shows the last one added, so each fixture's
    reason carries the one before it (the build it waited for, then the PDFs it printed).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> test = SimpleNamespace(user_properties=[], get_closest_marker=lambda name: None)
    >>> request = SimpleNamespace(_pyfuncitem=test)
    >>> note(request, "builds the book"); note(request, "prints the PDFs")
    >>> test.user_properties[-1]
    ('slow', 'builds the book, then prints the PDFs')
    """
    asking = getattr(request, "_pyfuncitem", None)
    if asking is None:  # a fixture asked for by no test
        return
    reasons = [value for key, value in asking.user_properties if key == "slow"]
    earlier = reasons[1:] if asking.get_closest_marker("slow") is not None else reasons
    asking.user_properties.append(("slow", ", then ".join([*earlier[-1:], reason])))
