"""The PDF command's own failures are clear; the printed editions are tested in tests/book/test_pdf.py."""

from __future__ import annotations

import pytest
import tomllib

from bookpaths import ROOT
from booktools.publish import pdf


def test_a_folder_without_a_book_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        pdf.main(["--root", str(tmp_path)])
    assert exit.value.code == 2
    assert f"--root {tmp_path} has no _config.yml: give the repository's root" in capsys.readouterr().err


def test_a_missing_chromium_is_named_before_anything_prints(tmp_path):
    page = tmp_path / "book.html"
    page.write_text("<html></html>")
    with pytest.raises(FileNotFoundError, match=r"Chromium not found at /no/chromium: install Debian's chromium"):
        pdf.print_book(page, tmp_path / "pdf", ROOT, chromium="/no/chromium")
    assert not (tmp_path / "pdf").exists()


@pytest.mark.slow("runs Jupyter Book on a book whose table of contents names a missing chapter")
def test_a_failing_single_page_build_stops_the_command_with_its_log(tmp_path, capsys):
    (tmp_path / "_config.yml").write_text("title: A book\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: missing\n")
    assert pdf.main(["--root", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "error: the single-page build failed (" in error and "missing" in error
    assert not (tmp_path / "_build" / "pdf").exists(), "a PDF was written from a failed build"


def test_each_edition_has_its_own_file_and_only_the_instructors_have_solutions():
    assert [edition.name for edition in pdf.EDITIONS] == ["students", "instructors"]
    assert len({edition.filename for edition in pdf.EDITIONS}) == 2
    assert [edition.solutions for edition in pdf.EDITIONS] == [False, True]


def test_the_print_script_and_style_ship_with_the_package():
    settings = tomllib.loads((ROOT / "tools" / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = settings["package-data"]["booktools.publish"]
    assert sorted(declared) == ["print/*.css", "print/*.js"]
    assert (pdf.PRINT_DIR / "prepare.js").is_file() and (pdf.PRINT_DIR / "print.css").is_file()
