"""The brain-tissue chapter's self-checks, tried as students answer, in one process.

The answers are data, in ``tests/unit/answers/ex4-brain-tissue.yml``: each is
the chapter's reference answer (read from the chapter, :mod:`mutations`) with
one change: right in another way (must pass), a plain mistake, a blank left as
it was, or an answer that crashes. A wrong answer must raise
``SelfCheckError`` naming the task, what is wrong and the fix; nothing else
may escape.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from mutations import define, edit, expect, reference_answer

from cnnlab import checks

PRELUDE = """\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
"""
KINDS = ("right", "wrong", "blank", "crash")
ANSWERS = Path(__file__).parent / "answers" / "ex4-brain-tissue.yml"


def answers() -> list:
    """Every case of the data file, as the check, the student's source, the name it defines and the expected message."""
    cases = []
    for task in yaml.safe_load(ANSWERS.read_text(encoding="utf-8")):
        reference = reference_answer("ex4-brain-tissue", task["reference"]["exercise"]) + task["reference"].get("code", "")
        for case in task["cases"]:
            assert case["kind"] in KINDS, case
            source = case.get("source") or edit(reference, *case.get("changes", []))
            check = getattr(checks, task["check"])
            cases.append(
                pytest.param(check, source, task["name"], case["expected"], id=f"{case['kind']}: {task['task']} {case['id']}")
            )
    return cases


CASES = answers()


@pytest.mark.parametrize(("check", "source", "name", "expected"), CASES)
def test_self_check(check, source, name, expected):
    expect(check, [define(PRELUDE, source, name)], expected, task="4.")


def test_the_suite_covers_every_kind():
    counts = Counter(param.id.split(":")[0] for param in CASES)
    assert sum(counts.values()) >= 40 and set(counts) == set(KINDS), counts
    assert counts["right"] >= 10
