"""The sandbox's limits, each tried by a small sandboxed Python with tiny limits: no kernel, a second or two each.

What a whole hostile notebook meets (an output flood, processes that together
pass the memory limit, a link to the answer key) is tested in
tests/notebooks/test_grading_hostile.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from booktools.grading import sandbox, watchdog

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")

MIB = 1 << 20
SMALL = sandbox.Limits(memory_bytes=256 * MIB, processes=64, disk_bytes=8 * MIB)


def sandboxed(code: str, folder: Path, limits: sandbox.Limits = SMALL, slot: sandbox.Slot | None = None) -> list[str]:
    sandbox.prepare_writable(folder, slot)
    return sandbox.command([sys.executable, "-c", code], folder, [], {}, limits=limits, slot=slot)


def test_tmp_and_shm_hold_at_most_the_disk_limit_files_are_bounded_and_system_v_memory_is_refused(tmp_path):
    """And the sandbox stays on the processor it was given."""
    code = (
        "import ctypes, errno, json\n"
        "def write(path, mib):\n"
        "    try:\n"
        "        with open(path, 'wb') as file:\n"
        "            for _ in range(mib):\n"
        "                file.write(b'x' * (1 << 20))\n"
        "        return 'written'\n"
        "    except OSError as error:\n"
        "        return errno.errorcode[error.errno]\n"
        "found = {'one big file': write('big', 12), 'tmp': [write(f'/tmp/{i}', 3) for i in range(4)],\n"
        "         'shm': [write(f'/dev/shm/{i}', 3) for i in range(4)]}\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "found['shmget'] = libc.shmget(0, ctypes.c_size_t(1 << 20), 0o1600), errno.errorcode[ctypes.get_errno()]\n"
        "import os\nfound['cpus'] = sorted(os.sched_getaffinity(0))\n"
        "try:\n    os.sched_setaffinity(0, range(os.cpu_count()))\n    found['widened'] = 'yes'\n"
        "except OSError as error:\n    found['widened'] = errno.errorcode[error.errno]\n"
        "print(json.dumps(found))\n"
    )
    last = max(os.sched_getaffinity(0))
    result = subprocess.run(sandboxed(code, tmp_path, slot=sandbox.Slot(0, (last,))), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["one big file"] == "EFBIG", "RLIMIT_FSIZE lets a file grow past the disk limit"
    assert found["tmp"][:2] == ["written", "written"] and "ENOSPC" in found["tmp"], "/tmp is not bounded"
    assert found["shm"][:2] == ["written", "written"] and "ENOSPC" in found["shm"], "/dev/shm is not bounded"
    assert found["shmget"] == [-1, "EPERM"], "System V shared memory, which no limit counts, can be made"
    assert found["cpus"] == [last] and found["widened"] == "EPERM", "the sandbox can leave the processor it was given"


def leftover(folder: Path, seconds: float = 10) -> str:
    """The processes whose command line names ``folder`` (each sandbox's own), once those being killed have ended."""
    deadline = time.monotonic() + seconds
    while True:
        found = subprocess.run(["pgrep", "-af", str(folder)], capture_output=True, text=True).stdout.strip()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def watched(code: str, folder: Path, limits: sandbox.Limits = SMALL) -> tuple[watchdog.Watchdog, float]:
    """Run ``code`` in a sandbox under a watchdog; return the watchdog and the seconds until the sandbox ended."""
    start = time.monotonic()
    process = subprocess.Popen(sandboxed(code, folder, limits), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with watchdog.Watchdog(process.pid, folder, limits, interval=0.1) as dog:
        try:
            process.wait(timeout=60)
        finally:
            process.kill()
    return dog, time.monotonic() - start


@pytest.mark.parametrize(
    "code",
    [
        # Three processes of 120 MiB each: each within its own 256 MiB of data, together past the 256 MiB allowed.
        "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        block = bytearray(120 << 20)\n"
        "        time.sleep(60)\ntime.sleep(60)",
        # 200 MiB of data and 64 MiB in the in-memory /tmp and /dev/shm (32 MiB each at most): past the limit together.
        "import time\nblock = bytearray(200 << 20)\nfor name in ('/tmp/a', '/dev/shm/b'):\n"
        "    open(name, 'wb').write(b'x' * (32 << 20))\ntime.sleep(60)",
    ],
    ids=["processes", "data and tmpfs"],
)
def test_the_watchdog_stops_a_sandbox_whose_memory_together_passes_the_limit(tmp_path, code):
    """In-memory files (memfd), which could leave every process's file table in flight, are refused instead: see
    tests/tools/grading/test_sandbox_barriers.py."""
    dog, seconds = watched(code, tmp_path, sandbox.Limits(memory_bytes=256 * MIB, processes=64, disk_bytes=64 * MIB))
    assert dog.status == "memory limit" and seconds < 30, dog.stopped
    assert "processes used" in dog.stopped and "more than the 0.2 GiB allowed" in dog.stopped
    assert not leftover(tmp_path), "a process of the sandbox outlived it"


@pytest.mark.parametrize(
    "code",
    [
        "for i in range(10_000):\n    open(f'file-{i}', 'wb').write(b'x' * (1 << 20))",
        "import time\nfor i in range(10 ** 6):\n    open(f'empty-{i}', 'w').close()\ntime.sleep(60)",
        # Write and search, but no reading: a grader that is not root could not list it.
        "import os\nos.makedirs('hidden/deeper')\nos.chmod('hidden', 0o300)\nfor i in range(10_000):\n"
        "    open(f'hidden/deeper/{i}', 'wb').write(b'x' * (1 << 20))",
    ],
    ids=["many 1 MiB files", "a million empty files", "a folder the owner cannot list"],
)
def test_the_watchdog_stops_a_sandbox_that_fills_its_folder(tmp_path, code):
    dog, seconds = watched(code, tmp_path)
    assert dog.status == "disk limit" and seconds < 30, dog.stopped
    assert "allowed, so the grader stopped it" in dog.stopped


def test_a_quiet_sandbox_within_its_limits_is_left_alone(tmp_path):
    dog, _ = watched("open('answer.txt', 'w').write('42')", tmp_path)
    assert dog.status is None and dog.stopped is None
    assert (tmp_path / "answer.txt").read_text() == "42"


def test_a_folder_the_grader_cannot_list_stops_the_sandbox(tmp_path, monkeypatch):
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / "data").write_bytes(b"x" * 100_000)
    listed = os.scandir

    def scandir(path):  # what an unprivileged grader meets once the sandbox made a folder mode 0o300
        if Path(path).name == "hidden":
            raise PermissionError(13, "Permission denied")
        return listed(path)

    monkeypatch.setattr(watchdog.os, "scandir", scandir)
    assert watchdog.folder_usage(tmp_path)[1:] == (1, 1)
    dog, stopped = watchdog.Watchdog(2**22 + 12345, tmp_path, SMALL), []
    monkeypatch.setattr(dog, "stop_sandbox", lambda status, why: stopped.append((status, why)))
    dog.check()
    assert stopped == [
        (
            "disk limit",
            "not graded: the notebook made a folder that the grader cannot list, so it could not measure the "
            "notebook's files, and stopped it",
        )
    ]


def test_a_process_that_has_ended_uses_no_memory_and_one_that_hides_its_memory_is_stopped(monkeypatch):
    assert 0 < watchdog.memory_bytes(os.getpid()) <= watchdog.memory_bytes(os.getpid(), exact=False)
    assert watchdog.memory_bytes(2**22 + 12345) == 0
    read, listed = Path.read_text, os.listdir

    # What an unprivileged grader meets once a process made itself non-dumpable: its status stays readable.
    def hidden_read(path, *args, **kwargs):
        if path.name == "smaps_rollup":
            raise PermissionError(13, "Permission denied")
        return read(path, *args, **kwargs)

    def hidden_list(path):
        if str(path).endswith("/fd"):
            raise PermissionError(13, "Permission denied")
        return listed(path)

    monkeypatch.setattr(watchdog.Path, "read_text", hidden_read)
    monkeypatch.setattr(watchdog.os, "listdir", hidden_list)
    assert watchdog.memory_bytes(os.getpid()) is None and watchdog.memory_bytes(os.getpid(), exact=False) is None
    stopped = []
    dog = watchdog.Watchdog(2**22 + 12345, None, SMALL)
    monkeypatch.setattr(watchdog, "process_tree", lambda root: [os.getpid()])
    monkeypatch.setattr(dog, "stop_sandbox", lambda status, why: stopped.append((status, why)))
    dog.check()
    assert stopped and stopped[0][0] == "memory limit" and "hid its memory" in stopped[0][1]


def test_a_sandbox_that_uses_up_its_processes_leaves_the_next_slot_its_own(tmp_path):
    # The kernel counts processes per user: two slots' sandboxes must not be one user (under a root grader), or one
    # notebook's fork loop would leave the kernel graded beside it unable to start a thread. Nor may two grading
    # processes' slots: the grading tests run beside this one.
    few = sandbox.Limits(memory_bytes=256 * MIB, processes=12, disk_bytes=8 * MIB)
    hog = (
        "import os, time\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(60)\n            os._exit(0)\nexcept OSError:\n    print('full', flush=True)\ntime.sleep(60)"
    )
    neighbour = "import os\nfor _ in range(4):\n    if os.fork() == 0:\n        os._exit(0)\n    os.wait()\nprint('forked 4')"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = sandbox.slots(2)
    with subprocess.Popen(sandboxed(hog, tmp_path / "a", few, first), stdout=subprocess.PIPE, text=True) as hogging:
        try:
            assert hogging.stdout.readline().strip() == "full"
            result = subprocess.run(sandboxed(neighbour, tmp_path / "b", few, second), capture_output=True, text=True, timeout=60)
        finally:
            hogging.kill()
    assert result.stdout.strip() == "forked 4", result.stderr[-500:]
    assert first.uid != second.uid and sandbox.Slot(0, grader=12345).uid != sandbox.Slot(0, grader=12346).uid
