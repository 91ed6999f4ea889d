"""Grade a folder of student notebooks handed in for one exercise chapter, with Otter-Grader.

::

    python -m booktools.grade submissions/ --chapter ex2-mnist-cnn --out grades/

Each ``*.ipynb`` in the folder is one student's submission (the file's name,
without ``.ipynb``, names the student). Each runs through ``otter run`` with
the chapter's autograder (``grading/<chapter>/``, :mod:`booktools.autograder`),
in the grading environment ``.venv/grading``, on the MNIST sample
(``CNNLAB_MNIST=sample``), with :data:`TRAINING_STEPS_VARIABLE` set so that
training takes seconds, and within a time limit. Before grading, each
self-check cell of the submission is tagged so that Otter runs that task's
test right after it, in the state the notebook has there.

Out come ``grades.csv`` (student, task, points, max points, feedback: the
self-check's message for every lost point) and ``summary.csv`` (student,
points, max points, status). A submission that is not a notebook, crashes,
or runs past its time limit costs its student the points not yet earned and
does not stop the grading of the others: the tasks graded before an endless
loop keep their points.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from booktools.autograder import GRADING_DIR, POINTS, SOLUTION

__all__ = ["RECORD_VARIABLE", "TRAINING_STEPS_VARIABLE", "TaskResult", "grade_folder", "grade_submission", "main"]

RECORD_VARIABLE = "CNNLAB_GRADING_RECORD"
TRAINING_STEPS_VARIABLE = "CNNLAB_TRAINING_STEPS"
GRADING_TRAINING_STEPS = 400
OTTER = Path(".venv") / "grading" / "bin" / "otter"


@dataclass(frozen=True)
class TaskResult:
    student: str
    task: str
    points: float
    max_points: float
    feedback: str


def _questions(root: Path, chapter: str) -> list[dict]:
    manifest = root / GRADING_DIR / chapter / "questions.json"
    if not manifest.is_file():
        known = sorted(p.name for p in (root / GRADING_DIR).iterdir()) if (root / GRADING_DIR).is_dir() else []
        raise FileNotFoundError(f"--chapter {chapter!r} has no autograder in {root / GRADING_DIR}: choose one of {known}.")
    return json.loads(manifest.read_text(encoding="utf-8"))


def _autograder_zip(root: Path, chapter: str, target: Path) -> Path:
    folder = root / GRADING_DIR / chapter
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in ("questions.json", SOLUTION):
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def _tag_self_checks(notebook: nbformat.NotebookNode, questions: list[dict]) -> None:
    """Tag the first cell holding each task's self-check call, so that Otter grades the task right after it."""
    for question in questions:
        for cell in notebook.cells:
            if cell.cell_type == "code" and question["call"] in cell.source:
                tests = cell.metadata.setdefault("otter", {}).setdefault("tests", [])
                tests.append(question["name"])
                break


def _message(output: str) -> str:
    """The self-check's message out of Otter's report of a failed test: its last exception line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if ":" in line and line.split(":", 1)[0].replace(".", "").isidentifier()]
    return errors[-1] if errors else " ".join(lines)[-500:]


def _records(path: Path) -> dict[str, tuple[bool, str]]:
    """The first outcome each test case recorded: ``question/case`` -> (passed, message)."""
    outcomes: dict[str, tuple[bool, str]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            outcomes.setdefault(f"{record['question']}/{record['case']}", (record["passed"], record["message"]))
    return outcomes


def grade_submission(
    submission: Path, root: Path, chapter: str, time_limit: float, otter: Path | None = None
) -> tuple[list[TaskResult], str]:
    """Grade one submission; return a result per task and the submission's status."""
    root = root.resolve()
    questions = _questions(root, chapter)
    student = submission.stem
    otter = otter or root / OTTER

    def every_task(points_of, feedback_of) -> list[TaskResult]:
        return [TaskResult(student, q["name"], points_of(q), q["points"], feedback_of(q)) for q in questions]

    try:
        notebook = nbformat.read(submission, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # any way a file can fail to be a notebook
        reason = f"not graded: {submission.name} is not a readable notebook ({type(error).__name__}: {str(error)[:200]})"
        return every_task(lambda q: 0, lambda q: reason), "unreadable"
    _tag_self_checks(notebook, questions)
    with tempfile.TemporaryDirectory(prefix="grade-") as work:
        work = Path(work)
        (work / "submission").mkdir()
        prepared = work / "submission" / f"{student}.ipynb"
        nbformat.write(notebook, prepared)
        autograder = _autograder_zip(root, chapter, work / "autograder.zip")
        record = work / "record.jsonl"
        env = {
            **os.environ,
            "CNNLAB_MNIST": "sample",
            TRAINING_STEPS_VARIABLE: str(GRADING_TRAINING_STEPS),
            RECORD_VARIABLE: str(record),
            "CNNLAB_THREADS": os.environ.get("CNNLAB_THREADS", "1"),
        }
        command = [str(otter), "run", "-a", str(autograder), "-o", str(work), str(prepared)]
        process = subprocess.Popen(
            command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            log, _ = process.communicate(timeout=time_limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            log, _ = process.communicate()
            timed_out = True
        results = work / "results.json"
        if not timed_out and process.returncode == 0 and results.is_file():
            tests = {test["name"].split(" - ")[0]: test for test in json.loads(results.read_text())["tests"]}
            outcomes = _records(record)

            def feedback(q):
                cases = [message for key, (passed, message) in outcomes.items() if key.startswith(q["name"] + "/") and not passed]
                if cases:
                    return " | ".join(cases)
                test = tests.get(q["name"], {})
                return "" if test.get("score", 0) >= q["points"] else _message(test.get("output", ""))

            return every_task(lambda q: float(tests.get(q["name"], {}).get("score", 0)), feedback), "graded"
        outcomes = _records(record)

        def points_of(q):
            # Each case recorded as passed keeps its points: the self-check's, and the hidden test's one.
            return float(
                sum(_case_points(key) for key, (passed, _) in outcomes.items() if passed and key.startswith(q["name"] + "/"))
            )

        if timed_out:
            late = (
                f"not graded: the submission ran past the time limit of {time_limit:.0f} s "
                "before this task's self-check (an endless loop?)"
            )
            status = "time limit"
        else:
            late = f"not graded: otter run failed ({log.strip().splitlines()[-1][:200] if log.strip() else 'no output'})"
            status = "grader failed"

        def feedback_after_stop(q):
            cases = [value for key, value in outcomes.items() if key.startswith(q["name"] + "/")]
            if not cases:
                return late
            return " | ".join(message for passed, message in cases if not passed)

        return every_task(points_of, feedback_after_stop), status


def _case_points(key: str) -> int:
    """The points of a recorded test case, ``question/case``."""
    return POINTS if key.endswith("/self_check") else 1


def grade_folder(folder: Path, root: Path, chapter: str, out: Path, time_limit: float, jobs: int = 1) -> list[TaskResult]:
    """Grade every notebook of ``folder``, ``jobs`` at a time, and write ``grades.csv`` and ``summary.csv`` into ``out``."""
    from concurrent.futures import ThreadPoolExecutor

    submissions = sorted(folder.glob("*.ipynb"))
    if not submissions:
        raise FileNotFoundError(f"no *.ipynb in {folder}: put the submitted notebooks there.")
    _questions(root.resolve(), chapter)
    out.mkdir(parents=True, exist_ok=True)

    def timed(submission: Path):
        start = time.perf_counter()
        tasks, status = grade_submission(submission, root, chapter, time_limit)
        return tasks, status, time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = list(pool.map(timed, submissions))
    results, summary = [], []
    for submission, (tasks, status, seconds) in zip(submissions, graded):
        results += tasks
        points, possible = sum(t.points for t in tasks), sum(t.max_points for t in tasks)
        summary.append(
            {"student": submission.stem, "points": points, "max_points": possible, "status": status, "seconds": round(seconds, 1)}
        )
        print(f"{submission.stem}: {points:g} / {possible:g} ({status}, {seconds:.0f} s)")
    with (out / "grades.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "task", "points", "max_points", "feedback"])
        writer.writerows([[t.student, t.task, f"{t.points:g}", f"{t.max_points:g}", t.feedback] for t in results])
    with (out / "summary.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["student", "points", "max_points", "status", "seconds"])
        writer.writeheader()
        writer.writerows(summary)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools.grade", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder of submitted notebooks")
    parser.add_argument("--chapter", required=True, help="the exercise chapter, for example ex2-mnist-cnn")
    parser.add_argument("--out", type=Path, required=True, help="the folder for grades.csv and summary.csv")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: current folder)")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds one submission may run (default: 300)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once, one core each (default: 1)")
    args = parser.parse_args(argv)
    if not args.time_limit > 0:
        parser.error(f"--time-limit {args.time_limit:g} must be a positive number of seconds, such as 300.")
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs} must be 1 or more: the number of submissions graded at once.")
    if not (args.root / OTTER).is_file():
        parser.error(f"{args.root / OTTER} not found: run bash .ci/install, which sets up the grading environment.")
    try:
        grade_folder(args.folder, args.root, args.chapter, args.out, args.time_limit, args.jobs)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
