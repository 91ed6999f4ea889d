"""The command-line style every command of ``python -m booktools`` shares.

Each command is an :mod:`argparse` parser made by :func:`parser`, named
``python -m booktools <command>`` (:data:`COMMAND`): ``--help``
says what it does and shows an example; a bad argument is a one-line error
and exit status 2 (argparse's own). :func:`fail` turns an expected error of
the command's work into that same one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from booktools.myst_plain import ChapterError

__all__ = ["COMMAND", "EXPECTED_ERRORS", "fail", "generator_main", "parser", "sync_files"]

# The one command of the book's tools; each job is a command of it (booktools/__main__.py).
COMMAND = "python -m booktools"

# What a command reports in one line instead of a traceback: a chapter, a setting or a file at fault.
EXPECTED_ERRORS = (ChapterError, ValueError, OSError, yaml.YAMLError)


def parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """The argument parser of the command ``prog`` (such as ``python -m booktools pdf``), whose help ends with ``example``.

    Examples
    --------
    >>> command = parser(f"{COMMAND} x", "Do x.", f"{COMMAND} x --root .")
    >>> print(command.format_help().splitlines()[0])
    usage: python -m booktools x [-h]
    >>> print(command.format_help().splitlines()[-1])
      python -m booktools x --root .
    """
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def fail(error: BaseException) -> int:
    """Print ``error`` as one line on standard error; return the exit status of a usage error, 2."""
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
    return 2


def generator_main(argv: list[str] | None, name: str, description: str, what: str, write: Callable) -> int:
    """The command line of a generator of files from the chapters: write them, or check them with ``--check``.

    ``name`` is the generator's command (``python -m booktools <name>``);
    ``write(root, check=...)`` returns the files it wrote or, with ``check``,
    those out of date; ``what`` names them in the help. Chapter sources that
    the table of contents does not list are reported, and nothing is
    generated from them.
    """
    from booktools.book import Book

    command = parser(f"{COMMAND} {name}", description, f"{COMMAND} {name} --check")
    command.add_argument("--root", type=Path, default=Path("."), help="repository root (default: current folder)")
    command.add_argument("--check", action="store_true", help=f"write nothing; fail if {what} is out of date")
    options = command.parse_args(argv)
    try:
        stray = Book.from_config(options.root).stray_sources()
        changed = write(options.root, check=options.check)
    except EXPECTED_ERRORS as error:
        return fail(error)
    for path in stray:
        print(
            f"warning: {path} is not in _toc.yml, so nothing is generated from it: list it there, or delete it.", file=sys.stderr
        )
    for path in changed:
        print(("out of date: " if options.check else "wrote ") + str(path))
    if options.check and changed:
        print(f"Run `{COMMAND} {name}` and commit the result.", file=sys.stderr)
        return 1
    return 0


def sync_files(wanted: dict[Path, str], present: Iterable[Path], check: bool) -> list[Path]:
    """Make the generated files on disk be ``wanted`` (path -> text); return the paths that differ.

    A wanted file that is missing or whose text differs is written; a file of
    ``present`` that is not wanted (its chapter gone) is deleted. With
    ``check``, nothing is written or deleted: the paths are only returned.
    """
    changed = []
    for path in sorted(set(present) - set(wanted)):
        changed.append(path)
        if not check:
            path.unlink()
    for path, text in wanted.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            changed.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return changed
