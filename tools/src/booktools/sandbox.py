"""Run an untrusted command in a bubblewrap sandbox: read-only Python, one writable folder, no network.

The grader (:mod:`booktools.grade`) runs each student's kernel, and the judge
of its answers, through :func:`command`. What the sandbox allows:

* reading the system (``/usr``, ``/etc``, ...), the Python installation and
  its packages, and the folders passed as ``readable``: all read-only, so an
  editable install of ``cnnlab`` cannot be changed through it;
* writing to the one folder passed as ``writable`` and to a private ``/tmp``;
* nothing else: the grader's home folder is hidden behind an empty one, the
  repository, the answer keys, the other submissions and the output folder
  are not there at all, the environment is emptied (only ``env`` is set),
  and there is no network (a new network namespace with only its loopback).

It runs in new PID, IPC, UTS and network namespaces, so that killing the
sandbox kills everything started inside it (``--die-with-parent``), in a new
session (no terminal to type into). Limits, set with ``setrlimit`` before the
sandbox starts, and inherited by everything inside: address space is not
limited (PyTorch reserves far more than it uses), but the *data* each
process may allocate is (``RLIMIT_DATA``, which counts heap and anonymous
mappings), and so is the number of processes and threads
(``RLIMIT_NPROC``). The kernel does not apply ``RLIMIT_NPROC`` to root, so a
grader running as root starts the sandboxed command as the unprivileged
``nobody`` (uid 65534); an unprivileged grader gets a user namespace, in which
the kernel counts the sandbox's processes apart from the grader's. Together
the two limits bound the sandbox's memory (processes times data limit).
These need nothing but Debian's ``bubblewrap`` and the ``setpriv`` of
util-linux: no daemon and no root.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_LIMITS", "NOBODY", "Limits", "available", "command", "python_paths"]

NOBODY = 65534
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/sys/devices/system/cpu")


@dataclass(frozen=True)
class Limits:
    """What one sandbox may use: bytes of data per process, and processes plus threads."""

    memory_bytes: int = 3 << 30
    processes: int = 256


DEFAULT_LIMITS = Limits()


def _as_root() -> bool:
    return os.geteuid() == 0


def available() -> str | None:
    """None if a sandbox can start here; otherwise why not, in one sentence."""
    for tool, package in (("bwrap", "bubblewrap"), ("prlimit", "util-linux"), ("setpriv", "util-linux")):
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
) -> list[str]:
    """The command line that runs ``argv`` in a sandbox, within ``limits`` (set by util-linux's ``prlimit``)."""
    limits = limits or DEFAULT_LIMITS
    prlimit = ["prlimit", f"--data={limits.memory_bytes}", f"--nproc={limits.processes}", "--core=0", "--"]
    bwrap = [
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
    bwrap += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
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
        bwrap += ["--", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    else:
        bwrap.append("--")
    return bwrap + list(argv)


def _outermost(paths: list[Path]) -> list[Path]:
    """``paths`` without those inside another of them."""
    paths = sorted({Path(p).resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in paths:
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return kept


def prepare_writable(folder: Path) -> None:
    """Let the sandboxed command (nobody, when the grader is root) write to ``folder`` and nothing above it."""
    if _as_root():
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
