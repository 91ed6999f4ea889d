"""Where the modules of the flat ``booktools`` went, so that an old spelling stops with a pointer, never in silence.

The tools were once 25 modules side by side, each command run as ``python -m booktools.<module>``. They now sit in
three rooms behind one command. An instructor's script that still says ``python -m booktools.grade`` ends with one
line naming the new command and exit status 2; code that imports ``booktools.grade`` gets an :class:`ImportError`
naming the module's new place.

>>> import booktools.grade
Traceback (most recent call last):
  ...
ImportError: booktools.grade moved to booktools.grading.grade: import it from there.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

__all__ = ["MOVED", "install", "message"]

# Each module that moved, and its room.
MOVED = {
    **dict.fromkeys(("execution", "kernel_usage", "measured_kernel", "report"), "build"),
    **dict.fromkeys(("citation", "colab_watch", "footer", "pdf", "release"), "publish"),
    **dict.fromkeys(
        ("answers", "autograder", "class_report", "grade", "gradebook", "gradescope", "judge", "sandbox", "watchdog"),
        "grading",
    ),
}
# The modules that were commands, and their command now (the rest were run by the tools themselves).
COMMANDS = {
    "autograder": "autograder",
    "colab_watch": "colab-watch",
    "grade": "grade",
    "gradescope": "gradescope",
    "notebooks": "notebooks",
    "pdf": "pdf",
    "release": "release",
    "report": "report",
}


def message(name: str, run: bool) -> str:
    """What ``python -m booktools.<name>`` (``run``) or ``import booktools.<name>`` is told now.

    >>> print(message("pdf", run=True))
    python -m booktools.pdf is now python -m booktools pdf (python -m booktools --help lists every command).
    >>> print(message("judge", run=True))
    python -m booktools.judge is now python -m booktools.grading.judge.
    """
    if run and name in COMMANDS:
        command = f"python -m booktools {COMMANDS[name]}"
        return f"python -m booktools.{name} is now {command} (python -m booktools --help lists every command)."
    new = f"booktools.{MOVED[name]}.{name}"
    if run:
        return f"python -m booktools.{name} is now python -m {new}."
    return f"booktools.{name} moved to {new}: import it from there."


class _MovedLoader(importlib.abc.InspectLoader):
    """Runs, as ``__main__``, a line that says where the command went; refuses to be imported."""

    def __init__(self, name: str):
        self.name = name

    def get_source(self, fullname: str) -> str:
        return f"import sys\nprint({message(self.name, run=True)!r}, file=sys.stderr)\nraise SystemExit(2)\n"

    def exec_module(self, module) -> None:
        raise ImportError(message(self.name, run=False), name=module.__name__)


class _MovedFinder(importlib.abc.MetaPathFinder):
    """Finds ``booktools.<name>`` for the names in :data:`MOVED` only, ahead of the file system (where they are gone)."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package == "booktools" and name in MOVED:
            return importlib.machinery.ModuleSpec(fullname, _MovedLoader(name))
        return None


def install() -> None:
    """Put the finder of moved modules on :data:`sys.meta_path`, once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
