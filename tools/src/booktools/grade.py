"""Grade a folder of student notebooks handed in for one exercise chapter, each in a sandbox.

::

    python -m booktools.grade submissions/ --chapter ex2-mnist-cnn --out grades/ --jobs 2

Each ``*.ipynb`` in the folder (any case of the suffix) is one student's
submission; the file's name, Unicode-normalised, names the student. A
submission is untrusted code, and is graded so:

1. **Its kernel runs in a sandbox** (:mod:`booktools.sandbox`): it sees a
   private copy of nothing but itself, the read-only Python environment and
   ``cnnlab``, and the read-only MNIST sample; no network, no repository, no
   other submission, no output folder, bounded memory and processes, and a
   time limit that ends everything it started. The grader drives the kernel
   from outside (``nbclient``, over sockets in the sandbox's folder): every
   cell runs in the grading kernel, whatever kernel the notebook was saved
   with.
2. **After each self-check cell** the grader asks the kernel to export the
   self-check's arguments as data (:mod:`booktools.answers`) and keeps that
   export itself, out of the kernel's reach: what the student's code does
   afterwards, an endless loop included, cannot change it.
3. **A judge that never ran the student's code** (:mod:`booktools.judge`, in a
   sandbox of its own) rebuilds those answers and calls the pristine
   self-check on them; the task's hidden test, if any, too.

A task earns its points when both the student's own self-check cell ran
without an error and the judge accepts the answer: the first can only cost a
student points (its message becomes the feedback), the second decides. No
task scores more than its maximum.

Out come ``grades.csv`` (student, file, task, points, max points, feedback)
and ``summary.csv`` (student, file, points, max points, status, seconds,
sandbox), written to temporary files and renamed at the end; a field that a
spreadsheet would read as a formula is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm import tqdm

from booktools import answers as answers_module
from booktools import class_report, cli, gradebook, sandbox
from booktools.autograder import manifest_path
from booktools.watchdog import Watchdog

__all__ = [
    "GRADING_TRAINING_STEPS",
    "KernelRun",
    "Submission",
    "TaskResult",
    "UnreadableSubmission",
    "find_submissions",
    "grade_folder",
    "grade_submission",
    "main",
    "prepare_sample",
    "read_submission",
    "spreadsheet_safe",
    "task_results",
    "training_steps",
]

# The training steps of a chapter under grading (CNNLAB_TRAINING_STEPS), unless its hidden test asks for more: the
# chapters' demonstrations (Exercise 3's ablation, say) then run in seconds, as the notebook tests run them.
GRADING_TRAINING_STEPS = 50
_FEEDBACK_LENGTH = 600
# The most a submission's file, and all the output its kernel sends back, may hold: far above any honest notebook
# (the book's executed chapters, figures and animations included, hold 2.4 MB at most), far below what would strain
# the grader's memory (a parsed notebook takes ten times its file's size).
NOTEBOOK_BYTES = 16 << 20
OUTPUT_BYTES = 16 << 20


@dataclass(frozen=True)
class TaskResult:
    student: str
    file: str
    task: str
    points: float
    max_points: float
    feedback: str


@dataclass(frozen=True)
class Submission:
    """One handed-in file: where it is, the student it names, and a note for the instructor."""

    path: Path
    student: str
    note: str = ""


@dataclass
class KernelRun:
    """What the sandboxed run of one notebook produced, kept by the grader."""

    exports: dict[str, dict] = field(default_factory=dict)
    own_checks: dict[str, str | None] = field(default_factory=dict)  # task -> None (ran cleanly) or the error
    status: str = "graded"
    stopped: str = ""


def _questions(root: Path, chapter: str) -> list[dict]:
    return json.loads(manifest_path(root, chapter, "--chapter").read_text(encoding="utf-8"))


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it, never as a formula.

    Examples
    --------
    >>> spreadsheet_safe("=1+1"), spreadsheet_safe("carol")
    ("'=1+1", 'carol')
    """
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _clean(text: str, limit: int = _FEEDBACK_LENGTH) -> str:
    """One line of printable text, at most ``limit`` characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UnreadableSubmission(ValueError):
    """A handed-in file the grader will not read: a link, a device or pipe, or too large."""


def read_submission(path: Path, most: int | None = None) -> str:
    """The text of the notebook file ``path``, read without following a link, if it is a plain file of at most ``most`` bytes.

    A link could point the grader at the answer key or a file of its own, a
    pipe or device could keep it reading for ever: a submission is its own
    file. ``most`` is :data:`NOTEBOOK_BYTES` unless given.

    Raises
    ------
    UnreadableSubmission
        If ``path`` is a symbolic link, not a plain file, or larger than ``most``, saying which.
    """
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if path.is_symlink():
            raise UnreadableSubmission(
                f"{path.name} is a link to another file, not a notebook: hand in the .ipynb file itself"
            ) from None
        raise UnreadableSubmission(f"{path.name} could not be opened ({error.strerror})") from None
    most = NOTEBOOK_BYTES if most is None else most
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableSubmission(f"{path.name} is not a plain file (a pipe, device or socket): hand in the .ipynb file")
        content = file.read(most + 1)
    if len(content) > most:
        raise UnreadableSubmission(
            f"{path.name} is larger than {most >> 20} MiB: clear its outputs (Edit > Clear Outputs of All Cells) "
            "and hand it in again"
        )
    return content.decode("utf-8")


def find_submissions(folder: Path) -> tuple[list[Submission], list[str]]:
    """The notebooks of ``folder`` (``*.ipynb`` in any case, hidden names too), and a note on every other file."""
    submissions, notes = [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        # Anything so named but a folder names a student; grade_submission says why a link or a pipe is not read.
        if not path.is_dir() and path.name.lower().endswith(".ipynb"):
            student = unicodedata.normalize("NFC", path.name[: -len(".ipynb")]).strip() or "(no name)"
            submissions.append(Submission(path, student))
        else:
            notes.append(f"skipped {path.name!r}: {'a folder' if path.is_dir() else 'not an .ipynb file'}")
    by_student: dict[str, list[Submission]] = {}
    for submission in submissions:
        by_student.setdefault(submission.student.casefold(), []).append(submission)
    marked = []
    for submission in submissions:
        same = [s.path.name for s in by_student[submission.student.casefold()] if s is not submission]
        note = f"the same student as {', '.join(same)}: check which to keep" if same else ""
        marked.append(Submission(submission.path, submission.student, note))
        if same:
            notes.append(f"{submission.path.name!r} names the same student as {', '.join(map(repr, same))}")
    return marked, notes


def _export_code(call: str, extra: tuple[str, ...], support: str) -> str:
    return (
        "import sys as _sys\n"
        f"_sys.path.insert(0, {support!r})\n"
        "import answers as _answers\n"
        "from IPython.display import display as _display\n"
        f"_display({{{answers_module.MIME!r}: _answers.export({call!r}, get_ipython().user_ns, {extra!r})}}, raw=True)\n"
    )


def _exported(cell) -> dict | None:
    """The one export the grader's cell produced, read; or None (none, unreadable, or more than one: a forgery)."""
    found = [
        o["data"][answers_module.MIME]
        for o in cell.outputs
        if o.get("output_type") == "display_data" and answers_module.MIME in o.get("data", {})
    ]
    if len(found) != 1 or not isinstance(found[0], str):
        return None
    try:
        document = json.loads(found[0])
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


_OUT_OF_MEMORY = ("MemoryError", "can't allocate memory", "Unable to allocate", "out of memory")


def _ran_out_of_memory(cell) -> bool:
    """Whether the cell failed at the sandbox's memory limit (Python's, NumPy's or PyTorch's own words for it)."""
    error = _error(cell) or ""
    return any(words in error for words in _OUT_OF_MEMORY)


def _error(cell) -> str | None:
    for output in cell.outputs:
        if output.get("output_type") == "error":
            return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
    return None


class _Sandbox:
    """One submission's sandbox: a private writable folder, the read-only support folder, and its slot (processors, user)."""

    def __init__(self, work: Path, data_root: Path, package: Path, slot: sandbox.Slot | None = None):
        self.work, self.box, self.support = work, work / "box", work / "support"
        self.box.mkdir()
        self.support.mkdir()
        shutil.copy(Path(answers_module.__file__), self.support / "answers.py")
        self.data_root, self.package, self.slot = data_root, package, slot

    def command(self, argv: list[str], limits: sandbox.Limits, env: dict[str, str]) -> list[str]:
        """``argv`` in the sandbox, with the support folder read-only at ``/grading``."""
        readable = [self.package, self.data_root]
        return sandbox.command(argv, self.box, readable, env, limits=limits, mounts={"/grading": self.support}, slot=self.slot)


def training_steps(questions: list[dict]) -> int:
    """The training steps the chapter runs under grading: the most any hidden test asks for, else the short default.

    Examples
    --------
    >>> training_steps([{"name": "q1"}]), training_steps([{"name": "q1", "hidden": {"training_steps": 1000}}])
    (50, 1000)
    """
    asked = [q.get("hidden", {}).get("training_steps") or 0 for q in questions]
    return max([GRADING_TRAINING_STEPS, *asked])


def _environment(data_root: Path, steps: int) -> dict[str, str]:
    """The sandbox's whole environment: the book kernels' settings (:mod:`booktools.runner`), and no more."""
    from booktools.runner import kernel_environment
    from cnnlab import environment

    return {
        **kernel_environment(threads=1, mnist="sample", training_steps=steps, base={}),
        environment.DATA_DIR: str(data_root),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TQDM_DISABLE": "1",
    }


def _overran(time_limit: float) -> str:
    return (
        f"not graded: the submission ran past the time limit of {time_limit:.0f} s before this task's self-check "
        "(an endless loop?)"
    )


def _bounded_client(notebook, manager, time_limit: float):
    """nbclient's client for ``notebook``, over sockets that refuse a message above :data:`OUTPUT_BYTES`, and taking
    at most that much from the kernel in all (outputs, display updates, widget messages): past it, its watchdog stops
    the sandbox. A notebook printing in an endless loop would otherwise fill the grader's memory, not the sandbox's."""
    import zmq
    from nbclient import NotebookClient

    class BoundedClient(NotebookClient):
        watchdog: Watchdog | None = None
        taken = 0

        def process_message(self, msg, cell, cell_index):
            content = msg.get("content") or {}
            self.taken += sum(len(str(value)) for value in content.values()) + sum(len(b) for b in msg.get("buffers") or [])
            if self.taken <= OUTPUT_BYTES:
                return super().process_message(msg, cell, cell_index)
            if self.watchdog is not None:
                self.watchdog.stop_sandbox(
                    "output limit",
                    f"not graded: the notebook sent more than {OUTPUT_BYTES >> 20} MiB of output (printing in an "
                    "endless loop?), so the grader stopped it",
                )
            return None

    manager.context.setsockopt(zmq.MAXMSGSIZE, OUTPUT_BYTES)
    return BoundedClient(
        notebook, km=manager, allow_errors=True, timeout=time_limit, kernel_name="grading", store_widget_state=False
    )


def _run_notebook(
    notebook,
    questions: list[dict],
    box: _Sandbox,
    limits: sandbox.Limits,
    use_sandbox: bool,
    time_limit: float,
    env: dict[str, str],
) -> KernelRun:
    """Run every cell in a sandboxed kernel; after each self-check cell, keep its task's export.

    Each cell may run for what is left of the time limit; when it overruns, the
    kernel is killed, and with it the sandbox, whose own PID namespace ends
    everything the submission started. The exports made before stay.
    """
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    run = KernelRun()
    kernel_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    argv = box.command(kernel_argv, limits, env) if use_sandbox else kernel_argv
    specs = box.work / "kernels" / "grading"
    specs.mkdir(parents=True)
    (specs / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "grading", "language": "python", **({} if use_sandbox else {"env": env})})
    )
    # The asynchronous manager gives nbclient a client that never blocks its event loop, so that a cell's
    # time-out and a dead kernel are noticed while the kernel floods or withholds its output.
    manager = AsyncKernelManager(
        kernel_name="grading",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs.parent)]),
        transport="ipc",
        ip=str(box.box / "kernel"),
        connection_file=str(box.box / "connection.json"),
    )
    manager.write_connection_file()
    sandbox.prepare_writable(box.box, box.slot)
    calls = {q["name"]: q for q in questions}
    pending = list(calls)
    support = "/grading" if use_sandbox else str(box.support)
    client = _bounded_client(notebook, manager, time_limit)
    deadline = time.monotonic() + time_limit

    def execute(cell, index: int | None = None) -> None:
        """Run the notebook's cell ``index``, or, without one, a cell of the grader's, added at the end."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise CellTimeoutError("the time limit is spent")
        if index is None:  # nbclient stores each executed cell back at its index
            notebook.cells.append(cell)
            index = len(notebook.cells) - 1
        client.timeout = max(1, int(left))
        client.execute_cell(cell, index)

    def grade_task(name: str) -> None:
        question = calls[name]
        extra = (question["hidden"]["variable"],) if "hidden" in question else ()
        cell = nbformat.v4.new_code_cell(_export_code(question["call"], extra, support))
        execute(cell)
        exported = _exported(cell)
        if exported is not None:
            run.exports[name] = exported
        pending.remove(name)

    watchdog = None
    try:
        client.start_new_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watchdog = client.watchdog = Watchdog(manager.provisioner.pid, box.box, limits)
        with watchdog:
            client.start_new_kernel_client()
            for index, cell in enumerate(list(notebook.cells)):
                if cell.cell_type != "code":
                    continue
                execute(cell, index)
                if _ran_out_of_memory(cell):
                    run.status = "memory limit"
                for name in [n for n in pending if calls[n]["call"] in cell.source]:
                    run.own_checks[name] = _error(cell)
                    grade_task(name)
            for name in list(pending):  # a self-check cell moved or deleted: grade the notebook's last state
                cell = nbformat.v4.new_code_cell(calls[name]["call"])
                execute(cell)
                run.own_checks[name] = _error(cell)
                grade_task(name)
    except CellTimeoutError:
        run.status, run.stopped = "time limit", _overran(time_limit)
    except DeadKernelError:
        run.status, run.stopped = (
            "kernel died",
            "not graded: the kernel died before this task's self-check (the memory limit, or the process ended itself)",
        )
    except Exception as error:  # noqa: BLE001 - the kernel would not start or answer: say so, grade the rest
        run.status, run.stopped = "grader failed", f"not graded: the kernel failed ({_clean(error, 200)})"
    finally:
        if watchdog is not None and watchdog.status is not None:  # the grader stopped it: that is why it ended
            run.status, run.stopped = watchdog.status, watchdog.stopped
        # Killing the kernel's process ends the sandbox: its own PID namespace ends everything started inside.
        try:
            run_sync(manager.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        if client.kc is not None:
            client.kc.stop_channels()
    return run


def _judge(run: KernelRun, box: _Sandbox, limits: sandbox.Limits, use_sandbox: bool, env: dict[str, str]) -> dict[str, dict]:
    """The judge's verdict on each exported task, from a fresh sandboxed process."""
    if not run.exports:
        return {}
    argv = [sys.executable, "-m", "booktools.judge"]
    tools = Path(answers_module.__file__).resolve().parent.parent
    if use_sandbox:
        readable, variables = [box.package, box.data_root, tools], {**env, "PYTHONPATH": str(tools)}
        line = sandbox.command(argv, None, readable, variables, limits=limits, slot=box.slot)
    else:
        line = argv
    lines = "".join(json.dumps({"task": task, "answers": document}) + "\n" for task, document in run.exports.items())
    try:
        result = subprocess.run(
            line, input=lines, capture_output=True, text=True, timeout=300, env=None if use_sandbox else {**os.environ, **env}
        )
    except subprocess.TimeoutExpired:
        return {}
    verdicts = {}
    for line_out in result.stdout.splitlines():
        try:
            item = json.loads(line_out)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("task") in run.exports:
            verdicts[item["task"]] = item
    return verdicts


def task_results(submission: Submission, questions: list[dict], run: KernelRun, verdicts: dict[str, dict]) -> list[TaskResult]:
    """Each task's points and feedback, from what the sandboxed run kept and what the judge said.

    A task earns its points only when its self-check cell ran cleanly in the
    student's kernel and the judge passed the answer; the hidden test's points
    (``questions.json``'s ``hidden``) come on top when it passes too. A task
    whose self-check never ran gets the reason the run stopped.
    """

    def points_of(q) -> float:
        verdict = verdicts.get(q["name"])
        if verdict is None or run.own_checks.get(q["name"], "not run") is not None:
            return 0.0
        hidden = q.get("hidden", {}).get("points", 0)
        own = q["points"] - hidden
        return float(own * bool(verdict.get("passed") is True) + hidden * (verdict.get("hidden") is True))

    def feedback_of(q) -> str:
        name = q["name"]
        if name not in run.own_checks:
            return run.stopped or "not graded: this task's self-check never ran"
        own = run.own_checks[name]
        verdict = verdicts.get(name)
        if verdict is None:
            return own or "not graded: the grader received no answer for this task"
        if own:
            return own + (f" | {verdict['message']}" if verdict.get("hidden") is False else "")
        if points_of(q) < q["points"]:
            return str(verdict.get("message") or "the grader's check of this answer failed")
        return ""

    return [
        TaskResult(
            submission.student,
            submission.path.name,
            q["name"],
            min(points_of(q), q["points"]),
            q["points"],
            _clean(feedback_of(q)),
        )
        for q in questions
    ]


def grade_submission(
    submission: Submission | Path,
    root: Path,
    chapter: str,
    time_limit: float,
    data_root: Path,
    limits: sandbox.Limits = sandbox.DEFAULT_LIMITS,
    use_sandbox: bool = True,
    slot: sandbox.Slot | None = None,
) -> tuple[list[TaskResult], str]:
    """Grade one submission; return a result per task and the submission's status.

    ``data_root`` is the cache folder that holds the MNIST sample (:func:`prepare_sample`); the sandbox reads it.
    Given a ``slot`` (:func:`booktools.sandbox.slots`), the sandboxes run on its processors, as its user.
    """
    if isinstance(submission, Path):
        submission = Submission(submission, unicodedata.normalize("NFC", submission.name[: -len(".ipynb")]))
    root = root.resolve()
    questions = _questions(root, chapter)

    try:
        notebook = nbformat.reads(read_submission(submission.path), as_version=4)
        nbformat.validate(notebook)
    except UnreadableSubmission as error:
        return task_results(submission, questions, KernelRun(stopped=f"not graded: {error}"), {}), "unreadable"
    except Exception as error:  # noqa: BLE001 - any way a file can fail to be a notebook
        reason = f"not graded: {submission.path.name} is not a readable notebook ({type(error).__name__})"
        return task_results(submission, questions, KernelRun(stopped=reason), {}), "unreadable"
    notebook.metadata.pop("kernelspec", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    import cnnlab

    env = _environment(data_root, training_steps(questions))
    with tempfile.TemporaryDirectory(prefix="grade-") as work:
        box = _Sandbox(Path(work), data_root, Path(cnnlab.__file__).resolve().parent, slot if use_sandbox else None)
        run = _run_notebook(notebook, questions, box, limits, use_sandbox, time_limit, env)
        verdicts = _judge(run, box, limits, use_sandbox, env)

    return task_results(submission, questions, run, verdicts), run.status


def prepare_sample() -> Path:
    """The cache folder, with the MNIST sample in it: the sandboxes can only read it, so it is written first."""
    from cnnlab import data
    from cnnlab.data.cache import data_root

    root = data_root()
    data.prepare_mnist("sample", root=root)
    return root


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write ``rows`` under ``header`` atomically (:func:`_write_text`): never half a CSV."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([[spreadsheet_safe(str(cell)) for cell in row] for row in rows])
    _write_text(path, text.getvalue())


def grade_folder(
    folder: Path,
    root: Path,
    chapter: str,
    out: Path,
    time_limit: float,
    jobs: int = 1,
    limits: sandbox.Limits = sandbox.DEFAULT_LIMITS,
    use_sandbox: bool = True,
    assignment: str | None = None,
) -> list[TaskResult]:
    """Grade every notebook of ``folder``, ``jobs`` at a time, and write the grades and the report into ``out``.

    Out come ``grades.csv``, ``summary.csv``, ``canvas.csv`` and ``moodle.csv``
    (:mod:`booktools.gradebook`; ``assignment`` names Canvas's column, the
    chapter by default) and ``report.html`` (:mod:`booktools.class_report`).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: give the folder of submitted notebooks.")
    submissions, notes = find_submissions(folder)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not submissions:
        raise FileNotFoundError(f"no *.ipynb in {folder}: put the submitted notebooks there.")
    _questions(root.resolve(), chapter)
    out.mkdir(parents=True, exist_ok=True)
    data_root = prepare_sample()
    lock = threading.Lock()
    kind = "bubblewrap" if use_sandbox else "NONE (--no-sandbox)"

    progress = tqdm(total=len(submissions), desc=f"grading {chapter}", unit="notebook", file=sys.stderr, dynamic_ncols=True)
    free: queue.Queue = queue.Queue()
    for slot in sandbox.slots(jobs):
        free.put(slot)

    def timed(submission: Submission):
        start = time.perf_counter()
        slot = free.get()  # each submission graded at once has its own processors and user: one cannot starve another
        try:
            tasks, status = grade_submission(submission, root, chapter, time_limit, data_root, limits, use_sandbox, slot)
        finally:
            free.put(slot)
        seconds = time.perf_counter() - start
        points, possible = sum(t.points for t in tasks), sum(t.max_points for t in tasks)
        with lock:
            progress.write(
                f"{_clean(submission.student, 80)}: {points:g} / {possible:g} ({status}, {seconds:.0f} s)", file=sys.stdout
            )
            progress.update()
        return tasks, status, seconds, points, possible

    with progress, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = list(pool.map(timed, submissions))
    results, summary, grades = [], [], []
    for submission, (tasks, status, seconds, points, possible) in zip(submissions, graded):
        results += tasks
        status = f"{status}; {submission.note}" if submission.note else status
        summary.append(
            [submission.student, submission.path.name, f"{points:g}", f"{possible:g}", status, round(seconds, 1), kind]
        )
        lost = "; ".join(f"{t.task}: {t.feedback}" for t in tasks if t.points < t.max_points and t.feedback)
        grades.append(gradebook.StudentGrade(submission.student, points, possible, lost))
    _write_csv(
        out / "grades.csv",
        ["student", "file", "task", "points", "max_points", "feedback"],
        [[t.student, t.file, t.task, f"{t.points:g}", f"{t.max_points:g}", t.feedback] for t in results],
    )
    _write_csv(out / "summary.csv", ["student", "file", "points", "max_points", "status", "seconds", "sandbox"], summary)
    _write_gradebooks(out, grades, assignment or chapter)
    _write_text(out / "report.html", class_report.report_html(chapter, summary, results, time.strftime("%Y-%m-%d %H:%M")))
    return results


def _write_gradebooks(out: Path, grades: list[gradebook.StudentGrade], assignment: str) -> None:
    """``canvas.csv`` and ``moodle.csv`` (:mod:`booktools.gradebook`), and a note on the files they cannot match."""
    for name, rows in (("canvas.csv", gradebook.canvas_rows(grades, assignment)), ("moodle.csv", gradebook.moodle_rows(grades))):
        _write_csv(out / name, rows[0], rows[1:])
    canvas, moodle = gradebook.unmatched(grades)
    if canvas:
        print(
            f"note: canvas.csv: {len(canvas)} file(s) not named as Canvas's downloads are; their names are taken as "
            "SIS Login IDs",
            file=sys.stderr,
        )
    if moodle:
        print(
            f"note: moodle.csv: {len(moodle)} file(s) lack Moodle's participant number (Moodle's 'Download all "
            "submissions' names files with it); Moodle cannot match them",
            file=sys.stderr,
        )


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` as it is to a temporary file beside ``path``, then rename it."""
    if path.is_dir():
        raise FileExistsError(f"{path} is a folder: remove it or choose another --out.")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        "booktools.grade",
        "Grade a folder of handed-in notebooks of one exercise chapter, each in a sandbox; or write its Gradescope autograder.",
        "python -m booktools.grade submissions/ --chapter ex2-mnist-cnn --out grades/ --jobs 2\n"
        "  python -m booktools.grade --gradescope ex2-mnist-cnn --out dist/",
    )
    parser.add_argument("folder", type=Path, nargs="?", help="the folder of submitted notebooks")
    parser.add_argument("--chapter", help="the exercise chapter, for example ex2-mnist-cnn")
    parser.add_argument("--out", type=Path, help="the folder for the grades and the report (with --gradescope: for the zip)")
    parser.add_argument("--gradescope", metavar="CHAPTER", help="write CHAPTER's autograder zip for Gradescope instead")
    parser.add_argument("--assignment", help="the assignment's column in canvas.csv (default: the chapter)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: current folder)")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds one submission may run (default: 300)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once, one core each (default: 1)")
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=3,
        help="GiB of memory a submission may use, each process and all together (default: 3)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without bubblewrap: the students' code then runs with your rights (unsafe)",
    )
    args = parser.parse_args(argv)
    if not args.time_limit > 0:
        parser.error(f"--time-limit {args.time_limit:g} must be a positive number of seconds, such as 300.")
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs} must be 1 or more: the number of submissions graded at once.")
    if not args.memory_limit > 0:
        parser.error(f"--memory-limit {args.memory_limit:g} must be a positive number of GiB, such as 3.")
    if args.gradescope:
        if args.folder or args.chapter:
            parser.error("--gradescope CHAPTER writes an autograder and grades nothing: leave out the folder and --chapter.")
        from booktools import gradescope

        try:
            path = gradescope.write_zip(args.root, args.gradescope, args.out or Path("."), args.time_limit, args.memory_limit)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"wrote {path}: upload it as the assignment's autograder (base image: Ubuntu 24.04)")
        return 0
    missing = [
        name for name, value in (("the folder", args.folder), ("--chapter", args.chapter), ("--out", args.out)) if not value
    ]
    if missing:
        parser.error(f"give {', '.join(missing)}: python -m booktools.grade submissions/ --chapter CHAPTER --out grades/")
    if args.no_sandbox:
        print(
            "WARNING: grading WITHOUT a sandbox (--no-sandbox): each student's code runs with your rights and can "
            "read or change your files and the other submissions. summary.csv says so.",
            file=sys.stderr,
        )
    else:
        problem = sandbox.available()
        if problem:
            parser.error(
                f"cannot sandbox the submissions: {problem}. Install bubblewrap, or grade at your own risk with --no-sandbox."
            )
    limits = sandbox.Limits(memory_bytes=int(args.memory_limit * (1 << 30)))
    try:
        grade_folder(
            args.folder,
            args.root,
            args.chapter,
            args.out,
            args.time_limit,
            args.jobs,
            limits,
            use_sandbox=not args.no_sandbox,
            assignment=args.assignment,
        )
    except (FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
