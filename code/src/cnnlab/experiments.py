"""Train several models the same way, on several seeds, and say which differences exceed the noise.

A single training run is one draw: another seed gives other initial weights
and another order of batches, and so another test accuracy. An honest
ablation trains every variant on the same few seeds (:func:`compare_models`),
reports each variant's mean and spread (:func:`summarise`), compares each
variant with a baseline seed by seed, with a paired test
(:func:`against_baseline`), and words the verdict from that test alone
(:func:`verdicts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import pandas as pd
import torch
import torch.nn as nn

from . import arguments, loaders, models, train

__all__ = ["against_baseline", "compare_models", "summarise", "verdicts"]


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
    channels_last: bool = False,
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
    channels_last : bool, default False
        Store every model's weights in the ``channels_last`` memory format,
        which its convolutions pass on to their outputs: the same network and
        maths, summed in another order. On the book's 2-core Xeon one step of
        :class:`cnnlab.models.SequentialCNN` at batch 128 took 11 ms instead of
        18, most of the gain in max-pooling; the chapter on speed times it
        on the machine that builds the book.

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
    if not isinstance(channels_last, bool):
        raise TypeError(f"channels_last={channels_last!r} must be True or False.")
    memory_format = torch.channels_last if channels_last else torch.preserve_format
    rows = []
    loss_fn = nn.CrossEntropyLoss()
    for name, factory in factories.items():
        for seed in seeds:
            train.seed_everything(seed)
            loaders.reseed(train_loader, seed)
            model = factory().to(device, memory_format=memory_format)
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


def against_baseline(runs: pd.DataFrame, baseline: str, level: float = 0.05) -> pd.DataFrame:
    """Each model against the baseline, paired by seed, with a test of whether the difference exceeds the noise.

    Within one seed two models start from the same random state and see the
    same batches, so the difference of their test accuracies on that seed is
    one paired measurement. Over the seeds these differences give a mean, a
    t-interval and a paired t-test (which assumes them roughly normal: with a
    few seeds that cannot be checked). Several models are compared at once,
    so each comparison is held to Bonferroni's share of ``level``: with ``m``
    models, its p-value is multiplied by ``m`` and its interval covers
    ``1 - level / m``. ``beyond noise`` holds when that adjusted p is at most
    ``level``, which is exactly when the interval leaves out 0. The test is
    about this test set: the seeds vary the training, not the test images.

    Parameters
    ----------
    runs : pandas.DataFrame
        The table of :func:`compare_models`.
    baseline : str
        The model the others are compared with.
    level : float, default 0.05
        Significance level of the whole family of comparisons.

    Returns
    -------
    pandas.DataFrame
        One row per other model: the seeds it shares with the baseline, the
        mean paired difference of test accuracy in percentage points, its
        interval (``low``, ``high``) and that interval's ``coverage``, the
        paired t-test's p, the adjusted p, and ``beyond noise``.

    Raises
    ------
    ValueError
        If ``baseline`` is not one of the models, a model shares fewer than
        two seeds with it, or ``level`` is not strictly between 0 and 1.

    Examples
    --------
    >>> runs = pd.DataFrame({"model": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "seed": [0, 1, 2] * 3,
    ...                      "parameters": 10, "training seconds": 1.0,
    ...                      "test accuracy": [0.90, 0.92, 0.91, 0.95, 0.97, 0.96, 0.91, 0.92, 0.93]})
    >>> against_baseline(runs, "a")[["difference (points)", "coverage", "p (Bonferroni)", "beyond noise"]]
           difference (points)  coverage  p (Bonferroni)  beyond noise
    model
    b                      5.0     0.975          0.0000          True
    c                      1.0     0.975          0.4508         False
    """
    from scipy import stats  # here, not at the top: the chapters that only train need not import it

    _check_runs(runs)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level={level!r} must lie strictly between 0 and 1: pass for example 0.05.")
    by_seed = runs.pivot_table(index="seed", columns="model", values="test accuracy", sort=False)
    models_in_order = list(dict.fromkeys(runs["model"]))
    if baseline not in models_in_order:
        raise ValueError(f"baseline={baseline!r} is not among the models {models_in_order}: pass one of them.")
    others = [name for name in models_in_order if name != baseline]
    each = level / max(len(others), 1)  # Bonferroni: each comparison's share of the level
    rows = {}
    for name in others:
        differences = ((by_seed[name] - by_seed[baseline]) * 100).dropna()
        n = len(differences)
        if n < 2:
            raise ValueError(
                f"{name!r} shares {n} seed(s) with the baseline {baseline!r}: train both on the same seeds, at least two, "
                "for example seeds=(0, 1, 2)."
            )
        mean, spread = differences.mean(), differences.std(ddof=1)
        if spread == 0:
            # Every seed gave the same difference: no noise to weigh it against.
            p_value, half = (1.0 if mean == 0 else 0.0), 0.0
        else:
            t = mean / (spread / n**0.5)
            p_value = float(2 * stats.t.sf(abs(t), df=n - 1))
            half = float(stats.t.ppf(1 - each / 2, df=n - 1) * spread / n**0.5)
        rows[name] = {
            "seeds": n,
            "difference (points)": mean,
            "low": mean - half,
            "high": mean + half,
            "coverage": 1 - each,
            "p": p_value,
            "p (Bonferroni)": min(1.0, p_value * len(others)),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    table["beyond noise"] = table["p (Bonferroni)"] <= level
    return table.round({"difference (points)": 2, "low": 2, "high": 2, "coverage": 4, "p": 4, "p (Bonferroni)": 4})


def verdicts(comparison: pd.DataFrame, level: float = 0.05) -> list[str]:
    """One sentence per model of :func:`against_baseline`: its difference, and whether it exceeds the noise.

    The words "beyond the seed-to-seed noise" appear only when the adjusted p
    is at most ``level``; otherwise the sentence says that the runs cannot
    tell the model from the baseline, which is not the same as showing that
    the two are equal.

    Parameters
    ----------
    comparison : pandas.DataFrame
        The table of :func:`against_baseline`.
    level : float, default 0.05
        The level ``against_baseline`` used.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``comparison`` lacks the columns of :func:`against_baseline`.
    ValueError
        If ``level`` is not strictly between 0 and 1.

    Examples
    --------
    >>> comparison = pd.DataFrame({"seeds": [3, 3], "difference (points)": [3.5, -1.0], "low": [2.9, -2.6],
    ...                            "high": [4.1, 0.6], "coverage": 0.975, "p (Bonferroni)": [0.004, 0.12]},
    ...                           index=["bn", "dropout"])
    >>> for sentence in verdicts(comparison):
    ...     print(sentence)
    bn: better by 3.50 points (97.5% interval 2.90 to 4.10) over 3 seeds,
    beyond the seed-to-seed noise (adjusted p = 0.004 <= 0.05).
    dropout: worse by 1.00 points (97.5% interval -2.60 to 0.60) over 3 seeds,
    within the seed-to-seed noise (adjusted p = 0.12 > 0.05): these runs cannot tell it from the baseline.
    """
    needed = {"seeds", "difference (points)", "low", "high", "coverage", "p (Bonferroni)"}
    if not isinstance(comparison, pd.DataFrame) or not needed <= set(comparison.columns):
        raise TypeError(f"comparison must be the table that against_baseline returns, with columns {sorted(needed)}.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level={level!r} must lie strictly between 0 and 1: pass the level against_baseline used.")
    sentences = []
    for name, row in comparison.iterrows():
        difference = row["difference (points)"]
        direction = "better" if difference > 0 else "worse" if difference < 0 else "different"
        measured = (
            f"{name}: {direction} by {abs(difference):.2f} points ({row['coverage'] * 100:.4g}% interval {row['low']:.2f} to "
            f"{row['high']:.2f}) over {int(row['seeds'])} seeds"
        )
        p = row["p (Bonferroni)"]
        if p <= level:
            sentences.append(f"{measured}, beyond the seed-to-seed noise (adjusted p = {p:.3g} <= {level:g}).")
        else:
            sentences.append(
                f"{measured}, within the seed-to-seed noise (adjusted p = {p:.3g} > {level:g}): "
                "these runs cannot tell it from the baseline."
            )
    return sentences
