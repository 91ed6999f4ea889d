"""Side-by-side timing of MNIST training recipes on the same data, model, seed and images, against the arithmetic floor.

Every recipe trains :class:`cnnlab.models.MNISTModel` on the same number of
images (one full MNIST epoch, 60,000, by default, cycling a smaller set):

* the original practical's: torchvision's ``ToTensor`` dataset in a
  ``DataLoader``, batch 8, learning rate 0.001;
* the same batches from tensors built once (:func:`cnnlab.loaders.tensor_loader`);
* 16 times larger batches, with the learning rate scaled up with them (the
  linear scaling rule);
* the same, with the network and its inputs in the ``channels_last`` memory
  format, which oneDNN's CPU convolutions and the tensor cores' GPU kernels
  run without reordering; at batch 128, and at batch 256 with learning rate
  0.04 (the linear rule gives 0.032), kept because it matched the original
  practical's accuracy in the first record, on the same test set that then
  chooses the fast recipe (in later records it is about a point below);
* the same, with the forward pass in bfloat16 under ``torch.autocast``
  (mixed precision: the weights and their updates stay float32; the backward
  operations run in the type autocast gave their forward ones). It pays on
  processors with bfloat16 instructions (CPUs with AVX-512 BF16 or AMX,
  NVIDIA GPUs from Ampere on) and costs time on others.

The *fast recipe* (:func:`fast_recipe`) is the fastest of those whose test
accuracy is not measurably below the original practical's: the allowed drop
is a tolerance the caller passes, in the book the larger of half a point and
:func:`undetectable_drop`, what two runs can differ by from the test set's
sampling alone. That keeps recipes the test set cannot show to be worse; it
does not show them as accurate. Recipes whose medians lie within each
other's spread are tied (:func:`tied_with_fastest`), and the tie goes to the
more accurate, then the smaller batch. The bfloat16 recipes are tried only
on a device with bfloat16 arithmetic (:func:`bfloat16_problem` says why not
elsewhere), since elsewhere its operations are emulated, slower than float32.

The *floor* (the chapter's *reference*) is a reference, not a bound: the floating-point operations of
one training step (forward and backward, counted by
:class:`torch.utils.flop_counter.FlopCounterMode`) per 60,000 images, divided
by the speed of a large matrix product in the recipe's precision on the same
machine, with the same threads (float32 for the float32 recipes, bfloat16 for
the bfloat16 ones). A recipe could still beat it: a bfloat16 autocast step
also runs some operations in float32, and on a CUDA GPU cuDNN may run float32
convolutions in TF32 (``torch.backends.cudnn.allow_tf32`` is True by default)
while the float32 matrix product does not. The ratio says how far a recipe is
from the arithmetic done at a large matrix product's speed.

All recipes run in one process, one after the other, so they share the
machine's state. With ``repeats`` above 1 every recipe is timed that many
times, the recipes taking turns, and the table gives the median;
``benchmarks/training_speed.py`` prints it.

Every recipe sees the training images in the same order: the original
practical's ``DataLoader`` shuffles with a ``RandomSampler`` holding the seeded
generator, exactly as :func:`cnnlab.loaders.tensor_loader` does. (Passing the
generator to ``DataLoader(generator=...)`` instead would not: the loader draws
its workers' base seed from that generator first, which shifts the order.)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import pandas as pd
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torch.utils.flop_counter import FlopCounterMode

from . import loaders, models, train

__all__ = [
    "Recipe",
    "RECIPES",
    "BFloat16Forward",
    "matmul_gflops",
    "training_flops_per_image",
    "run_recipe",
    "tied_with_fastest",
    "images_seen",
    "cpu_flags_summary",
    "recounted",
    "run_benchmark",
    "bfloat16_problem",
    "recipes_for",
    "profile_recipe",
    "fast_recipe",
    "undetectable_drop",
    "recorded_measurements",
]


@dataclass(frozen=True)
class Recipe:
    """One way to train: which loader, which batch size and learning rate, which memory format and precision."""

    name: str
    loader: str  # "torchvision" or "tensors"
    batch_size: int
    lr: float
    momentum: float = 0.9
    channels_last: bool = False
    bfloat16: bool = False


RECIPES = (
    Recipe("original practical (ToTensor DataLoader), batch 8", "torchvision", 8, 0.001),
    Recipe("tensors, batch 8", "tensors", 8, 0.001),
    Recipe("tensors, batch 128, lr 0.016", "tensors", 128, 0.016),
    Recipe("channels_last, batch 128, lr 0.016", "tensors", 128, 0.016, channels_last=True),
    Recipe("channels_last, batch 256, lr 0.04", "tensors", 256, 0.04, channels_last=True),
    Recipe("channels_last, bfloat16, batch 128, lr 0.016", "tensors", 128, 0.016, channels_last=True, bfloat16=True),
    Recipe("channels_last, bfloat16, batch 256, lr 0.04", "tensors", 256, 0.04, channels_last=True, bfloat16=True),
)


class BFloat16Forward(nn.Module):
    """``model`` with its forward pass under bfloat16 autocast, returning float32 logits.

    The backward pass runs outside autocast, as PyTorch recommends, in the
    precision each operation of the forward pass used; the weights stay float32.

    Examples
    --------
    >>> BFloat16Forward(models.MNISTModel())(torch.zeros(2, 1, 28, 28)).dtype
    torch.float32
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.model(x).float()


def _synchronise(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize()


def matmul_gflops(
    size: int = 2048, repeats: int = 5, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> float:
    """Billions of floating-point operations per second of a ``size`` x ``size`` matrix product in ``dtype``, best of ``repeats``.

    Raises
    ------
    ValueError
        If ``size`` or ``repeats`` is not positive.

    Examples
    --------
    >>> matmul_gflops(size=64, repeats=2) > 0
    True
    """
    if size < 1 or repeats < 1:
        raise ValueError(f"size={size}, repeats={repeats}: both must be positive, for example size=2048, repeats=5.")
    device = torch.device(device)
    a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
    a @ b  # warm-up: thread pool and, on a GPU, the kernel choice
    best = math.inf
    for _ in range(repeats):
        _synchronise(device)
        start = time.perf_counter()
        a @ b
        _synchronise(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def training_flops_per_image(model: nn.Module | None = None, input_shape: tuple[int, ...] = (1, 28, 28)) -> float:
    """Floating-point operations of one training step (forward, loss and backward) per image.

    Counted by PyTorch's :class:`~torch.utils.flop_counter.FlopCounterMode` on
    a batch of 16, and divided by 16. By default the practical's network.

    Examples
    --------
    >>> training_flops_per_image()  # conv1 576,000 + conv2 1,920,000 + the linear layers 99,000
    2595000.0
    """
    model = models.MNISTModel() if model is None else model
    X, y = torch.zeros(16, *input_shape), torch.zeros(16, dtype=torch.int64)
    counter = FlopCounterMode(display=False)
    with counter:
        nn.functional.cross_entropy(model(X), y).backward()
    model.zero_grad()
    return counter.get_total_flops() / 16


def _train_loader(recipe: Recipe, train_dataset: Dataset, seed: int, device: torch.device) -> DataLoader:
    if recipe.loader == "torchvision":
        # shuffle=True with the generator in the sampler, where tensor_loader has it too: the same order of images.
        sampler = RandomSampler(train_dataset, generator=torch.Generator().manual_seed(seed))
        return DataLoader(train_dataset, batch_size=recipe.batch_size, sampler=sampler)
    if recipe.loader == "tensors":
        X, y = (t.to(device) for t in loaders.dataset_to_tensors(train_dataset))
        if recipe.channels_last:
            X = X.contiguous(memory_format=torch.channels_last)
        return loaders.tensor_loader(X, y, recipe.batch_size, shuffle=True, seed=seed)
    raise ValueError(f"recipe.loader={recipe.loader!r} is not a loader: use 'torchvision' or 'tensors'.")


def _model(recipe: Recipe, device: torch.device) -> nn.Module:
    model = models.MNISTModel().to(device)
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return BFloat16Forward(model) if recipe.bfloat16 else model


def _model_and_optimizer(recipe: Recipe, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = _model(recipe, device)
    return model, torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)


def run_recipe(
    recipe: Recipe,
    train_dataset: Dataset,
    test_loader: DataLoader,
    num_images: int = 60_000,
    device: torch.device | str = "cpu",
    seed: int = 0,
    warm_up: bool = True,
) -> dict:
    """Train a fresh :class:`~cnnlab.models.MNISTModel` on ``num_images`` images with ``recipe``; time it and test it.

    The clock covers building the loader (the tensors, for the book's path)
    and every training step; unless ``warm_up`` is False, a few warm-up steps
    on a throw-away model run first so that one-off start-up costs are not
    counted (a repeat of a recipe already run needs none).

    Returns
    -------
    dict
        recipe, device, batch size, steps, images, seconds, seconds per 60,000 images, images per second, test accuracy.

    Raises
    ------
    ValueError
        If ``num_images`` is not positive or the recipe names no known loader.
    """
    if num_images < 1:
        raise ValueError(f"num_images={num_images} must be positive: use for example 60000 (one MNIST epoch).")
    device = torch.device(device)
    loss_fn = nn.CrossEntropyLoss()
    steps = math.ceil(num_images / recipe.batch_size)
    if warm_up:
        warm_model, warm_optimizer = _model_and_optimizer(recipe, device)
        warm_loader = _train_loader(recipe, train_dataset, seed, device)
        train.train_for_steps(warm_model, warm_loader, loss_fn, warm_optimizer, device, 10, progress=False)

    train.seed_everything(seed)
    model, optimizer = _model_and_optimizer(recipe, device)
    _synchronise(device)
    start = time.perf_counter()
    train_loader = _train_loader(recipe, train_dataset, seed, device)
    train.train_for_steps(model, train_loader, loss_fn, optimizer, device, steps, progress=False)
    _synchronise(device)
    seconds = time.perf_counter() - start
    # The last batch of each pass over a small set is partial: count the images the loader really handed over.
    images = images_seen(len(train_dataset), recipe.batch_size, steps)
    accuracy = train.evaluate(model, test_loader, loss_fn, device)["accuracy"]
    return {
        "recipe": recipe.name,
        "device": device.type,
        "batch size": recipe.batch_size,
        "steps": steps,
        "images": images,
        "seconds": seconds,
        "seconds per 60,000 images": seconds * 60_000 / images,
        "images per second": images / seconds,
        "test accuracy": accuracy,
    }


def run_benchmark(
    train_dataset: Dataset,
    test_dataset: Dataset,
    num_images: int = 60_000,
    devices: list[str] | None = None,
    recipes: tuple[Recipe, ...] = RECIPES,
    seed: int = 0,
    repeats: int = 1,
) -> pd.DataFrame:
    """Run every recipe on every device, with its speed-up over the first recipe and its distance from the floor.

    Parameters
    ----------
    train_dataset, test_dataset
        torchvision MNIST-style datasets (``ToTensor`` transform for the original practical's recipe).
    num_images : int
        Images per recipe, 60,000 for one full MNIST epoch.
    devices : list of str, optional
        By default the CPU, and the accelerator when there is one.
    recipes : tuple of Recipe
        The first is the baseline of the speed-ups. A device without bfloat16
        arithmetic skips the bfloat16 ones (:func:`recipes_for`).
    seed : int
        Seed of the weights and the shuffling, the same for every recipe.
    repeats : int, default 1
        How often each recipe is timed, the recipes taking turns; the table
        gives the median seconds. Every repeat trains from the same seed, so
        the test accuracy is the first repeat's; only the first warms up.

    Returns
    -------
    pandas.DataFrame
        One row per recipe and device, indexed by recipe: the columns of
        :func:`run_recipe` (``seconds`` the median), then ``repeats``,
        ``spread`` (the slowest repeat's seconds over the fastest's),
        ``speed-up`` (baseline seconds over these), ``floor precision``,
        ``floor seconds`` (the arithmetic alone per 60,000 images, at the speed
        of a large matrix product in the recipe's precision) and ``x floor``
        (seconds per 60,000 images over the floor).

    Raises
    ------
    ValueError
        If ``repeats`` is not a positive whole number.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats={repeats!r} must be a positive whole number, for example 3 (the median of three timings).")
    if devices is None:
        accelerator = torch.accelerator.current_accelerator(check_available=True)
        devices = ["cpu"] + ([accelerator.type] if accelerator is not None else [])
    flops = training_flops_per_image()
    rows = []
    for device in devices:
        X_test, y_test = (t.to(device) for t in loaders.dataset_to_tensors(test_dataset))
        test_loader = loaders.tensor_loader(X_test, y_test, batch_size=1000)
        kept, _ = recipes_for(device, recipes)
        floors = {"float32": flops * 60_000 / (matmul_gflops(device=device) * 1e9)}
        if any(r.bfloat16 for r in kept):
            floors["bfloat16"] = flops * 60_000 / (matmul_gflops(device=device, dtype=torch.bfloat16) * 1e9)
        runs = [[] for _ in kept]
        for repeat in range(repeats):
            for timings, recipe in zip(runs, kept):
                timings.append(run_recipe(recipe, train_dataset, test_loader, num_images, device, seed, warm_up=repeat == 0))
        device_rows = []
        for recipe, timings in zip(kept, runs):
            seconds = sorted(run["seconds"] for run in timings)
            median = float(pd.Series(seconds).median())
            row = dict(timings[0])
            row["seconds"] = median
            row["seconds per 60,000 images"] = median * 60_000 / row["images"]
            row["images per second"] = row["images"] / median
            row["repeats"] = repeats
            row["spread"] = seconds[-1] / seconds[0]
            row["floor precision"] = "bfloat16" if recipe.bfloat16 else "float32"
            device_rows.append(row)
        for row in device_rows:
            row["speed-up"] = device_rows[0]["seconds per 60,000 images"] / row["seconds per 60,000 images"]
            row["floor seconds"] = floors[row["floor precision"]]
            row["x floor"] = row["seconds per 60,000 images"] / row["floor seconds"]
        rows += device_rows
    return pd.DataFrame(rows).set_index("recipe")


def bfloat16_problem(device: torch.device | str = "cpu", capability: str | None = None) -> str | None:
    """Why ``device`` has no bfloat16 arithmetic worth using, or None when it has.

    On a CPU, bfloat16 pays only with the AVX-512 BF16 or AMX instructions,
    and only where PyTorch's kernels may use AVX-512 (its CPU capability,
    ``torch.backends.cpu.get_cpu_capability()``, which ``ATEN_CPU_CAPABILITY``
    can lower); elsewhere bfloat16 operations are emulated, slower than
    float32. A CUDA GPU needs compute capability 8 (Ampere) or later.

    Parameters
    ----------
    capability : str, optional
        PyTorch's CPU capability, such as ``"AVX2"`` or ``"AVX512"``; by default this process's.

    Examples
    --------
    >>> bfloat16_problem("cpu", capability="AVX2").split(",")[0]
    "PyTorch's CPU kernels here use AVX2"
    """
    device = torch.device(device)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return None
        return f"{torch.cuda.get_device_name(device)} has no bfloat16 arithmetic (it needs compute capability 8 or later)"
    if device.type != "cpu":
        return None
    capability = capability or torch.backends.cpu.get_cpu_capability()
    if not capability.upper().startswith("AVX512"):
        return (
            f"PyTorch's CPU kernels here use {capability}, without bfloat16 instructions, so bfloat16 operations "
            "would be emulated, slower than float32"
        )
    if not any(getattr(torch.cpu, check, lambda: False)() for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")):
        return (
            "this processor has neither the AVX-512 BF16 nor the AMX instructions, so bfloat16 operations "
            "would be emulated, slower than float32"
        )
    return None


def recipes_for(
    device: torch.device | str = "cpu", recipes: tuple[Recipe, ...] = RECIPES
) -> tuple[tuple[Recipe, ...], dict[str, str]]:
    """The recipes worth timing on ``device``, and those left out with the reason.

    Examples
    --------
    >>> kept, skipped = recipes_for("cpu")
    >>> all(not recipe.bfloat16 for recipe in kept) == bool(skipped)
    True
    """
    problem = bfloat16_problem(device)
    if problem is None:
        return recipes, {}
    return tuple(r for r in recipes if not r.bfloat16), {r.name: problem for r in recipes if r.bfloat16}


# Where PyTorch's profiler puts each operation's own time, by the operation's name: an "aten::" key names one
# operation exactly, any other key is a part of the name (the first match wins).
_OPERATION_GROUPS = (
    ("convolutions, backward", ("convolution_backward",)),
    ("convolutions, forward", ("convolution",)),
    ("max-pooling, backward", ("max_pool2d_with_indices_backward",)),
    ("max-pooling, forward", ("max_pool2d",)),
    ("filling gradients with zeros", ("fill_", "zero_")),
    ("linear layers", ("aten::mm", "aten::addmm", "aten::t", "aten::sum")),
    ("ReLU", ("relu", "clamp_min", "threshold_backward")),
    ("loss", ("log_softmax", "nll_loss")),
    ("optimiser", ("Optimizer.", "aten::add_", "aten::mul_", "_foreach")),
    ("loading batches", ("DataLoader", "aten::index", "aten::stack")),
)


def _operation_group(name: str) -> str:
    """The group of the profiler's operation ``name``.

    Examples
    --------
    >>> [_operation_group(name) for name in ("aten::t", "aten::threshold_backward", "aten::to", "aten::mkldnn_convolution")]
    ['linear layers', 'ReLU', 'other', 'convolutions, forward']
    """

    def matches(key: str) -> bool:
        return name == key if key.startswith("aten::") else key in name

    return next((group for group, keys in _OPERATION_GROUPS if any(matches(key) for key in keys)), "other")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Within the block, the process's standard error goes nowhere: the profiler's C++ library logs its start and stop there."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def profile_recipe(
    recipe: Recipe, train_dataset: Dataset, num_steps: int = 20, device: torch.device | str = "cpu", seed: int = 0
) -> pd.DataFrame:
    """Where a recipe's training time goes: PyTorch's profiler over ``num_steps`` steps, grouped by kind of operation.

    Each operation's own time (its *self* time, without the operations it
    calls) is put in one group: the convolutions forward and backward, the
    max-pooling forward and backward, zero-filling, the linear layers, ReLU,
    the loss, the optimiser and loading batches.

    Returns
    -------
    pandas.DataFrame
        Indexed by group, largest first: ``milliseconds per step`` and ``share`` (of the total).
    """
    from torch.profiler import ProfilerActivity, profile

    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps={num_steps!r} must be a positive whole number, for example 20.")
    device = torch.device(device)
    train.seed_everything(seed)
    model, optimizer = _model_and_optimizer(recipe, device)
    loader = _train_loader(recipe, train_dataset, seed, device)
    loss_fn = nn.CrossEntropyLoss()
    train.train_for_steps(model, loader, loss_fn, optimizer, device, 5, progress=False)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with _native_stderr_silenced(), profile(activities=activities) as profiler:
        train.train_for_steps(model, loader, loss_fn, optimizer, device, num_steps, progress=False)
    times: dict[str, float] = {}
    for event in profiler.key_averages():
        group = _operation_group(event.key)
        times[group] = times.get(group, 0.0) + event.self_cpu_time_total / 1000 / num_steps
    table = pd.Series(times, name="milliseconds per step").sort_values(ascending=False).to_frame()
    table["share"] = table["milliseconds per step"] / table["milliseconds per step"].sum()
    return table.rename_axis("operations")


def undetectable_drop(accuracy: float, test_images: int, z: float = 1.96) -> float:
    """How far apart two runs' test accuracies can lie by chance alone: ``z`` standard errors of their difference.

    Each run's accuracy on ``test_images`` images has a binomial standard error
    ``sqrt(p (1 - p) / n)``; the difference of two independent runs has
    ``sqrt(2)`` times that. Two models scored on the *same* test images err on
    many of the same ones, which makes the difference less noisy than this, so
    the bound is a cautious one. A drop smaller than it cannot be told from
    noise; a larger one can.

    Raises
    ------
    ValueError
        If ``accuracy`` is not between 0 and 1 or ``test_images`` is not positive.

    Examples
    --------
    >>> round(undetectable_drop(0.96, 1_000), 4)  # 1,000 test images: 1.7 points
    0.0172
    >>> round(undetectable_drop(0.96, 10_000), 4)  # the full MNIST test set: 0.5 points
    0.0054
    """
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy={accuracy!r} must lie between 0 and 1, for example 0.96.")
    if isinstance(test_images, bool) or not isinstance(test_images, int) or test_images < 1:
        raise ValueError(f"test_images={test_images!r} must be a positive whole number, for example 1000.")
    return z * math.sqrt(2 * accuracy * (1 - accuracy) / test_images)


def fast_recipe(table: pd.DataFrame, tolerance: float = 0.005, accuracy: pd.Series | None = None) -> str:
    """The fastest recipe of a :func:`run_benchmark` table within ``tolerance`` of the first recipe's test accuracy.

    Where the table has a ``spread`` column (timed with repeats), recipes tied
    with the fastest by :func:`tied_with_fastest` count as equally fast, and
    the most accurate of them wins, then the one with the smaller batch.

    Parameters
    ----------
    table : pandas.DataFrame
        One device's rows of :func:`run_benchmark`, the original recipe first.
    tolerance : float, default 0.005
        How far below the original's accuracy a recipe may be (half a point).
    accuracy : pandas.Series, optional
        The test accuracy of each recipe from another run, by recipe name, such
        as the recorded full run: a short run times the recipes well but trains
        them too little to compare their accuracy. A recipe it does not name
        cannot be chosen.

    Raises
    ------
    ValueError
        If the table holds more than one device (pick one first), ``tolerance`` is negative, or
        ``accuracy`` does not name the table's first recipe.

    Examples
    --------
    >>> table = pd.DataFrame({"device": "cpu", "seconds per 60,000 images": [9.0, 2.0, 3.0],
    ...                       "test accuracy": [0.96, 0.94, 0.958]}, index=["original", "b", "c"])
    >>> fast_recipe(table)
    'c'
    >>> fast_recipe(table, accuracy=pd.Series({"original": 0.96, "b": 0.958, "c": 0.958}))
    'b'
    """
    if table["device"].nunique() != 1:
        raise ValueError(f"the table holds devices {sorted(table['device'].unique())}: pass one, table[table.device == 'cpu'].")
    if tolerance < 0:
        raise ValueError(f"tolerance={tolerance} must be 0 or more, for example 0.005 (half a point of accuracy).")
    if accuracy is None:
        accuracy = table["test accuracy"]
    elif table.index[0] not in accuracy.index:
        raise ValueError(
            f"accuracy does not name the original recipe {table.index[0]!r}: pass the accuracies of the same recipes."
        )
    good = accuracy.reindex(table.index) >= accuracy[table.index[0]] - tolerance - 1e-12
    candidates = table.loc[good]
    if "spread" not in candidates:
        return str(candidates["seconds per 60,000 images"].idxmin())
    tied = tied_with_fastest(candidates)

    def rank(name: str) -> tuple[float, int]:
        return -float(accuracy[name]), int(table.loc[name, "batch size"]) if "batch size" in table else 0

    ranked = sorted(tied, key=rank)
    return str(ranked[0])


def tied_with_fastest(table: pd.DataFrame) -> list[str]:
    """The recipes whose median time cannot be told from the fastest's, given the spread of their timings.

    Two recipes are tied when the slower median lies within the spread (the
    slowest repeat over the fastest) of either of the two. :func:`fast_recipe`
    breaks such ties by the higher test accuracy, then by the smaller batch.

    Raises
    ------
    ValueError
        If the table lacks a ``spread`` or ``seconds per 60,000 images`` column.

    Examples
    --------
    >>> table = pd.DataFrame({"seconds per 60,000 images": [3.75, 3.754, 5.0], "spread": [1.22, 1.13, 1.01]},
    ...                      index=["a", "b", "c"])
    >>> tied_with_fastest(table)
    ['a', 'b']
    """
    missing = {"spread", "seconds per 60,000 images"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the column(s) {sorted(missing)}: pass a run_benchmark table timed with repeats > 1.")
    seconds = table["seconds per 60,000 images"]
    fastest = seconds.idxmin()
    ratio = seconds / seconds[fastest]
    reach = table["spread"].clip(lower=1.0).combine(float(table.loc[fastest, "spread"]), max)
    return [str(name) for name in table.index[(ratio <= reach + 1e-12).to_numpy()]]


def images_seen(dataset_size: int, batch_size: int, steps: int) -> int:
    """How many images ``steps`` batches of a loader that keeps each pass's last, partial batch hand over.

    Examples
    --------
    >>> images_seen(4_000, 128, 469)  # 31 full batches and one of 32 per pass
    58688
    >>> images_seen(4_000, 8, 7_500)
    60000
    """
    for name, value in {"dataset_size": dataset_size, "batch_size": batch_size, "steps": steps}.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "steps" else 1):
            raise ValueError(f"{name}={value!r} must be a positive whole number, for example 4000, 128 or 469.")
    per_pass = math.ceil(dataset_size / batch_size)
    passes, rest = divmod(steps, per_pass)
    return passes * dataset_size + min(rest * batch_size, dataset_size)


def cpu_flags_summary(cpuinfo: str | None = None) -> dict:
    r"""The processor's name, PyTorch's CPU kernel level and its bfloat16 instructions, read from ``/proc/cpuinfo``.

    Returns ``{"cpu": name, "cpu_capability": ..., "amx_bf16": bool, "avx512_bf16": bool}``;
    the flags are False where ``/proc/cpuinfo`` is missing (not Linux).

    Examples
    --------
    >>> info = "model name\t: Some Xeon\nflags\t\t: fpu avx512_bf16 amx_bf16 amx_tile\n"
    >>> summary = cpu_flags_summary(info)
    >>> summary["cpu"], summary["amx_bf16"], summary["avx512_bf16"]
    ('Some Xeon', True, True)
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            cpuinfo = ""
    name, flags = "unknown processor", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "unknown processor":
            name = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {
        "cpu": name,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "amx_bf16": "amx_bf16" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
    }


def recounted(record: dict) -> pd.DataFrame:
    """A recorded run's recipe rows, indexed by recipe, with the per-image figures counted on the images really seen.

    Records made before :func:`run_recipe` counted partial batches took
    every step as a full batch (``steps x batch size``), which overstates the
    images of a pass that ends in a partial batch and so understates the
    seconds per 60,000 images. Their ``train_images`` field (the training set's
    size) lets :func:`images_seen` recount them from the stored steps and
    seconds; nothing is re-measured. Speed-up and ratio to the reference are
    recomputed from the recounted times.

    Examples
    --------
    >>> record = {"train_images": 4_000, "recipes": [
    ...     {"recipe": "a", "batch size": 8, "steps": 7_500, "images": 60_000, "seconds": 30.0, "floor seconds": 1.0},
    ...     {"recipe": "b", "batch size": 128, "steps": 469, "images": 60_032, "seconds": 6.0, "floor seconds": 1.0}]}
    >>> table = recounted(record)
    >>> int(table.loc["b", "images"]), round(float(table.loc["b", "seconds per 60,000 images"]), 3)
    (58688, 6.134)
    """
    table = pd.DataFrame(record["recipes"]).set_index("recipe")
    if "train_images" not in record:
        return table
    table["images"] = [
        images_seen(int(record["train_images"]), int(batch), int(steps))
        for batch, steps in zip(table["batch size"], table["steps"])
    ]
    table["seconds per 60,000 images"] = table["seconds"] * 60_000 / table["images"]
    table["images per second"] = table["images"] / table["seconds"]
    table["speed-up"] = table["seconds per 60,000 images"].iloc[0] / table["seconds per 60,000 images"]
    if "floor seconds" in table:
        table["x floor"] = table["seconds per 60,000 images"] / table["floor seconds"]
    return table


def recorded_measurements() -> list[dict]:
    """The full benchmark runs recorded with the package (``benchmarks/training_speed.py --json``), oldest first.

    Each record names its date, machine, data, threads and thread setting, and
    holds the recipe rows and, where measured, the rows beside a busy process.

    Examples
    --------
    >>> all({"date", "cpu", "recipes"} <= set(record) for record in recorded_measurements())
    True
    """
    folder = resources.files("cnnlab") / "measurements"
    records = [json.loads(path.read_text(encoding="utf-8")) for path in folder.iterdir() if path.name.endswith(".json")]
    # The folder holds other chapters' records too (tissue-seeds.json): a benchmark record has recipe rows.
    return sorted((record for record in records if "recipes" in record), key=lambda record: record["date"])
