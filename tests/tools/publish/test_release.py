"""Term releases: the tag's notebooks, launch buttons and citation point at the tag; main keeps pointing at main."""

from __future__ import annotations

import datetime
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from bookpaths import GIT_IDENTITY, book_repository, chapters_with_code, git
from booktools.publish import release
from booktools.publish.pdf import EDITIONS

TAG = "term-2027-spring"
MAIN_ADDRESS = "git+https://github.com/health-ai-course/cnn-practical@main#subdirectory=code"
TAG_ADDRESS = f"git+https://github.com/health-ai-course/cnn-practical@{TAG}#subdirectory=code"


@pytest.fixture
def repository(tmp_path, monkeypatch):
    # make_release commits with the user's identity; the tests give one.
    for variable, value in GIT_IDENTITY.items():
        monkeypatch.setenv(variable, value)
    return book_repository(tmp_path / "book-repository")


def setup_cell_addresses(repo: Path) -> set[str]:
    addresses = set()
    for chapter in chapters_with_code(repo):
        first = nbformat.read(repo / f"{chapter}.ipynb", as_version=4).cells[0].source
        addresses.add(first.split('"CNNLAB_PACKAGE_URL", "')[1].split('"')[0])
    return addresses


def test_a_release_points_its_notebooks_buttons_and_citation_at_its_tag_and_leaves_main_alone(repository):
    main_before = git(repository, "rev-parse", "main")
    commit = release.make_release(repository, TAG, datetime.date(2027, 1, 11))

    assert git(repository, "rev-parse", "main") == main_before, "main moved"
    assert git(repository, "rev-parse", "--abbrev-ref", "HEAD") == "main" and git(repository, "status", "--porcelain") == ""
    assert setup_cell_addresses(repository) == {MAIN_ADDRESS}, "main's notebooks no longer install from main"
    assert release.check_release(repository, TAG) != []

    assert git(repository, "rev-parse", f"{TAG}^{{commit}}") == commit
    assert git(repository, "cat-file", "-t", TAG) == "tag", "a term release is an annotated tag"
    assert git(repository, "merge-base", "--is-ancestor", main_before, commit) == ""
    git(repository, "checkout", "-q", TAG)
    assert setup_cell_addresses(repository) == {TAG_ADDRESS}
    config = yaml.safe_load((repository / "_config.yml").read_text())
    assert config["repository"]["branch"] == TAG, "the launch buttons would open main's notebooks"
    citation = yaml.safe_load((repository / "CITATION.cff").read_text())
    assert citation["version"] == TAG and str(citation["date-released"]) == "2027-01-11"
    assert release.check_release(repository, TAG) == []
    changed = set(git(repository, "diff", "--name-only", main_before, TAG).splitlines())
    assert changed == {"_config.yml", "CITATION.cff"} | {f"{chapter}.ipynb" for chapter in chapters_with_code(repository)}
    # Jupyter Book hands the tag to the theme, which builds the Colab and Binder buttons from it.
    sphinx = subprocess.run(["jupyter-book", "config", "sphinx", str(repository)], capture_output=True, text=True, check=True)
    assert f"'repository_branch': '{TAG}'" in (repository / "conf.py").read_text(), sphinx.stdout
    (repository / "conf.py").unlink()
    # Comments survive: only the changed lines differ.
    assert git(repository, "diff", "--numstat", main_before, TAG, "--", "_config.yml").split()[:2] == ["1", "1"]


def test_check_names_each_way_a_checkout_is_not_the_release(repository):
    problems = release.check_release(repository, TAG)
    assert any("repository.branch 'main', not 'term-2027-spring'" in problem for problem in problems)
    assert any("CITATION.cff has version 'main'" in problem for problem in problems)
    assert any("book/ex1-conv-pool.ipynb does not install cnnlab from" in problem for problem in problems)
    # The tag in the settings, but notebooks not generated again: still not a release.
    config = repository / "_config.yml"
    config.write_text(config.read_text().replace("branch: main", f"branch: {TAG}"))
    assert "the student notebooks do not match the chapters and the tag" in release.check_release(repository, TAG)


def test_the_command_line_checks_and_refuses_clearly(repository, capsys):
    assert release.main(["--root", str(repository), "check", TAG]) == 1
    assert "this checkout is not the release term-2027-spring" in capsys.readouterr().err
    assert release.main(["--root", str(repository), "make", "spring"]) == 1
    assert "tag='spring' is not a term release's name: use term- followed by" in capsys.readouterr().err
    (repository / "book" / "ex1-conv-pool.md").write_text("changed")
    assert release.main(["--root", str(repository), "make", TAG]) == 1
    assert "has uncommitted changes: commit or stash them" in capsys.readouterr().err
    git(repository, "checkout", "-q", "--", ".")
    assert release.main(["--root", str(repository), "make", TAG]) == 0
    assert f"tagged {TAG} at" in capsys.readouterr().out
    assert release.main(["--root", str(repository), "make", TAG]) == 1
    assert f"the tag {TAG} exists already" in capsys.readouterr().err


@pytest.mark.parametrize("tag", ["term-", "term-a..b", "term-x.lock", "Term-2027", "term 2027", "term-2027/spring"])
def test_unusable_tag_names_are_refused(repository, tag):
    with pytest.raises(ValueError, match="is not a term release's name"):
        release.make_release(repository, tag)
    assert git(repository, "tag", "--list") == ""


def test_a_config_without_one_branch_line_is_refused_before_anything_changes(repository):
    config = repository / "_config.yml"
    config.write_text(config.read_text().replace("  branch: main\n", ""))
    git(repository, "commit", "-qam", "no branch")
    with pytest.raises(ValueError, match=r"_config.yml should hold one line matching .*branch.* and holds 0"):
        release.make_release(repository, TAG)
    assert git(repository, "tag", "--list") == "" and git(repository, "status", "--porcelain") == ""
    assert git(repository, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_assets_are_the_site_both_pdfs_and_the_student_notebooks(repository, tmp_path):
    build = tmp_path / "_build"
    with pytest.raises(FileNotFoundError, match=r"index.html.*missing: build the site .* and the PDFs"):
        release.package_assets(repository, TAG, tmp_path / "dist", build)
    (build / "html" / "book").mkdir(parents=True)
    (build / "html" / "index.html").write_text("<meta>")
    (build / "html" / "book" / "ex1-conv-pool.html").write_text("<p>")
    (build / "pdf").mkdir()
    for edition in EDITIONS:
        (build / "pdf" / edition.filename).write_bytes(b"%PDF-1.4 " + edition.name.encode())
    written = release.package_assets(repository, TAG, tmp_path / "dist", build)
    assert sorted(path.name for path in written) == sorted(
        [f"{TAG}-{edition.filename}" for edition in EDITIONS] + [f"{TAG}-site.zip", f"{TAG}-student-notebooks.zip"]
    )
    site = zipfile.ZipFile(tmp_path / "dist" / f"{TAG}-site.zip").namelist()
    assert sorted(site) == [f"{TAG}-site/book/ex1-conv-pool.html", f"{TAG}-site/index.html"]
    notebooks = zipfile.ZipFile(tmp_path / "dist" / f"{TAG}-student-notebooks.zip").namelist()
    assert sorted(notebooks) == sorted(f"{TAG}-notebooks/{Path(c).name}.ipynb" for c in chapters_with_code(repository))
