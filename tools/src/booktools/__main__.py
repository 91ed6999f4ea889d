"""``python -m booktools``: one command for every job of the book's tools, as ``jupyter-book`` or ``otter`` has.

``python -m booktools --help`` lists the commands, room by room, each with the first line of its module's
docstring; ``python -m booktools <command> --help`` says what one does and ends with an example. The console
script ``booktools`` is the same command.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from pathlib import Path

from booktools.cli import COMMAND

__all__ = ["COMMANDS", "main", "summary"]

# Each command, the room it is listed under and the module whose main(argv) runs it (the student notebooks'
# generator is shared, and listed with the build, which writes them).
COMMANDS = {
    "notebooks": ("build", "booktools.notebooks"),
    "report": ("build", "booktools.build.report"),
    "pdf": ("publish", "booktools.publish.pdf"),
    "release": ("publish", "booktools.publish.release"),
    "colab-watch": ("publish", "booktools.publish.colab_watch"),
    "autograder": ("grading", "booktools.grading.autograder"),
    "grade": ("grading", "booktools.grading.command"),
    "gradescope": ("grading", "booktools.grading.gradescope"),
}
ROOMS = {"build": "build the book", "publish": "publish it", "grading": "grade its exercises"}
# What the tools run themselves, listed so that nothing that runs is hidden.
INTERNAL = {
    "booktools.grading.judge": "judges a submission's exported answers, in the grader's sandbox",
    "booktools.build.measured_kernel": "the build's kernel, which records its peak memory and time",
}


def summary(module: str) -> str:
    """The first line of ``module``'s docstring, read without importing it (a command's imports can be slow).

    >>> summary("booktools.grading.command")
    'The grade command: grade a folder of handed-in notebooks, or write a chapter\'s Gradescope autograder.'
    """
    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    return ast.get_docstring(ast.parse(source)).splitlines()[0].replace("``", "")


def _listing() -> str:
    width = max(map(len, COMMANDS)) + 2
    lines = []
    for room, title in ROOMS.items():
        lines.append(f"{title}:")
        lines += [f"  {name:<{width}}{summary(module)}" for name, (where, module) in COMMANDS.items() if where == room]
    lines.append("run by the tools themselves:")
    lines += [f"  python -m {module}: {what}" for module, what in INTERNAL.items()]
    lines += ["", "example:", f"  {COMMAND} pdf --help"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="The course book's tools: build, publish and grade it. Each command has its own --help.",
        epilog=_listing(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=list(COMMANDS), metavar="command", help="one of: " + ", ".join(COMMANDS))
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the command's own arguments (see its --help)")
    options = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[options.command][1])
    return module.main(options.arguments)


if __name__ == "__main__":
    sys.exit(main())
