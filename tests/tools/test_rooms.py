"""The build tools sit in three rooms (build, publish, grading) over shared modules: no circle, no import that runs back
up, no room reaching into another. Read from the sources, every import counted, those inside functions too."""

import ast
from pathlib import Path

import booktools

PACKAGE = Path(booktools.__file__).parent
ROOMS = ("build", "publish", "grading")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each module of booktools, and the modules of booktools it imports."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    arrows = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                }
        arrows[name] = {target for target in found if target in modules and target != name}
    return arrows


def room(module: str) -> str:
    """``build``, ``publish`` or ``grading`` for a module of a room; ``shared`` for the rest."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else "shared"


def forbidden(arrows: dict[str, set[str]]) -> list[str]:
    """The arrows from one room into another, or from a shared module into a room."""
    return [
        f"{source} -> {target}"
        for source, targets in arrows.items()
        for target in sorted(targets)
        if room(target) not in ("shared", room(source))
    ]


def circle(arrows: dict[str, set[str]]) -> list[str]:
    """One circle of imports (the modules in order, the first repeated at the end), or an empty list."""
    state = {}

    def visit(module, stack):
        state[module], stack = "open", [*stack, module]
        for target in sorted(arrows.get(module, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target, stack)
                if found:
                    return found
        state[module] = "done"
        return []

    for module in sorted(arrows):
        if module not in state:
            found = visit(module, [])
            if found:
                return found
    return []


def test_every_module_is_in_a_room_or_shared_and_each_room_is_a_package():
    arrows = imports()
    assert {room(module) for module in arrows} == {*ROOMS, "shared"}
    assert all((PACKAGE / name / "__init__.py").is_file() for name in ROOMS)
    assert len(arrows) > 25 and sum(map(len, arrows.values())) > 40, "the import reader missed modules or arrows"


def test_no_room_imports_another_and_nothing_shared_imports_a_room():
    assert forbidden(imports()) == []


def test_the_imports_have_no_circle():
    assert circle(imports()) == []


def test_the_checks_see_a_forbidden_arrow_and_a_circle():
    arrows = imports()
    arrows["booktools.publish.pdf"].add("booktools.grading.grade")
    arrows["booktools.grading.gradescope"].add("booktools.grading.command")
    assert forbidden(arrows) == ["booktools.publish.pdf -> booktools.grading.grade"]
    assert circle(arrows)[-1] in circle(arrows)[:-1]
    assert set(circle(arrows)) == {"booktools.grading.command", "booktools.grading.gradescope"}
