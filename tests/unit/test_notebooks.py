"""Tests of cnnlab.notebooks: blanks, directives and the Colab cell."""

import textwrap

import nbformat
import pytest

from cnnlab import notebooks

CHAPTER = textwrap.dedent(
    """\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

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


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def chapter(tmp_path):
    path = tmp_path / "chapter.md"
    path.write_text(CHAPTER, encoding="utf-8")
    return path


def test_student_notebook(chapter):
    notebook = notebooks.student_notebook(chapter, "https://github.com/me/book", "main")
    sources = [cell.source for cell in notebook.cells]
    assert notebook.cells[0].cell_type == "code" and "google.colab" in sources[0]
    assert "git+https://github.com/me/book@main#subdirectory=code" in sources[0]
    text = "\n".join(sources)
    assert "The secret explanation" not in text
    assert "torch.nn.Linear(" not in text
    assert "layer = None  # ✎\nprint(layer)" in text
    assert "**Exercise: Do it**" in text and "Make a layer." in text
    numbered = notebooks.student_notebook(
        write(chapter, CHAPTER.replace("exercise-start} Do it", "exercise-start} Ex 1.2: do it")), "u", "b"
    )
    assert "**Ex 1.2: do it**" in "\n".join(cell.source for cell in numbered.cells)
    assert "{exercise" not in text and "{solution" not in text and "{doc}" not in text
    assert "see the other chapter." in text
    assert "check(layer)" in text
    assert [cell.id for cell in notebook.cells] == [f"cell-{i}" for i in range(len(notebook.cells))]
    nbformat.validate(notebook)


def test_unclosed_solution_is_an_error(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text(CHAPTER.replace("```{solution-end}\n```\n", ""), encoding="utf-8")
    with pytest.raises(ValueError, match="a solution-start has no matching solution-end"):
        notebooks.student_notebook(path, "https://x", "main")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1  # ✎", "x = None  # ✎"),
        ("for batch in loader:\n    optimizer.step()  # ✎", "for batch in loader:\n    ...  # ✎"),
        ("def f():\n    return 3  # ✎", "def f():\n    return None  # ✎"),
        ("n: int = 3  # ✎", "n: int = None  # ✎"),
        ("a = [\n  1,\n  2,\n]  # ✎\nb = 2", "a = None  # ✎\nb = 2"),
        ("s = '# ✎ is not a comment here'", "s = '# ✎ is not a comment here'"),
        ("x = 1\ny = 2", "x = 1\ny = 2"),
    ],
)
def test_blank_marked_statements(source, expected):
    assert notebooks.blank_marked_statements(source) == expected


def test_marker_on_a_compound_statement_is_an_error():
    with pytest.raises(ValueError, match="is not inside a simple statement"):
        notebooks.blank_marked_statements("for i in range(3):  # ✎\n    pass")


def test_write_and_check(tmp_path, chapter):
    (tmp_path / "book").mkdir()
    chapter.rename(tmp_path / "book" / "chapter.md")
    (tmp_path / "book" / "prose.md").write_text("# No code here\n")
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/me/book/\n  branch: term1\n")
    assert notebooks.write_student_notebooks(tmp_path, check=True) == [tmp_path / "book/chapter.ipynb"]
    assert notebooks.write_student_notebooks(tmp_path) == [tmp_path / "book/chapter.ipynb"]
    assert notebooks.write_student_notebooks(tmp_path, check=True) == []
    assert not (tmp_path / "book/prose.ipynb").exists()
    assert "@term1#" in (tmp_path / "book/chapter.ipynb").read_text()
    assert notebooks.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "book" / "chapter.md").write_text(CHAPTER.replace("Make a layer.", "Make two layers."))
    assert notebooks.main(["--root", str(tmp_path), "--check"]) == 1


def test_missing_repository_is_an_error(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="has no repository.url"):
        notebooks.write_student_notebooks(tmp_path)
