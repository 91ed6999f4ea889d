"""Binder and laptops: binder/ pins CPU-only torch and otherwise exactly what the root requirements pin."""

import pytest
import tomllib
from packaging.requirements import Requirement

from bookpaths import ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_BUILDS = ("torch", "torchvision")


def read(path):
    """Requirements of a file (name, Requirement), its options and its local paths."""
    requirements, options, paths = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e ") or line.startswith("./"):
            paths.append(line.removeprefix("-e ").strip())
        elif line.startswith("-"):
            options.append(line)
        else:
            requirement = Requirement(line)
            requirements.append((requirement.name.lower(), requirement))
    return requirements, options, paths


def pins(requirements):
    pinned = {}
    for name, requirement in requirements:
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{requirement} is not pinned with =="
        pinned.setdefault(name, []).append((specifier.version, requirement.marker))
    return pinned


ROOT_PINS = pins(read(ROOT / "requirements.txt")[0])
BINDER_REQUIREMENTS, BINDER_OPTIONS, BINDER_PATHS = read(ROOT / "binder" / "requirements.txt")
BINDER_PINS = pins(BINDER_REQUIREMENTS)


def test_binder_folder_has_python_and_requirements():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    assert not (ROOT / "runtime.txt").exists(), "repo2docker reads binder/ only: keep one runtime.txt, in binder/"


@pytest.mark.parametrize("name", CPU_BUILDS)
def test_torch_is_the_cpu_build_of_the_pinned_version(name):
    ((version, _),) = ROOT_PINS[name]
    builds = {str(marker): pinned for pinned, marker in BINDER_PINS[name]}
    assert builds == {'sys_platform != "darwin"': f"{version}+cpu", 'sys_platform == "darwin"': version}
    assert f"--extra-index-url {CPU_INDEX}" in BINDER_OPTIONS


def test_everything_else_is_pinned_as_in_the_root_requirements():
    for name, pinned in BINDER_PINS.items():
        if name in CPU_BUILDS:
            continue
        assert name in ROOT_PINS, f"binder/requirements.txt pins {name}, which requirements.txt does not"
        assert pinned == ROOT_PINS[name], f"{name}: binder pins {pinned[0][0]}, requirements.txt {ROOT_PINS[name][0][0]}"


def test_binder_installs_cnnlab_and_what_it_needs():
    assert BINDER_PATHS == ["./code"]
    project = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]
    needed = {Requirement(line).name.lower() for line in project["dependencies"]}
    assert needed <= set(BINDER_PINS), f"binder/requirements.txt lacks {needed - set(BINDER_PINS)}"


def test_no_build_or_test_tool_on_binder():
    assert not {"jupyter-book", "pytest", "playwright", "-e ./tools"} & {*BINDER_PINS, *BINDER_PATHS}
