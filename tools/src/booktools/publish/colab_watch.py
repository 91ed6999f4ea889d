"""The weekly Colab watch: every student notebook, solved, run the way Colab runs it.

Two steps, which the ``colab`` workflow runs and the notebook tests run offline:

``solve`` (needs ``booktools``) writes each chapter's student notebook with the
reference solutions in its blanks::

    python -m booktools colab-watch solve --out solved

``run`` (needs only ``nbformat`` and ``nbclient``, which Colab's runtime
image has) executes each notebook of a folder in a kernel of the Python it
runs under, as Colab does: ``google.colab`` is imported first when it can be,
so the notebooks' setup cell installs ``cnnlab`` exactly as it does for a
student. It writes ``summary.md`` (one row per notebook: status, time, the
failing cell and its error) and, when a notebook fails, ``issue.md``, the body
of the issue the workflow opens, naming the notebook, the cell and the error.
It exits with 1 when a notebook fails::

    python tools/src/booktools/publish/colab_watch.py run solved --report colab-report

The file runs as a plain script too, so that the Colab image needs nothing
installed beyond what its students get.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import nbformat

try:
    from booktools import runner
except ImportError:  # run as a plain script in Colab's image, where booktools is not installed: the runner is one up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import runner

CELL_TIMEOUT, NotebookRun = runner.CELL_TIMEOUT, runner.NotebookRun

__all__ = ["NotebookRun", "issue_markdown", "main", "run_folder", "run_notebook", "solve", "summary_markdown"]

# Colab imports google.colab when a kernel starts; a kernel elsewhere does not, so the watch does it first.
STARTUP = (
    "import importlib.util\n"
    'if importlib.util.find_spec("google") and importlib.util.find_spec("google.colab"):\n'
    "    import google.colab"
)


def run_notebook(path: str | Path, kernel_name: str = "python3", timeout: int = CELL_TIMEOUT) -> NotebookRun:
    """Execute the notebook at ``path`` in its folder, as Colab would; ``timeout`` bounds each cell, in seconds."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(STARTUP))
    run = runner.run_notebook(notebook, path.parent, timeout=timeout, kernel_name=kernel_name)
    # The startup cell is the watch's, not the student's: count the notebook's own cells.
    return replace(run, notebook=path.name, cell=run.cell - 1 if run.cell else None)


def run_folder(folder: str | Path, kernel_name: str = "python3", timeout: int = CELL_TIMEOUT) -> list[NotebookRun]:
    """Run every notebook of ``folder``, in name order; a failing notebook does not stop the others.

    Raises
    ------
    FileNotFoundError
        If ``folder`` holds no notebook.
    """
    paths = sorted(Path(folder).glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(
            f"no notebook in {folder}: write the solved notebooks first (booktools.publish.colab_watch solve)."
        )
    runs = []
    for path in paths:
        run = run_notebook(path, kernel_name, timeout)
        print(f"{run.notebook}: {run.status} in {run.seconds:.0f} s" + (f", cell {run.cell}: {run.error}" if run.error else ""))
        runs.append(run)
    return runs


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, no pipes."""
    return " ".join(text.split()).replace("|", "\\|")


def summary_markdown(runs: list[NotebookRun], image: str = "") -> str:
    """The job summary: one row per notebook.

    Examples
    --------
    >>> print(summary_markdown([NotebookRun("passed", 1.23, notebook="a.ipynb")]))
    ### Student notebooks in Colab's runtime
    <BLANKLINE>
    | notebook | status | time (s) | failing cell | error |
    | --- | --- | ---: | ---: | --- |
    | a.ipynb | passed | 1.2 |  |  |
    <BLANKLINE>
    1 of 1 notebooks passed.
    """
    lines = [f"### Student notebooks in Colab's runtime{f' ({image})' if image else ''}", ""]
    lines += ["| notebook | status | time (s) | failing cell | error |", "| --- | --- | ---: | ---: | --- |"]
    for run in runs:
        lines.append(f"| {run.notebook} | {run.status} | {run.seconds:.1f} | {run.cell or ''} | {_cell(run.error)[:300]} |")
    passed = sum(run.status == "passed" for run in runs)
    return "\n".join([*lines, "", f"{passed} of {len(runs)} notebooks passed."])


def issue_markdown(runs: list[NotebookRun], image: str = "") -> str:
    """The body of the issue the workflow opens or updates: every failing notebook, its cell and its error."""
    failed = [run for run in runs if run.status != "passed"]
    lines = [
        f"The weekly Colab watch ran the solved student notebooks in Colab's runtime image{f' `{image}`' if image else ''}; "
        f"{len(failed)} of {len(runs)} failed. A Colab update may have broken them before a class meets.",
        "",
    ]
    for run in failed:
        lines += [f"#### `{run.notebook}`: {run.status}, code cell {run.cell}", "", f"Error: `{_cell(run.error)[:500]}`", ""]
        lines += ["```python", run.source.strip()[:1500], "```", ""]
    lines.append("Rerun the `colab` workflow by hand once it is fixed; the issue stays open until a person closes it.")
    return "\n".join(lines)


def solve(root: str | Path, out: str | Path) -> list[Path]:
    """Write each chapter's student notebook with the reference solutions in its blanks into ``out``."""
    from booktools.book import Book
    from booktools.notebooks import student_notebook

    book = Book.from_config(root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in book.chapters_with_code:
        target = out / chapter.path.with_suffix(".ipynb").name
        nbformat.write(student_notebook(chapter, book, solved=True), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    # argparse alone, not booktools.cli: in Colab's image this file runs without booktools.
    parser = argparse.ArgumentParser(
        prog="python -m booktools colab-watch",
        description=__doc__.splitlines()[0],
        epilog="example:\n  python -m booktools colab-watch solve --out solved\n"
        "  python tools/src/booktools/publish/colab_watch.py run solved --report colab-report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    solve_command = commands.add_parser("solve", help="write the solved student notebooks")
    solve_command.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: current folder)")
    solve_command.add_argument("--out", type=Path, required=True, help="the folder to write them to")
    run_command = commands.add_parser("run", help="run every notebook of a folder and report")
    run_command.add_argument("folder", type=Path)
    run_command.add_argument("--report", type=Path, required=True, help="the folder for summary.md and issue.md")
    run_command.add_argument("--kernel", default="python3", help="the kernel to run them in (default: python3)")
    run_command.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT, help=f"seconds a cell may run (default: {CELL_TIMEOUT})"
    )
    run_command.add_argument("--image", default="", help="the runtime image, named in the report")
    args = parser.parse_args(argv)
    if args.command == "solve":
        for path in solve(args.root, args.out):
            print(path)
        return 0
    try:
        runs = run_folder(args.folder, args.kernel, args.timeout)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / "summary.md").write_text(summary_markdown(runs, args.image) + "\n", encoding="utf-8")
    if any(run.status != "passed" for run in runs):
        (args.report / "issue.md").write_text(issue_markdown(runs, args.image) + "\n", encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
