"""Grade a folder of student notebooks handed in for one exercise chapter, each in a sandbox.

::

    python -m booktools grade submissions/ --chapter ex2-mnist-cnn --out grades/ --jobs 2

Each ``*.ipynb`` in the folder (any case of the suffix) is one student's
submission; the file's name, Unicode-normalised, names the student. A
submission is untrusted code, and is graded so:

1. **Its kernel runs in a sandbox** (:mod:`booktools.grading.sandbox`): it sees a
   private copy of nothing but itself, the read-only Python environment and
   ``cnnlab``, and the read-only MNIST sample; no network, no repository, no
   other submission, no output folder, bounded memory and processes, and a
   time limit that ends everything it started. The grader drives the kernel
   from outside (``nbclient``, over sockets in the sandbox's folder): every
   cell runs in the grading kernel, whatever kernel the notebook was saved
   with.
2. **After each self-check cell** the grader asks the kernel to export the
   self-check's arguments as data (:mod:`booktools.grading.answers`) and keeps that
   export itself, out of the kernel's reach: what the student's code does
   afterwards, an endless loop included, cannot change it.
3. **A judge that never ran the student's code** (:mod:`booktools.grading.judge`, in a
   sandbox of its own) rebuilds those answers and calls the pristine
   self-check on them; the task's hidden test, if any, too. Only data crosses
   back: the grader reads the judge's output as verdicts of an exact form
   (:func:`parse_verdicts`), and an output that breaks it earns the
   submission nothing. The export's form is checked as strictly before the
   judge builds anything from it (:func:`booktools.grading.answers.check_export`).

A task earns its points when both the student's own self-check cell ran
without an error and the judge accepts the answer: the first can only cost a
student points (its message becomes the feedback), the second decides. No
task scores more than its maximum. An answer that is, subclasses, wraps or
calls the reference ``cnnlab`` ships for its task (``questions.json``'s
``references``) earns nothing (:func:`reused_reference`).

Out come ``grades.csv`` (student, file, task, points, max points, feedback)
and ``summary.csv`` (student, file, points, max points, status, seconds,
sandbox), written to temporary files and renamed at the end; a field that a
spreadsheet would read as a formula is prefixed with an apostrophe. A file
name is written in :func:`readable_name`'s form (printable, reversible), so
that no control or escape character reaches a CSV, the terminal or the
report. A failure of the grader itself on one submission gives that row the
status ``error`` and a message; the others are graded and written as ever.
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

from booktools.grading import class_report, gradebook, sandbox
from booktools.grading import watchdog as watchdog_module
from booktools.grading.autograder import manifest_path
from booktools.grading.watchdog import Watchdog

__all__ = [
    "GRADING_TRAINING_STEPS",
    "KernelRun",
    "Submission",
    "TaskResult",
    "CanaryFailed",
    "UnreadableSubmission",
    "find_submissions",
    "grade_folder",
    "grade_submission",
    "name_bytes",
    "parse_verdicts",
    "readable_name",
    "reused_reference",
    "student_name",
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
# The kernel-side exporter, copied into each sandbox; the grader itself never imports it (nor torch, through it).
ANSWERS_MODULE = Path(__file__).with_name("answers.py")
# The type under which the grader's own cell displays a task's export; a forgery must carry it too, so it is read once.
MIME = "application/vnd.cnnlab.answers+json"
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
    reused: str = ""  # the book's reference that the answer is or calls (booktools.grading.answers' ``uses``), if any


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
    first_error: str = ""  # the first error any of the notebook's own cells raised


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


def _escape(character: str) -> str:
    r"""A character that is not printable, as a backslash escape: ``\xNN`` below 0x80 (ASCII), else ``\uNNNN``."""
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.listdir hands it over (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def readable_name(name: str) -> str:
    r"""A file name as the grades show it: printable, one line, and reversible (:func:`name_bytes` gives the bytes back).

    Printable characters stay as they are, a backslash is doubled, a byte that is not UTF-8 becomes ``\xNN``
    (``NN`` from 80 to ff), and every other character that is not printable (a control character such as the
    escape that starts a terminal's colour codes, a line break, a direction override) becomes ``\xNN`` below
    0x80 and ``\uNNNN`` (or ``\UNNNNNNNN``) above.

    Examples
    --------
    >>> readable_name("José"), readable_name("a\\b"), readable_name("bell\x07\x1b[31m"), readable_name("caf\udce9")
    ('José', 'a\\\\b', 'bell\\x07\\x1b[31m', 'caf\\xe9')
    >>> name_bytes(readable_name("caf\udce9\u202e\\x")) == "caf\udce9\u202e\\x".encode("utf-8", "surrogateescape")
    True
    """
    return "".join("\\\\" if c == "\\" else c if c.isprintable() else _escape(c) for c in name)


def name_bytes(readable: str) -> bytes:
    """The bytes of the file name that :func:`readable_name` wrote as ``readable``."""
    out, index = bytearray(), 0
    while index < len(readable):
        character = readable[index]
        if character != "\\":
            out += character.encode("utf-8", "surrogatepass")
            index += 1
            continue
        kind = readable[index + 1 : index + 2]
        width = {"\\": 0, "x": 2, "u": 4, "U": 8}.get(kind)
        if width is None:
            raise ValueError(f"{readable!r} is not a name readable_name wrote: a lone backslash at {index}")
        if width == 0:
            out += b"\\"
        else:
            code = int(readable[index + 2 : index + 2 + width], 16)
            out += bytes([code]) if kind == "x" else chr(code).encode("utf-8", "surrogatepass")
        index += 2 + width
    return bytes(out)


def _printable(text: str) -> str:
    """``text`` with every character that is not printable escaped (:func:`readable_name`'s escapes, backslashes kept)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else _escape(c) for c in text)


def student_name(path: Path) -> str:
    """The student a handed-in file names: its name without ``.ipynb``, Unicode-normalised, in :func:`readable_name`'s form."""
    return readable_name(unicodedata.normalize("NFC", path.name[: -len(".ipynb")]).strip()) or "(no name)"


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
            submissions.append(Submission(path, student_name(path)))
        else:
            notes.append(f"skipped '{readable_name(path.name)}': {'a folder' if path.is_dir() else 'not an .ipynb file'}")
    by_student: dict[str, list[Submission]] = {}
    for submission in submissions:
        by_student.setdefault(submission.student.casefold(), []).append(submission)
    marked = []
    for submission in submissions:
        same = [readable_name(s.path.name) for s in by_student[submission.student.casefold()] if s is not submission]
        note = f"the same student as {', '.join(same)}: check which to keep" if same else ""
        marked.append(Submission(submission.path, submission.student, note))
        if same:
            quoted = ", ".join(f"'{name}'" for name in same)
            notes.append(f"'{readable_name(submission.path.name)}' names the same student as {quoted}")
    return marked, notes


def _export_code(call: str, extra: tuple[str, ...], support: str) -> str:
    return (
        "import sys as _sys\n"
        f"_sys.path.insert(0, {support!r})\n"
        "import answers as _answers\n"
        "from IPython.display import display as _display\n"
        f"_display({{{MIME!r}: _answers.export({call!r}, get_ipython().user_ns, {extra!r})}}, raw=True)\n"
    )


def _exported(cell) -> dict | None:
    """The one export the grader's cell produced, read; or None (none, unreadable, or more than one: a forgery)."""
    found = [o["data"][MIME] for o in cell.outputs if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
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


def _packages() -> dict[str, Path]:
    """The folders of ``cnnlab`` and ``booktools`` that this grader imports, wherever they come from (an editable
    install, another checkout, ``PYTHONPATH``): the sandboxes import these same ones."""
    import booktools
    import cnnlab

    return {name: Path(module.__file__).resolve().parent for name, module in (("cnnlab", cnnlab), ("booktools", booktools))}


# The share of a submission's time limit kept for judging its answers: its kernel may use the rest.
def judge_share(time_limit: float) -> float:
    """Seconds of ``time_limit`` kept for the judge: a fifth, at least 10 s (less on a tiny limit), at most 60 s.

    Examples
    --------
    >>> judge_share(30), judge_share(300), judge_share(3600), judge_share(12)
    (10.0, 60.0, 60.0, 6.0)
    """
    return float(min(60, max(10, time_limit / 5), time_limit / 2))


class _Sandbox:
    """One submission's sandbox: a private writable folder, the read-only support folder, and its slot (processors, user).

    The barrier is :func:`booktools.grading.sandbox.barrier`'s. Under bubblewrap the
    support folder is at ``/grading`` and the grader's own ``cnnlab`` and
    ``booktools`` at ``/packages``; under setpriv, which mounts nothing, at
    their own paths, which the sandbox's user may read (nothing else of the
    grader's folder: it is root's alone).
    """

    def __init__(self, work: Path, data_root: Path, package: Path, slot: sandbox.Slot | None = None, time_limit: float = 300):
        self.work, self.box, self.support = work, work / "box", work / "support"
        self.box.mkdir()
        self.support.mkdir()
        shutil.copy(ANSWERS_MODULE, self.support / "answers.py")
        self.data_root, self.package, self.slot = data_root, package, slot
        self.time_limit, self.deadline = time_limit, time.monotonic() + time_limit  # the whole submission's, judge included
        self.barrier = (sandbox.barrier() or "bubblewrap") if slot is not None else None
        self.packages = _packages()
        if self.barrier == "setpriv":  # its users may pass through the work folder to their own, and read the support
            os.chmod(work, 0o711)
            os.chmod(self.support, 0o755)
            os.chmod(self.support / "answers.py", 0o644)

    @property
    def support_path(self) -> str:
        """Where the sandboxed kernel finds the support folder."""
        return "/grading" if self.barrier == "bubblewrap" else str(self.support)

    def command(
        self,
        argv: list[str],
        limits: sandbox.Limits,
        env: dict[str, str],
        writable: Path | None = None,
        slot: sandbox.Slot | None = None,
        group: Path | None = None,
        packages: tuple[str, ...] = ("cnnlab",),
    ) -> list[str]:
        """``argv`` in the sandbox (writing to ``writable``, the box unless given), importing the grader's ``packages``."""
        chosen = {name: self.packages[name] for name in packages}
        if self.barrier == "bubblewrap":
            mounts = {f"/packages/{name}": path for name, path in chosen.items()} | {"/grading": self.support}
            pythonpath, readable = "/packages", [self.data_root]
        else:
            mounts, readable = None, [self.data_root, *chosen.values()]
            pythonpath = os.pathsep.join(sorted({str(path.parent) for path in chosen.values()}))
        return sandbox.command(
            argv,
            self.box if writable is None else writable,
            readable,
            {**env, "PYTHONPATH": pythonpath},
            limits=limits,
            mounts=mounts,
            slot=slot or self.slot,
            barrier=self.barrier,
            group=group,
        )

    def end(self, slot: sandbox.Slot | None, group: watchdog_module.MemoryGroup | None) -> None:
        """Wait until every process of the sandbox run as ``slot`` (in ``group``) has ended, killing what is left."""
        if group is not None:
            group.remove()
        if slot is not None and os.geteuid() == 0:
            left = sandbox.end_user(slot.uid)
            if left:
                print(f"warning: {len(left)} process(es) of user {slot.uid} could not be ended in 30 s", file=sys.stderr)


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
        f"(an endless loop?): its notebook may run for {time_limit - judge_share(time_limit):.0f} s of it, the rest "
        "judges its answers"
    )


def _bounded_client(notebook, manager, time_limit: float):
    """nbclient's client for ``notebook``, over sockets that refuse a message above :data:`OUTPUT_BYTES`, and taking
    at most that much from the kernel in all (outputs, display updates, widget messages): past it, its watchdog stops
    the sandbox. A notebook printing in an endless loop would otherwise fill the grader's memory, not the sandbox's."""
    import zmq
    import zmq.asyncio
    from nbclient import NotebookClient

    class BoundedClient(NotebookClient):
        watchdog: Watchdog | None = None
        taken = 0
        closing = False  # set once the grader ends the kernel: a connection dropped then is no message over the cap

        def over(self) -> None:
            if self.watchdog is not None:
                self.watchdog.stop_sandbox(
                    "output limit",
                    f"not graded: the notebook sent more than {OUTPUT_BYTES >> 20} MiB of output (printing in an "
                    "endless loop?), so the grader stopped it",
                )

        def dropped(self) -> None:
            """ZeroMQ dropped a connection to the kernel: over the cap, unless the kernel has ended (or is ending)."""
            threading.Event().wait(0.2)
            pid = self.watchdog.pid if self.watchdog is not None else None
            if not self.closing and pid is not None and os.path.exists(f"/proc/{pid}") and not _zombie(pid):
                self.over()

        def process_message(self, msg, cell, cell_index):
            content = msg.get("content") or {}
            self.taken += sum(len(str(value)) for value in content.values()) + sum(len(b) for b in msg.get("buffers") or [])
            if self.taken <= OUTPUT_BYTES:
                return super().process_message(msg, cell, cell_index)
            self.over()
            return None

    from jupyter_client.asynchronous import AsyncKernelClient

    cap = OUTPUT_BYTES

    class CappedClient(AsyncKernelClient):
        """jupyter_client's client, whose sockets (made from its own context, not the manager's) refuse a message
        above the cap before reading it: ZeroMQ drops the connection instead."""

        def _context_default(self):
            self._created_context = True
            context = zmq.asyncio.Context()
            context.setsockopt(zmq.MAXMSGSIZE, cap)
            return context

        def _create_connected_socket(self, channel, identity=None):
            socket = super()._create_connected_socket(channel, identity=identity)
            _on_drop(socket, client.dropped)
            return socket

    manager.context.setsockopt(zmq.MAXMSGSIZE, cap)
    manager.client_factory = CappedClient
    client = BoundedClient(
        notebook, km=manager, allow_errors=True, timeout=time_limit, kernel_name="grading", store_widget_state=False
    )
    return client


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _on_drop(socket, callback) -> None:
    """Call ``callback`` (once, from a thread of its own) when ZeroMQ drops ``socket``'s connection: a message over
    the socket's ``MAXMSGSIZE`` is never read, its connection is dropped instead, and the grader must not wait on it."""
    import zmq

    address = f"inproc://booktools-drops-{id(socket)}"
    socket.monitor(address, zmq.EVENT_DISCONNECTED)
    events = zmq.Context.shadow(socket.context.underlying).socket(zmq.PAIR)
    events.connect(address)

    def watch() -> None:
        try:
            while not socket.closed:
                if events.poll(200):
                    events.recv_multipart()
                    callback()
                    return
        except zmq.ZMQError:  # the context ended meanwhile
            pass
        finally:
            events.close(0)

    threading.Thread(target=watch, name="booktools-drops", daemon=True).start()


# Who watches this thread's kernel runs (the canary, for the first error the answer key met): a list, or None.
_observed = threading.local()


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

    Each cell may run for what is left of the kernel's share of the time limit
    (all but :func:`judge_share`); when it overruns, the kernel is killed, and
    with it everything the submission started: the sandbox's own PID namespace
    ends, and every process of its user is ended before the judge starts. The
    exports made before stay.
    """
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    run = KernelRun()
    kernel_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    group = watchdog_module.MemoryGroup.make(limits.memory_bytes) if use_sandbox else None
    argv = box.command(kernel_argv, limits, env, group=group and group.procs) if use_sandbox else kernel_argv
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
    support = box.support_path if use_sandbox else str(box.support)
    client = _bounded_client(notebook, manager, time_limit)
    deadline = min(box.deadline, time.monotonic() + time_limit) - judge_share(time_limit)

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
        watchdog = client.watchdog = Watchdog(manager.provisioner.pid, box.box, limits, group=group)
        with watchdog:
            client.start_new_kernel_client()
            for index, cell in enumerate(list(notebook.cells)):
                if cell.cell_type != "code":
                    continue
                execute(cell, index)
                run.first_error = run.first_error or _error(cell) or ""
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
        client.closing = True
        if watchdog is not None and watchdog.status is not None:  # the grader stopped it: that is why it ended
            run.status, run.stopped = watchdog.status, watchdog.stopped
        # Killing the kernel's process ends the sandbox: its own PID namespace ends everything started inside.
        try:
            run_sync(manager.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        if client.kc is not None:
            client.kc.stop_channels()
        box.end(box.slot, group)  # nothing of the kernel's is left when the judge, or the next submission, starts
    if getattr(_observed, "runs", None) is not None:
        _observed.runs.append(run)
    return run


def _run_judge(lines: str, run: KernelRun, box: _Sandbox, limits: sandbox.Limits, use_sandbox: bool, env: dict[str, str]) -> str:
    """Run the judge on the answers ``lines`` as the kernel ran: in a sandbox of its own user (its slot's judge), under
    a watchdog and a memory group of its own, within what is left of the submission's time limit; return what it
    printed, at most :data:`OUTPUT_BYTES` of it. When it is stopped, ``run``'s status says why."""
    argv = [sys.executable, "-m", "booktools.grading.judge"]
    slot = box.slot.judge() if (use_sandbox and box.slot is not None) else None
    group, folder = None, box.work / "judge"
    folder.mkdir()
    if use_sandbox:
        sandbox.prepare_writable(folder, slot)
        group = watchdog_module.MemoryGroup.make(limits.memory_bytes)
        procs = group.procs if group else None
        line = box.command(argv, limits, env, writable=folder, slot=slot, group=procs, packages=("cnnlab", "booktools"))
    else:
        line = argv
    left = box.deadline - time.monotonic()
    chunks: list[bytes] = []
    process = subprocess.Popen(
        line,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=folder,
        env=None if use_sandbox else {**os.environ, **env},
    )

    def feed() -> None:
        try:
            process.stdin.write(lines.encode())
            process.stdin.close()
        except OSError:  # it ended without reading
            pass

    def take() -> None:
        taken = 0
        while chunk := process.stdout.read(1 << 16):
            taken += len(chunk)
            if taken > OUTPUT_BYTES:
                dog.stop_sandbox("output limit", f"not graded: the judge's output passed {OUTPUT_BYTES >> 20} MiB")
                return
            chunks.append(chunk)

    dog = Watchdog(process.pid, folder if use_sandbox else None, limits, group=group)
    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=take, daemon=True)]
    try:
        with dog:
            for thread in threads:
                thread.start()
            try:
                process.wait(timeout=max(0.1, left))
            except subprocess.TimeoutExpired:
                dog.stop_sandbox(
                    "time limit",
                    f"not graded: judging the answers ran past the submission's time limit of {box.time_limit:.0f} s",
                )
                process.kill()
                process.wait()
    finally:
        process.kill()
        threads[1].join(timeout=10)
        process.stdout.close()
        box.end(slot, group)
    if dog.status is not None and run.status == "graded":
        run.status, run.stopped = dog.status, dog.stopped
    return b"".join(chunks).decode("utf-8", errors="replace")


def judged_tasks(run: KernelRun, questions: list[dict]) -> list[str]:
    """The exported tasks whose verdict can change a grade or its feedback: those the judge is asked about.

    A task whose self-check failed in the student's kernel earns nothing
    whatever the judge says (:func:`task_results`), and its feedback is the
    self-check's message, with the hidden test's appended when the task has
    one. So the judge sees the tasks whose self-check ran cleanly, and those
    with a hidden test; a kernel can only lose points by reporting a failure,
    and a notebook whose every check failed needs no judge at all.

    >>> run = KernelRun(own_checks={"q1": None, "q2": "SelfCheckError: Task 2", "q3": "SelfCheckError: Task 3"})
    >>> run.exports = {"q1": {}, "q2": {}, "q3": {}}
    >>> judged_tasks(run, [{"name": "q1"}, {"name": "q2"}, {"name": "q3", "hidden": {"points": 1}}])
    ['q1', 'q3']
    """
    hidden = {q["name"] for q in questions if q.get("hidden")}
    return [task for task in run.exports if run.own_checks.get(task, "not run") is None or task in hidden]


def _judge(
    run: KernelRun, questions: list[dict], box: _Sandbox, limits: sandbox.Limits, use_sandbox: bool, env: dict[str, str]
) -> dict[str, dict]:
    """The judge's verdict on each task of :func:`judged_tasks`, from a fresh sandboxed process."""
    tasks = judged_tasks(run, questions)
    if not tasks:
        return {}
    lines = "".join(json.dumps({"task": task, "answers": run.exports[task]}) + "\n" for task in tasks)
    output = _run_judge(lines, run, box, limits, use_sandbox, env)
    return parse_verdicts(output, tasks, run.stopped or None)


_VERDICT_KEYS = ("task", "passed", "hidden", "message")
_VERDICT_MESSAGE = 20_000  # characters: a self-check's message is a few hundred


def _verdict_problem(item, tasks: list[str], seen: dict) -> str | None:
    """Why ``item`` is not a verdict the grader asked for, or None."""
    if type(item) is not dict or set(item) != set(_VERDICT_KEYS):
        return f"a line is not an object with exactly the keys {', '.join(_VERDICT_KEYS)}"
    if type(item["task"]) is not str or item["task"] not in tasks:
        return "a verdict names a task the grader did not ask about"
    if item["task"] in seen:
        return f"two verdicts on {item['task']}"
    if type(item["passed"]) is not bool or not (item["hidden"] is None or type(item["hidden"]) is bool):
        return f"the verdict on {item['task']} is not true or false"
    if type(item["message"]) is not str or len(item["message"]) > _VERDICT_MESSAGE:
        return f"the message on {item['task']} is not a string of at most {_VERDICT_MESSAGE} characters"
    return None


def parse_verdicts(output: str, tasks: list[str], missing: str | None = None) -> dict[str, dict]:
    r"""Each of ``tasks``' verdict in the judge's ``output``, checked strictly; a refusal where there is none.

    The judge prints one JSON line per task, ``{"task", "passed", "hidden", "message"}``, exactly those keys with
    those types (:mod:`booktools.grading.judge`). A line that breaks this form means the judge did not do what the grader
    runs it for (an answer steered it): no verdict of that output is believed, and every task gets no points and a
    message saying why. A task without a verdict (the judge stopped first: ``missing`` says why) gets none either.
    A last line without its line break was cut off, and counts as missing.

    Examples
    --------
    >>> parse_verdicts('{"task": "q1", "passed": true, "hidden": null, "message": ""}\n', ["q1", "q2"])["q1"]["passed"]
    True
    >>> parse_verdicts('{"task": "q1", "passed": "yes"}\n', ["q1"])["q1"]["message"][:55]
    'not graded: the grader refused what its judge answered '
    """
    lines = output.split("\n")[:-1]  # what follows the last line break was cut off
    verdicts: dict[str, dict] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            problem: str | None = "a line is not JSON"
        else:
            problem = _verdict_problem(item, tasks, verdicts)
        if problem:
            refusal = f"not graded: the grader refused what its judge answered on this notebook ({problem})"
            return {task: {"passed": False, "hidden": False, "message": refusal} for task in tasks}
        verdicts[item["task"]] = {key: item[key] for key in ("passed", "hidden", "message")}
    missing = missing or "not graded: the grader's judge gave no verdict on this answer"
    return {task: verdicts.get(task, {"passed": False, "hidden": False, "message": missing}) for task in tasks}


def reused_reference(question: dict, export) -> list[str]:
    """The references of ``question`` (``questions.json``'s ``references``) that the exported answer is or calls.

    ``export["uses"]`` lists what of ``cnnlab`` the answer is, subclasses, wraps or called
    (:func:`booktools.grading.answers.export`); a reference covers itself and everything inside it (a class's methods, a
    package's modules).

    Examples
    --------
    >>> question = {"references": ["cnnlab.saliency.input_gradient", "cnnlab.checks"]}
    >>> reused_reference(question, {"uses": ["cnnlab.saliency.patch_masks", "cnnlab.saliency.input_gradient"]})
    ['cnnlab.saliency.input_gradient']
    >>> reused_reference(question, {"uses": ["cnnlab.checks.ex4._reference_dice"]}), reused_reference(question, None)
    (['cnnlab.checks.ex4._reference_dice'], [])
    """
    uses = export.get("uses") if isinstance(export, dict) else None
    references = [r for r in question.get("references") or [] if isinstance(r, str)]
    if not isinstance(uses, list):
        return []
    return sorted({u for u in uses if isinstance(u, str) for r in references if u == r or u.startswith(r + ".")})


def task_results(submission: Submission, questions: list[dict], run: KernelRun, verdicts: dict[str, dict]) -> list[TaskResult]:
    """Each task's points and feedback, from what the sandboxed run kept and what the judge said.

    A task earns its points only when its self-check cell ran cleanly in the
    student's kernel and the judge passed the answer; the hidden test's points
    (``questions.json``'s ``hidden``) come on top when it passes too. A task
    whose self-check never ran gets the reason the run stopped. An answer
    exported for another self-check than the task's, or that is or calls the
    reference ``cnnlab`` ships for the task (:func:`reused_reference`), earns
    nothing, and its feedback says why.
    """

    def refusal(q) -> tuple[str, str]:
        """Why the task's export earns nothing whatever the judge said, and the reference it reused; or empty."""
        export = run.exports.get(q["name"])
        if isinstance(export, dict) and "check" in export and export["check"] != q["check"]:
            return f"not graded: this answer was exported for another self-check ({_clean(export['check'], 60)})", ""
        reused = reused_reference(q, export)
        if reused:
            names = ", ".join(reused)
            return (
                f"no points: this answer is, or calls, the reference that the book's package ships ({names}); "
                "the task asks for your own code",
                names,
            )
        return "", ""

    def points_of(q) -> float:
        verdict = verdicts.get(q["name"])
        if verdict is None or run.own_checks.get(q["name"], "not run") is not None or refusal(q)[0]:
            return 0.0
        hidden = q.get("hidden", {}).get("points", 0)
        own = q["points"] - hidden
        return float(own * bool(verdict.get("passed") is True) + hidden * (verdict.get("hidden") is True))

    def feedback_of(q) -> str:
        name = q["name"]
        if name not in run.own_checks:
            return run.stopped or "not graded: this task's self-check never ran"
        refused = refusal(q)[0]
        if refused:
            return refused
        own = run.own_checks[name]
        verdict = verdicts.get(name)
        if verdict is None:
            return own or "not graded: the grader received no answer for this task"
        message = str(verdict.get("message") or "")
        if own:
            return own + (f" | {message}" if verdict.get("hidden") is False and message else "")
        if points_of(q) < q["points"]:
            return message or "the grader's check of this answer failed"
        return ""

    return [
        TaskResult(
            submission.student,
            readable_name(submission.path.name),
            q["name"],
            min(points_of(q), q["points"]),
            q["points"],
            _clean(feedback_of(q)),
            refusal(q)[1] if q["name"] in run.own_checks else "",
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
    Given a ``slot`` (:func:`booktools.grading.sandbox.slots`), the sandboxes run on its processors, as its user.
    """
    if isinstance(submission, Path):
        submission = Submission(submission, student_name(submission))
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
        slot = (slot or sandbox.slots(1)[0]) if use_sandbox else None  # a user of its own, one job too
        box = _Sandbox(Path(work), data_root, Path(cnnlab.__file__).resolve().parent, slot, time_limit)
        run = _run_notebook(notebook, questions, box, limits, use_sandbox, time_limit, env)
        verdicts = _judge(run, questions, box, limits, use_sandbox, env)

    return task_results(submission, questions, run, verdicts), run.status


def prepare_sample() -> Path:
    """The cache folder, with the MNIST sample in it: the sandboxes can only read it, so it is written first."""
    from cnnlab import data
    from cnnlab.data.cache import data_root

    root = data_root()
    data.prepare_mnist("sample", root=root)
    return root


def _failed(submission: Submission, questions: list[dict], error: BaseException) -> list[TaskResult]:
    """The rows of a submission whose grading failed in the grader itself: no points, and the error on every task."""
    why = _clean(f"{type(error).__name__}: {error}", 300)
    print(f"error: grading {submission.student} failed ({why}); its other rows are written", file=sys.stderr)
    stopped = f"not graded: the grader failed on this notebook ({why}); grade it again, or by hand"
    return task_results(submission, questions, KernelRun(status="error", stopped=stopped), {})


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write ``rows`` under ``header`` atomically (:func:`_write_text`): never half a CSV."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([[spreadsheet_safe(_printable(str(cell))) for cell in row] for row in rows])
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
    canary: bool = False,
) -> list[TaskResult]:
    """Grade every notebook of ``folder``, ``jobs`` at a time, and write the grades and the report into ``out``.

    With ``canary``, the chapter's answer key is graded first, in the same
    environment, and :class:`CanaryFailed` says why when it does not score
    full marks: then no submission is graded. Under the setpriv barrier the
    folder, ``out`` and the answer keys are root's alone while it grades.

    Out come ``grades.csv``, ``summary.csv``, ``canvas.csv`` and ``moodle.csv``
    (:mod:`booktools.grading.gradebook`; ``assignment`` names Canvas's column, the
    chapter by default) and ``report.html`` (:mod:`booktools.grading.class_report`).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: give the folder of submitted notebooks.")
    submissions, notes = find_submissions(folder)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not submissions:
        raise FileNotFoundError(f"no *.ipynb in {folder}: put the submitted notebooks there.")
    questions = _questions(root.resolve(), chapter)
    out.mkdir(parents=True, exist_ok=True)
    data_root = prepare_sample()
    lock = threading.Lock()
    kind = (sandbox.barrier() or "bubblewrap") if use_sandbox else "NONE (--no-sandbox)"
    if canary:
        with sandbox.setpriv_guard([folder, out, root.resolve() / "grading"], kind):
            refusal = _canary(root, chapter, time_limit, data_root, limits, use_sandbox)
        if refusal:
            raise CanaryFailed(refusal)

    progress = tqdm(total=len(submissions), desc=f"grading {chapter}", unit="notebook", file=sys.stderr, dynamic_ncols=True)
    free: queue.Queue = queue.Queue()
    for slot in sandbox.slots(jobs):
        free.put(slot)

    def timed(submission: Submission):
        start = time.perf_counter()
        slot = free.get()  # each submission graded at once has its own processors and user: one cannot starve another
        try:
            tasks, status = grade_submission(submission, root, chapter, time_limit, data_root, limits, use_sandbox, slot)
        except Exception as error:  # noqa: BLE001 - a failure of any kind costs this row its points, never the others' rows
            tasks, status = _failed(submission, questions, error), "error"
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

    guard = sandbox.setpriv_guard([folder, out, root.resolve() / "grading"], kind if use_sandbox else "none")
    with progress, guard, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = list(pool.map(timed, submissions))
    results, summary, grades = [], [], []
    for submission, (tasks, status, seconds, points, possible) in zip(submissions, graded):
        results += tasks
        status = f"{status}; {submission.note}" if submission.note else status
        file = readable_name(submission.path.name)
        summary.append([submission.student, file, f"{points:g}", f"{possible:g}", status, round(seconds, 1), kind])
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


class CanaryFailed(RuntimeError):
    """The answer key did not score full marks in the grader's sandbox: the message names the cause and the fix."""


def _canary(root: Path, chapter: str, time_limit: float, data_root: Path, limits: sandbox.Limits, use_sandbox: bool) -> str:
    """Grade the chapter's answer key as a submission; empty if it scores full marks, else why not and what to do."""
    from booktools.grading.autograder import GRADING_DIR, SOLUTION

    key = root.resolve() / GRADING_DIR / chapter / SOLUTION
    if not key.is_file():
        return f"the answer key {key} is missing, so the grader cannot check itself: write it with python -m booktools autograder"
    start = time.perf_counter()
    _observed.runs = key_run = []  # the canary's own run, for the first error the answer key met
    try:
        tasks, status = grade_submission(Submission(key, "answer key"), root, chapter, time_limit, data_root, limits, use_sandbox)
    finally:
        _observed.runs = None
    seconds = time.perf_counter() - start
    points, possible = sum(t.points for t in tasks), sum(t.max_points for t in tasks)
    print(f"canary: the answer key scores {points:g} / {possible:g} ({status}, {seconds:.0f} s)", file=sys.stderr)
    if points >= possible:
        return ""
    lost = "; ".join(f"{t.task}: {t.feedback}" for t in tasks if t.points < t.max_points) or status
    if key_run and key_run[0].first_error:
        lost = f"its first error was {key_run[0].first_error}; {lost}"
    if status == "time limit":
        fix = f"raise --time-limit above {time_limit:g} s: the answer key needs more here"
    elif status == "memory limit":
        fix = f"raise --memory-limit above {limits.memory_bytes / (1 << 30):g} GiB: the answer key needs more here"
    elif "No module named" in lost or "ModuleNotFoundError" in lost or "ImportError" in lost:
        where = ", ".join(f"{name} from {path}" for name, path in _packages().items())
        fix = (
            f"the sandbox could not import what the answer key needs (the grader imports {where}); install the book's "
            "requirements in the Python that runs the grader (pip install -r requirements.txt) and every folder it "
            "imports from readable by every user"
        )
    elif status != "graded":
        fix = "check that bubblewrap (or, as root, setpriv) can run this Python here, and that the data folder is readable"
    else:
        fix = (
            "regenerate the autograder (python -m booktools autograder) from the same checkout as cnnlab, whose "
            "self-checks the answer key must pass"
        )
    return (
        f"the answer key of {chapter} scores {points:g} / {possible:g} in the grader's sandbox ({status}), so no "
        f"submission was graded. Cause: {_clean(lost, 400)}. Fix: {fix}."
    )


def _write_gradebooks(out: Path, grades: list[gradebook.StudentGrade], assignment: str) -> None:
    """``canvas.csv`` and ``moodle.csv`` (:mod:`booktools.grading.gradebook`), and a note on the files they cannot match."""
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
