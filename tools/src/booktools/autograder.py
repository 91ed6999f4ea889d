"""Otter-Grader autograders made from the exercise chapters: one question per self-checked task.

Each exercise chapter's student notebook calls a self-check after every task
(``checks.check_conv_layer(operation)``, say). The autograder of the chapter,
in ``grading/<chapter>/``, holds

* one Otter question per self-check call, worth :data:`POINTS` points, whose
  test runs that very call in the submission's namespace: a student loses a
  task's points exactly when its self-check fails, and the self-check's
  message is the feedback;
* the hidden tests of :data:`HIDDEN`, for what a self-check cannot see (that
  the student applied the layer they built, say);
* ``otter_config.json``;
* ``solution.ipynb``, the student notebook with the reference solutions: the
  answer key, which the tests grade at full marks.

The book's own grader (:mod:`booktools.grade`) reads ``questions.json`` and
judges each task outside the student's kernel; the Otter test files serve
Otter-Grader and Gradescope, which run each submission in a container of its
own. Regenerate the autograders when a chapter
changes, as the student notebooks, and commit them::

    python -m booktools.autograder          # write grading/<chapter>/
    python -m booktools.autograder --check  # what the tests run: fails if one is stale
"""

from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from booktools.notebooks import Book, generator_main, student_notebook

__all__ = [
    "GRADING_DIR",
    "HIDDEN",
    "POINTS",
    "SOLUTION",
    "Question",
    "chapter_questions",
    "exercise_chapters",
    "main",
    "write_autograders",
]

GRADING_DIR = "grading"
SOLUTION = "solution.ipynb"
POINTS = 2
# What a self-check cannot see, checked in secret: (self-check function, the hidden test's code, its point).
# Exercise 2's self-checks test each function alone; the hidden test checks that together they trained the network.
HIDDEN = {
    "check_predict": (
        "import numpy as np\n"
        "y_true, y_pred = predict(model, test_loader, device)\n"
        "assert y_pred is not None and np.shape(y_true) == np.shape(y_pred), "
        "'hidden test: predict must return y_true and y_pred, one label per test image each'\n"
        "share = float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))\n"
        "assert share > 0.5, f'hidden test: the trained network predicts {share:.0%} of the test digits: training did not work'"
    ),
}
OTTER_CONFIG = {"lang": "python", "show_stdout": False, "show_hidden": True, "logo": False, "print_summary": False}


@dataclass(frozen=True)
class Question:
    """One graded task: its name, the self-check call that grades it and its points."""

    name: str
    check: str
    call: str
    points: int


def exercise_chapters(root: str | Path) -> list[Path]:
    """The chapters whose code calls a self-check, in name order."""
    return sorted(path for path in (Path(root) / "book").glob("*.md") if "checks.check_" in path.read_text(encoding="utf-8"))


def _check_calls(source: str) -> list[tuple[str, str]]:
    """Each ``checks.check_...(...)`` call in ``source``: (function name, the call's code)."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "checks"
            and node.func.attr.startswith("check_")
        ):
            calls.append((node.func.attr, ast.unparse(node)))
    return calls


def chapter_questions(chapter: Path, book: Book) -> list[Question]:
    """The questions of ``chapter``, in the order its student notebook asks them."""
    questions = []
    for cell in student_notebook(chapter, book).cells:
        if cell.cell_type != "code" or "checks.check_" not in cell.source:
            continue
        for function, call in _check_calls(cell.source):
            number = len(questions) + 1
            questions.append(Question(f"{chapter.stem}-q{number}", function, call, POINTS))
    return questions


RUNNER = """\
def _run(case, code, env):
    \"\"\"Run ``code`` in a copy of the submission's namespace; record the outcome for a grader that stops early.\"\"\"
    try:
        exec(code, dict(env))
    except Exception as error:
        _record(case, False, f"{type(error).__name__}: {error}")
        raise
    _record(case, True, "")


def _record(case, passed, message):
    path = os.environ.get("CNNLAB_GRADING_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as record:
            record.write(json.dumps({"question": name, "case": case, "passed": passed, "message": message}) + "\\n")
"""


def _test_file(question: Question) -> str:
    """The Otter exception-based test file of ``question``."""
    hidden = HIDDEN.get(question.check)
    lines = [
        f'"""{question.name}: the self-check {question.call}, run in the submission\'s namespace."""',
        "",
        "import json",
        "import os",
        "",
        "from otter.test_files import test_case",
        "",
        "OK_FORMAT = False",
        "",
        f"name = {question.name!r}",
        f"points = {question.points + (1 if hidden else 0)}",
        "",
        "",
        RUNNER,
        "",
        f"@test_case(points={question.points}, hidden=False)",
        "def self_check(env):",
        f"    _run('self_check', {question.call!r}, env)",
    ]
    if hidden:
        lines += [
            "",
            "",
            "@test_case(points=1, hidden=True)",
            "def hidden_check(env):",
            f"    _run('hidden_check', {hidden!r}, env)",
        ]
    return "\n".join(lines) + "\n"


def autograder_files(chapter: Path, book: Book) -> dict[str, str]:
    """Every file of the chapter's autograder folder: relative path -> text."""
    questions = chapter_questions(chapter, book)
    files = {f"tests/{question.name}.py": _test_file(question) for question in questions}
    manifest = [
        {"name": q.name, "check": q.check, "call": q.call, "points": q.points + (1 if q.check in HIDDEN else 0)}
        for q in questions
    ]
    files["questions.json"] = json.dumps(manifest, indent=2) + "\n"
    files["otter_config.json"] = json.dumps(OTTER_CONFIG, indent=2) + "\n"
    # The answer key: the student notebook with the reference solutions, which must score full marks.
    files[SOLUTION] = nbformat.writes(student_notebook(chapter, book, solved=True)) + "\n"
    return files


def write_autograders(root: str | Path = ".", check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) every exercise chapter's autograder; return what changed."""
    root = Path(root)
    book = Book.from_config(root)
    changed = []
    for chapter in exercise_chapters(root):
        folder = root / GRADING_DIR / chapter.stem
        wanted = autograder_files(chapter, book)
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()
        for relative in sorted(present - set(wanted)):
            changed.append(folder / relative)
            if not check:
                (folder / relative).unlink()
        for relative, text in wanted.items():
            path = folder / relative
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                changed.append(path)
                if not check:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the autograders, or check them with ``--check``."""
    return generator_main(argv, "booktools.autograder", __doc__.splitlines()[0], "an autograder", write_autograders)


if __name__ == "__main__":
    sys.exit(main())
