"""A chapter that fails fails the build, and leaves its traceback where the book workflow keeps it."""

import shutil
import subprocess

import pytest
import yaml

from bookpaths import FRONT_MATTER, ROOT

pytestmark = pytest.mark.book

BROKEN = (
    FRONT_MATTER
    + """
# A broken chapter

```{code-cell} ipython3
dose_per_kg = 5 / 0
```
"""
)


def reports_folder_of_the_workflow() -> str:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    (step,) = [step for step in workflow["jobs"]["build"]["steps"] if step.get("name") == "Keep the failure reports"]
    assert step["if"] == "failure()"
    return step["with"]["path"]


def test_failing_chapter_leaves_its_traceback_for_the_workflow(tmp_path):
    book = tmp_path / "copy"
    shutil.copytree(ROOT / "book" / "_static", book / "book" / "_static")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["sphinx"]["config"]["book_execution_dependencies"] = []  # the small book has no cnnlab of its own
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    shutil.copyfile(ROOT / "CITATION.cff", book / "CITATION.cff")  # the footer of every page cites it
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/broken\n")
    (book / "book" / "index.md").write_text("# A small book\n\nIt has one chapter, which fails.\n")
    (book / "book" / "broken.md").write_text(BROKEN)
    jupyter_book = shutil.which("jupyter-book") or "jupyter-book"
    process = subprocess.run(
        [jupyter_book, "build", ".", "--all", "-W", "-n", "--keep-going"], cwd=book, capture_output=True, text=True
    )
    assert process.returncode != 0, "a failing chapter must fail the build"
    report = book / reports_folder_of_the_workflow() / "book" / "broken.err.log"
    assert report.is_file(), f"no report in {report.parent}:\n{(process.stdout + process.stderr)[-3000:]}"
    assert "ZeroDivisionError" in report.read_text() and "dose_per_kg = 5 / 0" in report.read_text()
