"""The student package is light: it depends on exactly what the chapters and helpers import, with lower bounds only."""

import ast
import sys
from importlib.metadata import packages_distributions

import tomllib
from packaging.requirements import Requirement

from bookpaths import ROOT
from booktools.myst_plain import Directive, directive_name, markdown_parser

PROJECT = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]
DEPENDENCIES = [Requirement(line) for line in PROJECT["dependencies"]]
BUILD_ONLY = {"booktools", "jupytext", "nbformat", "nbclient", "yaml", "markdown_it", "myst_parser", "bs4", "sphinx"}


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def chapter_code() -> list[str]:
    parser = markdown_parser(["colon_fence", "dollarmath", "amsmath", "deflist"])
    cells = []
    for path in sorted((ROOT / "book").glob("*.md")):
        for token in parser.parse(path.read_text(encoding="utf-8")):
            if directive_name(token) == "code-cell":
                cells.append(Directive.parse(token, 1, path).body)
    return cells


def third_party(modules: set[str]) -> set[str]:
    return {module for module in modules if module not in sys.stdlib_module_names and module != "cnnlab"}


CHAPTER_IMPORTS = third_party(set().union(*map(imported_modules, chapter_code())))
PACKAGE_IMPORTS = third_party(
    set().union(*(imported_modules(path.read_text()) for path in (ROOT / "code" / "src" / "cnnlab").rglob("*.py")))
)


def test_chapters_import_what_students_need():
    assert {"torch", "torchvision", "numpy", "matplotlib", "sklearn"} <= CHAPTER_IMPORTS


def test_dependencies_are_exactly_what_is_imported():
    distributions = packages_distributions()
    imported = {distributions[module][0].lower() for module in CHAPTER_IMPORTS | PACKAGE_IMPORTS}
    assert {requirement.name.lower() for requirement in DEPENDENCIES} == imported


def test_lower_bounds_only():
    for requirement in DEPENDENCIES:
        operators = {specifier.operator for specifier in requirement.specifier}
        assert operators == {">="}, f"{requirement}: give a lower bound only, so that Colab's own version stays"


def test_no_build_only_code_in_the_student_package():
    assert not (PACKAGE_IMPORTS | CHAPTER_IMPORTS) & BUILD_ONLY
    modules = {path.stem for path in (ROOT / "code" / "src" / "cnnlab").rglob("*.py")}
    assert not {"notebooks", "report"} & modules
    assert "scripts" not in PROJECT


def test_captum_installs_in_seconds_on_colab():
    """Captum, which the saliency chapter imports, is pure Python and needs only what Colab already has."""
    from importlib.metadata import distribution

    captum = distribution("captum")
    needs = {Requirement(line).name.lower() for line in captum.requires or [] if "extra ==" not in line}
    assert needs <= {"torch", "numpy", "matplotlib", "packaging", "tqdm"}, needs
    wheel = captum.read_text("WHEEL") or ""
    assert "Root-Is-Purelib: true" in wheel, "a compiled wheel would have to match Colab's Python and platform"
