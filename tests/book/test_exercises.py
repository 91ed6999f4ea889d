"""Every exercise offers a hint before its solution, hints never give a line of the solution away,
and every exercise is followed by its self-check."""

import ast

import pytest

from bookpaths import ROOT
from booktools.myst_plain import Directive, directive_name, markdown_parser, top_level_blocks

CHAPTERS = sorted(path for path in (ROOT / "book").glob("ex*.md"))
PARSER = markdown_parser(["colon_fence", "dollarmath", "amsmath", "deflist"])


def canonical(code: str) -> str:
    """Code as Python reads it, without comments, layout or whitespace."""
    return "".join(ast.unparse(ast.parse(code)).split())


def marked_answers(code: str) -> list[str]:
    """What the student writes: the value of each statement marked ✎, in canonical form."""
    lines = code.splitlines()
    answers = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Expr, ast.Return)) and node.value is not None:
            if any("# ✎" in line for line in lines[node.lineno - 1 : node.end_lineno]):
                answers.append("".join(ast.unparse(node.value).split()))
    return answers


def exercises(path):
    """Each exercise of a chapter: label, hints (text), solution code lines, the code cell after the solution,
    and the code of every cell above the exercise that is not a solution (what the student can read first)."""
    found, current, where, shown = [], None, None, []
    for block in top_level_blocks(PARSER.parse(path.read_text(encoding="utf-8"))):
        token = block[0]
        name = directive_name(token)
        directive = Directive.parse(token, 1, path) if name else None
        if name == "exercise-start":
            current = {
                "label": directive.options["label"],
                "hints": [],
                "solution": [],
                "marked": [],
                "after": None,
                "above": list(shown),
            }
            found.append(current)
            where = "exercise"
        elif name == "exercise-end":
            where = "between"
        elif name == "admonition" and where == "between" and directive.argument == "Hint":
            assert "dropdown" in directive.options.get("class", ""), f"{path.name}: a hint that is not a dropdown"
            current["hints"].append(directive.body)
        elif name == "solution-start":
            where = "solution"
        elif name == "solution-end":
            where = "after"
        elif name == "code-cell" and where == "solution":
            current["solution"] += [line.split("#")[0].strip() for line in directive.body.splitlines()]
            current["marked"] += marked_answers(directive.body)
        elif name == "code-cell" and where == "after":
            current["after"] = directive.body
            where = None
        if name == "code-cell" and where != "solution":
            shown.append(canonical(directive.body))
    return found


EXERCISES = [(path.stem, exercise) for path in CHAPTERS for exercise in exercises(path)]


@pytest.mark.parametrize(("chapter", "exercise"), EXERCISES, ids=[e["label"] for _, e in EXERCISES])
def test_no_cell_above_an_exercise_holds_its_answer(chapter, exercise):
    # A line the student must write (marked ✎) that a demonstration above already shows gives the answer away.
    answers = {answer for answer in exercise["marked"] if len(answer) > 12}
    assert answers, f"{chapter} {exercise['label']}: no marked line to compare"
    shown = [answer for answer in answers if any(answer in cell for cell in exercise["above"])]
    assert shown == [], f"{chapter} {exercise['label']}: a cell above the exercise already holds {shown}"


def test_every_exercise_is_found():
    assert len(EXERCISES) == 16


@pytest.mark.parametrize(("chapter", "exercise"), EXERCISES, ids=[e["label"] for _, e in EXERCISES])
def test_exercise_has_a_hint_that_gives_no_line_away(chapter, exercise):
    assert 1 <= len(exercise["hints"]) <= 2, f"{chapter} {exercise['label']}: give one or two hints before the solution"
    code = [line for line in exercise["solution"] if len(line) > 12]
    assert code, f"{chapter} {exercise['label']}: the solution has no code"
    for hint in exercise["hints"]:
        flat = " ".join(hint.split())
        assert not [line for line in code if line in flat], f"{chapter} {exercise['label']}: a hint quotes the solution"


@pytest.mark.parametrize(("chapter", "exercise"), EXERCISES, ids=[e["label"] for _, e in EXERCISES])
def test_exercise_is_followed_by_its_self_check(chapter, exercise):
    assert "checks.check_" in (exercise["after"] or ""), f"{chapter} {exercise['label']}: run a self-check right after"
