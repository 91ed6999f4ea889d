"""Term releases: a tag whose notebooks, launch buttons and citation all point at the tag itself.

During a term, students must get the notebooks and the ``cnnlab`` of that
term, whatever is merged on ``main`` meanwhile. A release is a tag named
``term-<name>`` on a commit made beside ``main`` (never on it) in which

* ``repository.branch`` in ``_config.yml`` is the tag, so the site's Colab
  and Binder buttons open the notebooks at the tag, and the first cell of
  every student notebook installs ``cnnlab`` from the tag;
* the student notebooks are generated again with that address;
* ``CITATION.cff`` gives the tag as its version and the day as its release date.

Three commands, from the repository root::

    python -m booktools release make term-2027-spring    # the commit and the annotated tag; main is unchanged
    git push origin term-2027-spring                      # the release workflow builds and publishes it
    python -m booktools release check term-2027-spring   # what the workflow runs first: is this checkout that release?
    python -m booktools release assets term-2027-spring --out dist   # the files the release carries
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import yaml

from booktools import cli
from booktools.book import Book
from booktools.notebooks import write_student_notebooks
from booktools.publish.citation import CITATION_FILE
from booktools.publish.pdf import EDITIONS

__all__ = ["TAG_PATTERN", "check_release", "main", "make_release", "package_assets", "point_at"]

TAG_PATTERN = re.compile(r"term-[A-Za-z0-9][A-Za-z0-9._-]*")
CONFIG = "_config.yml"


def _check_tag(tag: str) -> None:
    if not TAG_PATTERN.fullmatch(tag) or tag.endswith((".", ".lock")) or ".." in tag:
        raise ValueError(
            f"tag={tag!r} is not a term release's name: use term- followed by letters, digits, '.', '_' or '-', "
            "for example term-2027-spring."
        )


def _git(root: Path, *args: str) -> str:
    process = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if process.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {process.stderr.strip()}")
    return process.stdout.strip()


def _replace_one(text: str, pattern: str, replacement: str, path: Path) -> str:
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"{path} should hold one line matching {pattern!r} and holds {count}: fix it, then release.")
    return new


def point_at(root: str | Path, tag: str, day: date | None = None) -> None:
    """Point the checkout at ``root`` at ``tag``: ``_config.yml``'s branch, the citation, the student notebooks.

    Comments and the order of both YAML files are kept: only the lines that
    change are rewritten.
    """
    root = Path(root)
    _check_tag(tag)
    config = root / CONFIG
    text = _replace_one(config.read_text(encoding="utf-8"), r"^(  branch:[ \t]*)\S.*$", rf"\g<1>{tag}", config)
    config.write_text(text, encoding="utf-8")
    citation = root / CITATION_FILE
    text = citation.read_text(encoding="utf-8")
    text = _replace_one(text, r"^version:.*$", f"version: {tag}", citation)
    text = _replace_one(text, r"^date-released:.*$", f'date-released: "{(day or date.today()).isoformat()}"', citation)
    citation.write_text(text, encoding="utf-8")
    write_student_notebooks(root)


def make_release(root: str | Path, tag: str, day: date | None = None) -> str:
    """Make the release commit beside the current branch and tag it; return the commit.

    The working tree must be clean. The current branch does not move: the
    commit is made on a detached head, which is left at the end.

    Raises
    ------
    ValueError
        If ``tag`` is not a term release's name.
    RuntimeError
        If the working tree has changes, the tag exists, or git fails.
    """
    root = Path(root)
    _check_tag(tag)
    if _git(root, "status", "--porcelain"):
        raise RuntimeError(f"{root} has uncommitted changes: commit or stash them, then release from a clean checkout.")
    if _git(root, "tag", "--list", tag):
        raise RuntimeError(f"the tag {tag} exists already: choose another name, or delete it (git tag -d {tag}).")
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    back = branch if branch != "HEAD" else _git(root, "rev-parse", "HEAD")
    _git(root, "switch", "--detach", "--quiet")
    try:
        point_at(root, tag, day)
        _git(root, "add", "--", CONFIG, CITATION_FILE, "book")
        _git(root, "commit", "--quiet", "-m", f"Term release {tag}: notebooks, launch buttons and citation point at {tag}")
        _git(root, "tag", "-a", tag, "-m", f"Term release {tag}")
        return _git(root, "rev-parse", "HEAD")
    finally:
        _git(root, "checkout", "--force", "--quiet", back)


def check_release(root: str | Path, tag: str) -> list[str]:
    """What stops the checkout at ``root`` from being the release ``tag``; empty when it is."""
    root = Path(root)
    _check_tag(tag)
    problems = []
    branch = (yaml.safe_load((root / CONFIG).read_text(encoding="utf-8")) or {}).get("repository", {}).get("branch")
    if branch != tag:
        problems.append(f"{CONFIG} has repository.branch {branch!r}, not {tag!r}")
    version = (yaml.safe_load((root / CITATION_FILE).read_text(encoding="utf-8")) or {}).get("version")
    if str(version) != tag:
        problems.append(f"{CITATION_FILE} has version {version!r}, not {tag!r}")
    if write_student_notebooks(root, check=True):
        problems.append("the student notebooks do not match the chapters and the tag")
    book = Book.from_config(root)
    address = f"git+{book.repository_url}@{tag}#subdirectory=code"
    for chapter in book.chapters_with_code:
        notebook = chapter.path.with_suffix(".ipynb")
        if notebook.is_file() and address not in notebook.read_text(encoding="utf-8"):
            problems.append(f"{notebook.relative_to(root)} does not install cnnlab from {address}")
    return problems


def package_assets(root: str | Path, tag: str, out: str | Path, build: str | Path | None = None) -> list[Path]:
    """Write what the release ``tag`` carries into ``out``: the site, both PDFs and the student notebooks.

    Raises
    ------
    FileNotFoundError
        If the site or a PDF is missing: build them first.
    """
    root, out = Path(root), Path(out)
    _check_tag(tag)
    build = Path(build) if build else root / "_build"
    site = build / "html"
    pdfs = [build / "pdf" / edition.filename for edition in EDITIONS]
    missing = [path for path in [site / "index.html", *pdfs] if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{', '.join(map(str, missing))} missing: build the site (jupyter-book build . --all) "
            "and the PDFs (python -m booktools pdf) first."
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for pdf in pdfs:
        target = out / f"{tag}-{pdf.name}"
        shutil.copyfile(pdf, target)
        written.append(target)
    site_zip = out / f"{tag}-site.zip"
    with zipfile.ZipFile(site_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(site.rglob("*")):
            if path.is_file():
                archive.write(path, Path(f"{tag}-site") / path.relative_to(site))
    written.append(site_zip)
    notebooks_zip = out / f"{tag}-student-notebooks.zip"
    with zipfile.ZipFile(notebooks_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for chapter in Book.from_config(root).chapters_with_code:
            notebook = chapter.path.with_suffix(".ipynb")
            archive.write(notebook, Path(f"{tag}-notebooks") / notebook.name)
    written.append(notebooks_zip)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(f"{cli.COMMAND} release", __doc__.splitlines()[0], "python -m booktools release make 2027-spring")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: current folder)")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make", help="make the release commit beside the current branch, and tag it")
    make.add_argument("tag")
    check = commands.add_parser("check", help="fail unless this checkout is the release TAG")
    check.add_argument("tag")
    assets = commands.add_parser("assets", help="write the release's files: the site, both PDFs, the student notebooks")
    assets.add_argument("tag")
    assets.add_argument("--out", type=Path, required=True, help="the folder to write them to")
    assets.add_argument("--build", type=Path, default=None, help="the _build folder (default: ROOT/_build)")
    args = parser.parse_args(argv)
    try:
        if args.command == "make":
            commit = make_release(args.root, args.tag)
            print(f"tagged {args.tag} at {commit[:12]}; main is unchanged. Publish it: git push origin {args.tag}")
        elif args.command == "check":
            problems = check_release(args.root, args.tag)
            if problems:
                print(f"this checkout is not the release {args.tag}:", *problems, sep="\n  ", file=sys.stderr)
                print(f"make releases with: python -m booktools release make {args.tag}", file=sys.stderr)
                return 1
            print(f"this checkout is the release {args.tag}")
        else:
            for path in package_assets(args.root, args.tag, args.out, args.build):
                print(path)
    except (*cli.EXPECTED_ERRORS, RuntimeError) as error:
        cli.fail(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
