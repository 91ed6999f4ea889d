"""Tests of booktools.notebooks: blanks, plain Markdown, markers that cannot leak, the Colab cell."""

import re
import textwrap

import nbformat
import pytest

from bookpaths import FRONT_MATTER
from booktools import notebooks
from booktools.myst_plain import ChapterError, markdown_parser, myst_leftovers

CHAPTER = FRONT_MATTER + textwrap.dedent(
    """\

    # A chapter

    Some text, see {doc}`the other chapter <other>`.

    ```{code-cell} ipython3
    import torch
    ```

    ```{exercise-start} Do it
    :label: ex-1
    ```

    Make a layer.

    ```{exercise-end}
    ```

    ```{solution-start} ex-1
    :class: dropdown
    ```

    The secret explanation.

    ```{code-cell} ipython3
    layer = torch.nn.Linear(
        3, 2
    )  # ✎
    print(layer)
    ```

    ```{solution-end}
    ```

    ```{code-cell} ipython3
    check(layer)
    ```
    """
)

OTHER = "# The other chapter\n\n(sec-target)=\n## A section\n\n$$\ny = x\n$$ (eq-line)\n"
CONFIG = """\
repository:
  url: https://github.com/me/book/
  branch: term1
parse:
  myst_enable_extensions: [colon_fence, dollarmath]
"""


@pytest.fixture
def book(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "book" / "other.md").write_text(OTHER, encoding="utf-8")
    return notebooks.Book.from_config(tmp_path)


def write(book, text, name="chapter"):
    path = book.root / "book" / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def sources(notebook):
    return "\n".join(cell.source for cell in notebook.cells)


def test_student_notebook(book):
    notebook = notebooks.student_notebook(write(book, CHAPTER), book)
    text = sources(notebook)
    assert notebook.cells[0].cell_type == "code" and "google.colab" in notebook.cells[0].source
    assert "git+https://github.com/me/book@term1#subdirectory=code" in notebook.cells[0].source
    assert "The secret explanation" not in text
    assert "torch.nn.Linear(" not in text
    assert "layer = None  # ✎\nprint(layer)" in text
    assert "**Exercise: Do it**" in text and "Make a layer." in text
    assert "see [the other chapter](https://me.github.io/book/book/other.html)." in text
    assert "check(layer)" in text
    assert [cell.id for cell in notebook.cells] == [f"cell-{i}" for i in range(len(notebook.cells))]
    nbformat.validate(notebook)


def test_numbered_exercise_titles_stand_alone(book):
    notebook = notebooks.student_notebook(
        write(book, CHAPTER.replace("exercise-start} Do it", "exercise-start} Ex 1.2: do it")), book
    )
    assert "**Ex 1.2: do it**" in sources(notebook)


def test_solved_notebook_differs_only_in_the_marked_statements(book):
    chapter = write(book, CHAPTER)
    blank = notebooks.student_notebook(chapter, book)
    solved = notebooks.student_notebook(chapter, book, solved=True)
    assert len(blank.cells) == len(solved.cells)
    changed = [(a.source, b.source) for a, b in zip(blank.cells, solved.cells) if a.source != b.source]
    assert changed == [("layer = None  # ✎\nprint(layer)", "layer = torch.nn.Linear(\n    3, 2\n)  # ✎\nprint(layer)")]


def test_colab_cell_reads_the_override():
    source = notebooks.colab_setup_source("https://github.com/me/book", "main")
    assert 'os.environ.get("CNNLAB_PACKAGE_URL", "git+https://github.com/me/book@main#subdirectory=code")' in source
    assert source.rstrip().endswith('%pip install --quiet "cnnlab @ {package}"')


MYST = textwrap.dedent(
    """\
    # Title

    (my-target)=
    ## Section

    % a comment for authors

    ```{note}
    A note with {math}`x^2`.
    ```

    :::{admonition} Careful here
    :class: warning
    Watch the *sizes*.
    :::

    ```{admonition} Hint
    :class: dropdown
    Count the pixels.
    ```

    ```{figure} images/brain.png
    :alt: A brain slice
    :width: 300px
    An axial slice.
    ```

    See {ref}`the section <my-target>`, {ref}`sec-target`, {numref}`Fig. %s <sec-target>` and {eq}`eq-line`.

    ```{code-block} python
    x = 1
    ```

    - a list item with {doc}`/book/other`
    """
)


def test_every_myst_construct_becomes_plain_markdown(book):
    notebook = notebooks.student_notebook(write(book, MYST), book)
    text = sources(notebook)
    assert "> **Note**\n>\n> A note with $x^2$." in text
    assert "> **Careful here**\n>\n> Watch the *sizes*." in text
    assert "<details>\n<summary>Hint</summary>\n\nCount the pixels.\n\n</details>" in text
    assert "![A brain slice](images/brain.png)\n\n*An axial slice.*" in text
    assert "[the section](https://me.github.io/book/book/chapter.html#my-target)" in text
    assert "[A section](https://me.github.io/book/book/other.html#sec-target)" in text
    assert "[Fig.](https://me.github.io/book/book/other.html#sec-target)" in text
    assert "[(eq-line)](https://me.github.io/book/book/other.html#equation-eq-line)" in text
    assert "```python\nx = 1\n```" in text
    assert "- a list item with [The other chapter](https://me.github.io/book/book/other.html)" in text
    assert "(my-target)=" not in text and "% a comment" not in text
    parser = markdown_parser(book.extensions)
    assert [
        found for cell in notebook.cells if cell.cell_type == "markdown" for found in myst_leftovers(parser, cell.source)
    ] == []


def test_equation_labels_go(book):
    notebook = notebooks.student_notebook(book.root / "book" / "other.md", book)
    assert "$$\ny = x\n$$" in sources(notebook) and "(eq-line)" not in sources(notebook)


SOLUTION_START = "```{solution-start} ex-1\n:class: dropdown\n```"
CHECK_CELL = "```{code-cell} ipython3\ncheck(layer)\n```\n"
PROSE_ANSWER = "Make a layer.\n\n```python\nlayer = nn.Linear(3, 2)  # ✎\n```\n"
SOLUTION_CELL = "```{code-cell} ipython3\nlayer = torch.nn.Linear(\n    3, 2\n)  # ✎\nprint(layer)\n```"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("# ✎", "#✎"), 38, "looks like a blank marker but is not one"),
        (("# ✎", "# ✏"), 38, "looks like a blank marker but is not one"),
        (("# ✎", "#  ✎"), 38, "looks like a blank marker but is not one"),
        (("# ✎", "# 📝"), 38, "looks like a blank marker but is not one"),
        (("# ✎", "# ✎\ufe0f"), 38, "looks like a blank marker but is not one"),
        (("import torch\n", "import torch  # ✎\n"), 17, "marker outside a solution"),
        (("check(layer)\n", "check(layer)  # ✎\n"), 46, "marker outside a solution"),
        (("\n)  # ✎\n", "\n)\n"), 35, "has no '# ✎' marker"),
        (
            ("```{solution-start} ex-1\n:class: dropdown\n```", "~~~{solution-start} ex-1\n:class: dropdown\n~~~"),
            29,
            "fenced with ~~~",
        ),
        ((SOLUTION_CELL, SOLUTION_CELL.replace("```", "~~~")), 35, "fenced with ~~~"),
        (
            ("Make a layer.\n", "Make a layer.\n\n```python\nlayer = nn.Linear(3, 2)  # ✎\n```\n"),
            27,
            "code block in the prose holds a blank marker",
        ),
        (("# ✎", "# 🖍"), 38, "looks like a blank marker but is not one"),
        (("# ✎", "# ✍"), 38, "looks like a blank marker but is not one"),
        (
            ("Make a layer.\n", "Make a layer.\n\n```{code-block} python\nlayer = nn.Linear(3, 2)  # ✎\n```\n"),
            27,
            "code block in the prose holds a blank marker",
        ),
        (
            (
                "Make a layer.\n",
                "Make a layer.\n\n````{admonition} Hint\n:class: dropdown\n\n"
                "```python\nlayer = nn.Linear(3, 2)  # ✎\n```\n````\n",
            ),
            30,
            "code block in the prose holds a blank marker",
        ),
        (
            ("Make a layer.\n", "Make a layer.\n\n:::{hint}\nTry this:\n\n    layer = nn.Linear(3, 2)  # 🖊\n:::\n"),
            29,
            "code block in the prose holds a blank marker",
        ),
        (
            ("Make a layer.\n", "Make a layer.\n\n:::{dropdown} Peek\n```\nlayer = nn.Linear(3, 2)  # 🖍\n```\n:::\n"),
            28,
            "code block in the prose holds a blank marker",
        ),
        (
            ("```{solution-end}\n```\n\n```{code-cell} ipython3\ncheck(layer)\n```\n", ""),
            29,
            "a solution-start has no matching solution-end",
        ),
        (
            ("```{exercise-end}\n```\n", "```{exercise-end}\n```\n\n```{solution-end}\n```\n"),
            29,
            "a solution-end without a solution-start",
        ),
    ],
)
def test_leaks_are_errors_with_file_and_line(book, change, line, message):
    old, new = change
    assert old in CHAPTER
    path = write(book, CHAPTER.replace(old, new))
    with pytest.raises(ChapterError, match=re.escape(message)) as caught:
        notebooks.student_notebook(path, book)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_prose_may_name_the_marker_in_inline_code(book):
    path = write(book, CHAPTER.replace("Make a layer.\n", "Make a layer where a line is marked `# ✎`.\n"))
    assert "marked `# ✎`" in sources(notebooks.student_notebook(path, book))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--root", "/no/such/folder"], "error: --root /no/such/folder is not a folder"),
        (["--root", "{tmp}/empty"], "has no _config.yml"),
        (["--root", "{tmp}/nochapters", "--check"], "no chapter with code cells in"),
    ],
)
def test_command_line_errors_are_one_line(tmp_path, capsys, arguments, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "nochapters" / "book").mkdir(parents=True)
    (tmp_path / "nochapters" / "_config.yml").write_text("repository:\n  url: https://github.com/me/book\n")
    code = notebooks.main([argument.replace("{tmp}", str(tmp_path)) for argument in arguments])
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and len(error.splitlines()) == 1, error


def test_plain_solution_directive_is_an_error(book):
    text = CHAPTER + "\n```{solution} ex-1\nThe answer is `nn.Linear(3, 2)`.\n```\n"
    path = write(book, text)
    with pytest.raises(ChapterError, match=r"chapter\.md:49: a \{solution\} directive would be copied"):
        notebooks.student_notebook(path, book)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("```{literalinclude} ../code/x.py\n:pyobject: f\n```\n", 3, "{literalinclude} shows code a notebook cannot run"),
        ("Intro.\n\n```{epigraph}\nQuote\n```\n", 5, "the directive {epigraph} has no plain-Jupyter form"),
        ("Use {term}`kernel` here.\n", 3, "the role {term} has no plain-Jupyter form"),
        ("See {ref}`nowhere`.\n", 3, "the {ref} role points to 'nowhere', a label no chapter defines"),
        ("- item\n\n  ```{note}\n  nested\n  ```\n", 5, "note inside a list or quote"),
        ("````{note}\nText.\n\n```{literalinclude} x.py\n```\n````\n", 6, "{literalinclude} shows code"),
    ],
)
def test_myst_without_a_plain_form_is_an_error(book, text, line, message):
    path = write(book, "# Title\n\n" + text)
    with pytest.raises(ChapterError, match=re.escape(f"chapter.md:{line}: {message}")):
        notebooks.student_notebook(path, book)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1  # ✎", "x = None  # ✎"),
        ("for batch in loader:\n    optimizer.step()  # ✎", "for batch in loader:\n    ...  # ✎"),
        ("def f():\n    return 3  # ✎", "def f():\n    return None  # ✎"),
        ("n: int = 3  # ✎", "n: int = None  # ✎"),
        ("a = [\n  1,\n  2,\n]  # ✎\nb = 2", "a = None  # ✎\nb = 2"),
        ("x = f(x)  # ✎ (N, 10, 12, 12)", "x = None  # ✎"),
        ("s = '# ✎ is not a comment here'", "s = '# ✎ is not a comment here'"),
        ("x = 1\ny = 2", "x = 1\ny = 2"),
    ],
)
def test_blank_marked_statements(source, expected):
    assert notebooks.blank_marked_statements(source) == expected


def test_marker_on_a_compound_statement_is_an_error():
    with pytest.raises(ChapterError, match=r"chapter\.md:12: the marker '# ✎' is not inside a simple statement"):
        notebooks.blank_marked_statements("for i in range(3):  # ✎\n    pass", "chapter.md", first_line=12)


def test_write_and_check(book):
    write(book, CHAPTER)
    root = book.root
    (root / "book" / "other.md").write_text(OTHER + "\n```{code-cell} ipython3\n1 + 1\n```\n")
    assert notebooks.write_student_notebooks(root, check=True) == [root / "book/chapter.ipynb", root / "book/other.ipynb"]
    assert notebooks.write_student_notebooks(root) == [root / "book/chapter.ipynb", root / "book/other.ipynb"]
    assert notebooks.write_student_notebooks(root, check=True) == []
    assert notebooks.main(["--root", str(root), "--check"]) == 0
    write(book, CHAPTER.replace("Make a layer.", "Make two layers."))
    assert notebooks.main(["--root", str(root), "--check"]) == 1


def test_command_reports_a_leak_with_file_and_line(book, capsys):
    path = write(book, CHAPTER.replace("# ✎", "#✎"))
    assert notebooks.main(["--root", str(book.root)]) == 2
    assert f"error: {path}:38: the comment '#✎' looks like a blank marker" in capsys.readouterr().err
    assert not path.with_suffix(".ipynb").exists()


def test_missing_repository_is_an_error(tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="has no repository.url"):
        notebooks.Book.from_config(tmp_path)


def test_repository_outside_github_is_an_error(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://gitlab.com/me/book\n")
    with pytest.raises(ValueError, match=r"repository.url='https://gitlab.com/me/book' is not a GitHub repository"):
        notebooks.Book.from_config(tmp_path)
