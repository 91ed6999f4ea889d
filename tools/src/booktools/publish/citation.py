"""How to cite the book: ``CITATION.cff`` read, and written out as one line for the site and the PDFs.

The repository's ``CITATION.cff`` is the one source: GitHub's "Cite this
repository" button, the line at the foot of every page of the site
(:mod:`booktools.publish.footer`) and the title page of the PDFs (:mod:`booktools.publish.pdf`)
all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["CITATION_FILE", "Citation", "read_citation"]

CITATION_FILE = "CITATION.cff"


def _person(entry: dict) -> str:
    """One author as a citation writes them: an entity's name, or "Family, G."."""
    if "name" in entry:
        return str(entry["name"])
    family = " ".join(str(entry[key]) for key in ("name-particle", "family-names") if key in entry)
    initials = " ".join(f"{part[0]}." for part in str(entry.get("given-names", "")).split())
    return f"{family}, {initials}" if initials else family


def _names(people: list[dict]) -> str:
    """Authors joined as in a reference list: "A", "A and B", "A, B and C"."""
    names = [_person(person) for person in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class Citation:
    """The fields of ``CITATION.cff`` that a reference needs."""

    authors: str
    title: str
    year: str
    version: str
    url: str
    based_on: str

    def line(self) -> str:
        """The reference as one sentence.

        Examples
        --------
        >>> Citation("Team", "A book", "2026", "term-1", "https://example.org/", "Based on X by Y, Z.").line()
        'Team (2026). A book, version term-1. Based on X by Y, Z. https://example.org/'
        """
        parts = [f"{self.authors} ({self.year}). {self.title}, version {self.version}."]
        if self.based_on:
            parts.append(self.based_on if self.based_on.endswith(".") else self.based_on + ".")
        parts.append(self.url)
        return " ".join(parts)


def read_citation(root: str | Path = ".") -> Citation:
    """Read ``CITATION.cff`` at ``root``.

    Raises
    ------
    FileNotFoundError
        If ``root`` holds no ``CITATION.cff``.
    ValueError
        If a field a reference needs is missing.
    """
    path = Path(root) / CITATION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the book's root must hold {CITATION_FILE}, which says how to cite it.")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [key for key in ("authors", "title", "date-released", "url") if not data.get(key)]
    if missing:
        raise ValueError(f"{path} has no {', '.join(missing)}: add them (https://citation-file-format.github.io).")
    # The work the book is built on, credited in the same line.
    references = [reference for reference in data.get("references", []) if reference.get("authors")]
    based_on = f'Based on "{references[0]["title"]}" by {_names(references[0]["authors"])}' if references else ""
    return Citation(
        authors=_names(data["authors"]),
        title=str(data["title"]),
        year=str(data["date-released"])[:4],
        version=str(data.get("version", "")),
        url=str(data["url"]),
        based_on=based_on,
    )
