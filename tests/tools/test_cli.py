"""One command, ``python -m booktools``, lists every job; each command answers --help with an example and a bad option
in one line; the old ``python -m booktools.<module>`` spellings stop with a pointer to the new one."""

import ast
import importlib
import pkgutil
import runpy
import subprocess
import sys

import pytest

import booktools
from bookpaths import ROOT
from booktools import moved
from booktools.__main__ import COMMANDS, INTERNAL
from booktools.__main__ import main as booktools_main


def listed_commands(capsys) -> list[str]:
    """The commands that ``python -m booktools --help`` lists, read from its output."""
    with pytest.raises(SystemExit) as stopped:
        booktools_main(["--help"])
    assert stopped.value.code == 0
    listing = capsys.readouterr().out.split("build the book:")[1].split("run by the tools themselves:")[0]
    return [line.split()[0] for line in listing.splitlines() if line.startswith("  ")]


def modules_with_a_command_line() -> set[str]:
    """Every module of booktools that defines ``main``, found by walking the package (without importing it)."""
    found = set()
    for info in pkgutil.walk_packages(booktools.__path__, "booktools."):
        source = importlib.util.find_spec(info.name).origin
        tree = ast.parse(open(source, encoding="utf-8").read())
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            found.add(info.name)
    return found - {"booktools.__main__"}


def test_help_lists_every_command_room_by_room(capsys):
    listed = listed_commands(capsys)
    assert sorted(listed) == sorted(COMMANDS), listed
    assert len(listed) >= 8


def test_every_module_with_a_command_line_is_a_command_or_run_by_the_tools():
    commands = {module for _, module in COMMANDS.values()}
    assert modules_with_a_command_line() == commands | set(INTERNAL)


def test_the_tools_readme_lists_every_command():
    readme = (ROOT / "tools" / "README.md").read_text(encoding="utf-8")
    assert [name for name in COMMANDS if f"python -m booktools {name}" not in readme] == []


@pytest.mark.parametrize("name", COMMANDS)
def test_help_says_what_and_shows_an_example(name, capsys):
    with pytest.raises(SystemExit) as stopped:
        booktools_main([name, "--help"])
    out = capsys.readouterr().out
    assert stopped.value.code == 0
    assert out.startswith(f"usage: python -m booktools {name}")
    assert f"python -m booktools {name}" in out.split("example:")[1]


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_option_is_a_one_line_error(name, capsys):
    with pytest.raises(SystemExit) as stopped:
        booktools_main([name, "--no-such-option"])
    error = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and error[-1].startswith(f"python -m booktools {name}: error: "), error


def test_an_unknown_command_is_a_one_line_error_naming_the_commands(capsys):
    with pytest.raises(SystemExit) as stopped:
        booktools_main(["grades"])
    error = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2
    assert error[-1].startswith("python -m booktools: error: argument command: invalid choice: 'grades'")


# booktools.notebooks is imported already (it stays, shared): runpy warns that it runs it again, as __main__.
@pytest.mark.filterwarnings("ignore:'booktools.notebooks' found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("old", sorted({*moved.MOVED, "notebooks"}))
def test_an_old_spelling_stops_and_names_the_new_one(old, capsys):
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module(f"booktools.{old}", run_name="__main__", alter_sys=False)
    error = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(error) == 1, error
    new = f"python -m booktools {moved.COMMANDS[old]}" if old in moved.COMMANDS else f"booktools.{moved.MOVED[old]}.{old}"
    assert error[0].startswith(f"python -m booktools.{old} is now ") and new in error[0], error


@pytest.mark.parametrize("old", sorted(moved.MOVED))
def test_importing_a_moved_module_names_its_room(old):
    with pytest.raises(ImportError, match=f"booktools.{old} moved to booktools.{moved.MOVED[old]}.{old}"):
        importlib.import_module(f"booktools.{old}")


def test_the_command_and_an_old_spelling_as_an_instructor_runs_them():
    """Through Python's -m and the console script, in processes of their own."""
    for command in ([sys.executable, "-m", "booktools", "--help"], ["booktools", "--help"]):
        shown = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        assert shown.returncode == 0 and "grade its exercises:" in shown.stdout, shown.stderr
    old = subprocess.run([sys.executable, "-m", "booktools.grade", "x"], capture_output=True, text=True, cwd=ROOT)
    assert old.returncode == 2 and old.stdout == ""
    assert old.stderr.splitlines() == [
        "python -m booktools.grade is now python -m booktools grade (python -m booktools --help lists every command)."
    ]


def test_the_report_names_a_folder_that_is_not_a_build(tmp_path, capsys):
    with pytest.raises(SystemExit):
        booktools_main(["report", str(tmp_path / "nowhere")])
    assert "nowhere is not a folder: give the built site" in capsys.readouterr().err
