"""The execution cache never shows a stale output: what re-executes after each kind of edit.

A two-chapter book with the book's own configuration, whose chapters print a
value from a helper module listed as a dependency, is built again after each
edit. The rules: a prose edit re-executes nothing; an edit of a chapter's code
cell re-executes that chapter alone; an edit of a dependency (a file of the
helper package, the requirements) or of the data mode re-executes every
chapter, even in an incremental build, where Sphinx would otherwise not
re-read a chapter whose source did not change.
"""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from bookpaths import FRONT_MATTER, ROOT

# One small book, built again after each edit: its tests run in order, on one worker.
pytestmark = [pytest.mark.book, pytest.mark.xdist_group("execution-cache")]

CHAPTER = (
    FRONT_MATTER
    + """
# Chapter {name}

{prose}

```{{code-cell}} ipython3
import os

import helper

print("{name}", helper.VALUE, os.environ.get("CNNLAB_MNIST"))
```
"""
)


class SmallBook:
    def __init__(self, root):
        self.root = root
        shutil.copytree(ROOT / "book" / "_static", root / "book" / "_static")
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        config["sphinx"]["config"]["book_execution_dependencies"] = ["helpers", "requirements.txt"]
        (root / "_config.yml").write_text(yaml.safe_dump(config))
        shutil.copyfile(ROOT / "CITATION.cff", root / "CITATION.cff")  # the footer of every page cites it
        (root / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/a\n  - file: book/b\n")
        (root / "book" / "index.md").write_text("# A small book\n\nTwo chapters.\n")
        (root / "helpers").mkdir()
        (root / "helpers" / "helper.py").write_text("VALUE = 1\n")
        (root / "requirements.txt").write_text("numpy==2.4.6\n")
        for name in "ab":
            self.write(name)

    def write(self, name, prose="Some prose.", code_extra=""):
        text = CHAPTER.format(name=name, prose=prose)
        if code_extra:
            text = text.replace('os.environ.get("CNNLAB_MNIST"))', f'os.environ.get("CNNLAB_MNIST"), {code_extra})')
        (self.root / "book" / f"{name}.md").write_text(text)

    def build(self, mode="sample", everything=True):
        """Build; return the chapters executed and the outputs each page shows."""
        env = {**os.environ, "PYTHONPATH": str(self.root / "helpers"), "CNNLAB_MNIST": mode}
        command = [shutil.which("jupyter-book") or "jupyter-book", "build", ".", "-W", "-n", "--keep-going"]
        process = subprocess.run(
            [*command, *(["--all"] if everything else [])], cwd=self.root, env=env, capture_output=True, text=True
        )
        log = process.stdout + process.stderr
        assert process.returncode == 0, log[-4000:]
        assert "Executing notebook" not in log, "myst-nb executed a chapter itself: the cache did not match"
        executed = set(re.findall(r"\[booktools\.build\.execution\] executed book/(\w+) in", log))
        pages = {name: (self.root / "_build" / "html" / "book" / f"{name}.html").read_text() for name in "ab"}
        shown = {name: re.search(rf"{name} \d+ \w+[^<]*", page)[0].strip() for name, page in pages.items()}
        return executed, shown


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    return SmallBook(tmp_path_factory.mktemp("cached-book"))


@pytest.mark.slow("builds a small book from an empty cache")
def test_a_cold_build_executes_every_chapter(small_book):
    assert small_book.build() == ({"a", "b"}, {"a": "a 1 sample", "b": "b 1 sample"})


def test_a_prose_edit_executes_nothing(small_book):
    small_book.write("a", prose="Better prose.")
    assert small_book.build() == (set(), {"a": "a 1 sample", "b": "b 1 sample"})
    assert "Better prose." in (small_book.root / "_build" / "html" / "book" / "a.html").read_text()


def test_a_code_edit_executes_that_chapter_alone(small_book):
    small_book.write("a", prose="Better prose.", code_extra="'edited'")
    assert small_book.build() == ({"a"}, {"a": "a 1 sample edited", "b": "b 1 sample"})


def test_a_change_in_the_helpers_executes_every_chapter_even_incrementally(small_book):
    (small_book.root / "helpers" / "helper.py").write_text("VALUE = 2\n")
    assert small_book.build(everything=False) == ({"a", "b"}, {"a": "a 2 sample edited", "b": "b 2 sample"})


def test_a_change_in_the_requirements_executes_every_chapter(small_book):
    (small_book.root / "requirements.txt").write_text("numpy==2.4.7\n")
    assert small_book.build()[0] == {"a", "b"}


@pytest.mark.slow("builds the small book twice in the full-data mode: once executing, once from the cache")
def test_another_data_mode_executes_every_chapter(small_book):
    assert small_book.build(mode="full") == ({"a", "b"}, {"a": "a 2 full edited", "b": "b 2 full"})
    assert small_book.build(mode="full")[0] == set()
