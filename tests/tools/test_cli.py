"""Every booktools command answers --help with what it does and an example, and reports a bad argument in one line."""

import importlib
import pkgutil

import pytest

import booktools
from bookpaths import ROOT

# Every module with a command line; the measured kernel is an IPython kernel that the build starts, not a command.
COMMANDS = sorted(
    info.name
    for info in pkgutil.iter_modules(booktools.__path__)
    if info.name != "measured_kernel" and hasattr(importlib.import_module(f"booktools.{info.name}"), "main")
)


def test_the_commands_are_the_ones_the_tools_readme_lists():
    listed = (ROOT / "tools" / "README.md").read_text(encoding="utf-8")
    assert len(COMMANDS) >= 8
    assert [name for name in COMMANDS if f"python -m booktools.{name}" not in listed] == []


@pytest.mark.parametrize("name", COMMANDS)
def test_help_says_what_and_shows_an_example(name, capsys):
    module = importlib.import_module(f"booktools.{name}")
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    out = capsys.readouterr().out
    assert stopped.value.code == 0
    assert out.startswith(f"usage: python -m booktools.{name}")
    assert "example:" in out and f"booktools.{name}" in out.split("example:")[1]


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_option_is_a_one_line_error(name, capsys):
    module = importlib.import_module(f"booktools.{name}")
    with pytest.raises(SystemExit) as stopped:
        module.main(["--no-such-option"])
    error = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and error[-1].startswith(f"python -m booktools.{name}: error: "), error


def test_the_report_names_a_folder_that_is_not_a_build(tmp_path, capsys):
    from booktools import report

    with pytest.raises(SystemExit):
        report.main([str(tmp_path / "nowhere")])
    assert "nowhere is not a folder: give the built site" in capsys.readouterr().err
