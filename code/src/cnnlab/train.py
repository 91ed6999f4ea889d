"""Training and evaluation loops in the style of pytorch/examples."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from .environment import TRAINING_STEPS, setting

__all__ = [
    "get_device",
    "seed_everything",
    "training_steps",
    "train_one_epoch",
    "train_for_steps",
    "predict",
    "evaluate",
]

# Set by the instructors' grader, so that a submission trains in seconds; students never set it.


def get_device() -> torch.device:
    """The accelerator PyTorch can use (CUDA, Apple's MPS, Intel's XPU, ...), else the CPU.

    Examples
    --------
    >>> get_device().type in {"cpu", "cuda", "mps", "xpu"}
    True
    """
    return torch.accelerator.current_accelerator(check_available=True) or torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a seeded generator for data shuffling.

    Examples
    --------
    >>> g = seed_everything(0); a = torch.rand(1); g = seed_everything(0); bool(a == torch.rand(1))
    True
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def training_steps(default: int, environ: dict[str, str] | None = None) -> int:
    """How many optimisation steps to train for: ``default``, unless the grader asks for fewer.

    The grader (``booktools.grading.grade``) sets ``CNNLAB_TRAINING_STEPS`` so that
    grading a submission takes seconds; a smaller value never makes training
    longer than ``default``.

    Raises
    ------
    ValueError
        If ``default`` is not a positive whole number, or the variable is set
        to something other than one.

    Examples
    --------
    >>> training_steps(7500, {})
    7500
    >>> training_steps(7500, {"CNNLAB_TRAINING_STEPS": "400"})
    400
    """
    _check_steps("default", default)
    value = setting(TRAINING_STEPS, environ)
    if value is None:
        return default
    try:
        steps = int(value)
    except ValueError:
        steps = 0
    if steps < 1:
        raise ValueError(f"{TRAINING_STEPS}={value!r} must be a positive whole number of steps: unset it, or set one.")
    return min(steps, default)


def _check_steps(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name}={value!r} must be a positive whole number (or None for no limit).")


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    max_steps: int | None = None,
    progress: bool = True,
) -> list[float]:
    """One pass over ``loader`` (or its first ``max_steps`` batches); return each step's loss.

    Raises
    ------
    ValueError
        If ``max_steps`` is not a positive whole number.
    """
    _check_steps("max_steps", max_steps)
    model.train()
    losses = []
    total = len(loader) if max_steps is None else min(max_steps, len(loader))
    for step, (X, y) in enumerate(tqdm(loader, total=total, disable=not progress, leave=False)):
        if max_steps is not None and step >= max_steps:
            break
        X, y = X.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def train_for_steps(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    num_steps: int,
    progress: bool = True,
) -> list[float]:
    """Train for exactly ``num_steps`` optimisation steps, passing over ``loader`` as often as needed.

    One epoch of the full MNIST at batch size 8 is 7,500 steps; on a smaller
    training set this repeats the data until the same number of steps is done.

    Raises
    ------
    ValueError
        If ``num_steps`` is not a positive whole number or the loader is empty.
    """
    _check_steps("num_steps", num_steps)
    if len(loader) == 0:
        raise ValueError("loader yields no batches: check the dataset and batch_size.")
    losses: list[float] = []
    with tqdm(total=num_steps, disable=not progress, desc="training") as bar:
        while len(losses) < num_steps:
            new = train_one_epoch(model, loader, loss_fn, optimizer, device, num_steps - len(losses), progress=False)
            losses += new
            bar.update(len(new))
    return losses


def predict(model: nn.Module, loader: Iterable, device: torch.device | str) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels for every example in ``loader``, in order.

    Returns
    -------
    (y_true, y_pred) : numpy.ndarray
    """
    model.eval()
    y_true, y_pred = [], []
    with torch.no_grad():
        for X, y in loader:
            logits = model(X.to(device))
            y_pred.append(logits.argmax(dim=1).cpu())
            y_true.append(y.cpu())
    return torch.cat(y_true).numpy(), torch.cat(y_pred).numpy()


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: torch.device | str) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over every example in ``loader``."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            logits = model(X)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            count += len(y)
    if count == 0:
        raise ValueError("loader yields no examples: check the dataset.")
    return {"loss": total_loss / count, "accuracy": correct / count}
