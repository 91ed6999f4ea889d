"""A summary of a book build for a CI job: which chapter ran how long, on which device.

Reads the built execution-statistics page, whose ``{nb-exec-table}`` lists
every executed chapter and whose first cell prints the device, and writes a
Markdown table::

    python -m cnnlab.report _build/html >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["ExecutionPage", "read_execution_page", "summary_markdown"]

STATISTICS_PAGE = Path("book") / "execution-statistics.html"


class ExecutionPage(HTMLParser):
    """Collects the rows of the first table and the text of the code outputs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.outputs: list[str] = []
        self._table_depth = 0
        self._tables_seen = 0
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._pre = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table_depth += 1
        elif tag == "tr" and self._table_depth and self._tables_seen == 0:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "pre":
            self._pre = True
            self.outputs.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table_depth -= 1
            self._tables_seen += 1
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "pre":
            self._pre = False

    def handle_data(self, text):
        if self._cell is not None:
            self._cell.append(text)
        if self._pre:
            self.outputs[-1] += text


def read_execution_page(html_dir: str | Path) -> tuple[list[dict[str, str]], str]:
    """The execution table's rows and the device line of a built book.

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
    page = ExecutionPage()
    page.feed(path.read_text(encoding="utf-8"))
    if len(page.rows) < 2:
        raise ValueError(f"{path} has no execution table: keep the {{nb-exec-table}} directive on that page.")
    header, *body = page.rows
    rows = [dict(zip(header, row)) for row in body]
    device = next((line for text in page.outputs for line in text.splitlines() if line.startswith("device:")), "device: unknown")
    return rows, device.removeprefix("device:").strip()


def summary_markdown(html_dir: str | Path) -> str:
    """A Markdown table: chapter, execution time, status and device.

    Examples
    --------
    >>> print(summary_markdown("no-such-build"))
    ### Book build
    <BLANKLINE>
    No execution statistics: no-such-build/book/execution-statistics.html not found: build the book first (jupyter-book build .).
    """
    try:
        rows, device = read_execution_page(html_dir)
    except (FileNotFoundError, ValueError) as error:
        return f"### Book build\n\nNo execution statistics: {error}"
    lines = ["### Book build", "", "| chapter | execution time (s) | status | device |", "| --- | ---: | :---: | --- |"]
    for row in rows:
        lines.append(f"| {row.get('Document', '?')} | {row.get('Run Time (s)', '?')} | {row.get('Status', '?')} | {device} |")
    total = sum(float(row.get("Run Time (s)") or 0) for row in rows)
    lines += ["", f"{len(rows)} chapters executed in {total:.0f} s in total."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the summary of the build in ``argv[0]`` (default ``_build/html``)."""
    argv = sys.argv[1:] if argv is None else argv
    print(summary_markdown(argv[0] if argv else "_build/html"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
