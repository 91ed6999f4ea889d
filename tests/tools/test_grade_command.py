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


def test_a_missing_grading_environment_says_how_to_make_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        grade.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--root", str(tmp_path)])
    assert exit.value.code == 2
    assert "grading/bin/otter not found: run bash .ci/install, which sets up the grading environment" in capsys.readouterr().err


def test_a_self_check_message_is_read_out_of_otters_report():
    report = (
        "❌ Test case failed\nError at line 30 in test ex1-q1:\n  _run(...)\nSelfCheckError: Task 1.1: operation is still a blank"
    )
    assert grade._message(report) == "SelfCheckError: Task 1.1: operation is still a blank"


BAD_OPTIONS = [["--time-limit", "0"], ["--time-limit", "nan"], ["--jobs", "0"]]


@pytest.mark.parametrize("option", BAD_OPTIONS, ids=["0 s", "nan s", "0 jobs"])
def test_a_time_limit_or_job_count_that_cannot_work_is_refused(tmp_path, capsys, option):
    with pytest.raises(SystemExit):
        grade.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), *option])
    assert f"{option[0]} {option[1]} must be" in capsys.readouterr().err
