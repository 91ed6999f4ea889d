"""Calibration, uncertainty and selective prediction: is a network's confidence worth what it says?

The reference versions of the calibration chapter:

* :func:`reliability_bins` and :func:`expected_calibration_error`: the
  confidence (the largest softmax probability) and the accuracy of the
  predictions in equal-width bins, and the expected calibration error (ECE)
  or the maximum one (MCE) of Guo et al. (ICML 2017), binned exactly as
  torchmetrics' ``MulticlassCalibrationError`` bins them
  (``tests/unit/test_calibration.py`` holds them to it);
* :func:`fit_temperature`: temperature scaling, the one number that divides
  the logits, fitted by negative log-likelihood on held-out data;
* :func:`mc_dropout`: the mean and spread of the class probabilities over
  forward passes with dropout on and batch normalisation left in evaluation
  mode (Gal and Ghahramani, ICML 2016); :func:`predictive_entropy`;
* :func:`selective_accuracy` and :func:`risk_coverage`: the accuracy of the
  cases a model keeps when it refers the least confident ones to a person;
* :func:`rotate`, for digits under shift, and :func:`trend` and
  :func:`change_verdict`, which turn a table's numbers into the sentence the
  chapter prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "DROPOUT_LAYERS",
    "change_verdict",
    "confidence_and_correct",
    "expected_calibration_error",
    "fit_temperature",
    "mc_dropout",
    "predictive_entropy",
    "reliability_bins",
    "risk_coverage",
    "rotate",
    "selective_accuracy",
    "trend",
]

#: The layer classes that drop units in training mode: ``nn.Dropout2d`` is not an ``nn.Dropout``.
DROPOUT_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def _check_logits(logits, labels) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        raise TypeError(f"logits is a {type(logits).__name__} {getattr(logits, 'shape', '')}: pass a float tensor (N, classes).")
    if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:1] or labels.is_floating_point():
        raise ValueError(
            f"labels {tuple(getattr(labels, 'shape', ()))} do not match logits {tuple(logits.shape)}: "
            "pass one integer class per row of logits, shape (N,)."
        )
    if len(logits) == 0:
        raise ValueError("logits holds no predictions: pass at least one row.")


def _check_bins(n_bins) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins={n_bins!r} must be a positive whole number, for example 15.")


def confidence_and_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each prediction's confidence (its largest softmax probability) and whether it is right.

    Examples
    --------
    >>> confidence, correct = confidence_and_correct(torch.tensor([[2.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    >>> confidence.round(decimals=4).tolist(), correct.tolist()
    ([0.8808000087738037, 0.5], [True, False])
    """
    _check_logits(logits, labels)
    confidence, predicted = logits.softmax(dim=1).max(dim=1)
    return confidence, predicted == labels


def reliability_bins(
    logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """How many predictions fall in each confidence bin, their mean confidence and their accuracy.

    The edges are ``torch.linspace(0, 1, n_bins + 1)`` in the confidences'
    dtype; bin ``m`` holds the confidences from ``edges[m]`` up to, but not
    including, ``edges[m + 1]``. A confidence of exactly 1 lies on no such
    interval and gets a bin of its own, the last of ``n_bins + 1``: this is how
    torchmetrics' ``MulticlassCalibrationError`` bins (``torch.bucketize(...,
    right=True) - 1``), so that the ECE below equals its ECE. An empty bin has
    count 0 and mean confidence and accuracy 0.

    Parameters
    ----------
    logits : torch.Tensor
        Float scores (N, classes), before any softmax.
    labels : torch.Tensor
        Integer classes (N,).
    n_bins : int, default 15
        Equal-width bins between 0 and 1 (15, as torchmetrics' default).

    Returns
    -------
    (counts, confidence, accuracy) : torch.Tensor
        Each of ``n_bins + 1`` entries, float.

    Raises
    ------
    TypeError, ValueError
        If ``logits`` is not a float (N, classes) tensor, ``labels`` does not
        match it, or ``n_bins`` is not a positive whole number.

    Examples
    --------
    >>> counts, confidence, accuracy = reliability_bins(torch.tensor([[3.0, 0.0], [0.0, 0.2], [9.0, -9.0]]),
    ...                                                 torch.tensor([0, 0, 0]), n_bins=2)
    >>> counts.tolist(), accuracy.tolist()
    ([0.0, 2.0, 1.0], [0.0, 0.5, 1.0])
    """
    _check_bins(n_bins)
    confidence, correct = confidence_and_correct(logits, labels)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=confidence.dtype)
    index = torch.bucketize(confidence, edges, right=True) - 1  # edges[m] <= confidence < edges[m + 1]; 1 -> n_bins
    counts = torch.zeros(n_bins + 1, dtype=confidence.dtype).index_add_(0, index, torch.ones_like(confidence))
    confidence_sums = torch.zeros_like(counts).index_add_(0, index, confidence)
    correct_sums = torch.zeros_like(counts).index_add_(0, index, correct.to(confidence.dtype))
    safe = counts.clamp(min=1)
    return counts, confidence_sums / safe, correct_sums / safe


def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, norm: str = "l1") -> float:
    """The expected calibration error (``norm="l1"``) or the maximum calibration error (``norm="max"``).

    ECE is the mean, weighted by how many predictions each bin holds, of the
    gap between a bin's accuracy and its mean confidence; MCE is the largest
    gap over the bins that hold predictions. Equal to torchmetrics'
    ``MulticlassCalibrationError(num_classes, n_bins, norm)`` on the same data.

    Raises
    ------
    ValueError
        If ``norm`` is neither ``"l1"`` nor ``"max"`` (and as :func:`reliability_bins`).

    Examples
    --------
    >>> logits, labels = torch.tensor([[3.0, 0.0], [0.0, 0.2], [9.0, -9.0]]), torch.tensor([0, 0, 0])
    >>> round(expected_calibration_error(logits, labels, n_bins=2), 4)
    0.1675
    """
    if norm not in ("l1", "max"):
        raise ValueError(f"norm={norm!r} is not a calibration error this book computes: use 'l1' (ECE) or 'max' (MCE).")
    counts, confidence, accuracy = reliability_bins(logits, labels, n_bins)
    gaps = (accuracy - confidence).abs()
    if norm == "max":
        return gaps[counts > 0].max().item()
    return (gaps * counts / counts.sum()).sum().item()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100) -> float:
    """The temperature T > 0 that minimises the mean negative log-likelihood of ``softmax(logits / T)``.

    Fit it on a validation split that the network did not train on, never on
    the test set. Dividing every row of logits by one positive number keeps
    their order, so the predictions, and the accuracy, stay the same. The
    search runs L-BFGS on log T, which keeps T positive.

    Examples
    --------
    >>> generator = torch.Generator().manual_seed(0)
    >>> logits = torch.randn(2000, 3, generator=generator)
    >>> labels = torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]
    >>> round(fit_temperature(3 * logits, labels), 1)  # logits three times too confident
    2.9
    """
    _check_logits(logits, labels)
    logits = logits.detach().double()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return log_t.exp().item()


def mc_dropout(model: nn.Module, images: torch.Tensor, passes: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and the standard deviation of the class probabilities over ``passes`` passes with dropout on.

    Every dropout layer (:data:`DROPOUT_LAYERS`) runs in training mode and
    everything else, batch normalisation included, in evaluation mode: with
    ``model.train()`` batch normalisation would use each batch's own
    statistics and update its running ones. The caller's modes come back
    afterwards, even if the model fails.

    Returns
    -------
    (mean, std) : torch.Tensor
        (N, classes) each; ``std`` is the standard deviation over the passes (divided by T - 1).

    Raises
    ------
    ValueError
        If ``passes`` is not a whole number of at least 2.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3)).eval()
    >>> mean, std = mc_dropout(model, torch.ones(5, 4), passes=10)
    >>> mean.shape, bool(torch.allclose(mean.sum(dim=1), torch.ones(5))), model.training
    (torch.Size([5, 3]), True, False)
    """
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
        raise ValueError(f"passes={passes!r} must be a whole number of at least 2, for example 20.")
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        for module in model.modules():
            if isinstance(module, DROPOUT_LAYERS):
                module.train()
        with torch.no_grad():
            probabilities = torch.stack([model(images).softmax(dim=1) for _ in range(passes)])  # (T, N, classes)
    finally:
        for module, mode in modes:
            module.training = mode
    return probabilities.mean(dim=0), probabilities.std(dim=0)


def predictive_entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """The entropy of each row of probabilities, in nats: 0 for a certain prediction, log(classes) at most.

    Examples
    --------
    >>> [round(abs(value), 4) for value in predictive_entropy(torch.tensor([[1.0, 0.0], [0.5, 0.5]])).tolist()]
    [0.0, 0.6931]
    """
    return -(probabilities * probabilities.clamp(min=1e-12).log()).sum(dim=1)


def selective_accuracy(confidence: torch.Tensor, correct: torch.Tensor, threshold: float) -> tuple[float, float]:
    """The fraction of cases kept (confidence ``>= threshold``) and the accuracy on them; the rest are referred.

    The accuracy is NaN when no case is kept.

    Examples
    --------
    >>> coverage, accuracy = selective_accuracy(torch.tensor([0.9, 0.6, 0.6, 0.3]), torch.tensor([True, False, True, False]), 0.6)
    >>> coverage, round(accuracy, 4)
    (0.75, 0.6667)
    """
    kept = confidence >= threshold
    coverage = kept.float().mean().item()
    accuracy = correct[kept].float().mean().item() if kept.any() else math.nan
    return coverage, accuracy


def risk_coverage(confidence: torch.Tensor, correct: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The accuracy of the kept cases at every coverage a confidence threshold can give.

    A threshold at each distinct confidence keeps the cases at or above it;
    ties are kept or referred together. Returned from the smallest coverage
    (only the most confident cases) to 1 (every case).

    Returns
    -------
    (coverage, accuracy) : numpy.ndarray
        Fraction of cases kept, and the accuracy on them.

    Examples
    --------
    >>> coverage, accuracy = risk_coverage(torch.tensor([0.9, 0.6, 0.6, 0.3]), torch.tensor([True, False, True, False]))
    >>> coverage.tolist(), accuracy.round(3).tolist()
    ([0.25, 0.75, 1.0], [1.0, 0.667, 0.5])
    """
    order = torch.argsort(confidence, descending=True, stable=True)
    ranked, hits = confidence[order], correct[order].double()
    kept = torch.arange(1, len(ranked) + 1, dtype=torch.float64)
    accuracy = hits.cumsum(0) / kept
    last_of_tie = torch.ones(len(ranked), dtype=torch.bool)
    last_of_tie[:-1] = ranked[:-1] != ranked[1:]
    return (kept / len(ranked))[last_of_tie].numpy(), accuracy[last_of_tie].numpy()


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Images (N, C, H, W) turned anticlockwise by ``degrees`` about their centre, with bilinear interpolation.

    Examples
    --------
    >>> image = torch.zeros(1, 1, 5, 5); image[0, 0, 0, 2] = 1.0
    >>> rotate(image, 90)[0, 0].nonzero().tolist()
    [[2, 0]]
    """
    from torchvision.transforms.functional import InterpolationMode
    from torchvision.transforms.functional import rotate as turn

    return turn(images, float(degrees), interpolation=InterpolationMode.BILINEAR)


def trend(values: Sequence[float], tolerance: float = 0.0) -> str:
    """Whether a row of numbers grows with the shift: ``"grows at every step"``, ``"grows overall"``,
    ``"falls overall"``, ``"falls at every step"`` or ``"stays within the tolerance"``; for two
    numbers, one step, only ``"grows"``, ``"falls"`` or ``"stays within the tolerance"``.

    "Overall" compares the last with the first; changes within ``tolerance`` count as none.

    Examples
    --------
    >>> trend([0.1, 0.2, 0.3]), trend([0.1, 0.3, 0.2]), trend([0.3, 0.3], tolerance=0.01), trend([0.3, 0.2])
    ('grows at every step', 'grows overall', 'stays within the tolerance', 'falls')
    """
    values = np.asarray(values, dtype=float).ravel()
    if len(values) < 2:
        raise ValueError(f"values holds {len(values)} number(s): pass one per amount of shift, two or more.")
    steps = np.diff(values)
    total = values[-1] - values[0]
    if abs(total) <= tolerance:
        return "stays within the tolerance"
    if len(values) == 2:
        return "grows" if total > 0 else "falls"
    if total > 0:
        return "grows at every step" if (steps > tolerance).all() else "grows overall"
    return "falls at every step" if (steps < -tolerance).all() else "falls overall"


def change_verdict(before: Sequence[float], after: Sequence[float], tolerance: float = 0.0) -> str:
    """How many of the entries ``after`` lowered, against ``before``: ``"lower at every one"``,
    ``"lower at none"`` or ``"lower at k of n"``.

    An entry counts as lower only when it fell by more than ``tolerance``, as :func:`trend` counts a change.

    Examples
    --------
    >>> change_verdict([0.1, 0.2, 0.3], [0.05, 0.25, 0.1])
    'lower at 2 of 3'
    >>> change_verdict([0.1, 0.2, 0.3], [0.098, 0.25, 0.1], tolerance=0.005)
    'lower at 1 of 3'
    """
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape or before.ndim != 1 or len(before) == 0:
        raise ValueError(f"before {before.shape} and after {after.shape} must be two rows of the same length, one or more.")
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance={tolerance!r} must be a number of 0 or more, for example 0.005.")
    lower = int((after < before - tolerance).sum())
    if lower == len(before):
        return "lower at every one"
    return "lower at none" if lower == 0 else f"lower at {lower} of {len(before)}"
