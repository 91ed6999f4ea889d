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

from bookpaths import ROOT


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
    asking = getattr(request, "_pyfuncitem", None)
    waiting = time.perf_counter()
    with FileLock(str(out / "build.lock")):
        if (out / "build.json").is_file():
            if asking is not None and time.perf_counter() - waiting > 1:
                asking.user_properties.append(("slow", "waits for the book build that another worker runs"))
            return _read_build(out)
        shutil.rmtree(out / "_build", ignore_errors=True)
        if asking is not None:
            asking.user_properties.append(("slow", "builds the book that the book, notebooks and browser tests share"))
        env = {**os.environ, "CNNLAB_MNIST": os.environ.get("CNNLAB_MNIST", "sample")}
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
