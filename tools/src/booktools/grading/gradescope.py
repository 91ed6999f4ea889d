"""Grade on Gradescope: a chapter's autograder as the zip Gradescope takes, and the entry point that runs inside it.

::

    python -m booktools grade --gradescope ex2-mnist-cnn --out dist/   # writes dist/ex2-mnist-cnn-gradescope.zip

Gradescope builds one image from the zip and grades every submission in a
fresh container of it, which suits classes of thousands. The zip is laid out
as Otter-Grader's Gradescope autograders are:

``setup.sh``
    run once, as root, when Gradescope builds the image: Debian's
    ``bubblewrap`` and ``util-linux``, a virtual environment
    ``/opt/cnnlab-grader`` with ``requirements.txt``, and the MNIST sample.
    It needs Python 3.11 or newer: choose Gradescope's Ubuntu 24.04 base image.
``run_autograder``
    run for each submission: ``python -m booktools gradescope /autograder``.
``requirements.txt``
    the pins of ``binder/requirements.txt`` (CPU-only torch) and of the
    grader's own dependencies; ``packages/code`` and ``packages/tools`` are
    ``cnnlab`` and ``booktools`` as they were when the zip was written.
``grading/<chapter>/questions.json`` and ``gradescope.json``
    the tasks, and the chapter, time limit and memory limit.

:func:`run` grades the notebook in ``/autograder/submission`` exactly as the
local command grades one (:func:`booktools.grading.grade.grade_submission`: the
student's kernel in a bubblewrap sandbox, a judge that never runs the
student's code) and writes ``/autograder/results/results.json``: one test per
task with its points, its maximum and the feedback, and the total, and
which barrier held (its output, and ``extra_data``'s ``barrier``).

Gradescope's containers are unprivileged Docker containers, whose default
seccomp profile refuses the namespaces bubblewrap needs. There the grader,
root in its container, uses the setpriv barrier
(:func:`booktools.grading.sandbox.barrier`): the student's kernel and the judge run
each as an unprivileged user of its own, under the same limits, seccomp
filter and watchdog, while the submission, the results and the autograder's
tasks are root's alone (mode 0700), and so are the container's shared
writable folders. Where no barrier can start, no student code runs: every
submission scores 0 and the output says why.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import zipfile
from pathlib import Path

from booktools import cli
from booktools.grading import sandbox
from booktools.grading.autograder import GRADING_DIR, MANIFEST, manifest_path

__all__ = ["CONFIG", "ENVIRONMENT", "results_document", "run", "write_zip", "zip_files"]

CONFIG = "gradescope.json"
ENVIRONMENT = "/opt/cnnlab-grader"

SETUP = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip bubblewrap util-linux
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "The grader needs Python 3.11 or newer: choose Gradescope's Ubuntu 24.04 base image." >&2
    exit 1
fi
python3 -m venv {ENVIRONMENT}
{ENVIRONMENT}/bin/python -m pip install -q -r requirements.txt
{ENVIRONMENT}/bin/python -m pip install -q --no-deps ./packages/code ./packages/tools
{ENVIRONMENT}/bin/python -m booktools gradescope --prepare /autograder
"""

RUN = f"""#!/usr/bin/env bash
# Gradescope runs this for every submission, in a fresh container; it writes /autograder/results/results.json.
set -uo pipefail
export PATH="{ENVIRONMENT}/bin:$PATH"
cd /autograder/source
exec python -m booktools gradescope /autograder
"""

# What the grader imports beyond the book's packages (reading the autograder, running and driving a kernel), pinned as
# the repository's requirements.txt pins them; the book's build tools (Jupyter Book, myst-nb) are left out.
_GRADER_PACKAGES = (
    "nbformat",
    "nbclient",
    "ipykernel",
    "myst-parser",
    "markdown-it-py",
    "mdit-py-plugins",
    "PyYAML",
    "sphinx",
)


def _requirements(root: Path) -> str:
    """binder/requirements.txt without the editable package, and the grader's pins from requirements.txt."""
    binder = [
        line
        for line in (root / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("./")
    ]
    pins = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip()
        if "==" in line and not line.startswith("#"):
            pins[name.lower()] = line.strip()
    grader = [pins[name.lower()] for name in _GRADER_PACKAGES if name.lower() in pins]
    return "\n".join(["# The book's pins, CPU-only torch (binder/requirements.txt)", *binder, "# The grader's", *grader]) + "\n"


def _package_files(folder: Path, prefix: str) -> dict[str, bytes]:
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part in ("__pycache__", "tests") or part.endswith(".egg-info") for part in relative.parts):
            files[f"{prefix}/{relative.as_posix()}"] = path.read_bytes()
    return files


def zip_files(root: Path, chapter: str, time_limit: float, memory_limit_gib: float) -> dict[str, bytes]:
    """Every file of the chapter's Gradescope autograder: path in the zip -> bytes."""
    manifest = manifest_path(root, chapter, "--gradescope")
    config = {"chapter": chapter, "time_limit": time_limit, "memory_limit_gib": memory_limit_gib}
    return {
        "setup.sh": SETUP.encode(),
        "run_autograder": RUN.encode(),
        "requirements.txt": _requirements(root).encode(),
        CONFIG: (json.dumps(config, indent=2) + "\n").encode(),
        f"{GRADING_DIR}/{chapter}/{MANIFEST}": manifest.read_bytes(),
        **_package_files(root / "code", "packages/code"),
        **_package_files(root / "tools", "packages/tools"),
    }


def write_zip(root: Path, chapter: str, out: Path, time_limit: float = 300, memory_limit_gib: float = 3) -> Path:
    """Write ``out/<chapter>-gradescope.zip``, the scripts executable; return its path."""
    files = zip_files(root.resolve(), chapter, time_limit, memory_limit_gib)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{chapter}-gradescope.zip"
    temporary = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = ((0o755 if name in ("setup.sh", "run_autograder") else 0o644) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(temporary, path)
    return path


def results_document(tasks: list, status: str, seconds: float, barrier: str | None = "bubblewrap") -> dict:
    """Gradescope's ``results.json`` for one graded submission: a test per task, the total, the status, the barrier."""
    held = {"bubblewrap": "a bubblewrap sandbox", "setpriv": "a user of its own (setpriv; no namespaces here)"}
    return {
        "score": sum(t.points for t in tasks),
        "execution_time": round(seconds, 1),
        "output": f"{sum(t.points for t in tasks):g} / {sum(t.max_points for t in tasks):g} points ({status}); "
        f"the notebook ran as {held.get(barrier or '', 'no barrier')}.",
        "extra_data": {"barrier": barrier or "none"},
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": t.task,
                "score": t.points,
                "max_score": t.max_points,
                "status": "passed" if t.points >= t.max_points else "failed",
                "output": t.feedback,
                "visibility": "visible",
            }
            for t in tasks
        ],
    }


def _failure(message: str) -> dict:
    return {"score": 0, "output": message, "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def _student(autograder: Path, notebook: Path) -> str:
    """The student's name from Gradescope's submission_metadata.json, else the notebook's file name."""
    try:
        users = json.loads((autograder / "submission_metadata.json").read_text(encoding="utf-8"))["users"]
        names = [str(user["name"]) for user in users if user.get("name")]
    except (OSError, ValueError, KeyError, TypeError):
        names = []
    return ", ".join(names) or notebook.name[: -len(".ipynb")]


def _prepare(autograder: Path) -> Path:
    """The MNIST sample in the autograder's own folder, which the sandboxes read."""
    from cnnlab import environment

    os.environ[environment.DATA_DIR] = str(autograder / "source" / "mnist")
    from booktools.grading.grade import prepare_sample

    return prepare_sample()


def run(autograder: Path) -> dict:
    """Grade the submission in ``autograder/submission`` and write ``autograder/results/results.json``."""
    from booktools.grading.grade import Submission, grade_submission

    start = time.perf_counter()
    source = autograder / "source"
    config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    notebooks = sorted(p for p in (autograder / "submission").rglob("*") if p.is_file() and p.name.lower().endswith(".ipynb"))
    problem = sandbox.available()
    kind = sandbox.barrier()
    if not notebooks:
        document = _failure("No notebook was submitted: upload the .ipynb file of the chapter.")
    elif problem:
        document = _failure(f"The grader cannot sandbox submissions on this machine ({problem}); nothing was run.")
    else:
        notebook = next((p for p in notebooks if config["chapter"] in p.name), notebooks[0])
        try:
            limits = sandbox.Limits(memory_bytes=int(float(config["memory_limit_gib"]) * (1 << 30)))
            data_root = _prepare(autograder)
            private = [autograder / "submission", autograder / "results", source / GRADING_DIR]
            (autograder / "results").mkdir(parents=True, exist_ok=True)
            if kind == "setpriv":  # the notebook's user may not read the submission nor write the results, even after
                for folder in private[:2]:
                    os.chmod(folder, 0o700)
            with sandbox.setpriv_guard(private, kind):
                tasks, status = grade_submission(
                    Submission(notebook, _student(autograder, notebook)),
                    source,
                    config["chapter"],
                    float(config["time_limit"]),
                    data_root,
                    limits,
                )
        except Exception as error:  # noqa: BLE001 - Gradescope shows results.json, so it says what went wrong
            document = _failure(f"The grader failed before grading ({type(error).__name__}: {error}); nothing was scored.")
        else:
            document = results_document(tasks, status, time.perf_counter() - start, kind)
            if len(notebooks) > 1:
                document["output"] += f" Graded {notebook.name}, one of {len(notebooks)} notebooks submitted."
    results = autograder / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "results.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        f"{cli.COMMAND} gradescope",
        "Inside Gradescope's container: grade /autograder/submission (or, with --prepare, write the MNIST sample).",
        "python -m booktools gradescope /autograder",
    )
    parser.add_argument("autograder", type=Path, help="Gradescope's autograder folder, /autograder")
    parser.add_argument("--prepare", action="store_true", help="only write the MNIST sample (setup.sh runs this)")
    args = parser.parse_args(argv)
    if args.prepare:
        print(f"MNIST sample in {_prepare(args.autograder)}")
        return 0
    document = run(args.autograder)
    print(document["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
