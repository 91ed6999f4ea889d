"""Shared fixtures: the repository's paths and one build of the whole book per test run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bookpaths import ROOT


@dataclass
class BuiltBook:
    html: Path
    executed: Path
    log: str
    returncode: int
    seconds: float


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> BuiltBook:
    """Build the book once, exactly as the README says, into a temporary folder.

    When ``CNNLAB_BUILT_BOOK`` names a folder, the build goes there, and a
    build already recorded there is used again: the CI workflow builds once in
    its book step and its browser step reads the same site.
    """
    import json
    import time

    reuse = os.environ.get("CNNLAB_BUILT_BOOK")
    out = Path(reuse).resolve() if reuse else tmp_path_factory.mktemp("book")
    record = out / "build.json"
    if reuse and record.is_file():
        saved = json.loads(record.read_text())
        log = (out / "build.log").read_text()
        return BuiltBook(out / "_build" / "html", out / "_build" / "jupyter_execute", log, saved["returncode"], saved["seconds"])
    out.mkdir(parents=True, exist_ok=True)
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
    record.write_text(json.dumps({"returncode": process.returncode, "seconds": seconds}))
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "build.log").write_text(log)
    print(f"\nbook built in {seconds:.0f} s", file=sys.stderr)
    return BuiltBook(out / "_build" / "html", out / "_build" / "jupyter_execute", log, process.returncode, seconds)
