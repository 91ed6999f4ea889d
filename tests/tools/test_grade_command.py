"""The grading command's own failures are clear; grading itself is tested in tests/notebooks/test_grading.py."""

from __future__ import annotations

import pytest

from bookpaths import ROOT
from booktools import grade


def test_an_unknown_chapter_names_the_chapters_that_have_an_autograder(tmp_path, capsys):
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(
        FileNotFoundError, match=r"--chapter 'ex9' has no autograder in .*grading: choose one of \['ex1-conv-pool'"
    ):
        grade.grade_folder(tmp_path, ROOT, "ex9", tmp_path / "out", time_limit=10)
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_is_refused(tmp_path, capsys):
    assert grade.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--root", str(ROOT)]) == 1
    assert f"no *.ipynb in {tmp_path}: put the submitted notebooks there." in capsys.readouterr().err


def test_grading_refuses_to_run_unsandboxed_unless_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(grade.sandbox, "available", lambda: "bwrap is not installed (Debian: apt-get install bubblewrap)")
    with pytest.raises(SystemExit) as exit:
        grade.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--root", str(ROOT)])
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert "cannot sandbox the submissions: bwrap is not installed" in error and "--no-sandbox" in error


def test_a_run_without_the_sandbox_says_so(tmp_path, capsys):
    assert grade.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--no-sandbox"]) == 1
    assert "WARNING: grading WITHOUT a sandbox (--no-sandbox)" in capsys.readouterr().err


def test_spreadsheet_formulas_are_neutralised():
    for text in ("=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx"):
        assert grade.spreadsheet_safe(text) == "'" + text
    assert grade.spreadsheet_safe("carol") == "carol" and grade.spreadsheet_safe("") == ""


def test_every_file_is_graded_or_reported(tmp_path):
    import unicodedata

    for name in [
        "carol.IPYNB",
        "..ipynb",
        "a b.ipynb",
        unicodedata.normalize("NFC", "José") + ".ipynb",
        unicodedata.normalize("NFD", "José") + ".ipynb",
        "notes.txt",
    ]:
        (tmp_path / name).write_text("{}")
    (tmp_path / "folder.ipynb").mkdir()
    submissions, notes = grade.find_submissions(tmp_path)
    students = sorted(s.student for s in submissions)
    assert students == sorted([".", "a b", "carol", "José", "José"]) and all(
        unicodedata.is_normalized("NFC", s) for s in students
    )
    assert sum("the same student as" in s.note for s in submissions) == 2
    assert "skipped 'notes.txt': not an .ipynb file" in notes and "skipped 'folder.ipynb': a folder" in notes


def test_csvs_are_never_half_written_and_a_folder_in_the_way_is_named(tmp_path):
    (tmp_path / "grades.csv").mkdir()
    with pytest.raises(FileExistsError, match="grades.csv is a folder: remove it or choose another --out"):
        grade._write_csv(tmp_path / "grades.csv", ["a"], [["1"]])
    grade._write_csv(tmp_path / "summary.csv", ["student"], [["=evil"]])
    assert (tmp_path / "summary.csv").read_bytes() == b"student\r\n'=evil\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv", "summary.csv"]


BAD_OPTIONS = [["--time-limit", "0"], ["--time-limit", "nan"], ["--jobs", "0"], ["--memory-limit", "0"]]


@pytest.mark.parametrize("option", BAD_OPTIONS, ids=["0 s", "nan s", "0 jobs", "0 GiB"])
def test_a_time_limit_or_job_count_that_cannot_work_is_refused(tmp_path, capsys, option):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), *option])
    assert f"{option[0]} {option[1]} must be" in capsys.readouterr().err
