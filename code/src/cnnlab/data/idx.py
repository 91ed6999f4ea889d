"""The raw IDX files that torchvision's MNIST loader reads: writing them, and checking them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..environment import MNIST_MODE
from .cache import atomic_write, raw_folder
from .errors import MNISTDataError

__all__ = ["RAW_FILES", "check_raw_files", "write_idx"]

_IMAGE_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
_LABEL_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension
RAW_FILES = {
    "train-images-idx3-ubyte": _IMAGE_MAGIC,
    "train-labels-idx1-ubyte": _LABEL_MAGIC,
    "t10k-images-idx3-ubyte": _IMAGE_MAGIC,
    "t10k-labels-idx1-ubyte": _LABEL_MAGIC,
}


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format that MNIST uses, atomically.

    Raises
    ------
    TypeError
        If ``array`` is not uint8.
    ValueError
        If ``array`` has another number of dimensions than 1 (labels) or 3 (images).
    """
    if array.dtype != np.uint8:
        raise TypeError(f"array has dtype {array.dtype}: IDX files here hold uint8, convert with .astype(np.uint8).")
    if array.ndim not in (1, 3):
        raise ValueError(f"array has {array.ndim} dimensions: pass labels (N,) or images (N, height, width).")
    header = np.array([0x0800 + array.ndim, *array.shape], dtype=">i4").tobytes()
    atomic_write(path, header + np.ascontiguousarray(array).tobytes())


def _check_idx(path: Path, magic: int) -> int:
    """Check one IDX file's header against its size; return the number of items."""
    what = f"{path}: delete the folder {path.parent.parent.parent} and run again to recreate it"
    if not path.is_file():
        raise MNISTDataError(
            f"MNIST file not found: {path}. Looked in {path.parent}; run again with "
            f"{MNIST_MODE}=sample to use the offline sample, or {MNIST_MODE}=full to download."
        )
    with path.open("rb") as handle:
        header = handle.read(8 if magic == _LABEL_MAGIC else 16)
    ndim = 1 if magic == _LABEL_MAGIC else 3
    if len(header) < 4 * (ndim + 1):
        raise MNISTDataError(f"MNIST file is truncated (no complete header): {what}.")
    found_magic, *shape = np.frombuffer(header, dtype=">i4")
    if found_magic != magic:
        raise MNISTDataError(f"MNIST file is corrupt (magic number {found_magic}, expected {magic}): {what}.")
    expected = len(header) + int(np.prod(shape))
    size = path.stat().st_size
    if size != expected:
        state = "truncated" if size < expected else "corrupt (too long)"
        raise MNISTDataError(f"MNIST file is {state} ({size} bytes, expected {expected}): {what}.")
    return int(shape[0])


def check_raw_files(folder: str | os.PathLike) -> dict[str, int]:
    """Check the headers and sizes of the four MNIST IDX files under ``folder/MNIST/raw``.

    Returns
    -------
    dict
        The number of items in each file.

    Raises
    ------
    MNISTDataError
        If a file is missing, truncated or corrupt, or images and labels disagree;
        the message names the file and what to do.
    """
    raw = raw_folder(Path(folder))
    counts = {name: _check_idx(raw / name, magic) for name, magic in RAW_FILES.items()}
    for split in ("train", "t10k"):
        images, labels = counts[f"{split}-images-idx3-ubyte"], counts[f"{split}-labels-idx1-ubyte"]
        if images != labels:
            raise MNISTDataError(
                f"MNIST files in {raw} disagree: {images} {split} images but {labels} labels. "
                f"Delete {folder} and run again to recreate them."
            )
    return counts
