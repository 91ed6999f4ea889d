"""The full MNIST: downloaded within a deadline per file, and checked against its published checksums.

A download survives a bad network: a dropped connection, a reply that is not
HTTP and a server that sends a byte at a time each count as a failed try, the
next try or mirror follows, and every file has a total deadline over all its
tries. The files are checked against the MD5 checksums that torchvision
publishes, at every load, so only the real MNIST is ever called "full".
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..environment import MNIST_MODE
from .cache import LOCK_TIMEOUT, atomic_write, cache_lock, raw_folder
from .errors import MNISTDataError, MNISTDownloadError
from .idx import check_raw_files

__all__ = ["DEADLINE", "download_mnist", "fetch", "verify_full"]

DEADLINE = 300.0  # seconds per file, over all tries and mirrors
_NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException, ValueError)


def _torchvision_mnist():
    """torchvision's MNIST class, whose file list, checksums and mirrors this module uses.

    Imported when needed: importing torchvision takes seconds, which a process that reads the sample never needs.
    """
    from torchvision import datasets

    return datasets.MNIST


def fetch(url: str, timeout: float, deadline_at: float, opener: Callable = urllib.request.urlopen) -> bytes:
    """The body of ``url``: the whole request (connection, headers, body) ends before ``deadline_at``, a monotonic time.

    A server that sends its headers a byte at a time resets the socket's
    timeout with every byte, so the request runs in a helper thread and is
    abandoned when the deadline passes.

    Raises
    ------
    TimeoutError
        If the deadline passes before the whole reply has arrived.
    ConnectionError
        If the connection closes before the announced length has arrived.
    """
    outcome: dict = {}

    def request() -> None:
        try:
            outcome["body"] = _read_reply(url, timeout, deadline_at, opener)
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=request, name=f"cnnlab-download {url}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline_at - time.monotonic()) + 0.05)
    if worker.is_alive():
        raise TimeoutError("the deadline passed before the server's reply had arrived (it sends too slowly)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["body"]


def _read_reply(url: str, timeout: float, deadline_at: float, opener: Callable) -> bytes:
    with opener(url, timeout=max(0.1, min(timeout, deadline_at - time.monotonic()))) as response:
        announced = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        read = getattr(response, "read1", response.read)
        chunks, received = [], 0
        while True:
            if time.monotonic() > deadline_at:
                raise TimeoutError(f"the deadline passed with {received:,} bytes received (the server sends too slowly)")
            chunk = read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    if announced is not None and received != int(announced):
        raise ConnectionError(f"the connection closed after {received:,} of {int(announced):,} bytes")
    return b"".join(chunks)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def verify_full(folder: str | os.PathLike) -> dict[str, int]:
    """Check the four MNIST files under ``folder/MNIST/raw`` against the published checksums.

    Each ``.gz`` file must have the MD5 that torchvision lists, and each raw
    file must be what its ``.gz`` unpacks to; a raw file that is missing or
    differs is unpacked again (when the folder can be written to).

    Returns
    -------
    dict
        The number of items in each raw file.

    Raises
    ------
    MNISTDataError
        If a ``.gz`` file is missing or is not the published MNIST; the message
        names the file and what to do.
    """
    raw = raw_folder(Path(folder))
    for filename, md5 in _torchvision_mnist().resources:
        archive = raw / filename
        if not archive.is_file():
            raise MNISTDataError(
                f"{archive} is missing, so the MNIST files in {raw} cannot be checked against the published checksums: "
                f"run with {MNIST_MODE}=full to download them, or copy the four original .gz files there."
            )
        digest = _md5(archive)
        if digest != md5:
            raise MNISTDataError(
                f"{archive} is not the published MNIST file (MD5 {digest}, expected {md5}): delete it and run with "
                f"{MNIST_MODE}=full to download it again, or copy the original file there."
            )
        unpacked = gzip.decompress(archive.read_bytes())
        target = raw / filename.removesuffix(".gz")
        if not target.is_file() or target.read_bytes() != unpacked:
            atomic_write(target, unpacked)
    return check_raw_files(folder)


def _download_one(filename: str, md5: str, mirrors: list[str], timeout: float, retries: int, deadline: float, opener) -> bytes:
    deadline_at = time.monotonic() + deadline
    problems = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        for attempt in range(retries):
            if time.monotonic() > deadline_at:
                problems.append(f"{url}: the deadline of {deadline:.0f} s for this file passed")
                break
            try:
                payload = fetch(url, timeout, deadline_at, opener)
            except _NETWORK_ERRORS as error:
                problems.append(f"{url}: {type(error).__name__}: {error}")
                if attempt + 1 < retries:
                    time.sleep(max(0.0, min(2.0**attempt, 4.0, deadline_at - time.monotonic())))
                continue
            digest = hashlib.md5(payload).hexdigest()
            if digest == md5:
                return payload
            problems.append(f"{url}: checksum {digest} does not match {md5}")
            break
    raise MNISTDownloadError("; ".join(problems) or "no mirror to try")


def _check_download_arguments(mirrors, timeout, retries, deadline) -> list[str]:
    """The mirrors as a list, after checking every argument of :func:`download_mnist`."""
    if mirrors is None:
        mirrors = list(_torchvision_mnist().mirrors)
    elif isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, (list, tuple)):
        raise TypeError(f"mirrors={mirrors!r} must be a list of base URLs, for example mirrors=[{mirrors!r}].")
    if not mirrors:
        raise ValueError("mirrors=[] holds no address: pass at least one base URL, or None for torchvision's mirrors.")
    for mirror in mirrors:
        if not isinstance(mirror, str) or not mirror.startswith(("http://", "https://", "file:")):
            raise ValueError(
                f"mirrors holds {mirror!r}, which is not a URL: give base URLs such as 'https://example.org/mnist/'."
            )
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name}={value!r} must be a positive number of seconds, for example {name}=30.")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise ValueError(f"retries={retries!r} must be a whole number of tries of at least 1, for example retries=3.")
    return list(mirrors)


def download_mnist(
    folder: str | os.PathLike,
    mirrors: list[str] | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    deadline: float = DEADLINE,
    opener: Callable = urllib.request.urlopen,
) -> Path:
    """Download the full MNIST into ``folder/MNIST/raw``, checking every file.

    Files already there and valid are kept, and so are ``.gz`` files copied
    there by hand that match the published checksums. Each missing file is
    fetched from the first mirror that delivers it whole and with the right
    checksum, then unpacked.

    Parameters
    ----------
    folder : path-like
        The dataset root.
    mirrors : list of str, optional
        Base URLs; by default torchvision's MNIST mirrors.
    timeout : float, default 30
        Seconds to wait for each piece of a reply.
    retries : int, default 3
        Tries per file and mirror.
    deadline : float, default 300
        Seconds per file, over all its tries and mirrors; also the longest wait for
        another process that holds the folder's lock (``folder/.lock``) while it prepares it.
    opener : callable, default urllib.request.urlopen
        Opens a URL; replaceable for tests.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    MNISTDownloadError
        If a file cannot be fetched in time from any mirror, or fails its checksum,
        or another process holds the folder's lock for longer than ``deadline``;
        the message names the file (or the lock), the folder and what to do.
    TypeError, ValueError
        If an argument is not what it should be (``mirrors`` a single string, ``retries=0``).
    """
    mirrors = _check_download_arguments(mirrors, timeout, retries, deadline)
    folder = Path(folder)
    raw = raw_folder(folder)
    with contextlib.ExitStack() as locked:
        # Another process preparing the same folder is waited for, but never longer than this download's deadline.
        wait = min(LOCK_TIMEOUT, deadline)
        try:
            locked.enter_context(cache_lock(folder, timeout=wait))
        except MNISTDataError as error:
            raise MNISTDownloadError(
                f"{error} A download waits for it no longer than its deadline (deadline={deadline!r} s): let the other "
                "download finish and run again, or pass a longer deadline.",
                reason=f"another process held {folder / '.lock'} for longer than the deadline of {wait:g} s",
            ) from None
        try:
            verify_full(folder)
            return folder
        except MNISTDataError as error:
            why = str(error)
        raw.mkdir(parents=True, exist_ok=True)
        for filename, md5 in _torchvision_mnist().resources:
            archive = raw / filename
            if archive.is_file() and _md5(archive) == md5:
                continue
            try:
                payload = _download_one(
                    filename,
                    md5,
                    mirrors,
                    timeout,
                    retries,
                    deadline,
                    opener,
                )
            except MNISTDownloadError as error:
                raise MNISTDownloadError(
                    f"Could not download {filename} into {raw} ({error}). The files there could not be used: {why} "
                    f"Check the internet connection and run again, copy the four MNIST .gz files into {raw} by hand, "
                    f"or set {MNIST_MODE}=sample to use the offline sample.",
                    reason=f"{filename}: {error}",
                ) from None
            atomic_write(archive, payload)
        verify_full(folder)
    return folder
