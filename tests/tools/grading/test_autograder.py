"""The autograders are generated from the chapters, one task per self-check, and kept up to date."""

import json

from bookpaths import ROOT, small_book
from booktools.book import Book
from booktools.grading import autograder, grade


def test_the_autograders_are_up_to_date_and_ask_every_self_check():
    assert autograder.write_autograders(ROOT, check=True) == [], "run python -m booktools autograder"
    book = Book.from_config(ROOT)
    for chapter in book.exercise_chapters:
        manifest = ROOT / autograder.GRADING_DIR / chapter.path.stem / autograder.MANIFEST
        calls = [task["call"] for task in json.loads(manifest.read_text())]
        source = chapter.path.read_text(encoding="utf-8")
        assert calls and all(call in source for call in calls)
        assert len(calls) == source.count("checks.check_"), f"{chapter.path.name}: a self-check has no question"
    assert sorted(p.name for p in (ROOT / autograder.GRADING_DIR).iterdir()) == sorted(
        chapter.path.stem for chapter in book.exercise_chapters
    )


def test_exercise_2_hides_a_training_test_whose_points_come_from_beside_its_self_checks():
    from cnnlab.checks import HIDDEN_TESTS

    book = Book.from_config(ROOT)
    files = autograder.autograder_files(book.chapter("book/ex2-mnist-cnn"), book)
    tasks = {task["check"]: task for task in json.loads(files[autograder.MANIFEST])}
    hidden = HIDDEN_TESTS["check_predict"]
    assert tasks["check_predict"]["hidden"] == {"variable": "model", "points": hidden.points, "training_steps": 1000}
    assert tasks["check_predict"]["points"] == autograder.POINTS + hidden.points
    assert "hidden" not in tasks["check_network"] and tasks["check_network"]["points"] == autograder.POINTS
    # The grader trains Exercise 2 for what its hidden test needs, and every other chapter for the short default.
    assert grade.training_steps(list(tasks.values())) == 1000
    exercise_3 = json.loads(autograder.autograder_files(book.chapter("book/ex3-sequential"), book)[autograder.MANIFEST])
    assert grade.training_steps(exercise_3) == grade.GRADING_TRAINING_STEPS < 150


def test_a_chapter_that_stops_asking_self_checks_loses_its_autograder(tmp_path):
    asking = "# A chapter\n\n```{code-cell} ipython3\nchecks.check_pool_3x3(pool)\n```\n"
    book = small_book(tmp_path, {"other": "# Other\n", "chapter": asking})
    written = autograder.write_autograders(book.root)
    assert sorted(path.relative_to(book.root).as_posix() for path in written) == [
        "grading/chapter/questions.json",
        "grading/chapter/solution.ipynb",
    ]
    assert autograder.write_autograders(book.root, check=True) == []
    (book.root / "book" / "chapter.md").write_text("# A chapter\n\nNo tasks any more.\n")
    assert len(autograder.write_autograders(book.root, check=True)) == 2
    autograder.write_autograders(book.root)
    assert not (book.root / "grading" / "chapter").exists()
