"""The one way the book runs a notebook, and the one place that decides how.

Every tool that executes notebooks goes through :func:`run_notebook`
(nbclient): the book build's execution extension
(:mod:`booktools.build.execution`), the Colab watch (:mod:`booktools.publish.colab_watch`)
and the tests. What a run gets is decided here:

* :data:`CELL_TIMEOUT`, the seconds one cell may run; the build gives it to
  myst-nb too, so ``_config.yml`` names no timeout;
* :func:`kernel_environment`, the variables the book's kernels run with (the
  PyTorch threads, the MNIST mode, the training steps), by the names that
  ``cnnlab.environment`` owns;
* :func:`kernel_transport`, how a kernel talks to its client: over sockets in
  a folder of the run's own, which no other process can take.

This file needs nothing but nbformat, nbclient (with the traitlets it brings) and the standard library, so
that the Colab watch runs it in Colab's own image, where the book's packages
are not installed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CELL_TIMEOUT", "STATUSES", "NotebookRun", "kernel_environment", "kernel_transport", "run_notebook"]

CELL_TIMEOUT = 900  # a training cell runs about a minute on 2 cores: ample room, and a stuck cell still ends
STATUSES = ("passed", "failed", "timed out", "kernel died")


@dataclass(frozen=True)
class NotebookRun:
    """What happened to one notebook: its status, time and, when it failed, where and why.

    ``cell`` counts the notebook's code cells from 1; ``notebook`` names the
    notebook in reports, when the caller gives it a name.
    """

    status: str
    seconds: float
    cell: int | None = None
    source: str = ""
    error: str = ""
    notebook: str = ""


def kernel_environment(
    threads: int = 1, mnist: str | None = None, training_steps: int | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a book kernel: ``base`` (default: this process's) with the book's settings.

    ``threads`` sets PyTorch's (and OpenMP's) threads; ``mnist`` the MNIST
    mode and ``training_steps`` a cap on the training loops, when given
    (otherwise ``base`` decides, and the chapters' defaults apply).

    Examples
    --------
    >>> env = kernel_environment(threads=2, mnist="sample", base={})
    >>> env["CNNLAB_THREADS"], env["OMP_NUM_THREADS"], env["CNNLAB_MNIST"]
    ('2', '2', 'sample')
    >>> "CNNLAB_MNIST" in kernel_environment(base={})
    False
    """
    from cnnlab import environment

    env = dict(os.environ if base is None else base)
    env[environment.THREADS] = env["OMP_NUM_THREADS"] = str(threads)
    if mnist is not None:
        env[environment.MNIST_MODE] = mnist
    if training_steps is not None:
        env[environment.TRAINING_STEPS] = str(training_steps)
    return env


def kernel_transport(folder: str | os.PathLike):
    """The kernel manager's settings: on Linux and macOS the kernel talks over sockets in ``folder``, its own.

    Over TCP, jupyter_client picks free ports, lets them go, and the kernel
    binds them a moment later: a kernel that another process starts in between
    can take one, and the kernel then never answers (``Kernel didn't respond``),
    which the book's side-by-side build and the tests' parallel kernels make
    likely. Socket files in a folder of the run's own cannot be taken.
    Windows has no such sockets, and keeps TCP.

    Examples
    --------
    >>> settings = kernel_transport("/tmp/run")  # on Linux
    >>> settings.KernelManager.transport, settings.KernelManager.ip
    ('ipc', '/tmp/run/kernel')
    """
    from traitlets.config import Config

    if os.name != "posix":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "kernel")}})


def run_notebook(
    notebook,
    folder: str | os.PathLike,
    env: Mapping[str, str] | None = None,
    timeout: int = CELL_TIMEOUT,
    allow_errors: bool = False,
    kernel_name: str | None = None,
) -> NotebookRun:
    """Execute ``notebook`` (an nbformat notebook, in place) in a kernel started in ``folder``.

    ``env`` is the kernel's environment (default: this process's); ``timeout``
    bounds each cell, in seconds; ``kernel_name`` defaults to the notebook's
    own. A timeout or a dead kernel says so, whatever the interrupted cell
    printed; with ``allow_errors`` a failing cell does not stop the run, and
    the first failing cell is still reported.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    options = {"kernel_name": kernel_name} if kernel_name else {}
    status, reason = "passed", ""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="booktools-sockets-") as sockets:
        client = NotebookClient(
            notebook,
            timeout=timeout,
            allow_errors=allow_errors,
            record_timing=False,  # jupyter-cache hashes the cells' metadata: keep timings out of it
            resources={"metadata": {"path": os.fspath(folder)}},
            config=kernel_transport(sockets),
            **options,
        )
        try:
            client.execute(**({} if env is None else {"env": dict(env)}))  # env=None would reach the kernel provisioner
        except CellTimeoutError as error:
            status, reason = "timed out", f"a cell ran longer than {timeout} s ({' '.join(str(error).split())[:200]})"
        except DeadKernelError as error:
            status, reason = "kernel died", f"the kernel died ({error})"
        except CellExecutionError:
            status = "failed"
    seconds = time.perf_counter() - start
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code, 1):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue  # an error shown on purpose
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                error = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
                return NotebookRun("failed" if status == "passed" else status, seconds, number, cell.source, reason or error)
    if status == "passed":
        return NotebookRun(status, seconds)
    # A timeout or a dead kernel leaves no error output: the cell that was running is the first without a count.
    running = next((n for n, c in enumerate(code, 1) if c.get("execution_count") is None), None)
    return NotebookRun(status, seconds, running, code[running - 1].source if running else "", reason)
