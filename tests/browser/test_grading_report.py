"""The grader's report.html in Chromium, opened from disk as an instructor opens it: offline, clean, accessible."""

from __future__ import annotations

import pytest

from booktools.grading import class_report, grade

pytestmark = pytest.mark.browser


def graded_class() -> tuple[list, list]:
    """Three students, two tasks; one timed out, one at the memory limit; messages a submission could have shaped."""
    rows, summary = [], []
    for student, (first, second, status) in {
        "ana": ((2, ""), (3, ""), "graded"),
        "<b>bo</b>": ((2, ""), (0, "Task 2: the map differs by up to 0.5 <i>here</i>"), "memory limit"),
        "cy": ((0, "not graded: the submission ran past the time limit"), (0, "not graded"), "time limit"),
    }.items():
        for task, (points, feedback), possible in (("q1", first, 2), ("q2", second, 3)):
            rows.append(grade.TaskResult(student, f"{student}.ipynb", task, points, possible, feedback))
        total = sum(r.points for r in rows if r.student == student)
        summary.append([student, f"{student}.ipynb", f"{total:g}", "5", status, 12.5, "bubblewrap"])
    return rows, summary


def test_the_grading_report_reads_offline_with_alt_text_and_no_errors(browser, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    rows, summary = graded_class()
    report = tmp_path / "report.html"
    report.write_text(class_report.report_html("ex1-conv-pool", summary, rows, "2026-12-05 10:00"), encoding="utf-8")
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        errors, requests = [], []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        assert errors == []
        assert all(url.startswith(("file://", "data:")) for url in requests), requests
        figure = page.locator("img")
        assert figure.count() == 1
        assert "q2 33% (1 of 3)" in figure.get_attribute("alt")
        assert figure.evaluate("image => image.complete && image.naturalWidth > 300")
        assert page.locator("td.status-problem").all_inner_texts() == ["stopped at the memory limit", "timed out"]
        assert page.locator("b, i, script").count() == 0
        violations = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
        assert violations == []
    finally:
        context.close()
