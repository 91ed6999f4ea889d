"""The student notebooks run, and every blank is caught by its self-check, not by a crash elsewhere."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from bookpaths import ROOT

pytestmark = pytest.mark.book

EXERCISE_CHAPTERS = sorted(
    path.stem for path in (ROOT / "book").glob("*.md") if "checks.check_" in path.read_text(encoding="utf-8")
)


def run_student_notebook(name):
    notebook = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    os.environ.setdefault("CNNLAB_MNIST", "sample")
    NotebookClient(notebook, timeout=300, allow_errors=True, resources={"metadata": {"path": str(ROOT / "book")}}).execute()
    return notebook


def errors(cell):
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


def test_there_are_exercise_chapters():
    assert len(EXERCISE_CHAPTERS) == 3


@pytest.mark.parametrize("name", EXERCISE_CHAPTERS)
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


def test_colab_cell_comes_first_and_does_nothing_here():
    for name in EXERCISE_CHAPTERS:
        notebook = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
        first = notebook.cells[0]
        assert first.cell_type == "code" and 'if "google.colab" in sys.modules:' in first.source
        assert not any(cell.get("outputs") for cell in notebook.cells), f"{name}.ipynb is committed with outputs"
