"""The Exercise 1 class graded in one command: hostile, broken and honest notebooks side by side.

One grading command (``--jobs 2``) grades a folder of Exercise 1 notebooks:
blank student notebooks each carrying one attack, one notebook per class of
attack (tampering with the self-checks, forging the grader's records or
exports, writing outside the submission, reading the other submissions,
killing or outliving the grader, memory, a flood of output, output hygiene,
links handed in for notebooks); broken ones (a crash at the imports, an endless
loop after task 2 that also forges an answer and leaves a child holding the
pipe, not a notebook, cells moved and deleted); and honest work: the answer
key saved with another kernelspec, the blank notebook under a name that is not
UTF-8, a partial submission that must lose the points of its task and of no
other. Then every attack must have earned nothing, the honest work what it
earned, and the repository, the other submissions and the output folder must
be as they were; the partial submission is graded once more on Gradescope's
layout, to the same points and feedback.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bookpaths import ROOT
from booktools.grading import autograder, grade
from grading_runs import PARTIALS, check_blank_solved_and_partials, graded_as_on_gradescope, questions, solved, with_mistake

pytestmark = pytest.mark.notebooks

CHAPTER = "ex1-conv-pool"
MIME = grade.MIME

FORGED_EXPORT = (
    "import json\n"
    "from IPython.display import display\n"
    "forged = {'check': 'check_conv_layer', 'arguments': [{'kind': 'plain', 'value': None}], 'extra': {}, 'tensors': {},\n"
    "          'uses': []}\n"
)


def shown_right_answer(check: str, layer: str) -> str:
    """Code that displays a right answer to ``check``, encoded as the grader's export would be, outside its cell."""
    return (
        "import json, sys\nfrom IPython.display import display\nsys.path.insert(0, '/grading')\nimport answers\n"
        "encoder = answers._Encoder()\n"
        f"right = {{'check': {check!r}, 'arguments': [encoder.value({layer})], 'extra': {{}},\n"
        "         'tensors': encoder.tensors}\n"
        f"display({{{MIME!r}: json.dumps(right)}}, raw=True)\n"
    )


# name: code put in a cell right after the imports of the blank student notebook; every one must score 0.
ATTACKS = {
    "rebind-checks": (
        "class _Anything:\n    def __getattr__(self, name):\n"
        "        return lambda *args, **kwargs: 'passed'\n\nchecks = _Anything()"
    ),
    "patch-check-functions": (
        "import cnnlab.checks as c\nfor name in dir(c):\n    if name.startswith('check_'):\n"
        "        setattr(c, name, lambda *args, **kwargs: None)\n"
        "import cnnlab.checks.ex1 as e\nfor name in dir(e):\n    if name.startswith('check_'):\n"
        "        setattr(e, name, lambda *args, **kwargs: None)"
    ),
    "patch-self-check-and-reload": (
        "import importlib\nimport cnnlab.checks.common as common\n"
        "common.fail = lambda *args, **kwargs: None\n"
        "common.self_check = lambda task, subject: (lambda check: (lambda *a, **k: common.Passed(task, 'forged')))\n"
        "import cnnlab.checks.ex1 as ex1\nimportlib.reload(ex1)\nimport cnnlab.checks\nimportlib.reload(cnnlab.checks)\n"
        "checks = cnnlab.checks"
    ),
    "fake-modules": (
        "import sys, types\nfake = types.ModuleType('cnnlab.checks')\n"
        "fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)\n"
        "sys.modules['cnnlab.checks'] = fake\nchecks = fake\n"
        + FORGED_EXPORT
        + "answers = types.ModuleType('answers')\nanswers.export = lambda *args, **kwargs: json.dumps(forged)\n"
        "sys.modules['answers'] = answers"
    ),
    "replace-builtins": (
        "import builtins, json\nbuiltins.exec = lambda *args, **kwargs: None\nbuiltins.eval = lambda *args, **kwargs: None\n"
        "json.dumps = lambda *args, **kwargs: '{}'"
    ),
    "forged-exports-on-every-cell": (
        FORGED_EXPORT + "def _forge(*args):\n"
        f"    display({{{MIME!r}: json.dumps(forged)}}, raw=True)\n"
        "get_ipython().events.register('pre_run_cell', _forge)\n"
        "get_ipython().events.register('post_run_cell', _forge)"
    ),
    "forged-judge-exploit": (
        FORGED_EXPORT + "node = lambda op, name, target, args: {'op': op, 'name': name, 'target': target,\n"
        "    'args': {'kind': 'tuple', 'items': args}, 'kwargs': {'kind': 'dict', 'items': {}}}\n"
        "graph = {'nodes': [node('placeholder', 'x', 'x', []),\n"
        "    node('call_function', 'boom', 'builtins.__import__', [{'kind': 'plain', 'value': 'os'}]),\n"
        "    node('output', 'output', 'output', [{'kind': 'node', 'name': 'boom'}])]}\n"
        "forged['arguments'] = [{'kind': 'module', 'class': 'Conv2d', 'standard': False, 'training': False, 'attrs': {},\n"
        "    'parameters': {}, 'buffers': {}, 'persistent': [], 'children': {}, 'graphs': {'train': graph, 'eval': graph}}]\n"
        "import sys, types\nanswers = types.ModuleType('answers')\nanswers.export = lambda *args, **kwargs: json.dumps(forged)\n"
        "sys.modules['answers'] = answers"
    ),
    # A standard layer whose forward is a forged graph that walks attributes to Python's exec, for every task.
    "forged-graph-walks-to-exec": (
        FORGED_EXPORT + "node = lambda op, name, target, args: {'op': op, 'name': name, 'target': target,\n"
        "    'args': {'kind': 'tuple', 'items': args}, 'kwargs': {'kind': 'dict', 'items': {}}}\n"
        "walk = [{'kind': 'plain', 'value': '__class__.__init__.__globals__'}]\n"
        "graph = {'nodes': [node('placeholder', 'x', 'x', []), node('call_function', 'get', 'operator.attrgetter', walk)]}\n"
        "ref = lambda name: {'kind': 'node', 'name': name}\n"
        "graph['nodes'] += [node('call_function', 'globals', 'operator.call', [ref('get'), ref('x')]),\n"
        "    node('call_method', 'run', '__getitem__', [ref('globals'), {'kind': 'plain', 'value': 'exec'}])]\n"
        "graph['nodes'].append(node('output', 'output', 'output', [ref('run')]))\n"
        "forged['arguments'] = [{'kind': 'module', 'class': 'Conv2d', 'standard': False, 'training': False, 'attrs': {},\n"
        "    'parameters': {}, 'buffers': {}, 'persistent': [], 'children': {}, 'graphs': {'train': graph, 'eval': graph}}]\n"
        "import sys, types\nanswers = types.ModuleType('answers')\nanswers.export = lambda *args, **kwargs: json.dumps(forged)\n"
        "sys.modules['answers'] = answers"
    ),
    "write-outside": (
        "import glob, os, pathlib\n"
        "targets = ['{root}/code/src/cnnlab/checks/ex1.py', '{root}/grading/ex1-conv-pool/questions.json',\n"
        "           '{root}/README.md', '/tmp/hostile-was-here', os.path.expanduser('~/hostile-was-here')]\n"
        "for target in targets:\n"
        "    try:\n        pathlib.Path(target).write_text('# hostile')\n    except OSError:\n        pass\n"
        "for pattern in ['{root}/grading/*/tests/*.py', '{root}/book/*.md', '{submissions}/*']:\n"
        "    for path in glob.glob(pattern):\n"
        "        try:\n            os.remove(path)\n        except OSError:\n            pass\n"
        "os.makedirs('{out}/grades.csv', exist_ok=True)"
    ),
    "copy-another-submission": (
        "import glob, json, os\nfound = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n        found.append(open(f'/proc/{pid}/cmdline').read())\n    except OSError:\n        pass\n"
        "paths = glob.glob('/tmp/**/*.ipynb', recursive=True) + glob.glob('{submissions}/*.ipynb')\n"
        "paths += [p for line in found for p in line.split('\\0') if p.endswith('.ipynb')]\n"
        "for path in paths:\n"
        "    try:\n        solved = json.load(open(path))\n    except (OSError, ValueError):\n        continue\n"
        "    for cell in solved['cells']:\n"
        "        if cell['cell_type'] == 'code' and '# ✎' in ''.join(cell['source']):\n"
        "            get_ipython().run_cell(''.join(cell['source']))"
    ),
    "kill-the-grader": (
        "import os, signal\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() and int(pid) != os.getpid():\n"
        "        try:\n            os.kill(int(pid), signal.SIGKILL)\n        except OSError:\n            pass\n"
        "try:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass\nos.killpg(0, signal.SIGKILL)"
    ),
    "detached-process": (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '4242'], start_new_session=True, stdout=None, stderr=None)\n"
        "subprocess.Popen('nohup sleep 4243 &', shell=True)"
    ),
    "leak-the-environment": (
        "import os\nfrom cnnlab.checks.common import SelfCheckError\n"
        "secrets = ' '.join(f'{k}={v}' for k, v in os.environ.items())\n"
        "for path in ['{root}/README.md', '/etc/hostname']:\n"
        "    try:\n        secrets += open(path).read()[:200]\n    except OSError:\n        pass\n"
        "raise SelfCheckError(secrets)"
    ),
    "forged-then-exit": (shown_right_answer("check_conv_layer", "nn.Conv2d(3, 2, 3)") + "import os\nos._exit(0)"),
    # What no setrlimit bounds: the grader's own memory, through the output it keeps, and the sum of many processes.
    "flood-the-output": "while True:\n    print('x' * 100_000)",
    "memory-across-processes": (
        "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        block = bytearray(1 << 30)\n"
        "        time.sleep(600)\ntime.sleep(600)"
    ),
    # Processes left behind, up to the process limit, ignoring SIGTERM, in sessions of their own: the next notebook
    # graded as this user must find none of them.
    "fork-bomb-left-behind": (
        "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nfor _ in range(100_000):\n"
        "    try:\n        if os.fork() == 0:\n            os.setsid()\n            time.sleep(600)\n            os._exit(0)\n"
        "    except OSError:\n        break"
    ),
    # Memory no process holds: in-memory files (refused), shared memory in /dev/shm and /tmp (each bounded, and counted).
    "memory-outside-the-processes": (
        "import os\nfor folder in ('/dev/shm', '/tmp'):\n    try:\n        with open(f'{folder}/fill', 'wb') as file:\n"
        "            for _ in range(2048):\n                file.write(b'x' * (1 << 20))\n    except OSError:\n        pass\n"
        "held = []\nfor _ in range(100):\n    try:\n        held.append(os.memfd_create('held'))\n    except OSError:\n"
        "        break\nassert not held, 'an in-memory file was made'"
    ),
    # Feedback that would run in the instructor's browser if report.html did not escape it.
    "script-in-the-feedback": (
        "class _Html:\n    def __getattr__(self, name):\n        def check(*args, **kwargs):\n"
        "            raise RuntimeError('<script>alert(1)</script><img src=x onerror=alert(2)>')\n"
        "        return check\n\nchecks = _Html()"
    ),
}


def blank() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)


def with_cell_after_imports(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    at = next(i for i, cell in enumerate(notebook.cells) if "from cnnlab import checks" in cell.source)
    notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
    return notebook


def fingerprint(folder: Path) -> dict[str, str]:
    """A hash of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def repository_fingerprint() -> dict[str, str]:
    """A hash of every file git tracks or would add; the other tests' ignored build outputs change beside this one."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest() if (ROOT / name).is_file() else "missing"
        for name in listed.split("\0")
        if name
    }


def leftover(pattern: str) -> str:
    return subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.strip()


@pytest.mark.slow(
    "grades 29 hostile, broken or honest Exercise 1 notebooks, each in its own sandbox, and one again on Gradescope's layout"
)
def test_hostile_submissions_earn_nothing_and_reach_nothing_and_the_rest_are_graded(tmp_path):
    folder, out = tmp_path / "submissions", tmp_path / "grades"
    folder.mkdir()
    fill = {"{root}": str(ROOT), "{submissions}": str(folder), "{out}": str(out)}
    for name, code in ATTACKS.items():
        for placeholder, value in fill.items():
            code = code.replace(placeholder, value)
        nbformat.write(with_cell_after_imports(blank(), code), folder / f"{name}.ipynb")
    # Honest work, saved with another kernelspec, runs in the grading kernel all the same. (Odd file names, two
    # spellings of one name and the CSVs' safety are tested without a kernel, in tests/tools/grading/test_grade_command.py.)
    conda = solved(CHAPTER)
    conda.metadata["kernelspec"] = {"name": "conda-env-cnn-py", "display_name": "Python [conda env:cnn]", "language": "python"}
    nbformat.write(conda, folder / "solved.ipynb")
    # A name that is not UTF-8 (an old zip tool's Latin-1), with a terminal's escape sequence: graded, and written.
    nbformat.write(blank(), folder / os.fsdecode(b"caf\xe9\x1b[31m.ipynb"))
    # Can the memory limit (3 GiB of data per process) be passed? If so, the notebook loses every point.
    hog = with_cell_after_imports(
        solved(CHAPTER), "try:\n    hog = bytearray(6 << 30)\nexcept MemoryError:\n    pass\nelse:\n    checks = None"
    )
    nbformat.write(hog, folder / "memory-hog.ipynb")
    # Handed in as links: to the answer key, and to a pipe that would keep a reader waiting for ever.
    (folder / "link-to-the-answer-key.ipynb").symlink_to(ROOT / autograder.GRADING_DIR / CHAPTER / autograder.SOLUTION)
    os.mkfifo(tmp_path / "pipe")
    (folder / "link-to-a-pipe.ipynb").symlink_to(tmp_path / "pipe")
    (folder / "notes.txt").write_text("not a notebook")
    # Partial: one mistake of the mutation suite. Broken: a crash at the imports, not a notebook, cells moved and deleted,
    # and an endless loop after task 2 that first shows a forged right answer to task 3 and leaves a child holding the pipe.
    for id, (_, old, new) in PARTIALS[CHAPTER].items():
        nbformat.write(with_mistake(CHAPTER, old, new), folder / f"{id.replace(' ', '-')}.ipynb")
    crash = with_mistake(CHAPTER, "import torch\n", "import a_module_that_does_not_exist\nimport torch\n")
    nbformat.write(crash, folder / "crash.ipynb")
    (folder / "not-a-notebook.ipynb").write_text('{"cells": [')
    moved = solved(CHAPTER)
    first_check = next(cell for cell in moved.cells if "checks.check_conv_layer" in cell.source)
    moved.cells.remove(first_check)
    moved.cells.append(first_check)  # the task 1.1 check now runs last, on the padded layer
    moved.cells = [cell for cell in moved.cells if "checks.check_pool_3x3" not in cell.source]
    nbformat.write(moved, folder / "moved-and-deleted.ipynb")
    endless = solved(CHAPTER)
    after = next(i for i, cell in enumerate(endless.cells) if "checks.check_padded_conv_layer" in cell.source)
    # Endless but idle: the time limit is what is tested, so the loop leaves the other test worker its core.
    endless.cells.insert(
        after + 1,
        nbformat.v4.new_code_cell(
            shown_right_answer("check_pool_3x3", "nn.MaxPool2d(kernel_size=3, stride=1)")
            + "import subprocess, sys\nsubprocess.Popen(['sleep', '4244'], stdout=sys.__stdout__, stderr=sys.__stderr__,"
            " start_new_session=True)\nimport time\nwhile True:\n    time.sleep(0.1)"
        ),
    )
    nbformat.write(endless, folder / "endless.ipynb")
    repository, submissions = repository_fingerprint(), fingerprint(folder)
    secret = "grader-secret-7f3a"
    command = [
        sys.executable,
        "-m",
        "booktools",
        "grade",
        str(folder),
        "--chapter",
        CHAPTER,
        "--out",
        str(out),
        "--jobs",
        "2",
        "--time-limit",
        "30",
    ]
    grader = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "GRADER_SECRET": secret}
    )
    stdout, stderr = grader.communicate()
    process = subprocess.CompletedProcess(command, grader.returncode, stdout, stderr)
    assert process.returncode == 0, process.stdout + process.stderr
    if os.geteuid() == 0:  # every sandbox ran as a user of the grading command's own: none of their processes is left
        from booktools.grading import sandbox

        users = {str(sandbox.Slot(index, (), grader.pid).uid) for index in range(256)}
        left = []
        for entry in Path("/proc").iterdir():
            try:
                status = (entry / "status").read_text() if entry.name.isdigit() else ""
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if users & set(fields.get("Uid", "").split()) and not fields["State"].strip().startswith("Z"):
                left.append(entry.name)
        assert not left, f"processes of the sandboxes' users outlived the grading: {left}"

    assert repository_fingerprint() == repository, "a submission changed the repository"
    assert fingerprint(folder) == submissions, "a submission changed the submissions"
    assert not Path("/tmp/hostile-was-here").exists() and not (Path.home() / "hostile-was-here").exists()
    assert sorted(p.name for p in out.iterdir()) == ["canvas.csv", "grades.csv", "moodle.csv", "report.html", "summary.csv"]
    for pattern in ("sleep 4242", "sleep 4243", "sleep 4244"):
        assert not leftover(pattern), f"a process outlived the grading: {leftover(pattern)}"

    with (out / "summary.csv").open(encoding="utf-8") as file:
        summary = {row["file"].removeprefix("'"): row for row in csv.DictReader(file)}
    with (out / "grades.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    for name in ("grades.csv", "canvas.csv", "moodle.csv", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert secret not in text and "GRADER_SECRET" not in text and str(ROOT) not in text, name
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" in (out / "grades.csv").read_text(encoding="utf-8"), "the attack's feedback is gone"
    assert "<script" not in report and "<img src=x" not in report
    for name in ATTACKS:
        assert summary[f"{name}.ipynb"]["points"] == "0", f"{name}: {summary[f'{name}.ipynb']}"
    for name in ("solved.ipynb", "memory-hog.ipynb"):
        assert summary[name]["points"] == "8" and summary[name]["max_points"] == "8", f"{name}: {summary[name]}"
    latin = summary["caf\\xe9\\x1b[31m.ipynb"]
    assert latin["points"] == "0" and latin["status"] == "graded" and latin["student"] == "caf\\xe9\\x1b[31m", latin
    assert "\x1b" not in process.stdout + process.stderr
    assert all(row["sandbox"] == "bubblewrap" for row in summary.values())
    assert all(float(row["points"]) <= float(row["max_points"]) for row in rows)
    assert summary["flood-the-output.ipynb"]["status"] == "output limit"
    assert summary["memory-across-processes.ipynb"]["status"] == "memory limit"
    assert not leftover("time.sleep\\(600\\)"), "a process of memory-across-processes outlived its sandbox"
    for name in ("link-to-the-answer-key.ipynb", "link-to-a-pipe.ipynb"):
        assert summary[name]["points"] == "0" and summary[name]["status"] == "unreadable", f"{name}: {summary[name]}"
    assert "skipped 'notes.txt': not an .ipynb file" in process.stderr

    # The honest and broken work: what each earned, and why not more.
    grades = {(row["student"], row["task"]): row for row in rows}
    by_student = {row["student"]: row for row in summary.values()}
    check_blank_solved_and_partials(CHAPTER, grades, by_student, blank=latin["student"])
    names = [task["name"] for task in questions(CHAPTER)]
    assert summary["crash.ipynb"]["status"] == "graded"
    for name in names:
        assert grades["crash", name]["points"] == "0"
        assert grades["crash", name]["feedback"] == "NameError: name 'checks' is not defined"
    assert summary["endless.ipynb"]["status"] == "time limit" and float(summary["endless.ipynb"]["seconds"]) < 30 + 60
    assert [grades["endless", name]["points"] for name in names] == ["2", "2", "0", "0"], (
        "tasks graded before the loop keep their points, and the forged answer to task 3 earns none"
    )
    assert grades["endless", names[2]]["feedback"].startswith("not graded: the submission ran past the time limit of 30 s")
    assert summary["not-a-notebook.ipynb"]["status"] == "unreadable"
    for name in names:
        feedback = grades["not-a-notebook", name]["feedback"]
        assert grades["not-a-notebook", name]["points"] == "0" and "not-a-notebook.ipynb is not a readable notebook" in feedback
    # A self-check cell deleted: its task is graded at the end, on the notebook's last state.
    assert [grades["moved-and-deleted", name]["points"] for name in names] == ["0", "2", "0", "2"]
    assert "Task 1.1:" in grades["moved-and-deleted", names[0]]["feedback"]
    assert "Task 1.2.1:" in grades["moved-and-deleted", names[2]]["feedback"]

    # The chapter's Gradescope autograder gives the partial submission the same points and feedback as the command.
    document = graded_as_on_gradescope(CHAPTER, folder / "padding-2.ipynb", tmp_path / "gradescope")
    assert {test["name"]: (f"{test['score']:g}", test["output"]) for test in document["tests"]} == {
        name: (grades["padding-2", name]["points"], grades["padding-2", name]["feedback"]) for name in names
    }
    assert f"{document['score']:g}" == summary["padding-2.ipynb"]["points"] == "6"
