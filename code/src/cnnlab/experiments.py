"""Train several models the same way, on several seeds, and say which differences exceed the noise.

A single training run is one draw: another seed gives other initial weights
and another order of batches, and so another test accuracy. An honest
ablation trains every variant on the same few seeds (:func:`compare_models`),
reports each variant's mean and spread (:func:`summarise`), and calls a
difference real only when it is larger than that spread
(:func:`against_baseline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import pandas as pd
import torch
import torch.nn as nn

from . import arguments, loaders, models, train

__all__ = ["against_baseline", "compare_models", "summarise"]


def compare_models(
    factories: dict[str, Callable[[], nn.Module]],
    train_loader: Iterable,
    test_loader: Iterable,
    num_steps: int,
    lr: float = 0.001,
    momentum: float = 0.9,
    seeds: Sequence[int] = (0,),
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Train each model from each seed for ``num_steps`` steps and test it.

    For a given seed every model starts from the same random state and sees
    the same batches in the same order (a :func:`cnnlab.loaders.tensor_loader`
    is reseeded before each run), with the same optimiser settings.

    Parameters
    ----------
    factories : dict
        Name -> function that returns a fresh model.
    train_loader : torch.utils.data.DataLoader
        Training batches ``(X, y)``, from :func:`cnnlab.loaders.tensor_loader`.
    test_loader
        Test batches ``(X, y)``.
    num_steps : int
        Optimisation steps per run.
    lr, momentum : float
        SGD settings.
    seeds : sequence of int, default (0,)
        Seeds of the weights and of the shuffling; every model is trained once per seed.
    device : torch.device or str
    progress : bool
        Show a progress bar per run.

    Returns
    -------
    pandas.DataFrame
        One row per run: model, seed, parameters, training seconds, test loss and test accuracy.

    Raises
    ------
    ValueError
        If ``factories`` or ``seeds`` is empty, or a seed repeats.
    """
    if not factories:
        raise ValueError("factories is empty: pass at least one {name: function returning a model}.")
    if isinstance(seeds, (int, str)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds={seeds!r} must be a list of seeds, for example seeds=(0, 1, 2).")
    seeds = [arguments.whole_number("seed", seed, minimum=0) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds} must hold at least one seed, each once: pass for example seeds=(0, 1, 2).")
    num_steps = arguments.whole_number("num_steps", num_steps)
    rows = []
    loss_fn = nn.CrossEntropyLoss()
    for name, factory in factories.items():
        for seed in seeds:
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
                    "seed": seed,
                    "parameters": models.count_parameters(model),
                    "training seconds": round(seconds, 2),
                    "test loss": round(scores["loss"], 4),
                    "test accuracy": round(scores["accuracy"], 4),
                }
            )
    return pd.DataFrame(rows)


def _check_runs(runs: pd.DataFrame) -> None:
    needed = {"model", "seed", "test accuracy"}
    if not isinstance(runs, pd.DataFrame) or not needed <= set(runs.columns):
        raise TypeError(f"runs must be the table that compare_models returns, with columns {sorted(needed)}.")
    if runs.empty:
        raise ValueError("runs is empty: train at least one model with compare_models first.")


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Each model's mean test accuracy over its seeds, with the spread.

    Parameters
    ----------
    runs : pandas.DataFrame
        The table of :func:`compare_models`.

    Returns
    -------
    pandas.DataFrame
        One row per model, in the order of ``runs``: parameters, seeds, mean
        training seconds, and the mean, standard deviation, lowest and
        highest test accuracy.

    Examples
    --------
    >>> runs = pd.DataFrame({"model": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "parameters": 10,
    ...                      "training seconds": 1.0, "test accuracy": [0.90, 0.92, 0.95, 0.97]})
    >>> summarise(runs)[["mean accuracy", "lowest", "highest"]]
           mean accuracy  lowest  highest
    model
    a               0.91    0.90     0.92
    b               0.96    0.95     0.97
    """
    _check_runs(runs)
    grouped = runs.groupby("model", sort=False)
    accuracy = grouped["test accuracy"]
    return pd.DataFrame(
        {
            "parameters": grouped["parameters"].first(),
            "seeds": grouped["seed"].count(),
            "training seconds": grouped["training seconds"].mean().round(2),
            "mean accuracy": accuracy.mean().round(4),
            "std": accuracy.std(ddof=1).fillna(0.0).round(4),
            "lowest": accuracy.min(),
            "highest": accuracy.max(),
        }
    )


def against_baseline(runs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """How far each model's accuracy lies from the baseline's, and whether that exceeds the seed-to-seed noise.

    A difference counts as beyond the noise only when the two ranges of
    accuracies over the seeds do not overlap: every run of the model beat (or
    lost to) every run of the baseline. With a few seeds that is a sign worth
    following up, not a proof.

    Parameters
    ----------
    runs : pandas.DataFrame
        The table of :func:`compare_models`.
    baseline : str
        The model the others are compared with.

    Returns
    -------
    pandas.DataFrame
        One row per other model: the difference of mean accuracies in
        percentage points, the spread (highest minus lowest accuracy, in
        points) of the model and of the baseline, and ``beyond noise``.

    Raises
    ------
    ValueError
        If ``baseline`` is not one of the models.

    Examples
    --------
    >>> runs = pd.DataFrame({"model": ["a", "a", "b", "b", "c", "c"], "seed": [0, 1] * 3, "parameters": 10,
    ...                      "training seconds": 1.0, "test accuracy": [0.90, 0.92, 0.95, 0.97, 0.91, 0.94]})
    >>> against_baseline(runs, "a")[["difference (points)", "beyond noise"]]
           difference (points)  beyond noise
    model
    b                      5.0          True
    c                      1.5         False
    """
    summary = summarise(runs)
    if baseline not in summary.index:
        raise ValueError(f"baseline={baseline!r} is not among the models {list(summary.index)}: pass one of them.")
    base = summary.loc[baseline]
    others = summary.drop(index=baseline)
    overlap = (others["lowest"] <= base["highest"]) & (others["highest"] >= base["lowest"])
    return pd.DataFrame(
        {
            "difference (points)": ((others["mean accuracy"] - base["mean accuracy"]) * 100).round(2),
            "spread (points)": ((others["highest"] - others["lowest"]) * 100).round(2),
            "baseline spread (points)": round((base["highest"] - base["lowest"]) * 100, 2),
            "beyond noise": ~overlap,
        }
    )
