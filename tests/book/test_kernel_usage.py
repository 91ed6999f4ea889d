"""Every chapter's kernel fits a free Binder session, measured during the book build."""

import re
import shutil

import pytest
from bs4 import BeautifulSoup

from bookpaths import ROOT, chapters_with_code
from booktools.build.kernel_usage import read_usage, usage_file
from booktools.build.report import read_device
from cnnlab import train

pytestmark = pytest.mark.book

BUDGET_MB = 1500  # mybinder.org gives 1 to 2 GB


@pytest.fixture(scope="module")
def usage(built_book):
    assert built_book.returncode == 0, "the book build failed; see test_build"
    path = usage_file(built_book.html)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    shutil.copy(path, ROOT / "artifacts" / "kernel-usage.jsonl")
    return {record["chapter"]: record for record in read_usage(path)}


def test_every_chapter_is_measured_once(usage, built_book):
    assert sorted(usage) == sorted(chapters_with_code())
    assert len(read_usage(usage_file(built_book.html))) == len(usage)


@pytest.mark.parametrize("name", chapters_with_code())
def test_kernel_stays_within_the_binder_budget(usage, name):
    record = usage[name]
    assert 50 < record["peak_memory_mb"] < BUDGET_MB, f"{name}: {record}"
    assert record["wall_s"] > 0


def test_statistics_page_shows_the_table(usage, built_book):
    soup = BeautifulSoup((built_book.html / "book" / "execution-statistics.html").read_text(), "html.parser")
    table = soup.select_one("table.kernel-usage")
    assert [cell.get_text(strip=True) for cell in table.find("thead").find_all("th")] == [
        "chapter",
        "peak memory (MB)",
        "wall time (s)",
    ]
    rows = [[cell.get_text(strip=True) for cell in row.find_all("td")] for row in table.find("tbody").find_all("tr")]
    # Filled in when the page is written, after every chapter ran: the page itself included.
    assert {row[0] for row in rows} == set(usage)
    for chapter, memory, _seconds in rows:
        assert float(memory.replace(",", "")) == pytest.approx(usage[chapter]["peak_memory_mb"], abs=0.5)
    largest = max(usage.values(), key=lambda record: record["peak_memory_mb"])
    assert table.find_next("p", string=re.compile("^Largest")).get_text(" ", strip=True) == (
        f"Largest: {largest['chapter']}, {largest['peak_memory_mb']:,.0f} MB; budget: 1,500 MB."
    )


def test_the_report_reads_the_device_the_build_recorded(usage, built_book):
    # The chapter names the machine file itself (it cannot import booktools on Colab): both must agree.
    assert read_device(built_book.html).startswith(f"{train.get_device().type} ("), "no build-machine.json where the report looks"
