"""The self-checks of the going-further chapters, tried as students answer, in one process.

The answers are data, one file per chapter, ``tests/unit/answers/<chapter>.yml``
(the brain-tissue and the saliency chapters): each is the chapter's reference
answer (read from the chapter, :mod:`mutations`) with one change: right in
another way (must pass), a plain mistake, a blank left as it was, or an answer
that crashes. A wrong answer must raise
``SelfCheckError`` naming the task, what is wrong and the fix; nothing else
may escape. The grader's judge, which never runs the student's code, must
reach the same verdict with the same message from the answer exported as data
(:mod:`booktools.grading.answers`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from mutations import define, edit, expect, reference_answer

from booktools.grading import answers as exported
from booktools.grading import judge
from cnnlab import checks

# What the chapters' first cells import.
PRELUDE = """\
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab import saliency
"""
KINDS = ("right", "wrong", "blank", "crash")
ANSWERS = sorted((Path(__file__).parent / "answers").glob("*.yml"))


def answers(path: Path) -> list:
    """Every case of one data file, as the check, the student's source, the name it defines and the expected message."""
    cases = []
    for task in yaml.safe_load(path.read_text(encoding="utf-8")):
        reference = reference_answer(path.stem, task["reference"]["exercise"]) + task["reference"].get("code", "")
        for case in task["cases"]:
            assert case["kind"] in KINDS, case
            source = case.get("source") or edit(reference, *case.get("changes", []))
            check = getattr(checks, task["check"])
            cases.append(
                pytest.param(
                    check, source, task["name"], case["expected"], task["task"], id=f"{case['kind']}: {task['task']} {case['id']}"
                )
            )
    return cases


CASES = {path.stem: answers(path) for path in ANSWERS}


@pytest.mark.parametrize(("check", "source", "name", "expected", "task"), [case for cases in CASES.values() for case in cases])
def test_self_check(check, source, name, expected, task):
    expect(check, [define(PRELUDE, source, name)], expected, task=task)


@pytest.mark.parametrize("chapter", list(CASES))
def test_each_chapter_is_tried_with_every_kind_of_answer(chapter):
    counts = Counter(param.id.split(":")[0] for param in CASES[chapter])
    assert sum(counts.values()) >= 40 and set(counts) == set(KINDS), counts
    assert counts["right"] >= 10


# What the judge cannot see of these answers (the model's mode while the student's function ran, how many forward
# passes it made, a result it cannot carry as data): it still gives them no points, with a message of its own.
JUDGED_WITH_ANOTHER_MESSAGE = {
    "blank: 4.2 pool blank",
    "wrong: 4.2 skip cropped instead of padding",
    "wrong: 5.1 no eval",
    "wrong: 5.1 forward pass under no_grad",
    "wrong: 5.2 no eval",
    "wrong: 5.2 one pass per patch",
    "wrong: 5.3 no eval",
    "wrong: 5.4 layers as keys",
}


@pytest.mark.parametrize(("check", "source", "name", "expected", "task"), [case for cases in CASES.values() for case in cases])
def test_the_judge_agrees_with_the_self_check(check, source, name, expected, task, request):
    namespace = {"checks": checks}
    exec(PRELUDE + source, namespace)  # noqa: S102 - the suite's own answers
    verdict = judge.judge(json.loads(exported.export(f"checks.{check.__name__}({name})", namespace)))
    try:
        check(namespace[name])
        message = ""
    except checks.SelfCheckError as error:
        message = str(error)
    assert verdict["passed"] is (message == ""), verdict
    if request.node.callspec.id in JUDGED_WITH_ANOTHER_MESSAGE:
        assert message and verdict["message"] not in ("", message)
    else:
        assert verdict["message"] == message
