"""A summary of a book build for a CI job: which chapter ran how long, in how much memory, on which device.

Reads the built execution-statistics page, whose ``{nb-exec-table}`` lists
every executed chapter, the record of the machine that this page's chapter
writes as it executes, and the kernel record of :mod:`booktools.build.kernel_usage`,
and writes a Markdown table::

    python -m booktools report _build/html >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bs4 import BeautifulSoup

from booktools import cli
from booktools.build.kernel_usage import machine_file, read_usage, usage_file

__all__ = ["read_execution_page", "read_device", "summary_markdown"]

STATISTICS_PAGE = Path("book") / "execution-statistics.html"
RUN_TIME = "Run Time (s)"


def read_execution_page(html_dir: str | Path) -> list[dict[str, str]]:
    """The rows of the execution table of a built book, read with BeautifulSoup.

    Raises
    ------
    FileNotFoundError
        If the build has no execution-statistics page.
    ValueError
        If the page holds no execution table.
    """
    path = Path(html_dir) / STATISTICS_PAGE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build the book first (jupyter-book build .).")
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    for table in soup.find_all("table"):
        header = [cell.get_text(" ", strip=True) for cell in table.find_all("th")]
        if RUN_TIME in header:
            body = table.find("tbody") or table
            rows = [[cell.get_text(" ", strip=True) for cell in row.find_all("td")] for row in body.find_all("tr")]
            return [dict(zip(header, row)) for row in rows if row]
    raise ValueError(f"{path} has no execution table: keep the {{nb-exec-table}} directive on that page.")


def read_device(html_dir: str | Path) -> str:
    """The device the chapters ran on, from the machine record of the build, or ``"unknown"`` without one.

    Examples
    --------
    >>> read_device("no-build/html")
    'unknown'
    """
    try:
        machine = json.loads(machine_file(html_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    return f"{machine.get('device', '?')} ({machine.get('device name', '?')})"


def summary_markdown(html_dir: str | Path) -> str:
    """A Markdown table: chapter, execution time, peak memory, status and device.

    Examples
    --------
    >>> print(summary_markdown("no-build/html"))
    ### Book build
    <BLANKLINE>
    No execution statistics: no-build/html/book/execution-statistics.html not found: build the book first (jupyter-book build .).
    """
    try:
        rows = read_execution_page(html_dir)
    except (FileNotFoundError, ValueError) as error:
        return f"### Book build\n\nNo execution statistics: {error}"
    device = read_device(html_dir)
    try:
        memory = {record["chapter"]: record["peak_memory_mb"] for record in read_usage(usage_file(html_dir))}
    except FileNotFoundError:
        memory = {}
    lines = [
        "### Book build",
        "",
        "| chapter | execution time (s) | kernel peak memory (MB) | status | device |",
        "| --- | ---: | ---: | :---: | --- |",
    ]
    for row in rows:
        chapter = row.get("Document", "?")
        peak = f"{memory[chapter]:,.0f}" if chapter in memory else "?"
        lines.append(f"| {chapter} | {row.get(RUN_TIME, '?')} | {peak} | {row.get('Status', '?')} | {device} |")
    total = sum(float(row.get(RUN_TIME) or 0) for row in rows)
    lines += ["", f"{len(rows)} chapters, {total:.0f} s of execution in total (the build runs them side by side)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the summary of a built site."""
    command = cli.parser(
        f"{cli.COMMAND} report",
        "Print a Markdown summary of a book build: each chapter's execution time, peak memory, status and device.",
        'python -m booktools report _build/html >> "$GITHUB_STEP_SUMMARY"',
    )
    command.add_argument("html", nargs="?", type=Path, default=Path("_build/html"), help="the built site (default: _build/html)")
    options = command.parse_args(argv)
    if not options.html.is_dir():
        command.error(f"{options.html} is not a folder: give the built site, such as _build/html (build the book first).")
    print(summary_markdown(options.html))
    return 0


if __name__ == "__main__":
    sys.exit(main())
