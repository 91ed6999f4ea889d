"""Self-checks of the calibration chapter: ECE and its bins, temperature scaling, MC dropout, selective prediction.

Each check runs the student's function on small cases of its own, made to
tell a right answer from the usual mistakes: confidences that lie exactly on
a bin's edge or equal 1, logits that happen to lie between 0 and 1 (so that
a missing softmax shows), a network whose batch-normalisation statistics
differ from a batch's own (so that ``model.train()`` shows), ties at a
referral threshold (so that ``>`` shows). Where the answer differs from
:mod:`cnnlab.calibration`, the check recomputes each mistake to name the one
made. Every case is seeded, so that the grader's judge, which replays the
calls recorded in the student's kernel, reaches the same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import calibration
from .common import Passed, call_answer, fail, is_blank, self_check

__all__ = ["check_calibration_error", "check_mc_dropout", "check_selective_accuracy", "check_temperature"]


def _require_function(function, name: str, signature: str, task: str) -> None:
    if function is None or function is Ellipsis or not callable(function):
        fail(task, f"{name} is not a function: define it with def {signature}.")


def _call(function: Callable, arguments: tuple, call: str, task: str, hints: tuple = ()):
    """``call_answer``, but an error that one of ``hints`` recognises (a test of its text) gets that hint's message."""
    try:
        return function(*arguments)
    except Exception as error:  # noqa: BLE001 - a failing answer becomes a message
        text = " ".join(str(error).split())
        for words, message in hints:
            if all(word in text for word in words):
                fail(task, f"{call} raised {type(error).__name__} ({text[:120]}): {message}")

        def again(error=error):
            raise error

        return call_answer(again, (), call, task)


def _number(value, what: str, task: str) -> float:
    """``value`` as one float (a float, an int or a one-element tensor), or a message naming what it is."""
    if is_blank(value):
        fail(task, f"{what} is {value!r}: a blank is still empty, fill in every line marked ✎.")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            fail(task, f"{what} is a tensor of shape {tuple(value.shape)}: it is one number, e.g. with .sum() or .item().")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            fail(task, f"{what} is a {type(value).__name__}, not a number.")
    return float(value)


# ----------------------------------------------------------------------------------------------
# Ex 6.1: the ECE and the reliability diagram's bins


def _edge_case() -> tuple[torch.Tensor, torch.Tensor, int]:
    """Confidences on the edges of 4 bins: 0.5 exactly (logits [0, 0]) and 1 exactly in float32 ([9, -9])."""
    logits = torch.tensor(
        [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [9.0, -9.0], [9.0, -9.0], [-9.0, 9.0], [1.0, 0.0], [0.0, 2.0], [0.3, 0.0]]
    )
    labels = torch.tensor([0, 1, 1, 0, 1, 1, 0, 0, 0])
    return logits, labels, 4


def _plain_case() -> tuple[torch.Tensor, torch.Tensor, int]:
    """Logits that lie between 0 and 1, so that confidences taken without a softmax stay in range."""
    generator = torch.Generator().manual_seed(61)
    logits = torch.rand(60, 4, generator=generator) * 0.9
    logits[:20] *= 4.0
    labels = torch.randint(0, 4, (60,), generator=generator)
    labels[:25] = logits[:25].argmax(dim=1)
    return logits, labels, 5


def _bins(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int, index: torch.Tensor) -> tuple:
    counts = torch.zeros(n_bins + 1).index_add_(0, index, torch.ones_like(confidence))
    sums = torch.zeros(n_bins + 1).index_add_(0, index, confidence)
    hits = torch.zeros(n_bins + 1).index_add_(0, index, correct.float())
    safe = counts.clamp(min=1)
    return counts, sums / safe, hits / safe


def _weighted_ece(counts, confidence, accuracy) -> float:
    return ((accuracy - confidence).abs() * counts / counts.sum()).sum().item()


def _as_bins(found, n_bins: int, task: str) -> tuple[float, list[torch.Tensor]]:
    if is_blank(found):
        fail(task, f"calibration_error returned {found!r}: return ece, counts, confidence, accuracy.")
    if not isinstance(found, (tuple, list)) or len(found) != 4:
        what = f"{len(found)} values" if isinstance(found, (tuple, list)) else f"a {type(found).__name__}"
        fail(task, f"calibration_error returned {what}: return four, ece, counts, confidence, accuracy.")
    ece = _number(found[0], "the ECE (the first value returned)", task)
    tensors = []
    for name, value in zip(("counts", "confidence", "accuracy"), found[1:]):
        if is_blank(value):
            fail(task, f"{name} is {value!r}: a blank is still empty, fill in every line marked ✎.")
        if not isinstance(value, torch.Tensor):
            fail(task, f"{name} is a {type(value).__name__}: return a tensor with one entry per bin.")
        value = value.detach().float().flatten()
        if len(value) == n_bins:
            fail(
                task,
                f"{name} has {n_bins} entries for n_bins={n_bins}: keep the last index, n_bins, which "
                "torch.bucketize(confidence, edges, right=True) - 1 gives a confidence of exactly 1 (a bin of its own, "
                "as in torchmetrics), so n_bins + 1 entries.",
            )
        if len(value) != n_bins + 1:
            fail(
                task,
                f"{name} has {len(value)} entries for n_bins={n_bins}: use the argument n_bins for the edges, "
                "torch.linspace(0, 1, n_bins + 1), and keep n_bins + 1 entries (the last for a confidence of exactly 1).",
            )
        if torch.isnan(value).any():
            fail(
                task,
                f"{name} holds NaN for an empty bin (0 / 0): divide by counts.clamp(min=1), so that an empty bin "
                "shows 0 and adds nothing to the ECE.",
            )
        tensors.append(value)
    return ece, tensors


def _close_bins(found: list[torch.Tensor], expected: tuple) -> bool:
    return all(torch.allclose(a, b.float(), atol=1e-5) for a, b in zip(found, expected))


@self_check("6.1", "your calibration_error")
def check_calibration_error(calibration_error: Callable) -> Passed:
    """Ex 6.1: ``calibration_error(logits, labels, n_bins)`` -> ``ece, counts, confidence, accuracy``, torchmetrics' bins."""
    task = "6.1"
    _require_function(calibration_error, "calibration_error", "calibration_error(logits, labels, n_bins)", task)
    for case in (_plain_case, _edge_case):
        logits, labels, n_bins = case()
        original = logits.clone()
        call = f"calibration_error(logits, labels, n_bins={n_bins}) on {len(logits)} predictions"
        found = call_answer(calibration_error, (logits, labels, n_bins), call, task)
        if not torch.equal(logits, original):
            fail(task, "your function changed the logits it was given: compute the probabilities in a new tensor.")
        ece, bins = _as_bins(found, n_bins, task)
        expected = calibration.reliability_bins(original, labels, n_bins)
        expected_ece = calibration.expected_calibration_error(original, labels, n_bins)
        probabilities = original.softmax(dim=1)
        confidence, predicted = probabilities.max(dim=1)
        correct = predicted == labels
        edges = torch.linspace(0, 1, n_bins + 1)
        if not _close_bins(bins, expected):
            if _close_bins([bins[0], bins[2], bins[1]], expected):
                fail(
                    task,
                    "your confidence and accuracy per bin are swapped in the return: return ece, counts, confidence, "
                    "accuracy, in that order.",
                )
            raw, raw_predicted = original.max(dim=1)
            batch_conf, batch_predicted = original.softmax(dim=0).max(dim=1)
            sigmoid_conf, sigmoid_predicted = original.sigmoid().max(dim=1)
            candidates = [
                (
                    (batch_conf, batch_predicted == labels, torch.bucketize(batch_conf, edges, right=True) - 1),
                    "your softmax runs over the batch, dim=0, so that each class's probabilities add up to 1 over the "
                    "predictions: take it over the classes, logits.softmax(dim=1)",
                ),
                (
                    (sigmoid_conf, sigmoid_predicted == labels, torch.bucketize(sigmoid_conf, edges, right=True) - 1),
                    "your confidences come from sigmoid(), which treats each class on its own, so a row does not add "
                    "up to 1: use the softmax over the classes, logits.softmax(dim=1)",
                ),
                (
                    (raw, raw_predicted == labels, torch.bucketize(raw, edges, right=True) - 1),
                    "your confidences are the largest logits: turn the logits into probabilities first, "
                    "logits.softmax(dim=1), and take each row's largest",
                ),
                (
                    (confidence, correct, torch.bucketize(confidence, edges, right=False) - 1),
                    "a confidence that lies exactly on an edge (0.5 with 4 bins) goes to the bin below it: here a bin "
                    "includes its lower edge, edges[m] <= confidence < edges[m + 1], as torchmetrics counts, so use "
                    "torch.bucketize(confidence, edges, right=True) - 1",
                ),
                (
                    (
                        probabilities[torch.arange(len(labels)), labels],
                        correct,
                        torch.bucketize(probabilities[torch.arange(len(labels)), labels], edges, right=True) - 1,
                    ),
                    "your confidences are the probabilities of the true class: the confidence is the probability of "
                    "the predicted class, the largest of each row",
                ),
            ]
            for (conf, hits, index), message in candidates:
                if index.min() < 0 or index.max() > n_bins:
                    continue
                if _close_bins(bins, _bins(conf, hits, n_bins, index)):
                    fail(task, f"{message}.")
            counts = bins[0]
            if torch.equal(counts, expected[0]) and torch.allclose(bins[1], expected[0] * expected[1], atol=1e-5):
                fail(task, "your confidence per bin is the sum of the bin's confidences: divide by the bin's count.")
            if torch.equal(counts, expected[0]) and torch.allclose(bins[2], expected[0] * expected[2], atol=1e-5):
                fail(task, "your accuracy per bin is the bin's number of right predictions: divide by the bin's count.")
            if not torch.equal(counts, expected[0]):
                fail(
                    task,
                    f"on {len(logits)} predictions with n_bins={n_bins} your counts are {counts.int().tolist()}, but "
                    f"they should be {expected[0].int().tolist()}: edges = torch.linspace(0, 1, n_bins + 1), and a "
                    "confidence's bin is torch.bucketize(confidence, edges, right=True) - 1.",
                )
            fail(
                task,
                f"with the right counts your mean confidence or accuracy per bin differs from the reference (for "
                f"n_bins={n_bins}: confidence {[round(v, 3) for v in expected[1].tolist()]}, accuracy "
                f"{[round(v, 3) for v in expected[2].tolist()]}): add up each bin's confidences and right "
                "predictions, and divide by its count.",
            )
        if abs(ece - expected_ece) <= 1e-5:
            continue
        gaps = (expected[2] - expected[1]).abs()
        filled = expected[0] > 0
        if abs(ece - gaps[filled].mean().item()) <= 1e-5:
            fail(
                task,
                "your ECE is the plain mean of the bins' gaps: weight each bin's gap by the share of the predictions it "
                "holds, counts / counts.sum(), so that a bin of one prediction counts as one prediction.",
            )
        if abs(ece - (gaps * expected[0]).sum().item()) <= 1e-4:
            fail(task, "your ECE adds up each bin's gap times its count: divide by the number of predictions, counts.sum().")
        if abs(ece - ((expected[2] - expected[1]) * expected[0] / expected[0].sum()).sum().item()) <= 1e-5:
            fail(
                task,
                "your ECE lets gaps of opposite signs cancel: take the absolute gap of each bin, (accuracy - confidence).abs().",
            )
        if abs(ece - gaps[filled].max().item()) <= 1e-5:
            fail(task, "your number is the largest gap, the MCE: the ECE is the gaps' mean, weighted by the bins' counts.")
        fail(
            task,
            f"with the right bins your ECE is {ece:.5f}, but it should be {expected_ece:.5f}: "
            "(counts / counts.sum() * (accuracy - confidence).abs()).sum().",
        )
    return Passed(task, "the ECE and its bins, edges included, as torchmetrics counts them.")


# ----------------------------------------------------------------------------------------------
# Ex 6.2: temperature scaling


def _overconfident(scale: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose labels are drawn from softmax(logits), then multiplied by ``scale``: T is about ``scale``."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(600, 4, generator=generator) * 1.5
    labels = torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]
    return logits * scale, labels


def _nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    return F.cross_entropy(logits.double() / temperature, labels).item()


@self_check("6.2", "your fit_temperature")
def check_temperature(
    fit_temperature: Callable,
    temperature=None,
    val_logits: torch.Tensor | None = None,
    val_labels: torch.Tensor | None = None,
    test_logits: torch.Tensor | None = None,
    test_labels: torch.Tensor | None = None,
) -> Passed:
    """Ex 6.2: ``fit_temperature(logits, labels)`` minimises the NLL of logits / T; ``temperature`` is fitted on validation."""
    task = "6.2"
    _require_function(fit_temperature, "fit_temperature", "fit_temperature(logits, labels)", task)
    for scale, seed in ((2.5, 62), (0.5, 63)):
        logits, labels = _overconfident(scale, seed)
        original = logits.clone()
        kind = "too confident" if scale > 1 else "too timid"
        found = _call(
            fit_temperature,
            (logits, labels),
            f"fit_temperature(logits, labels) on logits {kind}",
            task,
            (
                (
                    ("overflow",),
                    "if you divided by log_t itself, note that it starts at 0, so logits / log_t is infinite: "
                    "divide by T, log_t.exp().",
                ),
            ),
        )
        if not torch.equal(logits, original):
            fail(task, "your function changed the logits it was given (logits /= T?): divide into a new tensor, logits / T.")
        value = _number(found, "the temperature fit_temperature returned", task)
        expected = calibration.fit_temperature(original, labels)
        best = _nll(original, labels, expected)
        if value > 0 and math.isfinite(value) and _nll(original, labels, value) <= best + 1e-4:
            continue
        if value > 0 and abs(value * expected - 1) < 0.03:
            fail(
                task,
                f"your temperature is {value:.3f}, about 1 / {expected:.3f}: you multiplied the logits by T. Temperature "
                "scaling divides them, logits / T, so that T > 1 softens an over-confident network.",
            )
        if abs(value - math.log(expected)) < 0.03:
            fail(task, f"your temperature is {value:.3f}, the log of {expected:.3f}: return log_t.exp(), T itself.")
        if value <= 0 or not math.isfinite(value):
            fail(
                task,
                f"your temperature is {value}: it must be a positive number; fit log T and return its exp(). If your "
                "loss is F.nll_loss on the logits, it has no minimum: F.nll_loss needs log-probabilities, so use "
                "F.cross_entropy(logits / T, labels), which takes the log-softmax itself.",
            )
        if scale < 1 and value >= 1 - 1e-6:
            fail(
                task,
                f"on logits that are too timid your temperature is {value:.3f}, but the best is {expected:.3f}, below 1: "
                "let T go below 1 (fit log T, which can be negative).",
            )
        if value == 1.0:
            fail(
                task,
                f"on logits {kind} your temperature is 1.000 exactly, where the search starts, though the best is "
                f"{expected:.3f}: the optimiser never moved it. The closure must call loss.backward() (LBFGS follows "
                "the gradient), and optimizer.step(closure) must run.",
            )
        fail(
            task,
            f"on logits {kind} your temperature is {value:.3f}, but the one that minimises the negative log-likelihood "
            f"is {expected:.3f}: minimise F.cross_entropy(logits / T, labels) over T.",
        )
    if val_logits is None:
        return Passed(task, "fit_temperature finds the T that minimises the negative log-likelihood of logits / T.")
    value = _number(temperature, "temperature", task)
    on_validation = calibration.fit_temperature(val_logits, val_labels)
    # judged by the validation NLL, flat near its minimum: a grid's or another optimiser's T passes
    reached = value > 0 and math.isfinite(value)
    if reached and _nll(val_logits, val_labels, value) <= _nll(val_logits, val_labels, on_validation) + 1e-4:
        return Passed(
            task,
            "your T reaches the lowest negative log-likelihood on the validation split; the test set is left untouched.",
        )
    on_test = calibration.fit_temperature(test_logits, test_labels)
    if reached and _nll(test_logits, test_labels, value) <= _nll(test_logits, test_labels, on_test) + 1e-4:
        fail(
            task,
            "your temperature was fitted on the test set, which must stay untouched until the end: fit it on the "
            "validation split, fit_temperature(val_logits, val_labels).",
        )
    both_logits, both_labels = torch.cat([val_logits, test_logits]), torch.cat([val_labels, test_labels])
    both = calibration.fit_temperature(both_logits, both_labels)
    if reached and _nll(both_logits, both_labels, value) <= _nll(both_logits, both_labels, both) + 1e-5:
        fail(task, "your temperature was fitted on the validation and the test set together: fit it on val_logits alone.")
    fail(
        task,
        f"temperature is {value:.4f}, but fit_temperature(val_logits, val_labels) gives {on_validation:.4f}: set "
        "temperature from the validation split's logits and labels.",
    )


# ----------------------------------------------------------------------------------------------
# Ex 6.3: MC dropout


def _dropout_model() -> nn.Module:
    """A small CNN with batch normalisation whose running statistics differ far from any batch's, and two kinds of dropout."""
    with torch.random.fork_rng():
        torch.manual_seed(64)
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Dropout2d(0.3),
            nn.Flatten(),
            nn.Linear(4 * 6 * 6, 16),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(16, 3),
        )
        with torch.no_grad():
            model[1].running_mean.fill_(-1.0)
            model[1].running_var.fill_(0.05)
            model[8].weight.mul_(3.0)
    return model.eval()


def _dropout_images() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(65))


def _passes(model: nn.Module, images: torch.Tensor, passes: int, on: tuple[type, ...], batchnorm_train: bool) -> torch.Tensor:
    """The probabilities of ``passes`` forward passes (T, N, C) with the layers of ``on`` in training mode."""
    modes = [(module, module.training) for module in model.modules()]
    state = {name: value.clone() for name, value in model.state_dict().items()}
    try:
        model.eval()
        for module in model.modules():
            if isinstance(module, on) or batchnorm_train and isinstance(module, nn.BatchNorm2d):
                module.train()
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(66)
            if batchnorm_train:  # each pass's batch statistics are its own batch's: one pass at a time
                return torch.stack([model(images).softmax(dim=1) for _ in range(passes)])
            # Without them each image's output depends on its own dropout masks alone: every pass in one batch.
            stacked = model(images.repeat(passes, *[1] * (images.ndim - 1))).softmax(dim=1)
            return stacked.view(passes, len(images), *stacked.shape[1:])
    finally:
        for module, mode in modes:
            module.training = mode
        model.load_state_dict(state)


def _modes(model: nn.Module) -> list[bool]:
    return [module.training for module in model.modules()]


MC_PASSES = 100
_NO_GRAD = (
    (
        ("context manager",),
        "torch.no_grad is a class, and a with statement needs an object of it: call it, with torch.no_grad():",
    ),
)
_BATCHNORM_EVAL = (
    "batch normalisation must stay in eval mode — put the whole model in eval() and switch on only the dropout "
    "layers: model.eval(), then module.train() for each nn.Dropout and nn.Dropout2d."
)


def _mc_dropout_values(mc_dropout: Callable) -> Passed:
    """The passes of a model in eval(): batch normalisation untouched, modes restored, mean and std as the reference's."""
    task = "6.3"
    _require_function(mc_dropout, "mc_dropout", "mc_dropout(model, images, passes)", task)
    model, images = _dropout_model(), _dropout_images()
    statistics = {name: value.clone() for name, value in model.state_dict().items()}
    with torch.random.fork_rng():
        torch.manual_seed(67)
        found = _call(mc_dropout, (model, images, MC_PASSES), f"mc_dropout(model, images, passes={MC_PASSES})", task, _NO_GRAD)
    running_changed = not all(torch.equal(value, statistics[name]) for name, value in model.state_dict().items())
    if running_changed:
        fail(
            task,
            "your function changed the batch-normalisation layer's running statistics: model.train() also switches "
            "batch normalisation to each batch's own statistics and updates its running ones. Put the model in eval() "
            "and switch on the dropout layers alone: for module in model.modules(): if isinstance(module, "
            "(nn.Dropout, nn.Dropout2d)): module.train().",
        )
    if any(_modes(model)):
        fail(
            task,
            "after your function the model is still in training mode (some of its layers), though the caller had it "
            "in eval(): give every layer its mode back before returning, model.train(was_training).",
        )
    if is_blank(found):
        fail(task, f"mc_dropout returned {found!r}: return two tensors, the mean and the std of the probabilities.")
    if not isinstance(found, (tuple, list)) or len(found) != 2:
        what = f"{len(found)} values" if isinstance(found, (tuple, list)) else f"a {type(found).__name__}"
        fail(task, f"mc_dropout returned {what}: return two, mean, std.")
    mean, std = found
    n, classes = len(images), 3
    for name, value in (("mean", mean), ("std", std)):
        if is_blank(value):
            fail(task, f"{name} is {value!r}: a blank is still empty, fill in every line marked ✎.")
        if not isinstance(value, torch.Tensor):
            fail(task, f"{name} is a {type(value).__name__}: return a tensor (N, classes).")
        if value.requires_grad:
            fail(
                task,
                f"{name} still records gradients: the passes need none, so run them under torch.no_grad(), which "
                "also saves the memory of every pass's graph.",
            )
        if tuple(value.shape) == (MC_PASSES, n, classes):
            fail(
                task,
                f"{name} has one row per pass, shape {tuple(value.shape)}: average over the passes, dimension 0, "
                f"for one row per image, ({n}, {classes}).",
            )
        if tuple(value.shape) != (n, classes):
            fail(
                task,
                f"{name} has shape {tuple(value.shape)} for {n} images and {classes} classes: stack the passes "
                f"(T, N, C) and reduce over dimension 0, the passes, to ({n}, {classes}).",
            )
    mean, std = mean.detach().double(), std.detach().double()
    reference = _passes(model, images, 600, calibration.DROPOUT_LAYERS, False).double()
    expected_mean, expected_std = reference.mean(dim=0), reference.std(dim=0)
    tolerance = 5 * expected_std / math.sqrt(MC_PASSES) + 0.01

    def matches(passes: torch.Tensor) -> bool:
        passes = passes.double()
        return bool(
            ((mean - passes.mean(dim=0)).abs() <= 5 * passes.std(dim=0) / math.sqrt(MC_PASSES) + 0.01).all()
            and ((std - passes.std(dim=0)).abs() <= 0.2 * passes.std(dim=0) + 0.01).all()
        )

    if torch.allclose(mean.sum(dim=0), torch.ones(classes, dtype=torch.float64), atol=1e-4) and not torch.allclose(
        mean.sum(dim=1), torch.ones(n, dtype=torch.float64), atol=1e-4
    ):
        fail(
            task,
            "your softmax runs over the batch, dim=0, so each class's probabilities add up to 1 over the images: take "
            "it over the classes, model(images).softmax(dim=1).",
        )
    if not torch.allclose(mean.sum(dim=1), torch.ones(n, dtype=torch.float64), atol=1e-4) or (mean < 0).any():
        fail(
            task,
            "your mean is not a probability per class (its rows do not add up to 1): apply softmax to each pass's "
            "logits, then average the probabilities over the passes.",
        )
    if float(std.abs().max()) < 1e-6:
        deterministic = _passes(model, images, 1, (), False)[0].double()
        if not torch.allclose(mean, deterministic, atol=1e-4):
            fail(
                task,
                "your passes are all the same (the std is 0), yet dropout was on: every mask is the same, as when "
                "torch.manual_seed runs inside each pass and resets the generator. Seed once, before the passes, "
                "or not at all.",
            )
        fail(
            task,
            "your passes are all the same (the std is 0): dropout was off. model.eval() switches it off; switch the "
            "dropout layers back on, module.train() for each nn.Dropout and nn.Dropout2d.",
        )
    batch_mean_passes = _passes(model, images, 300, calibration.DROPOUT_LAYERS, True)
    if matches(batch_mean_passes) and not matches(reference):
        fail(
            task,
            "your passes ran batch normalisation on each batch's own statistics, as model.train() does: leave it in "
            "eval() mode and switch on the dropout layers alone.",
        )
    if ((mean - expected_mean).abs() <= tolerance).all():
        if ((std - expected_std).abs() <= 0.2 * expected_std + 0.01).all():
            return Passed(
                task,
                f"the mean and std of the probabilities over {MC_PASSES} passes, dropout on, batch normalisation in eval(), "
                "the model's modes restored.",
            )
        if ((std - expected_std**2).abs() <= 0.2 * expected_std**2 + 0.005).all():
            fail(task, "your spread is the variance over the passes: return its square root, the std, .std(dim=0).")
    for kinds, missing in (((nn.Dropout,), "nn.Dropout2d"), ((nn.Dropout2d,), "nn.Dropout")):
        if matches(_passes(model, images, 300, kinds, False)):
            fail(
                task,
                f"only some dropout layers were on: the {missing} layers stayed off. Switch on every kind, "
                "isinstance(module, (nn.Dropout, nn.Dropout2d)).",
            )
    logits_passes = _passes(nn.Sequential(model, nn.LogSoftmax(dim=1)), images, 300, calibration.DROPOUT_LAYERS, False)
    # exp(log_softmax) = softmax: undo it for the mean of the logits, then softmax, the usual mistake
    averaged_logits = logits_passes.log().mean(dim=0).softmax(dim=1).double()
    std_right = ((std - expected_std).abs() <= 0.2 * expected_std + 0.01).all()
    if (
        std_right
        and ((mean - averaged_logits).abs() <= tolerance).all()
        and not ((averaged_logits - expected_mean).abs() <= tolerance).all()
    ):
        fail(
            task,
            "your mean is the softmax of the averaged logits: average the probabilities, softmax of each pass first, "
            "then .mean(dim=0) over the passes.",
        )
    fail(
        task,
        f"your mean or std over {MC_PASSES} passes differs from the reference's by more than chance allows (largest "
        f"difference of the mean {float((mean - expected_mean).abs().max()):.3f}, of the std "
        f"{float((std - expected_std).abs().max()):.3f}): with dropout on and batch normalisation in eval(), stack the "
        "softmax probabilities of the passes (T, N, C) and return .mean(dim=0) and .std(dim=0).",
    )


def _mc_dropout_restores_training(mc_dropout: Callable, task: str) -> None:
    """A model in train(): batch normalisation must still use its running statistics, and leave them as they were."""
    model, images = _dropout_model().train(), _dropout_images()
    statistics = {name: value.clone() for name, value in model.state_dict().items()}
    call = "mc_dropout(model, images, passes=20) on a model in training mode"
    with torch.random.fork_rng():
        torch.manual_seed(68)
        found = _call(mc_dropout, (model, images, 20), call, task, _NO_GRAD)
    if not all(torch.equal(value, statistics[name]) for name, value in model.state_dict().items()):
        fail(task, f"{call} changed the batch-normalisation layer's running statistics: {_BATCHNORM_EVAL}")
    if isinstance(found, (tuple, list)) and len(found) == 2 and isinstance(found[0], torch.Tensor):
        mean = found[0].detach().double()
        reference = _passes(model, images, 300, calibration.DROPOUT_LAYERS, False).double().mean(dim=0)
        on_batch = _passes(model, images, 300, calibration.DROPOUT_LAYERS, True).double().mean(dim=0)
        if mean.shape == reference.shape and (mean - on_batch).abs().max() < (mean - reference).abs().max():
            fail(task, f"{call} ran batch normalisation on each batch's own statistics: {_BATCHNORM_EVAL}")
    if not all(_modes(model)):
        fail(
            task,
            "the caller's model was in training mode, and your function left it in eval(): remember the mode, "
            "was_training = model.training, and restore it at the end, model.train(was_training).",
        )


@self_check("6.3", "your mc_dropout")
def check_mc_dropout(mc_dropout: Callable) -> Passed:
    """Ex 6.3: ``mc_dropout(model, images, passes)`` -> mean and std of the probabilities, dropout on, batch norm in eval."""
    passed = _mc_dropout_values(mc_dropout)
    _mc_dropout_restores_training(mc_dropout, "6.3")
    return passed


# ----------------------------------------------------------------------------------------------
# Ex 6.4: selective prediction


def _referral_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    confidence = torch.tensor([0.95, 0.9, 0.8, 0.8, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4])
    correct = torch.tensor([True, True, False, True, True, False, True, False, False, True])
    return [(confidence, correct, 0.65), (confidence, correct, 0.8), (confidence, correct, 0.0), (confidence, correct, 0.99)]


@self_check("6.4", "your selective_accuracy")
def check_selective_accuracy(selective_accuracy: Callable) -> Passed:
    """Ex 6.4: ``selective_accuracy(confidence, correct, threshold)`` -> coverage and accuracy of the cases kept (>=)."""
    task = "6.4"
    _require_function(selective_accuracy, "selective_accuracy", "selective_accuracy(confidence, correct, threshold)", task)
    for confidence, correct, threshold in _referral_cases():
        call = f"selective_accuracy(confidence, correct, threshold={threshold})"
        found = _call(
            selective_accuracy,
            (confidence.clone(), correct.clone(), threshold),
            call,
            task,
            (
                (
                    ("mean", "Bool"),
                    "the mean of a boolean tensor needs .float() first, as the hint says: kept.float().mean() and "
                    "correct[kept].float().mean().",
                ),
            ),
        )
        if is_blank(found):
            fail(task, f"selective_accuracy returned {found!r}: return two numbers, coverage and accuracy.")
        if not isinstance(found, (tuple, list)) or len(found) != 2:
            fail(task, "selective_accuracy returns two numbers, coverage, accuracy: the fraction kept and their accuracy.")
        coverage = _number(found[0], "coverage", task)
        accuracy = _number(found[1], "accuracy", task)
        expected_coverage, expected_accuracy = calibration.selective_accuracy(confidence, correct, threshold)
        kept = confidence >= threshold
        if expected_coverage == 0.0:
            if coverage != 0.0:
                fail(task, f"with threshold={threshold} no case is kept, but your coverage is {coverage}.")
            if not math.isnan(accuracy):
                fail(
                    task,
                    f"with threshold={threshold} every case is referred, and your accuracy is {accuracy}: the accuracy "
                    "of no case is undefined, return float('nan') (a mean over an empty tensor gives it by itself).",
                )
            continue
        if abs(coverage - expected_coverage) <= 1e-6 and abs(accuracy - expected_accuracy) <= 1e-6:
            continue
        below = confidence < threshold
        if (
            below.any()
            and abs(coverage - expected_coverage) > 1e-6
            and abs(coverage - below.float().mean().item()) <= 1e-6
            and abs(accuracy - correct[below].float().mean().item()) <= 1e-6
        ):
            fail(
                task,
                f"with threshold={threshold} you kept the cases below the threshold: keep those at or above it, "
                "kept = confidence >= threshold.",
            )
        strict = confidence > threshold
        if (strict != kept).any() and abs(coverage - strict.float().mean().item()) <= 1e-6:
            fail(
                task,
                f"with threshold={threshold} your function refers the cases whose confidence equals the threshold: keep "
                "them, confidence >= threshold.",
            )
        if abs(coverage - (1 - expected_coverage)) <= 1e-6 and expected_coverage != 0.5:
            fail(task, "your coverage is the fraction referred: coverage is the fraction kept, kept.float().mean().")
        referred = correct[~kept].float().mean().item() if (~kept).any() else math.nan
        if abs(accuracy - referred) <= 1e-6:
            fail(task, "your accuracy is that of the referred cases: measure it on the cases kept, correct[kept].")
        if abs(accuracy - correct.float().mean().item()) <= 1e-6:
            fail(task, "your accuracy is that of every case: measure it on the cases kept alone, correct[kept].")
        if abs(accuracy - correct[kept].sum().item() / len(correct)) <= 1e-6:
            fail(
                task,
                "your accuracy divides the right predictions kept by every case: divide by the number kept, "
                "correct[kept].float().mean().",
            )
        if abs(accuracy - (1 - expected_accuracy)) <= 1e-6:
            fail(task, "your number is the error rate (the risk) of the cases kept: return the accuracy, 1 - risk.")
        fail(
            task,
            f"with threshold={threshold} your coverage and accuracy are {coverage:.3f} and {accuracy:.3f}, but they "
            f"should be {expected_coverage:.3f} and {expected_accuracy:.3f}: kept = confidence >= threshold, "
            "coverage = kept.float().mean(), accuracy = correct[kept].float().mean().",
        )
    return Passed(task, "the coverage and the accuracy of the cases kept, ties at the threshold kept, NaN when none is.")
