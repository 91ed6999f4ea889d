"""Label checks around scikit-learn's confusion matrix, the indices of the wrong predictions, and how far
an accuracy measured on a finite test set can be trusted.

The scores themselves (accuracy, precision, recall, F1) are the student's to
compute with ``sklearn.metrics`` in Exercise 2.3.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from .arguments import whole_number

__all__ = ["confusion", "misclassified", "wilson_interval"]


def _labels(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} has shape {array.shape}: pass one label per example, a 1-D array.")
    return array


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}: predict every example of the test set.")
    if len(y_true) == 0:
        raise ValueError("y_true is empty: evaluate on at least one example.")
    kinds = {
        name: "text" if values.dtype.kind in "USO" else "number" for name, values in (("y_true", y_true), ("y_pred", y_pred))
    }
    if kinds["y_true"] != kinds["y_pred"]:
        raise ValueError(
            f"y_true holds {kinds['y_true']} labels ({y_true[0].item()!r}, ...) but y_pred holds {kinds['y_pred']} labels "
            f"({y_pred[0].item()!r}, ...): convert one of them, for example with .astype(int), so that equal classes match."
        )
    return y_true, y_pred


def confusion(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Confusion matrix: row ``i``, column ``j`` counts examples of class ``i`` predicted as ``j``.

    Examples
    --------
    >>> confusion([0, 1, 1], [0, 0, 1], num_classes=2)
    array([[1, 0],
           [1, 1]])
    """
    num_classes = whole_number("num_classes", num_classes)
    y_true, y_pred = _pair(y_true, y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        outside = sorted(
            {
                value
                for value in values.tolist()
                if not (isinstance(value, (int, float)) and float(value).is_integer() and 0 <= value < num_classes)
            },
            key=str,
        )
        if outside:
            raise ValueError(
                f"{name} holds labels outside 0-{num_classes - 1}: {outside[:5]}. Pass class numbers 0 to "
                f"{num_classes - 1}, or set num_classes to the number of classes."
            )
    from sklearn.metrics import confusion_matrix  # here, not at the top: importing scikit-learn takes a second

    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


def misclassified(y_true, y_pred) -> np.ndarray:
    """Indices of the examples whose prediction is wrong.

    Examples
    --------
    >>> misclassified([3, 1, 4, 1], [3, 7, 4, 2]).tolist()
    [1, 3]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return np.flatnonzero(y_true != y_pred)


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion, such as an accuracy of ``correct`` out of ``total`` test images.

    A test set is a sample: another 1,000 digits drawn the same way would give
    another accuracy. The interval covers the accuracy on all such digits with
    the given confidence, treating the test images as independent draws; it
    says nothing about other kinds of images. Unlike the textbook
    ``p +- z * sqrt(p(1 - p)/n)``, Wilson's interval stays inside [0, 1] and
    keeps its coverage near 0 and 1 (Brown, Cai and DasGupta, 2001).

    Parameters
    ----------
    correct : int
        Number of correct predictions (successes).
    total : int
        Number of test examples (trials).
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    (low, high) : tuple of float
        The interval's bounds, as proportions between 0 and 1.

    Raises
    ------
    TypeError
        If ``correct`` or ``total`` is not a whole number.
    ValueError
        If ``total`` is not positive, ``correct`` lies outside 0..``total``, or
        ``confidence`` is not strictly between 0 and 1.

    Examples
    --------
    >>> low, high = wilson_interval(966, 1000)
    >>> round(low, 4), round(high, 4)
    (0.9529, 0.9756)
    >>> wilson_interval(0, 10)[0]
    0.0
    """
    total = whole_number("total", total)
    correct = whole_number("correct", correct, minimum=0)
    if correct > total:
        raise ValueError(f"correct={correct} is larger than total={total}: count the correct predictions among the total.")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must lie strictly between 0 and 1: pass for example 0.95.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / total
    denominator = 1 + z**2 / total
    centre = (p + z**2 / (2 * total)) / denominator
    half = z * ((p * (1 - p) / total + z**2 / (4 * total**2)) ** 0.5) / denominator
    # At 0 or all correct the bound is exactly 0 or 1; computed, it would miss by a rounding error.
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == total else min(1.0, centre + half)
    return low, high
