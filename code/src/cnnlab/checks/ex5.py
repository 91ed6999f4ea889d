"""Self-checks of the saliency chapter: the input gradient, occlusion, Grad-CAM and the randomization test.

Each check runs the student's function on a small classifier of its own, with
batch normalisation and dropout (so that a forward pass in training mode
shows) and layer names unlike the chapter's network (so that an answer must
use its arguments), and compares the maps with :mod:`cnnlab.saliency`, whose
maps equal Captum's. Where they differ, the check recomputes the usual
mistakes (no absolute value, the predicted class, a softmax, no average over
the patches, no ReLU...) to name the one made.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import saliency
from .common import Passed, SelfCheckError, call_answer, fail, is_blank, self_check

__all__ = ["check_grad_cam", "check_input_gradient", "check_occlusion", "check_randomization_test"]

NUM_CLASSES = 5


class _Classifier(nn.Module):
    """A small CNN for 1-channel images of any size; its last convolution is ``features[4]``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU()
        )
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Dropout(0.5), nn.Linear(6 * 9, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _model(seed: int = 0) -> nn.Module:
    """The check's classifier in training mode, with batch-norm statistics that differ from a fresh layer's."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = _Classifier()
        batchnorm = model.features[1]
        batchnorm.running_mean.uniform_(-0.5, 0.5)
        batchnorm.running_var.uniform_(0.5, 2.0)
        nn.init.uniform_(batchnorm.weight, 0.5, 1.5)
        nn.init.uniform_(batchnorm.bias, -0.2, 0.2)
    return model.train()


def _images(count: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 1, height, width, generator=torch.Generator().manual_seed(seed))


@contextlib.contextmanager
def _forward_passes(model: nn.Module, grad_modes: list | None = None) -> Iterator[list[bool]]:
    """Within the block, each forward pass of ``model`` appends whether it ran in training mode (and to
    ``grad_modes`` whether gradients were being recorded)."""
    modes: list[bool] = []

    def record(module, args):
        modes.append(module.training)
        if grad_modes is not None:
            grad_modes.append(torch.is_grad_enabled())

    handle = model.register_forward_pre_hook(record)
    try:
        yield modes
    finally:
        handle.remove()


def _require_function(function, name: str, signature: str, task: str) -> None:
    if function is None or not callable(function):
        fail(task, f"{name} is not a function: define it with def {signature}.")


def _require_eval(modes: list[bool], name: str, task: str) -> None:
    if any(modes):
        fail(
            task,
            f"{name} ran the model in training mode, where dropout drops random units and batch normalisation "
            "uses the batch's statistics: call model.eval() first, so that the map explains the model as it predicts.",
        )


def _require_map(found, images: torch.Tensor, name: str, task: str, shrunk: tuple | None = None) -> torch.Tensor:
    """``found`` as a map of the images' shape (N, C, H, W), or a message naming what it is instead."""
    if is_blank(found):
        fail(task, f"{name} returned {found!r}: return the maps, a tensor shaped like the images.")
    if not isinstance(found, torch.Tensor):
        fail(task, f"{name} returned a {type(found).__name__}: return a tensor shaped like the images, (N, 1, H, W).")
    shape, expected = tuple(found.shape), tuple(images.shape)
    if shape != expected:
        n, c, h, w = expected
        if shape == (n, h, w):
            fail(
                task,
                f"{name} returned shape {shape}: keep the channel dimension, (N, 1, H, W) like the images, e.g. with [:, None].",
            )
        if shrunk is not None and shape[-2:] == shrunk:
            fail(
                task,
                f"{name} returned shape {shape}, the layer's size: upsample to the image's {h}x{w} with "
                "F.interpolate(cam, size=images.shape[-2:], mode='bilinear').",
            )
        if shape[:1] != (n,):
            fail(task, f"{name} returned shape {shape} for {n} images: return one map per image, (N, 1, H, W).")
        fail(task, f"{name} returned shape {shape}: return one map per image, shaped like the images {expected}.")
    if not found.is_floating_point():
        fail(task, f"{name} returned a {found.dtype} tensor: the maps are real numbers.")
    return found


def _with_gradients(model: nn.Module) -> list[torch.Tensor]:
    """Give every parameter a ``.grad`` of its own, as a training step in progress would have; return copies."""
    for index, parameter in enumerate(model.parameters()):
        parameter.grad = torch.full_like(parameter, 0.25 + 0.01 * index)
    return [parameter.grad.clone() for parameter in model.parameters()]


def _require_restored(model: nn.Module, grads: list[torch.Tensor], name: str, task: str) -> None:
    """The model back in training mode, the mode the check gave it, with the gradients it had."""
    if not all(module.training for module in model.modules()):
        fail(
            task,
            f"{name} left the caller's model in eval mode; it came in training mode, as during training, and the next "
            "training step would run without dropout and with frozen batch statistics: remember the mode, "
            "was_training = model.training, and put it back with model.train(was_training) in a finally: block.",
        )
    now = [parameter.grad for parameter in model.parameters()]
    if any(grad is None or not grad.abs().sum() > 0 for grad in now):
        fail(
            task,
            f"{name} wiped the gradients the model's parameters already held (model.zero_grad()), which a training "
            "step in progress would lose: take the gradient with torch.autograd.grad(score.sum(), x), which fills no "
            ".grad, instead of .backward() and zero_grad().",
        )
    if any(not torch.equal(grad, before) for grad, before in zip(now, grads)):
        fail(
            task,
            "gradients are left in the model's parameters (.grad), added to those the caller had, where they would "
            "change the next training step: take the gradient with torch.autograd.grad(score.sum(), x), which fills "
            "no .grad.",
        )


def _require_clean(model: nn.Module, images: torch.Tensor, original: torch.Tensor, task: str) -> None:
    """No gradient left on the parameters or the images, and the images untouched."""
    if images.grad is not None or images.requires_grad:
        fail(
            task,
            "your function turned on gradients for the caller's images (and left them a .grad): work on a copy, "
            "x = images.clone().requires_grad_(True), so that the images stay as they were.",
        )
    if not torch.equal(images, original):
        fail(task, "your function changed the images it was given: compute the map on a copy, images.clone().")
    if any(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in model.parameters()):
        fail(
            task,
            "gradients are left in the model's parameters (.grad), where they would add to the next training step's: "
            "take the gradient with torch.autograd.grad(score, x), which leaves the parameters' .grad as it was.",
        )


def _difference(found: torch.Tensor, expected: torch.Tensor) -> str:
    return f"by up to {(found.detach() - expected).abs().max().item():.3g} (largest value {expected.abs().max().item():.3g})"


def _close(found: torch.Tensor, expected: torch.Tensor) -> bool:
    scale = expected.abs().max().item() or 1.0
    return found.shape == expected.shape and torch.allclose(
        found.detach().float(), expected.float(), atol=1e-5 * scale, rtol=1e-4
    )


def _gradients(model: nn.Module, images: torch.Tensor, score: Callable) -> torch.Tensor:
    """The gradient of ``score(logits).sum()`` with respect to the images, the model as it is."""
    x = images.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(score(model(x)).sum(), x)
    return gradient


@self_check("5.1", "your input_gradient")
def check_input_gradient(input_gradient: Callable) -> Passed:
    """Ex 5.1: ``input_gradient(model, images, target)``: |d score / d pixel| of each image's target class, in eval mode."""
    task = "5.1"
    _require_function(input_gradient, "input_gradient", "input_gradient(model, images, target)", task)
    model, images, target = _model(), _images(3, 12, 12), torch.tensor([0, 3, 1])
    original = images.clone()
    grads, grad_modes = _with_gradients(model), []
    with _forward_passes(model, grad_modes) as modes:
        try:
            found = call_answer(input_gradient, (model, images, target), "input_gradient(model, images, target)", task)
        except SelfCheckError:
            if grad_modes and not any(grad_modes):
                fail(
                    task,
                    "your forward pass ran inside a with torch.no_grad(): block, which records nothing to take a "
                    "gradient of: run model(x) outside it (torch.no_grad() is for occlusion, which needs no gradient).",
                )
            raise
    _require_eval(modes, "input_gradient", task)
    found = _require_map(found, images, "input_gradient", task)
    _require_restored(model, grads, "input_gradient", task)
    model.zero_grad(set_to_none=True)
    _require_clean(model, images, original, task)
    evaluating = _model().eval()
    call_answer(input_gradient, (evaluating, images.clone(), target), "input_gradient(model, images, target)", task)
    if evaluating.training:
        fail(
            task,
            "input_gradient left a model that came in eval mode in training mode: put back the mode the model had, "
            "model.train(was_training), rather than always model.train().",
        )
    expected = saliency.input_gradient(model.eval(), original, target)
    if _close(found, expected):
        return Passed(task, "the absolute gradient of each image's target score, in eval mode, with nothing left behind.")
    rows = torch.arange(len(target))
    mistakes = [
        (
            lambda logits: logits[rows, target],
            "has negative values: the map is the size of the gradient, whatever its sign; return gradient.abs()",
            False,
        ),
        (
            lambda logits: logits.max(dim=1).values,
            "explains the predicted class, not the target: select each image's target score, logits[range(N), target]",
            True,
        ),
        (
            lambda logits: logits,
            "adds up the gradients of every class's score: select each image's target score, logits[range(N), target]",
            True,
        ),
        (
            lambda logits: logits.softmax(dim=1)[rows, target],
            "explains the softmax probability: use the score itself (the logit), before any softmax",
            True,
        ),
        (
            lambda logits: logits.log_softmax(dim=1)[rows, target],
            "explains the log-probability: use the score itself (the logit), before any softmax",
            True,
        ),
        (
            lambda logits: logits[rows, target] / len(target),
            f"is {len(target)} times too small: you averaged the scores over the batch; sum them, so that each image's "
            "gradient is its own score's",
            True,
        ),
    ]
    for score, message, absolute in mistakes:
        candidate = _gradients(model, original, score)
        if _close(found, candidate.abs() if absolute else candidate):
            fail(task, f"your map {message}.")
    fail(
        task,
        f"your map differs from the absolute gradient of each image's target score {_difference(found, expected)}: "
        "put the model in eval(), take x = images.clone().requires_grad_(True), the score "
        "model(x)[range(N), target].sum(), its gradient with respect to x, and return its absolute value.",
    )


def _inside_masks(height: int, width: int, patch: int, stride: int) -> torch.Tensor:
    """Patches that start every ``stride`` pixels and stop before running past the edge, none cut off."""
    masks = []
    for top in range(0, height - patch + 1, stride):
        for left in range(0, width - patch + 1, stride):
            mask = torch.zeros(height, width, dtype=torch.bool)
            mask[top : top + patch, left : left + patch] = True
            masks.append(mask)
    return torch.stack(masks)


@self_check("5.2", "your occlusion")
def check_occlusion(occlusion: Callable) -> Passed:
    """Ex 5.2: ``occlusion(model, images, target, patch, stride)``: the mean drop of the score over the patches on each pixel."""
    task = "5.2"
    _require_function(occlusion, "occlusion", "occlusion(model, images, target, patch, stride)", task)
    model = _model()
    for height, width, patch, stride in ((12, 12, 4, 2), (15, 13, 4, 3)):
        images, target = _images(2, height, width, seed=height), torch.tensor([2, 4])
        original = images.clone()
        model.train()
        call = f"occlusion(model, images, target, patch={patch}, stride={stride}) on {height}x{width} images"
        with _forward_passes(model) as modes:
            found = call_answer(occlusion, (model, images, target, patch, stride), call, task)
        _require_eval(modes, "occlusion", task)
        masks = saliency.patch_masks(height, width, patch, stride)
        if len(modes) > 2 * len(images):
            fail(
                task,
                f"your occlusion ran the model {len(modes)} times for {len(images)} images and {len(masks)} patches, one "
                "forward pass per patch: stack the occluded copies of an image into one batch, "
                "images[i] * ~masks[:, None], and run them through the model together.",
            )
        found = _require_map(found, images, "occlusion", task)
        if found.requires_grad:
            fail(task, "the map still records gradients, which occlusion does not need: compute it under torch.no_grad().")
        if not torch.equal(images, original):
            fail(task, "your occlusion changed the images it was given: blank the patches out in copies, images * ~masks.")
        model.eval()
        expected = saliency.occlusion(model, original, target, masks=masks)
        if _close(found, expected):
            continue
        inside = _inside_masks(height, width, patch, stride)
        stops_before_edge = len(inside) < len(masks) and _close(
            torch.nan_to_num(found), torch.nan_to_num(saliency.occlusion(model, original, target, masks=inside))
        )
        if torch.isnan(found).any() or stops_before_edge:
            fail(
                task,
                f"on {height}x{width} images with patch={patch}, stride={stride}, pixels near the bottom or right edge "
                "get no value (or NaN): your patches stop before the edge. Use saliency.patch_masks(H, W, patch, stride), "
                "whose last patch is cut off at the edge so that every pixel is covered.",
            )
        if _close(found, -expected):
            fail(task, "your map has the wrong sign: the drop is the original score minus the occluded one.")
        counts = masks.sum(dim=0).float()
        if _close(found, expected * counts):
            fail(
                task,
                "your map adds up the drops of every patch that covers a pixel: divide by how many patches cover it, "
                "masks.sum(dim=0), for the average.",
            )
        probabilities = nn.Sequential(model, nn.Softmax(dim=1))
        if _close(found, saliency.occlusion(probabilities, original, target, masks=masks)):
            fail(task, "your map measures the drop of the softmax probability: use the score itself (the logit).")
        fail(
            task,
            f"on {height}x{width} images with patch={patch}, stride={stride} your map differs from the average drop of "
            f"the target score over the patches covering each pixel {_difference(found, expected)}: blank each patch "
            "out (set it to 0), score every copy, subtract from the original score, and average per pixel.",
        )
    model.zero_grad(set_to_none=True)
    return Passed(task, "the average drop of the target score over the patches covering each pixel, edges included, in batches.")


def _hooks_left(model: nn.Module) -> bool:
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return any(getattr(module, kind) for module in model.modules() for kind in kinds)


def _same_up_to_scale(found: torch.Tensor, expected: torch.Tensor) -> bool:
    """Whether each map is the expected one times a positive number (a map divided by its maximum counts)."""
    if found.shape != expected.shape:
        return False
    for a, b in zip(found.detach().float(), expected.float()):
        top_a, top_b = a.abs().max(), b.abs().max()
        if top_b == 0:
            if top_a > 1e-6:
                return False
            continue
        if top_a == 0 or not torch.allclose(a / top_a, b / top_b, atol=1e-4):
            return False
    return True


def _cam(model, images, target, layer, relu=True, pooled=True, mode="bilinear", align_corners=False) -> torch.Tensor:
    """Grad-CAM as :func:`cnnlab.saliency.grad_cam` computes it, or with one of its steps done otherwise."""
    features, gradients = saliency.layer_gradients(model, images, target, layer)
    weights = gradients.mean(dim=(2, 3), keepdim=True) if pooled else gradients
    cam = (weights * features).sum(dim=1, keepdim=True)
    cam = F.relu(cam) if relu else cam
    size = images.shape[-2:]
    if mode == "nearest":
        return F.interpolate(cam, size=size, mode="nearest")
    return F.interpolate(cam, size=size, mode=mode, align_corners=align_corners)


@self_check("5.3", "your grad_cam")
def check_grad_cam(grad_cam: Callable) -> Passed:
    """Ex 5.3: ``grad_cam(model, images, target, layer)``: the ReLU of gradient-weighted maps, upsampled, no hook left."""
    task = "5.3"
    _require_function(grad_cam, "grad_cam", "grad_cam(model, images, target, layer)", task)
    model, images, target = _model(), _images(3, 14, 14, seed=3), torch.tensor([1, 0, 4])
    original = images.clone()
    for name, layer in (("the last convolution", model.features[4]), ("the first convolution", model.features[0])):
        model.train()
        grads = _with_gradients(model)
        call = f"grad_cam(model, images, target, layer) with layer={name}"
        with _forward_passes(model) as modes, warnings.catch_warnings():
            # A backward hook on the first layer, whose input needs no gradient, says so; that is expected here.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            try:
                found = call_answer(grad_cam, (model, images, target, layer), call, task)
            except SelfCheckError as error:
                sizes = (f"({layer.in_channels})", f"({layer.out_channels})")
                if layer.in_channels != layer.out_channels and all(size in str(error) for size in sizes):
                    fail(
                        task,
                        f"your grad_cam multiplies a tensor of {layer.in_channels} channels, the layer's input, with one "
                        f"of {layer.out_channels}, its output: keep the layer's output and the gradient of the scores "
                        "with respect to that output (in a backward hook grad_outputs[0], not grad_inputs[0]).",
                    )
                raise
        if _hooks_left(model):
            fail(
                task,
                "your grad_cam leaves its hook on the layer, where it would run at every later forward pass: keep the "
                "handle, handle = layer.register_forward_hook(...), and call handle.remove() in a finally: block.",
            )
        _require_eval(modes, "grad_cam", task)
        shrunk = (7, 7) if layer is model.features[4] else None  # the last convolution works after a 2x2 pooling
        found = _require_map(found, images, "grad_cam", task, shrunk=shrunk)
        if found.requires_grad:
            fail(task, "the map still records gradients: return cam.detach(), a plain map to draw and compare.")
        _require_restored(model, grads, "grad_cam", task)
        model.zero_grad(set_to_none=True)
        _require_clean(model, images, original, task)
        model.eval()
        expected = saliency.grad_cam(model, original, target, layer)
        if _same_up_to_scale(found, expected) or _same_up_to_scale(
            found, _cam(model, original, target, layer, align_corners=True)
        ):
            continue
        mistakes = [
            (
                dict(relu=False),
                "has negative values: apply a ReLU to the weighted sum, F.relu(cam), to keep what raises the score",
            ),
            (
                dict(pooled=False),
                "weights every feature value by its own gradient: average the gradients over the height and width first, "
                "gradients.mean(dim=(2, 3), keepdim=True), one weight per channel",
            ),
            (dict(mode="nearest"), "is upsampled in blocks: use mode='bilinear' in F.interpolate"),
        ]
        for options, message in mistakes:
            if _same_up_to_scale(found, _cam(model, original, target, layer, **options)):
                fail(task, f"your map {message}.")
        fail(
            task,
            f"with layer={name} your map differs from Grad-CAM's {_difference(found, expected)}: keep the layer's "
            "output with a forward hook, take the gradient of the target scores with respect to it, average it over "
            "height and width, weight the channels with it, sum them, apply a ReLU and upsample bilinearly to the image.",
        )
    model.zero_grad(set_to_none=True)
    bad_target = torch.tensor([NUM_CLASSES + 2] * 3)
    model.train()
    try:
        grad_cam(model, images.clone(), bad_target, model.features[4])
    except Exception:  # noqa: BLE001 - the point is what a failure leaves behind
        if _hooks_left(model):
            fail(
                task,
                "when the model fails inside grad_cam (here a target class that does not exist) your hook stays on the "
                "layer: register it, then put the forward and backward pass in try: and handle.remove() in finally:.",
            )
    return Passed(task, "Grad-CAM of the layer passed, ReLU and bilinear upsampling, its hook removed even when the model fails.")


class _RecordedMethod:
    """A saliency method that records the weights of every model it maps, and the maps.

    The maps are signed gradients (so that the absolute and the signed rank
    correlations differ), except the last image's, which is 0 everywhere: a
    constant map, as a Grad-CAM that the ReLU zeroed, whose rank correlation
    is NaN.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, torch.Tensor], torch.Tensor]] = []

    def __call__(self, model, images, target):
        maps = saliency.input_gradient(model, images, target, absolute=False)
        maps[-1] = 0.0
        state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        self.calls.append((state, maps))
        return maps


def _changed_layers(state: dict, original: dict, names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if any(not torch.equal(value, original[key]) for key, value in state.items() if key.startswith(f"{name}."))
    ]


def _as_float(value, name: str, task: str) -> float:
    size = value.numel() if isinstance(value, torch.Tensor) else len(value) if isinstance(value, (list, tuple)) else 1
    if hasattr(value, "size") and not isinstance(value, torch.Tensor) and not callable(value.size):
        size = value.size  # a NumPy array
    if size != 1:
        fail(
            task,
            f"the value for {name} holds {size} numbers, one per image: average them into one, "
            "saliency.rank_correlation(original, maps).nanmean().item().",
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        fail(task, f"the value for {name} is a {type(value).__name__}, not a number: store the mean rank correlation.")


def _check_one_randomization_test(randomization_test, model, images, target, trained, names, absolute, task) -> None:
    method = _RecordedMethod()
    call = f"randomization_test(model, method, images, target, absolute={absolute})"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        found = call_answer(randomization_test, (model, method, images, target, absolute), call, task)
    if any(not torch.equal(value, trained[name]) for name, value in model.state_dict().items()):
        fail(
            task,
            "your function re-initialised the model it was given, which the rest of the chapter still needs trained: "
            "randomize a copy, randomized = copy.deepcopy(model).",
        )
    if is_blank(found):
        fail(task, f"randomization_test returned {found!r}: return the dictionary of correlations, layer name -> number.")
    if not isinstance(found, dict):
        fail(
            task,
            f"randomization_test returned a {type(found).__name__}: return a dict from each layer's name to its mean "
            "rank correlation.",
        )
    keys = list(found)
    if any(not isinstance(key, str) for key in keys):
        fail(task, "the dictionary's keys are not the layers' names: use the names that named_modules() gives, such as 'fc2'.")
    if keys == names[::-1]:
        fail(
            task,
            f"your layers are randomized from the input up ({', '.join(keys)}): the test starts at the output, "
            f"{names[0]}, and goes down, reversed(layers).",
        )
    if set(keys) != set(names) or keys != names:
        missing = [name for name in names if name not in keys]
        what = f"leaves out {', '.join(missing)}" if missing else f"has the keys {keys}"
        fail(task, f"the dictionary {what}: it needs every layer with weights, from the output down: {', '.join(names)}.")
    originals = [maps for state, maps in method.calls if all(torch.equal(value, trained[key]) for key, value in state.items())]
    if not originals:
        fail(task, "method never mapped the trained model: compute original = method(model, images, target) first.")
    stages = [(state, maps) for state, maps in method.calls if _changed_layers(state, trained, names)]
    if not stages and len(method.calls) > 1:
        fail(
            task,
            f"no weight changed: method mapped {len(method.calls)} models and every one had the trained weights. "
            "layer.reset_parameters without brackets only names the method: call it, layer.reset_parameters(), on "
            "the copy's layers, and map the copy, method(randomized, images, target).",
        )
    if len(stages) != len(names):
        fail(
            task,
            f"method mapped {len(stages)} randomized models for {len(names)} layers: after re-initialising each layer, "
            "map the randomized copy once, method(randomized, images, target).",
        )
    for k, (name, (state, maps)) in enumerate(zip(names, stages)):
        changed = _changed_layers(state, trained, names)
        if changed != names[: k + 1]:
            if changed == [name] and k > 0:
                fail(
                    task,
                    f"when {name} is randomized, the layers above it ({', '.join(names[:k])}) are trained again: the test "
                    "is cascading, so keep re-initialising the same copy, one more layer each time, without copying again.",
                )
            fail(
                task,
                f"at the step for {name} the randomized layers are {changed or 'none'}, but they should be "
                f"{', '.join(names[: k + 1])}: call layer.reset_parameters() on the copy's layers, from the output down.",
            )
        value = _as_float(found[name], name, task)
        expected = saliency.rank_correlation(originals[0], maps, absolute).nanmean().item()
        if math.isnan(value):
            fail(
                task,
                f"for {name} you report NaN: one image's map is constant (0 everywhere, as a Grad-CAM the ReLU zeroed), "
                "so its rank correlation is NaN, and .mean() turns the whole average into NaN; average with "
                ".nanmean(), which leaves that image out.",
            )
        other = saliency.rank_correlation(originals[0], maps, not absolute).nanmean().item()
        if abs(value - expected) > 1e-6 and abs(value - other) <= 1e-6:
            kind = "signed values" if absolute else "absolute values"
            fail(
                task,
                f"called with absolute={absolute}, for {name} you report the rank correlation of the {kind}: pass "
                "absolute on, saliency.rank_correlation(original, maps, absolute).",
            )
        if abs(value - expected) > 1e-6:
            pearson = torch.corrcoef(torch.stack([originals[0].flatten(), maps.flatten()]))[0, 1].item()
            if abs(value - pearson) < 1e-4:
                fail(
                    task,
                    f"for {name} you report Pearson's correlation of the values ({value:.4f}): the test ranks the pixels "
                    "first, saliency.rank_correlation(original, maps).",
                )
            fail(
                task,
                f"for {name} you report {value:.4f}, but the mean rank correlation between the trained model's maps and "
                f"the randomized copy's is {expected:.4f}: saliency.rank_correlation(original, maps, absolute).nanmean().item().",
            )


@self_check("5.4", "your randomization_test")
def check_randomization_test(randomization_test: Callable) -> Passed:
    """Ex 5.4: ``randomization_test(model, method, images, target)``: layers reset from the top, a rank correlation each."""
    task = "5.4"
    _require_function(randomization_test, "randomization_test", "randomization_test(model, method, images, target)", task)
    model = _model().eval()
    images, target = _images(4, 12, 12, seed=4), torch.tensor([0, 1, 2, 3])
    trained = {name: value.clone() for name, value in model.state_dict().items()}
    names = [name for name, _ in saliency.layers_from_output(model)]
    for absolute in (True, False):
        _check_one_randomization_test(randomization_test, model, images, target, trained, names, absolute, task)
    return Passed(
        task, f"{len(names)} layers re-initialised one after the other from {names[0]} down, a mean rank correlation each."
    )
