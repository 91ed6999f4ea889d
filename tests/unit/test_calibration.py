"""Tests of cnnlab.calibration: the ECE equals torchmetrics', temperature scaling, MC dropout, referral, verdicts."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchmetrics.classification import MulticlassCalibrationError

from cnnlab import calibration, checks


def logits_and_labels(scale: float, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(500, 10, generator=generator) * scale
    labels = torch.randint(0, 10, (500,), generator=generator)
    labels[:300] = logits[:300].argmax(dim=1)
    return logits, labels


@pytest.mark.parametrize("scale", [0.5, 3.0, 40.0])  # 40: many confidences of exactly 1 in float32
@pytest.mark.parametrize("norm", ["l1", "max"])
@pytest.mark.parametrize("n_bins", [4, 15])
def test_the_ece_equals_torchmetrics(scale, norm, n_bins):
    logits, labels = logits_and_labels(scale)
    expected = MulticlassCalibrationError(num_classes=10, n_bins=n_bins, norm=norm)(logits.softmax(dim=1), labels).item()
    assert abs(calibration.expected_calibration_error(logits, labels, n_bins, norm) - expected) <= 1e-6


def test_confidences_on_an_edge_and_at_one_go_where_torchmetrics_puts_them():
    logits = torch.tensor([[0.0, 0.0], [9.0, -9.0], [0.0, 0.0], [-9.0, 9.0]])  # 0.5, 1, 0.5, 1
    labels = torch.tensor([0, 0, 1, 0])
    counts, confidence, accuracy = calibration.reliability_bins(logits, labels, n_bins=4)
    assert counts.tolist() == [0, 0, 2, 0, 2] and accuracy.tolist() == [0, 0, 0.5, 0, 0.5]
    expected = MulticlassCalibrationError(num_classes=2, n_bins=4)(logits.softmax(dim=1), labels).item()
    assert abs(calibration.expected_calibration_error(logits, labels, 4) - expected) <= 1e-6


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: calibration.reliability_bins(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), n_bins=0), "n_bins=0"),
        (lambda: calibration.reliability_bins(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long)), "do not match logits"),
        (
            lambda: calibration.reliability_bins(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, dtype=torch.long)),
            "float tensor",
        ),
        (
            lambda: calibration.expected_calibration_error(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), norm="l2"),
            "norm='l2'",
        ),
        (lambda: calibration.mc_dropout(nn.Linear(2, 2), torch.zeros(1, 2), passes=1), "passes=1"),
        (lambda: calibration.trend([0.1]), "1 number"),
        (lambda: calibration.change_verdict([0.1], [0.1, 0.2]), "same length"),
        (lambda: calibration.change_verdict([0.1], [0.2], tolerance=-1), "tolerance=-1"),
    ],
)
def test_errors_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_temperature_undoes_a_scaling_and_keeps_the_accuracy():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(3000, 4, generator=generator)
    labels = torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]
    for scale in (0.4, 2.5):
        temperature = calibration.fit_temperature(logits * scale, labels)
        assert abs(temperature / scale - 1) < 0.1
        assert torch.equal((logits * scale / temperature).argmax(dim=1), (logits * scale).argmax(dim=1))


def test_mc_dropout_leaves_batch_norm_alone_and_restores_the_modes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
    model[1].running_mean.fill_(2.0)
    model.train()
    before = model[1].running_mean.clone()
    mean, std = calibration.mc_dropout(model, torch.rand(5, 4), passes=30)
    assert torch.equal(model[1].running_mean, before) and all(m.training for m in model.modules())
    assert torch.allclose(mean.sum(dim=1), torch.ones(5)) and (std > 0).any() and not mean.requires_grad


def test_risk_coverage_ends_at_the_overall_accuracy_and_keeps_ties_together():
    confidence = torch.tensor([0.9, 0.8, 0.8, 0.5])
    correct = torch.tensor([True, False, True, False])
    coverage, accuracy = calibration.risk_coverage(confidence, correct)
    assert coverage.tolist() == [0.25, 0.75, 1.0]
    assert np.allclose(accuracy, [1.0, 2 / 3, 0.5])
    assert calibration.selective_accuracy(confidence, correct, 0.8)[0] == 0.75
    assert math.isnan(calibration.selective_accuracy(confidence, correct, 0.95)[1])


def test_verdicts_follow_the_numbers():
    assert calibration.trend([0.3, 0.2, 0.1]) == "falls at every step"
    assert calibration.trend([0.3, 0.35, 0.1]) == "falls overall"
    assert calibration.trend([0.3, 0.1]) == "falls", "one step is no trend at every step"
    assert calibration.change_verdict([0.1, 0.2], [0.2, 0.3]) == "lower at none"
    assert calibration.change_verdict([0.1, 0.2], [0.05, 0.1]) == "lower at every one"
    # A fall within the tolerance is no fall.
    assert calibration.change_verdict([0.1, 0.2], [0.097, 0.1], tolerance=0.005) == "lower at 1 of 2"
    assert calibration.change_verdict([0.1, 0.2], [0.097, 0.199], tolerance=0.005) == "lower at none"


def test_the_temperature_check_names_the_split_it_was_fitted_on():
    generator = torch.Generator().manual_seed(5)
    drawn = [torch.randn(500, 4, generator=generator) * 1.5 for _ in range(2)]
    labels = [torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0] for logits in drawn]
    # labels drawn from softmax(logits): T about 1.5 on validation, about 2 on test
    val_logits, val_labels, test_logits, test_labels = arguments = (drawn[0] * 1.5, labels[0], drawn[1] * 2.0, labels[1])
    right = calibration.fit_temperature(val_logits, val_labels)
    assert isinstance(checks.check_temperature(calibration.fit_temperature, right, *arguments), checks.Passed)

    def grid(logits, labels):  # a right answer that lands beside LBFGS's T, judged by the NLL it reaches
        temperatures = torch.exp(torch.linspace(-3, 3, 2001))
        return temperatures[torch.stack([F.cross_entropy(logits / t, labels) for t in temperatures]).argmin()].item()

    assert grid(val_logits, val_labels) != right
    assert isinstance(checks.check_temperature(grid, grid(val_logits, val_labels), *arguments), checks.Passed)
    with pytest.raises(checks.SelfCheckError, match="fitted on the test set"):
        checks.check_temperature(grid, grid(test_logits, test_labels), *arguments)
    for temperature, message in (
        (calibration.fit_temperature(test_logits, test_labels), "fitted on the test set"),
        (calibration.fit_temperature(torch.cat([val_logits, test_logits]), torch.cat([val_labels, test_labels])), "together"),
        (1.0, "temperature is 1.0000"),
        (None, "a blank is still empty"),
    ):
        with pytest.raises(checks.SelfCheckError, match=message):
            checks.check_temperature(calibration.fit_temperature, temperature, *arguments)
