"""Run an untrusted command in a bubblewrap sandbox: read-only Python, one writable folder, no network.

The grader (:mod:`booktools.grade`) runs each student's kernel, and the judge
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
its writable folder, :class:`booktools.watchdog.Watchdog` watches from
outside.

These need nothing but Debian's ``bubblewrap`` and util-linux's
``prlimit``, ``setpriv`` and ``taskset``: no daemon and no root.
"""

from __future__ import annotations

import atexit
import errno
import functools
import os
import platform
import shutil
import site
import struct
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_LIMITS", "FIRST_SLOT_UID", "NOBODY", "Limits", "Slot", "available", "command", "python_paths", "slots"]

NOBODY = 65534
# Under a root grader, the slots' users start here, far above the users and container ranges of real systems; each
# grading process has 256 of its own (by its process id, below 2**22), so that two graders at once share none.
FIRST_SLOT_UID = 2_000_000_000
_SLOTS_PER_GRADER = 256
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/sys/devices/system/cpu")


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use.

    ``memory_bytes`` bounds each process's data (``RLIMIT_DATA``) and, watched
    by :class:`booktools.watchdog.Watchdog`, the memory of all its processes
    together; ``processes`` counts processes plus threads; ``disk_bytes``
    bounds the writable folder, each file, and each of ``/tmp`` and ``/dev/shm``.
    """

    memory_bytes: int = 3 << 30
    processes: int = 256
    disk_bytes: int = 1 << 30


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


def slots(jobs: int, available: set[int] | None = None) -> list[Slot | None]:
    """The slots of ``jobs`` sandboxes run at once, this process's processors dealt out in turn; [None] for one job.

    Examples
    --------
    >>> [s.cpus for s in slots(2, {0, 1, 2, 3})], [s.cpus for s in slots(3, {0, 1})], slots(1)
    ([(0, 2), (1, 3)], [(0,), (1,), (0,)], [None])
    """
    if jobs <= 1:
        return [None]
    cpus = sorted(os.sched_getaffinity(0) if available is None else available)
    return [Slot(job, tuple(cpus[job::jobs] or [cpus[job % len(cpus)]]), os.getpid()) for job in range(jobs)]


def _as_root() -> bool:
    return os.geteuid() == 0


def _user(slot: Slot | None) -> int:
    """Whom a root grader runs the sandbox as: the slot's own user, or nobody."""
    return slot.uid if slot else NOBODY


def available() -> str | None:
    """None if a sandbox can start here; otherwise why not, in one sentence."""
    for tool, package in (
        ("bwrap", "bubblewrap"),
        ("prlimit", "util-linux"),
        ("setpriv", "util-linux"),
        ("taskset", "util-linux"),
    ):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install {package})"
    probe = command(["true"], writable=None, readable=[], env={})
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start ({error})"
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bubblewrap could not start a sandbox here ({detail}); unprivileged user namespaces may be disabled"
    return None


def python_paths() -> list[Path]:
    """The folders the sandboxed Python needs to read: its installation and its packages."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sysconfig.get_paths()["stdlib"])}
    paths.update(Path(p) for p in site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        paths.add(Path(site.getusersitepackages()))
    paths.add(Path(sys.executable).resolve().parent.parent)
    return sorted(p.resolve() for p in paths if p.exists())


def command(
    argv: list[str],
    writable: Path | None,
    readable: list[Path],
    env: dict[str, str],
    limits: Limits | None = None,
    mounts: dict[str, Path] | None = None,
    slot: Slot | None = None,
) -> list[str]:
    """The command line that runs ``argv`` in a sandbox, within ``limits`` (set by util-linux's ``prlimit``), in ``slot``."""
    limits = limits or DEFAULT_LIMITS
    pinned = ["taskset", "--cpu-list", ",".join(map(str, slot.cpus))] if slot and slot.cpus else []
    prlimit = [
        "prlimit",
        f"--data={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.disk_bytes}",
        "--core=0",
        "--",
    ]
    seccomp = _seccomp_filter()
    # bubblewrap reads the seccomp filter from a file descriptor: a shell opens it as descriptor 9, then becomes prlimit.
    opened = ["/bin/sh", "-c", 'filter="$1"; shift; exec "$@" 9<"$filter"', "sh", str(seccomp)] if seccomp else []
    bwrap = [
        *opened,
        *pinned,
        *prlimit,
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
    size = str(limits.disk_bytes)
    bwrap += ["--proc", "/proc", "--dev", "/dev"]
    bwrap += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp", "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    home = Path.home()
    if str(home) not in ("/", ""):
        bwrap += ["--tmpfs", str(home)]
    binds = _outermost([*python_paths(), *readable])
    targets = binds + ([Path(writable)] if writable is not None else [])
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
    variables = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **env}
    for key, value in variables.items():
        bwrap += ["--setenv", key, value]
    if _as_root():
        # The kernel applies RLIMIT_NPROC to everyone but root: inside, the command runs as nobody.
        bwrap += ["--", "setpriv", f"--reuid={_user(slot)}", f"--regid={_user(slot)}", "--clear-groups", "--"]
    else:
        bwrap.append("--")
    return bwrap + list(argv)


# The calls the sandbox may not make, by processor: seccomp's code of the architecture, then the numbers of
# shmget (System V shared memory) and sched_setaffinity (leaving the processors the grader gave it).
_REFUSED_CALLS = {"x86_64": (0xC000003E, (29, 203)), "aarch64": (0xC00000B7, (194, 122))}


def _seccomp_program(machine: str) -> bytes | None:
    """A classic-BPF seccomp program that fails ``shmget`` and ``sched_setaffinity`` with EPERM and allows every other call.

    On x86-64 it also fails the x32 system calls (numbers from 0x40000000), through which those could be reached too.
    None on processors other than x86-64 and ARM64.

    Examples
    --------
    >>> len(_seccomp_program("x86_64")) // 8, _seccomp_program("riscv64")
    (9, None)
    """
    if machine not in _REFUSED_CALLS:
        return None
    arch, refused_calls = _REFUSED_CALLS[machine]
    load, jump_equal, jump_at_least, give = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, refuse = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    x32 = 0x40000000 if machine == "x86_64" else 0xFFFFFFFF
    checks = [x32, *refused_calls]
    program = [
        (load, 0, 0, 4),  # the architecture
        (jump_equal, 1, 0, arch),
        (give, 0, 0, allow),  # another architecture's calls: not this filter's business
        (load, 0, 0, 0),  # the system call's number
    ]
    for index, number in enumerate(checks):  # each jumps, when it matches, over the checks after it and the allow
        program.append((jump_at_least if index == 0 else jump_equal, len(checks) - index, 0, number))
    program += [(give, 0, 0, allow), (give, 0, 0, refuse)]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


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
