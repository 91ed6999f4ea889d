"""What no limit counts is refused, each sandbox is a user of its own and gone before the next, and grading holds where
namespaces are refused: small sandboxed Pythons, no kernel, a second or two each (one Gradescope run at the end).

The limits each sandbox runs within are tried in tests/tools/grading/test_sandbox_limits.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bookpaths import ROOT
from booktools.grading import command, grade, sandbox, watchdog

MIB = 1 << 20
SMALL = sandbox.Limits(memory_bytes=256 * MIB, processes=64, disk_bytes=8 * MIB)
needs_sandbox = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")
needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs a root grader")

# Each call the filter must refuse (or allow), tried in the sandbox; the answer is the errno's name, or "allowed".
PROBE = r"""
import ctypes, errno, json, os, socket, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
found = {"uid": os.getuid(), "home": os.environ["HOME"]}
def call(name, function):
    try:
        function()
        found[name] = "allowed"
    except OSError as error:
        found[name] = errno.errorcode[error.errno]
def raw(name, *args):
    def function():
        if getattr(libc, name)(*args) == -1:
            raise OSError(ctypes.get_errno(), name)
    return function
call("memfd_create", lambda: os.memfd_create("held"))
call("msgget", raw("msgget", 0, 0o1600))
call("shmget", raw("shmget", 0, ctypes.c_size_t(1 << 20), 0o1600))
call("unshare", raw("unshare", 0x10000000))
call("inet socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
call("unix socket", lambda: [end.close() for end in socket.socketpair()])
call("machine's /tmp", lambda: open("/tmp/booktools-barrier-probe", "w").close())
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
found["thread and child"] = subprocess.run(["echo", "ran"], capture_output=True, text=True).stdout.strip()
print(json.dumps(found))
"""


def python_for_everyone(keep: Path) -> list[str]:
    """A prefix that runs a command where this Python can be run by any user, as under Gradescope's /opt, and where the
    machine's shared folders (``/tmp``, ``/dev/shm``, ...) are fresh ones that locking changes nothing outside of.

    All in a private mount namespace: a folder on the way to the Python installation that only root may enter
    (``/root``, for a pyenv there) is covered by one that any user may enter, holding the same installation; the
    folder ``keep`` (the test's own, inside ``/tmp``) is carried into the fresh ``/tmp``, and so is the repository when
    it was cloned into a shared folder (a CI checkout in ``/tmp``). ``/mnt`` holds the mounts meanwhile.
    """
    if not Path("/mnt").is_dir():
        pytest.skip("no /mnt to hold the mounts")
    needed = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), ROOT.resolve()]
    lines, stash = ["set -e", "mount -t tmpfs tmpfs /mnt"], 0
    closed = sorted(
        {p for path in needed for p in path.parents if p != Path("/") and not os.stat(p).st_mode & 0o001},
        key=lambda p: len(p.parts),
    )
    for folder in closed[:1]:  # the outermost: what lies below it is opened again by the mounts
        children = sorted({path.relative_to(folder).parts[0] for path in needed if folder in path.parents})
        for child in children:
            stash += 1
            lines += [f"mkdir /mnt/{stash}", f'mount --bind "{folder / child}" /mnt/{stash}']
        lines.append(f'mount -t tmpfs -o mode=0755 tmpfs "{folder}"')
        for index, child in enumerate(children, start=stash - len(children) + 1):
            lines += [f'mkdir "{folder / child}"', f'mount --bind /mnt/{index} "{folder / child}"']
    shared = [Path(folder) for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock") if Path(folder).is_dir()]
    # The test's folder, and the repository itself when it was cloned into one of the shared folders, cross over.
    carried = [keep.resolve()] + [ROOT.resolve()] * any(folder in ROOT.resolve().parents for folder in shared)
    carried = [path for path in carried if not any(other in path.parents for other in carried)]
    for index, path in enumerate(carried):
        lines += [f"mkdir /mnt/keep{index}", f'mount --bind "{path}" /mnt/keep{index}']
    lines += [f'mount -t tmpfs -o mode=1777 tmpfs "{folder}"' for folder in shared]
    for index, path in enumerate(carried):
        lines += [f'mkdir -p "{path}"', f'mount --bind /mnt/keep{index} "{path}"']
    lines.append('exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", "\n".join(lines), "sh"]


def without_namespaces() -> bytes:
    """The seccomp program of Docker's default profile as far as namespaces go: unshare, setns, clone's flags."""
    import platform

    program = sandbox._seccomp_program(platform.machine(), docker_like=True)
    if program is None:
        pytest.skip("no seccomp program for this processor")
    return program


@needs_sandbox
@pytest.mark.parametrize("kind", ["bubblewrap", "setpriv"])
def test_the_filter_refuses_what_no_limit_counts_and_new_namespaces_but_not_threads_or_children(tmp_path, kind):
    if kind == "setpriv" and os.geteuid() != 0:
        pytest.skip("the setpriv barrier needs a root grader")
    folder, slot = tmp_path / "box", sandbox.slots(1)[0]
    folder.mkdir()
    os.chmod(tmp_path, 0o755)
    sandbox.prepare_writable(folder, slot)
    line = sandbox.command([sys.executable, "-c", PROBE], folder, [], {}, limits=SMALL, slot=slot, barrier=kind)
    if kind == "setpriv":  # the machine's /tmp is root's alone under this barrier: the prefix gives it one of its own
        inside = (
            "import subprocess, sys\nfrom pathlib import Path\nfrom booktools.grading import sandbox\n"
            "limits = sandbox.Limits(*map(int, sys.argv[3:6]))\nslot = sandbox.Slot(0, (), int(sys.argv[6]))\n"
            "line = sandbox.command([sys.executable, '-c', sys.argv[1]], Path(sys.argv[2]), [], {}, limits=limits,"
            " slot=slot, barrier='setpriv')\nwith sandbox.shared_folders_locked():\n"
            "    sys.exit(subprocess.run(line).returncode)"
        )
        limits = map(str, (SMALL.memory_bytes, SMALL.processes, SMALL.disk_bytes))
        line = [*python_for_everyone(tmp_path), sys.executable, "-c", inside, PROBE, str(folder), *limits, str(os.getpid())]
    result = subprocess.run(line, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    refused = {name: found[name] for name in ("memfd_create", "msgget", "shmget", "unshare")}
    assert refused == dict.fromkeys(refused, "EPERM"), "memory that no limit counts, or a namespace, can be made"
    assert found["inet socket"] == "EAFNOSUPPORT" and found["unix socket"] == "allowed"
    assert found["thread and child"] == "ran"
    if os.geteuid() == 0:
        assert found["uid"] == slot.uid, "the sandbox does not run as its slot's own user"
    if kind == "setpriv":
        assert found["home"] == str(folder / ".tmp") and found["machine's /tmp"] == "EACCES"
    assert sandbox.end_user(slot.uid) == [] if os.geteuid() == 0 else True


def test_every_slot_is_a_user_of_its_own_one_job_too_and_its_judge_another():
    (one,) = sandbox.slots(1)
    first, second = sandbox.slots(2)
    users = {one.uid, one.judge().uid, first.uid, first.judge().uid, second.uid, second.judge().uid}
    assert len(users) == 4 and one.uid == first.uid, "slot 0 of one grader is one user whatever --jobs is"
    assert min(users) >= sandbox.FIRST_SLOT_UID
    with pytest.raises(ValueError, match="is not a sandbox's user"):
        sandbox.end_user(0)


@needs_sandbox
@needs_root
def test_the_next_sandbox_starts_only_once_every_process_of_the_last_is_gone(tmp_path):
    """A fork loop whose processes outlive their sandbox's first one: end_user leaves none, whatever they do."""
    bomb = (
        "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    try:\n"
        "        if os.fork() == 0:\n            os.setsid()\n            time.sleep(600)\n            os._exit(0)\n"
        "    except OSError:\n        print('full', flush=True)\n        time.sleep(600)"
    )
    slot = sandbox.slots(1)[0]
    sandbox.prepare_writable(tmp_path, slot)
    line = sandbox.command([sys.executable, "-c", bomb], tmp_path, [], {}, limits=SMALL, slot=slot, barrier="bubblewrap")
    with subprocess.Popen(line, stdout=subprocess.PIPE, text=True, cwd=ROOT) as process:
        try:
            assert process.stdout.readline().strip() == "full"
            assert len(sandbox.processes_of(slot.uid)) > 10
            assert sandbox.end_user(slot.uid) == [] and sandbox.processes_of(slot.uid) == []
        finally:
            process.kill()


def test_a_memory_group_counts_what_the_machine_offers_and_says_when_it_stopped_a_process(tmp_path):
    # cgroup v2 as a delegated hierarchy shows it: the grader's own group, its memory limit and its events.
    own = tmp_path / "grader.scope"
    own.mkdir()
    (own / "cgroup.controllers").write_text("cpu memory pids\n")
    group = watchdog.MemoryGroup.make(512 * MIB, root=tmp_path, own="0::/grader.scope\n")
    assert group is not None and group.version == 2 and group.path.parent == own
    assert (group.path / "memory.max").read_text() == str(512 * MIB) and (group.path / "memory.swap.max").read_text() == "0"
    (group.path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.stops() == 1 and group.procs == group.path / "cgroup.procs"
    assert watchdog.MemoryGroup.make(MIB, root=tmp_path, own="0::/elsewhere\n") is None, "made where none is offered"


@needs_root
def test_the_machines_memory_group_stops_a_process_holding_more_than_the_limit_in_a_tmpfs():
    group = watchdog.MemoryGroup.make(64 * MIB)
    if group is None:
        pytest.skip("this machine offers no memory cgroup to the grader")
    hold = "import mmap\nmemory = mmap.mmap(-1, 200 << 20, flags=mmap.MAP_SHARED)\nmemory.write(b'x' * (200 << 20))"
    try:
        result = subprocess.run(
            ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group.procs), sys.executable, "-c", hold], timeout=60
        )
        assert result.returncode == -9 and group.stops() >= 1, "shared memory past the group's limit was not stopped"
    finally:
        assert group.remove()


@needs_sandbox
def test_the_watchdog_counts_what_the_sandboxs_tmpfs_holds(tmp_path):
    fill = (
        "import time\nfor name in ('/tmp/a', '/dev/shm/b'):\n    open(name, 'wb').write(b'x' * (5 << 20))\n"
        "print('held', flush=True)\ntime.sleep(60)"
    )
    slot = sandbox.slots(1)[0]
    sandbox.prepare_writable(tmp_path, slot)
    line = sandbox.command([sys.executable, "-c", fill], tmp_path, [], {}, limits=SMALL, slot=slot, barrier="bubblewrap")
    with subprocess.Popen(line, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout.readline().strip() == "held"
            held = watchdog.tmpfs_bytes(watchdog.process_tree(process.pid))
        finally:
            process.kill()
    assert 10 * MIB <= held < 12 * MIB, held
    assert watchdog.tmpfs_bytes([os.getpid()]) == 0, "the grader's own /tmp is not the sandbox's"


def test_a_message_over_the_cap_is_refused_by_the_socket_the_client_really_reads(tmp_path, monkeypatch):
    """nbclient's client makes its own ZeroMQ context: the cap is set there, and ZeroMQ drops the oversized message."""
    import nbformat
    import zmq
    from jupyter_client import AsyncKernelManager

    monkeypatch.setattr(grade, "OUTPUT_BYTES", 1024)
    manager = AsyncKernelManager(transport="ipc", ip=str(tmp_path / "kernel"), connection_file=str(tmp_path / "c.json"))
    manager.write_connection_file()
    grade._bounded_client(nbformat.v4.new_notebook(), manager, 10)
    client = manager.client()
    assert client.context.getsockopt(zmq.MAXMSGSIZE) == 1024
    publisher = zmq.Context().socket(zmq.PUB)
    publisher.bind(client._make_url("iopub"))

    control = zmq.Context().socket(zmq.SUB)  # a socket without the cap, beside it: the message does arrive
    control.setsockopt(zmq.SUBSCRIBE, b"")
    control.connect(client._make_url("iopub"))

    async def receive() -> tuple[list[bytes], list[bytes]]:
        socket, received, beside = client.connect_iopub(), [], []  # the socket nbclient reads the kernel's outputs from
        assert socket.getsockopt(zmq.MAXMSGSIZE) == 1024
        deadline = time.monotonic() + 20
        while not (b"ready" in received and b"ready" in beside) and time.monotonic() < deadline:
            publisher.send(b"ready")  # a subscription takes a moment to arrive
            while await socket.poll(50):
                received.append(await socket.recv())
            while control.poll(0):
                beside.append(control.recv())
        publisher.send(b"x" * 4096)
        publisher.send(b"after")
        while b"after" not in beside and time.monotonic() < deadline:
            if control.poll(50):
                beside.append(control.recv())
        while await socket.poll(200):
            received.append(await socket.recv())
        socket.close(0)
        return received, beside

    try:  # in a thread of its own: an earlier test of this worker may have left an event loop running in this one
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            received, beside = pool.submit(asyncio.run, receive()).result()
    finally:
        publisher.close(0)
        control.close(0)
    assert b"x" * 4096 in beside, "the large message was never sent"
    assert b"ready" in received and max(map(len, received)) <= 1024, "a message above the cap reached the grader"


def test_the_canary_names_the_cause_and_the_fix_and_nothing_is_graded(tmp_path, monkeypatch, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    (folder / "ana.ipynb").write_text("{}")
    graded = []

    def broken(submission, root, chapter, time_limit, data_root, limits=None, use_sandbox=True, slot=None):
        graded.append(submission.student)
        run = grade.KernelRun(own_checks={}, first_error="ModuleNotFoundError: No module named 'cnnlab'")
        grade._observed.runs is not None and grade._observed.runs.append(run)
        stopped = grade.KernelRun(stopped="NameError: name 'checks' is not defined")
        return grade.task_results(submission, grade._questions(root, chapter), stopped, {}), "graded"

    monkeypatch.setattr(grade, "grade_submission", broken)
    monkeypatch.setattr(grade, "prepare_sample", lambda: tmp_path)
    monkeypatch.setattr(grade.sandbox, "available", lambda: None)
    assert command.main([str(folder), "--chapter", "ex1-conv-pool", "--out", str(out), "--root", str(ROOT)]) == 1
    error = capsys.readouterr().err
    assert "error: the answer key of ex1-conv-pool scores 0 / 8 in the grader's sandbox (graded), so no submission" in error
    assert "Cause: its first error was ModuleNotFoundError: No module named 'cnnlab'" in error
    assert "Fix: the sandbox could not import what the answer key needs (the grader imports cnnlab from" in error
    assert graded == ["answer key"] and not (out / "grades.csv").exists(), "a submission was graded after the canary failed"


@needs_sandbox
@pytest.mark.slow("grades Exercise 1's answer key once, importing cnnlab from a copy outside any install")
def test_the_sandbox_imports_cnnlab_from_where_the_grader_does(tmp_path, monkeypatch):
    copy = tmp_path / "elsewhere" / "cnnlab"
    shutil.copytree(ROOT / "code" / "src" / "cnnlab", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "checks" / "ex1.py").write_text(
        (copy / "checks" / "ex1.py").read_text() + "\nimport builtins as _b\n_b.GRADED_FROM_THE_COPY = True\n"
    )
    packages = grade._packages()
    monkeypatch.setattr(grade, "_packages", lambda: {**packages, "cnnlab": copy})
    (tmp_path / "data").mkdir()
    refusal = grade._canary(ROOT, "ex1-conv-pool", 60, grade.prepare_sample(), sandbox.DEFAULT_LIMITS, True)
    assert refusal == "", refusal
    # The same copy, broken: the canary refuses, and says the sandbox could not import it.
    (copy / "checks" / "__init__.py").write_text("raise ImportError('this copy of cnnlab is broken')\n")
    refusal = grade._canary(ROOT, "ex1-conv-pool", 60, grade.prepare_sample(), sandbox.DEFAULT_LIMITS, True)
    assert "scores 0 / 8" in refusal and "ImportError: this copy of cnnlab is broken" in refusal
    assert "Fix: the sandbox could not import what the answer key needs" in refusal


@needs_sandbox
@needs_root
@pytest.mark.slow("grades one Exercise 1 submission with Gradescope's entry point where namespaces are refused")
def test_where_namespaces_are_refused_gradescope_grades_behind_setpriv(tmp_path):
    from booktools.grading import autograder, gradescope

    folder = tmp_path / "autograder"
    (folder / "source").mkdir(parents=True)
    with __import__("zipfile").ZipFile(gradescope.write_zip(ROOT, "ex1-conv-pool", tmp_path / "dist", 60, 3)) as archive:
        archive.extractall(folder / "source")
    (folder / "submission").mkdir()
    import nbformat

    notebook = nbformat.read(ROOT / autograder.GRADING_DIR / "ex1-conv-pool" / autograder.SOLUTION, as_version=4)
    forge = (
        "import json, os\nfound = {}\nfor path in ['{folder}/results/results.json', '{folder}/submission/x', '/tmp/x']:\n"
        "    try:\n        open(path, 'w').write(json.dumps({'score': 1000}))\n        found[path] = 'written'\n"
        "    except OSError as error:\n        found[path] = error.strerror\nprint(found)"
    ).replace("{folder}", str(folder))
    notebook.cells.append(nbformat.v4.new_code_cell(forge))
    nbformat.write(notebook, folder / "submission" / "ex1-conv-pool.ipynb")
    os.chmod(tmp_path, 0o755)
    # The grader as Gradescope's container runs it: Docker's seccomp profile refuses it new namespaces.
    refused = (
        "import subprocess, sys\nfrom booktools.grading import sandbox\nsandbox.load_seccomp(bytes.fromhex(sys.argv[1]))\n"
        "sys.exit(subprocess.run(sys.argv[2:]).returncode)"
    )
    in_docker = [*python_for_everyone(tmp_path), sys.executable, "-c", refused, without_namespaces().hex()]
    probe = "from booktools.grading import sandbox; print(sandbox.barrier())"
    found = subprocess.run([*in_docker, sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert found.stdout.strip() == "setpriv", found.stderr[-2000:]
    entry = [sys.executable, "-m", "booktools", "gradescope", str(folder)]
    process = subprocess.run([*in_docker, *entry], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert process.returncode == 0, process.stdout + process.stderr
    document = json.loads((folder / "results" / "results.json").read_text())
    assert document["extra_data"] == {"barrier": "setpriv"} and "a user of its own (setpriv" in document["output"]
    assert document["score"] == 8, document
    for private in ("results", "submission"):
        assert (folder / private).stat().st_mode & 0o777 == 0o700, private
    assert not (folder / "submission" / "x").exists(), "the notebook wrote beside the submission"
