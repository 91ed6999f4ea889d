"""Shared fixtures: the repository's paths and one build of the whole book per test run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

import slow_reasons
from bookpaths import ROOT, SHORT_TRAINING
from cnnlab import environment


@dataclass
class BuiltBook:
    html: Path
    executed: Path
    log: str
    returncode: int
    seconds: float


def _read_build(out: Path) -> BuiltBook:
    saved = json.loads((out / "build.json").read_text())
    log = (out / "build.log").read_text()
    return BuiltBook(out / "_build" / "html", out / "_build" / "jupyter_execute", log, saved["returncode"], saved["seconds"])


# The tests' book build: the data mode the run asks for (the MNIST sample by default) and short training. What the
# build's tests check does not depend on how long the network trained; the book workflow publishes a full build.
BUILD_SETTINGS = {
    environment.MNIST_MODE: os.environ.get(environment.MNIST_MODE, "sample"),
    environment.TRAINING_STEPS: str(SHORT_TRAINING),
}


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, request) -> BuiltBook:
    """Build the book once per test run, exactly as the README says, into a folder all workers share.

    Under pytest-xdist every worker asks for it: the first takes the lock and
    builds, the others wait for the lock and read the same build. When
    ``CNNLAB_BUILT_BOOK`` names a folder, the build goes there, and a build
    already recorded there is used again: the CI workflow builds once in its
    book step, and its later steps read the same site. Either way the build
    starts from an empty execution cache, so every chapter is executed.
    """
    reuse = os.environ.get("CNNLAB_BUILT_BOOK")
    # Under xdist each worker's temporary folder sits inside one folder of the whole run.
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else tmp_path_factory.getbasetemp()
    out = Path(reuse).resolve() if reuse else shared / "built-book"
    out.mkdir(parents=True, exist_ok=True)
    # The test that asks first waits for the build, here or on another worker: the run's summary says why.
    waiting = time.perf_counter()
    with FileLock(str(out / "build.lock")):
        if (out / "build.json").is_file():
            if time.perf_counter() - waiting > 1:
                slow_reasons.note(request, "waits for the book build that another worker runs")
            return _read_build(out)
        shutil.rmtree(out / "_build", ignore_errors=True)
        slow_reasons.note(request, "builds the book that the book, notebooks and browser tests share")
        env = {**os.environ, **BUILD_SETTINGS}
        jupyter_book = shutil.which("jupyter-book") or "jupyter-book"
        start = time.perf_counter()
        process = subprocess.run(
            [jupyter_book, "build", ".", "--all", "-W", "-n", "--keep-going", "--path-output", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        log = process.stdout + process.stderr
        (out / "build.log").write_text(log)
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        (artifacts / "build.log").write_text(log)
        (out / "build.json").write_text(json.dumps({"returncode": process.returncode, "seconds": seconds}))
        print(f"\nbook built in {seconds:.0f} s", file=sys.stderr)
        return _read_build(out)


@dataclass
class PrintedBook:
    site: Path
    pdfs: dict[str, Path]
    log: str
    returncode: int
    seconds: float


@pytest.fixture(scope="session")
def printed_book(built_book, request) -> PrintedBook:
    """Both PDF editions, printed once per test run by the README's command from the shared build.

    The command runs on a copy of the build (its site and execution cache), so
    that its single-page build never writes into the folder other tests read;
    the chapters come from the cache, and nothing is executed again.
    """
    from booktools.publish.pdf import EDITIONS

    out = built_book.html.parents[1].with_name("printed-book")
    out.mkdir(exist_ok=True)
    pdfs = {edition.name: out / "_build" / "pdf" / edition.filename for edition in EDITIONS}
    waiting = time.perf_counter()
    with FileLock(str(out / "print.lock")):
        if (out / "print.json").is_file() and time.perf_counter() - waiting > 1:
            slow_reasons.note(request, "waits for the PDFs that another worker prints")
        if not (out / "print.json").is_file():
            assert built_book.returncode == 0, "the book did not build; see tests/book/test_build.py"
            slow_reasons.note(request, "prints both PDF editions that the PDF tests share")
            shutil.rmtree(out / "_build", ignore_errors=True)
            for folder in ("html", ".jupyter_cache"):
                shutil.copytree(built_book.html.parent / folder, out / "_build" / folder)
            # The build's settings: the single-page build takes every chapter from the execution cache, whose keys
            # include the data mode and the training steps.
            env = {**os.environ, **BUILD_SETTINGS}
            start = time.perf_counter()
            command = [sys.executable, "-m", "booktools", "pdf", "--path-output", str(out)]
            process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            log = process.stdout + process.stderr
            (out / "print.log").write_text(log)
            seconds = time.perf_counter() - start
            (out / "print.json").write_text(json.dumps({"returncode": process.returncode, "seconds": seconds}))
        saved = json.loads((out / "print.json").read_text())
        return PrintedBook(out / "_build" / "html", pdfs, (out / "print.log").read_text(), saved["returncode"], saved["seconds"])
