"""The book: its settings from ``_config.yml`` and its one list of chapters, ``_toc.yml``.

Which chapters exist and in what order comes from the table of contents
alone, as it does for Jupyter Book's build; whether a chapter has code, and
whether it asks self-checked tasks, from the chapter itself
(:mod:`booktools.chapter`). The student notebooks, the autograders, the
Colab watch, the release and the tests all take their chapters from
:class:`Book`. A Markdown file in ``book/`` that the table of contents does
not list is reported by :meth:`Book.stray_sources`, never generated from.

"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

from booktools.chapter import Chapter, read_chapter
from booktools.myst_plain import Links, markdown_parser

__all__ = ["Book", "published_url", "toc_docnames"]


def published_url(repository_url: str) -> str:
    """The GitHub Pages address of a GitHub repository.

    Examples
    --------
    >>> published_url("https://github.com/health-ai-course/cnn-practical")
    'https://health-ai-course.github.io/cnn-practical/'
    """
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url)
    if match is None:
        raise ValueError(
            f"repository.url={repository_url!r} is not a GitHub repository address: use https://github.com/<owner>/<repository>."
        )
    return f"https://{match[1]}.github.io/{match[2]}/"


def toc_docnames(toc: dict, where: object = "_toc.yml") -> list[str]:
    """The documents a Jupyter Book table of contents lists, in reading order, the root first.

    Reads ``parts``, ``chapters`` and nested ``sections``; a file's suffix goes.

    Examples
    --------
    >>> toc_docnames({"root": "intro", "parts": [{"chapters": [{"file": "a.md", "sections": [{"file": "b"}]}]}]})
    ['intro', 'a', 'b']
    """
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{where} has no root: start the table of contents with root: <the landing page>.")
    names = [str(toc["root"])]

    def walk(entries: object) -> None:
        for entry in entries or []:
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: {entry!r} is not an entry: write each as file: <chapter>.")
            if "file" in entry:
                names.append(re.sub(r"\.(md|ipynb)$", "", str(entry["file"])))
            walk(entry.get("sections"))

    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return names


@dataclass(frozen=True)
class Book:
    """What every tool needs to know of the whole book: its address, syntax and chapters."""

    root: Path
    repository_url: str
    branch: str
    published_url: str
    extensions: tuple[str, ...]
    docnames: tuple[str, ...]
    _chapters: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, root: str | Path) -> Book:
        """Read ``_config.yml`` and ``_toc.yml`` at ``root``."""
        root = Path(root)
        config_path, toc_path = root / "_config.yml", root / "_toc.yml"
        for path in (config_path, toc_path):
            if not path.is_file():
                raise ValueError(
                    f"{path} not found: give the book's root, which holds _config.yml (the settings), "
                    "_toc.yml (the chapters) and book/."
                )
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        repository = config.get("repository", {})
        if "url" not in repository:
            raise ValueError(f"{config_path} has no repository.url: add the book's GitHub URL there.")
        url = repository["url"].rstrip("/")
        extensions = tuple(config.get("parse", {}).get("myst_enable_extensions", []))
        docnames = toc_docnames(yaml.safe_load(toc_path.read_text(encoding="utf-8")), toc_path)
        return cls(root, url, repository.get("branch", "main"), published_url(url), extensions, tuple(docnames))

    @cached_property
    def parser(self) -> MarkdownIt:
        """The MyST parser with the extensions ``_config.yml`` enables."""
        return markdown_parser(self.extensions)

    def chapter(self, docname: str) -> Chapter:
        """The chapter ``docname`` (``book/convolution``), read once."""
        if docname not in self._chapters:
            path = self.root / f"{docname}.md"
            if not path.is_file():
                raise ValueError(f"_toc.yml lists {docname}, but {path} does not exist: add it, or fix the entry.")
            self._chapters[docname] = read_chapter(path, self.parser)
        return self._chapters[docname]

    @property
    def chapters(self) -> list[Chapter]:
        """Every chapter of the table of contents, in its order, the landing page first."""
        return [self.chapter(docname) for docname in self.docnames]

    @property
    def chapters_with_code(self) -> list[Chapter]:
        """The chapters that hold code cells: each gets a student notebook and is executed."""
        return [chapter for chapter in self.chapters if chapter.has_code]

    @property
    def exercise_chapters(self) -> list[Chapter]:
        """The chapters that call self-checks: each gets an autograder."""
        return [chapter for chapter in self.chapters if chapter.is_exercise_chapter]

    def docname(self, chapter: Chapter) -> str:
        """``book/<name>`` of a chapter of this book."""
        return chapter.path.resolve().relative_to(self.root.resolve()).with_suffix("").as_posix()

    def stray_sources(self) -> list[Path]:
        """Markdown files under ``book/`` that the table of contents does not list: nothing is generated from them."""
        listed = {(self.root / f"{docname}.md").resolve() for docname in self.docnames}
        return sorted(path for path in (self.root / "book").rglob("*.md") if path.resolve() not in listed)

    def links(self, chapter: Chapter) -> Links:
        """Where the roles of ``chapter`` point."""
        titles, labels = self._targets
        return Links(self.published_url, self.docname(chapter), titles, labels)

    @cached_property
    def _targets(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Every chapter's title, and every label with its chapter and title."""
        titles, labels = {}, {}
        for docname in self.docnames:
            chapter = self.chapter(docname)
            titles[docname] = chapter.title
            labels.update({label: (docname, title) for label, title in chapter.labels.items()})
        return titles, labels
