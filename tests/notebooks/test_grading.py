"""Grading the Exercise 2 class end to end, offline: one grading command over a folder of submissions.

The folder holds the blank student notebook as committed, the solved one, a
partial submission that loses the points of its task and of no other, and an
untrained network behind a lying predict. Exercise 1's submissions, broken and
hostile ones among them, are graded in tests/notebooks/test_grading_hostile.py.
How points and feedback follow from a run and the judge's verdicts, and how
the CSVs are written, is tested without a kernel in
tests/tools/grading/test_grade_command.py; every other mistake of the mutation suites
is judged there too, by the same self-checks.
"""

from __future__ import annotations

import nbformat
import pytest

from bookpaths import ROOT
from booktools.grading import autograder
from grading_runs import PARTIALS, check_blank_solved_and_partials, grade, questions, with_mistake

pytestmark = pytest.mark.notebooks


@pytest.mark.slow("grades four Exercise 2 submissions, each training the network for two passes over the sample")
def test_grading_exercise_2_blank_solved_and_partial_submissions(tmp_path):
    chapter = "ex2-mnist-cnn"
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "blank.ipynb").write_bytes((ROOT / "book" / f"{chapter}.ipynb").read_bytes())
    (folder / "solved.ipynb").write_bytes((ROOT / autograder.GRADING_DIR / chapter / autograder.SOLUTION).read_bytes())
    for id, (_, old, new) in PARTIALS[chapter].items():
        nbformat.write(with_mistake(chapter, old, new), folder / f"{id.replace(' ', '-')}.ipynb")
    # The hidden point is judged on the trained model with the book's own loop, not with the student's predict:
    # an untrained network whose predict hands back the labels for the test set loses it.
    lying = with_mistake(chapter, "losses = []\nfor epoch in range(num_epochs):", "losses = [1.0]\nfor epoch in range(0):")
    predict_cell = next(cell for cell in lying.cells if cell.source.startswith("def predict("))
    predict_cell.source += (
        "\n\n_honest_predict = predict\n\n\ndef predict(model, test_loader, device):\n"
        "    y_true, y_pred = _honest_predict(model, test_loader, device)\n"
        "    return (y_true, y_true) if len(y_true) > 100 else (y_true, y_pred)\n"
    )
    nbformat.write(lying, folder / "untrained-lying-predict.ipynb")
    grades, summary = grade(folder, chapter, tmp_path / "grades", time_limit=300)
    check_blank_solved_and_partials(chapter, grades, summary)
    points = {task["name"]: grades["untrained-lying-predict", task["name"]]["points"] for task in questions(chapter)}
    assert points == {
        "ex2-mnist-cnn-q1": "2",
        "ex2-mnist-cnn-q2": "2",
        "ex2-mnist-cnn-q3": "2",
        "ex2-mnist-cnn-q4": "2",
        "ex2-mnist-cnn-q5": "2",
    }, points
    assert "hidden test: the trained network predicts" in grades["untrained-lying-predict", "ex2-mnist-cnn-q4"]["feedback"]
