"""Where the book's files are, shared by the test folders."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

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


def toc_chapters() -> list[str]:
    """Chapter names (``book/<name>``) in the order of ``_toc.yml``, the landing page first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"]]
    for part in toc.get("parts", []):
        names += [chapter["file"] for chapter in part["chapters"]]
    return names


def chapters_with_code() -> list[str]:
    return [name for name in toc_chapters() if "{code-cell}" in (ROOT / f"{name}.md").read_text(encoding="utf-8")]
