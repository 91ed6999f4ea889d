"""What a graded folder gives beyond grades.csv, without a kernel: the Canvas and Moodle files and report.html.

The report's look in a real browser (no console error, alt text, nothing
fetched) is tested in tests/browser/test_grading_report.py.
"""

from __future__ import annotations

import csv
import re

import pytest

from bookpaths import ROOT
from booktools.grading import class_report, grade, gradebook

# Canvas's gradebook export (Grades, Export), whose columns its import reads; then one column per assignment.
CANVAS_DOCUMENTED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# Moodle's grading worksheet (the assignment's "Download grading worksheet"), the columns its upload reads.
MOODLE_DOCUMENTED = ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Feedback comments"]
QUESTIONS = [{"name": "q1", "points": 2}, {"name": "q2", "points": 3}]
FILES = {
    "smithjane_12345_678901_ex1-conv-pool.ipynb": (True, "graded"),  # Canvas's "Download Submissions"
    "doejohn_LATE_23456_789012_ex1-conv-pool.ipynb": (False, "graded"),
    "Ana Silva_1234567_assignsubmission_file_ex1-conv-pool.ipynb": (False, "time limit"),  # Moodle's download
    "<img src=x onerror=alert(1)>.ipynb": (False, "memory limit"),  # a file name is the student's to choose
    "asmith.ipynb": (True, "unreadable"),
}


def read(path):
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A folder of five files graded with a fake kernel: two tasks, q2 lost by three students in two wordings."""
    tmp_path = tmp_path_factory.mktemp("graded")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text("{}")

    def fake(submission, root, chapter, time_limit, data_root, limits, use_sandbox, slot):
        right, status = FILES[submission.path.name]
        run = grade.KernelRun(own_checks={"q1": None, "q2": None})
        number = len(submission.student) / 100
        message = f"Task 2: your map differs by up to {number} <b>bold</b>"
        verdicts = {"q1": {"passed": True}, "q2": {"passed": right, "message": message}}
        return grade.task_results(submission, QUESTIONS, run, verdicts), status

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grade, "grade_submission", fake)
        patch.setattr(grade, "prepare_sample", lambda: tmp_path)
        patch.setattr(grade, "_questions", lambda root, chapter: QUESTIONS)
        grade.grade_folder(folder, ROOT, "ex1-conv-pool", tmp_path / "out", 10, jobs=2, assignment="Practical 1 (4321)")
    return tmp_path / "out"


def test_the_folder_gives_every_file_an_lms_reads_and_the_report(graded):
    assert sorted(p.name for p in graded.iterdir()) == ["canvas.csv", "grades.csv", "moodle.csv", "report.html", "summary.csv"]


def test_the_canvas_file_has_canvass_header_and_matches_its_downloads_by_id(graded):
    rows = read(graded / "canvas.csv")
    assert rows[0] == [*CANVAS_DOCUMENTED, "Practical 1 (4321)"]
    assert rows[1][0] == "Points Possible" and rows[1][-1] == "5"
    by_name = {row[0]: row for row in rows[2:]}
    assert len(by_name) == len(FILES)
    assert by_name["smithjane"][1:] == ["12345", "", "", "", "5"]
    assert by_name["doejohn"][1:] == ["23456", "", "", "", "2"]
    # Another name is taken as the student's login.
    assert by_name["asmith"][1:] == ["", "", "asmith", "", "5"]


def test_the_moodle_file_has_the_worksheets_header_and_matches_its_downloads_by_participant(graded):
    rows = read(graded / "moodle.csv")
    assert rows[0] == MOODLE_DOCUMENTED
    by_identifier = {row[0]: row for row in rows[1:]}
    ana = by_identifier["Participant 1234567"]
    assert ana[1:5] == ["Ana Silva", "", "2", "5"]
    assert ana[5].startswith("q2: Task 2: your map differs by up to")
    assert by_identifier["asmith"][3:] == ["5", "5", ""]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("smithjane_12345_678901_notebook", gradebook.Identity("smithjane", canvas_id="12345")),
        ("smithjane_LATE_12345_678901_notebook-1", gradebook.Identity("smithjane", canvas_id="12345")),
        ("Ana Silva_1234567_assignsubmission_file_ex2", gradebook.Identity("Ana Silva", moodle_participant="1234567")),
        ("Ana_Silva_1234567_assignsubmission_file_ex2", gradebook.Identity("Ana_Silva", moodle_participant="1234567")),
        ("student_42", gradebook.Identity("student_42")),
        ("jsmith", gradebook.Identity("jsmith")),
    ],
)
def test_a_file_name_gives_the_number_its_lms_gave_the_student(name, expected):
    assert gradebook.identity(name) == expected


def test_the_report_counts_full_points_and_groups_messages_that_differ_in_numbers_only(graded):
    page = (graded / "report.html").read_text(encoding="utf-8")
    assert "q1: 5 of 5 with full points" in page and "q2: 2 of 5 with full points" in page
    # Three students lost q2 with messages that differ in one number: one row, counted 3.
    row = re.search(r'<td class="number">(\d+)</td><td>(Task 2: your map differs[^<]*)</td>', page)
    assert row and row.group(1) == "3"
    for status in ("timed out", "unreadable", "stopped at the memory limit"):
        assert f'<td class="status-problem">{status}</td>' in page
    assert page.count('<td class="status-problem">') == 3


def test_the_report_escapes_what_a_submission_chose_and_fetches_nothing(graded):
    page = (graded / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert re.findall(r'(?:src|href)="([^"]*)"', page) and all(
        link.startswith("data:image/png;base64,") for link in re.findall(r'(?:src|href)="([^"]*)"', page)
    )
    alt = re.search(r'<img [^>]*alt="([^"]+)"', page).group(1)
    assert "q1 100% (5 of 5)" in alt and "q2 40% (2 of 5)" in alt


def test_frequent_messages_keeps_the_five_most_frequent_with_their_counts():
    messages = [f"mistake {letter}" for count, letter in enumerate("abcdefg") for _ in range(count)] + ["", ""]
    assert class_report.frequent_messages(messages) == [
        ("mistake g", 6),
        ("mistake f", 5),
        ("mistake e", 4),
        ("mistake d", 3),
        ("mistake c", 2),
    ]
