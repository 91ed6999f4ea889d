"""The Colab contract, offline, and nbval on every chapter, in one execution per chapter.

A Colab-like environment: a fresh virtual environment over this machine's
packages (torch, torchvision and numpy already there, as on Colab), with
pip from outside it as on Colab, a stand-in ``google.colab`` module imported
at start-up, and this checkout's ``code/`` served as a git repository from
disk in place of GitHub (through the setup cell's ``CNNLAB_PACKAGE_URL``
override). For every student notebook, nbval runs it with the reference
solutions in its blanks, in that environment:

* its first cell installs ``cnnlab``, which is then imported from the
  environment, and pip changes none of the packages already present. That
  setup cell is one text in every notebook (checked), so it runs in the
  first notebook of the run only: the others find ``cnnlab`` installed, and
  pip resolves its requirements once, not once per chapter (4 s each);
* every cell runs, and every self-check passes with the message the site shows
  (training runs for fewer steps, ``CNNLAB_TRAINING_STEPS``, as in the tests'
  book build and under the grader);
* every cell tagged ``nbval-check-output`` in the chapter prints what it
  printed in the book build: nbval compares them, so a result that is not
  reproducible fails here.

Running the chapter once for both checks halves what the notebooks cost: the
student notebook's code cells are the chapter's, with the setup cell first.
One nbval process runs every chapter the session selected (``-k ex2`` runs
one), and each chapter's test reads its result from that run's report.
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

import slow_reasons
from bookpaths import GIT_IDENTITY, ROOT, SHORT_TRAINING, book_repository, chapters_with_code
from booktools import notebooks
from booktools.book import Book
from booktools.publish import colab_watch, release
from booktools.runner import CELL_TIMEOUT, kernel_environment

pytestmark = pytest.mark.notebooks

KERNEL = "colab-like"
# nbval runs every chapter with code, as the table of contents lists them.
STUDENT_NOTEBOOKS = [name.removeprefix("book/") for name in chapters_with_code()]
# nbval colours its messages; the junit report keeps the codes, escaped.
JUNIT_COLOURS = re.compile(r"#x1B\[[\d;]*m")


@dataclass
class Colab:
    python: Path
    site_packages: Path
    package_url: str
    jupyter_path: Path

    def environment(self) -> dict[str, str]:
        """The variables under which a kernel named ``KERNEL`` is this environment's, and its setup cell installs
        cnnlab from this checkout; its kernels use one PyTorch thread, as the build's do, since the other test worker
        has the other core (two threads would wait for each other, spinning)."""
        return kernel_environment(
            threads=1,
            mnist=os.environ.get("CNNLAB_MNIST", "sample"),
            base={"JUPYTER_PATH": str(self.jupyter_path), "CNNLAB_PACKAGE_URL": self.package_url},
        )

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
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    # pip 23 wants a host in a git+file address; git reads file://localhost/ as a local path. A commit (as a
    # term release's tag would be) rather than a branch lets pip reuse the wheel it built for the first notebook.
    return f"git+file://localhost{target}@{commit}#subdirectory=code"


def make_colab(root: Path, package_url: str) -> Colab:
    """A Colab-like environment in ``root``, whose setup cell may install cnnlab from ``package_url``."""
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
    return Colab(python, site_packages, package_url, root / "jupyter")


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> Colab:
    root = tmp_path_factory.mktemp("colab")
    return make_colab(root, serve_code_as_git(root / "repository"))


@pytest.fixture
def colab_kernel(colab, monkeypatch):
    for variable, value in colab.environment().items():
        monkeypatch.setenv(variable, value)
    return colab


def nbval_notebook(
    solved: nbformat.NotebookNode, executed: nbformat.NotebookNode, site_packages: Path, install: bool = True
) -> nbformat.NotebookNode:
    """The solved student notebook with the book build's outputs, for nbval to compare.

    A probe cell after the setup cell checks that ``cnnlab`` now comes from the
    environment. Cells the chapter tags ``nbval-check-output``, and the
    self-check cells, are tagged for nbval to compare. Without ``install`` the
    setup cell is left out: an earlier notebook of the same run has run it.
    """
    notebook = copy.deepcopy(solved)
    chapter_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    student_cells = [cell for cell in notebook.cells if cell.cell_type == "code"][1:]
    assert [strip(cell.source) for cell in student_cells] == [strip(cell.source) for cell in chapter_cells], (
        "the student notebook's code cells are not the chapter's"
    )
    for student, chapter in zip(student_cells, chapter_cells):
        student.outputs, student.execution_count = chapter.outputs, chapter.execution_count
        if "nbval-check-output" in chapter.metadata.get("tags", []) or "checks.check_" in chapter.source:
            student.metadata.setdefault("tags", []).append("nbval-check-output")
    probe = (
        "import sys\nimport cnnlab\n\n"
        "assert 'google.colab' in sys.modules, 'not the Colab-like kernel'\n"
        f"assert cnnlab.__file__.startswith({str(site_packages)!r}), "
        "f'cnnlab was imported from {cnnlab.__file__}, not installed by the setup cell'"
    )
    notebook.cells.insert(1, nbformat.v4.new_code_cell(probe))
    if not install:
        del notebook.cells[0]
    return notebook


def run_nbval(notebooks: list[Path], report: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Run the notebooks under nbval in the Colab-like kernel, in one pytest process; each notebook's failures, by name.

    Each notebook's folder is its kernel's, as book/ is for the build. One
    process for every notebook: a pytest process per notebook would start
    pytest and its plugins eleven times over.
    """
    import xml.etree.ElementTree as ElementTree

    process = subprocess.run(
        [str(sys.executable), "-m", "pytest", "--nbval-lax", "--nbval-kernel-name", KERNEL]
        + ["--nbval-cell-timeout", str(CELL_TIMEOUT), "-p", "no:cacheprovider", "-q", f"--junitxml={report}"]
        + [str(path) for path in notebooks],
        cwd=notebooks[0].parent,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert report.is_file(), (
        f"nbval wrote no report (exit {process.returncode}):\n{process.stdout[-6000:]}{process.stderr[-3000:]}"
    )
    failures: dict[str, str] = {}
    ran: set[str] = set()
    for case in ElementTree.parse(report).iter("testcase"):
        name = Path(case.get("classname", "")).stem  # the notebook's file name
        ran.add(name)
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = JUNIT_COLOURS.sub("", problem.text or problem.get("message", ""))
            failures[name] = failures.get(name, "") + f"{case.get('name')}: {text[-3000:]}\n"
    missing = {path.stem for path in notebooks} - ran
    assert not missing, f"nbval ran no cell of {sorted(missing)}:\n{process.stdout[-6000:]}"
    assert failures or process.returncode == 0, process.stdout[-6000:] + process.stderr[-3000:]
    return failures


def text_of(cell) -> str:
    return "".join(output.get("text", "") or "".join(output.get("data", {}).get("text/plain", "")) for output in cell.outputs)


def strip(source: str) -> str:
    """A cell's code without the markers the generator removes or keeps."""
    lines = [re.sub(r"\s+# given$", "", line).replace("# given: ", "# ") for line in source.splitlines()]
    return "\n".join(lines).replace("  # ✎", "").strip()


def test_the_environment_is_colab_like(tmp_path):
    colab = make_colab(tmp_path, package_url="")  # its own: the other tests' setup cells install cnnlab in theirs
    probe = subprocess.run(
        [str(colab.python), "-c", "import sys, torch; print('google.colab' in sys.modules)"], capture_output=True, text=True
    )
    assert probe.stdout.strip() == "True", probe.stderr
    assert not (colab.site_packages / "cnnlab").exists(), "cnnlab is installed before the setup cell ran"


def build_self_checks_passed(name: str, executed: nbformat.NotebookNode) -> None:
    checks = [cell for cell in executed.cells if cell.cell_type == "code" and "checks.check_" in cell.source]
    for cell in checks:
        assert text_of(cell).count("✓ Task ") == cell.source.count("checks.check_"), (
            f"{name}: the build's self-check failed:\n{cell.source}"
        )


@dataclass
class NbvalRun:
    """One nbval run over the chapters a test session selected, in the Colab-like kernel."""

    solved: dict[str, nbformat.NotebookNode]  # each chapter run: its student notebook with the solutions, made now
    failures: dict[str, str]  # chapter: what failed
    changed: dict[str, tuple[str, str | None]]  # package: (version before, after) where a setup cell changed it


@pytest.fixture(scope="module")
def nbval_run(request, colab, built_book, tmp_path_factory) -> NbvalRun:
    """nbval on the solved student notebook of every chapter this session selected, in one pytest process.

    A pytest process per chapter would start pytest, its plugins and two pip
    listings eleven times over; each chapter's test reads its own result. The
    tests are one xdist group, so one worker runs them all.
    """
    assert built_book.returncode == 0, "the book build failed; see tests/book/test_build.py"
    chapters = [
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_colab_contract_and_nbval"
    ]
    slow_reasons.note(request, f"runs nbval on the {len(chapters)} selected chapters in the Colab-like kernel")
    folder = tmp_path_factory.mktemp("nbval")
    book = Book.from_config(ROOT)
    paths, failures = [], {}
    solved = {name: notebooks.student_notebook(ROOT / "book" / f"{name}.md", book, solved=True) for name in chapters}
    setup_cells = {notebook.cells[0].source for notebook in solved.values()}
    assert len(setup_cells) == 1, "the chapters' setup cells differ: run python -m booktools notebooks"
    for name in chapters:
        executed = nbformat.read(built_book.executed / "book" / f"{name}.ipynb", as_version=4)
        try:
            notebook = nbval_notebook(solved[name], executed, colab.site_packages, install=not paths)
        except AssertionError as error:
            failures[name] = str(error)
            continue
        paths.append(folder / f"{name}.ipynb")
        nbformat.write(notebook, paths[-1])
    # nbval compares the tagged cells and the self-checks, which do not depend on how long the network trained.
    env = {**colab.environment(), "CNNLAB_TRAINING_STEPS": str(SHORT_TRAINING)}
    before = colab.packages()
    failures.update(run_nbval(paths, folder / "nbval.xml", env) if paths else {})
    after = colab.packages()
    changed = {package: (version, after.get(package)) for package, version in before.items() if after.get(package) != version}
    return NbvalRun(solved, failures, changed)


@pytest.mark.slow("runs nbval on every selected chapter in one process (the first of them), or reads that run's report")
@pytest.mark.xdist_group("colab-nbval")
@pytest.mark.parametrize("name", STUDENT_NOTEBOOKS)
def test_colab_contract_and_nbval(nbval_run, built_book, name):
    """The chapter's student notebook is current, its self-checks passed in the build, and solved under nbval in the
    Colab-like kernel its setup cell installed cnnlab, every cell ran and every compared output matched the build's."""
    assert name in nbval_run.solved
    committed, solved = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4), nbval_run.solved[name]
    assert solved.cells[0].source == committed.cells[0].source
    assert [cell.source for cell in solved.cells if "# ✎" not in cell.source] == [
        cell.source for cell in committed.cells if "# ✎" not in cell.source
    ], f"{name}.ipynb is stale: run python -m booktools notebooks"
    build_self_checks_passed(name, nbformat.read(built_book.executed / "book" / f"{name}.ipynb", as_version=4))
    assert name not in nbval_run.failures, f"{name} fails in the Colab-like environment:\n{nbval_run.failures[name]}"
    assert nbval_run.changed == {}, f"the setup cells changed packages Colab already has: {nbval_run.changed}"


RELEASE_TAG = "term-2027-spring"


@pytest.mark.slow(
    "installs cnnlab from a local term release's tag and runs that release's Exercise 1 in a fresh Colab-like environment"
)
def test_a_term_release_notebook_installs_cnnlab_from_its_tag(built_book, tmp_path, monkeypatch):
    """The release's own notebook, unchanged: its setup cell's GitHub address is served by a local repository."""
    for variable, value in GIT_IDENTITY.items():
        monkeypatch.setenv(variable, value)
    repository = book_repository(tmp_path / "repository")
    commit = release.make_release(repository, RELEASE_TAG)
    checkout = tmp_path / "release"
    subprocess.run(["git", "clone", "-q", "--branch", RELEASE_TAG, str(repository), str(checkout)], check=True)
    book = Book.from_config(checkout)
    solved = notebooks.student_notebook(checkout / "book" / "ex1-conv-pool.md", book, solved=True)
    committed = nbformat.read(checkout / "book" / "ex1-conv-pool.ipynb", as_version=4)
    address = f"git+{book.repository_url}@{RELEASE_TAG}#subdirectory=code"
    assert solved.cells[0].source == committed.cells[0].source and address in committed.cells[0].source

    colab = make_colab(tmp_path / "colab", package_url="")
    monkeypatch.setenv("JUPYTER_PATH", str(colab.jupyter_path))
    monkeypatch.delenv("CNNLAB_PACKAGE_URL", raising=False)
    for variable, value in kernel_environment(threads=1, mnist=os.environ.get("CNNLAB_MNIST", "sample"), base={}).items():
        monkeypatch.setenv(variable, value)
    # Git, which pip runs, fetches the book's GitHub address from the local repository instead.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://localhost{repository}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", book.repository_url)
    executed = nbformat.read(built_book.executed / "book" / "ex1-conv-pool.ipynb", as_version=4)
    nbformat.write(nbval_notebook(solved, executed, colab.site_packages), tmp_path / "ex1-conv-pool.ipynb")
    assert run_nbval([tmp_path / "ex1-conv-pool.ipynb"], tmp_path / "nbval.xml") == {}

    (record,) = colab.site_packages.glob("cnnlab-*.dist-info/direct_url.json")
    origin = json.loads(record.read_text())
    assert origin["vcs_info"]["requested_revision"] == RELEASE_TAG and origin["vcs_info"]["commit_id"] == commit
    assert origin["url"] == book.repository_url, "cnnlab came from elsewhere than the address the notebook names"


@pytest.mark.slow("runs two solved notebooks in the Colab-like kernel with the watch's own script")
def test_the_colab_watch_runs_solved_notebooks_and_names_the_cell_that_broke(colab_kernel, tmp_path):
    """The weekly watch's own script, run here as the workflow runs it in Colab's image, on a kernel like Colab's.

    The notebooks' setup cell is left out: what it installs, and how, is the nbval test's (above), and here the
    kernel finds this checkout's cnnlab, so that the watch's report is tested without two more pip runs.
    """
    solved = tmp_path / "solved"
    written = colab_watch.solve(ROOT, solved)
    assert sorted(path.stem for path in written) == sorted(STUDENT_NOTEBOOKS)
    for path in written:
        if path.stem != "ex1-conv-pool":
            path.unlink()
    without_setup = nbformat.read(solved / "ex1-conv-pool.ipynb", as_version=4)
    assert 'if "google.colab" in sys.modules:' in without_setup.cells[0].source
    del without_setup.cells[0]
    nbformat.write(without_setup, solved / "ex1-conv-pool.ipynb")
    broken = nbformat.read(solved / "ex1-conv-pool.ipynb", as_version=4)
    code = [cell for cell in broken.cells if cell.cell_type == "code"]
    code[3].source = "import torch\ntorch.nn.Conv2d(3, 2, 3).forward_was_renamed_by_an_update()"
    nbformat.write(broken, solved / "ex1-broken.ipynb")

    report = tmp_path / "report"
    script = ROOT / "tools" / "src" / "booktools" / "publish" / "colab_watch.py"
    process = subprocess.run(
        [sys.executable, str(script), "run", str(solved), "--report", str(report), "--kernel", KERNEL, "--image", "colab-like"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert process.returncode == 1, process.stdout + process.stderr
    summary = (report / "summary.md").read_text()
    assert re.search(r"\| ex1-conv-pool\.ipynb \| passed \| [\d.]+ \|  \|  \|", summary), summary
    assert re.search(
        r"\| ex1-broken\.ipynb \| failed \| [\d.]+ \| 4 \| AttributeError: 'Conv2d' object has no attribute", summary
    )
    assert "1 of 2 notebooks passed." in summary
    issue = (report / "issue.md").read_text()
    assert "#### `ex1-broken.ipynb`: failed, code cell 4" in issue and "forward_was_renamed_by_an_update" in issue
    assert "ex1-conv-pool.ipynb" not in issue


def test_the_colab_watch_reports_a_cell_that_never_ends(colab_kernel, tmp_path):
    folder = tmp_path / "solved"
    folder.mkdir()
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("while True:\n    pass")]
    )
    nbformat.write(notebook, folder / "endless.ipynb")
    (run,) = colab_watch.run_folder(folder, KERNEL, timeout=5)
    assert (run.status, run.cell) == ("timed out", 2) and "while True" in run.source
    assert "a cell ran longer than 5 s" in run.error
    with pytest.raises(FileNotFoundError, match="no notebook in"):
        colab_watch.run_folder(tmp_path / "empty", KERNEL)
