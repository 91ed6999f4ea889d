"""Tests of cnnlab.metrics against hand-computed values."""

import numpy as np
import pytest

from cnnlab import metrics


def test_confusion_and_misclassified():
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    matrix = metrics.confusion(y_true, y_pred, num_classes=3)
    assert matrix.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert matrix.sum() == 4
    assert metrics.misclassified(y_true, y_pred).tolist() == [1, 3]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1], [0], "y_true has 2 labels but y_pred has 1"),
        ([[0, 1]], [0, 1], r"y_true has shape \(1, 2\)"),
        ([], [], "y_true is empty"),
    ],
)
@pytest.mark.parametrize("function", [metrics.confusion, metrics.misclassified])
def test_errors(function, y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        function(y_true, y_pred)


def test_confusion_refuses_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"y_pred holds labels outside 0-9: \[10, 12\]\. Pass class numbers 0 to 9"):
        metrics.confusion([1, 2, 3], [10, 2, 12])
    with pytest.raises(ValueError, match=r"y_true holds labels outside 0-1: \[-1\]"):
        metrics.confusion([-1, 0], [0, 0], num_classes=2)


def test_labels_of_different_kinds_are_refused():
    with pytest.raises(
        ValueError, match=r"y_true holds number labels \(3, \.\.\.\) but y_pred holds text labels \('3', \.\.\.\)"
    ):
        metrics.misclassified([3, 1], ["3", "1"])
    assert metrics.misclassified(np.array([3, 1]), np.array([3.0, 2.0])).tolist() == [1]


@pytest.mark.parametrize(
    ("correct", "total", "confidence"), [(966, 1000, 0.95), (919, 1000, 0.95), (3, 7, 0.9), (0, 10, 0.95), (10, 10, 0.99)]
)
def test_wilson_interval_agrees_with_scipy(correct, total, confidence):
    from scipy.stats import binomtest

    expected = binomtest(correct, total).proportion_ci(confidence, method="wilson")
    low, high = metrics.wilson_interval(correct, total, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12) and high == pytest.approx(expected.high, abs=1e-12)
    assert 0 <= low <= correct / total <= high <= 1


def test_wilson_interval_narrows_with_more_test_images():
    small = metrics.wilson_interval(90, 100)
    large = metrics.wilson_interval(900, 1000)
    assert large[1] - large[0] < small[1] - small[0]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((5, 0), ValueError, "total=0 must be positive"),
        ((11, 10), ValueError, "correct=11 is larger than total=10"),
        ((-1, 10), ValueError, "correct=-1 must be non-negative"),
        ((0.5, 10), TypeError, "correct=0.5 is a float"),
        ((5, 10, 95), ValueError, r"confidence=95 must lie strictly between 0 and 1"),
    ],
)
def test_wilson_interval_refuses_bad_counts(args, error, message):
    with pytest.raises(error, match=message):
        metrics.wilson_interval(*args)
