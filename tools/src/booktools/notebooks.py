"""Student notebooks: each chapter's MyST source turned into a plain notebook with blanks.

A chapter ``book/<name>.md`` is the source of truth, read by
:mod:`booktools.chapter`. Its solutions sit between sphinx-exercise's
``solution-start`` and ``solution-end`` markers; in them, the statements a
student has to write end with ``# ✎`` and those the notebook gives end with
``# given``. :func:`student_notebook` turns the chapter into
``book/<name>.ipynb``:

* a first cell installs ``cnnlab`` on Colab and does nothing elsewhere;
* every statement marked ``# ✎`` inside a solution becomes a blank
  (``name = None`` for an assignment, ``...`` for anything else), and the
  word ``given`` leaves the given statements' comments;
* the prose of the solutions goes, the exercise directives become bold
  titles, the self-check cells stay, and every other MyST construct becomes
  plain Markdown (:mod:`booktools.myst_plain`);
* outputs are empty, and cell ids are stable so that regenerating an
  unchanged chapter changes nothing.

Every chapter of ``_toc.yml`` with code cells gets one (:class:`booktools.book.Book`).

::

    python -m booktools notebooks          # write book/<chapter>.ipynb
    python -m booktools notebooks --check  # fail when one is out of date
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

from booktools.book import Book
from booktools.chapter import BLANK_MARKER, Chapter, CodeCell, read_chapter
from booktools.cli import generator_main, sync_files
from booktools.myst_plain import ChapterError, PlainMarkdown

__all__ = [
    "blank_marked_statements",
    "colab_setup_source",
    "student_notebook",
    "write_student_notebooks",
]

DESCRIPTION = "Write each chapter's student notebook, book/<chapter>.ipynb, from its MyST source."

PACKAGE_URL_VARIABLE = "CNNLAB_PACKAGE_URL"
_KEPT_TAGS = ("raises-exception",)
_GIVEN_COMMENT = re.compile(r"#\s*given\b[\s:,;.-]*")


def blank_marked_statements(source: str, marked: set[int], path: object = "<cell>", first_line: int = 1) -> str:
    """Replace each statement that a line of ``marked`` belongs to by a blank.

    Parameters
    ----------
    source : str
        Python code of one cell.
    marked : set of int
        The lines (1-based, within ``source``) that carry the marker ``# ✎``.
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
        If a marker sits on a line that is not part of a simple statement.

    Examples
    --------
    >>> print(blank_marked_statements("x = compute(\\n    1)  # ✎\\ny = 2", {2}))
    x = None  # ✎
    y = 2
    >>> print(blank_marked_statements("def f():\\n    return g()  # ✎", {2}))
    def f():
        return None  # ✎
    """
    marked = set(marked)
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


def _without_given_marks(source: str, given: set[int]) -> str:
    """The code with the word ``given`` taken out of the marked lines' comments (an empty comment goes whole).

    Examples
    --------
    >>> print(_without_given_marks("a = 1  # given\\nb = f(a)  # given: (N, 4)", {1, 2}))
    a = 1
    b = f(a)  # (N, 4)
    """
    lines = source.split("\n")
    for number in given:
        code, hash_, comment = lines[number - 1].partition("#")
        rest = _GIVEN_COMMENT.sub("", "#" + comment, count=1).strip()
        lines[number - 1] = f"{code.rstrip()}  # {rest}" if rest else code.rstrip()
    return "\n".join(lines)


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


def student_notebook(chapter: Chapter | str | Path, book: Book, solved: bool = False) -> nbformat.NotebookNode:
    """The student notebook of one chapter.

    Parameters
    ----------
    chapter : Chapter, or the path of its source
        The chapter, inside ``book.root``.
    book : Book
        The book, from :meth:`Book.from_config`.
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
    if not isinstance(chapter, Chapter):
        chapter = read_chapter(chapter, book.parser)
    plain = PlainMarkdown(book.parser, book.links(chapter), chapter.path)
    cells = [nbformat.v4.new_code_cell(colab_setup_source(book.repository_url, book.branch), metadata={"tags": ["colab-setup"]})]
    markdown: list[str] = []

    def flush() -> None:
        if markdown:
            cells.append(nbformat.v4.new_markdown_cell("\n\n".join(markdown)))
            markdown.clear()

    for block in chapter.blocks:
        if block.kind == "break":
            flush()
        elif block.kind == "prose":
            if not block.in_solution:
                converted = plain.block(block.tokens, chapter.lines, 1)
                if converted:
                    markdown.append(converted)
        elif block.kind == "exercise-start":
            title = block.directive.argument
            # Titles that carry their own number ("Ex 2.1: ...") need no "Exercise" in front.
            heading = title if title.startswith("Ex ") else f"Exercise: {title}" if title else "Exercise"
            markdown.append(f"**{heading}**")
            if block.directive.body:
                markdown.append(plain.convert(block.directive.body, block.directive.body_line))
        elif block.kind == "code":
            flush()
            cells.append(_code_cell(block.cell, chapter.path, solved))
    flush()
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def _code_cell(cell: CodeCell, path: Path, solved: bool) -> nbformat.NotebookNode:
    """One code cell of the student notebook; a solution's marked statements become blanks."""
    code = cell.source
    if cell.in_solution:
        code = _without_given_marks(code, cell.given_lines)  # keeps every line where it was
        if not solved:
            code = blank_marked_statements(code, cell.answer_lines, path, cell.line)
    tags = [tag for tag in cell.tags if tag in _KEPT_TAGS]
    return nbformat.v4.new_code_cell(code, metadata={"tags": tags} if tags else {})


def write_student_notebooks(root: str | Path = ".", check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) the student notebook of every chapter of the table of contents.

    Parameters
    ----------
    root : path-like
        The repository root, holding ``_config.yml``, ``_toc.yml`` and ``book/``.
    check : bool
        Write nothing; return the notebooks that are missing, out of date, or left from a chapter no longer listed.

    Returns
    -------
    list of pathlib.Path
        Notebooks written (or removed), or, with ``check``, notebooks out of date.
    """
    book = Book.from_config(root)
    wanted = {
        chapter.path.with_suffix(".ipynb"): nbformat.writes(student_notebook(chapter, book)) + "\n"
        for chapter in book.chapters_with_code
    }
    present = [path for path in (book.root / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts]
    changed = sync_files(wanted, present, check)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the student notebooks, or check them with ``--check``."""
    return generator_main(argv, "notebooks", DESCRIPTION, "a student notebook", write_student_notebooks)


if __name__ == "__main__":  # the old spelling, python -m booktools.notebooks
    from booktools import moved

    print(moved.message("notebooks", run=True), file=sys.stderr)
    sys.exit(2)
