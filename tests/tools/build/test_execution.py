"""Tests of booktools.build.execution: the dependency fingerprint, the number of kernels, and chapters executed side by side."""

import nbformat
import pytest

from booktools.build import execution


@pytest.fixture
def book(tmp_path):
    (tmp_path / "lib" / "__pycache__").mkdir(parents=True)
    (tmp_path / "lib" / "helper.py").write_text("VALUE = 1\n")
    (tmp_path / "lib" / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"compiled")
    (tmp_path / "requirements.txt").write_text("torch==2.14.1\n")
    return tmp_path


def fingerprint(book, environ=None):
    return execution.dependency_fingerprint(book, ["lib", "requirements.txt"], ["CNNLAB_MNIST"], environ or {})


def test_fingerprint_changes_with_every_dependency(book):
    first = fingerprint(book)
    assert fingerprint(book) == first
    (book / "lib" / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"compiled again")
    assert fingerprint(book) == first, "byte-code caches are not sources"
    changes = []
    (book / "lib" / "helper.py").write_text("VALUE = 2\n")
    changes.append(fingerprint(book))
    (book / "lib" / "extra.py").write_text("")
    changes.append(fingerprint(book))
    (book / "requirements.txt").write_text("torch==2.15.0\n")
    changes.append(fingerprint(book))
    changes.append(fingerprint(book, {"CNNLAB_MNIST": "full"}))
    assert len({first, *changes}) == 5
    assert fingerprint(book, {"CNNLAB_MNIST": " "}) == fingerprint(book), "an empty value counts as unset, as cnnlab reads it"


def test_the_training_steps_are_a_dependency_too(book):
    variables = execution.fingerprint_variables([])
    steps = [execution.dependency_fingerprint(book, [], variables, {"CNNLAB_TRAINING_STEPS": n}) for n in ("", "100")]
    assert steps[0] != steps[1], "outputs trained for 100 steps must not be reused for a full build"


def test_a_renamed_file_changes_the_fingerprint(book):
    before = fingerprint(book)
    (book / "lib" / "helper.py").rename(book / "lib" / "helpers.py")
    assert fingerprint(book) != before


def test_missing_dependency_is_named(book):
    with pytest.raises(FileNotFoundError, match="book_execution_dependencies names 'cnnlab', which is not in"):
        execution.dependency_fingerprint(book, ["cnnlab"], [])


def test_parallel_workers_refuses_a_negative_request():
    with pytest.raises(ValueError, match="book_execution_workers=-1 must be 0"):
        execution.parallel_workers(3, cpus=2, requested=-1)


def notebook(*sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


# The transport the kernel itself was started with.
TRANSPORT = "import json, ipykernel; print(json.loads(ipykernel.get_connection_info())['transport'])"


def test_chapters_execute_side_by_side_with_one_thread_each(tmp_path):
    threads = "import os; print(os.environ['CNNLAB_THREADS'], os.environ['OMP_NUM_THREADS'], os.environ['BOOK_KERNEL_CHAPTER'])"
    chapters = [
        execution.Chapter("book/a", notebook("x = 6 * 7", "print(x)", threads), tmp_path / "a.md"),
        execution.Chapter("book/b", notebook("1 / 0", "print('never')"), tmp_path / "b.md"),
        execution.Chapter("book/c", notebook("import os; print(os.getcwd())", TRANSPORT), tmp_path / "c.md"),
    ]
    finished = []
    result = execution.execute_side_by_side(chapters, workers=2, timeout=60, threads_per_kernel=1, done=finished.append)
    assert sorted(chapter.docname for chapter in result) == ["book/a", "book/b", "book/c"]
    assert finished == result
    a, b, c = chapters
    assert a.error is None and a.seconds > 0
    assert a.notebook.cells[1].outputs[0]["text"] == "42\n"
    assert a.notebook.cells[2].outputs[0]["text"] == "1 1 book/a\n"
    assert "ZeroDivisionError" in b.error and b.notebook.cells[1].outputs == []
    assert c.notebook.cells[0].outputs[0]["text"].strip() == str(tmp_path), "a chapter runs in its own folder"
    assert c.notebook.cells[1].outputs[0]["text"] == "ipc\n", "a kernel over TCP can lose its port to another"


def test_an_executed_notebook_keeps_its_cache_key(tmp_path):
    from jupyter_cache import get_cache

    cache = get_cache(tmp_path / "cache")
    chapter = execution.Chapter("book/a", notebook("x = 1", "print(x)"), tmp_path / "a.md")
    _, before = cache.create_hashed_notebook(chapter.notebook)
    execution.execute_side_by_side([chapter], workers=1, timeout=60)
    assert chapter.notebook.cells[1].outputs
    assert cache.create_hashed_notebook(chapter.notebook)[1] == before, "myst-nb would not find the executed chapter"


def test_the_kernel_record_survives_a_killed_kernel(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    record = tmp_path / "kernel.jsonl"
    script = (
        "import threading, time\n"
        "from booktools.build import measured_kernel as kernel\n"
        "start = time.perf_counter()\n"
        f"threading.Thread(target=kernel._keep_recording, args=({str(record)!r}, 'book/x', start, 0.05), daemon=True).start()\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (record.is_file() and json.loads(record.read_text())["wall_s"] > 0.3):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (line,) = record.read_text().splitlines()
    saved = json.loads(line)
    assert saved["chapter"] == "book/x" and saved["peak_memory_mb"] > 5 and saved["wall_s"] > 0.3


def test_the_cell_timeout_is_the_runners_and_a_timeout_in_the_config_is_refused():
    from types import SimpleNamespace

    from sphinx.errors import ConfigError

    from booktools.runner import CELL_TIMEOUT

    for given in (30, CELL_TIMEOUT):  # 30: Jupyter Book's value when _config.yml names none
        config = SimpleNamespace(nb_execution_timeout=given)
        execution._cell_timeout(None, config)
        assert config.nb_execution_timeout == CELL_TIMEOUT
    with pytest.raises(ConfigError, match="remove execute.timeout from _config.yml"):
        execution._cell_timeout(None, SimpleNamespace(nb_execution_timeout=45))
