"""Training beside a busy process: how much slower it gets with PyTorch's default threads and with fewer.

A laptop busy with other work, a shared CI runner or a Binder session with a
fraction of a CPU all leave PyTorch fewer free cores than it sees. This
module times the practical's network at batch 8, alone and beside one
process that keeps a core busy, for each thread count asked for, and
tabulates the slowdown; ``benchmarks/training_speed.py --contention`` prints it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import torch
import torch.nn as nn
from torch.utils.data import Dataset

from . import loaders, models, train

__all__ = ["busy_process", "time_training", "contention_table"]


@contextmanager
def busy_process() -> Iterator[subprocess.Popen]:
    """Keep one core busy with another process (a Python loop) until the ``with`` block ends."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # let it start spinning before the clock starts
        yield process
    finally:
        process.kill()
        process.wait()


def time_training(train_dataset: Dataset, num_steps: int = 1500, batch_size: int = 8, seed: int = 0) -> float:
    """Seconds to train a fresh :class:`~cnnlab.models.MNISTModel` for ``num_steps`` steps from tensors built once.

    Twenty warm-up steps run first, off the clock.

    Raises
    ------
    ValueError
        If ``num_steps`` is not a positive whole number.
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps={num_steps!r} must be a positive whole number, for example 1500.")
    X, y = loaders.dataset_to_tensors(train_dataset)
    train_loader = loaders.tensor_loader(X, y, batch_size, shuffle=True, seed=seed)
    train.seed_everything(seed)
    model = models.MNISTModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    train.train_for_steps(model, train_loader, loss_fn, optimizer, "cpu", 20, progress=False)
    start = time.perf_counter()
    train.train_for_steps(model, train_loader, loss_fn, optimizer, "cpu", num_steps, progress=False)
    return time.perf_counter() - start


def contention_table(train_dataset: Dataset, thread_counts: dict[str, int], num_steps: int = 1500) -> pd.DataFrame:
    """Train with each thread count alone and beside a busy process; return the times and the slowdowns.

    Parameters
    ----------
    train_dataset
        A torchvision MNIST-style dataset.
    thread_counts : dict
        Label -> PyTorch threads, for example ``{"PyTorch's default": 2, "recommended": 1}``.
    num_steps : int
        Training steps per run, at batch 8.

    Returns
    -------
    pandas.DataFrame
        One row per label: ``threads``, ``idle seconds``, ``busy seconds`` (beside the busy
        process), ``slowdown`` (busy over idle) and ``idle cost`` (idle seconds over the
        fastest idle run, less one: what the setting costs on an idle machine).

    Raises
    ------
    ValueError
        If ``thread_counts`` is empty or holds a count below 1.
    """
    if not thread_counts or any(not isinstance(n, int) or n < 1 for n in thread_counts.values()):
        raise ValueError(f"thread_counts={thread_counts!r}: pass labels with thread counts of 1 or more, such as {{'one': 1}}.")
    before = torch.get_num_threads()
    rows = []
    try:
        for label, count in thread_counts.items():
            torch.set_num_threads(count)
            idle = time_training(train_dataset, num_steps)
            with busy_process():
                busy = time_training(train_dataset, num_steps)
            rows.append({"setting": label, "threads": count, "idle seconds": idle, "busy seconds": busy})
    finally:
        torch.set_num_threads(before)
    table = pd.DataFrame(rows).set_index("setting")
    table["slowdown"] = table["busy seconds"] / table["idle seconds"]
    table["idle cost"] = table["idle seconds"] / table["idle seconds"].min() - 1
    return table
