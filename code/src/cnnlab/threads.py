"""How many CPU threads PyTorch should use: what the process may really run on, less one core for the rest.

PyTorch starts one thread per core it can see. A container with a CPU quota
(a free Binder session has a fraction of a CPU) still sees every core of its
host, and a laptop or a CI runner busy with other work has fewer cores free
than it has. PyTorch's threads then wait for one another, and while they wait
they spin, so a small network can train several times slower with two
threads than with one. :func:`recommended_threads` counts the cores this
process may use (its CPU affinity and its cgroup quota) and leaves one of
them to the rest of the machine: on a busy machine that keeps training close
to its idle speed, and on an idle one it costs little, since a network this
small gains little from the last core.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .environment import THREADS, setting

__all__ = ["available_cpus", "cpu_quota", "recommended_threads", "requested_threads", "use_available_cpus"]

CGROUP = Path("/sys/fs/cgroup")
# Set by whatever shares the machine out: the book's build runs chapters side by side, one thread each.


def cpu_quota(cgroup: Path = CGROUP) -> float | None:
    """The cores this process's cgroup may use (``2.5`` for a quota of 250 ms per 100 ms), or None without a quota.

    Reads cgroup v2's ``cpu.max``, else cgroup v1's ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``.

    Examples
    --------
    >>> cpu_quota(Path("/no/such/cgroup")) is None
    True
    """
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" or int(period) <= 0 or int(quota) <= 0 else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def available_cpus(cgroup: Path = CGROUP) -> float:
    """The cores this process may run on: its CPU affinity, capped by its cgroup quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return float(cores) if quota is None else min(float(cores), quota)


def recommended_threads(cpus: float | None = None) -> int:
    """PyTorch threads for ``cpus`` usable cores: all whole cores but one, and at least one.

    Examples
    --------
    >>> [recommended_threads(cpus) for cpus in (0.5, 1, 2, 2.5, 4, 16)]
    [1, 1, 1, 1, 3, 15]
    """
    cpus = available_cpus() if cpus is None else cpus
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not math.isfinite(cpus) or cpus <= 0:
        raise ValueError(f"cpus={cpus} is not a number of cores: pass a positive number, such as 2.")
    return max(1, math.floor(cpus) - 1)


def requested_threads(environ: dict[str, str] | None = None) -> int | None:
    """The thread count that ``CNNLAB_THREADS`` asks for, or None when it is not set.

    Raises
    ------
    ValueError
        If the variable is set to anything but a positive whole number.

    Examples
    --------
    >>> requested_threads({"CNNLAB_THREADS": "1"}), requested_threads({})
    (1, None)
    """
    value = setting(THREADS, environ)
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{THREADS}={value!r} is not a number of threads: set it to a positive whole number, "
            f"such as 1, or unset it to let cnnlab choose."
        )
    return int(value)


def use_available_cpus() -> str:
    """Set PyTorch's thread count to :func:`recommended_threads`, or to ``CNNLAB_THREADS`` when it is set; say what and why."""
    import torch  # here, not above: the book build asks this module how many cores there are, and needs no torch

    cpus, before = available_cpus(), torch.get_num_threads()
    requested = requested_threads()
    if requested is not None:
        torch.set_num_threads(requested)
        return (
            f"PyTorch uses {requested} CPU thread(s) (it would have started {before}), as the environment "
            f"variable {THREADS} asks: other work shares this machine's {cpus:g} core(s)."
        )
    threads = recommended_threads(cpus)
    torch.set_num_threads(threads)
    return (
        f"PyTorch uses {threads} CPU thread(s) (it would have started {before}): this process may use "
        f"{cpus:g} core(s), and one is left to the rest of the machine."
    )
