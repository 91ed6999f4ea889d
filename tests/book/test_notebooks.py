"""Cells for nbval to check, and the student notebooks up to date with their sources.

nbval itself runs in ``tests/notebooks/test_colab.py``: each chapter is
executed once, as its student notebook in the Colab-like environment, and
the cells marked ``# NBVAL_CHECK_OUTPUT`` are compared with the book build's.
"""

import pytest

from bookpaths import ROOT, chapters_with_code
from booktools import notebooks

pytestmark = pytest.mark.book

CHAPTERS_WITH_CODE = chapters_with_code()


def test_checked_cells_exist():
    marked = sum((ROOT / f"{name}.md").read_text().count("# NBVAL_CHECK_OUTPUT") for name in CHAPTERS_WITH_CODE)
    assert marked >= 10


def test_student_notebooks_are_up_to_date():
    stale = notebooks.write_student_notebooks(ROOT, check=True)
    assert stale == [], f"regenerate with `python -m booktools.notebooks`: {stale}"
