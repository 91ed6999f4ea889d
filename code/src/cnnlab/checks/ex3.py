"""Self-checks of Exercise 3: sequential blocks, batchnorm and dropout, and a variant of one's own.

The network is built and run here. The layers it runs, in order, show how it
is put together (which block lacks its ReLU, where the dropout sits), and its
output is compared with the network the task describes, made of the
student's own layers; batch normalisation is given random statistics first,
so that a missing or misplaced one shows in the output too.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..shapes import layer_name
from .common import Passed, build, fail, logits_problem, run_model, self_check

__all__ = ["check_regularised_model", "check_sequential_model", "check_variant"]

_BLOCK_NAMES = ("the first convolutional block", "the second convolutional block")
_DROPOUTS = (nn.Dropout, nn.Dropout2d)
_HEAD = "nn.Flatten(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10)"
_PLAIN = "conv -> maxpool -> relu (twice) -> flatten -> linear -> relu -> linear"
_REGULARISED = "conv -> batchnorm -> maxpool -> relu -> dropout (twice) -> flatten -> linear -> relu -> linear"


def _images(seed: int = 0) -> torch.Tensor:
    return torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def _run(model: nn.Module, task: str) -> tuple[torch.Tensor, list[nn.Module]]:
    """The eval-mode output for 4 images, checked to be 10 logits each, and the layers that ran."""
    model.eval()
    called: list[nn.Module] = []
    with torch.no_grad():
        out = run_model(model, _images(), task, record=called)
    if tuple(out.shape) != (4, 10):
        fail(task, f"the model returned shape {tuple(out.shape)} for 4 images: it should return (4, 10), 10 scores per image.")
    problem = logits_problem(out)
    if problem:
        fail(task, f"{problem}. nn.CrossEntropyLoss expects raw scores: return the last linear layer's output.")
    return out, called


def _blocks(called: list[nn.Module], task: str) -> tuple[list[list[nn.Module]], list[nn.Module]]:
    """Split the layers that ran into the two convolutional blocks and the linear part."""
    starts = [i for i, module in enumerate(called) if isinstance(module, nn.Conv2d)]
    if len(starts) != 2:
        fail(
            task,
            f"the model runs {len(starts)} convolution(s): the network has two convolutional blocks, 1 -> 10 -> 20 channels.",
        )
    head = next((i for i in range(starts[1], len(called)) if isinstance(called[i], (nn.Flatten, nn.Linear))), len(called))
    return [called[starts[0] : starts[1]], called[starts[1] : head]], called[head:]


def _check_sizes(model: nn.Module, blocks: list[list[nn.Module]], head: list[nn.Module], task: str) -> None:
    for (in_channels, out_channels), block, where in zip(((1, 10), (10, 20)), blocks, _BLOCK_NAMES):
        conv = block[0]
        name = layer_name(model, conv)
        if (conv.in_channels, conv.out_channels) != (in_channels, out_channels):
            fail(
                task,
                f"{name}, the convolution of {where}, maps {conv.in_channels} -> {conv.out_channels} channels: "
                f"it should map {in_channels} -> {out_channels}, as in Exercise 2.",
            )
        if tuple(conv.kernel_size) != (5, 5) or tuple(conv.stride) != (1, 1) or tuple(conv.padding) != (0, 0):
            fail(
                task,
                f"{name} has kernel_size={tuple(conv.kernel_size)}, stride={tuple(conv.stride)}, padding={conv.padding}: "
                "use 5x5 kernels, stride 1 and no padding, as in Exercise 2.",
            )
        for layer in block:
            if isinstance(layer, nn.AvgPool2d):
                fail(task, f"{layer_name(model, layer)} averages: the network uses nn.MaxPool2d(2).")
            if isinstance(layer, nn.MaxPool2d):
                padding = layer.padding if isinstance(layer.padding, tuple) else (layer.padding, layer.padding)
                if padding != (0, 0):
                    fail(
                        task,
                        f"{layer_name(model, layer)} has padding={layer.padding}, which pools padded maps and changes the "
                        "sizes (24 -> 13 in the first block): use nn.MaxPool2d(2) without padding.",
                    )
    linears = [layer for layer in head if isinstance(layer, nn.Linear)]
    shapes = [(layer.in_features, layer.out_features) for layer in linears]
    if shapes != [(320, 50), (50, 10)]:
        fail(
            task,
            f"the linear layers map {' then '.join(f'{a} -> {b}' for a, b in shapes)}: they should map 320 -> 50 then 50 -> 10.",
        )


def _check_block_layers(model: nn.Module, blocks: list[list[nn.Module]], head: list[nn.Module], task: str) -> None:
    for block, where in zip(blocks, _BLOCK_NAMES):
        kinds = [type(layer) for layer in block]
        if nn.MaxPool2d not in kinds:
            fail(task, f"{where} has no max-pooling: add nn.MaxPool2d(2) after its convolution.")
        if nn.ReLU not in kinds:
            fail(task, f"{where} has no ReLU: add nn.ReLU() after its max-pooling.")
    relus = sum(isinstance(layer, nn.ReLU) for layer in head)
    if relus != 1 or not isinstance(head[-1], nn.Linear):
        fail(
            task,
            f"the linear block should be {_HEAD}: one ReLU, between the two linear layers.",
        )


def _reference(blocks: list[list[nn.Module]], head: list[nn.Module], X: torch.Tensor, batchnorm: bool) -> torch.Tensor:
    """The task's network made of the student's layers: conv [-> batchnorm] -> maxpool -> relu, twice, then the head."""
    for block in blocks:
        X = block[0](X)
        if batchnorm:
            X = block[1](X)
        X = F.relu(F.max_pool2d(X, 2))
    fc1, fc2 = (layer for layer in head if isinstance(layer, nn.Linear))
    return fc2(F.relu(fc1(X.flatten(1))))


def _sequential_blocks(model: nn.Module, task: str) -> int:
    blocks = [module for module in model.children() if isinstance(module, nn.Sequential)]
    if len(blocks) < 2:
        fail(
            task,
            f"the model has {len(blocks)} nn.Sequential block(s): group the convolutional layers and the linear layers "
            "into nn.Sequential blocks (conv_blocks and lin_blocks).",
        )
    return len(blocks)


@self_check("3.1", "your network")
def check_sequential_model(model) -> Passed:
    """Ex 3.1: the Exercise 2 network rewritten with ``nn.Sequential`` blocks.

    ``model`` is the class, which is built here so that a failing ``__init__``
    is explained, or an instance of it.
    """
    task = "3.1"
    model = build(model, task, "MNISTSequential")
    out, called = _run(model, task)
    count = _sequential_blocks(model, task)
    blocks, head = _blocks(called, task)
    _check_sizes(model, blocks, head, task)
    _check_block_layers(model, blocks, head, task)
    extra = [layer_name(model, layer) for layer in called if isinstance(layer, (nn.BatchNorm2d, *_DROPOUTS))]
    if extra:
        fail(task, f"{', '.join(extra)} belong(s) to Ex 3.2: Ex 3.1 keeps exactly the layers of Exercise 2.")
    with torch.no_grad():
        expected = _reference(blocks, head, _images(), batchnorm=False)
    if not torch.allclose(out, expected, atol=1e-5):
        sequence = ", ".join(type(layer).__name__ for layer in called)
        fail(
            task,
            f"the output differs from {_PLAIN}; the model runs: {sequence}.",
        )
    return Passed(task, f"{count} sequential blocks, the layers of Exercise 2, 10 logits per image.")


def _randomise_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose batchnorm layers have random statistics and scales, so that they show."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            module.running_mean = torch.randn(size, generator=generator)
            module.running_var = torch.rand(size, generator=generator) + 0.5
            if module.affine:
                module.weight.data = torch.rand(size, generator=generator) + 0.5
                module.bias.data = torch.randn(size, generator=generator)
    return model


@self_check("3.2", "your network")
def check_regularised_model(model) -> Passed:
    """Ex 3.2: a BatchNorm2d right after each convolution and dropout at the end of each convolutional block."""
    task = "3.2"
    model = _randomise_batchnorm(build(model, task, "MNISTRegularised"))
    out, called = _run(model, task)
    _sequential_blocks(model, task)
    blocks, head = _blocks(called, task)
    _check_sizes(model, blocks, head, task)
    for block, where in zip(blocks, _BLOCK_NAMES):
        conv, norms = block[0], [layer for layer in block if isinstance(layer, nn.BatchNorm2d)]
        if not norms:
            fail(task, f"{where} has no nn.BatchNorm2d: add nn.BatchNorm2d({conv.out_channels}) right after its convolution.")
        if block[1] is not norms[0]:
            fail(task, f"in {where} the BatchNorm2d comes after {type(block[1]).__name__}: put it right after the convolution.")
        if not any(isinstance(layer, _DROPOUTS) for layer in block):
            elsewhere = (
                " The dropout you added sits in the linear block." if any(isinstance(layer, _DROPOUTS) for layer in head) else ""
            )
            fail(task, f"{where} has no dropout: end it with nn.Dropout2d(p), which drops whole feature maps.{elsewhere}")
    for layer in called:
        if isinstance(layer, _DROPOUTS) and not 0 < layer.p < 1:
            fail(task, f"{layer_name(model, layer)} has p={layer.p}: use a probability between 0 and 1, such as 0.2.")
    _check_block_layers(
        model,
        [[layer for layer in block if not isinstance(layer, (nn.BatchNorm2d, *_DROPOUTS))] for block in blocks],
        [layer for layer in head if not isinstance(layer, _DROPOUTS)],
        task,
    )
    with torch.no_grad():
        expected = _reference(blocks, head, _images(), batchnorm=True)
        if not torch.allclose(out, expected, atol=1e-4):
            sequence = ", ".join(type(layer).__name__ for layer in called)
            fail(
                task,
                f"the output differs from {_REGULARISED}; the model runs: {sequence}.",
            )
        if not torch.equal(model(_images()), out):
            fail(
                task,
                "in evaluation mode two passes differ: use dropout modules (they switch off in eval mode) rather than "
                "F.dropout without training=self.training.",
            )
    norms = sum(isinstance(layer, nn.BatchNorm2d) for layer in called)
    drops = sum(isinstance(layer, _DROPOUTS) for layer in called)
    return Passed(task, f"{norms} batchnorm and {drops} dropout layers, each in its place.")


@self_check("3.3", "your variant")
def check_variant(model) -> Passed:
    """Ex 3.3: any changed network that takes MNIST images, returns 10 logits, and trains and tests cleanly."""
    task = "3.3"
    model = build(model, task, "your variant")
    out, _ = _run(model, task)
    with torch.no_grad():
        if not torch.equal(model(_images()), out):
            fail(
                task,
                "in evaluation mode two passes differ: use dropout modules rather than F.dropout without training=self.training.",
            )
    model.train()
    run_model(model, _images(1), task)
    count = sum(param.numel() for param in model.parameters() if param.requires_grad)
    return Passed(task, f"your variant has {count:,} parameters and returns 10 logits.")
