"""The student notebooks are plain Jupyter, they run, and every blank is caught by its self-check."""

import nbformat
import pytest

from bookpaths import ROOT, SHORT_TRAINING, book, chapters_with_code, exercise_chapters
from booktools.myst_plain import myst_leftovers
from booktools.runner import kernel_environment, run_notebook
from grading_runs import PARTIALS

pytestmark = pytest.mark.notebooks

STUDENT_NOTEBOOKS = [ROOT / f"{name}.ipynb" for name in chapters_with_code()]
EXERCISE_CHAPTERS = [name.removeprefix("book/") for name in exercise_chapters()]
# The chapters whose blank notebooks the grading tests grade as handed in (tests/grading_runs.py holds every task's
# feedback to a self-check's message): running them here as well would run them twice.
GRADED_BLANK = set(PARTIALS)


def run_student_notebook(name):
    """The student notebook with its blanks, run up to its last self-check: what comes after checks nothing."""
    notebook = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    last_check = max(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "checks.check_" in cell.source)
    notebook.cells = notebook.cells[: last_check + 1]
    env = kernel_environment(mnist="sample", training_steps=SHORT_TRAINING)
    run_notebook(notebook, ROOT / "book", env=env, allow_errors=True)
    return notebook


def errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


@pytest.mark.slow("executes the chapter's student notebook with its blanks, up to each self-check")
@pytest.mark.parametrize("name", [name for name in EXERCISE_CHAPTERS if name not in GRADED_BLANK])
def test_blanks_are_caught_by_the_self_checks(name):
    notebook = run_student_notebook(name)
    check_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and "checks.check_" in cell.source]
    assert check_cells, f"{name} has no self-check"
    for cell in check_cells:
        found = errors(cell)
        assert found, f"the self-check passed on a blank answer:\n{cell.source}"
        assert found[0].ename == "SelfCheckError", f"{cell.source}\nfailed with {found[0].ename}: {found[0].evalue}"
        assert found[0].evalue.startswith("Task ")
    failures = [
        (cell, errors(cell)[0])
        for cell in notebook.cells
        if cell.cell_type == "code" and errors(cell) and "raises-exception" not in cell.metadata.get("tags", [])
    ]
    first_cell, first_error = failures[0]
    assert first_error.ename == "SelfCheckError", (
        f"the first failure is not a self-check:\n{first_cell.source}\n{first_error.evalue}"
    )


def test_every_student_notebook_belongs_to_a_chapter_of_the_table_of_contents():
    assert sorted((ROOT / "book").glob("*.ipynb")) == sorted(STUDENT_NOTEBOOKS)


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=lambda path: path.stem)
def test_no_myst_syntax_is_left(path):
    parser = book().parser
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert myst_leftovers(parser, cell.source) == [], f"{path.name}:\n{cell.source}"
        else:
            assert "{code-cell}" not in cell.source and "# given" not in cell.source, f"{path.name}:\n{cell.source}"


def test_colab_cell_comes_first_and_does_nothing_here():
    for name in EXERCISE_CHAPTERS:
        notebook = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
        first = notebook.cells[0]
        assert first.cell_type == "code" and 'if "google.colab" in sys.modules:' in first.source
        assert not any(cell.get("outputs") for cell in notebook.cells), f"{name}.ipynb is committed with outputs"
