"""The front page's "What you will learn" names every chapter of the table of contents, with a {doc} link."""

import re
from pathlib import PurePosixPath

import pytest

from bookpaths import ROOT
from booktools.book import Book

SECTION = "## What you will learn"
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<\s*([^`>]+?)\s*>|([^`<>]+))`")


def learned_links(book: Book) -> list[str]:
    """The documents that the front page's "What you will learn" links with {doc}, as toc names (book/<chapter>)."""
    front = book.chapter(book.docnames[0])
    text = "\n".join(front.lines)
    if SECTION not in text:
        raise AssertionError(f"{front.path} has no '{SECTION}' section: the front page lists the chapters there.")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    folder = PurePosixPath(book.docnames[0]).parent
    links = []
    for match in DOC_ROLE.finditer(section):
        target = (match[1] or match[2]).strip()
        links.append(target.lstrip("/") if target.startswith("/") else (folder / target).as_posix())
    return links


def missing_and_stray(docnames: list[str], links: list[str]) -> tuple[list[str], list[str]]:
    """Chapters of the toc the section does not link (the landing page aside), and links to no chapter of the toc."""
    chapters = docnames[1:]
    return [name for name in chapters if name not in links], [link for link in links if link not in chapters]


def test_the_front_page_names_every_chapter_of_the_toc():
    book = Book.from_config(ROOT)
    missing, stray = missing_and_stray(list(book.docnames), learned_links(book))
    assert not missing, (
        f"the front page's '{SECTION}' does not name {missing}: add a bullet for each, "
        "linking it as {doc}`<words> <chapter>` (the file name without book/ and .md)."
    )
    assert not stray, f"the front page's '{SECTION}' links {stray}, which _toc.yml does not list: fix or remove them."


@pytest.mark.parametrize(
    ("docnames", "links", "expected"),
    [
        (["book/index", "book/a", "book/b"], ["book/a", "book/b"], ([], [])),
        (["book/index", "book/a", "book/b"], ["book/a"], (["book/b"], [])),
        (["book/index", "book/a"], ["book/a", "book/old"], ([], ["book/old"])),
    ],
)
def test_missing_and_stray_find_what_the_page_and_the_toc_disagree_on(docnames, links, expected):
    assert missing_and_stray(docnames, links) == expected


def test_doc_links_are_read_in_both_forms():
    found = [(m[1] or m[2]) for m in DOC_ROLE.finditer("see {doc}`the convolution <convolution>` and {doc}`ex1-conv-pool`.")]
    assert found == ["convolution", "ex1-conv-pool"]
