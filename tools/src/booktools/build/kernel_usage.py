"""Each chapter's kernel, measured when the book executes it: peak memory and wall time.

mybinder.org gives a notebook 1 to 2 GB of memory, so the book keeps every
chapter's kernel well under that. This Sphinx extension (listed in
``_config.yml``) makes the build measure it and show it:

* when the build starts, it points Jupyter at a ``python3`` kernel that runs
  :mod:`booktools.build.measured_kernel`, which writes one JSON line (chapter, peak
  resident memory, wall time) to the file named by ``BOOK_KERNEL_RECORD``
  as it runs; :mod:`booktools.build.execution` gives each chapter's kernel a file
  of its own and keeps the line with the chapter's cached outputs;
* :mod:`booktools.build.execution` then writes the record of every chapter the site
  shows to ``_build/kernel-usage.jsonl`` (:func:`write_usage`), whether it
  ran in this build or came from the cache;
* the ``{kernel-usage-table}`` directive shows that record as a table, filled
  in when the page is written, so it is never older than the chapters.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

__all__ = [
    "USAGE_VARIABLE",
    "machine_file",
    "read_usage",
    "setup",
    "usage_file",
    "usage_table",
    "write_usage",
]

USAGE_VARIABLE = "BOOK_KERNEL_USAGE"
BUDGET_MB = 1500


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


def write_usage(path: str | os.PathLike, records: list[dict]) -> None:
    """Write the kernel records of a build, one JSON line per chapter."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def read_usage(path: str | os.PathLike) -> list[dict]:
    """The records of a build, one per executed chapter.

    Raises
    ------
    FileNotFoundError
        If the build recorded nothing there.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: build the book (jupyter-book build .) with booktools.build.execution enabled."
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _start(app) -> None:
    usage = usage_file(app.outdir)
    spec_dir = usage.parent / "kernel-usage-spec"
    kernel_dir = spec_dir / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "booktools.build.measured_kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (measured)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(spec_dir.resolve()), os.environ.get("JUPYTER_PATH")]))
    # The execution-statistics chapter writes the machine record beside the kernel record.
    os.environ[USAGE_VARIABLE] = str(usage.resolve())


def usage_table(records: list[dict]) -> list[nodes.Node]:
    """Docutils nodes: a table of chapter, peak memory and wall time, and a line on the largest."""
    if not records:
        return [nodes.paragraph(text="No chapter's kernel was measured in this build.")]
    table = nodes.table(classes=["colwidths-auto", "kernel-usage"])
    group = nodes.tgroup(cols=3)
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in range(3))
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body

    def row(cells, parent):
        line = nodes.row()
        line.extend(nodes.entry("", nodes.paragraph(text=text)) for text in cells)
        parent += line

    row(["chapter", "peak memory (MB)", "wall time (s)"], head)
    for record in records:
        row([record["chapter"], f"{record['peak_memory_mb']:,.0f}", f"{record['wall_s']:.1f}"], body)
    largest = max(records, key=lambda record: record["peak_memory_mb"])
    summary = nodes.paragraph(
        text=f"Largest: {largest['chapter']}, {largest['peak_memory_mb']:,.0f} MB; budget: {BUDGET_MB:,} MB."
    )
    return [table, summary]


class KernelUsagePlaceholder(nodes.General, nodes.Element):
    """Where the table goes; filled in when the page is written."""


class KernelUsageTable(SphinxDirective):
    """``{kernel-usage-table}``: each chapter's kernel peak memory and wall time."""

    def run(self):
        self.env.kernel_usage_pages = getattr(self.env, "kernel_usage_pages", set()) | {self.env.docname}
        return [KernelUsagePlaceholder()]


class FillKernelUsageTable(SphinxPostTransform):
    """Replace each placeholder with the table of the build's kernel record."""

    default_priority = 8

    def run(self, **kwargs) -> None:
        path = usage_file(self.app.outdir)
        for node in list(self.document.findall(KernelUsagePlaceholder)):
            node.replace_self(usage_table(read_usage(path) if path.is_file() else []))


def _pages_with_the_table(app, env) -> list[str]:
    # Written again at every build, so that the table always shows the chapters the site shows.
    return sorted(getattr(env, "kernel_usage_pages", set()))


def setup(app) -> dict:
    """Register the extension with Sphinx."""
    app.add_node(KernelUsagePlaceholder)
    app.add_directive("kernel-usage-table", KernelUsageTable)
    app.add_post_transform(FillKernelUsageTable)
    app.connect("builder-inited", _start)
    app.connect("env-updated", _pages_with_the_table)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
