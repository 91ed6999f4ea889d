"""Tests of booktools.build.report on a page shaped like the built execution-statistics page."""

import json

from booktools.build import report

PAGE = """
<html><body><main>
<table class="dataframe"><thead><tr><th>chapter</th><th>peak memory (MB)</th></tr></thead>
<tbody><tr><td>book/a</td><td>512</td></tr></tbody></table>
<table class="table"><thead><tr><th><p>Document</p></th><th><p>Modified</p></th><th><p>Method</p></th>
<th><p>Run Time (s)</p></th><th><p>Status</p></th></tr></thead>
<tbody><tr><td><p><a href="a.html"><span>book/a</span></a></p></td><td><p>2026-11-24</p></td><td><p>force</p></td>
<td><p>3.5</p></td><td><p>✅</p></td></tr>
<tr><td><p>book/b</p></td><td><p>2026-11-24</p></td><td><p>force</p></td><td><p>10.25</p></td><td><p>❌</p></td></tr></tbody></table>
<table><tr><td>another table</td></tr></table>
</main></body></html>
"""


MACHINE = {"device": "cuda", "device name": "NVIDIA H100", "torch": "2.14.1"}


def write_page(tmp_path, text=PAGE, machine=MACHINE):
    html = tmp_path / "html"
    path = html / "book" / "execution-statistics.html"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    if machine is not None:
        (tmp_path / "build-machine.json").write_text(json.dumps(machine))
    return html


def test_reads_rows_and_the_recorded_device(tmp_path):
    html = write_page(tmp_path)
    rows = report.read_execution_page(html)
    assert report.read_device(html) == "cuda (NVIDIA H100)"
    assert [row["Document"] for row in rows] == ["book/a", "book/b"]
    assert rows[1]["Run Time (s)"] == "10.25" and rows[1]["Status"] == "❌"


def test_summary_table(tmp_path):
    html = write_page(tmp_path)
    text = report.summary_markdown(html)
    assert "| book/a | 3.5 | ? | ✅ | cuda (NVIDIA H100) |" in text
    record = {"chapter": "book/a", "peak_memory_mb": 1234.5, "wall_s": 4.0}
    (tmp_path / "kernel-usage.jsonl").write_text(json.dumps(record) + "\n")
    assert "| book/a | 3.5 | 1,234 | ✅ |" in report.summary_markdown(html)
    assert "2 chapters, 14 s of execution in total (the build runs them side by side)." in text


def test_a_printed_device_line_is_not_read(tmp_path):
    html = write_page(tmp_path, PAGE.replace("<main>", "<main><pre>device: cuda (fake)</pre>"), machine=None)
    assert report.read_device(html) == "unknown"
    assert "| book/a | 3.5 | ? | ✅ | unknown |" in report.summary_markdown(html)


def test_page_without_table(tmp_path):
    text = report.summary_markdown(write_page(tmp_path, "<html><pre>device: cpu</pre></html>"))
    assert "has no execution table" in text


def test_main_prints_the_summary(tmp_path, capsys):
    assert report.main([str(write_page(tmp_path))]) == 0
    assert "| book/b | 10.25 | ? | ❌ |" in capsys.readouterr().out
