"""nbval on every chapter, and the student notebooks up to date with their sources.

nbval re-executes each chapter and compares the cells marked
``# NBVAL_CHECK_OUTPUT`` with the outputs of the book build. The notebooks it
reads are the build's own jupytext conversions of the chapters, with the
outputs the site shows, so a result that is not reproducible fails here.
"""

import os
import subprocess
import sys

import pytest

from bookpaths import ROOT, chapters_with_code
from booktools import notebooks

pytestmark = pytest.mark.book

CHAPTERS_WITH_CODE = chapters_with_code()


@pytest.mark.parametrize("name", CHAPTERS_WITH_CODE)
def test_chapter_passes_nbval(built_book, name):
    assert built_book.returncode == 0, "the book build failed; see test_build"
    executed = built_book.executed / f"{name}.ipynb"
    assert executed.exists(), f"the build did not execute {name}"
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", str(executed)],
        cwd=executed.parent,
        env={**os.environ, "CNNLAB_MNIST": os.environ.get("CNNLAB_MNIST", "sample")},
        capture_output=True,
        text=True,
    )
    assert process.returncode == 0, process.stdout[-6000:]
    assert " passed" in process.stdout


def test_checked_cells_exist():
    marked = sum((ROOT / f"{name}.md").read_text().count("# NBVAL_CHECK_OUTPUT") for name in CHAPTERS_WITH_CODE)
    assert marked >= 10


def test_student_notebooks_are_up_to_date():
    stale = notebooks.write_student_notebooks(ROOT, check=True)
    assert stale == [], f"regenerate with `python -m booktools.notebooks`: {stale}"
