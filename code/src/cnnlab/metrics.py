"""Label checks around scikit-learn's confusion matrix, and the indices of the wrong predictions.

The scores themselves (accuracy, precision, recall, F1) are the student's to
compute with ``sklearn.metrics`` in Exercise 2.3.
"""

from __future__ import annotations

import numpy as np

from .arguments import whole_number

__all__ = ["confusion", "misclassified"]


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
