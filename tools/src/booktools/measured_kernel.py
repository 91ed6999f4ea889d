"""An IPython kernel that records its peak memory and wall time when it exits.

Started by the kernel spec that :mod:`booktools.kernel_usage` writes. When
``BOOK_KERNEL_RECORD`` names a file, the kernel appends one JSON line to it
at exit: the chapter (``BOOK_KERNEL_CHAPTER``), the peak resident memory of
the kernel process in MB, and the seconds it ran.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time

# The kernel imports nothing of the build (Sphinx is slow to import); the build imports these names from here.
RECORD_VARIABLE = "BOOK_KERNEL_RECORD"
CHAPTER_VARIABLE = "BOOK_KERNEL_CHAPTER"


def peak_memory_mb() -> float:
    """The peak resident memory of this process so far, in MB (10**6 bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def _record(path: str, chapter: str, start: float) -> None:
    line = {"chapter": chapter, "peak_memory_mb": round(peak_memory_mb(), 1), "wall_s": round(time.perf_counter() - start, 2)}
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def main() -> None:
    """Run an IPython kernel, recording its usage at exit."""
    start = time.perf_counter()
    if os.environ.get(RECORD_VARIABLE):
        atexit.register(_record, os.environ[RECORD_VARIABLE], os.environ.get(CHAPTER_VARIABLE, "unknown"), start)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
