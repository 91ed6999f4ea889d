"""The MNIST mode, the cache folder, and safe writing into it.

Two notebooks may prepare the same cache at once, and a download may be cut
off half-way: every file is written under a temporary name and renamed into
place, so a reader never sees half a file, and preparing a cache holds a lock
on it, so two processes never write the same files at the same time.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

__all__ = ["MODES", "MODE_VARIABLE", "ROOT_VARIABLE", "atomic_write", "cache_lock", "data_root", "mnist_mode", "raw_folder"]

MODES = ("full", "sample", "auto")
MODE_VARIABLE = "CNNLAB_MNIST"
ROOT_VARIABLE = "CNNLAB_DATA_DIR"


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
    """The cache folder: ``root`` if given, else ``$CNNLAB_DATA_DIR``, else ``~/.cache/cnnlab``; ``~`` is expanded.

    Raises
    ------
    ValueError
        If the folder is given as an empty string.

    Examples
    --------
    >>> data_root("~/mnist") == Path.home() / "mnist"
    True
    """
    if root is not None:
        origin, value = "root", os.fspath(root)
    elif ROOT_VARIABLE in os.environ:
        origin, value = ROOT_VARIABLE, os.environ[ROOT_VARIABLE]
    else:
        return Path.home() / ".cache" / "cnnlab"
    if not str(value).strip():
        raise ValueError(f"{origin}={value!r} is empty: give a folder for the MNIST files, or unset {ROOT_VARIABLE}.")
    return Path(value).expanduser()


def raw_folder(folder: str | os.PathLike) -> Path:
    """Where ``torchvision.datasets.MNIST(folder)`` reads its raw files: ``folder/MNIST/raw``."""
    return Path(folder) / "MNIST" / "raw"


def atomic_write(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder and a rename.

    A reader sees either the old file or the whole new one; a write cut off
    half-way leaves only a temporary file, which is never read.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def cache_lock(folder: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold ``folder``'s lock while preparing it, so that two processes never write the same files.

    A folder that cannot be written to (a read-only cache) needs no lock: nothing will be written there.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / ".lock"), timeout=timeout)
        lock.acquire()
    except PermissionError:
        yield
        return
    try:
        yield
    finally:
        lock.release()
