"""Every test belongs to one layer, so that CI can run the layers one by one and name the one that broke.

Tests marked ``book``, ``notebooks`` or ``browser`` keep their mark; every
other test, the doctests of ``cnnlab`` and ``booktools`` included, is a
``unit`` test.

At the end of a run the summary gives each layer's wall time (the time during
which at least one of its tests was running, on any worker) and the slowest
tests, each with the reason its ``slow`` mark gives. A layer that took more
than 20% longer than the time recorded in ``tests/layer-times.json`` is
flagged there, so that a slow test is noticed the day it lands (update the
record when a layer grows on purpose, with the machine that measured it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

LAYERS = ("unit", "book", "notebooks", "browser")
SLOW_SECONDS = 15
RECORDED_TIMES = Path(__file__).parent / "tests" / "layer-times.json"
GROWTH_FLAGGED = 0.2


def growth_note(seconds: float, recorded: float | None, threshold: float = GROWTH_FLAGGED) -> str:
    """A flag for a layer that took more than ``threshold`` longer than ``recorded``, or an empty string.

    Examples
    --------
    >>> growth_note(130, 100)
    '  GREW 30% over the 100 s recorded in tests/layer-times.json'
    >>> growth_note(115, 100), growth_note(115, None)
    ('', '')
    """
    if not recorded or seconds <= recorded * (1 + threshold):
        return ""
    return f"  GREW {seconds / recorded - 1:.0%} over the {recorded:.0f} s recorded in tests/layer-times.json"


BUILD_FIXTURES = ("built_book", "printed_book")


def run_order(item) -> tuple[int, int]:
    """Where a test runs in the session: the book build first, then every test that does not need it, slow ones
    first, then those that read the build.

    pytest-xdist's loadgroup hands out the largest xdist groups before anything else: the PDF and the nbval
    groups, whose first tests build the book (one worker) and wait for it (the other, while the build's two
    chapter kernels keep both cores busy). Every other test then runs in this order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> def test(fixtures=(), slow=False, name="test_x"):
    ...     return SimpleNamespace(fixturenames=fixtures, name=name, get_closest_marker=lambda mark: slow or None)
    >>> [run_order(t) for t in (test(), test(slow=True), test(("built_book",)), test(("built_book",), name=BUILD_TEST))]
    [(1, 1), (1, 0), (2, 1), (0, 0)]
    """
    if item.name == BUILD_TEST:
        return (0, 0)
    needs_build = any(fixture in item.fixturenames for fixture in BUILD_FIXTURES)
    return (2 if needs_build else 1, 0 if item.get_closest_marker("slow") else 1)


BUILD_TEST = "test_build_succeeds_without_warnings"


def pytest_collection_modifyitems(items):
    for item in items:
        if not any(item.get_closest_marker(layer) for layer in LAYERS):
            item.add_marker(pytest.mark.unit)
        slow = item.get_closest_marker("slow")
        if slow is not None and not (slow.args and str(slow.args[0]).strip()):
            raise pytest.UsageError(f"{item.nodeid}: give the slow mark its reason, @pytest.mark.slow('why it takes long').")
    items.sort(key=group_order(items))  # stable: within each rank, the collection order


def xdist_group(item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return None
    return marker.args[0] if marker.args else marker.kwargs.get("name")


def group_order(items):
    """A sort key: each test's :func:`run_order`, the earliest of its xdist group's for a test in one.

    A group's tests run in collection order on one worker (each build of the execution cache's small book starts
    from the last one's), so a slow mark on one of them must not move it ahead of the others.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> def test(group=None, slow=False):
    ...     marks = {"xdist_group": group and SimpleNamespace(args=(group,), kwargs={}), "slow": slow or None}
    ...     return SimpleNamespace(fixturenames=(), name="test_x", get_closest_marker=marks.get)
    >>> tests = [test("cache"), test("cache", slow=True), test(), test(slow=True)]
    >>> [group_order(tests)(t) for t in tests]
    [(1, 0), (1, 0), (1, 1), (1, 0)]
    """
    groups: dict[str, tuple[int, int]] = {}
    for item in items:
        name, order = xdist_group(item), run_order(item)
        if name is not None:
            groups[name] = min(groups.get(name, order), order)
    return lambda item: groups.get(xdist_group(item)) or run_order(item)


def merged_seconds(intervals: list[tuple[float, float]]) -> float:
    """The length of the union of time intervals.

    Examples
    --------
    >>> merged_seconds([(0, 2), (1, 3), (5, 6)])
    4
    """
    total, end = 0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


class LayerClock:
    """Collects each test's time, on the process that reports (the xdist controller, or the only process)."""

    def __init__(self):
        self.intervals = defaultdict(list)
        self.names = defaultdict(set)
        self.tests = defaultdict(float)
        self.reasons = {}

    def pytest_runtest_logreport(self, report):
        if not getattr(report, "stop", 0):
            return
        layer = next((layer for layer in LAYERS if layer in report.keywords), "unit")
        self.intervals[layer].append((report.start, report.stop))
        self.names[layer].add(report.nodeid)
        self.tests[report.nodeid] += report.stop - report.start
        if report.when == "call":
            reason = dict(report.user_properties).get("slow")
            if reason:
                self.reasons[report.nodeid] = reason

    def pytest_terminal_summary(self, terminalreporter):
        if not self.intervals:
            return
        write = terminalreporter.write_line
        terminalreporter.section("wall time per layer")
        try:
            recorded = json.loads(RECORDED_TIMES.read_text(encoding="utf-8"))["seconds"]
        except (OSError, ValueError, KeyError):
            recorded = {}
        for layer in LAYERS:
            if self.intervals[layer]:
                seconds = merged_seconds(self.intervals[layer])
                note = growth_note(seconds, recorded.get(layer))
                write(f"{layer:>10}: {seconds:7.1f} s  ({len(self.names[layer])} tests){note}")
        slow = sorted(((seconds, nodeid) for nodeid, seconds in self.tests.items() if seconds >= SLOW_SECONDS), reverse=True)
        if slow:
            terminalreporter.section(f"tests over {SLOW_SECONDS} s, and why")
            for seconds, nodeid in slow:
                write(
                    f"{seconds:6.1f} s  {nodeid}: {self.reasons.get(nodeid, 'NO REASON GIVEN: mark it @pytest.mark.slow(why)')}"
                )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    slow = item.get_closest_marker("slow")
    if slow is not None:
        item.user_properties.append(("slow", str(slow.args[0])))


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(LayerClock(), "layer-clock")
        return
    # A pytest-xdist worker shares the cores with the others: PyTorch threads that wait for one another spin and
    # slow every process down, so each worker takes its share of the cores (at least one thread).
    import torch

    from cnnlab.threads import available_cpus

    workers = int(config.workerinput.get("workercount", 1))
    torch.set_num_threads(max(1, int(available_cpus()) // workers))
