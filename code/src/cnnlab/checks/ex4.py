"""Self-checks of the brain-tissue chapter: a size-keeping block, a segmentation network, Dice, a split by slabs.

Each check runs the student's code on inputs chosen so that each mistake
shows: odd-sized and even-sized slices, masks where a class is absent, tiny or
disjoint, and slices whose neighbours are nearly identical.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn

from .common import (
    Passed,
    build,
    call_answer,
    fail,
    is_blank,
    logits_problem,
    record_functions,
    recording,
    run_model,
    self_check,
)

__all__ = ["check_conv_block", "check_dice", "check_segmentation_net", "check_slab_split"]

NUM_CLASSES = 4


JOINS = ("cat", "concat", "concatenate", "stack")
ACTIVATIONS = ("relu", "relu_", "leaky_relu", "leaky_relu_", "gelu", "elu", "silu")
SQUASHING = ("softmax", "log_softmax", "sigmoid", "tanh")


def _block(conv_block: Callable, in_channels: int, out_channels: int, task: str) -> nn.Module:
    block = call_answer(conv_block, (in_channels, out_channels), f"conv_block({in_channels}, {out_channels})", task)
    if is_blank(block):
        fail(task, f"conv_block({in_channels}, {out_channels}) returned {block!r}: return the block, an nn.Sequential.")
    if not isinstance(block, nn.Module):
        fail(task, f"conv_block returned a {type(block).__name__}: return the layers as one module, nn.Sequential(...).")
    if isinstance(block, (nn.ModuleList, nn.ModuleDict)):
        fail(
            task,
            f"conv_block returned an nn.{type(block).__name__}, which holds layers but does not run them one after "
            "another: return nn.Sequential(...), which does.",
        )
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
        if tuple(convs[0].kernel_size) != (3, 3):
            size = "x".join(map(str, convs[0].kernel_size))
            alone = ": a 1x1 convolution sees each pixel alone, with none of its neighbours" if size == "1x1" else ""
            fail(
                task,
                f"the block's convolution is {size} but the task asks for a 3x3 one{alone}. Use "
                "nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1).",
            )
        if tuple(convs[0].stride) != (1, 1):
            fail(
                task,
                f"the block's convolution has stride={tuple(convs[0].stride)}, which shrinks the slice: keep the "
                "default stride of 1, so that the block keeps the height and width.",
            )
        block.train()
        X = torch.randn(2, in_channels, height, width, generator=torch.Generator().manual_seed(0))
        out, calls = record_functions(run_model, block, X, task)
        names = [call.name for call in calls]
        if "batch_norm" not in names:
            fail(task, "the block has no batch normalisation: add nn.BatchNorm2d(out_channels) after the convolution.")
        if out.shape[-2:] != (height, width):
            fail(
                task,
                f"the block turns a {height}x{width} slice into {out.shape[-2]}x{out.shape[-1]}: a 3x3 "
                "convolution keeps the size with padding=1, so that every pixel gets a score.",
            )
        if out.shape[1] != out_channels:
            fail(task, f"the block returns {out.shape[1]} channels but conv_block(..., {out_channels}) asks for {out_channels}.")
        if not any(name in ACTIVATIONS for name in names):
            fail(task, "the block has no activation: end it with nn.ReLU(), or the stacked convolutions stay linear.")
        if (out < 0).any():
            fail(task, "the block's output has negative values: end it with the ReLU, after the batch normalisation.")
    return Passed(task, "a convolution that keeps the size, batch normalisation and ReLU.")


@contextlib.contextmanager
def _layer_sizes(model: nn.Module) -> Iterator[list[tuple[nn.Module, tuple, tuple]]]:
    """Within the block, each layer that runs is listed, in order, with the spatial sizes of its input and output."""
    sizes = []

    def record(module, inputs, output):
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor):
            sizes.append((module, tuple(inputs[0].shape[-2:]), tuple(output.shape[-2:])))

    hooks = [layer.register_forward_hook(record) for layer in model.modules() if not list(layer.children())]
    try:
        yield sizes
    finally:
        for hook in hooks:
            hook.remove()


def _odd_size_problem(height: int, width: int, found: str) -> str:
    return (
        f"on a {height}x{width} slice the network returns {found} scores: pooling rounds odd sizes down, so "
        "upsampling cannot restore them. Pad the upsampled maps to the size before pooling (F.pad), or "
        "resize them with F.interpolate(x, size=...), so that every pixel of any slice gets a score."
    )


def _skip_problem(calls: list, height: int, width: int) -> str | None:
    """Why the forward pass never joins full-size maps along the channels (the skip connection), or None."""
    full = (height, width)
    joins = [call for call in calls if call.name in JOINS]
    if any(
        call.options.get("dim") in (1, -3) and len(set(call.tensors)) >= 2 and all(shape[-2:] == full for shape in call.shapes)
        for call in joins
    ):
        return None
    if any(call.options.get("dim") in (0, -4) for call in joins):
        return (
            "the skip connection is joined along dim=0, the batch, which stacks the maps as extra slices: join them "
            "along the channels, torch.cat([skip, x], dim=1)."
        )
    spatial = [call.options.get("dim") for call in joins if call.options.get("dim") in (2, 3, -1, -2)]
    if spatial and any(len(shape) == 4 for call in joins for shape in call.shapes):
        side = "height" if spatial[0] in (2, -2) else "width"
        return (
            f"the skip connection is joined along dim={spatial[0]}, the {side}, which puts the maps side by side in "
            "the image: join them along the channels, torch.cat([skip, x], dim=1)."
        )
    added = _added_skip(calls, height, width)
    if added:
        return added
    return (
        "the network never joins the first block's maps to the upsampled ones, so the detail that pooling lost "
        "never comes back: concatenate them, torch.cat([skip, x], dim=1), before the head."
    )


def _added_skip(calls: list, height: int, width: int, crashed: bool = False) -> str | None:
    """Why adding the skip to the upsampled maps (``skip + x``) is not the join the task asks for, or None.

    ``crashed`` says that the forward pass then failed: the head's block from
    32 channels received the 16 channels of the sum.
    """
    added = [
        call
        for call in calls
        if call.name in ("__add__", "add", "__iadd__", "add_", "__radd__")
        and len(call.shapes) == 2
        and call.shapes[0] == call.shapes[1]
        and len(call.shapes[0]) == 4
        and call.shapes[0][-2:] == (height, width)
    ]
    if not added:
        return None
    channels = added[0].shapes[0][1]
    crash = (
        f" The sum still has {channels} channels, so the head's block from {2 * channels} channels cannot take it: the "
        "fault is the join, not the head."
        if crashed
        else f" The head's block then goes from {2 * channels} channels, the {channels} + {channels} of the joined maps."
    )
    return (
        "the skip connection is added (skip + x), which mixes the first block's maps into the upsampled ones: the task "
        "joins them along the channels, torch.cat([skip, x], dim=1), so that the head sees both the first block's "
        f"detail and the upsampled context, side by side.{crash}"
    )


def _crash_problem(task: str, error: str, calls: list, sizes: list, height: int, width: int) -> str | None:
    """Why the forward pass on a ``height`` x ``width`` slice failed with ``error``, when the join is at fault, or None.

    A head's block that receives the wrong number of channels is where the
    failure shows, but the cause is usually earlier: a skip joined along the
    wrong dimension, added, never joined, or upsampled without changing the channels.
    """
    joined = [call for call in calls if call.name in JOINS and call.options.get("dim") in (0, -4, 2, 3, -1, -2)]
    if joined:
        return _skip_problem(joined, height, width)
    joins_channels = any(call.name in JOINS and call.options.get("dim") in (1, -3) for call in calls)
    added = None if joins_channels else _added_skip(calls, height, width, crashed=True)
    if added:
        return added
    channels = "input channel(s) but received" in error
    stopped = error.removeprefix(f"Task {task}: ").split(": ")[0]
    upsampled = any(isinstance(layer, (nn.ConvTranspose2d, nn.Upsample)) for layer, _, _ in sizes) or any(
        call.name in ("interpolate", "upsample") for call in calls
    )
    if channels and upsampled and not joins_channels:
        return f"{_skip_problem(calls, height, width)} That is why the forward pass stopped: {stopped}."
    if channels and any(isinstance(layer, nn.Upsample) for layer, _, _ in sizes):
        return (
            "nn.Upsample doubles the size but keeps the channels of the middle block's maps, so the joined maps have "
            "more channels than the head's block takes: the task's transposed convolution, "
            "nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2), doubles the size and brings the channels back to 16. "
            f"That is why the forward pass stopped: {stopped}."
        )
    if height % 2 and "Sizes of tensors must match" in error:
        return (
            f"on a {height}x{width} slice the skip connection and the upsampled maps differ in size: pooling "
            f"rounds {height} down to {height // 2}, and upsampling doubles it to {2 * (height // 2)}. Pad the "
            "upsampled maps to the skip's size with F.pad, or resize them with F.interpolate(x, size=skip.shape[-2:])."
        )
    return None


def _check_structure(task: str, height: int, width: int, out: torch.Tensor, calls: list, ran: list, sizes: list) -> None:
    """Fail unless one forward pass halved the slice, doubled it back in line with the skip, joined the skip
    along the channels and ended with a 1x1 convolution's raw scores: judged on what ran, not on the order of
    the layers in ``__init__``."""
    if not any(size[0] <= (height + 1) // 2 and size[1] <= (width + 1) // 2 for _, _, size in sizes):
        fail(
            task,
            "the network never downsamples: add nn.MaxPool2d(2) after the first block (its stride is 2 by default; "
            "a stride of 1 only trims one pixel).",
        )
    for layer, before, after in sizes:
        if isinstance(layer, (nn.ConvTranspose2d, nn.Upsample)) and (after[0] < 2 * before[0] or after[1] < 2 * before[1]):
            fail(
                task,
                f"the upsampling layer turns {before[0]}x{before[1]} maps into {after[0]}x{after[1]}, not twice the size: "
                "use nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2), so that each upsampled pixel lines up with "
                "the skip's pixel at the same place.",
            )
    for call in calls:
        pad = call.options.get("pad") or ()
        if call.name == "pad" and call.options.get("mode", "constant") == "constant" and any(abs(p) > 1 for p in pad):
            fail(
                task,
                f"F.pad changes the maps by {tuple(pad)} pixels: it should only restore (or trim) the one row or "
                "column that halving an odd size rounds away. When it must do more, pooling or upsampling does not halve and "
                "double the size, and the upsampled maps no longer line up with the skip.",
            )
    problem = _skip_problem(calls, height, width)
    if problem:
        fail(task, problem)
    convs = [layer for layer in ran if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))]
    last = convs[-1] if convs else None
    if not (isinstance(last, nn.Conv2d) and tuple(last.kernel_size) == (1, 1) and last.out_channels == NUM_CLASSES):
        fail(
            task,
            "the last layer is not a 1x1 convolution to the 4 classes: end with nn.Conv2d(channels, 4, kernel_size=1), "
            "which turns each pixel's features into 4 scores.",
        )
    final_conv = max(i for i, call in enumerate(calls) if call.name == "conv2d")
    after = [call.name for call in calls[final_conv + 1 :] if call.name in (*ACTIVATIONS, *SQUASHING)]
    if after:
        fail(task, f"the network ends with {after[-1]}: return the raw scores; nn.CrossEntropyLoss applies the softmax.")
    problem = logits_problem(out)
    if problem:
        fail(task, f"{problem}: return the raw scores of the 1x1 convolution; nn.CrossEntropyLoss applies the softmax.")


@self_check("4.2", "your network")
def check_segmentation_net(model) -> Passed:
    """Ex 4.2: a network that downsamples and upsamples again, joins the skip, and returns 4 scores per pixel of any slice."""
    task = "4.2"
    model = build(model, task, "your network")
    if not any(isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) for layer in model.modules()):
        fail(task, "the network has no convolution: build it from conv_block, pooling, upsampling and a 1x1 nn.Conv2d.")
    model.eval()
    runs = []
    for height, width in ((64, 48), (99, 117), (31, 30)):
        X = torch.rand(2, 1, height, width, generator=torch.Generator().manual_seed(height))
        ran: list = []
        calls: list = []
        try:
            with torch.no_grad(), recording() as calls, _layer_sizes(model) as sizes:
                out = run_model(model, X, task, ran)
        except Exception as error:
            problem = _crash_problem(task, str(error), calls, sizes, height, width)
            if problem:
                fail(task, problem)
            raise
        if any(call.name in JOINS and call.options.get("dim") in (0, -4) for call in calls):
            fail(task, _skip_problem(calls, height, width))
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
                fail(task, _odd_size_problem(height, width, found))
            fail(task, f"on a {height}x{width} slice the network returns {found} scores: upsample as much as you pooled.")
        runs.append((height, width, out, calls, ran, sizes))
    for height, width, out, calls, ran, sizes in runs:
        _check_structure(task, height, width, out, calls, ran, sizes)
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
    """The scores as numbers, once they are what the chapter needs: one tensor of 4 scores."""
    if is_blank(value):
        fail(task, f"dice_per_class returned {value!r}: return one Dice score per class.")
    needs = "the chapter's next cells use tensor methods on it, such as dice[1:].nanmean()"
    if isinstance(value, np.ndarray):
        fail(task, f"dice_per_class returned a NumPy array: return a torch tensor, torch.stack(scores), because {needs}.")
    if isinstance(value, (list, tuple)):
        fail(
            task,
            f"dice_per_class returned a {type(value).__name__} of {len(value)} scores: return one tensor, "
            f"torch.stack(scores), because {needs}.",
        )
    if not isinstance(value, torch.Tensor):
        fail(task, f"dice_per_class returned a {type(value).__name__}: return a tensor of 4 scores, torch.stack(scores).")
    array = value.detach().cpu().double().numpy()
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
        found = call_answer(dice_per_class, (predicted.clone(), labels.clone()), f"dice_per_class on {what}", task)
        scores, expected = _as_scores(found, task), _reference_dice(predicted, labels)
        present = ~np.isnan(expected)
        if np.array_equal(scores[present], np.floor(expected[present])) and not np.allclose(scores[present], expected[present]):
            fail(
                task,
                f"on {what} your Dice scores are {scores[present].tolist()}, each rounded down from "
                f"{np.round(expected[present], 4).tolist()}: divide with /, not // (floor division), "
                "which keeps the whole part only.",
            )
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
                if union and abs(got - 2 * intersection / union) < 1e-4:
                    fail(
                        task,
                        f"for {name} in {what} you divide by the union, |A or B|: Dice divides twice the overlap by "
                        "the two sizes added, 2|A and B| / (|A| + |B|), so use A.sum() + B.sum().",
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
    result = call_answer(slab_split, (z.clone(), (first, last), gap), "slab_split", task)
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
    values = z.tolist()
    slab = {v for v in values if first <= v <= last}
    kept = {v for v in values if v < first - gap or v > last + gap}
    if parts == [{values.index(v) for v in slab}, {values.index(v) for v in kept}]:
        fail(task, "slab_split returned the test positions first: return train_index, test_index, in that order.")
    if any(i >= len(values) or i < -len(values) for part in parts for i in part) or parts[1] == slab:
        fail(
            task,
            "slab_split returned slice numbers (values of z), not positions in z: return where the masks are "
            "True, torch.nonzero(mask).flatten(), so that z[test_index] gives the test slices.",
        )
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
        inside = first <= tested[0] and tested[-1] <= last
        fix = (
            "include both ends, (z >= first) & (z <= last)"
            if inside
            else "test exactly the slices of the slab, (z >= first) & (z <= last), no more"
        )
        fail(task, f"the test slices run from z={tested[0]} to z={tested[-1]}, but the test slab is {first}-{last}: {fix}.")
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
