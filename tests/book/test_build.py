"""The whole book builds with warnings as errors, and every page has what it promises."""

import re

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from bookpaths import ROOT, chapters_with_code, toc_chapters

pytestmark = pytest.mark.book


def page(built_book, name):
    return BeautifulSoup((built_book.html / f"{name}.html").read_text(), "html.parser")


def test_build_succeeds_without_warnings(built_book):
    assert built_book.returncode == 0, built_book.log[-5000:]
    warnings = [line for line in built_book.log.splitlines() if re.search(r"(^|: )(WARNING|ERROR|CRITICAL):", line)]
    assert warnings == []
    assert (built_book.html / "index.html").exists()


def test_every_chapter_executes_once_side_by_side(built_book):
    # The tests build from an empty cache: booktools.build.execution runs every chapter, and myst-nb finds each in the cache.
    executed = re.findall(r"\[booktools\.build\.execution\] executed (\S+) in", built_book.log)
    assert sorted(executed) == sorted(chapters_with_code())
    assert re.search(r"executing \d+ chapter\(s\), \d+ at a time", built_book.log)
    assert "Executing notebook" not in built_book.log, "myst-nb executed a chapter a second time"


@pytest.mark.parametrize("name", chapters_with_code())
def test_the_downloadable_notebook_holds_the_outputs(built_book, name):
    notebook = nbformat.read(built_book.html / "_sources" / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and sum(len(cell.outputs) for cell in code) >= len(code) // 2, (
        f"{name}: the download offers a notebook without outputs"
    )


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
        if source.startswith("data:image/"):
            # A step-through player's frame, inline; its alternative text is the frame's description.
            assert image.get("alt", "").strip(), f"{name}: an inline image has no alternative text"
            continue
        if "logo" in image.get("class", []) or source.endswith(".svg"):
            continue
        assert (built_book.html / name).parent.joinpath(source).resolve().exists(), source
        assert image.get("alt", "").strip(), f"{name}: image {source} has no alternative text"
    for figure in soup.find_all("figure"):
        assert figure.find("figcaption"), f"{name}: a figure has no caption"


@pytest.mark.parametrize(
    ("name", "figures"),
    [
        ("book/why-convolutions", 2),
        ("book/convolution", 2),
        ("book/padding-and-stride", 2),
        ("book/building-blocks", 2),
    ],
)
def test_theory_figures_are_drawn(built_book, name, figures):
    soup = page(built_book, name)
    drawn = [f for f in soup.find_all("figure") if f.find("img", src=re.compile(r"\.png$"))]
    assert len(drawn) == figures


@pytest.mark.parametrize(("name", "players"), [("book/convolution", 1), ("book/padding-and-stride", 2)])
def test_step_through_players_are_in_the_page(built_book, name, players):
    found = page(built_book, name).select("figure.cnnlab-player")
    assert len(found) == players
    for player in found:
        assert player.find_next("script") is not None and player.img["src"].startswith("data:image/png;base64,")


def test_intended_error_is_shown(built_book):
    soup = page(built_book, "book/padding-and-stride")
    cell = soup.select_one(".tag_raises-exception")
    assert cell is not None and "kernel_size=7 is larger than the padded input" in cell.get_text()


@pytest.mark.parametrize("name", chapters_with_code())
def test_testing_markers_stay_out_of_the_readers_sight(built_book, name):
    soup = page(built_book, name)
    assert "NBVAL" not in soup.get_text()
    if name == "book/building-blocks":  # a chapter with outputs nbval compares: the tag is a class, never text
        assert soup.select(".tag_nbval-check-output")


def test_no_page_loads_anything_from_another_host(built_book):
    pages = sorted(built_book.html.rglob("*.html"))
    assert len(pages) >= len(toc_chapters())
    for path in pages:
        soup = BeautifulSoup(path.read_text(), "html.parser")
        external = [tag.get("src") for tag in soup.find_all(["script", "img", "iframe"]) if tag.get("src")]
        external += [tag.get("href") for tag in soup.find_all("link") if tag.get("href")]
        external = [url for url in external if re.match(r"(https?:)?//", url)]
        assert external == [], f"{path.relative_to(built_book.html)} loads {external}"
    assert (built_book.html / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.parametrize("name", chapters_with_code())
def test_launch_buttons_open_the_chapters_student_notebook(built_book, name):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repository = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    branch = config["repository"]["branch"]
    links = [a["href"] for a in page(built_book, name).find_all("a", href=True)]
    colab = [href for href in links if href.startswith("https://colab.research.google.com/")]
    binder = [href for href in links if href.startswith("https://mybinder.org/")]
    assert colab == [f"https://colab.research.google.com/github/{repository}/blob/{branch}/{name}.ipynb"]
    assert binder == [f"https://mybinder.org/v2/gh/{repository}/{branch}?urlpath=tree/{name}.ipynb"]
    assert (ROOT / f"{name}.ipynb").is_file(), f"the launch buttons point to {name}.ipynb, which does not exist"
