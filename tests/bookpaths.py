"""Where the book's files are, shared by the test folders."""

import functools
import shutil
import subprocess
import textwrap
from pathlib import Path

from booktools.book import Book

ROOT = Path(__file__).resolve().parents[1]

# Optimisation steps of each training run when the tests build the book or run a chapter's notebook
# (CNNLAB_TRAINING_STEPS). What they check (every cell runs, every self-check passes, the pages, the PDFs, the
# reproducible outputs) does not depend on how long the network trained; the README's build command, and the book
# workflow that publishes the site, train in full.
SHORT_TRAINING = 50

# The front matter that makes a Markdown file a MyST notebook, for the small chapters the tests write.
FRONT_MATTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


# A small book for the tools' tests: an exercise chapter with one task, and another chapter it links to.
CHAPTER = FRONT_MATTER + textwrap.dedent(
    """\

    # A chapter

    Some text, see {doc}`the other chapter <other>`.

    ```{code-cell} ipython3
    import torch
    ```

    ```{exercise-start} Do it
    :label: ex-1
    ```

    Make a layer.

    ```{exercise-end}
    ```

    ```{solution-start} ex-1
    :class: dropdown
    ```

    The secret explanation.

    ```{code-cell} ipython3
    layer = torch.nn.Linear(
        3, 2
    )  # ✎
    print(layer)  # given
    ```

    ```{solution-end}
    ```

    ```{code-cell} ipython3
    check(layer)
    ```
    """
)
OTHER = "# The other chapter\n\n(sec-target)=\n## A section\n\n$$\ny = x\n$$ (eq-line)\n"
TOC = "format: jb-book\nroot: book/other\nchapters:\n  - file: book/chapter\n"
CONFIG = """\
repository:
  url: https://github.com/me/book/
  branch: term1
parse:
  myst_enable_extensions: [colon_fence, dollarmath]
"""


def benchmark_script():
    """``benchmarks/training_speed.py`` as a module: the script lives outside the packages."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("training_speed", ROOT / "benchmarks" / "training_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_book(root: Path, chapters: dict[str, str | None]) -> Book:
    """A book in ``root`` whose table of contents lists ``chapters`` in order (the first is the landing page).

    Each chapter's text is written to ``book/<name>.md``; a chapter given None is listed but not written.
    """
    (root / "book").mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(CONFIG, encoding="utf-8")
    names = [f"book/{name}" for name in chapters]
    entries = "".join(f"  - file: {name}\n" for name in names[1:])
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: {names[0]}\n" + (f"chapters:\n{entries}" if entries else ""))
    for name, text in chapters.items():
        if text is not None:
            (root / "book" / f"{name}.md").write_text(text, encoding="utf-8")
    return Book.from_config(root)


# Every list of chapters the tests use comes from the book's own, _toc.yml (booktools.book): a chapter
# added there is built, executed, run under nbval, printed and opened in the browser with no change here.


@functools.cache
def _checkout_book() -> Book:
    return Book.from_config(ROOT)


def book(root: Path = ROOT) -> Book:
    """The book at ``root``, its chapters read once; this checkout's is read once per test process."""
    return _checkout_book() if Path(root) == ROOT else Book.from_config(root)


def toc_chapters(root: Path = ROOT) -> list[str]:
    """Chapter names (``book/<name>``) in the order of ``_toc.yml``, the landing page first."""
    return list(book(root).docnames)


def chapters_with_code(root: Path = ROOT) -> list[str]:
    """The chapters that are executed and get a student notebook, in the order of the table of contents."""
    found = book(root)
    return [found.docname(chapter) for chapter in found.chapters_with_code]


def exercise_chapters(root: Path = ROOT) -> list[str]:
    """The chapters that call self-checks, and so get an autograder."""
    found = book(root)
    return [found.docname(chapter) for chapter in found.exercise_chapters]


def chapters_with_solutions(root: Path = ROOT) -> list[str]:
    """The chapters whose exercises show solutions on the site."""
    found = book(root)
    return [found.docname(chapter) for chapter in found.chapters if chapter.exercises]


def chapters_with_maths(root: Path = ROOT) -> list[str]:
    """The chapters with maths for MathJax to typeset."""
    return [name for name in toc_chapters(root) if "$" in (root / f"{name}.md").read_text(encoding="utf-8")]


# Who the tests' git commits are by, as environment variables (a fresh machine has no git identity).
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "tests",
    "GIT_AUTHOR_EMAIL": "tests@localhost",
    "GIT_COMMITTER_NAME": "tests",
    "GIT_COMMITTER_EMAIL": "tests@localhost",
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` as the tests' identity; return its output."""
    command = ["git", "-C", str(repo), "-c", "user.name=tests", "-c", "user.email=tests@localhost", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def book_repository(target: Path) -> Path:
    """A git repository on branch main holding this checkout's book: settings, citation, chapters, notebooks, cnnlab."""
    target.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml", "CITATION.cff"):
        shutil.copyfile(ROOT / name, target / name)
    shutil.copytree(ROOT / "book", target / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "code", target / "code", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(target)], check=True)
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "the book")
    return target
