"""The Gradescope autograder without a kernel: what the zip holds, and results.json.

Its entry point grading a real submission in Gradescope's layout is tested in
tests/notebooks/test_grading_hostile.py, against the local command.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from bookpaths import ROOT
from booktools.grading import command, grade, gradescope


def test_the_zip_holds_the_scripts_the_pins_the_packages_and_the_tasks_but_not_the_answer_key():
    files = gradescope.zip_files(ROOT, "ex2-mnist-cnn", time_limit=120, memory_limit_gib=2)
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n"], input=files[script], capture_output=True).returncode == 0, script
    requirements = files["requirements.txt"].decode()
    assert "torch==2.14.1+cpu" in requirements and "download.pytorch.org/whl/cpu" in requirements
    assert "nbclient==" in requirements and "ipykernel==" in requirements and "./" not in requirements
    assert json.loads(files[gradescope.CONFIG]) == {"chapter": "ex2-mnist-cnn", "time_limit": 120, "memory_limit_gib": 2}
    assert files["grading/ex2-mnist-cnn/questions.json"] == (ROOT / "grading/ex2-mnist-cnn/questions.json").read_bytes()
    assert "packages/code/src/cnnlab/checks/ex2.py" in files and "packages/tools/src/booktools/grading/grade.py" in files
    assert not [name for name in files if "solution" in name or "__pycache__" in name or "/tests/" in name]


def test_an_unknown_chapter_is_refused_with_the_known_ones(tmp_path, capsys):
    assert command.main(["--gradescope", "ex9-nothing", "--out", str(tmp_path)]) == 1
    assert "choose one of ['ex1-conv-pool'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        command.main(["--gradescope", "ex1-conv-pool", "--chapter", "ex1-conv-pool"])
    assert "grades nothing" in capsys.readouterr().err


def test_results_json_has_a_test_per_task_and_the_total():
    tasks = [
        grade.TaskResult("ana", "ana.ipynb", "q1", 2.0, 2, ""),
        grade.TaskResult("ana", "ana.ipynb", "q2", 0.0, 3, "Task 1.2: padding 2"),
    ]
    document = gradescope.results_document(tasks, "graded", 12.34)
    assert document["score"] == 2.0 and document["execution_time"] == 12.3
    assert document["tests"][1] == {
        "name": "q2",
        "score": 0.0,
        "max_score": 3,
        "status": "failed",
        "output": "Task 1.2: padding 2",
        "visibility": "visible",
    }


def test_a_submission_without_a_notebook_scores_zero_and_says_why(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / gradescope.CONFIG).write_text(json.dumps({"chapter": "ex1-conv-pool"}))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "answers.py").write_text("print('not a notebook')")
    document = gradescope.run(tmp_path)
    assert document["score"] == 0 and "No notebook was submitted" in document["output"]
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == document


def test_a_grader_that_fails_still_writes_results_json_saying_why(tmp_path):
    (tmp_path / "source").mkdir()
    config = {"chapter": "ex1-conv-pool", "time_limit": 60}  # a gradescope.json without its memory limit
    (tmp_path / "source" / gradescope.CONFIG).write_text(json.dumps(config))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "ex1-conv-pool.ipynb").write_text("{}")
    document = gradescope.run(tmp_path)
    assert document["score"] == 0 and document["output"].startswith("The grader failed before grading (KeyError")
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == document
