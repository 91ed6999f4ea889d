"""Student notebooks: each chapter's MyST source turned into a plain notebook with blanks.

A chapter ``book/<name>.md`` is the source of truth. Its solutions sit between
sphinx-exercise's ``solution-start`` and ``solution-end`` markers, and the
statements a student has to write end with the marker comment ``# ✎``.
:func:`student_notebook` turns the chapter into ``book/<name>.ipynb``:

* a first cell installs ``cnnlab`` on Colab and does nothing elsewhere;
* every statement marked ``# ✎`` inside a solution becomes a blank
  (``name = None`` for an assignment, ``...`` for anything else);
* the prose of the solutions goes, the exercise directives become bold
  titles, the self-check cells stay, and every other MyST construct becomes
  plain Markdown (:mod:`booktools.myst_plain`);
* outputs are empty, and cell ids are stable so that regenerating an
  unchanged chapter changes nothing.

A marker that could leak an answer is an error naming the file and line: a
misspelt marker (``#✎``, another pencil), a marker outside a solution, a
solution cell without a marker, a plain ``{solution}`` directive, a directive
fenced with ``~~~``.

Run ``python -m booktools.notebooks`` from the repository root to regenerate
every student notebook, or ``python -m booktools.notebooks --check`` to fail
when one is out of date.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat
import yaml

from booktools.myst_plain import (
    CODE_BLOCKS,
    ChapterError,
    Directive,
    Links,
    PlainMarkdown,
    directive_name,
    markdown_parser,
    top_level_blocks,
)

__all__ = [
    "BLANK_MARKER",
    "Book",
    "blank_marked_statements",
    "chapters_with_code",
    "colab_setup_source",
    "student_notebook",
    "write_student_notebooks",
]

BLANK_MARKER = "# ✎"
PACKAGE_URL_VARIABLE = "CNNLAB_PACKAGE_URL"
# Pencils, pens, crayons and writing hands that an author may type for the marker by mistake, by Unicode name.
_PENCIL_NAME = re.compile(r"\b(PENCIL|PEN|BALLPOINT|NIB|CRAYON|WRITING HAND|MEMO)\b")


def is_pencil(character: str) -> bool:
    """Whether ``character`` is a symbol that looks like the blank marker's pencil.

    Examples
    --------
    >>> [is_pencil(c) for c in "✎✏🖍🖋✍a#"]
    [True, True, True, True, True, False, False]
    """
    return unicodedata.category(character) == "So" and bool(_PENCIL_NAME.search(unicodedata.name(character, "")))


def _has_pencil(text: str) -> bool:
    return any(is_pencil(character) for character in text)


_STRUCTURE = ("exercise-start", "exercise-end", "solution-start", "solution-end")
_KEPT_TAGS = ("raises-exception",)
_NBVAL_LINE = re.compile(r"^# NBVAL_\w+[ \t]*\n?", re.M)


def _marker_lines(source: str, path: object = "<cell>", first_line: int = 1) -> set[int]:
    """Lines (1-based, within ``source``) whose comment is the blank marker.

    A comment with a pencil that is not exactly the marker is an error.
    """
    marked = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or not _has_pencil(token.string):
            continue
        if not re.match(r"# ✎(\s|$)", token.string):
            raise ChapterError(
                path,
                first_line + token.start[0] - 1,
                f"the comment {token.string!r} looks like a blank marker but is "
                f"not one: write exactly {BLANK_MARKER!r} (hash, space, U+270E) at the end of the statement.",
            )
        marked.add(token.start[0])
    return marked


def blank_marked_statements(source: str, path: object = "<cell>", first_line: int = 1) -> str:
    """Replace each statement marked ``# ✎`` by a blank.

    Parameters
    ----------
    source : str
        Python code of one cell.
    path, first_line
        The chapter and the line of ``source``'s first line in it, for errors.

    Returns
    -------
    str
        The code with every marked statement replaced, whatever its number of
        lines, by ``target = None`` (assignments) or ``...`` (other statements),
        followed by the marker.

    Raises
    ------
    ChapterError
        If a marker is misspelt or sits on a line that is not part of a simple
        statement.

    Examples
    --------
    >>> print(blank_marked_statements("x = compute(\\n    1)  # ✎\\ny = 2"))
    x = None  # ✎
    y = 2
    >>> print(blank_marked_statements("def f():\\n    return g()  # ✎"))
    def f():
        return None  # ✎
    """
    marked = _marker_lines(source, path, first_line)
    if not marked:
        return source
    lines = source.splitlines()
    replacements = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt):
            continue
        statement_lines = set(range(node.lineno, node.end_lineno + 1))
        simple = isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return))
        if not marked & statement_lines or not simple:
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            blank = f"{ast.unparse(node.targets[0])} = None"
        elif isinstance(node, ast.AnnAssign):
            blank = f"{ast.unparse(node.target)}: {ast.unparse(node.annotation)} = None"
        elif isinstance(node, ast.Return):
            blank = "return None"
        else:
            blank = "..."
        first = lines[node.lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        replacements[node.lineno] = (node.end_lineno, f"{indent}{blank}  {BLANK_MARKER}")
        marked -= statement_lines
    if marked:
        raise ChapterError(
            path,
            first_line + min(marked) - 1,
            f"the marker {BLANK_MARKER!r} is not inside a simple statement "
            "(an assignment, a call or a return): move it to such a statement.",
        )
    result, number = [], 1
    while number <= len(lines):
        if number in replacements:
            end, text = replacements[number]
            result.append(text)
            number = end + 1
        else:
            result.append(lines[number - 1])
            number += 1
    return "\n".join(result)


def colab_setup_source(repository_url: str, branch: str) -> str:
    """Code of the first cell: install ``cnnlab`` on Colab only, from the repository or an override.

    Examples
    --------
    >>> print(colab_setup_source("https://github.com/me/book", "main").splitlines()[-2])
        package = os.environ.get("CNNLAB_PACKAGE_URL", "git+https://github.com/me/book@main#subdirectory=code")
    """
    default = f"git+{repository_url}@{branch}#subdirectory=code"
    return (
        "# On Colab, install the book's helper package cnnlab: it needs nothing that Colab's own\n"
        "# torch, torchvision and numpy do not already satisfy. Anywhere else this cell does nothing.\n"
        f"# To install it from elsewhere (a fork, a tag), first run: %env {PACKAGE_URL_VARIABLE}=<pip address>\n"
        "import os\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    package = os.environ.get("{PACKAGE_URL_VARIABLE}", "{default}")\n'
        '    %pip install --quiet "cnnlab @ {package}"'
    )


@dataclass(frozen=True)
class Book:
    """What the generator needs to know of the whole book: its address, labels and syntax."""

    root: Path
    repository_url: str
    branch: str
    published_url: str
    extensions: tuple[str, ...]

    @classmethod
    def from_config(cls, root: str | Path) -> Book:
        """Read ``_config.yml`` at ``root``."""
        root = Path(root)
        config_path = root / "_config.yml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        repository = config.get("repository", {})
        if "url" not in repository:
            raise ValueError(f"{config_path} has no repository.url: add the book's GitHub URL there.")
        url = repository["url"].rstrip("/")
        extensions = tuple(config.get("parse", {}).get("myst_enable_extensions", []))
        return cls(root, url, repository.get("branch", "main"), published_url(url), extensions)

    def links(self, chapter: Path) -> Links:
        """Where the roles of ``chapter`` point."""
        titles, labels = self._targets
        docname = chapter.resolve().relative_to(self.root.resolve()).with_suffix("").as_posix()
        return Links(self.published_url, docname, titles, labels)

    @cached_property
    def _targets(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Every chapter's title, and every label with its chapter and title."""
        parser = markdown_parser(self.extensions)
        titles, labels = {}, {}
        for path in sorted((self.root / "book").glob("*.md")):
            docname = path.relative_to(self.root).with_suffix("").as_posix()
            tokens = parser.parse(path.read_text(encoding="utf-8"))
            heading = next((tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"), docname)
            titles[docname] = heading
            for i, token in enumerate(tokens):
                if token.type == "myst_target":
                    headings = (tokens[j + 1].content for j in range(i, len(tokens)) if tokens[j].type == "heading_open")
                    labels[token.content] = (docname, next(headings, ""))
                elif token.type == "math_block_label":
                    labels[token.info] = (docname, "")
                elif (name := directive_name(token)) is not None:  # a code-cell may name a figure
                    directive = Directive.parse(token, (token.map or (0, 0))[0] + 1, path)
                    label = directive.options.get("label") or directive.options.get("name")
                    mystnb = directive.options.get("mystnb")
                    figure = mystnb.get("figure") if name == "code-cell" and isinstance(mystnb, dict) else None
                    if label:
                        labels[str(label)] = (docname, directive.argument)
                    if isinstance(figure, dict) and figure.get("name"):
                        labels[figure["name"]] = (docname, str(figure.get("caption", "")))
        return titles, labels


def published_url(repository_url: str) -> str:
    """The GitHub Pages address of a GitHub repository.

    Examples
    --------
    >>> published_url("https://github.com/health-ai-course/cnn-practical")
    'https://health-ai-course.github.io/cnn-practical/'
    """
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url)
    if match is None:
        raise ValueError(
            f"repository.url={repository_url!r} is not a GitHub repository address: use https://github.com/<owner>/<repository>."
        )
    return f"https://{match[1]}.github.io/{match[2]}/"


def student_notebook(chapter: str | Path, book: Book, solved: bool = False) -> nbformat.NotebookNode:
    """The student notebook of one chapter.

    Parameters
    ----------
    chapter : path-like
        The chapter's MyST Markdown source, inside ``book.root``.
    book : Book
        The book's settings, from :meth:`Book.from_config`.
    solved : bool
        Keep the marked statements (the reference solutions) instead of
        blanking them; everything else is the same notebook. The tests run it.

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    ChapterError
        If a marker or a directive could leak an answer or MyST syntax; the
        message names the file and line.
    """
    chapter = Path(chapter)
    text = chapter.read_text(encoding="utf-8")
    lines = text.split("\n")
    parser = markdown_parser(book.extensions)
    plain = PlainMarkdown(parser, book.links(chapter), chapter)
    cells = [nbformat.v4.new_code_cell(colab_setup_source(book.repository_url, book.branch), metadata={"tags": ["colab-setup"]})]
    markdown: list[str] = []
    solution_line = 0

    def flush() -> None:
        if markdown:
            cells.append(nbformat.v4.new_markdown_cell("\n\n".join(markdown)))
            markdown.clear()

    for block in top_level_blocks(parser.parse(text)):
        token = block[0]
        line = (token.map or (0, 0))[0] + 1
        name = directive_name(token)
        if token.type == "myst_block_break":
            flush()
            continue
        _refuse_markers_outside_code_cells(parser, block, chapter)
        if name is None or name not in (*_STRUCTURE, "code-cell", "solution"):
            if not solution_line:
                converted = plain.block(block, lines, 1)
                if converted:
                    markdown.append(converted)
            continue
        directive = Directive.parse(token, line, chapter)
        if name == "solution":
            raise ChapterError(
                chapter,
                line,
                "a {solution} directive would be copied into the student notebook with its answer: "
                "write solutions between {solution-start} and {solution-end}.",
            )
        if name == "exercise-start":
            title = directive.argument
            # Titles that carry their own number ("Ex 2.1: ...") need no "Exercise" in front.
            heading = title if title.startswith("Ex ") else f"Exercise: {title}" if title else "Exercise"
            markdown.append(f"**{heading}**")
            if directive.body:
                markdown.append(plain.convert(directive.body, directive.body_line))
        elif name == "solution-start":
            if solution_line:
                raise ChapterError(chapter, line, f"a solution-start inside the solution opened on line {solution_line}.")
            solution_line = line
        elif name == "solution-end":
            if not solution_line:
                raise ChapterError(chapter, line, "a solution-end without a solution-start.")
            solution_line = 0
        elif name == "code-cell":
            flush()
            cells.append(_code_cell(directive, chapter, in_solution=bool(solution_line), solved=solved))
    if solution_line:
        raise ChapterError(chapter, solution_line, "a solution-start has no matching solution-end: close every solution.")
    flush()
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def _code_cell(directive: Directive, chapter: Path, in_solution: bool, solved: bool) -> nbformat.NotebookNode:
    """One code cell of the student notebook; a solution's marked statements become blanks."""
    code = _NBVAL_LINE.sub("", directive.body)
    first_line = directive.body_line + (directive.body.count("\n") - code.count("\n"))
    marked = _marker_lines(code, chapter, first_line)
    if in_solution and not marked:
        raise ChapterError(
            chapter,
            directive.line,
            f"this solution cell has no {BLANK_MARKER!r} marker, so the student notebook "
            "would show the whole answer: mark the statements the student writes.",
        )
    if marked and not in_solution:
        raise ChapterError(
            chapter,
            first_line + min(marked) - 1,
            f"a {BLANK_MARKER!r} marker outside a solution: the student would "
            "get a blank without a solution. Move the cell between solution-start and solution-end, or drop the marker.",
        )
    if in_solution and not solved:
        code = blank_marked_statements(code, chapter, first_line)
    tags = directive.options.get("tags", [])
    tags = [tag for tag in (yaml.safe_load(tags) if isinstance(tags, str) else tags) if tag in _KEPT_TAGS]
    return nbformat.v4.new_code_cell(code, metadata={"tags": tags} if tags else {})


def _refuse_markers_outside_code_cells(parser, block: list, chapter: Path) -> None:
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
                    if _has_pencil(text):
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


def chapters_with_code(book_dir: Path) -> list[Path]:
    """The chapter sources in ``book_dir`` that contain code cells."""
    return sorted(path for path in book_dir.glob("*.md") if "{code-cell}" in path.read_text(encoding="utf-8"))


def write_student_notebooks(root: str | Path = ".", check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) the student notebook of every chapter.

    Parameters
    ----------
    root : path-like
        The repository root, holding ``_config.yml`` and ``book/``.
    check : bool
        Write nothing; return the notebooks that are missing or out of date.

    Returns
    -------
    list of pathlib.Path
        Notebooks written, or, with ``check``, notebooks out of date.
    """
    book = Book.from_config(root)
    changed = []
    for chapter in chapters_with_code(book.root / "book"):
        target = chapter.with_suffix(".ipynb")
        text = nbformat.writes(student_notebook(chapter, book)) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check:
                target.write_text(text, encoding="utf-8")
    return changed


def generator_main(argv: list[str] | None, module: str, description: str, what: str, write: Callable) -> int:
    """The command line of a generator of files from the chapters: write them, or check them with ``--check``.

    ``write(root, check=...)`` returns the files it wrote or, with ``check``,
    those out of date; ``what`` names them in the help.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--root", default=".", help="repository root (default: current folder)")
    parser.add_argument("--check", action="store_true", help=f"fail if {what} is out of date")
    options = parser.parse_args(argv)
    root = Path(options.root)
    try:
        if not root.is_dir():
            raise ValueError(f"--root {root} is not a folder: give the repository's root, which holds _config.yml and book/.")
        if not (root / "_config.yml").is_file():
            raise ValueError(f"--root {root} has no _config.yml: give the repository's root, which holds _config.yml and book/.")
        if not chapters_with_code(root / "book"):
            raise ValueError(f"--root {root} has no chapter with code cells in {root / 'book'}: nothing to generate or check.")
        changed = write(root, check=options.check)
    except (ChapterError, ValueError, OSError, yaml.YAMLError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    for path in changed:
        print(("out of date: " if options.check else "wrote ") + str(path))
    if options.check and changed:
        print(f"Run `python -m {module}` and commit the result.", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the student notebooks, or check them with ``--check``."""
    return generator_main(argv, "booktools.notebooks", __doc__.splitlines()[0], "a student notebook", write_student_notebooks)


if __name__ == "__main__":
    sys.exit(main())
