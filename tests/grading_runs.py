"""Grading handed-in notebooks with the README's command, and on Gradescope's layout: what the grading tests share.

A folder holds what students hand in: the blank student notebook as
committed, the solved one, partial submissions (the reference solution with
one mistake of the self-checks' mutation suite, tests/unit/test_checks.py)
and broken or hostile ones. One grading command grades the folder.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat

from bookpaths import ROOT
from booktools.grading import autograder

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
    # its own (tests/tools/grading/test_sandbox_barriers.py).
    command = [sys.executable, "-m", "booktools", "grade", str(folder), "--chapter", chapter, "--out", str(out), "--jobs", "2"]
    command.append("--no-canary")
    process = subprocess.run([*command, "--time-limit", str(time_limit)], cwd=ROOT, capture_output=True, text=True)
    assert process.returncode == 0, process.stdout + process.stderr
    with (out / "grades.csv").open() as file:
        grades = {(row["student"], row["task"]): row for row in csv.DictReader(file)}
    with (out / "summary.csv").open() as file:
        summary = {row["student"]: row for row in csv.DictReader(file)}
    return grades, summary


def questions(chapter: str) -> list[dict]:
    return json.loads((ROOT / autograder.GRADING_DIR / chapter / "questions.json").read_text())


def check_blank_solved_and_partials(chapter, grades, summary, blank="blank"):
    """The answer key ("solved") earned every point, the blank notebook (the student ``blank``) none, each task's
    feedback a self-check's message, and each partial submission lost the points of its own task alone."""
    tasks = questions(chapter)
    full = sum(task["points"] for task in tasks)
    assert summary["solved"]["points"] == f"{full:g}" and summary["solved"]["status"] == "graded"
    for task in tasks:
        assert (
            grades["solved", task["name"]]["points"] == str(task["points"]) and grades["solved", task["name"]]["feedback"] == ""
        )
        row = grades[blank, task["name"]]
        assert row["points"] == "0", f"the blank notebook scored on {task['name']}"
        assert row["feedback"].startswith("SelfCheckError: Task "), f"{task['name']}: {row['feedback']!r}"
    for id, (number, _, _) in PARTIALS[chapter].items():
        student = id.replace(" ", "-")
        lost = {task["name"] for task in tasks if float(grades[student, task["name"]]["points"]) < task["points"]}
        assert lost == {f"{chapter}-q{number}"}, f"{id!r} lost points on {sorted(lost)}, not on task {number} alone"
        feedback = grades[student, f"{chapter}-q{number}"]["feedback"]
        assert "SelfCheckError: Task " in feedback, f"{id!r}: {feedback!r}"


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

    command = [sys.executable, "-m", "booktools", "grade", "--gradescope", chapter, "--out", str(folder / "dist")]
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
