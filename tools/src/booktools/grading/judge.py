"""Judge a submission's exported answers in a process that never ran the student's code.

::

    python -m booktools.grading.judge < answers.jsonl > verdicts.jsonl

Each input line is one task: ``{"task": ..., "answers": <what booktools.grading.answers.export wrote>}``.
This process imports ``cnnlab.checks`` before it reads anything, checks the
form of each export strictly and rebuilds the answers as data
(:func:`booktools.grading.answers.decode`: no student code runs here, and nothing a
submission shaped is called but the exact functions the interpreter allows),
and calls the task's pristine self-check on them, one of
``cnnlab.checks.__all__``. Each output line is
``{"task": ..., "passed": ..., "hidden": ..., "message": ...}``: ``hidden``
is the verdict of the task's hidden test (``cnnlab.checks.HIDDEN_TESTS``,
beside the chapter's self-checks), or null when it has none. An export that
breaks a rule is refused with a message, and earns nothing.

The trust boundary: the grader (:mod:`booktools.grading.grade`) trusts no export and
no output of this process as code, only as data. It runs this command in a
sandbox of its own, reading the answers on standard input and writing
verdicts on standard output, and checks every verdict line strictly (exact
keys and types, one per task it asked about): anything else gives that
submission's tasks no points, with a message. The allowlist interpreter is
what keeps a forged export from steering this process; the sandbox stays as
defence in depth, so that a hole in it would reach neither the grader's
files nor any other submission.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from booktools import cli
from booktools.grading import answers
from cnnlab import checks, train
from cnnlab.checks.common import Passed

__all__ = ["SPECIAL", "judge", "main"]


def _judge_train_epoch(train_epoch) -> str | None:
    """Why the student's train_epoch did not train the scenario's network as the reference does, or None."""
    reference = answers.train_epoch_scenario()
    expected = train.train_one_epoch(*reference, progress=False)  # the loop the chapter teaches
    scenario = answers.train_epoch_scenario()
    losses = train_epoch(*scenario)
    if not (isinstance(losses, list) and len(losses) == len(expected) and all(isinstance(v, float) for v in losses)):
        return "train_epoch does not return one float loss per batch"
    if not np.allclose(losses, expected, atol=1e-5):
        return "train_epoch's losses are not those of the reference training loop"
    for (name, mine), theirs in zip(reference[0].state_dict().items(), scenario[0].state_dict().values()):
        if not torch.allclose(mine.float(), theirs.float(), atol=1e-5):
            return f"after train_epoch the network's {name} differs from the reference training loop's"
    return None


# Self-checks that watch the student's function from inside: judged by a plain call against a reference.
SPECIAL = {"check_train_epoch": _judge_train_epoch}


def judge(document: dict) -> dict:
    """The verdict on one task's exported answers."""
    verdict = {"passed": False, "hidden": None, "message": ""}
    try:
        check, arguments, extra = answers.decode(document)
        if check in SPECIAL:
            problem = SPECIAL[check](*arguments)
            verdict.update(passed=problem is None, message=problem or "")
        else:
            function = getattr(checks, check, None) if check in checks.__all__ else None
            if not (check.startswith("check_") and callable(function)):
                raise answers.TransportError(f"{check!r} is not a self-check")
            result = function(*arguments)
            verdict["passed"] = isinstance(result, Passed)
        if check in checks.HIDDEN_TESTS:
            hidden = checks.HIDDEN_TESTS[check]
            problem = hidden.test(extra.get(hidden.variable))
            verdict["hidden"] = problem is None
            verdict["message"] = verdict["message"] or (problem or "")
    except checks.SelfCheckError as error:
        verdict["message"] = str(error)
    except answers.TransportError as error:
        verdict["message"] = f"the grader refused this answer: {str(error)[:300]}"
    except answers.ReplayMiss as error:
        verdict["message"] = f"the grader could not reproduce this answer: {error}"
    except Exception as error:  # noqa: BLE001 - an answer the judge cannot rebuild earns nothing
        verdict["message"] = f"the grader could not judge this answer ({type(error).__name__}: {str(error)[:200]})"
    return verdict


USAGE = (
    "python -m booktools.grading.judge",
    "Judge exported answers (JSON lines on standard input) with pristine self-checks.",
    "python -m booktools.grading.judge < answers.jsonl > verdicts.jsonl",
)


def main(argv: list[str] | None = None) -> int:
    cli.parser(*USAGE).parse_args(argv)
    torch.set_num_threads(1)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            task, document = str(item["task"]), item["answers"]
        except (ValueError, KeyError, TypeError) as error:
            print(json.dumps({"task": None, "passed": False, "hidden": None, "message": f"unreadable: {error}"}))
            continue
        print(json.dumps({"task": task, **judge(document)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
