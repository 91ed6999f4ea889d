"""Each chapter's kernel, measured during the book build: peak memory and wall time.

mybinder.org gives a notebook 1 to 2 GB of memory, so the book keeps every
chapter's kernel well under that. This Sphinx extension (listed in
``_config.yml``) makes the build measure it:

* when the build starts, it points Jupyter at a ``python3`` kernel that runs
  :mod:`booktools.measured_kernel`, which appends one JSON line (chapter, peak
  resident memory, wall time) to ``_build/kernel-usage.jsonl`` when it exits;
* before each chapter is read (and executed), it names the chapter in the
  environment the kernel inherits;
* it reads the page that shows the table (``kernel_usage_page``) last, so
  that every other chapter has been measured when that page executes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = ["CHAPTER_VARIABLE", "USAGE_VARIABLE", "machine_file", "read_usage", "setup", "usage_file"]

USAGE_VARIABLE = "BOOK_KERNEL_USAGE"
CHAPTER_VARIABLE = "BOOK_KERNEL_CHAPTER"


def usage_file(outdir: str | os.PathLike) -> Path:
    """Where a build whose HTML goes to ``outdir`` records its kernels.

    Examples
    --------
    >>> usage_file("_build/html").as_posix()
    '_build/kernel-usage.jsonl'
    """
    return Path(outdir).parent / "kernel-usage.jsonl"


def machine_file(outdir: str | os.PathLike) -> Path:
    """Where the execution-statistics chapter of a build whose HTML goes to ``outdir`` records the machine.

    The chapter writes it beside the kernel record (``BOOK_KERNEL_USAGE``).

    Examples
    --------
    >>> machine_file("_build/html").as_posix()
    '_build/build-machine.json'
    """
    return usage_file(outdir).with_name("build-machine.json")


def read_usage(path: str | os.PathLike) -> list[dict]:
    """The records of a build, one per executed chapter, in execution order.

    Raises
    ------
    FileNotFoundError
        If the build recorded nothing there.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build the book (jupyter-book build .) with booktools.kernel_usage enabled.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _start(app) -> None:
    usage = usage_file(app.outdir)
    usage.parent.mkdir(parents=True, exist_ok=True)
    usage.write_text("", encoding="utf-8")
    spec_dir = usage.parent / "kernel-usage-spec"
    kernel_dir = spec_dir / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "booktools.measured_kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (measured)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(spec_dir.resolve()), os.environ.get("JUPYTER_PATH")]))
    os.environ[USAGE_VARIABLE] = str(usage.resolve())


def _read_usage_page_last(app, env, docnames: list[str]) -> None:
    page = app.config.kernel_usage_page
    if page in docnames:
        docnames.remove(page)
        docnames.append(page)


def _name_chapter(app, docname: str, source: list[str]) -> None:
    os.environ[CHAPTER_VARIABLE] = docname


def setup(app) -> dict:
    """Register the extension with Sphinx."""
    app.add_config_value("kernel_usage_page", "book/execution-statistics", "env")
    app.connect("builder-inited", _start)
    app.connect("env-before-read-docs", _read_usage_page_last)
    app.connect("source-read", _name_chapter)
    # One chapter is read at a time: each kernel learns its chapter from the environment.
    return {"parallel_read_safe": False, "parallel_write_safe": True}
