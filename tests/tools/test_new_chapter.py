"""A new chapter needs its Markdown and one line in _toc.yml, and no change to booktools or to the tests.

The test follows CONTRIBUTING's "Add a chapter": it copies the book, writes a
fifth exercise chapter (two small tasks with self-checks from cnnlab.checks)
and a theory chapter, lists both in the table of contents, and shows that

* the student notebooks and the autograders are generated for them, and
  their ``--check`` passes afterwards;
* the answer key passes its self-checks, and the blank notebook fails them;
* the lists from which the build executes chapters (Sphinx's table of
  contents), nbval runs them, the PDFs print them and the browser tests open
  them all include the new chapters.

Each is shown at the cheapest layer that can: no kernel and no build here;
the layers that run them take their chapters from the same lists.
"""

import shutil
import textwrap

import nbformat
import pytest
import yaml

from bookpaths import FRONT_MATTER, ROOT, chapters_with_code, chapters_with_solutions, exercise_chapters, toc_chapters
from booktools import notebooks
from booktools.grading import autograder
from cnnlab.checks import SelfCheckError

EXERCISE = FRONT_MATTER + textwrap.dedent(
    """\

    # Exercise 5: pooling, once more

    Two pooling layers, to practise what {doc}`Exercise 1 <ex1-conv-pool>` taught.

    ```{code-cell} ipython3
    import torch
    import torch.nn as nn

    from cnnlab import checks

    images = torch.rand(2, 3, 20, 20)
    ```

    ```{exercise-start} Ex 5.1: a 3x3 window that slides by one pixel
    :label: ex-5-1
    ```

    Create `pool`, a max-pooling layer with a $3 \\times 3$ window and stride 1.

    ```{exercise-end}
    ```

    ```{admonition} Hint
    :class: dropdown

    Left out, the stride equals the window.
    ```

    ```{solution-start} ex-5-1
    :class: dropdown
    ```

    ```{code-cell} ipython3
    pool = nn.MaxPool2d(kernel_size=3, stride=1)  # ✎
    pooled = pool(images)  # given
    ```

    ```{solution-end}
    ```

    ```{code-cell} ipython3
    checks.check_pool_3x3(pool)
    ```

    ```{exercise-start} Ex 5.2: a tall window
    :label: ex-5-2
    ```

    Create `pool`, a max-pooling layer 4 pixels high and 2 wide, with stride 2.

    ```{exercise-end}
    ```

    ```{admonition} Hint
    :class: dropdown

    Rows come before columns.
    ```

    ```{solution-start} ex-5-2
    :class: dropdown
    ```

    ```{code-cell} ipython3
    pool = nn.MaxPool2d(kernel_size=(4, 2), stride=2)  # ✎
    ```

    ```{solution-end}
    ```

    ```{code-cell} ipython3
    checks.check_pool_4x2(pool)
    ```
    """
)
THEORY = FRONT_MATTER + "\n# Receptive fields\n\nEach layer sees a wider patch of the image than the one before.\n"
NEW = ["book/ex5-pooling-again", "book/receptive-fields"]


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    """A copy of the book with the two chapters written and listed in the table of contents, and nothing else changed."""
    root = tmp_path_factory.mktemp("extended")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copyfile(ROOT / name, root / name)
    shutil.copytree(ROOT / "book", root / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / autograder.GRADING_DIR, root / autograder.GRADING_DIR)
    (root / f"{NEW[0]}.md").write_text(EXERCISE, encoding="utf-8")
    (root / f"{NEW[1]}.md").write_text(THEORY, encoding="utf-8")
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    toc["parts"].append({"caption": "More practice", "chapters": [{"file": name} for name in NEW]})
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    return root


def test_the_student_notebook_and_the_autograder_are_generated_and_then_up_to_date(extended, capsys):
    assert notebooks.main(["--root", str(extended)]) == 0
    assert autograder.main(["--root", str(extended)]) == 0
    written = capsys.readouterr().out.split()
    assert f"{extended}/{NEW[0]}.ipynb" in written and not (extended / f"{NEW[1]}.ipynb").exists()
    assert notebooks.main(["--root", str(extended), "--check"]) == 0
    assert autograder.main(["--root", str(extended), "--check"]) == 0
    tasks = (extended / "grading" / "ex5-pooling-again" / autograder.MANIFEST).read_text()
    assert [task["call"] for task in yaml.safe_load(tasks)] == ["checks.check_pool_3x3(pool)", "checks.check_pool_4x2(pool)"]


def self_check_errors(notebook) -> list:
    """Run a notebook's code cells in this process, as a kernel would, going on after errors; return each
    self-check cell's error (None when it passed). The Colab setup cell is left out: it only installs on Colab."""
    namespace: dict = {}
    found = []
    for cell in notebook.cells[1:]:
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, "<cell>", "exec"), namespace)
            error = None
        except Exception as raised:  # noqa: BLE001 - a cell's error, as a notebook would show it
            error = raised
        if "checks.check_" in cell.source:
            found.append(error)
    return found


def test_the_answer_key_passes_its_self_checks_and_the_blank_notebook_does_not(extended):
    notebooks.write_student_notebooks(extended)
    autograder.write_autograders(extended)
    solved = nbformat.read(extended / "grading" / "ex5-pooling-again" / autograder.SOLUTION, as_version=4)
    assert self_check_errors(solved) == [None, None]
    blank = self_check_errors(nbformat.read(extended / f"{NEW[0]}.ipynb", as_version=4))
    assert len(blank) == 2 and all(isinstance(error, SelfCheckError) for error in blank), blank


def test_every_list_of_chapters_includes_the_new_ones(extended):
    from sphinx_external_toc.parsing import parse_toc_yaml

    built = set(parse_toc_yaml(extended / "_toc.yml"))  # what Jupyter Book builds, executes and prints
    assert set(NEW) <= built
    assert yaml.safe_load((ROOT / "_config.yml").read_text())["only_build_toc_files"] is True
    assert NEW[0] in chapters_with_code(extended) and NEW[1] not in chapters_with_code(extended)  # executed, nbval
    assert NEW[0] in exercise_chapters(extended)  # autograded, graded
    assert NEW[0] in chapters_with_solutions(extended)  # browser: solutions hidden until clicked
    assert toc_chapters(extended)[-2:] == NEW  # PDFs, site pages, in the order of the table of contents
