"""ex3-sequential-q1: the self-check checks.check_sequential_model(MNISTSequential), run in the submission's namespace."""

import json
import os

from otter.test_files import test_case

OK_FORMAT = False

name = 'ex3-sequential-q1'
points = 2


def _run(case, code, env):
    """Run ``code`` in a copy of the submission's namespace; record the outcome for a grader that stops early."""
    try:
        exec(code, dict(env))
    except Exception as error:
        _record(case, False, f"{type(error).__name__}: {error}")
        raise
    _record(case, True, "")


def _record(case, passed, message):
    path = os.environ.get("CNNLAB_GRADING_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as record:
            record.write(json.dumps({"question": name, "case": case, "passed": passed, "message": message}) + "\n")


@test_case(points=2, hidden=False)
def self_check(env):
    _run('self_check', 'checks.check_sequential_model(MNISTSequential)', env)
