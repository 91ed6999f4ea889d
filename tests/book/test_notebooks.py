"""Cells for nbval to check, and the student notebooks up to date with their sources.

nbval itself runs in ``tests/notebooks/test_colab.py``: each chapter is
executed once, as its student notebook in the Colab-like environment, and
the cells tagged ``nbval-check-output`` are compared with the book build's.
"""

import pytest

from bookpaths import ROOT, book
from booktools import notebooks

pytestmark = pytest.mark.book


def test_checked_cells_exist():
    marked = sum("nbval-check-output" in cell.tags for chapter in book().chapters for cell in chapter.cells)
    assert marked >= 10


def test_student_notebooks_are_up_to_date():
    stale = notebooks.write_student_notebooks(ROOT, check=True)
    assert stale == [], f"regenerate with `python -m booktools notebooks`: {stale}"


def test_every_chapter_source_is_in_the_table_of_contents():
    # With only_build_toc_files, Jupyter Book skips a chapter _toc.yml does not list, without a word.
    assert book().stray_sources() == [], "list these chapters in _toc.yml, or delete them"
