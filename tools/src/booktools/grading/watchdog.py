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

* what the sandbox's own in-memory ``/tmp`` and ``/dev/shm`` hold (bubblewrap
  mounts them, each at most :attr:`booktools.grading.sandbox.Limits.tmpfs_bytes`),
  added to that memory.

Where the machine lets the grader make a memory cgroup of its own
(:class:`MemoryGroup`: cgroup v2's ``memory.max``, or the cgroup v1 memory
controller's ``memory.limit_in_bytes``), the sandbox runs in one, and the
kernel itself bounds all it holds, anonymous, tmpfs and shared memory and
in-memory files in flight alike; the watchdog then finds its processes
through the group too, and says so when the kernel stopped one at the limit.
Where it does not, what nothing can count is refused instead (the sandbox's
seccomp filter, :mod:`booktools.grading.sandbox`).

When one passes its limit it kills every one of those processes, and
:attr:`Watchdog.stopped` says why, in words for the student's feedback. The
grader also stops a sandbox this way for a reason of its own
(:meth:`Watchdog.stop_sandbox`), such as a flood of output.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
from pathlib import Path

from booktools.grading.sandbox import Limits

__all__ = ["MAX_ENTRIES", "MemoryGroup", "Watchdog", "folder_usage", "memory_bytes", "process_tree", "tmpfs_bytes"]

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


def tmpfs_bytes(pids: list[int]) -> int:
    """What the in-memory ``/tmp`` and ``/dev/shm`` of the sandboxes of ``pids`` hold, each file system counted once.

    Only those of another mount namespace than the grader's count: a sandbox's own. Files deleted but still open,
    and those sent over a socket and closed, take their blocks until they go, so they count too.
    """
    try:
        own = os.stat("/proc/self/ns/mnt").st_ino
    except OSError:
        return 0
    seen, total = set(), 0
    for pid in pids:
        try:
            if os.stat(f"/proc/{pid}/ns/mnt").st_ino == own:
                continue
        except OSError:
            continue
        for folder in ("tmp", "dev/shm"):
            path = f"/proc/{pid}/root/{folder}"
            try:
                device, usage = os.stat(path).st_dev, os.statvfs(path)
            except OSError:
                continue
            if device not in seen:
                seen.add(device)
                total += (usage.f_blocks - usage.f_bfree) * usage.f_frsize
    return total


class MemoryGroup:
    """A memory cgroup of the grader's own for one sandbox: the kernel counts and bounds all the memory its processes hold.

    :meth:`make` makes one under the grader's own cgroup, with cgroup v2
    where its memory controller is there and delegated, else with cgroup v1's
    memory controller; None where neither can be made (an unprivileged
    grader, a container whose ``/sys/fs/cgroup`` is read-only).
    """

    _made = itertools.count()
    # version: (the hierarchy's folder, the limit, its swap, the usage, where the kernel counts its stops)
    FILES = {
        2: ("", "memory.max", "memory.swap.max", "memory.current", "memory.events"),
        1: ("memory", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes", "memory.oom_control"),
    }

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version

    @property
    def procs(self) -> Path:
        """The file a process joins the group through (``sandbox.command``'s ``group``)."""
        return self.path / "cgroup.procs"

    @classmethod
    def parent(cls, version: int, root: Path = Path("/sys/fs/cgroup"), own: str | None = None) -> Path | None:
        """The grader's own cgroup in hierarchy ``version``, from ``/proc/self/cgroup`` (or ``own``), if it is there."""
        text = Path("/proc/self/cgroup").read_text() if own is None else own
        for line in text.splitlines():
            _, controllers, path = line.split(":", 2)
            if (version == 2 and controllers == "") or (version == 1 and "memory" in controllers.split(",")):
                folder = root / cls.FILES[version][0] / path.lstrip("/")
                marker = "cgroup.controllers" if version == 2 else "memory.limit_in_bytes"
                return folder if (folder / marker).exists() else None
        return None

    @classmethod
    def make(cls, limit: int, root: Path = Path("/sys/fs/cgroup"), own: str | None = None) -> MemoryGroup | None:
        """A new group whose processes may hold ``limit`` bytes together, swap none; None where none can be made."""
        for version in (2, 1):
            parent = cls.parent(version, root, own)
            if parent is None:
                continue
            path = parent / f"booktools-{os.getpid()}-{next(cls._made)}"
            try:
                path.mkdir()
            except OSError:
                continue
            group = cls(path, version)
            _, limit_file, swap_file, _, _ = cls.FILES[version]
            try:
                (path / limit_file).write_text(str(limit))
            except OSError:  # v2 without the memory controller delegated here
                group.remove()
                continue
            try:
                (path / swap_file).write_text(str(limit if version == 1 else 0))
            except OSError:  # no swap accounting: nothing to bound
                pass
            return group
        return None

    def usage(self) -> int:
        try:
            return int((self.path / self.FILES[self.version][3]).read_text())
        except (OSError, ValueError):
            return 0

    def stops(self) -> int:
        """How many of its processes the kernel killed at the group's limit."""
        try:
            text = (self.path / self.FILES[self.version][4]).read_text()
        except OSError:
            return 0
        return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("oom_kill ")), 0)

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in self.procs.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def remove(self) -> bool:
        """Remove the group once its processes are gone (killing those left); whether it could."""
        for _ in range(200):
            self.kill()
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                threading.Event().wait(0.05)
        return False


class Watchdog:
    """Stop the sandbox whose first process is ``pid`` when its processes' memory or its ``folder`` passes ``limits``.

    Use it as a context manager around the sandbox's run; :attr:`status`
    (``"memory limit"``, ``"disk limit"``, or the status given to
    :meth:`stop_sandbox`) and :attr:`stopped` (why, in a sentence) are None
    while it has stopped nothing.
    """

    def __init__(
        self, pid: int, folder: Path | None, limits: Limits, interval: float = 0.5, group: MemoryGroup | None = None
    ) -> None:
        self.pid, self.folder, self.limits, self.interval, self.group = pid, folder, limits, interval, group
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
        self.check_group()

    def check_group(self) -> None:
        """Record it if the kernel stopped a process of the sandbox at its memory cgroup's limit."""
        if self.group is not None and self.status is None and self.group.stops():
            gib = 1 << 30
            self.stop_sandbox(
                "memory limit",
                f"not graded: the notebook's processes held more than the {self.limits.memory_bytes / gib:.1f} GiB of "
                "memory allowed (in-memory files and shared memory included), so the machine stopped them",
            )

    def processes(self) -> list[int]:
        """The sandbox's processes: its first one's descendants, and whoever is in its memory group."""
        tree = process_tree(self.pid)
        return tree + [pid for pid in (self.group.pids() if self.group else []) if pid not in tree]

    def stop_sandbox(self, status: str, why: str) -> None:
        """Kill every process of the sandbox, and record ``status`` and ``why`` (the first reason given is kept)."""
        if self.status is None:
            self.status, self.stopped = status, why
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # ended meanwhile, or not ours
                pass

    def check(self) -> None:
        """Look once, and stop the sandbox if it is past a limit."""
        gib = 1 << 30
        tree = self.processes()
        memory_files = tmpfs_bytes(tree)
        measured = [memory_bytes(pid, exact=False) for pid in tree] + [memory_files]
        if None not in measured and sum(measured) > self.limits.memory_bytes:  # resident sets overcount: count exactly
            measured = [memory_bytes(pid) for pid in tree] + [memory_files]
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
                f"not graded: the notebook's processes used {memory / gib:.1f} GiB of memory together (with its "
                f"in-memory files), more than the "
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
