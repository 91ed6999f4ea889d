"""What crosses from a submission into the grader is data, checked: verdicts, file names, the book's own reference.

Each class of attack on the grading's data side, at the cheapest layer that
shows it (no kernel): a judge that prints what it should not, file names no
spreadsheet or terminal should see raw, a grader that fails on one
notebook, and an answer that is the reference the book's package ships. The
property-based forgeries of exports, graphs and verdicts are in
tests/tools/grading/test_judge_fuzz.py; the notebook-level attacks in
tests/notebooks/test_grading_hostile.py.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from bookpaths import ROOT
from booktools.grading import answers, grade

# The saliency chapter's first two tasks as its manifest has them (their references included), renamed q1 and q2.
MANIFEST = json.loads((ROOT / "grading" / "ex5-saliency" / "questions.json").read_text(encoding="utf-8"))
QUESTIONS = [{**question, "name": f"q{number}"} for number, question in enumerate(MANIFEST[:2], 1)]
SUBMISSION = grade.Submission(Path("ana.ipynb"), "ana")
RIGHT = '{"task": "q1", "passed": true, "hidden": null, "message": ""}\n'


def points(verdicts, exports=None) -> dict:
    run = grade.KernelRun(exports=exports or {}, own_checks={"q1": None, "q2": None})
    return {t.task: (t.points, t.feedback) for t in grade.task_results(SUBMISSION, QUESTIONS, run, verdicts)}


# ----------------------------------------------------------------------------------------------
# The judge's verdicts: an exact form, or nothing of that output is believed


@pytest.mark.parametrize(
    "forged",
    [
        '{"task": "q2", "passed": "yes", "hidden": null, "message": ""}',  # a truthy string for true
        '{"task": "q2", "passed": true, "hidden": null, "message": "", "points": 99}',  # a key too many
        '{"task": "q2", "passed": true, "hidden": null}',  # a key missing
        '{"task": "q2", "passed": true, "hidden": null, "message": ["a", "list"]}',
        '{"task": "q9", "passed": true, "hidden": null, "message": ""}',  # a task nobody asked about
        '{"task": "q1", "passed": false, "hidden": null, "message": ""}',  # a second verdict on q1
        '["q2", true]',
        "not json at all",
        "[" * 100_000,  # deep enough to exhaust a recursive parser
    ],
)
def test_a_verdict_outside_the_form_gives_the_whole_notebook_nothing_and_says_why(forged):
    verdicts = grade.parse_verdicts(RIGHT + forged + "\n", ["q1", "q2"])
    assert set(verdicts) == {"q1", "q2"} and not any(v["passed"] for v in verdicts.values())
    got = points(verdicts)
    assert got["q1"][0] == got["q2"][0] == 0
    assert got["q1"][1].startswith("not graded: the grader refused what its judge answered on this notebook (")


def test_a_missing_or_cut_off_verdict_earns_nothing_and_a_right_one_counts():
    verdicts = grade.parse_verdicts(RIGHT + '{"task": "q2", "passed": tr', ["q1", "q2"], "not graded: the judge was stopped")
    assert points(verdicts) == {"q1": (2, ""), "q2": (0, "not graded: the judge was stopped")}
    assert QUESTIONS[0]["points"] == 2 and QUESTIONS[1]["points"] == 2


def test_an_answer_exported_for_another_self_check_earns_nothing():
    # The judge judged what the export named; the grader asked about the task's own self-check.
    verdicts = grade.parse_verdicts(RIGHT, ["q1"])
    export = {"check": "check_conv_layer", "arguments": [], "extra": {}, "tensors": {}, "uses": []}
    assert points(verdicts, {"q1": export})["q1"] == (
        0,
        "not graded: this answer was exported for another self-check (check_conv_layer)",
    )


# ----------------------------------------------------------------------------------------------
# Names: readable, reversible, never raw control characters; one failing notebook never costs the others their rows

HOSTILE_NAMES = [
    b"caf\xe9 (latin-1, as old zip tools write).ipynb",  # not UTF-8
    b"\x1b[2J\x1b[31mred\x07.ipynb",  # a terminal's escape sequences and its bell
    b"line\nbreak\rreturn.ipynb",
    "\u202egnp.exe\u202c-mirrored.ipynb".encode(),  # a right-to-left override
    b"back\\slash.ipynb",
    b"=HYPERLINK(1).ipynb",
    "José.ipynb".encode(),
    b"crash.ipynb",  # the grader fails on this one
]


def printable(text: str) -> bool:
    return all(c.isprintable() for c in text)


def test_any_file_name_survives_into_every_file_readable_and_reversible(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in HOSTILE_NAMES:
        with open(os.path.join(os.fsencode(folder), name), "w") as file:
            file.write("{}")

    def fake(submission, root, chapter, time_limit, data_root, limits, use_sandbox, slot):
        if submission.path.name == "crash.ipynb":
            raise KeyError("a grader bug on this notebook alone")
        run = grade.KernelRun(own_checks={"q1": "SelfCheckError: \x1b[31mred\x1b[0m\nsecond line", "q2": None})
        return grade.task_results(submission, QUESTIONS, run, grade.parse_verdicts(RIGHT, ["q1", "q2"])), "graded"

    monkeypatch.setattr(grade, "grade_submission", fake)
    monkeypatch.setattr(grade, "prepare_sample", lambda: tmp_path)
    monkeypatch.setattr(grade, "_questions", lambda root, chapter: QUESTIONS)
    grade.grade_folder(folder, ROOT, "ex5-saliency", tmp_path / "out", time_limit=10, jobs=2)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["canvas.csv", "grades.csv", "moodle.csv", "report.html", "summary.csv"]
    with (out / "summary.csv").open(encoding="utf-8", newline="") as file:
        summary = list(csv.DictReader(file))
    files = [row["file"].removeprefix("'") for row in summary]
    assert sorted(grade.name_bytes(name) for name in files) == sorted(HOSTILE_NAMES), "every name comes back to its bytes"
    for name in ("grades.csv", "summary.csv", "canvas.csv", "moodle.csv", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert printable(text.replace("\r\n", "").replace("\n", "")), f"{name} holds a control character"
    crashed = next(row for row in summary if row["file"] == "crash.ipynb")
    assert crashed["status"] == "error" and crashed["points"] == "0"
    with (out / "grades.csv").open(encoding="utf-8", newline="") as file:
        grades = list(csv.DictReader(file))
    assert len(grades) == 2 * len(HOSTILE_NAMES)
    crash = "not graded: the grader failed on this notebook (KeyError: 'a grader bug on this notebook alone')"
    assert {row["feedback"] for row in grades if row["file"] == "crash.ipynb"} == {f"{crash}; grade it again, or by hand"}
    assert "not graded: the grader failed on it" in (out / "report.html").read_text(encoding="utf-8")
    terminal = capsys.readouterr()
    assert "\x1b" not in terminal.out + terminal.err and "\\x1b[2J\\x1b[31mred\\x07" in terminal.out
    assert all(printable(line) for line in terminal.out.splitlines())


def test_a_name_in_the_csv_is_the_readable_form_and_nothing_raw_reaches_a_cell(tmp_path):
    grade._write_csv(tmp_path / "x.csv", ["a"], [["bell\x07 \x1b[31m"], ["=1+1\u202e"]])
    assert (tmp_path / "x.csv").read_bytes() == b"a\r\nbell\\x07 \\x1b[31m\r\n'=1+1\\u202e\r\n"


# ----------------------------------------------------------------------------------------------
# The book's reference is not the student's work

PRELUDE = "import torch\nimport torch.nn as nn\nfrom cnnlab import saliency, models\n"


def exported(source: str, call: str) -> dict:
    """Run ``source`` as a notebook cell would (its code in a file of the kernel's), then export ``call``'s answers."""
    namespace: dict = {}
    exec(compile(PRELUDE + source, "/tmp/ipykernel_1/cell.py", "exec"), namespace)  # noqa: S102 - the tests' own code
    return json.loads(answers.export(call, namespace))


INPUT_GRADIENT = "checks.check_input_gradient(input_gradient)"


@pytest.mark.parametrize(
    "source",
    [
        "input_gradient = saliency.input_gradient",
        "from cnnlab.saliency import input_gradient as reference\n\n"
        "def input_gradient(model, images, target):\n    return reference(model, images, target)\n",
        "import functools\ninput_gradient = functools.partial(saliency.input_gradient, absolute=True)",
        "input_gradient = lambda model, images, target: saliency.gradient_times_input(model, images, target).abs()",
    ],
    ids=["is", "calls under another name", "wraps", "calls another of the task's references"],
)
def test_an_answer_that_is_or_calls_the_shipped_reference_earns_nothing_and_is_listed(source):
    document = exported(source, INPUT_GRADIENT)
    answers.check_export(document)
    verdicts = grade.parse_verdicts(RIGHT, ["q1"])
    run = grade.KernelRun(exports={"q1": document}, own_checks={"q1": None, "q2": None})
    first = grade.task_results(SUBMISSION, QUESTIONS, run, verdicts)[0]
    assert first.points == 0 and first.reused.startswith("cnnlab.saliency.")
    assert first.feedback.startswith("no points: this answer is, or calls, the reference that the book's package ships")
    from booktools.grading import class_report

    page = class_report.report_html("ex5-saliency", [["ana", "ana.ipynb", "0", "5", "graded", 1, "bubblewrap"]], [first], "now")
    assert "Answers that reuse the book's reference" in page and f"<td>{first.reused}</td>" in page


def test_a_subclass_of_the_reference_is_found_and_own_work_is_not():
    subclass = exported("class MNISTModel(models.MNISTModel):\n    pass\n", "checks.check_network(MNISTModel)")
    assert "cnnlab.models.MNISTModel" in subclass["uses"]
    own = (
        "def input_gradient(model, images, target):\n"
        "    model.eval()\n    images = images.clone().requires_grad_(True)\n"
        "    scores = model(images)\n    picked = scores[torch.arange(len(images)), target].sum()\n"
        "    picked.backward()\n    return images.grad.abs()\n"
    )
    document = exported(own, INPUT_GRADIENT)
    # The self-check computes its expected map with the reference itself: that call is not the student's.
    assert not grade.reused_reference(QUESTIONS[0], document), document["uses"]


def test_what_reuse_the_grader_sees_is_only_what_the_kernel_reports():
    # The export is the kernel's word: a forger can leave ``uses`` empty. The grader says so in the README and
    # report.html; here, that an export claiming nothing is judged on its merits, and one claiming reuse is refused.
    clean = {"check": "check_input_gradient", "arguments": [], "extra": {}, "tensors": {}, "uses": []}
    assert grade.reused_reference(QUESTIONS[0], clean) == []
    assert grade.reused_reference(QUESTIONS[0], {**clean, "uses": ["cnnlab.checks.ex5._anything"]}) == [
        "cnnlab.checks.ex5._anything"
    ]
    with pytest.raises(answers.TransportError, match="what the answer uses of cnnlab"):
        answers.check_export({**clean, "uses": ["os.system"]})


def test_every_manifest_names_the_references_of_each_task():
    # The exercise chapters' answers named like a function or class the package ships are references of their task.
    for manifest in sorted((ROOT / "grading").glob("*/questions.json")):
        for question in json.loads(manifest.read_text(encoding="utf-8")):
            assert "cnnlab.checks" in question["references"], manifest
    ex5 = {q["check"]: q for q in json.loads((ROOT / "grading" / "ex5-saliency" / "questions.json").read_text())}
    assert "cnnlab.saliency.input_gradient" in ex5["check_input_gradient"]["references"]
    assert "cnnlab.saliency.patch_masks" not in ex5["check_occlusion"]["references"], "the chapter gives it as a helper"
