"""Every exercise offers a hint before its solution, hints never give a line of the solution away,
and every exercise is followed by its self-check."""

import ast

import pytest

from bookpaths import book

BOOK = book()


def canonical(code: str) -> str:
    """Code as Python reads it, without comments, layout or whitespace."""
    return "".join(ast.unparse(ast.parse(code)).split())


def marked_answers(cell) -> list[str]:
    """What the student writes in a solution cell: the value of each statement marked ✎, in canonical form."""
    answers = []
    for node in ast.walk(ast.parse(cell.source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Expr, ast.Return)) and node.value is not None:
            if cell.answer_lines & set(range(node.lineno, node.end_lineno + 1)):
                answers.append("".join(ast.unparse(node.value).split()))
    return answers


# Every exercise of every chapter of the table of contents, as booktools.chapter reads it.
EXERCISES = [(chapter.path.stem, exercise) for chapter in BOOK.chapters for exercise in chapter.exercises]
IDS = [exercise.label for _, exercise in EXERCISES]


@pytest.mark.parametrize(("chapter", "exercise"), EXERCISES, ids=IDS)
def test_no_cell_above_an_exercise_holds_its_answer(chapter, exercise):
    # A line the student must write (marked ✎) that a demonstration above already shows gives the answer away.
    answers = {answer for cell in exercise.solution for answer in marked_answers(cell) if len(answer) > 12}
    assert answers, f"{chapter} {exercise.label}: no marked line to compare"
    above = [canonical(cell.source) for cell in exercise.above]
    shown = [answer for answer in answers if any(answer in cell for cell in above)]
    assert shown == [], f"{chapter} {exercise.label}: a cell above the exercise already holds {shown}"


def test_every_exercise_chapter_asks_exercises():
    assert all(chapter.exercises for chapter in BOOK.exercise_chapters)
    assert len(EXERCISES) >= len(BOOK.exercise_chapters)


@pytest.mark.parametrize(("chapter", "exercise"), EXERCISES, ids=IDS)
def test_exercise_has_a_hint_that_gives_no_line_away(chapter, exercise):
    assert 1 <= len(exercise.hints) <= 2, f"{chapter} {exercise.label}: give one or two hints before the solution"
    assert all("dropdown" in str(hint.options.get("class", "")) for hint in exercise.hints), (
        f"{chapter}: a hint that is not a dropdown"
    )
    code = [line.split("#")[0].strip() for cell in exercise.solution for line in cell.source.splitlines()]
    code = [line for line in code if len(line) > 12]
    assert code, f"{chapter} {exercise.label}: the solution has no code"
    for hint in exercise.hints:
        flat = " ".join(hint.body.split())
        assert not [line for line in code if line in flat], f"{chapter} {exercise.label}: a hint quotes the solution"


@pytest.mark.parametrize(("chapter", "exercise"), EXERCISES, ids=IDS)
def test_exercise_is_followed_by_its_self_check(chapter, exercise):
    assert exercise.check is not None and "checks.check_" in exercise.check.source, (
        f"{chapter} {exercise.label}: run a self-check right after"
    )
