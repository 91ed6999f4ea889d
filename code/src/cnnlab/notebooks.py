"""Student notebooks: each chapter's MyST source turned into a notebook with blanks.

A chapter ``book/<name>.md`` is the source of truth. Its solutions sit between
sphinx-exercise's ``solution-start`` and ``solution-end`` markers, and the
lines a student has to write end with the marker comment ``# ✎``.
:func:`student_notebook` turns the chapter into ``book/<name>.ipynb``:

* a first cell installs ``cnnlab`` on Colab and does nothing elsewhere;
* every statement marked ``# ✎`` inside a solution becomes a blank
  (``name = None`` for an assignment, ``...`` for anything else);
* the prose of the solutions is removed, the exercise directives become plain
  headings, and the self-check cells stay;
* outputs are empty, and cell ids are stable so that regenerating an
  unchanged chapter changes nothing.

Run ``python -m cnnlab.notebooks`` from the repository root to regenerate
every student notebook, or ``python -m cnnlab.notebooks --check`` to fail when
one is out of date.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from pathlib import Path

import jupytext
import nbformat
import yaml

__all__ = ["BLANK_MARKER", "blank_marked_statements", "colab_setup_source", "student_notebook", "write_student_notebooks"]

BLANK_MARKER = "# ✎"

_DIRECTIVE = re.compile(r"^(```+|:::+)\{(?P<name>[\w-]+)\}(?P<argument>[^\n]*)\n(?P<body>.*?)^\1[ \t]*$\n?", re.M | re.S)
_ROLE = re.compile(r"\{(?:doc|ref|numref|eq)\}`(?:([^`<]+?)\s*<[^`>]+>|([^`]+))`")


def _marked_lines(source: str) -> set[int]:
    """Line numbers (1-based) whose comment is the blank marker."""
    marked = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.string.startswith(BLANK_MARKER):
            marked.add(token.start[0])
    return marked


def blank_marked_statements(source: str) -> str:
    """Replace each statement marked ``# ✎`` on its first line by a blank.

    Parameters
    ----------
    source : str
        Python code of one cell.

    Returns
    -------
    str
        The code with every marked statement replaced, whatever its number of
        lines, by ``target = None`` (assignments) or ``...`` (other statements),
        followed by the marker.

    Raises
    ------
    ValueError
        If a marker sits on a line that does not start a simple statement.

    Examples
    --------
    >>> print(blank_marked_statements("x = compute(\\n    1)  # ✎\\ny = 2"))
    x = None  # ✎
    y = 2
    >>> print(blank_marked_statements("def f():\\n    return g()  # ✎"))
    def f():
        return None  # ✎
    """
    marked = _marked_lines(source)
    if not marked:
        return source
    lines = source.splitlines()
    replacements = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt):
            continue
        statement_lines = set(range(node.lineno, node.end_lineno + 1))
        hits = marked & statement_lines
        simple = isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return))
        if not hits or not simple:
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            blank = f"{ast.unparse(node.targets[0])} = None"
        elif isinstance(node, ast.AnnAssign):
            blank = f"{ast.unparse(node.target)}: {ast.unparse(node.annotation)} = None"
        elif isinstance(node, ast.Return):
            blank = "return None"
        else:
            blank = "..."
        indent = lines[node.lineno - 1][: len(lines[node.lineno - 1]) - len(lines[node.lineno - 1].lstrip())]
        replacements[node.lineno] = (node.end_lineno, f"{indent}{blank}  {BLANK_MARKER}")
        marked -= statement_lines
    if marked:
        raise ValueError(
            f"the marker {BLANK_MARKER!r} on line {min(marked)} is not inside a simple statement "
            "(an assignment, a call or a return): move it to such a statement."
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
    """Code of the first cell: install ``cnnlab`` from the repository on Colab only.

    Examples
    --------
    >>> print(colab_setup_source("https://github.com/me/book", "main").splitlines()[-1])
        %pip install --quiet "cnnlab @ git+https://github.com/me/book@main#subdirectory=code"
    """
    return (
        "# On Colab, install the book's helper package; anywhere else this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "cnnlab @ git+{repository_url}@{branch}#subdirectory=code"'
    )


def _plain_markdown(text: str, in_solution: bool) -> tuple[str, bool]:
    """Rewrite one markdown cell for Jupyter; return it and whether a solution is still open."""
    pieces, position = [], 0
    for match in _DIRECTIVE.finditer(text):
        before = text[position : match.start()]
        if not in_solution:
            pieces.append(before)
        name = match["name"]
        if name == "exercise-start":
            title = match["argument"].strip()
            # Titles that carry their own number ("Ex 2.1: ...") need no "Exercise" in front.
            heading = title if title.startswith("Ex ") else f"Exercise: {title}" if title else "Exercise"
            pieces.append(f"**{heading}**\n")
        elif name == "solution-start":
            in_solution = True
        elif name == "solution-end":
            in_solution = False
        elif name != "exercise-end" and not in_solution:
            pieces.append(match.group(0))
        position = match.end()
    if not in_solution:
        pieces.append(text[position:])
    plain = _ROLE.sub(lambda m: (m[1] or m[2]).strip(), "".join(pieces))
    return re.sub(r"\n{3,}", "\n\n", plain).strip(), in_solution


def student_notebook(chapter: str | Path, repository_url: str, branch: str) -> nbformat.NotebookNode:
    """The student notebook of one chapter.

    Parameters
    ----------
    chapter : path-like
        The chapter's MyST Markdown source.
    repository_url, branch : str
        Where Colab installs ``cnnlab`` from.

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    ValueError
        If a ``# ✎`` marker is misplaced, or a solution is never closed.
    """
    source = jupytext.read(chapter, fmt="md:myst")
    cells = [nbformat.v4.new_code_cell(colab_setup_source(repository_url, branch), metadata={"tags": ["colab-setup"]})]
    in_solution = False
    for cell in source.cells:
        if cell.cell_type == "markdown":
            text, in_solution = _plain_markdown(cell.source, in_solution)
            if text:
                cells.append(nbformat.v4.new_markdown_cell(text))
        elif cell.cell_type == "code":
            code = blank_marked_statements(cell.source) if in_solution else cell.source
            tags = [tag for tag in cell.metadata.get("tags", []) if tag in ("raises-exception",)]
            cells.append(nbformat.v4.new_code_cell(code, metadata={"tags": tags} if tags else {}))
    if in_solution:
        raise ValueError(f"{chapter}: a solution-start has no matching solution-end: close every solution.")
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def _repository(config_path: Path) -> tuple[str, str]:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    repository = config.get("repository", {})
    if "url" not in repository:
        raise ValueError(f"{config_path} has no repository.url: add the book's GitHub URL there.")
    return repository["url"].rstrip("/"), repository.get("branch", "main")


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
    root = Path(root)
    url, branch = _repository(root / "_config.yml")
    changed = []
    for chapter in chapters_with_code(root / "book"):
        target = chapter.with_suffix(".ipynb")
        text = nbformat.writes(student_notebook(chapter, url, branch)) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check:
                target.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the student notebooks, or check them with ``--check``."""
    parser = argparse.ArgumentParser(prog="python -m cnnlab.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="repository root (default: current folder)")
    parser.add_argument("--check", action="store_true", help="fail if a student notebook is out of date")
    options = parser.parse_args(argv)
    changed = write_student_notebooks(options.root, check=options.check)
    for path in changed:
        print(("out of date: " if options.check else "wrote ") + str(path))
    if options.check and changed:
        print("Run `python -m cnnlab.notebooks` and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
