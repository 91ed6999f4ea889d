"""The two PDF editions, read back with poppler: every chapter, its maths, figures and outputs, and no solution for students."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup

from bookpaths import ROOT, toc_chapters
from booktools.publish.footer import PDF_FOLDER
from booktools.publish.pdf import EDITIONS, named_destinations

# One worker prints both editions and reads them: another would only wait for the print.
pytestmark = [pytest.mark.book, pytest.mark.xdist_group("pdf")]

ARTIFACTS = ROOT / "artifacts" / "pdf"
SOLUTION_CODE = "nn.Conv2d(1, 10, kernel_size=5)"  # Task 2.1.1's answer
EXERCISE_1_OUTPUT = "output: (1, 2, 98, 98)"  # printed by a demonstration cell of Exercise 1


@cache
def text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def info(pdf: Path) -> dict[str, str]:
    listing = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(":", 1) for line in listing.splitlines() if ":" in line)


def flat(value: str) -> str:
    """Text with every run of white space as one space, as a line broken anywhere still matches."""
    return " ".join(value.split())


def site_pages(site: Path) -> dict[str, BeautifulSoup]:
    return {name: BeautifulSoup((site / f"{name}.html").read_text(encoding="utf-8"), "html.parser") for name in toc_chapters()}


@pytest.fixture(scope="module")
def printed(printed_book):
    assert printed_book.returncode == 0, printed_book.log[-4000:]
    return printed_book


@pytest.fixture(scope="module")
def site(built_book):
    return site_pages(built_book.html)


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_the_command_reports_each_edition(printed, edition):
    pdf = printed.pdfs[edition.name]
    pages = int(info(pdf)["Pages"])
    assert re.search(rf"{re.escape(str(pdf))}: {edition.name}' edition, {pages} pages, [\d.]+ MB", printed.log)
    assert info(pdf)["Tagged"].strip() == "yes", "the PDF has no structure for screen readers"
    assert info(pdf)["Page size"].strip().endswith("(A4)")
    assert (printed.site / PDF_FOLDER / edition.filename).read_bytes() == pdf.read_bytes(), "the site offers another PDF"


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_every_chapter_is_numbered_in_order_and_listed_with_its_page(printed, site, edition):
    pdf = printed.pdfs[edition.name]
    pages = text(pdf).split("\f")
    titles = [page.find("h1").get_text(strip=True).rstrip("#") for page in site.values()]
    body = flat("\f".join(pages[2:]))
    position = 0
    for number, title in enumerate(titles[1:], 1):
        found = body.find(f"{number} {flat(title)}", position)
        assert found > position, f"chapter {number}, {title!r}, is not in the {edition.name}' edition after chapter {number - 1}"
        position = found
    contents = flat(pages[1])
    destinations = named_destinations(pdf)
    for number, page in enumerate(site.values()):
        section = page.find("section")["id"]
        title = flat(titles[number])
        listed = re.search(rf"{'' if number == 0 else str(number) + ' '}{re.escape(title)} (\d+)", contents)
        assert listed, f"the contents do not list {title!r} with a page number"
        assert int(listed.group(1)) == destinations[section], f"the contents give {title!r} a wrong page"
        assert title in flat(pages[destinations[section] - 1]), f"{title!r} does not start on the page the contents give"


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_maths_is_typeset_and_outputs_are_executed(printed, edition):
    content = text(printed.pdfs[edition.name])
    assert EXERCISE_1_OUTPUT in content, "an executed output of Exercise 1 is missing"
    for raw in (r"\frac", r"\times", r"\lfloor", "$"):
        assert raw not in content, f"raw TeX {raw!r} in the {edition.name}' edition"
    assert "it/s]" not in content and "█" not in content, "a progress bar printed"


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_nothing_runs_off_the_page(printed, edition):
    """Every word lies inside the page's margins, so no line of code or output is cut at the edge."""
    pdf = printed.pdfs[edition.name]
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    width = float(re.search(r'<page width="([\d.]+)"', boxes).group(1))
    beyond = [m.group(2) for m in re.finditer(r'xMax="([\d.]+)"[^>]*>([^<]*)<', boxes) if float(m.group(1)) > width - 20]
    assert beyond == [], f"{len(beyond)} word(s) run into the right edge, such as {beyond[:5]}"


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_every_figure_is_there_with_its_caption(printed, site, edition):
    pdf = printed.pdfs[edition.name]
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = [line for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    figures = [img for page in site.values() for img in page.select("article img")]
    if not edition.solutions:
        figures = [img for img in figures if not img.find_parent(class_="solution")]
    assert len(images) >= len(figures), f"{len(images)} images in the PDF, {len(figures)} figures on the site"
    content = flat(text(pdf))
    for page in site.values():
        for caption in page.select("article figure figcaption"):
            if edition.solutions or not caption.find_parent(class_="solution"):
                words = flat(caption.get_text(" ")).split()[:8]
                assert " ".join(words) in content, f"the caption {' '.join(words)!r} is missing"


def test_animations_print_a_frame_and_a_sentence_not_their_buttons(printed, site):
    content = text(printed.pdfs["students"])
    players = [player for page in site.values() for player in page.select(".cnnlab-player")]
    assert players and len(re.findall(r"The first of this animation's \d+ steps", content)) == len(players)
    for label in ("⏮ First", "◀ Previous", "▶ Play", "Last ⏭"):
        assert label not in content


def squash(value: str) -> str:
    """Text without any white space: a line of code wrapped at the page's edge still matches."""
    return "".join(value.split())


def test_the_students_edition_holds_no_solution_and_the_instructors_edition_does(printed, site):
    students, instructors = text(printed.pdfs["students"]), text(printed.pdfs["instructors"])
    assert SOLUTION_CODE not in students and "Solution to" not in students
    assert SOLUTION_CODE in instructors and "Solution to" in instructors
    # Every answer line (marked # ✎ in a solution) prints for instructors; none prints for students,
    # unless the site shows the same code outside the solutions (model.eval() in a later chapter, say).
    answers, shown = set(), ""
    for page in site.values():
        for pre in page.select("article div.cell_input pre"):
            if pre.find_parent(class_="solution"):
                answers |= {line.split("# ✎")[0].strip() for line in pre.get_text().splitlines() if "# ✎" in line}
            else:
                shown += squash(pre.get_text())
    assert len(answers) >= 40, "the site's solutions hold fewer answer lines than the book has"
    assert [line for line in answers if squash(line) not in squash(instructors)] == []
    leaked = [line for line in answers if squash(line) in squash(students) and squash(line) not in shown]
    assert leaked == [], f"answers printed in the students' edition: {leaked}"
    assert "Hint" in students, "the hints belong in the students' edition"
    assert "Students' edition" in students.split("\f")[0] and "Instructors' edition" in instructors.split("\f")[0]
    assert int(info(printed.pdfs["instructors"])["Pages"]) > int(info(printed.pdfs["students"])["Pages"])


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_a_rendered_page_shows_text_and_a_figure(printed, edition):
    """Page 14 (the convolution chapter's animation) rendered to PNG: a page with ink on it, kept for a reviewer."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = ARTIFACTS / f"{edition.name}-page"
    command = ["pdftoppm", "-f", "14", "-singlefile", "-r", "50", "-gray", str(printed.pdfs[edition.name]), str(prefix)]
    subprocess.run(command, check=True)
    header, pixels = prefix.with_suffix(".pgm").read_bytes().split(b"\n255\n", 1)
    dark = sum(1 for value in pixels if value < 128) / len(pixels)
    assert 0.005 < dark < 0.5, f"page 14 is {dark:.1%} dark: blank or solid"


def test_every_page_of_the_site_links_to_both_pdfs_and_says_how_to_cite(printed, built_book):
    from booktools.publish.citation import read_citation

    line = read_citation(ROOT).line()
    for path in [*built_book.html.glob("book/*.html"), built_book.html / "search.html"]:
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        footer = page.select_one(".book-footer")
        assert footer is not None, f"{path.name} has no PDF links"
        assert flat(line) in flat(footer.get_text(" ")), f"{path.name} does not give CITATION.cff's citation"
        base = "file://" + str(printed.site / path.relative_to(built_book.html))
        for edition in EDITIONS:
            link = footer.find("a", string=re.compile(edition.name))
            target = Path(urljoin(base, link["href"]).removeprefix("file://"))
            assert target == printed.site / PDF_FOLDER / edition.filename and target.is_file(), f"{path.name}: {link['href']}"
