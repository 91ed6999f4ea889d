"""Tests of booktools.notebooks and the chapter model it reads (booktools.chapter, booktools.book):
blanks, plain Markdown, markers that cannot leak, scaffolding that is explicit, the Colab cell."""

import re
import textwrap

import nbformat
import pytest

from bookpaths import CHAPTER, OTHER, TOC, small_book
from booktools import notebooks
from booktools.book import Book
from booktools.chapter import marker_lines
from booktools.myst_plain import ChapterError, markdown_parser, myst_leftovers


@pytest.fixture
def book(tmp_path):
    return small_book(tmp_path, {"other": OTHER, "chapter": None})


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


def test_structure_needs_no_mark_and_a_given_comment_keeps_its_words(book):
    solution = (
        "class Net(torch.nn.Module):\n"
        '    """A network."""\n\n'
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layer = torch.nn.Linear(3, 2)  # ✎\n\n"
        "    def forward(self, x):\n"
        "        return self.layer(x)  # given: (N, 2)\n\n"
        "\n"
        "layer = Net()  # given"
    )
    path = write(book, CHAPTER.replace("layer = torch.nn.Linear(\n    3, 2\n)  # ✎\nprint(layer)  # given", solution))
    (cell,) = [cell for cell in notebooks.student_notebook(path, book).cells if "class Net" in cell.source]
    assert "self.layer = None  # ✎" in cell.source and "return self.layer(x)  # (N, 2)\n" in cell.source
    assert cell.source.endswith("layer = Net()") and "given" not in cell.source


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
    write(book, CHAPTER)
    notebook = notebooks.student_notebook(book.root / "book" / "other.md", book)
    assert "$$\ny = x\n$$" in sources(notebook) and "(eq-line)" not in sources(notebook)


SOLUTION_START = "```{solution-start} ex-1\n:class: dropdown\n```"
CHECK_CELL = "```{code-cell} ipython3\ncheck(layer)\n```\n"
PROSE_ANSWER = "Make a layer.\n\n```python\nlayer = nn.Linear(3, 2)  # ✎\n```\n"
SOLUTION_CELL = "```{code-cell} ipython3\nlayer = torch.nn.Linear(\n    3, 2\n)  # ✎\nprint(layer)  # given\n```"


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
            "the solution opened here is never closed: no solution-end follows it before the end of the chapter",
        ),
        # Only the solution-end missing: the self-check cell after it is not blamed for having no marker.
        (
            ("```{solution-end}\n```\n", ""),
            29,
            "the solution opened here is never closed: no solution-end follows it before the end of the chapter",
        ),
        (
            ("```{solution-end}\n```\n", "```{exercise-start} Again\n:label: ex-2\n```\n"),
            29,
            "never closed: no solution-end follows it before the next exercise-start, on line 42",
        ),
        (
            ("```{solution-end}\n```\n", "```{solution-start} ex-1\n```\n"),
            29,
            "never closed: no solution-end follows it before the next solution-start, on line 42",
        ),
        (
            ("{solution-start} ex-1", "{solution-strat} ex-1"),
            29,
            "{solution-strat} is a misspelt directive: did you mean {solution-start}?",
        ),
        (("{solution-end}", "{solution-edn}"), 42, "{solution-edn} is a misspelt directive: did you mean {solution-end}?"),
        (
            ("{exercise-start} Do it", "{excercise-start} Do it"),
            20,
            "{excercise-start} is a misspelt directive: did you mean {exercise-start}?",
        ),
        (("{solution-start} ex-1", "{solution_start} ex-1"), 29, "did you mean {solution-start}?"),
        (("{solution-start} ex-1", "{solution-begin} ex-1"), 29, "{solution-begin} is a misspelt directive: did you mean"),
        (("```{code-cell} ipython3\nimport torch\n", "```{code-cel} ipython3\nimport torch\n"), 16, "did you mean {code-cell}?"),
        (
            ("```{exercise-end}\n```\n", "```{exercise-end}\n```\n\n```{solution-end}\n```\n"),
            29,
            "a solution-end without a solution-start",
        ),
        # An answer line with no marker, in a cell that has one, would reach the student as it is.
        (("print(layer)  # given\n", "print(layer)  # given\nchannels = 2\n"), 40, "'channels = 2' carries no marker"),
        (("print(layer)  # given\n", "print(layer)\n"), 39, "'print(layer)' carries no marker"),
        (("print(layer)  # given\n", "for x in (1, 2):\n    out = layer(x)\n"), 40, "'out = layer(x)' carries no marker"),
        (("# given", "# Given"), 39, "looks like the given marker but is not one"),
        (("import torch\n", "import torch  # given\n"), 17, "'# given' marker outside a solution"),
        (
            ("```{code-cell} ipython3\nimport torch\n", "```{code-cell} ipython3\n# NBVAL_CHECK_OUTPUT\nimport torch\n"),
            17,
            "give the cell the tag instead",
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
        (["--root", "/no/such/folder"], "error: /no/such/folder/_config.yml not found: give the book's root"),
        (["--root", "{tmp}/empty"], "_config.yml not found"),
        (["--root", "{tmp}/notoc", "--check"], "notoc/_toc.yml not found"),
        (["--root", "{tmp}/missing", "--check"], "_toc.yml lists book/gone, but"),
    ],
)
def test_command_line_errors_are_one_line(tmp_path, capsys, arguments, message):
    (tmp_path / "empty").mkdir()
    for name in ("notoc", "missing"):
        (tmp_path / name / "book").mkdir(parents=True)
        (tmp_path / name / "_config.yml").write_text("repository:\n  url: https://github.com/me/book\n")
    (tmp_path / "missing" / "_toc.yml").write_text("root: book/gone\n")
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
    assert notebooks.blank_marked_statements(source, marker_lines(source)[0]) == expected


def test_marker_on_a_compound_statement_is_an_error():
    with pytest.raises(ChapterError, match=r"chapter\.md:12: the marker '# ✎' is not inside a simple statement"):
        notebooks.blank_marked_statements("for i in range(3):  # ✎\n    pass", {1}, "chapter.md", first_line=12)


def test_write_and_check(book, capsys):
    write(book, CHAPTER)
    root = book.root
    (root / "book" / "other.md").write_text(OTHER + "\n```{code-cell} ipython3\n1 + 1\n```\n")
    assert notebooks.write_student_notebooks(root, check=True) == [root / "book/other.ipynb", root / "book/chapter.ipynb"]
    assert notebooks.write_student_notebooks(root) == [root / "book/other.ipynb", root / "book/chapter.ipynb"]
    assert notebooks.write_student_notebooks(root, check=True) == []
    assert notebooks.main(["--root", str(root), "--check"]) == 0
    write(book, CHAPTER.replace("Make a layer.", "Make two layers."))
    assert notebooks.main(["--root", str(root), "--check"]) == 1


def test_a_chapter_outside_the_table_of_contents_is_reported_and_not_generated(book, capsys):
    write(book, CHAPTER)
    draft = write(book, CHAPTER, name="draft")
    assert notebooks.main(["--root", str(book.root)]) == 0
    assert f"warning: {draft} is not in _toc.yml" in capsys.readouterr().err
    assert not draft.with_suffix(".ipynb").exists() and (book.root / "book" / "chapter.ipynb").exists()
    # A chapter taken out of the table of contents takes its student notebook with it.
    (book.root / "_toc.yml").write_text("root: book/other\n")
    assert notebooks.write_student_notebooks(book.root, check=True) == [book.root / "book" / "chapter.ipynb"]
    notebooks.write_student_notebooks(book.root)
    assert not (book.root / "book" / "chapter.ipynb").exists()


def test_command_reports_a_leak_with_file_and_line(book, capsys):
    path = write(book, CHAPTER.replace("# ✎", "#✎"))
    assert notebooks.main(["--root", str(book.root)]) == 2
    assert f"error: {path}:38: the comment '#✎' looks like a blank marker" in capsys.readouterr().err
    assert not path.with_suffix(".ipynb").exists()


def test_missing_repository_is_an_error(tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\n")
    (tmp_path / "_toc.yml").write_text(TOC)
    with pytest.raises(ValueError, match="has no repository.url"):
        Book.from_config(tmp_path)


def test_repository_outside_github_is_an_error(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://gitlab.com/me/book\n")
    (tmp_path / "_toc.yml").write_text(TOC)
    with pytest.raises(ValueError, match=r"repository.url='https://gitlab.com/me/book' is not a GitHub repository"):
        Book.from_config(tmp_path)
