"""CITATION.cff is valid Citation File Format, credits the original practical, and is what the site and PDFs cite."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from bookpaths import ROOT
from booktools.publish.citation import Citation, read_citation

VALIDATOR = ROOT / ".venv" / "citation" / "bin" / "cffconvert"


def validate(path):
    if not VALIDATOR.is_file():
        pytest.fail(f"{VALIDATOR} not found: run bash .ci/install, which sets up the citation validator's environment.")
    return subprocess.run([str(VALIDATOR), "--validate", "-i", str(path)], capture_output=True, text=True)


def test_citation_file_is_valid_against_the_schema():
    process = validate(ROOT / "CITATION.cff")
    assert process.returncode == 0, process.stdout + process.stderr
    assert "valid according to schema version 1.2.0" in process.stdout


@pytest.mark.parametrize(
    "fault",
    [
        {"cff-version": None},  # a field the schema requires
        {"authors": [{"given-names": "Emma", "affiliation": 7}]},  # a string field given a number
        {"date-released": "December 2026"},  # not a date
        {"repository-code": "not a url"},
    ],
    ids=["no cff-version", "number as affiliation", "bad date", "bad url"],
)
def test_the_validator_rejects_a_broken_citation(tmp_path, fault):
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key, value in fault.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    broken = tmp_path / "CITATION.cff"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True))
    assert validate(broken).returncode != 0


def test_the_original_practical_is_credited_as_the_readme_does():
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    (practical,) = data["references"]
    assert practical["title"] == "Practical 3: Convolutional Neural Networks"
    authors = [(author["given-names"], author["family-names"]) for author in practical["authors"]]
    assert authors == [("Emma", "Robinson"), ("Mariana", "da Silva")]
    readme = " ".join((ROOT / "README.md").read_text().split())
    credit = "of the course *Applied AI for Health Research*, by Emma Robinson, edited by Mariana da Silva"
    assert f"*Practical 3: Convolutional Neural Networks* {credit}" in readme
    assert data["repository-code"] == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_the_citation_line():
    line = read_citation(ROOT).line()
    assert line.startswith("The course team (2026). Convolutional neural networks for health research, version main.")
    assert 'Based on "Practical 3: Convolutional Neural Networks" by Robinson, E. and da Silva, M.' in line
    assert line.endswith("https://health-ai-course.github.io/cnn-practical/")
    two = Citation("A and B", "T", "2027", "term-1", "https://x.org/", "").line()
    assert two == "A and B (2027). T, version term-1. https://x.org/"


def test_a_missing_or_incomplete_citation_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CITATION.cff not found: the book's root must hold CITATION.cff"):
        read_citation(tmp_path)
    (tmp_path / "CITATION.cff").write_text("cff-version: 1.2.0\ntitle: T\n")
    with pytest.raises(ValueError, match=r"has no authors, date-released, url: add them"):
        read_citation(tmp_path)
