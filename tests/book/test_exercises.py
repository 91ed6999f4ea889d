"""Every exercise offers a hint before its solution, hints never give a line of the solution away,
and every exercise is followed by its self-check."""

import pytest

from bookpaths import ROOT
from booktools.myst_plain import Directive, directive_name, markdown_parser, top_level_blocks

CHAPTERS = sorted(path for path in (ROOT / "book").glob("ex*.md"))
PARSER = markdown_parser(["colon_fence", "dollarmath", "amsmath", "deflist"])


def exercises(path):
    """Each exercise of a chapter: label, hints (text), solution code lines, and the code cell after the solution."""
    found, current, where = [], None, None
    for block in top_level_blocks(PARSER.parse(path.read_text(encoding="utf-8"))):
        token = block[0]
        name = directive_name(token)
        directive = Directive.parse(token, 1, path) if name else None
        if name == "exercise-start":
            current = {"label": directive.options["label"], "hints": [], "solution": [], "after": None}
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
        elif name == "code-cell" and where == "after":
            current["after"] = directive.body
            where = None
    return found


EXERCISES = [(path.stem, exercise) for path in CHAPTERS for exercise in exercises(path)]


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
