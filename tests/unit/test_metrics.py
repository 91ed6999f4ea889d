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
