"""The grading command without a kernel: its own failures, the points and feedback of each task, the CSVs.

Grading real notebooks end to end is tested in tests/notebooks/test_grading.py and test_grading_hostile.py.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path

import pytest

from bookpaths import ROOT
from booktools.grading import command, grade


def test_an_unknown_chapter_names_the_chapters_that_have_an_autograder(tmp_path, capsys):
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(
        FileNotFoundError, match=r"--chapter 'ex9' has no autograder in .*grading: choose one of \['ex1-conv-pool'"
    ):
        grade.grade_folder(tmp_path, ROOT, "ex9", tmp_path / "out", time_limit=10)
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_is_refused(tmp_path, capsys):
    assert command.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--root", str(ROOT)]) == 1
    assert f"no *.ipynb in {tmp_path}: put the submitted notebooks there." in capsys.readouterr().err


def test_grading_refuses_to_run_unsandboxed_unless_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(grade.sandbox, "available", lambda: "bwrap is not installed (Debian: apt-get install bubblewrap)")
    with pytest.raises(SystemExit) as exit:
        command.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--root", str(ROOT)])
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert "cannot sandbox the submissions: bwrap is not installed" in error and "--no-sandbox" in error


def test_a_run_without_the_sandbox_says_so(tmp_path, capsys):
    assert command.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), "--no-sandbox"]) == 1
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
        command.main([str(tmp_path), "--chapter", "ex1-conv-pool", "--out", str(tmp_path / "out"), *option])
    assert f"{option[0]} {option[1]} must be" in capsys.readouterr().err


# The points and feedback of each task, from a run and the judge's verdicts: no kernel needed.
QUESTIONS = [
    {"name": "q1", "check": "check_a", "call": "checks.check_a(a)", "points": 2},
    {"name": "q2", "check": "check_b", "call": "checks.check_b(b)", "points": 3, "hidden": {"variable": "model", "points": 1}},
]
SUBMISSION = grade.Submission(Path("alice.ipynb"), "alice")


def results(run, verdicts):
    return {t.task: (t.points, t.max_points, t.feedback) for t in grade.task_results(SUBMISSION, QUESTIONS, run, verdicts)}


def test_a_task_earns_its_points_when_its_own_check_ran_cleanly_and_the_judge_agrees():
    run = grade.KernelRun(own_checks={"q1": None, "q2": None})
    verdicts = {"q1": {"passed": True, "hidden": None, "message": ""}, "q2": {"passed": True, "hidden": True, "message": ""}}
    assert results(run, verdicts) == {"q1": (2, 2, ""), "q2": (3, 3, "")}


def test_the_hidden_test_adds_its_own_points_and_says_why_it_failed():
    run = grade.KernelRun(own_checks={"q1": None, "q2": None})
    verdicts = {
        "q1": {"passed": True, "hidden": None, "message": ""},
        "q2": {"passed": True, "hidden": False, "message": "hidden test: training did not work"},
    }
    assert results(run, verdicts)["q2"] == (2, 3, "hidden test: training did not work")


def test_the_students_own_failing_check_costs_the_points_even_if_the_judge_would_pass():
    run = grade.KernelRun(own_checks={"q1": "SelfCheckError: Task 1: use 3 channels", "q2": None})
    verdicts = {"q1": {"passed": True}, "q2": {"passed": False, "hidden": True, "message": "Task 2: wrong stride"}}
    got = results(run, verdicts)
    assert got["q1"] == (0, 2, "SelfCheckError: Task 1: use 3 channels")
    assert got["q2"] == (1, 3, "Task 2: wrong stride"), "the hidden point stands on its own"


def test_a_run_that_stopped_says_why_on_every_task_it_never_reached():
    run = grade.KernelRun(own_checks={"q1": None}, status="time limit", stopped="not graded: the submission ran past")
    got = results(run, {"q1": {"passed": True}})
    assert got["q1"] == (2, 2, "") and got["q2"] == (0, 3, "not graded: the submission ran past")
    assert results(grade.KernelRun(), {})["q1"] == (0, 2, "not graded: this task's self-check never ran")
    no_answer = results(grade.KernelRun(own_checks={"q1": None, "q2": None}), {})
    assert no_answer["q1"] == (0, 2, "not graded: the grader received no answer for this task")


def test_the_folder_gives_one_row_per_task_and_per_file_with_names_made_safe(tmp_path, monkeypatch):
    import unicodedata

    folder = tmp_path / "in"
    folder.mkdir()
    names = ["=1+1.ipynb", "carol.IPYNB", unicodedata.normalize("NFD", "José") + ".ipynb", "José.ipynb"]
    for name in names:
        (folder / name).write_text("{}")

    in_flight, shared, lock = set(), [], threading.Lock()

    def fake(submission, root, chapter, time_limit, data_root, limits, use_sandbox, slot):
        with lock:  # two submissions graded at once never share their processors
            shared.append(id(slot) in in_flight)
            in_flight.add(id(slot))
        time.sleep(0.05)
        with lock:
            in_flight.discard(id(slot))
        run = grade.KernelRun(own_checks={"q1": None, "q2": None})
        verdicts = {
            "q1": {"passed": True},
            "q2": {"passed": submission.student != "carol", "hidden": True, "message": "Task 2: no"},
        }
        return grade.task_results(submission, QUESTIONS, run, verdicts), "graded"

    monkeypatch.setattr(grade, "grade_submission", fake)
    monkeypatch.setattr(grade, "prepare_sample", lambda: tmp_path)
    monkeypatch.setattr(grade, "_questions", lambda root, chapter: QUESTIONS)
    grade.grade_folder(folder, ROOT, "ex1-conv-pool", tmp_path / "out", time_limit=10, jobs=2)
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8") as file:
        summary = {row["file"]: row for row in csv.DictReader(file)}
    with (tmp_path / "out" / "grades.csv").open(encoding="utf-8") as file:
        grades = list(csv.DictReader(file))
    assert len(grades) == 2 * len(names) and len(summary) == len(names)
    assert summary["'=1+1.ipynb"]["student"] == "'=1+1" and summary["'=1+1.ipynb"]["points"] == "5"
    assert summary["carol.IPYNB"]["points"] == "3" and summary["carol.IPYNB"]["max_points"] == "5"
    josé = [row for file, row in summary.items() if file.startswith("Jos")]
    assert {row["student"] for row in josé} == {"José"} and all("the same student as" in row["status"] for row in josé)
    assert all(row["sandbox"] == "bubblewrap" for row in summary.values())
    assert shared == [False] * len(names)


def test_a_link_a_pipe_or_an_oversized_file_is_not_read_and_says_why(tmp_path, monkeypatch):
    answer_key = ROOT / "grading" / "ex1-conv-pool" / "solution.ipynb"
    (tmp_path / "link.ipynb").symlink_to(answer_key)
    os.mkfifo(tmp_path / "pipe.ipynb")
    (tmp_path / "huge.ipynb").write_bytes(b" " * ((1 << 20) + 1))
    monkeypatch.setattr(grade, "NOTEBOOK_BYTES", 1 << 20)
    submissions, notes = grade.find_submissions(tmp_path)
    assert sorted(s.student for s in submissions) == ["huge", "link", "pipe"] and not notes
    reasons = {}
    for submission in submissions:  # each is refused before any kernel starts: the pipe would block a reader for ever
        tasks, status = grade.grade_submission(submission, ROOT, "ex1-conv-pool", 10, tmp_path)
        assert status == "unreadable" and sum(t.points for t in tasks) == 0
        reasons[submission.student] = tasks[0].feedback
    assert reasons["link"] == "not graded: link.ipynb is a link to another file, not a notebook: hand in the .ipynb file itself"
    assert reasons["pipe"].startswith("not graded: pipe.ipynb is not a plain file (a pipe, device or socket)")
    assert reasons["huge"].startswith("not graded: huge.ipynb is larger than 1 MiB: clear its outputs")
