"""Train several models the same way and tabulate the results: a small, honest ablation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import pandas as pd
import torch
import torch.nn as nn

from . import loaders, models, train

__all__ = ["compare_models"]


def compare_models(
    factories: dict[str, Callable[[], nn.Module]],
    train_loader: Iterable,
    test_loader: Iterable,
    num_steps: int,
    lr: float = 0.001,
    momentum: float = 0.9,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Train each model from the same seed for ``num_steps`` steps and test it.

    Every model sees the same batches in the same order (a
    :func:`cnnlab.loaders.tensor_loader` is reseeded before each run), with the
    same optimiser settings.

    Parameters
    ----------
    factories : dict
        Name -> function that returns a fresh model.
    train_loader : torch.utils.data.DataLoader
        Training batches ``(X, y)``, from :func:`cnnlab.loaders.tensor_loader`.
    test_loader
        Test batches ``(X, y)``.
    num_steps : int
        Optimisation steps per model.
    lr, momentum : float
        SGD settings.
    seed : int
        Seed of the weights and of the shuffling, the same for every model.
    device : torch.device or str
    progress : bool
        Show a progress bar per model.

    Returns
    -------
    pandas.DataFrame
        One row per model: parameters, training seconds, test loss and test accuracy.

    Raises
    ------
    ValueError
        If ``factories`` is empty.
    """
    if not factories:
        raise ValueError("factories is empty: pass at least one {name: function returning a model}.")
    rows = []
    loss_fn = nn.CrossEntropyLoss()
    for name, factory in factories.items():
        train.seed_everything(seed)
        loaders.reseed(train_loader, seed)
        model = factory().to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        start = time.perf_counter()
        train.train_for_steps(model, train_loader, loss_fn, optimizer, device, num_steps, progress=progress)
        seconds = time.perf_counter() - start
        scores = train.evaluate(model, test_loader, loss_fn, device)
        rows.append(
            {
                "model": name,
                "parameters": models.count_parameters(model),
                "training seconds": round(seconds, 1),
                "test loss": round(scores["loss"], 4),
                "test accuracy": round(scores["accuracy"], 4),
            }
        )
    return pd.DataFrame(rows).set_index("model")
