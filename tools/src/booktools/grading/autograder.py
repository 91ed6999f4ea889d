"""The autograder of each exercise chapter: one task per self-check call, and the answer key.

An exercise chapter is one of ``_toc.yml`` whose code calls a self-check
(``checks.check_conv_layer(operation)``, say; :class:`booktools.book.Book`).
Its autograder, in ``grading/<chapter>/``, holds

* ``questions.json``: one task per self-check call, in the order the student
  meets them, worth :data:`POINTS` points, plus the points of the task's
  hidden test when ``cnnlab.checks.HIDDEN_TESTS`` has one (what a self-check
  cannot see, beside the chapter's self-checks: that Exercise 2's network
  was trained, say), and the training steps that test needs; and the
  task's ``references``: what ``cnnlab`` ships that does the task itself
  (:func:`references`), which the grader refuses as the student's work;
* ``solution.ipynb``: the student notebook with the reference solutions,
  the answer key, which the grader scores at full marks.

The grader (:mod:`booktools.grading.grade`) reads both. Regenerate the autograders
when a chapter changes, as the student notebooks, and commit them.

::

    python -m booktools autograder          # write grading/<chapter>/
    python -m booktools autograder --check  # what the tests run: fails if one is stale
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from booktools.book import Book
from booktools.chapter import Chapter
from booktools.cli import generator_main, sync_files
from booktools.notebooks import student_notebook

__all__ = [
    "GRADING_DIR",
    "MANIFEST",
    "POINTS",
    "SOLUTION",
    "Question",
    "chapter_questions",
    "main",
    "manifest_path",
    "references",
    "write_autograders",
]

DESCRIPTION = "Write each exercise chapter's autograder, grading/<chapter>/: its tasks and its answer key."

GRADING_DIR = "grading"
MANIFEST = "questions.json"
SOLUTION = "solution.ipynb"
POINTS = 2

# What the book's package ships that does a task itself, beyond what :func:`references` finds by name. The self-checks'
# own code (``cnnlab.checks``) is a reference of every task.
EXTRA_REFERENCES = {
    "check_network": ("cnnlab.models.SequentialCNN",),
    "check_train_epoch": ("cnnlab.train.train_one_epoch", "cnnlab.train.train_for_steps"),
    "check_sequential_model": ("cnnlab.models.SequentialCNN", "cnnlab.models.MNISTModel", "cnnlab.models.conv_block"),
    "check_regularised_model": ("cnnlab.models.SequentialCNN", "cnnlab.models.MNISTModel", "cnnlab.models.conv_block"),
    "check_variant": ("cnnlab.models.SequentialCNN", "cnnlab.models.MNISTModel", "cnnlab.models.conv_block"),
    "check_conv_block": ("cnnlab.tissue._size_keeping_block",),
    "check_segmentation_net": ("cnnlab.tissue._size_keeping_block",),
    "check_input_gradient": ("cnnlab.saliency.gradient_times_input",),
    "check_grad_cam": ("cnnlab.saliency.layer_gradients",),
}


@dataclass(frozen=True)
class Question:
    """One graded task: its name, the self-check call that grades it, and the hidden test's variable and points."""

    name: str
    check: str
    call: str
    points: int
    hidden_variable: str | None = None
    hidden_points: int = 0
    hidden_training_steps: int | None = None
    references: tuple[str, ...] = ()

    def manifest(self) -> dict:
        entry = {"name": self.name, "check": self.check, "call": self.call, "points": self.points + self.hidden_points}
        if self.hidden_variable:
            entry["hidden"] = {"variable": self.hidden_variable, "points": self.hidden_points}
            if self.hidden_training_steps:
                entry["hidden"]["training_steps"] = self.hidden_training_steps
        entry["references"] = list(self.references)
        return entry


def _shipped() -> dict[str, list[str]]:
    """Every public function and class of ``cnnlab``'s modules (its self-checks aside), by name: their dotted names."""
    import importlib
    import pkgutil

    import cnnlab

    found: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(cnnlab.__path__), key=lambda info: info.name):
        if info.name.startswith("_") or info.name == "checks":
            continue
        module = importlib.import_module(f"cnnlab.{info.name}")
        for name, value in sorted(vars(module).items()):
            if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__:
                found.setdefault(name, []).append(f"{module.__name__}.{name}")
    return found


def references(check: str, call: str, shipped: dict[str, list[str]] | None = None) -> tuple[str, ...]:
    """What ``cnnlab`` ships that does the task of ``call`` itself: the grader gives an answer that is or calls one nothing.

    They are the self-checks' own code, every public function or class of ``cnnlab`` named as an argument of the
    call (``checks.check_input_gradient(input_gradient)``: ``cnnlab.saliency.input_gradient``), and
    :data:`EXTRA_REFERENCES`.

    Examples
    --------
    >>> references("check_predict", "checks.check_predict(predict)", {"predict": ["cnnlab.train.predict"]})
    ('cnnlab.checks', 'cnnlab.train.predict')
    """
    import ast

    shipped = _shipped() if shipped is None else shipped
    names = [ast.unparse(argument) for argument in ast.parse(call, mode="eval").body.args]
    found = {"cnnlab.checks", *EXTRA_REFERENCES.get(check, ())}
    for name in names:
        found.update(shipped.get(name, []))
    return tuple(sorted(found))


def manifest_path(root: Path, chapter: str, option: str) -> Path:
    """``questions.json`` of ``chapter``'s autograder, or a FileNotFoundError naming ``option`` and the chapters with one."""
    manifest = root / GRADING_DIR / chapter / MANIFEST
    if not manifest.is_file():
        known = sorted(p.name for p in (root / GRADING_DIR).iterdir()) if (root / GRADING_DIR).is_dir() else []
        raise FileNotFoundError(f"{option} {chapter!r} has no autograder in {root / GRADING_DIR}: choose one of {known}.")
    return manifest


def chapter_questions(chapter: Chapter) -> list[Question]:
    """The questions of ``chapter``, in the order a student meets its self-checks."""
    from cnnlab.checks import HIDDEN_TESTS

    shipped = _shipped()
    questions = []
    for number, call in enumerate(chapter.checks, 1):
        hidden = HIDDEN_TESTS.get(call.function)
        questions.append(
            Question(
                f"{chapter.path.stem}-q{number}",
                call.function,
                call.call,
                POINTS,
                hidden.variable if hidden else None,
                hidden.points if hidden else 0,
                hidden.training_steps if hidden else None,
                references(call.function, call.call, shipped),
            )
        )
    return questions


def autograder_files(chapter: Chapter, book: Book) -> dict[str, str]:
    """Every file of the chapter's autograder folder: relative path -> text."""
    manifest = [question.manifest() for question in chapter_questions(chapter)]
    return {
        MANIFEST: json.dumps(manifest, indent=2) + "\n",
        SOLUTION: nbformat.writes(student_notebook(chapter, book, solved=True)) + "\n",
    }


def write_autograders(root: str | Path = ".", check: bool = False) -> list[Path]:
    """Write (or, with ``check``, compare) every exercise chapter's autograder; return what changed.

    A folder of ``grading/`` whose chapter is gone, or no longer asks a
    self-check, is out of date too, and goes.
    """
    book = Book.from_config(root)
    grading = book.root / GRADING_DIR
    wanted: dict[Path, str] = {}
    for chapter in book.exercise_chapters:
        folder = grading / chapter.path.stem
        wanted.update({folder / relative: text for relative, text in autograder_files(chapter, book).items()})
    present = [path for path in grading.rglob("*") if path.is_file()] if grading.is_dir() else []
    changed = sync_files(wanted, present, check)
    if not check and grading.is_dir():
        for folder in sorted((p for p in grading.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the autograders, or check them with ``--check``."""
    return generator_main(argv, "autograder", DESCRIPTION, "an autograder", write_autograders)


if __name__ == "__main__":
    sys.exit(main())
