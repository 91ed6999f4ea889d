"""One model of a chapter: its MyST source read once into what every tool needs.

:func:`read_chapter` parses a chapter with the parser Jupyter Book itself
uses (markdown-it-py with the MyST plugins) and checks its exercise
structure. The result, a :class:`Chapter`, holds

* its front matter, title and the labels it defines;
* its top-level blocks in order (:class:`Block`), each with its tokens, so
  that :mod:`booktools.myst_plain` can rewrite the prose;
* its code cells (:class:`CodeCell`): source, options, tags, whether they
  sit inside a solution, and, inside one, which lines the student writes
  (marked ``# ✎``) and which are given (marked ``# given``);
* its exercises (:class:`Exercise`): title, label, statement, hints,
  solution cells, the self-check cell that follows, and the code cells a
  student can read before the exercise;
* its self-check calls (:class:`CheckCall`), in the order a student meets them.

Whatever could leak an answer into the student notebook is a
:class:`~booktools.myst_plain.ChapterError` naming the file and line: a
misspelt marker, a marker outside a solution, a solution cell without one,
a line of a solution that is neither the student's (``# ✎``) nor given
(``# given``) nor structure, a plain ``{solution}`` directive, a directive
fenced with ``~~~``, a misspelt exercise or solution directive (``{solution-strat}``), a solution
that is never closed.

**Scaffolding is explicit.** In a solution cell every statement is one of

* the student's: it ends with ``# ✎`` and becomes a blank;
* given: it ends with ``# given`` (the word goes from the student notebook);
* structure, recognised without a mark: ``def`` and ``class`` headers,
  loops, ``with`` and ``if`` headers, docstrings, ``pass``, ``import``
  and ``super().__init__()``.

Any other statement stops the generator with its file and line, so that an
answer line left unmarked never reaches a student.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from booktools.myst_plain import (
    ADMONITIONS,
    BUILD_TABLES,
    CODE_BLOCKS,
    ChapterError,
    Directive,
    directive_name,
    top_level_blocks,
)

__all__ = [
    "BLANK_MARKER",
    "GIVEN_MARKER",
    "Block",
    "Chapter",
    "CheckCall",
    "CodeCell",
    "Exercise",
    "is_pencil",
    "marker_lines",
    "read_chapter",
]

BLANK_MARKER = "# ✎"
GIVEN_MARKER = "# given"
STRUCTURE = ("exercise-start", "exercise-end", "solution-start", "solution-end")
# Every directive a chapter may use: the exercise structure, code cells, and what booktools.myst_plain converts
# (or refuses with its own message). A name close to one of the structure's, and not one of these, is a misspelling.
_KNOWN_DIRECTIVES = frozenset(
    (*STRUCTURE, "code-cell", "solution", "exercise", *ADMONITIONS, "dropdown", "figure", "image", *CODE_BLOCKS)
    + ("math", "tableofcontents", *BUILD_TABLES, "literalinclude")
)
# Pencils, pens, crayons and writing hands that an author may type for the marker by mistake, by Unicode name.
_PENCIL_NAME = re.compile(r"\b(PENCIL|PEN|BALLPOINT|NIB|CRAYON|WRITING HAND|MEMO)\b")
_GIVEN = re.compile(r"#\s*given\b", re.I)
_NBVAL_COMMENT = re.compile(r"^\s*# NBVAL_\w+", re.M)


def is_pencil(character: str) -> bool:
    """Whether ``character`` is a symbol that looks like the blank marker's pencil.

    Examples
    --------
    >>> [is_pencil(c) for c in "✎✏🖍🖋✍a#"]
    [True, True, True, True, True, False, False]
    """
    return unicodedata.category(character) == "So" and bool(_PENCIL_NAME.search(unicodedata.name(character, "")))


def has_pencil(text: str) -> bool:
    """Whether ``text`` holds a pencil-like symbol."""
    return any(is_pencil(character) for character in text)


@dataclass
class CodeCell:
    """One ``{code-cell}``: its code and where it sits.

    ``answer_lines`` and ``given_lines`` are line numbers within ``source``
    (1-based); both are empty outside a solution.
    """

    source: str
    line: int
    options: dict
    tags: list[str]
    in_solution: bool
    exercise: str | None
    answer_lines: set[int] = field(default_factory=set)
    given_lines: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class CheckCall:
    """A self-check call (``checks.check_network(MNISTModel)``): the function's name and the call's code."""

    function: str
    call: str
    cell: CodeCell


@dataclass
class Exercise:
    """One exercise: statement, hints, solution and the self-check that follows it."""

    label: str
    title: str
    statement: str
    statement_line: int
    line: int
    hints: list[Directive] = field(default_factory=list)
    solution: list[CodeCell] = field(default_factory=list)
    check: CodeCell | None = None
    above: list[CodeCell] = field(default_factory=list)


@dataclass
class Block:
    """A top-level block of the chapter: its kind, tokens and line, and the directive or cell it is."""

    kind: str  # "prose", "break", "code", or one of STRUCTURE
    tokens: list[Token]
    line: int
    directive: Directive | None = None
    cell: CodeCell | None = None
    in_solution: bool = False


@dataclass
class Chapter:
    """A chapter read once: see the module's documentation."""

    path: Path
    lines: list[str]
    front_matter: dict
    title: str
    blocks: list[Block]
    cells: list[CodeCell]
    exercises: list[Exercise]
    labels: dict[str, str]
    checks: list[CheckCall]

    @property
    def has_code(self) -> bool:
        return bool(self.cells)

    @property
    def is_exercise_chapter(self) -> bool:
        """Whether the chapter asks self-checked tasks: it then gets an autograder."""
        return bool(self.checks)


def read_chapter(path: str | Path, parser: MarkdownIt) -> Chapter:
    """Read the chapter at ``path`` with ``parser`` (:func:`booktools.myst_plain.markdown_parser`).

    Raises
    ------
    ChapterError
        If the chapter's structure could leak an answer; the message names the file and line.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    tokens = parser.parse(text)
    blocks: list[Block] = []
    cells: list[CodeCell] = []
    exercises: list[Exercise] = []
    labels: dict[str, str] = {}
    front_matter: dict = {}
    title = ""
    solution_line = 0
    exercise: Exercise | None = None
    after_solution: Exercise | None = None
    start = 0
    _check_directive_names_and_solutions(tokens, path)
    for block in top_level_blocks(tokens):
        token = block[0]
        line = (token.map or (0, 0))[0] + 1
        name = directive_name(token)
        directive = Directive.parse(token, line, path) if name else None
        if token.type == "front_matter":
            front_matter = yaml.safe_load(token.content) or {}
        elif token.type == "heading_open" and not title:
            title = block[1].content
        _labels_of(token, directive, tokens, start, labels)
        start += len(block)
        _refuse_markers_outside_code_cells(parser, block, path)
        if token.type == "myst_block_break":
            blocks.append(Block("break", block, line))
            continue
        if name not in (*STRUCTURE, "code-cell", "solution"):
            if name == "admonition" and directive.argument == "Hint" and after_solution is None and exercise is not None:
                exercise.hints.append(directive)
            blocks.append(Block("prose", block, line, directive, in_solution=bool(solution_line)))
            continue
        if name == "solution":
            raise ChapterError(
                path,
                line,
                "a {solution} directive would be copied into the student notebook with its answer: "
                "write solutions between {solution-start} and {solution-end}.",
            )
        if name == "exercise-start":
            label = str(directive.options.get("label", "")) or f"exercise-{len(exercises) + 1}"
            exercise = Exercise(label, directive.argument, directive.body, directive.body_line, line, above=list(_shown(cells)))
            exercises.append(exercise)
            after_solution = None
        elif name == "solution-start":  # closed before the next one: _check_directive_names_and_solutions
            solution_line = line
        elif name == "solution-end":
            if not solution_line:
                raise ChapterError(path, line, "a solution-end without a solution-start.")
            solution_line = 0
            after_solution = exercise
        elif name == "code-cell":
            cell = _code_cell(directive, path, bool(solution_line), exercise.label if exercise else None)
            cells.append(cell)
            if solution_line and exercise is not None:
                exercise.solution.append(cell)
            elif after_solution is not None:
                after_solution.check = cell
                after_solution = None
            blocks.append(Block("code", block, line, directive, cell, bool(solution_line)))
            continue
        blocks.append(Block(name, block, line, directive, in_solution=bool(solution_line)))
    checks = [CheckCall(function, call, cell) for cell in cells if not cell.in_solution for function, call in _check_calls(cell)]
    return Chapter(path, text.split("\n"), front_matter, title or path.stem, blocks, cells, exercises, labels, checks)


def misspelt_directive(name: str) -> str | None:
    """The exercise directive (or ``code-cell``) that ``name`` misspells, or None when it is known or not close to one.

    Examples
    --------
    >>> misspelt_directive("solution-strat"), misspelt_directive("Solution_End"), misspelt_directive("note")
    ('solution-start', 'solution-end', None)
    """
    if name in _KNOWN_DIRECTIVES:
        return None
    targets = (*STRUCTURE, "code-cell")
    folded = name.lower().replace("_", "-")
    close = difflib.get_close_matches(folded, targets, n=1, cutoff=0.75)
    if not close and folded.startswith(("solution", "exercise")):
        close = difflib.get_close_matches(folded, targets, n=1, cutoff=0.0)
    return close[0] if close else None


def _check_directive_names_and_solutions(tokens: list[Token], path: Path) -> None:
    """Refuse a misspelt exercise directive and a solution that is never closed, before anything else is read.

    Both would otherwise show up later as something else: a misspelt
    ``solution-start`` leaves its cells outside any solution (their markers
    "outside a solution"), and a missing ``solution-end`` swallows the next
    cells into the solution (the self-check cell "without a marker").
    """
    opened = 0
    for block in top_level_blocks(tokens):
        token = block[0]
        name = directive_name(token)
        if not name:
            continue
        line = (token.map or (0, 0))[0] + 1
        if near := misspelt_directive(name):
            raise ChapterError(
                path,
                line,
                f"{{{name}}} is a misspelt directive: did you mean {{{near}}}? Spelt this way, the exercise's "
                "structure is lost and its answers could reach the student notebook.",
            )
        if name == "solution-start" or (name == "exercise-start" and opened):
            if opened:
                raise ChapterError(path, opened, _never_closed(f"the next {name}, on line {line}"))
            opened = line
        elif name == "solution-end":
            opened = 0
    if opened:
        raise ChapterError(path, opened, _never_closed("the end of the chapter"))


def _never_closed(before: str) -> str:
    return (
        f"the solution opened here is never closed: no solution-end follows it before {before}, so every cell "
        "after it, the self-check's included, would be read as part of the answer. Close it with a {solution-end} "
        "directive after the solution's last code cell."
    )


def _shown(cells: list[CodeCell]) -> list[CodeCell]:
    """The cells a student reads before an exercise: every code cell that is not a solution."""
    return [cell for cell in cells if not cell.in_solution]


def _labels_of(token: Token, directive: Directive | None, tokens: list[Token], start: int, labels: dict[str, str]) -> None:
    """Add the labels a block defines, each with the title a link to it shows.

    ``token`` opens the block, at index ``start`` of the chapter's ``tokens``;
    ``directive`` is what it parses to, or None.
    """
    if token.type == "myst_target":
        headings = (tokens[j + 1].content for j in range(start, len(tokens)) if tokens[j].type == "heading_open")
        labels[token.content] = next(headings, "")
    elif token.type == "math_block_label":
        labels[token.info] = ""
    elif directive is not None and directive.name not in CODE_BLOCKS:
        label = directive.options.get("label") or directive.options.get("name")
        if label:
            labels[str(label)] = directive.argument
        mystnb = directive.options.get("mystnb")
        figure = mystnb.get("figure") if directive.name == "code-cell" and isinstance(mystnb, dict) else None
        if isinstance(figure, dict) and figure.get("name"):
            labels[figure["name"]] = str(figure.get("caption", ""))


def _check_calls(cell: CodeCell) -> list[tuple[str, str]]:
    """Each ``checks.check_...(...)`` call in a cell: (function name, the call's code)."""
    calls = []
    for node in ast.walk(ast.parse(cell.source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "checks"
            and node.func.attr.startswith("check_")
        ):
            calls.append((node.func.attr, ast.unparse(node)))
    return calls


def _code_cell(directive: Directive, path: Path, in_solution: bool, exercise: str | None) -> CodeCell:
    """A code cell, its markers checked: the student's lines inside solutions only, every solution line accounted for."""
    tags = directive.options.get("tags", [])
    tags = list(yaml.safe_load(tags) if isinstance(tags, str) else tags)
    cell = CodeCell(directive.body, directive.body_line, directive.options, tags, in_solution, exercise)
    code, first_line = cell.source, directive.body_line
    if match := _NBVAL_COMMENT.search(code):
        raise ChapterError(
            path,
            first_line + code[: match.start()].count("\n"),
            f"{match[0].strip()!r} would show on the site and in the PDFs: give the cell the tag instead "
            "(:tags: [nbval-check-output]), which nbval reads and the reader never sees.",
        )
    answers, given = marker_lines(code, path, first_line)
    if in_solution and not answers:
        raise ChapterError(
            path,
            directive.line,
            f"this solution cell has no {BLANK_MARKER!r} marker, so the student notebook "
            "would show the whole answer: mark the statements the student writes.",
        )
    if (answers or given) and not in_solution:
        marker = BLANK_MARKER if answers else GIVEN_MARKER
        raise ChapterError(
            path,
            first_line + min(answers or given) - 1,
            f"a {marker!r} marker outside a solution: the student would get a blank without a solution, or a "
            "mark with nothing to mark. Move the cell between solution-start and solution-end, or drop the marker.",
        )
    if in_solution:
        _refuse_unmarked_statements(code, answers, given, path, first_line)
    cell.answer_lines, cell.given_lines = answers, given
    return cell


def marker_lines(source: str, path: object = "<cell>", first_line: int = 1) -> tuple[set[int], set[int]]:
    """Lines (1-based, within ``source``) whose comment is the blank marker, and those whose comment is ``# given``.

    A comment with a pencil that is not exactly the marker is an error.
    """
    answers, given = set(), set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line, comment = token.start[0], token.string
        if _GIVEN.match(comment):
            if not comment.startswith(GIVEN_MARKER):
                _refuse_marker(
                    path,
                    first_line + line - 1,
                    comment,
                    "the given marker",
                    f"write exactly {GIVEN_MARKER!r}, lower case, at the start of the statement's comment",
                )
            given.add(line)
        if has_pencil(comment):
            if not re.match(r"# ✎(\s|$)", comment):
                _refuse_marker(
                    path,
                    first_line + line - 1,
                    comment,
                    "a blank marker",
                    f"write exactly {BLANK_MARKER!r} (hash, space, U+270E) at the end of the statement",
                )
            answers.add(line)
    return answers, given


def _refuse_marker(path, line: int, comment: str, marker: str, fix: str) -> None:
    raise ChapterError(path, line, f"the comment {comment!r} looks like {marker} but is not one: {fix}.")


def _is_structure(node: ast.stmt) -> bool:
    """Whether a statement is scaffolding that needs no mark: a docstring, ``pass``, an import, ``super().__init__()``."""
    if isinstance(node, (ast.Pass, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return True
    return isinstance(node, ast.Expr) and ast.unparse(node.value) == "super().__init__()"


_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While, ast.With, ast.If, ast.Try)


def _refuse_unmarked_statements(code: str, answers: set[int], given: set[int], path: Path, first_line: int) -> None:
    """Every simple statement of a solution cell is the student's, given, or structure; anything else is an error."""
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.stmt) or isinstance(node, _COMPOUND) or _is_structure(node):
            continue
        lines = set(range(node.lineno, node.end_lineno + 1))
        if lines & (answers | given):
            continue
        raise ChapterError(
            path,
            first_line + node.lineno - 1,
            f"the solution's statement {ast.unparse(node).splitlines()[0][:60]!r} carries no marker: end it with "
            f"{BLANK_MARKER!r} if the student writes it, or with {GIVEN_MARKER!r} if the student notebook gives it.",
        )


def _refuse_markers_outside_code_cells(parser: MarkdownIt, block: list[Token], chapter: Path) -> None:
    """A marker, or anything like one, in a code block of the prose would show an answer: refuse it.

    Looks into plain fenced and indented code, ``{code-block}`` directives, and
    the bodies of admonitions, dropdowns and ``:::`` blocks, however deeply nested.
    """
    for token in block:
        name = directive_name(token)
        if token.type in ("fence", "code_block", "colon_fence") and name != "code-cell":
            first = (token.map or (0, 0))[0] + 1
            if name is None or name in CODE_BLOCKS:
                # A fence's code starts on the line after the fence; indented code on its first line.
                start = first if token.type == "code_block" else first + 1
                for offset, text in enumerate(token.content.splitlines()):
                    if has_pencil(text):
                        raise ChapterError(
                            chapter,
                            start + offset,
                            "a code block in the prose holds a blank marker (or a pencil like one), which would show "
                            "the answer in the student notebook: put the answer in a code cell between solution-start "
                            "and solution-end, or drop the pencil.",
                        )
            else:  # a directive whose body is Markdown: look inside it
                inner = parser.parse(token.content)
                for inner_token in inner:
                    if inner_token.map is not None:
                        inner_token.map = [inner_token.map[0] + first, inner_token.map[1] + first]
                _refuse_markers_outside_code_cells(parser, inner, chapter)
