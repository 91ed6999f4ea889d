"""The autograders are generated from the chapters, one question per self-check, and kept up to date."""

import json

from bookpaths import ROOT
from booktools import autograder


def test_the_autograders_are_up_to_date_and_ask_every_self_check():
    assert autograder.write_autograders(ROOT, check=True) == [], "run python -m booktools.autograder"
    for chapter in autograder.exercise_chapters(ROOT):
        manifest = ROOT / autograder.GRADING_DIR / chapter.stem / "questions.json"
        calls = [task["call"] for task in json.loads(manifest.read_text())]
        source = chapter.read_text(encoding="utf-8")
        assert calls and all(call in source for call in calls)
        assert len(calls) == source.count("checks.check_"), f"{chapter.name}: a self-check has no question"


def test_each_question_runs_its_self_check_and_exercise_2_hides_a_training_test():
    files = autograder.autograder_files(ROOT / "book" / "ex2-mnist-cnn.md", autograder.Book.from_config(ROOT))
    test = files["tests/ex2-mnist-cnn-q4.py"]
    assert "_run('self_check', 'checks.check_predict(predict)', env)" in test
    assert "@test_case(points=1, hidden=True)" in test and "training did not work" in test
    assert "hidden=True" not in files["tests/ex2-mnist-cnn-q1.py"]
    namespace: dict = {}
    exec(
        compile(
            files["tests/ex2-mnist-cnn-q1.py"].replace(
                "from otter.test_files import test_case", "test_case = lambda **k: (lambda f: f)"
            ),
            "q1",
            "exec",
        ),
        namespace,
    )
    env = {"checks": type("Checks", (), {"check_network": staticmethod(lambda model: model())})}
    namespace["self_check"]({**env, "MNISTModel": lambda: None})  # the call runs in a copy of the namespace
    failing = {**env, "MNISTModel": lambda: 1 / 0}
    try:
        namespace["self_check"](failing)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("a failing self-check did not fail the test")
