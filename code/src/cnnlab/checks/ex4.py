"""Self-checks of the brain-tissue chapter: a size-keeping block, a segmentation network, Dice, a split by slabs.

Each check runs the student's code on inputs chosen so that each mistake
shows: odd-sized and even-sized slices, masks where a class is absent, tiny or
disjoint, and slices whose neighbours are nearly identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn

from .common import Passed, build, fail, run_model, self_check

__all__ = ["check_conv_block", "check_dice", "check_segmentation_net", "check_slab_split"]

NUM_CLASSES = 4


def _call(function: Callable, arguments: tuple, call: str, task: str):
    """``function(*arguments)``, with a failure named: a blank still empty, or the error and the call."""
    try:
        return function(*arguments)
    except Exception as error:  # noqa: BLE001 - a failing answer becomes a message
        text = str(error)
        if "NoneType" in text or "Ellipsis" in text:
            fail(task, f"{call} failed because a blank is still empty ({text}): fill in every line marked ✎.")
        fail(task, f"{call} raised {type(error).__name__}: {text}.")


def _block(conv_block: Callable, in_channels: int, out_channels: int, task: str) -> nn.Module:
    block = _call(conv_block, (in_channels, out_channels), f"conv_block({in_channels}, {out_channels})", task)
    if block is None or block is Ellipsis:
        fail(task, f"conv_block({in_channels}, {out_channels}) returned {block!r}: return the block, an nn.Sequential.")
    if not isinstance(block, nn.Module):
        fail(task, f"conv_block returned a {type(block).__name__}: return the layers as one module, nn.Sequential(...).")
    return block


@self_check("4.1", "your conv_block")
def check_conv_block(conv_block: Callable) -> Passed:
    """Ex 4.1: ``conv_block(in_channels, out_channels)``: a convolution that keeps the size, batch normalisation, ReLU."""
    task = "4.1"
    if conv_block is None or not callable(conv_block):
        fail(task, "conv_block is not a function: define it with def conv_block(in_channels, out_channels).")
    for in_channels, out_channels, height, width in ((1, 8, 13, 10), (8, 16, 12, 9)):
        block = _block(conv_block, in_channels, out_channels, task)
        layers = [module for module in block.modules() if not list(module.children())]
        convs = [layer for layer in layers if isinstance(layer, nn.Conv2d)]
        if not convs:
            fail(
                task, "the block has no nn.Conv2d: start it with nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)."
            )
        if convs[0].in_channels != in_channels or convs[-1].out_channels != out_channels:
            fail(
                task,
                f"conv_block({in_channels}, {out_channels}) maps {convs[0].in_channels} channels to {convs[-1].out_channels}: "
                "use the arguments, nn.Conv2d(in_channels, out_channels, ...), rather than fixed numbers.",
            )
        if not any(isinstance(layer, nn.BatchNorm2d) for layer in layers):
            fail(task, "the block has no batch normalisation: add nn.BatchNorm2d(out_channels) after the convolution.")
        if not any(isinstance(layer, (nn.ReLU, nn.LeakyReLU, nn.GELU)) for layer in layers):
            fail(task, "the block has no activation: end it with nn.ReLU(), or the stacked convolutions stay linear.")
        block.train()
        X = torch.randn(2, in_channels, height, width, generator=torch.Generator().manual_seed(0))
        out = run_model(block, X, task)
        if out.shape[-2:] != (height, width):
            kernel = convs[0].kernel_size[0]
            fail(
                task,
                f"the block turns a {height}x{width} slice into {out.shape[-2]}x{out.shape[-1]}: a {kernel}x{kernel} "
                f"convolution keeps the size with padding={(kernel - 1) // 2}, so that every pixel gets a score.",
            )
        if out.shape[1] != out_channels:
            fail(task, f"the block returns {out.shape[1]} channels but conv_block(..., {out_channels}) asks for {out_channels}.")
        if (out < 0).any():
            fail(task, "the block's output has negative values: end it with the ReLU, after the batch normalisation.")
    return Passed(task, "a convolution that keeps the size, batch normalisation and ReLU.")


def _shapes(model: nn.Module, X: torch.Tensor) -> list[tuple[int, int]]:
    """The spatial sizes of the outputs of every layer, in the order they ran."""
    sizes = []
    hooks = [
        layer.register_forward_hook(
            lambda module, inputs, output: sizes.append(tuple(output.shape[-2:])) if isinstance(output, torch.Tensor) else None
        )
        for layer in model.modules()
        if not list(layer.children())
    ]
    try:
        with torch.no_grad():
            model(X)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes


@self_check("4.2", "your network")
def check_segmentation_net(model) -> Passed:
    """Ex 4.2: a network that downsamples and upsamples again, and returns 4 scores per pixel of any slice."""
    task = "4.2"
    model = build(model, task, "your network")
    layers = [module for module in model.modules() if not list(module.children())]
    last_conv = [layer for layer in layers if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))]
    if not last_conv:
        fail(task, "the network has no convolution: build it from conv_block, pooling, upsampling and a 1x1 nn.Conv2d.")
    model.eval()
    for height, width in ((64, 48), (99, 117), (31, 30)):
        X = torch.rand(2, 1, height, width, generator=torch.Generator().manual_seed(height))
        try:
            with torch.no_grad():
                out = run_model(model, X, task)
        except Exception as error:
            if height % 2 and "Sizes of tensors must match" in str(error):
                fail(
                    task,
                    f"on a {height}x{width} slice the skip connection and the upsampled maps differ in size: pooling "
                    f"rounds {height} down to {height // 2}, and upsampling doubles it to {2 * (height // 2)}. Pad the "
                    "upsampled maps to the skip's size with F.pad, or resize them with F.interpolate(x, size=skip.shape[-2:]).",
                )
            raise
        if out.ndim != 4 or out.shape[0] != 2:
            fail(task, f"the network returns shape {tuple(out.shape)}: return (N, 4, H, W), 4 scores for every pixel.")
        if out.shape[1] != NUM_CLASSES:
            fail(
                task,
                f"the network returns {out.shape[1]} channels: end with a 1x1 convolution to 4, nn.Conv2d(16, 4, kernel_size=1).",
            )
        if tuple(out.shape[-2:]) != (height, width):
            found = f"{out.shape[-2]}x{out.shape[-1]}"
            if height % 2 or width % 2:
                fail(
                    task,
                    f"on a {height}x{width} slice the network returns {found} scores: pooling rounds odd sizes down, so "
                    "upsampling cannot restore them. Pad the upsampled maps to the size before pooling (F.pad), or "
                    f"resize them with F.interpolate(x, size=...), so that every pixel of any slice gets a score.",
                )
            fail(task, f"on a {height}x{width} slice the network returns {found} scores: upsample as much as you pooled.")
        sizes = _shapes(model, X)
        if not any(size[0] < height and size[1] < width for size in sizes):
            fail(
                task, "the network never downsamples: add nn.MaxPool2d(2) (or a convolution with stride=2) after the first block."
            )
    final = last_conv[-1]
    if not (isinstance(final, nn.Conv2d) and tuple(final.kernel_size) == (1, 1) and final.out_channels == NUM_CLASSES):
        fail(
            task,
            "the last layer is not a 1x1 convolution to the 4 classes: end with nn.Conv2d(channels, 4, kernel_size=1), "
            "which turns each pixel's features into 4 scores.",
        )
    if isinstance(layers[-1], (nn.ReLU, nn.Softmax, nn.LogSoftmax, nn.Sigmoid)):
        fail(
            task,
            f"the network ends with {type(layers[-1]).__name__}: return the raw scores; nn.CrossEntropyLoss applies the softmax.",
        )
    model.train()
    count = sum(parameter.numel() for parameter in model.parameters())
    return Passed(task, f"4 scores for every pixel of odd- and even-sized slices, {count:,} parameters.")


def _reference_dice(predicted: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    scores = []
    for cls in range(NUM_CLASSES):
        a, b = predicted == cls, labels == cls
        total = a.sum() + b.sum()
        scores.append(float("nan") if total == 0 else 2 * (a & b).sum().item() / total.item())
    return np.array(scores)


def _as_scores(value, task: str) -> np.ndarray:
    if value is None or value is Ellipsis:
        fail(task, f"dice_per_class returned {value!r}: return one Dice score per class.")
    try:
        array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=float)
    except (TypeError, ValueError):
        fail(task, f"dice_per_class returned a {type(value).__name__}: return a tensor (or list) of 4 numbers.")
    if array.shape != (NUM_CLASSES,):
        fail(task, f"dice_per_class returned shape {array.shape}: return one score per class, 4 numbers.")
    return array


@self_check("4.3", "your dice_per_class")
def check_dice(dice_per_class: Callable) -> Passed:
    """Ex 4.3: ``dice_per_class(predicted, labels)``: 2|A and B| / (|A| + |B|) for each class; NaN when absent from both."""
    task = "4.3"
    if dice_per_class is None or not callable(dice_per_class):
        fail(task, "dice_per_class is not a function: define it with def dice_per_class(predicted, labels, num_classes=4).")
    truth = torch.zeros(40, 40, dtype=torch.int64)
    truth[5:25, 5:25] = 2  # grey matter, 400 pixels
    truth[10:14, 10:14] = 3  # a little white matter inside it
    truth[30:32, 30:31] = 1  # a tiny CSF region, 2 pixels
    shifted = torch.roll(truth, shifts=1, dims=1)
    disjoint = torch.zeros_like(truth)
    disjoint[30:32, 0:1] = 1
    cases = [("a perfect prediction", truth.clone(), truth), ("a prediction shifted by one pixel", shifted, truth)]
    cases += [("a prediction that misses the tiny CSF region", torch.where(truth == 1, 0, truth), truth)]
    cases += [("CSF predicted where it is not", disjoint, torch.where(truth == 1, 0, truth))]
    no_white = torch.where(truth == 3, 2, truth)
    cases += [("a slice without white matter in either map", no_white.clone(), no_white)]
    for what, predicted, labels in cases:
        found = _call(dice_per_class, (predicted.clone(), labels.clone()), f"dice_per_class on {what}", task)
        scores, expected = _as_scores(found, task), _reference_dice(predicted, labels)
        for cls, (got, want) in enumerate(zip(scores, expected)):
            name = ("background", "CSF", "grey matter", "white matter")[cls]
            if math.isnan(want):
                if not math.isnan(got):
                    fail(
                        task,
                        f"{name} is absent from both masks in {what}, but your Dice is {got:g}: with nothing to find "
                        "and nothing found the score is undefined. Return NaN there (0/0), and average with nanmean.",
                    )
                continue
            if math.isnan(got):
                fail(task, f"your Dice for {name} is NaN in {what}, where the class is present: only 0/0 is undefined.")
            if abs(got - want) > 1e-4:
                intersection = ((predicted == cls) & (labels == cls)).sum().item()
                union = ((predicted == cls) | (labels == cls)).sum().item()
                if union and abs(got - intersection / union) < 1e-4 and abs(want - 1) > 1e-9:
                    fail(
                        task, f"for {name} in {what} you return the IoU, |A and B| / |A or B|: Dice is 2|A and B| / (|A| + |B|)."
                    )
                if abs(got - want / 2) < 1e-4:
                    fail(
                        task,
                        f"for {name} in {what} your Dice is half the right one ({got:.4f}, not {want:.4f}): "
                        "the factor 2 is missing.",
                    )
                fail(
                    task,
                    f"for {name} in {what} your Dice is {got:.4f} but it is {want:.4f}: compare the class's pixels only, "
                    "A = (predicted == c), B = (labels == c), then 2 * (A & B).sum() / (A.sum() + B.sum()).",
                )
    return Passed(task, "Dice per tissue, 0 for disjoint masks, NaN for a class absent from both.")


@self_check("4.4", "your slab_split")
def check_slab_split(slab_split: Callable) -> Passed:
    """Ex 4.4: ``slab_split(z, test_slab, gap)``: a test slab, the slices beside it left out, every other slice for training."""
    task = "4.4"
    if slab_split is None or not callable(slab_split):
        fail(task, "slab_split is not a function: define it with def slab_split(z, test_slab, gap).")
    z = torch.arange(20, 80)
    first, last, gap = 40, 55, 3
    result = _call(slab_split, (z.clone(), (first, last), gap), "slab_split", task)
    if not isinstance(result, tuple) or len(result) != 2 or any(part is None for part in result):
        fail(task, f"slab_split returned {result!r:.60}: return train_index, test_index, two tensors of positions in z.")
    parts = []
    for name, part in zip(("train_index", "test_index"), result):
        array = np.asarray(part.detach().cpu() if isinstance(part, torch.Tensor) else part)
        if array.dtype == bool:
            array = np.flatnonzero(array)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            fail(task, f"{name} is not a list of positions: return indices into z, such as torch.nonzero(mask).flatten().")
        parts.append(set(array.tolist()))
    train, test = ({int(z[i]) for i in part} for part in parts)
    if train & test:
        fail(task, f"slices {sorted(train & test)[:4]} are both trained on and tested on: each slice goes to one side only.")
    if not test:
        fail(task, "the test set is empty: test on the slices whose z lies in the test slab.")
    tested = sorted(test)
    if any(b - a > 1 for a, b in zip(tested, tested[1:])):
        between = next(a + 1 for a, b in zip(tested, tested[1:]) if b - a > 1)
        where = "trained on" if between in train else "left out"
        fail(
            task,
            f"the test slices are interleaved with the others: slice {between} lies among them and is {where}. "
            "Neighbouring slices are nearly identical, so a model trained on one is tested on its twin: test on one "
            "solid slab, (z >= first) & (z <= last).",
        )
    if tested[0] != first or tested[-1] != last:
        fail(
            task,
            f"the test slices run from z={tested[0]} to z={tested[-1]}, but the test slab is {first}-{last}: include both ends.",
        )
    near = sorted(s for s in train if first - gap <= s < first or last < s <= last + gap)
    if near:
        fail(
            task,
            f"slice {near[0]} is trained on, within {gap} slices of the test slab: leave gap={gap} slices out on each "
            "side, so that no training slice is a near-copy of a test slice.",
        )
    unused = sorted(int(s) for s in z.tolist() if s not in train and s not in test and not first - gap <= s <= last + gap)
    if unused:
        fail(task, f"slice {unused[0]} is in neither set: train on every slice outside the test slab and its gaps.")
    return Passed(task, f"test slab {first}-{last}, {gap} slices left out on each side, {len(train)} training slices.")
