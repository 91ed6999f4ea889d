"""Run an untrusted command in a bubblewrap sandbox: read-only Python, one writable folder, no network.

The grader (:mod:`booktools.grading.grade`) runs each student's kernel, and the judge
of its answers, through :func:`command`. What the sandbox allows:

* reading the system (``/usr``, ``/etc``, ...), the Python installation and
  its packages, and the folders passed as ``readable``: all read-only, so an
  editable install of ``cnnlab`` cannot be changed through it;
* writing to the one folder passed as ``writable``, and to a private ``/tmp``
  and ``/dev/shm``, each an in-memory file system of at most
  ``Limits.disk_bytes``;
* nothing else: the grader's home folder is hidden behind an empty one, the
  repository, the answer keys, the other submissions and the output folder
  are not there at all, the environment is emptied (only ``env`` is set),
  and there is no network (a new network namespace with only its loopback).

It runs in new PID, IPC, UTS and network namespaces, so that killing the
sandbox kills everything started inside it (``--die-with-parent``), in a new
session (no terminal to type into). Limits, set with ``setrlimit`` before
the sandbox starts, and inherited by everything inside: address space is not
limited (PyTorch reserves far more than it uses), but the *data* each
process may allocate is (``RLIMIT_DATA``, which counts heap and anonymous
mappings), so is the size of any file it writes (``RLIMIT_FSIZE``), and so
is the number of processes and threads (``RLIMIT_NPROC``). The kernel does
not apply ``RLIMIT_NPROC`` to root, so a grader running as root starts the
sandboxed command as the unprivileged ``nobody`` (uid 65534); an
unprivileged grader gets a user namespace, in which the kernel counts the
sandbox's processes apart from the grader's. The kernel counts a user's
processes, not a sandbox's: sandboxes that run at once each take their own
:class:`Slot`, and under a root grader each slot is a user of its own, so
that one cannot use up the processes of the one beside it (nor those of
another grading command's). System V shared
memory, which outlives the process that made it and counts against no limit,
cannot be created (a seccomp filter answers ``shmget`` with ``EPERM``; POSIX
shared memory in ``/dev/shm`` works). A slot's sandbox also runs on the
slot's processors alone (util-linux's ``taskset``), and the same filter
refuses ``sched_setaffinity``, so that a submission that keeps every thread
busy slows only itself, not the one graded beside it. What no ``setrlimit``
bounds, the memory of all the sandbox's processes together and the size of
its writable folder, :class:`booktools.grading.watchdog.Watchdog` watches from
outside.

What the filter refuses is what no limit counts or what would leave the
sandbox: System V shared memory and message queues (``shmget``,
``msgget``), in-memory files (``memfd_create``, ``memfd_secret``: one sent
over a Unix socket and closed is in no process's file table, so nothing
outside can measure it), new namespaces (``unshare``, ``setns``, ``clone``
with a namespace flag; ``clone3``, whose flags a filter cannot read, answers
ENOSYS so that the C library falls back to ``clone``), mounting, and sockets
of any family but Unix and netlink (no network, even where there is no
network namespace). The in-memory ``/tmp`` and ``/dev/shm`` are each at most
:attr:`Limits.tmpfs_bytes`, and the watchdog counts what they hold in the
sandbox's memory.

**Where namespaces are refused** (an unprivileged Docker container, as
Gradescope's: Docker's default seccomp profile refuses ``unshare`` and the
namespace flags of ``clone``, and bubblewrap cannot start there),
:func:`barrier` falls back, under a root grader, to a barrier that needs
none: ``setpriv`` makes the command an unprivileged user of its own (the
slot's), the same ``prlimit`` limits apply, the same seccomp filter is
loaded with ``no_new_privs`` (by a few lines of Python, :data:`_LOADER`),
its working, home and temporary folders are the writable folder, and the
grader makes the machine's shared writable folders (``/tmp``, ``/var/tmp``,
``/dev/shm``, ``/run/lock``) writable by root alone while it grades
(:func:`shared_folders_locked`). What it cannot hide, the rest of the
file system that any user may read, the grader keeps its secrets out of
(modes 0700 and 0600). Every process of a sandbox is found by its user
(:func:`processes_of`), and ended, before the user is given to another
sandbox (:func:`end_user`).

These need nothing but Debian's ``bubblewrap`` and util-linux's
``prlimit``, ``setpriv`` and ``taskset``: no daemon and no root.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import functools
import os
import platform
import shutil
import signal
import site
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BARRIERS",
    "DEFAULT_LIMITS",
    "FIRST_SLOT_UID",
    "NOBODY",
    "Limits",
    "Slot",
    "available",
    "barrier",
    "command",
    "end_user",
    "load_seccomp",
    "processes_of",
    "python_paths",
    "setpriv_guard",
    "shared_folders_locked",
    "slots",
]

NOBODY = 65534
# Under a root grader, the slots' users start here, far above the users and container ranges of real systems; each
# grading process has 256 of its own (by its process id, below 2**22), so that two graders at once share none: the
# first 128 for its kernels, the next 128 for its judges.
FIRST_SLOT_UID = 2_000_000_000
_SLOTS_PER_GRADER = 256
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/sys/devices/system/cpu")
# What a sandbox may have open at once: an in-flight file (sent over a Unix socket, then closed) counts against it too.
OPEN_FILES = 1024
BARRIERS = ("bubblewrap", "setpriv")
# The folders that any user may write to on a Debian system or container: under the setpriv barrier, root's alone.
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use.

    ``memory_bytes`` bounds each process's data (``RLIMIT_DATA``) and, watched
    by :class:`booktools.grading.watchdog.Watchdog`, the memory of all its processes
    together, with what its in-memory folders hold; ``processes`` counts
    processes plus threads; ``disk_bytes`` bounds the writable folder and each file.
    """

    memory_bytes: int = 3 << 30
    processes: int = 256
    disk_bytes: int = 1 << 30

    @property
    def tmpfs_bytes(self) -> int:
        """The most each of the in-memory ``/tmp`` and ``/dev/shm`` may hold: an eighth of the memory, at most the disk limit.

        Examples
        --------
        >>> Limits().tmpfs_bytes >> 20, Limits(memory_bytes=16 << 30).tmpfs_bytes >> 20
        (384, 1024)
        """
        return min(self.disk_bytes, self.memory_bytes // 8)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Slot:
    """Where one of several sandboxes that run at once runs: its own processors and, under a root grader, its own user."""

    index: int
    cpus: tuple[int, ...] = ()
    grader: int = 0  # the grading process's id, which makes its slots' users its own

    @property
    def uid(self) -> int:
        return FIRST_SLOT_UID + self.grader % (1 << 22) * _SLOTS_PER_GRADER + self.index % _SLOTS_PER_GRADER

    def judge(self) -> Slot:
        """The slot of the judge of this slot's submissions: the same processors, a user of its own.

        Examples
        --------
        >>> slot = Slot(1, (0,), grader=7)
        >>> slot.judge().uid - slot.uid, slot.judge().cpus
        (128, (0,))
        """
        half = _SLOTS_PER_GRADER // 2
        return Slot(half + self.index % half, self.cpus, self.grader)


def slots(jobs: int, available: set[int] | None = None) -> list[Slot]:
    """The slots of ``jobs`` sandboxes run at once, this process's processors dealt out in turn (one job: all of them).

    Each slot is a user of its own under a root grader, one job included.

    Examples
    --------
    >>> [s.cpus for s in slots(2, {0, 1, 2, 3})], [s.cpus for s in slots(3, {0, 1})], [s.cpus for s in slots(1)]
    ([(0, 2), (1, 3)], [(0,), (1,), (0,)], [()])
    """
    if jobs <= 1:
        return [Slot(0, (), os.getpid())]
    cpus = sorted(os.sched_getaffinity(0) if available is None else available)
    half = _SLOTS_PER_GRADER // 2
    return [Slot(job % half, tuple(cpus[job::jobs] or [cpus[job % len(cpus)]]), os.getpid()) for job in range(jobs)]


def _as_root() -> bool:
    return os.geteuid() == 0


def _user(slot: Slot | None) -> int:
    """Whom a root grader runs the sandbox as: the slot's own user, or nobody."""
    return slot.uid if slot else NOBODY


@functools.cache
def _chosen() -> tuple[str | None, str]:
    """The barrier sandboxes get here, and why bubblewrap could not start (empty when it could)."""
    for tool, package in (("prlimit", "util-linux"), ("setpriv", "util-linux"), ("taskset", "util-linux")):
        if shutil.which(tool) is None:
            return None, f"{tool} is not installed (Debian: apt-get install {package})"

    def probe(kind: str) -> str | None:
        try:
            result = subprocess.run(
                command([sys.executable, "-c", "import json"], writable=None, readable=[], env={}, barrier=kind),
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return str(error)
        return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["no message"])[-1]

    if shutil.which("bwrap") is None:
        why = "bwrap is not installed (Debian: apt-get install bubblewrap)"
    else:
        problem = probe("bubblewrap")
        if problem is None:
            return "bubblewrap", ""
        why = f"bubblewrap could not start a sandbox here ({problem}); unprivileged user namespaces may be disabled"
    if not _as_root():
        return None, why
    problem = probe("setpriv")
    if problem is None:
        return "setpriv", why
    return None, (
        f"{why}; nor could setpriv run {sys.executable} as a user of its own ({problem}): under the setpriv barrier, "
        "every user must be able to read the Python environment (as /usr and a virtual environment in /opt are)"
    )


def barrier() -> str | None:
    """The barrier a sandbox gets here: ``"bubblewrap"`` where it can start, else, under a root grader, ``"setpriv"``."""
    return _chosen()[0]


def available() -> str | None:
    """None if a sandbox can start here; otherwise why not, in one sentence."""
    kind, why = _chosen()
    return None if kind else why


def bubblewrap_refused() -> str:
    """Why bubblewrap could not start here, when the setpriv barrier stands in; empty otherwise."""
    return _chosen()[1]


def python_paths() -> list[Path]:
    """The folders the sandboxed Python needs to read: its installation and its packages."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sysconfig.get_paths()["stdlib"])}
    paths.update(Path(p) for p in site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        paths.add(Path(site.getusersitepackages()))
    paths.add(Path(sys.executable).resolve().parent.parent)
    return sorted(p.resolve() for p in paths if p.exists())


# The setpriv barrier's last step, run as the sandbox's user: its folder, its environment, no_new_privs, the seccomp
# filter read from descriptor 9, death with the grader, then the command. The same calls as load_seccomp's.
_LOADER = """\
import ctypes, os, signal, sys
args = sys.argv[1:]
cut = args.index('--')
folder, pairs, argv = args[0], args[1:cut], args[cut + 1:]
program = b''
while True:
    chunk = os.read(9, 65536)
    if not chunk:
        break
    program += chunk
os.close(9)
libc = ctypes.CDLL(None, use_errno=True)
class Program(ctypes.Structure):
    _fields_ = [('length', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
code = ctypes.create_string_buffer(program, len(program))
fprog = Program(len(program) // 8, ctypes.addressof(code))
if libc.prctl(1, signal.SIGKILL, 0, 0, 0) or libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0):
    sys.exit(f'the seccomp filter could not be loaded: {os.strerror(ctypes.get_errno())}')
if os.getppid() == 1:
    sys.exit('the grader has ended')
environment = dict(pair.split('=', 1) for pair in pairs)
for name in ('HOME', 'TMPDIR'):
    if environment[name].startswith(folder + '/'):
        os.makedirs(environment[name], exist_ok=True)
os.chdir(folder)
os.execvpe(argv[0], argv, environment)
"""


def load_seccomp(program: bytes) -> None:
    """Set ``no_new_privs`` and load the classic-BPF seccomp ``program`` into this process (and all it starts)."""
    libc = ctypes.CDLL(None, use_errno=True)

    class Program(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = ctypes.create_string_buffer(program, len(program))
    fprog = Program(len(program) // 8, ctypes.addressof(code))
    if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0):  # PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP
        raise OSError(ctypes.get_errno(), "the seccomp filter could not be loaded")


def command(
    argv: list[str],
    writable: Path | None,
    readable: list[Path],
    env: dict[str, str],
    limits: Limits | None = None,
    mounts: dict[str, Path] | None = None,
    slot: Slot | None = None,
    barrier: str | None = None,
    group: Path | None = None,
) -> list[str]:
    """The command line that runs ``argv`` in a sandbox, within ``limits`` (set by util-linux's ``prlimit``), in ``slot``.

    ``barrier`` is :func:`barrier`'s unless given. Under ``"setpriv"`` nothing
    can be mounted: ``mounts`` are refused, and ``readable`` is what any user
    may read already. ``group``, a cgroup's ``cgroup.procs`` file
    (:class:`booktools.grading.watchdog.MemoryGroup`), is joined before anything starts.
    """
    limits = limits or DEFAULT_LIMITS
    kind = barrier or _chosen()[0] or "bubblewrap"
    if kind not in BARRIERS:
        raise ValueError(f"barrier={kind!r} is not one of {BARRIERS}")
    seccomp = _seccomp_filter()
    # A shell opens the seccomp filter as descriptor 9 (bubblewrap, or the loader, reads it there) and joins the group.
    opened = [
        "/bin/sh",
        "-c",
        'if [ -n "$1" ]; then exec 9<"$1" || exit 125; fi; if [ -n "$2" ]; then echo $$ > "$2" || exit 125; fi; '
        'shift 2; exec "$@"',
        "sh",
        str(seccomp or ""),
        str(group or ""),
    ]
    pinned = ["taskset", "--cpu-list", ",".join(map(str, slot.cpus))] if slot and slot.cpus else []
    prlimit = [
        "prlimit",
        f"--data={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.disk_bytes}",
        f"--nofile={OPEN_FILES}",
        "--msgqueue=0",
        "--core=0",
        "--",
    ]
    variables = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **env}
    if kind == "setpriv":
        if mounts:
            raise ValueError(f"the setpriv barrier cannot mount {sorted(mounts)}: give their real paths instead")
        if not _as_root():
            raise PermissionError("the setpriv barrier needs a root grader, to run each sandbox as a user of its own")
        folder = str(writable) if writable is not None else "/"
        if writable is not None:  # the machine's /tmp is not the sandbox's: its temporary files are its own, and counted
            private = Path(writable) / ".tmp"
            variables = {k: str(private) + v[4:] if v == "/tmp" or v.startswith("/tmp/") else v for k, v in variables.items()}
            variables.update(HOME=str(private), TMPDIR=str(private))
        else:
            variables.update(HOME="/nonexistent", TMPDIR="/nonexistent")
        user = _user(slot)
        setpriv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]
        loader = [sys.executable, "-I", "-S", "-c", _LOADER, folder, *(f"{k}={v}" for k, v in variables.items()), "--"]
        return [*opened, *pinned, *prlimit, *setpriv, *loader, *argv]
    bwrap = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
    ]
    if not _as_root():
        bwrap.append("--unshare-user")
    for path in _SYSTEM:
        bwrap += ["--ro-bind-try", path, path]
    if seccomp:
        bwrap += ["--seccomp", "9"]
    size = str(limits.tmpfs_bytes)
    bwrap += ["--proc", "/proc", "--dev", "/dev"]
    bwrap += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp", "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    home = Path.home()
    if str(home) not in ("/", ""):
        bwrap += ["--tmpfs", str(home)]
    binds = _outermost([*python_paths(), *readable])
    targets = binds + ([Path(writable)] if writable is not None else []) + [Path(inside) for inside in mounts or {}]
    # bubblewrap would make the folders above a bind readable by root alone: make them explicitly.
    above = {parent for target in targets for parent in target.parents if parent != Path("/")}
    for folder in sorted(above, key=lambda p: len(p.parts)):
        if not any(folder == b or b in folder.parents for b in binds) and str(folder) not in _SYSTEM:
            bwrap += ["--perms", "0755", "--dir", str(folder)]
    for path in binds:
        bwrap += ["--ro-bind", str(path), str(path)]
    for inside, path in (mounts or {}).items():
        bwrap += ["--ro-bind", str(path), inside]
    if writable is not None:
        bwrap += ["--bind", str(writable), str(writable)]
    bwrap += ["--chdir", str(writable or "/tmp"), "--clearenv"]
    for key, value in variables.items():
        bwrap += ["--setenv", key, value]
    if _as_root():
        # The kernel applies RLIMIT_NPROC to everyone but root: inside, the command runs as the slot's user.
        bwrap += ["--", "setpriv", f"--reuid={_user(slot)}", f"--regid={_user(slot)}", "--clear-groups", "--"]
    else:
        bwrap.append("--")
    return [*opened, *pinned, *prlimit, *bwrap, *argv]


def processes_of(uid: int) -> list[int]:
    """The live processes (not zombies) any of whose user ids is ``uid``, from ``/proc``.

    Examples
    --------
    >>> os.getpid() in processes_of(os.getuid()), processes_of(FIRST_SLOT_UID - 1)
    (True, [])
    """
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path("/proc", entry.name, "status").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if str(uid) in fields.get("Uid", "").split() and not fields.get("State", "").strip().startswith(("Z", "X")):
            found.append(int(entry.name))
    return found


def _kill_all_of(uid: int) -> None:
    """Kill every process of ``uid`` in one pass of the kernel's: a child that becomes ``uid`` sends SIGKILL to -1.

    No new process of the user can start while the kernel sends it, so that a fork loop is ended at once; the child
    starts no program, so the user's process limit cannot stop it.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def end_user(uid: int, seconds: float = 30) -> list[int]:
    """End every process of sandbox user ``uid`` and wait until none is left, for at most ``seconds``; return those left.

    Only a root grader's sandboxes run as users of their own; the grader's own
    users (root, and whoever runs it) are refused.
    """
    if uid in (0, os.getuid(), os.geteuid()) or uid < FIRST_SLOT_UID and uid != NOBODY:
        raise ValueError(f"uid {uid} is not a sandbox's user: only the slots' users (from {FIRST_SLOT_UID}) are ended")
    deadline = time.monotonic() + seconds
    while True:
        alive = processes_of(uid)
        if not alive or time.monotonic() > deadline:
            return alive
        _kill_all_of(uid)
        time.sleep(0.01)


@contextlib.contextmanager
def shared_folders_locked(folders: tuple[str, ...] = SHARED_FOLDERS) -> Iterator[list[str]]:
    """While it lasts, the folders any user may write to (``/tmp``, ``/dev/shm``, ...) are writable by root alone.

    For the setpriv barrier, which has no private ``/tmp``: what a sandbox
    wrote there would count against no limit, and a tmpfs there is memory. It
    yields the folders it changed, and gives each its mode back at the end.
    """
    changed: list[tuple[str, int]] = []
    try:
        for folder in folders:
            try:
                mode = os.stat(folder, follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode) and mode & stat.S_IWOTH:
                os.chmod(folder, stat.S_IMODE(mode) & ~(stat.S_IWOTH | stat.S_IWGRP))
                changed.append((folder, stat.S_IMODE(mode)))
        yield [folder for folder, _ in changed]
    finally:
        for folder, mode in changed:
            os.chmod(folder, mode)


@contextlib.contextmanager
def setpriv_guard(private: list[Path], kind: str | None = None) -> Iterator[None]:
    """Under the setpriv barrier (``kind``, :func:`barrier`'s unless given), while it lasts: the folders ``private``
    (the submissions, the answer keys, the results) are root's alone (mode 0700), and so are the machine's shared
    writable folders (:func:`shared_folders_locked`); each gets its mode back at the end. Under bubblewrap, nothing."""
    if (kind or barrier()) != "setpriv":
        yield
        return
    changed: list[tuple[Path, int]] = []
    try:
        for folder in private:
            if folder.is_dir():
                changed.append((folder, stat.S_IMODE(folder.stat().st_mode)))
                os.chmod(folder, 0o700)
        with shared_folders_locked():
            yield
    finally:
        for folder, mode in changed:
            os.chmod(folder, mode)


# Seccomp: the filter every sandbox runs under. Each architecture's code, then the numbers of the calls it refuses
# (x86-64, ARM64), from the kernel's tables.
_ARCHITECTURES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_CALLS = {
    "shmget": (29, 194),  # System V shared memory: outlives its processes, counted nowhere
    "msgget": (68, 186),  # System V message queues: the kernel's memory
    "sched_setaffinity": (203, 122),  # leaving the processors the grader gave
    "memfd_create": (319, 279),  # in-memory files: sent over a socket and closed, in no process's file table
    "memfd_secret": (447, 447),
    "unshare": (272, 97),  # new namespaces: a user namespace's root could mount a tmpfs that nothing counts
    "setns": (308, 268),
    "mount": (165, 40),
    "fsopen": (430, 430),
    "fsmount": (432, 432),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "io_uring_setup": (425, 425),  # the kernel's own memory and threads
}
_SPECIAL = {
    "x86_64": {"clone": 56, "clone3": 435, "socket": 41, "socketpair": 53},
    "aarch64": {"clone": 220, "clone3": 435, "socket": 198, "socketpair": 199},
}
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET and NEWTIME.
_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
_AF_UNIX, _AF_NETLINK = 1, 16


def _assemble(program: list[tuple]) -> bytes:
    """Classic BPF from ``(code, true, false, k)`` rows, where a jump's target is a label (a str row marks one)."""
    rows = [row for row in program if not isinstance(row, str)]
    labels, at = {}, 0
    for row in program:
        if isinstance(row, str):
            labels[row] = at
        else:
            at += 1
    code, at = b"", 0
    for row in program:
        if isinstance(row, str):
            continue
        op, true, false, k = row
        offsets = [labels[target] - at - 1 if isinstance(target, str) else target for target in (true, false)]
        assert all(0 <= offset < 256 for offset in offsets), row
        code += struct.pack("=HBBI", op, *offsets, k)
        at += 1
    assert at == len(rows)
    return code


def _seccomp_program(machine: str, docker_like: bool = False) -> bytes | None:
    """The sandbox's classic-BPF seccomp program for ``machine``: it refuses what :data:`_CALLS` names with EPERM,
    ``clone`` with a namespace flag, ``clone3`` with ENOSYS (its flags are out of a filter's reach: the C library then
    falls back to ``clone``), sockets of families other than Unix and netlink, the x32 calls and other architectures'
    calls; it allows the rest. None on processors other than x86-64 and ARM64.

    ``docker_like``: instead, what Docker's default profile does to a container that would make namespaces (refuse
    ``unshare``, ``setns`` and ``clone`` with a namespace flag, ``clone3`` with ENOSYS), allowing the rest: for tests.

    Examples
    --------
    >>> len(_seccomp_program("x86_64")) // 8, len(_seccomp_program("x86_64", docker_like=True)) // 8
    (32, 14)
    >>> _seccomp_program("riscv64") is None
    True
    """
    if machine not in _ARCHITECTURES:
        return None
    column = 0 if machine == "x86_64" else 1
    special = _SPECIAL[machine]
    load, equal, at_least, any_bit, give = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, JEQ, JGE, JSET, BPF_RET|K
    allow, error = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO (| the errno)
    refused = ["unshare", "setns"] if docker_like else list(_CALLS)
    program: list = [(load, 0, 0, 4), (equal, 0, "foreign", _ARCHITECTURES[machine]), (load, 0, 0, 0)]
    if machine == "x86_64" and not docker_like:
        program.append((at_least, "refuse", 0, 0x40000000))  # the x32 calls
    program += [(equal, "refuse", 0, _CALLS[name][column]) for name in refused]
    program += [(equal, "no such call", 0, special["clone3"]), (equal, "clone", 0, special["clone"])]
    if not docker_like:
        program += [(equal, "socket", 0, special["socket"]), (equal, "socket", 0, special["socketpair"])]
    program.append((give, 0, 0, allow))  # every other call
    # Jumps go forward only: the checks of arguments come next, then the answers they jump to.
    program += ["clone", (load, 0, 0, 16), (any_bit, "refuse", "allow", _NAMESPACE_FLAGS)]  # its flags: the first argument
    if not docker_like:
        program += ["socket", (load, 0, 0, 16), (equal, "allow", 0, _AF_UNIX), (equal, "allow", 0, _AF_NETLINK)]
        program += [(give, 0, 0, error | errno.EAFNOSUPPORT)]
    program += ["allow", (give, 0, 0, allow), "refuse", (give, 0, 0, error | errno.EPERM)]
    program += ["no such call", (give, 0, 0, error | errno.ENOSYS)]
    program += ["foreign", (give, 0, 0, (allow if docker_like else error | errno.ENOSYS))]
    return _assemble(program)


@functools.cache
def _seccomp_filter() -> Path | None:
    """The file of this machine's seccomp program, written once per process in a private folder removed at exit."""
    program = _seccomp_program(platform.machine())
    if program is None:
        return None
    folder = tempfile.mkdtemp(prefix="booktools-seccomp-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "filter.bpf"
    path.write_bytes(program)
    return path


def _outermost(paths: list[Path]) -> list[Path]:
    """``paths`` without those inside another of them."""
    paths = sorted({Path(p).resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in paths:
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return kept


def prepare_writable(folder: Path, slot: Slot | None = None) -> None:
    """Let the sandboxed command (under a root grader: its slot's user, or nobody) write to ``folder``, nothing above it."""
    if _as_root():
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, _user(slot), _user(slot), follow_symlinks=False)
