"""The book as two PDFs, printed by Chromium from the single-page HTML build.

Run it after the site is built, from the repository root::

    python -m booktools pdf

It builds the executed book as one HTML page (``jupyter-book build . --builder
custom --custom-builder singlehtml``, which takes the chapters' outputs from
the execution cache the site's build filled), opens that page in Debian's
Chromium through Playwright, waits for MathJax to typeset every formula, turns
the page into a book (``print/prepare.js``: a title page, numbered parts and
chapters, a table of contents with page numbers, hints open, each animation's
first frame with a sentence, no buttons) and prints it with ``print/print.css``
twice: the students' edition without the solutions and the instructors'
edition with them. The table of contents takes its page numbers from a first
printing, read back with poppler's ``pdfinfo``.

The PDFs go to ``_build/pdf/`` and into the site, ``_build/html/pdf/``, where
the foot of every page links to them (:mod:`booktools.publish.footer`). Nothing is
printed half-done: a formula MathJax did not typeset, an image that did not
load or a solution left in the students' edition stops the command with an
error.

Why Chromium and not LaTeX: it prints what the site shows, with the same
executed outputs, figures and self-hosted MathJax, and the browser tests
already install it; Jupyter Book's LaTeX route needs a TeX Live of several
hundred megabytes, prints hidden solutions unless each is excluded, and
cannot show the step-through animations' frames or the HTML outputs.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from booktools import cli
from booktools.publish.citation import read_citation

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "EDITIONS",
    "Edition",
    "PrintedEdition",
    "main",
    "named_destinations",
    "pdf_page_count",
    "print_book",
    "single_page_build",
]

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, as root in a container, with nothing fetched in the background.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
PRINT_DIR = Path(__file__).parent / "print"
PAGE = "book.html"


@dataclass(frozen=True)
class Edition:
    """One printed edition of the book."""

    name: str
    filename: str
    label: str
    solutions: bool


EDITIONS = (
    Edition("students", "cnn-book-students.pdf", "Students' edition: the exercises without their solutions", False),
    Edition("instructors", "cnn-book-instructors.pdf", "Instructors' edition: the exercises with their solutions", True),
)


@dataclass(frozen=True)
class PrintedEdition:
    """A PDF written by :func:`print_book`, with what it holds."""

    edition: Edition
    path: Path
    pages: int
    chapters: tuple[str, ...]
    images: int


def single_page_build(root: Path, path_output: Path) -> Path:
    """Build the book as one HTML page under ``path_output/_build/singlehtml``; return the page.

    The chapters' outputs come from the execution cache in ``path_output``;
    stale or missing ones are executed first (:mod:`booktools.build.execution`).

    Raises
    ------
    RuntimeError
        If the build fails, with the end of its log.
    """
    jupyter_book = shutil.which("jupyter-book") or "jupyter-book"
    command = [jupyter_book, "build", str(root), "--builder", "custom", "--custom-builder", "singlehtml"]
    command += ["-W", "-n", "--keep-going", "--path-output", str(path_output)]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        log = (process.stdout + process.stderr)[-4000:]
        raise RuntimeError(f"the single-page build failed ({' '.join(command)}):\n{log}")
    out = path_output / "_build" / "singlehtml"
    # Sphinx writes the root document as book/index.html with links relative to the build folder: move it there.
    page = out / PAGE
    shutil.copyfile(out / "book" / "index.html", page)
    return page


def _poppler(tool: str) -> str:
    if shutil.which(tool) is None:
        raise FileNotFoundError(f"{tool} not found: install poppler (apt-get install poppler-utils).")
    return tool


def pdf_page_count(pdf: Path) -> int:
    """The number of pages of ``pdf``, read by poppler's ``pdfinfo``."""
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def named_destinations(pdf: Path) -> dict[str, int]:
    """The page (counted from 1) of each named destination of ``pdf``, read by ``pdfinfo -dests``.

    Chromium makes a named destination of every element a link of the page
    points to: the table of contents' links give one per part and chapter.

    Raises
    ------
    FileNotFoundError
        If poppler's ``pdfinfo`` is not installed.
    """
    listing = subprocess.run([_poppler("pdfinfo"), "-dests", str(pdf)], capture_output=True, text=True, check=True).stdout
    return {name: int(page) for page, name in re.findall(r'^\s*(\d+)\s+\[.*\]\s+"(.*)"$', listing, re.MULTILINE)}


@contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a local port for as long as the block runs; yield its address."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _footer(title: str) -> str:
    return (
        '<div style="font-size:8pt;width:100%;padding:0 16mm;display:flex;justify-content:space-between;'
        'font-family:DejaVu Sans,Arial,sans-serif;color:#555">'
        f"<span>{title}</span><span>page <span class=pageNumber></span> of <span class=totalPages></span></span></div>"
    )


# Fills the page column of the prepared table of contents (its placeholders; a part's entry has none):
# {id: page} -> [entries numbered, entries with a placeholder].
NUMBER_CONTENTS = """
(pages) => {
  const entries = [...document.querySelectorAll("a[href^='#'] > .print-entry-page")].filter((span) => span.textContent);
  const numbered = entries.filter((span) => span.parentElement.getAttribute("href").slice(1) in pages);
  numbered.forEach((span) => { span.textContent = String(pages[span.parentElement.getAttribute("href").slice(1)]); });
  return [numbered.length, entries.length];
}
"""


def _print_edition(browser, url: str, edition: Edition, options: Mapping, path: Path, script: str, style: str) -> dict:
    """Prepare the page for ``edition`` with the print ``script`` and ``style``, and print it to ``path`` twice.

    The first printing gives the pages on which the chapters start; the
    same prepared page then gets them in its table of contents and is
    printed again, so the book is loaded and typeset once per edition.
    Returns what the page reported.
    """
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # The search index is the one file a single page lacks, and printing needs no search.
    page.on(
        "requestfailed",
        lambda request: request.url.endswith("searchindex.js") or problems.append(f"could not load {request.url}"),
    )
    settings = {
        "path": str(path),
        "prefer_css_page_size": True,
        "print_background": True,
        "display_header_footer": True,
        "header_template": "<span></span>",
        "footer_template": _footer(options["title"]),
        "outline": True,
        "tagged": True,
    }
    try:
        page.goto(url, wait_until="load")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000)
        page.evaluate("() => MathJax.startup.promise")
        report = page.evaluate(script, {**options, "edition": edition.name, "editionLabel": edition.label})
        page.add_style_tag(content=style)
        page.emulate_media(media="print")
        faults = [*problems]
        faults += [f"MathJax did not typeset {text!r}" for text in report["untypesetMaths"]]
        faults += [f"an image did not load: {src}" for src in report["brokenImages"]]
        if not edition.solutions and report["solutions"]:
            faults.append(f"{report['solutions']} solution(s) left in the {edition.name}' edition")
        if faults:
            raise RuntimeError(f"the {edition.name}' edition was not printed: " + "; ".join(faults))
        # The first printing only gives each chapter's page: it skips the tags and the outline, which take a core
        # a few seconds to make and move nothing (the check after the second printing would catch it if they did).
        page.pdf(**{**settings, "tagged": False, "outline": False})
        where = named_destinations(path)
        pages = {name: where[name] for name in report["ids"]}
        numbered, entries = page.evaluate(NUMBER_CONTENTS, pages)
        if not numbered == entries == len(pages):
            raise RuntimeError(f"the {edition.name}' contents numbered {numbered} of {entries} entries, for {len(pages)} pages")
        page.pdf(**settings)
        moved = {name: where for name, where in named_destinations(path).items() if pages.get(name, where) != where}
        if moved:
            raise RuntimeError(f"the {edition.name}' edition moved {sorted(moved)} when its contents were numbered")
        return report
    finally:
        page.close()


def print_book(page: Path, out_dir: Path, root: Path = Path("."), chromium: str = CHROMIUM) -> list[PrintedEdition]:
    """Print both editions of the single-page build ``page`` into ``out_dir``.

    Each edition is printed twice from one prepared page: the first printing
    gives the pages on which the chapters start, the second prints them in the
    table of contents.

    Raises
    ------
    FileNotFoundError
        If Chromium is not at ``chromium``, or poppler's ``pdfinfo`` is missing.
    RuntimeError
        If a formula, an image or a solution would print wrong, or if the
        second printing moved a chapter.
    """
    from playwright.sync_api import sync_playwright

    if not Path(chromium).exists():
        raise FileNotFoundError(f"Chromium not found at {chromium}: install Debian's chromium (apt-get install chromium).")
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    citation = read_citation(root)
    options = {
        "title": config.get("title", citation.title),
        "citation": f"{citation.line()} Printed on {date.today().isoformat()}.",
    }
    script = (PRINT_DIR / "prepare.js").read_text(encoding="utf-8")
    style = (PRINT_DIR / "print.css").read_text(encoding="utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    printed = []
    with _serve(page.parent) as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        url = site + page.name
        try:
            for edition in EDITIONS:
                path = out_dir / edition.filename
                report = _print_edition(browser, url, edition, options, path, script, style)
                printed.append(PrintedEdition(edition, path, pdf_page_count(path), tuple(report["chapters"]), report["images"]))
        finally:
            browser.close()
    return printed


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(f"{cli.COMMAND} pdf", __doc__.splitlines()[0], "python -m booktools pdf --path-output .")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: current folder)")
    parser.add_argument(
        "--path-output", type=Path, default=None, help="the folder holding _build, as given to jupyter-book (default: the root)"
    )
    parser.add_argument("--chromium", default=CHROMIUM, help=f"Chromium's executable (default: {CHROMIUM})")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / "_config.yml").is_file():
        parser.error(f"--root {root} has no _config.yml: give the repository's root.")
    build = (args.path_output or root).resolve() / "_build"
    start = time.perf_counter()
    try:
        page = single_page_build(root, build.parent)
        printed = print_book(page, build / "pdf", root, args.chromium)
    except (RuntimeError, *cli.EXPECTED_ERRORS) as error:
        cli.fail(error)
        return 1
    site = build / "html"
    for item in printed:
        if site.is_dir():
            (site / "pdf").mkdir(exist_ok=True)
            shutil.copyfile(item.path, site / "pdf" / item.path.name)
        size = item.path.stat().st_size / 1e6
        print(f"{item.path}: {item.edition.name}' edition, {item.pages} pages, {size:.1f} MB, {item.images} images")
    if not site.is_dir():
        print(f"no site at {site}: build it (jupyter-book build .) and run this again to link the PDFs from it.")
    print(f"printed in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
