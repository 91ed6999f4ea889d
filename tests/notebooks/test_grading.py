"""Grading handed-in notebooks end to end, offline: one grading command per exercise over a folder of submissions.

The folders hold what students hand in: the blank student notebook as
committed, the solved one, a partial submission (the reference solution with
one mistake of the self-checks' mutation suite, tests/unit/test_checks.py)
and broken ones. The partial submission must lose the points of its task and
of no other; every broken one gets a clear result per task and does not stop
the grading of the others. How points and feedback follow from a run and the
judge's verdicts, and how the CSVs are written, is tested without a kernel in
tests/tools/test_grade_command.py; every other mistake of the mutation suites
is judged there too, by the same self-checks.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bookpaths import ROOT
from booktools import autograder

pytestmark = pytest.mark.notebooks

# id: (the task that loses its points, the text replaced, its replacement)
PARTIALS = {
    "ex1-conv-pool": {"padding 2": (2, "kernel_size=3, padding=1)", "kernel_size=3, padding=2)")},
    "ex2-mnist-cnn": {"eval in training": (3, "    model.train()  # ✎", "    model.eval()  # ✎")},
}


def solved(chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / autograder.GRADING_DIR / chapter / autograder.SOLUTION, as_version=4)


def with_mistake(chapter: str, old: str, new: str) -> nbformat.NotebookNode:
    notebook = solved(chapter)
    cell = next(cell for cell in notebook.cells if cell.cell_type == "code" and old in cell.source)
    cell.source = cell.source.replace(old, new, 1)
    return notebook


def grade(folder: Path, chapter: str, out: Path, time_limit: int) -> tuple[dict, dict]:
    """Run the README's grading command; return grades.csv by (student, task) and summary.csv by student."""
    # Each folder holds the answer key among its submissions, so the canary would grade it twice; the canary has tests of
    # its own (tests/tools/test_sandbox_barriers.py).
    command = [sys.executable, "-m", "booktools.grade", str(folder), "--chapter", chapter, "--out", str(out), "--jobs", "2"]
    command.append("--no-canary")
    process = subprocess.run([*command, "--time-limit", str(time_limit)], cwd=ROOT, capture_output=True, text=True)
    assert process.returncode == 0, process.stdout + process.stderr
    with (out / "grades.csv").open() as file:
        grades = {(row["student"], row["task"]): row for row in csv.DictReader(file)}
    with (out / "summary.csv").open() as file:
        summary = {row["student"]: row for row in csv.DictReader(file)}
    return grades, summary


def questions(chapter: str) -> list[dict]:
    import json

    return json.loads((ROOT / autograder.GRADING_DIR / chapter / "questions.json").read_text())


def check_blank_solved_and_partials(chapter, grades, summary):
    tasks = questions(chapter)
    full = sum(task["points"] for task in tasks)
    assert summary["solved"]["points"] == f"{full:g}" and summary["solved"]["status"] == "graded"
    for task in tasks:
        assert (
            grades["solved", task["name"]]["points"] == str(task["points"]) and grades["solved", task["name"]]["feedback"] == ""
        )
        blank = grades["blank", task["name"]]
        assert blank["points"] == "0", f"the blank notebook scored on {task['name']}"
        assert blank["feedback"].startswith("SelfCheckError: Task "), f"{task['name']}: {blank['feedback']!r}"
    for id, (number, _, _) in PARTIALS[chapter].items():
        student = id.replace(" ", "-")
        lost = {task["name"] for task in tasks if float(grades[student, task["name"]]["points"]) < task["points"]}
        assert lost == {f"{chapter}-q{number}"}, f"{id!r} lost points on {sorted(lost)}, not on task {number} alone"
        feedback = grades[student, f"{chapter}-q{number}"]["feedback"]
        assert "SelfCheckError: Task " in feedback, f"{id!r}: {feedback!r}"


@pytest.mark.slow(
    "grades seven Exercise 1 submissions, one of which runs into its time limit, and one again on Gradescope's layout"
)
def test_grading_exercise_1_blank_solved_partial_and_broken_submissions(tmp_path):
    chapter = "ex1-conv-pool"
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "blank.ipynb").write_bytes((ROOT / "book" / f"{chapter}.ipynb").read_bytes())  # as students get it
    (folder / "solved.ipynb").write_bytes((ROOT / autograder.GRADING_DIR / chapter / autograder.SOLUTION).read_bytes())
    for id, (_, old, new) in PARTIALS[chapter].items():
        nbformat.write(with_mistake(chapter, old, new), folder / f"{id.replace(' ', '-')}.ipynb")
    # Broken in four ways: a crash at the imports, an endless loop after task 2, not a notebook, cells moved and deleted.
    crash = with_mistake(chapter, "import torch\n", "import a_module_that_does_not_exist\nimport torch\n")
    nbformat.write(crash, folder / "crash.ipynb")
    endless = solved(chapter)
    after = next(i for i, cell in enumerate(endless.cells) if "checks.check_padded_conv_layer" in cell.source)
    # Endless but idle: the time limit is what is tested, so the loop leaves the other test worker its core.
    endless.cells.insert(after + 1, nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)"))
    nbformat.write(endless, folder / "endless.ipynb")
    (folder / "not-a-notebook.ipynb").write_text('{"cells": [')
    moved = solved(chapter)
    first_check = next(cell for cell in moved.cells if "checks.check_conv_layer" in cell.source)
    moved.cells.remove(first_check)
    moved.cells.append(first_check)  # the task 1.1 check now runs last, on the padded layer
    moved.cells = [cell for cell in moved.cells if "checks.check_pool_3x3" not in cell.source]
    nbformat.write(moved, folder / "moved-and-deleted.ipynb")

    grades, summary = grade(folder, chapter, tmp_path / "grades", time_limit=30)
    check_blank_solved_and_partials(chapter, grades, summary)
    names = [task["name"] for task in questions(chapter)]

    assert summary["crash"]["status"] == "graded"
    for name in names:
        assert grades["crash", name]["points"] == "0"
        assert grades["crash", name]["feedback"] == "NameError: name 'checks' is not defined"

    assert summary["endless"]["status"] == "time limit"
    assert [grades["endless", name]["points"] for name in names] == ["2", "2", "0", "0"], (
        "tasks graded before the loop keep their points"
    )
    assert grades["endless", names[2]]["feedback"].startswith("not graded: the submission ran past the time limit of 30 s")

    assert summary["not-a-notebook"]["status"] == "unreadable"
    for name in names:
        feedback = grades["not-a-notebook", name]["feedback"]
        assert grades["not-a-notebook", name]["points"] == "0" and "not-a-notebook.ipynb is not a readable notebook" in feedback

    # A self-check cell deleted: its task is graded at the end, on the notebook's last state.
    assert [grades["moved-and-deleted", name]["points"] for name in names] == ["0", "2", "0", "2"]
    assert "Task 1.1:" in grades["moved-and-deleted", names[0]]["feedback"]
    assert "Task 1.2.1:" in grades["moved-and-deleted", names[2]]["feedback"]

    # The chapter's Gradescope autograder gives the partial submission the same points and feedback as the command.
    document = graded_as_on_gradescope(chapter, folder / "padding-2.ipynb", tmp_path / "gradescope")
    assert {test["name"]: (f"{test['score']:g}", test["output"]) for test in document["tests"]} == {
        name: (grades["padding-2", name]["points"], grades["padding-2", name]["feedback"]) for name in names
    }
    assert f"{document['score']:g}" == summary["padding-2"]["points"] == "6"


def graded_as_on_gradescope(chapter: str, notebook: Path, folder: Path) -> dict:
    """Write the chapter's Gradescope zip with the README's command, lay it out as Gradescope does, run its entry point.

    Gradescope unpacks the zip into /autograder/source, puts the student's upload in /autograder/submission and runs
    /autograder/run_autograder, which writes /autograder/results/results.json. Here /autograder is a folder bound
    there in a bubblewrap sandbox (no network; the rest of the system read-only), where the grader makes its own.
    """
    import json
    import os
    import shutil
    import stat
    import zipfile

    command = [sys.executable, "-m", "booktools.grade", "--gradescope", chapter, "--out", str(folder / "dist")]
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert process.returncode == 0, process.stdout + process.stderr
    autograder = folder / "autograder"
    with zipfile.ZipFile(folder / "dist" / f"{chapter}-gradescope.zip") as archive:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
        assert modes["run_autograder"] == modes["setup.sh"] == 0o755
        assert f"grading/{chapter}/questions.json" in modes and "solution.ipynb" not in " ".join(modes)
        archive.extractall(autograder / "source")
    shutil.copy(autograder / "source" / "run_autograder", autograder / "run_autograder")
    (autograder / "submission").mkdir()
    shutil.copy(notebook, autograder / "submission" / f"{chapter}.ipynb")
    metadata = {"id": 1, "users": [{"email": "student@example.org", "id": 7, "name": notebook.stem}]}
    (autograder / "submission_metadata.json").write_text(json.dumps(metadata))
    python = Path(sys.executable).parent
    bwrap = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--tmpfs", "/"]
    bwrap += [] if os.geteuid() == 0 else ["--unshare-user"]
    for entry in sorted(Path("/").iterdir()):  # the system read-only, as the image Gradescope built holds it
        if entry.name not in ("proc", "dev", "tmp", "autograder"):
            bwrap += (
                ["--symlink", os.readlink(entry), str(entry)] if entry.is_symlink() else ["--ro-bind", str(entry), str(entry)]
            )
    bwrap += ["--bind", str(autograder), "/autograder", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    # The editable cnnlab and booktools of this checkout (wherever it lies), which setup.sh installs from the zip there.
    bwrap += ["--ro-bind", str(ROOT), str(ROOT)]
    bwrap += ["--clearenv", "--setenv", "PATH", f"{python}:/usr/bin:/bin", "--setenv", "HOME", str(Path.home())]
    process = subprocess.run([*bwrap, "bash", "/autograder/run_autograder"], capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads((autograder / "results" / "results.json").read_text())


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
