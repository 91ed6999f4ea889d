"""The grades as a learning management system imports them: a Canvas gradebook file and a Moodle grading worksheet.

:mod:`booktools.grading.grade` writes both beside ``grades.csv``; each student is
matched by the name of the notebook they handed in:

* **Canvas** (*Grades, Import*): ``canvas.csv`` has the columns of Canvas's
  gradebook export, ``Student, ID, SIS User ID, SIS Login ID, Section``, then
  one column for the assignment (name it ``Practical 2 (1234)`` with the
  assignment's id to update an existing one; a new name creates one), and a
  ``Points Possible`` row first, as Canvas's export has. A file named as
  Canvas's *Download Submissions* names it (``smithjane_12345_678901_ex2.ipynb``,
  ``_LATE_`` included) gives the student's Canvas ``ID``; any other file name
  is taken as the student's ``SIS Login ID``.
* **Moodle** (the assignment's *Upload grading worksheet*): ``moodle.csv`` has
  the columns of Moodle's grading worksheet that the upload reads,
  ``Identifier, Full name, Email address, Grade, Maximum Grade, Feedback
  comments``. A file named as Moodle's *Download all submissions* names it
  (``Jane Smith_1234567_assignsubmission_file_ex2.ipynb``) gives the
  ``Identifier``, ``Participant 1234567``; the worksheet's ``Last modified``
  columns are left out, so that Moodle does not skip a grade as older than
  its own.

A row that the file name cannot match is still written, with the name in the
columns above, and the command lists it on the terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CANVAS_HEADER",
    "MOODLE_HEADER",
    "Identity",
    "StudentGrade",
    "canvas_rows",
    "identity",
    "moodle_rows",
    "unmatched",
]

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Feedback comments"]

_CANVAS_NAME = re.compile(r"(?P<name>[^_]+)_(?:LATE_)?(?P<user>\d+)_(?P<attachment>\d+)_.*")
_MOODLE_NAME = re.compile(r"(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_(?:file|onlinetext)_.*")


@dataclass(frozen=True)
class Identity:
    """Who a handed-in file names: the name, and the number Canvas or Moodle gave it when the LMS named the file."""

    name: str
    canvas_id: str = ""
    moodle_participant: str = ""


@dataclass(frozen=True)
class StudentGrade:
    """One handed-in file's grade: the student it names, the points, and the feedback on every lost point."""

    student: str
    points: float
    max_points: float
    feedback: str


def identity(student: str) -> Identity:
    """Who ``student`` (a file's name without ``.ipynb``) is in Canvas or Moodle.

    Examples
    --------
    >>> identity("smithjane_LATE_12345_678901_ex2-mnist-cnn")
    Identity(name='smithjane', canvas_id='12345', moodle_participant='')
    >>> identity("Jane Smith_1234567_assignsubmission_file_ex2-mnist-cnn")
    Identity(name='Jane Smith', canvas_id='', moodle_participant='1234567')
    >>> identity("jsmith")
    Identity(name='jsmith', canvas_id='', moodle_participant='')
    """
    moodle = _MOODLE_NAME.fullmatch(student)
    if moodle:
        return Identity(moodle["name"], moodle_participant=moodle["participant"])
    canvas = _CANVAS_NAME.fullmatch(student)
    if canvas:
        return Identity(canvas["name"], canvas_id=canvas["user"])
    return Identity(student)


def _number(value: float) -> str:
    return f"{value:g}"


def canvas_rows(grades: list[StudentGrade], assignment: str) -> list[list[str]]:
    """Canvas's gradebook import: its header with ``assignment``'s column, the points possible, one row per file."""
    possible = max((g.max_points for g in grades), default=0)
    rows = [[*CANVAS_HEADER, assignment], ["Points Possible", "", "", "", "", _number(possible)]]
    for grade in grades:
        who = identity(grade.student)
        login = "" if who.canvas_id else who.name
        rows.append([who.name, who.canvas_id, "", login, "", _number(grade.points)])
    return rows


def moodle_rows(grades: list[StudentGrade]) -> list[list[str]]:
    """Moodle's grading worksheet, as its upload reads it: one row per file, with the feedback."""
    rows = [list(MOODLE_HEADER)]
    for grade in grades:
        who = identity(grade.student)
        identifier = f"Participant {who.moodle_participant}" if who.moodle_participant else who.name
        rows.append([identifier, who.name, "", _number(grade.points), _number(grade.max_points), grade.feedback])
    return rows


def unmatched(grades: list[StudentGrade]) -> tuple[list[str], list[str]]:
    """The students whose file name Canvas, and Moodle, cannot match by their own numbers."""
    who = [(grade.student, identity(grade.student)) for grade in grades]
    return [s for s, i in who if not i.canvas_id], [s for s, i in who if not i.moodle_participant]
