"""Watch a running sandbox from outside, and stop it when it passes a limit that no ``setrlimit`` can set.

``RLIMIT_DATA`` bounds each of a sandbox's processes, not their sum: a
notebook that starts 100 processes of 2 GiB each stays within it.
``RLIMIT_FSIZE`` bounds each file, not a folder of a million of them. So,
while a submission runs, a thread of the grader's reads ``/proc`` every
``interval`` seconds:

* the memory of every process the sandbox started (found through their
  parents, up to the sandbox's first process): the proportional set size
  (``Pss`` in ``/proc/PID/smaps_rollup``, where a page that several
  processes share counts once in all), plus the pages of the in-memory files
  (``memfd``) the processes hold open without mapping them. The resident
  set sizes come first: they are counters, read at once, and never less;
  the proportional sizes, which take milliseconds a process, are added up
  only when the resident ones pass the limit;
* the size on disk of the sandbox's writable folder, and its number of
  entries (a folder the sandbox made unlistable stops it too).

When one passes its limit it kills every one of those processes, and
:attr:`Watchdog.stopped` says why, in words for the student's feedback. The
grader also stops a sandbox this way for a reason of its own
(:meth:`Watchdog.stop_sandbox`), such as a flood of output.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from booktools.sandbox import Limits

__all__ = ["MAX_ENTRIES", "Watchdog", "folder_usage", "memory_bytes", "process_tree"]

# A writable folder with more entries than this is stopped, whatever their size: empty files cost inodes and time.
MAX_ENTRIES = 20_000


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it, from the parents ``/proc`` gives.

    Examples
    --------
    >>> process_tree(os.getpid())[0] == os.getpid()
    True
    """
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path("/proc", entry.name, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in brackets may hold spaces and brackets
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def _in_memory_files(pid: int) -> int | None:
    """Bytes of the in-memory files (``memfd``) that process ``pid`` holds open; None if it hid its descriptors."""
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except PermissionError:
        return None
    except OSError:  # ended meanwhile
        return 0
    total = 0
    for descriptor in descriptors:
        path = f"/proc/{pid}/fd/{descriptor}"
        try:
            if os.readlink(path).startswith("/memfd:"):
                total += os.stat(path).st_blocks * 512
        except OSError:
            continue
    return total


def memory_bytes(pid: int, exact: bool = True) -> int | None:
    """The memory of process ``pid``, with its open in-memory files; 0 once it has ended.

    ``exact``: the proportional set size (``Pss``, where a page shared by
    several processes counts once in all, which takes the kernel milliseconds
    to add up); otherwise the resident set size (``VmRSS``, a counter, read at
    once), which counts a shared page in each process and so is never less.
    None if the process hid its memory from this one (made itself
    non-dumpable, which makes ``/proc/PID``'s files root's alone): nothing
    the chapters run does that.

    Examples
    --------
    >>> 0 < memory_bytes(os.getpid()) <= memory_bytes(os.getpid(), exact=False)
    True
    """
    name, key = ("smaps_rollup", "Pss:") if exact else ("status", "VmRSS:")
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except PermissionError:
        return None
    except OSError:
        return 0
    files = _in_memory_files(pid)
    if files is None:
        return None
    return next((int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith(key)), 0) + files


def folder_usage(folder: Path, most: int = MAX_ENTRIES) -> tuple[int, int, int]:
    """The bytes that the files under ``folder`` take on disk, its entries, and the folders that could not be listed.

    Counting stops past ``most`` entries. Links are not followed. A folder is
    unlistable when the sandbox took its read permission away; the grader
    changes nothing under ``folder`` (a folder swapped for a link meanwhile
    would make it change what the link points to).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "a").write_bytes(b"x" * 10_000)
    ...     folder_usage(Path(folder))[1:]
    (1, 0)
    """
    size = entries = unlistable = 0
    todo = [folder]
    while todo and entries <= most:
        current = todo.pop()
        try:
            listing = list(os.scandir(current))
        except PermissionError:
            unlistable += 1
            continue
        except OSError:  # removed meanwhile
            continue
        for entry in listing:
            entries += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            size += info.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                todo.append(Path(entry.path))
    return size, entries, unlistable


class Watchdog:
    """Stop the sandbox whose first process is ``pid`` when its processes' memory or its ``folder`` passes ``limits``.

    Use it as a context manager around the sandbox's run; :attr:`status`
    (``"memory limit"``, ``"disk limit"``, or the status given to
    :meth:`stop_sandbox`) and :attr:`stopped` (why, in a sentence) are None
    while it has stopped nothing.
    """

    def __init__(self, pid: int, folder: Path | None, limits: Limits, interval: float = 0.5) -> None:
        self.pid, self.folder, self.limits, self.interval = pid, folder, limits, interval
        self.status: str | None = None
        self.stopped: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog-{pid}", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def stop_sandbox(self, status: str, why: str) -> None:
        """Kill every process of the sandbox, and record ``status`` and ``why`` (the first reason given is kept)."""
        if self.status is None:
            self.status, self.stopped = status, why
        for pid in process_tree(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # ended meanwhile, or not ours
                pass

    def check(self) -> None:
        """Look once, and stop the sandbox if it is past a limit."""
        gib = 1 << 30
        tree = process_tree(self.pid)
        measured = [memory_bytes(pid, exact=False) for pid in tree]
        if None not in measured and sum(measured) > self.limits.memory_bytes:  # resident sets overcount: count exactly
            measured = [memory_bytes(pid) for pid in tree]
        if None in measured:
            self.stop_sandbox(
                "memory limit",
                "not graded: a process of the notebook hid its memory from the grader (it made itself non-dumpable), "
                "so the grader stopped it",
            )
            return
        memory = sum(measured)
        if memory > self.limits.memory_bytes:
            self.stop_sandbox(
                "memory limit",
                f"not graded: the notebook's processes used {memory / gib:.1f} GiB of memory together, more than the "
                f"{self.limits.memory_bytes / gib:.1f} GiB allowed, so the grader stopped it",
            )
            return
        if self.folder is None:
            return
        size, entries, unlistable = folder_usage(self.folder)
        if unlistable:
            self.stop_sandbox(
                "disk limit",
                "not graded: the notebook made a folder that the grader cannot list, so it could not measure the "
                "notebook's files, and stopped it",
            )
        elif size > self.limits.disk_bytes or entries > MAX_ENTRIES:
            self.stop_sandbox(
                "disk limit",
                f"not graded: the notebook wrote {size / gib:.1f} GiB in {entries:,} files or more, past the "
                f"{self.limits.disk_bytes / gib:.1f} GiB or {MAX_ENTRIES:,} files allowed, so the grader stopped it",
            )

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            self.check()
            if self.status is not None:
                return
