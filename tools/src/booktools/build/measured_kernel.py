"""An IPython kernel that records its peak memory and wall time as it runs.

Started by the kernel spec that :mod:`booktools.build.kernel_usage` writes. When
``BOOK_KERNEL_RECORD`` names a file, the kernel keeps one JSON line there,
rewritten every half second and at exit: the chapter
(``BOOK_KERNEL_CHAPTER``), the peak resident memory of the kernel process in
MB, and the seconds it ran.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
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
    """Write the record so far in place of the last one, atomically."""
    line = {"chapter": chapter, "peak_memory_mb": round(peak_memory_mb(), 1), "wall_s": round(time.perf_counter() - start, 2)}
    temporary = f"{path}.part"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
    os.replace(temporary, path)


def _keep_recording(path: str, chapter: str, start: float, every: float = 0.5) -> None:
    # A kernel that is slow to shut down on a busy machine gets killed, and atexit never runs: the
    # record written half a second ago still holds its peak memory (which only grows) and nearly all its time.
    while True:
        time.sleep(every)
        _record(path, chapter, start)


def main() -> None:
    """Run an IPython kernel, recording its usage as it runs and at exit."""
    start = time.perf_counter()
    path = os.environ.get(RECORD_VARIABLE)
    if path:
        chapter = os.environ.get(CHAPTER_VARIABLE, "unknown")
        _record(path, chapter, start)
        threading.Thread(target=_keep_recording, args=(path, chapter, start), name="kernel-usage", daemon=True).start()
        atexit.register(_record, path, chapter, start)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
