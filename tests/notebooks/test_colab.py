"""The Colab contract, offline.

A Colab-like environment: a fresh virtual environment over this machine's
packages (torch, torchvision and numpy already there, as on Colab), with
pip from outside it as on Colab, a stand-in ``google.colab`` module imported
at start-up, and this checkout's ``code/`` served as a git repository from
disk in place of GitHub (through the setup cell's ``CNNLAB_PACKAGE_URL``
override). For every student notebook:

* its first cell installs ``cnnlab`` into that environment, and pip changes
  none of the packages already present;
* the notebook, with the reference solutions in its blanks, runs to the end
  and every self-check passes.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from bookpaths import ROOT
from booktools import notebooks

pytestmark = pytest.mark.notebooks

KERNEL = "colab-like"
STUDENT_NOTEBOOKS = [path.stem for path in notebooks.chapters_with_code(ROOT / "book")]
PROBE = "import sys, cnnlab\nprint(cnnlab.__file__)\nprint('google.colab' in sys.modules)"


@dataclass
class Colab:
    python: Path
    site_packages: Path
    package_url: str
    jupyter_path: Path

    def packages(self) -> dict[str, str]:
        """Every distribution the environment's Python sees, with its version."""
        listing = subprocess.run(
            [str(self.python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=True,
        )
        return {item["name"].lower(): item["version"] for item in json.loads(listing.stdout)}


def serve_code_as_git(target: Path) -> str:
    """Copy this checkout's ``code/`` into a fresh git repository; return its pip address."""
    shutil.copytree(ROOT / "code", target / "code", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    git = ["git", "-C", str(target), "-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(target)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the checkout's code/"], check=True)
    # pip 23 wants a host in a git+file address; git reads file://localhost/ as a local path.
    return f"git+file://localhost{target}@main#subdirectory=code"


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> Colab:
    root = tmp_path_factory.mktemp("colab")
    venv = root / "venv"
    # Colab's pip and setuptools are its system's; so are ours (no pip inside the venv).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    fake = site_packages / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""A stand-in for Colab\'s module: the tests\' Colab-like environment."""\n')
    # Colab imports google.colab at start-up; so does this environment.
    (site_packages / "fake_colab.pth").write_text("import google.colab\n")
    kernel_dir = root / "jupyter" / "kernels" / KERNEL
    kernel_dir.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL,
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    return Colab(python, site_packages, serve_code_as_git(root / "repository"), root / "jupyter")


@pytest.fixture
def colab_kernel(colab, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(colab.jupyter_path))
    monkeypatch.setenv("CNNLAB_PACKAGE_URL", colab.package_url)
    monkeypatch.setenv("CNNLAB_MNIST", os.environ.get("CNNLAB_MNIST", "sample"))
    return colab


def run(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=900, resources={"metadata": {"path": str(ROOT / "book")}})
    client.execute()
    return notebook


def text_of(cell) -> str:
    return "".join(output.get("text", "") or "".join(output.get("data", {}).get("text/plain", "")) for output in cell.outputs)


def test_the_environment_is_colab_like(colab):
    probe = subprocess.run(
        [str(colab.python), "-c", "import sys, torch; print('google.colab' in sys.modules)"], capture_output=True, text=True
    )
    assert probe.stdout.strip() == "True", probe.stderr
    assert not (colab.site_packages / "cnnlab").exists(), "cnnlab is installed before the setup cell ran"


@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_colab_contract(colab_kernel, name):
    book = notebooks.Book.from_config(ROOT)
    committed = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    solved = notebooks.student_notebook(ROOT / "book" / f"{name}.md", book, solved=True)
    assert solved.cells[0].source == committed.cells[0].source
    assert [cell.source for cell in solved.cells if "# ✎" not in cell.source] == [
        cell.source for cell in committed.cells if "# ✎" not in cell.source
    ], f"{name}.ipynb is stale: run python -m booktools.notebooks"

    before = colab_kernel.packages()
    setup = run(
        nbformat.v4.new_notebook(
            cells=[copy.deepcopy(solved.cells[0]), nbformat.v4.new_code_cell(PROBE)], metadata=solved.metadata
        )
    )
    after = colab_kernel.packages()
    changed = {package: (version, after.get(package)) for package, version in before.items() if after.get(package) != version}
    assert changed == {}, f"the setup cell changed packages Colab already has: {changed}"
    location, colab_seen = text_of(setup.cells[1]).split()
    assert colab_seen == "True"
    assert Path(location).is_relative_to(colab_kernel.site_packages), (
        f"cnnlab was imported from {location}, not installed by the setup cell"
    )

    executed = run(solved)
    checks = [cell for cell in executed.cells if cell.cell_type == "code" and "checks.check_" in cell.source]
    for cell in checks:
        passed = text_of(cell).count("✓ Task ")
        assert passed == cell.source.count("checks.check_"), f"{cell.source}\ngave {text_of(cell)!r}"
    if re.match(r"ex\d", name):
        assert checks, f"{name} has no self-check"
