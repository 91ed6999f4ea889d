"""The GitHub workflows are hardened: zizmor is clean, and forks can never reach the GPU runner."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bookpaths import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
SAFE_EVENTS = {"push", "schedule", "workflow_dispatch"}


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def test_there_are_the_five_workflows():
    assert [path.name for path in WORKFLOWS] == ["book.yml", "colab.yml", "linkcheck.yml", "release.yml", "tests.yml"]


def test_zizmor_finds_nothing():
    zizmor = shutil.which("zizmor") or str(Path(sys.executable).with_name("zizmor"))
    process = subprocess.run(
        [zizmor, "--offline", "--persona", "auditor", "--no-progress", str(ROOT / ".github" / "workflows")],
        capture_output=True,
        text=True,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "No findings to report" in process.stdout + process.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_pinned_actions(path):
    workflow = load(path)
    assert workflow.get("permissions") == {}, "start from no permissions at the top"
    assert not triggers(workflow) & {"pull_request_target", "workflow_run"}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} must list the permissions it needs"
        assert "write-all" not in str(job["permissions"])
        for step in job.get("steps", []):
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), f"{step['uses']} is not pinned by commit SHA"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False


def gpu_jobs(workflow: dict) -> dict:
    """Jobs whose runner comes from a repository variable, that is, may be a self-hosted GPU runner."""
    return {name: job for name, job in workflow["jobs"].items() if "vars." in str(job.get("runs-on", ""))}


def events_allowed_by(condition: str) -> set[str]:
    return set(re.findall(r"github\.event_name\s*==\s*'(\w+)'", condition))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_gpu_runner_is_unreachable_from_pull_requests(path):
    workflow = load(path)
    jobs = gpu_jobs(workflow)
    if not jobs:
        return
    assert triggers(workflow) <= SAFE_EVENTS, f"{path.name} can be started by {triggers(workflow) - SAFE_EVENTS}"
    for name, job in jobs.items():
        condition = str(job.get("if", ""))
        assert condition, f"job {name} runs on a repository-chosen runner without an event guard"
        assert events_allowed_by(condition) <= SAFE_EVENTS and events_allowed_by(condition)
        assert "pull_request" not in condition
        assert "refs/heads/main" in condition, "pushes reach the GPU runner only from main"
        assert "ubuntu-latest" in str(job["runs-on"]), "fall back to ubuntu-latest when no GPU runner is named"


def test_the_book_workflow_builds_with_full_data_and_deploys_with_official_actions():
    workflow = load(ROOT / ".github" / "workflows" / "book.yml")
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert triggers(workflow) == SAFE_EVENTS
    assert workflow["concurrency"]["group"] == "pages"
    assert build["env"]["CNNLAB_MNIST"] == "full"
    commands = [step.get("run", "") for step in build["steps"]]
    assert "bash .ci/install" in commands, "Chromium and poppler print the PDFs"
    built = commands.index("jupyter-book build . --all -W -n --keep-going")
    assert commands.index("python -m booktools pdf") > built, "the PDFs are printed from the executed book, into the site"
    assert "GITHUB_STEP_SUMMARY" in " ".join(commands)
    uses = [step.get("uses", "") for step in build["steps"] + deploy["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") and "reports" in str(s) for u, s in zip(uses, build["steps"]))
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"


def test_the_release_workflow_builds_the_tag_and_publishes_its_files_with_least_privilege():
    workflow = load(ROOT / ".github" / "workflows" / "release.yml")
    assert workflow["on"] == {"push": {"tags": ["term-*"]}}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"} and build["env"]["CNNLAB_MNIST"] == "full"
    assert publish["permissions"] == {"contents": "write"} and publish["needs"] == "build"
    commands = [step.get("run", "") for step in build["steps"]]
    order = [
        'python -m booktools release check "$GITHUB_REF_NAME"',
        "jupyter-book build . --all -W -n --keep-going",
        "python -m booktools pdf",
        'python -m booktools release assets "$GITHUB_REF_NAME" --out dist',
    ]
    assert [commands.index(command) for command in order] == sorted(commands.index(command) for command in order)
    upload = next(step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["if-no-files-found"] == "error", "a release never goes out without its files"
    create = publish["steps"][-1]
    assert create["run"].startswith('gh release create "$GITHUB_REF_NAME" dist/* --verify-tag')
    assert "${{" not in create["run"], "no expression is expanded inside the shell command"


LAYERS = ("unit", "book", "notebooks", "browser")


def test_the_tests_workflow_runs_each_layer_in_its_own_step():
    workflow = load(ROOT / ".github" / "workflows" / "tests.yml")
    steps = workflow["jobs"]["test"]["steps"]
    commands = [step.get("run", "") for step in steps]
    assert "bash .ci/install" in commands
    layer_steps = [next(step for step in steps if f"pytest -m {layer}" in step.get("run", "")) for layer in LAYERS]
    assert all(layer in step["name"] for layer, step in zip(LAYERS, layer_steps)), "each step's name says its layer"
    for step in layer_steps[1:]:
        assert step["if"] == "success() || failure()", f"{step['name']} must run even when an earlier layer failed"
    assert workflow["jobs"]["test"]["env"]["CNNLAB_MNIST"] == "sample"


def test_every_test_belongs_to_a_layer(request):
    declared = (ROOT / "pytest.ini").read_text()
    assert all(f"    {layer}:" in declared for layer in LAYERS)
    # Every worker collects the whole suite: its items are every test of this run, each marked by then.
    items = request.session.items
    assert request.node in items
    unlayered = [item.nodeid for item in items if not any(item.get_closest_marker(layer) for layer in LAYERS)]
    assert unlayered == []


def test_the_link_check_opens_an_issue_instead_of_failing():
    workflow = load(ROOT / ".github" / "workflows" / "linkcheck.yml")
    job = workflow["jobs"]["linkcheck"]
    check = next(step for step in job["steps"] if step.get("id") == "links")
    assert check["continue-on-error"] is True and "linkcheck" in check["run"]
    report = job["steps"][-1]
    assert report["if"] == "steps.links.outcome == 'failure'" and "gh issue create" in report["run"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}


def test_the_tests_workflow_keeps_the_pull_requests_book_and_summarises_it():
    workflow = load(ROOT / ".github" / "workflows" / "tests.yml")
    job = workflow["jobs"]["test"]
    built = job["env"]["CNNLAB_BUILT_BOOK"].replace("${{ github.workspace }}/", "")
    site = next(step for step in job["steps"] if step.get("name") == "Keep the built site")
    assert site["with"]["path"].rstrip("/") == f"{built}/_build/html" and site["if"] == "success() || failure()"
    summary = next(step for step in job["steps"] if "-m booktools report" in step.get("run", ""))
    assert '"$CNNLAB_BUILT_BOOK/_build/html"' in summary["run"] and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    names = [step.get("name", "") for step in job["steps"]]
    assert names.index("Keep the built site") > max(i for i, name in enumerate(names) if name.startswith("Layer "))


def test_the_colab_watch_runs_weekly_in_colabs_image_and_opens_one_issue():
    workflow = load(ROOT / ".github" / "workflows" / "colab.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}, "weekly and by hand, never for pull requests"
    job = workflow["jobs"]["watch"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert job["env"]["COLAB_IMAGE"].startswith("us-docker.pkg.dev/colab-images/public/runtime:")
    steps = {step.get("name", step.get("uses", "")): step for step in job["steps"]}
    assert "python -m booktools colab-watch solve --out solved" in steps["Write the solved student notebooks"]["run"]
    run = steps["Run every notebook in Colab's runtime"]
    assert run["id"] == "run" and run["continue-on-error"] is True
    assert '"$COLAB_IMAGE"' in run["run"]
    assert "python3 tools/src/booktools/publish/colab_watch.py run solved --report colab-report" in run["run"]
    assert "torch" not in run["run"] and "pip install" not in run["run"], "the image's own packages, as students get them"
    summary = steps["Notebook table (job summary)"]
    assert summary["if"] == "always()" and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    issue = steps["Open or update the colab-watch issue"]
    assert issue["if"] == "steps.run.outcome == 'failure'"
    assert "gh issue comment" in issue["run"] and "gh issue create" in issue["run"] and "--label colab-watch" in issue["run"]
    assert steps["Fail when a notebook failed"]["run"] == "exit 1"


def test_the_colab_watch_script_needs_only_what_colab_has():
    """The run step imports nothing at module level but the standard library and nbformat."""
    import ast

    tree = ast.parse((ROOT / "tools" / "src" / "booktools" / "publish" / "colab_watch.py").read_text())
    imported = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "argparse", "sys", "time", "dataclasses", "pathlib", "nbformat"}, imported
