"""The MNIST mode, the cache folder, and safe writing into it.

Two notebooks may prepare the same cache at once, and a download may be cut
off half-way: every file is written under a temporary name and renamed into
place, so a reader never sees half a file, and preparing a cache holds a lock
on it, so two processes never write the same files at the same time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..environment import DATA_DIR, MNIST_MODE, setting
from .errors import MNISTDataError

__all__ = [
    "LOCK_TIMEOUT",
    "MODES",
    "atomic_write",
    "cache_lock",
    "cache_problem",
    "data_root",
    "mnist_mode",
    "raw_folder",
]

LOCK_TIMEOUT = 600.0  # seconds to wait for another process preparing the same cache (a full download can take minutes)

MODES = ("full", "sample", "auto")


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
    chosen = mode if mode is not None else setting(MNIST_MODE) or "auto"
    if chosen not in MODES:
        origin = "mode" if mode is not None else MNIST_MODE
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
    elif setting(DATA_DIR) is not None:
        origin, value = DATA_DIR, setting(DATA_DIR)
    else:
        return Path.home() / ".cache" / "cnnlab"
    if not str(value).strip():
        raise ValueError(f"{origin}={value!r} is empty: give a folder for the MNIST files, or unset {DATA_DIR}.")
    return Path(value).expanduser()


def raw_folder(folder: str | os.PathLike) -> Path:
    """Where ``torchvision.datasets.MNIST(folder)`` reads its raw files: ``folder/MNIST/raw``."""
    return Path(folder) / "MNIST" / "raw"


def cache_problem(error: OSError, root: str | os.PathLike) -> str:
    """One sentence on what is wrong with the cache folder and how to fix it, from an ``OSError`` met in it.

    Examples
    --------
    >>> print(cache_problem(PermissionError(13, "Permission denied", "/data/mnist"), "/data"))
    cannot write to /data/mnist (Permission denied): set CNNLAB_DATA_DIR to a folder you can write to.
    """
    path = error.filename if error.filename is not None else root
    reason = error.strerror or str(error) or type(error).__name__
    code = error.errno
    if isinstance(error, NotADirectoryError) or code == errno.ENOTDIR:
        return (
            f"{path} is not a folder ({reason}): a file lies where the MNIST cache needs a folder; "
            f"set {DATA_DIR} to a folder, or move the file away."
        )
    if isinstance(error, FileExistsError) or code == errno.EEXIST:
        dangling = os.path.islink(path) and not os.path.exists(path)
        what = "a link to a folder that does not exist" if dangling else "in the way"
        return f"{path} is {what} ({reason}): delete it, or set {DATA_DIR} to another folder."
    if isinstance(error, IsADirectoryError) or code == errno.EISDIR:
        return f"{path} is a folder where an MNIST file should be ({reason}): delete the folder {path} and run again."
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write to {path} ({reason}): set {DATA_DIR} to a folder you can write to."
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left for {path} ({reason}): free some space, or set {DATA_DIR} to a folder on another disk."
    if code == errno.EFBIG:
        return f"the file system of {path} refuses a file this large ({reason}): set {DATA_DIR} to a folder on another disk."
    return f"{type(error).__name__} at {path} ({reason}): set {DATA_DIR} to another folder, or delete {path} and run again."


def _file_mode() -> int:
    """The mode a new file gets under this process's umask (``mkstemp`` would give 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder and a rename.

    A reader sees either the old file or the whole new one; a write cut off
    half-way leaves only a temporary file, which is never read. The file is
    readable as the umask allows (for a class sharing one cache), not only by
    its writer.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(descriptor, _file_mode())
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
def cache_lock(folder: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold ``folder``'s lock while preparing it, so that two processes never write the same files.

    A folder that cannot be written to (a read-only cache) needs no lock:
    nothing will be written there. When another process holds the lock, a
    warning says so, and the wait ends after ``timeout`` seconds.

    Raises
    ------
    MNISTDataError
        If the lock is still held after ``timeout`` seconds; the message names the lock file.
    """
    path = folder / ".lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=min(1.0, timeout))
        except Timeout:
            warnings.warn(
                f"Waiting for another process that is preparing {folder} (it holds {path}); giving up after {timeout:g} s.",
                stacklevel=3,
            )
            try:
                lock.acquire(timeout=max(0.0, timeout - 1.0))
            except Timeout:
                raise MNISTDataError(
                    f"Another process has held {path} for {timeout:g} s. If no other notebook is preparing MNIST, "
                    f"delete {path} and run again."
                ) from None
    except PermissionError:
        yield
        return
    try:
        yield
    finally:
        lock.release()
