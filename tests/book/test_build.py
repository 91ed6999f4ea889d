"""The whole book builds with warnings as errors, and every page has what it promises."""

import re

import pytest
from bs4 import BeautifulSoup

from conftest import toc_chapters

pytestmark = pytest.mark.book


def page(built_book, name):
    return BeautifulSoup((built_book.html / f"{name}.html").read_text(), "html.parser")


def test_build_succeeds_without_warnings(built_book):
    assert built_book.returncode == 0, built_book.log[-5000:]
    warnings = [line for line in built_book.log.splitlines() if re.search(r"(^|: )(WARNING|ERROR|CRITICAL):", line)]
    assert warnings == []
    assert (built_book.html / "index.html").exists()


@pytest.mark.parametrize("name", toc_chapters())
def test_every_chapter_has_a_page(built_book, name):
    soup = page(built_book, name)
    assert soup.find("h1") is not None
    assert "Traceback" not in soup.get_text() or soup.select(".tag_raises-exception")


@pytest.mark.parametrize("name", toc_chapters())
def test_figures_are_local_and_described(built_book, name):
    soup = page(built_book, name)
    for image in soup.find_all("img"):
        source = image.get("src", "")
        assert not re.match(r"(https?:)?//", source), f"{name} loads an external image {source}"
        if "logo" in image.get("class", []) or source.endswith(".svg"):
            continue
        assert (built_book.html / name).parent.joinpath(source).resolve().exists(), source
        assert image.get("alt", "").strip(), f"{name}: image {source} has no alternative text"
    for figure in soup.find_all("figure"):
        assert figure.find("figcaption"), f"{name}: a figure has no caption"


@pytest.mark.parametrize(
    ("name", "figures"),
    [
        ("book/why-convolutions", 1),
        ("book/convolution", 2),
        ("book/padding-and-stride", 2),
        ("book/building-blocks", 1),
    ],
)
def test_theory_figures_are_drawn(built_book, name, figures):
    soup = page(built_book, name)
    drawn = [f for f in soup.find_all("figure") if f.find("img", src=re.compile(r"\.png$"))]
    assert len(drawn) == figures


def test_intended_error_is_shown(built_book):
    soup = page(built_book, "book/padding-and-stride")
    cell = soup.select_one(".tag_raises-exception")
    assert cell is not None and "kernel_size=7 is larger than the padded input" in cell.get_text()
