"""ex2-mnist-cnn-q4: the self-check checks.check_predict(predict), run in the submission's namespace."""

import json
import os

from otter.test_files import test_case

OK_FORMAT = False

name = 'ex2-mnist-cnn-q4'
points = 3


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
    _run('self_check', 'checks.check_predict(predict)', env)


@test_case(points=1, hidden=True)
def hidden_check(env):
    _run('hidden_check', "import numpy as np\ny_true, y_pred = predict(model, test_loader, device)\nassert y_pred is not None and np.shape(y_true) == np.shape(y_pred), 'hidden test: predict must return y_true and y_pred, one label per test image each'\nshare = float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))\nassert share > 0.5, f'hidden test: the trained network predicts {share:.0%} of the test digits: training did not work'", env)
