"""Side-by-side timing of MNIST training recipes on the same data, model, seed and images.

Three recipes train :class:`cnnlab.models.MNISTModel` on the same number of
images (one full MNIST epoch, 60,000, by default, cycling a smaller set):

* ``the original practical``: torchvision's ``ToTensor`` dataset in a ``DataLoader``,
  batch 8, as the original practical does;
* ``tensors, batch 8``: the book's path, tensors built once and batched by
  :func:`cnnlab.loaders.tensor_loader`, with the same batch and learning rate;
* ``tensors, batch 128``: the same path with 16 times larger batches and a
  learning rate scaled up with them (0.001 x 16, the linear scaling rule).

All run in one process, one after the other, so they share the machine's
state; the script ``benchmarks/training_speed.py`` prints the table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from . import loaders, models, train

__all__ = ["Recipe", "RECIPES", "run_recipe", "run_benchmark", "format_table"]


@dataclass(frozen=True)
class Recipe:
    """One way to train: which loader, which batch size, which learning rate."""

    name: str
    loader: str  # "torchvision" or "tensors"
    batch_size: int
    lr: float
    momentum: float = 0.9


RECIPES = (
    Recipe("original practical (ToTensor DataLoader), batch 8", "torchvision", 8, 0.001),
    Recipe("tensors, batch 8", "tensors", 8, 0.001),
    Recipe("tensors, batch 128, lr 0.016", "tensors", 128, 0.016),
)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_loader(recipe: Recipe, train_dataset: Dataset, seed: int, device: torch.device) -> DataLoader:
    if recipe.loader == "torchvision":
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(train_dataset, batch_size=recipe.batch_size, shuffle=True, generator=generator)
    if recipe.loader == "tensors":
        X, y = (t.to(device) for t in loaders.dataset_to_tensors(train_dataset))
        return loaders.tensor_loader(X, y, recipe.batch_size, shuffle=True, seed=seed)
    raise ValueError(f"recipe.loader={recipe.loader!r} is not a loader: use 'torchvision' or 'tensors'.")


def run_recipe(
    recipe: Recipe,
    train_dataset: Dataset,
    test_loader: DataLoader,
    num_images: int = 60_000,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> dict:
    """Train a fresh :class:`~cnnlab.models.MNISTModel` on ``num_images`` images with ``recipe``; time it and test it.

    The clock covers building the loader (the tensors, for the book's path)
    and every training step; a few warm-up steps on a throw-away model run
    first so that one-off start-up costs are not counted.

    Returns
    -------
    dict
        recipe, device, batch size, steps, seconds, images per second, test accuracy.

    Raises
    ------
    ValueError
        If ``num_images`` is not positive.
    """
    if num_images < 1:
        raise ValueError(f"num_images={num_images} must be positive: use for example 60000 (one MNIST epoch).")
    device = torch.device(device)
    loss_fn = nn.CrossEntropyLoss()
    steps = math.ceil(num_images / recipe.batch_size)
    warm_model = models.MNISTModel().to(device)
    warm_loader = _train_loader(recipe, train_dataset, seed, device)
    warm_optimizer = torch.optim.SGD(warm_model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
    train.train_for_steps(warm_model, warm_loader, loss_fn, warm_optimizer, device, 10, progress=False)

    train.seed_everything(seed)
    model = models.MNISTModel().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
    _synchronise(device)
    start = time.perf_counter()
    train_loader = _train_loader(recipe, train_dataset, seed, device)
    train.train_for_steps(model, train_loader, loss_fn, optimizer, device, steps, progress=False)
    _synchronise(device)
    seconds = time.perf_counter() - start
    accuracy = train.evaluate(model, test_loader, loss_fn, device)["accuracy"]
    return {
        "recipe": recipe.name,
        "device": device.type,
        "batch size": recipe.batch_size,
        "steps": steps,
        "images": steps * recipe.batch_size,
        "seconds": seconds,
        "seconds per 60,000 images": seconds * 60_000 / (steps * recipe.batch_size),
        "images per second": steps * recipe.batch_size / seconds,
        "test accuracy": accuracy,
    }


def run_benchmark(
    train_dataset: Dataset,
    test_dataset: Dataset,
    num_images: int = 60_000,
    devices: list[str] | None = None,
    recipes: tuple[Recipe, ...] = RECIPES,
    seed: int = 0,
) -> list[dict]:
    """Run every recipe on every device; add each row's speed-up over the first recipe on that device.

    Parameters
    ----------
    train_dataset, test_dataset
        torchvision MNIST-style datasets (``ToTensor`` transform for the original practical's recipe).
    num_images : int
        Images per recipe, 60,000 for one full MNIST epoch.
    devices : list of str, optional
        By default the CPU, and CUDA when it is available.
    """
    if devices is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        X_test, y_test = (t.to(device) for t in loaders.dataset_to_tensors(test_dataset))
        test_loader = loaders.tensor_loader(X_test, y_test, batch_size=1000)
        device_rows = [run_recipe(r, train_dataset, test_loader, num_images, device, seed) for r in recipes]
        for row in device_rows:
            row["speed-up"] = device_rows[0]["seconds per 60,000 images"] / row["seconds per 60,000 images"]
        rows += device_rows
    return rows


def format_table(rows: list[dict]) -> str:
    """The benchmark rows as a plain-text table.

    Examples
    --------
    >>> print(format_table([{"recipe": "r", "device": "cpu", "batch size": 8, "seconds per 60,000 images": 2.0,
    ...                      "images per second": 30000.0, "test accuracy": 0.9, "speed-up": 1.0}]))
    recipe  device  batch  s / 60k images  images / s  test accuracy  speed-up
    r       cpu         8             2.0      30,000         90.00%     1.00x
    """
    header = ["recipe", "device", "batch", "s / 60k images", "images / s", "test accuracy", "speed-up"]
    body = [
        [
            row["recipe"],
            row["device"],
            str(row["batch size"]),
            f"{row['seconds per 60,000 images']:.1f}",
            f"{row['images per second']:,.0f}",
            f"{row['test accuracy']:.2%}",
            f"{row['speed-up']:.2f}x",
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for line in [header, *body]:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
