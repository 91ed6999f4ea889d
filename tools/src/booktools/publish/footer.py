"""The foot of every page of the site: the book as PDFs, and how to cite it.

A Sphinx extension. On every HTML page it fills the theme's extra footer with
links to the students' and the instructors' PDF (printed into the site's
``pdf/`` folder by :mod:`booktools.publish.pdf`, after the site is built) and the
citation line read from ``CITATION.cff`` (:mod:`booktools.publish.citation`), so the
site, the PDFs and GitHub's "Cite this repository" button say the same.
"""

from __future__ import annotations

import html

from booktools.publish.citation import read_citation
from booktools.publish.pdf import EDITIONS

__all__ = ["PDF_FOLDER", "footer_html", "setup"]

PDF_FOLDER = "pdf"


def footer_html(pathto, citation_line: str) -> str:
    """The footer's HTML; ``pathto`` is the page's Sphinx ``pathto``, which makes links relative.

    Examples
    --------
    >>> footer = footer_html(lambda path, resource: "../" + path, "Team (2026). A book.")
    >>> for part in footer.split(" · "):
    ...     print(part)
    <div class="book-footer">
    <p class="book-pdf">The book as a PDF: <a href="../pdf/cnn-book-students.pdf">students' edition</a>
    <a href="../pdf/cnn-book-instructors.pdf">instructors' edition (with the solutions)</a></p>
    <p class="book-citation">Cite this book: Team (2026). A book.</p>
    </div>
    """
    links = [
        f'<a href="{html.escape(pathto(f"{PDF_FOLDER}/{edition.filename}", 1))}">'
        f"{edition.name}' edition{' (with the solutions)' if edition.solutions else ''}</a>"
        for edition in EDITIONS
    ]
    return (
        '<div class="book-footer">\n'
        f'<p class="book-pdf">The book as a PDF: {" · ".join(links)}</p>\n'
        f'<p class="book-citation">Cite this book: {html.escape(citation_line)}</p>\n'
        "</div>"
    )


def _add_footer(app, pagename, templatename, context, doctree) -> None:
    context["theme_extra_footer"] = footer_html(context["pathto"], app.booktools_citation)


def _read_citation(app) -> None:
    app.booktools_citation = read_citation(app.confdir).line()


def setup(app) -> dict:
    app.connect("builder-inited", _read_citation)
    app.connect("html-page-context", _add_footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
