"""Where a class went wrong, at a glance: one self-contained ``report.html`` per graded folder.

:mod:`booktools.grading.grade` writes it beside ``grades.csv``. It holds

* a figure: per task, the share of students with full points;
* per task, the five most frequent self-check messages, with their counts
  (messages that differ only in their numbers count as one, shown as the
  first student got it);
* the answers that are, or call, the reference the book's package ships
  for their task, which earned nothing (:func:`booktools.grading.grade.reused_reference`);
* per student, the points and the status: graded, timed out, unreadable,
  stopped at the memory, disk or output limit, the kernel died (at the
  memory limit, or because it ended itself), or the grader failed on it.

Everything is in the one file: the figure is an inline PNG with alt text, the
style sheet is inline, there is no script and nothing is fetched, so the
report reads offline and can be mailed. Every text a submission could have
shaped (file names, error messages) is escaped, and arrives printable: the
grader writes file names in :func:`booktools.grading.grade.readable_name`'s form and
messages as one line of printable text.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["STATUS_LABELS", "TaskSummary", "frequent_messages", "report_html", "task_summaries"]

# The grader's status of a submission, as the report names it.
STATUS_LABELS = {
    "graded": "graded",
    "time limit": "timed out",
    "unreadable": "unreadable",
    "memory limit": "stopped at the memory limit",
    "disk limit": "stopped at the disk limit",
    "output limit": "stopped at the output limit",
    "kernel died": "kernel died (the memory limit, or it ended itself)",
    "grader failed": "grader failed",
    "error": "not graded: the grader failed on it",
}
_MOST = 5


@dataclass(frozen=True)
class TaskSummary:
    """One task across the class: how many had full points, of how many, and the most frequent messages."""

    task: str
    full: int
    students: int
    messages: list[tuple[str, int]]

    @property
    def share(self) -> float:
        return self.full / self.students if self.students else 0.0


def _status(status: str) -> tuple[str, str]:
    """The report's name of a ``summary.csv`` status, and the note the grader added to it (``"graded; ..."``)."""
    code, _, note = str(status).partition(";")
    return STATUS_LABELS.get(code, code), note.strip()


def _shape(message: str) -> str:
    """The message with its numbers masked, so that "by up to 0.11" and "by up to 0.09" count as one."""
    return re.sub(r"\d+(?:[.,]\d+)*(?:e[-+]?\d+)?", "#", message)


def frequent_messages(messages: list[str], most: int = _MOST) -> list[tuple[str, int]]:
    """The ``most`` most frequent messages with their counts, the first wording of each kept.

    Examples
    --------
    >>> frequent_messages(["off by 0.1", "off by 0.2", "blank", ""])
    [('off by 0.1', 2), ('blank', 1)]
    """
    first: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for message in messages:
        if message:
            key = _shape(message)
            first.setdefault(key, message)
            counts[key] += 1
    return [(first[key], count) for key, count in counts.most_common(most)]


def task_summaries(rows: list) -> list[TaskSummary]:
    """Per task, in the order of ``rows`` (the grader's ``TaskResult`` rows), who had full points and why others did not."""
    tasks: dict[str, list] = {}
    for row in rows:
        tasks.setdefault(row.task, []).append(row)
    return [
        TaskSummary(
            task,
            sum(r.points >= r.max_points for r in results),
            len(results),
            frequent_messages([r.feedback for r in results if r.points < r.max_points]),
        )
        for task, results in tasks.items()
    ]


def _figure(summaries: list[TaskSummary]) -> tuple[str, str]:
    """The bar chart of full points per task, as an inline PNG, and its alt text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.task for s in summaries]
    shares = [100 * s.share for s in summaries]
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2), dpi=110)
    bars = axes.barh(names, shares, color="#2a7ab9")
    axes.bar_label(bars, labels=[f"{v:.0f}%" for v in shares], padding=3)
    axes.set_xlim(0, 110)
    axes.invert_yaxis()
    axes.set_xlabel("students with full points (%)")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    alt = "A bar chart of the share of students with full points on each task: " + "; ".join(
        f"{s.task} {100 * s.share:.0f}% ({s.full} of {s.students})" for s in summaries
    )
    return base64.b64encode(buffer.getvalue()).decode("ascii"), alt + "."


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.number { text-align: right; }
img { max-width: 100%; }
.status-problem { color: #a00000; font-weight: 600; }
"""


def report_html(chapter: str, summary: list[list], rows: list, generated: str) -> str:
    """The report of one graded folder: ``summary`` as in ``summary.csv`` (student, file, points, max, status, seconds)."""
    e = html.escape
    summaries = task_summaries(rows)
    png, alt = _figure(summaries) if summaries else ("", "")
    statuses = Counter(_status(row[4])[0] for row in summary)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Grading report: {e(chapter)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>Grading report: {e(chapter)}</h1>",
        f"<p>{len(summary)} submissions, graded {e(generated)}: "
        + ", ".join(f"{count} {e(label)}" for label, count in statuses.most_common())
        + ".</p>",
        "<h2>Full points per task</h2>",
    ]
    if png:
        parts.append(f'<img src="data:image/png;base64,{png}" alt="{e(alt)}">')
    parts.append("<h2>The most frequent messages per task</h2>")
    for task in summaries:
        parts.append(f"<h3>{e(task.task)}: {task.full} of {task.students} with full points</h3>")
        if not task.messages:
            parts.append("<p>No student lost a point here.</p>")
            continue
        parts.append('<table><thead><tr><th scope="col">students</th><th scope="col">message</th></tr></thead><tbody>')
        parts += [f'<tr><td class="number">{count}</td><td>{e(message)}</td></tr>' for message, count in task.messages]
        parts.append("</tbody></table>")
    reused = [row for row in rows if getattr(row, "reused", "")]
    if reused:
        parts.append("<h2>Answers that reuse the book's reference</h2>")
        parts.append(
            "<p>These answers are, subclass, wrap or call the reference that the book's package ships for the task, "
            "and earned nothing on it. The grader sees this only in what the student's kernel reports: copied source "
            "code, or a notebook that hides it, is for you to judge.</p>"
        )
        parts.append(
            '<table><thead><tr><th scope="col">student</th><th scope="col">file</th><th scope="col">task</th>'
            '<th scope="col">reference</th></tr></thead><tbody>'
        )
        parts += [
            f"<tr><td>{e(str(r.student))}</td><td>{e(str(r.file))}</td><td>{e(str(r.task))}</td><td>{e(str(r.reused))}</td></tr>"
            for r in reused
        ]
        parts.append("</tbody></table>")
    parts.append("<h2>Per student</h2>")
    parts.append(
        '<table><thead><tr><th scope="col">student</th><th scope="col">file</th><th scope="col">points</th>'
        '<th scope="col">status</th><th scope="col">seconds</th></tr></thead><tbody>'
    )
    for student, file, points, possible, status, seconds, *_ in summary:
        label, note = _status(status)
        css = "" if label == "graded" else ' class="status-problem"'
        text = e(label) + (f" ({e(note)})" if note else "")
        parts.append(
            f'<tr><td>{e(str(student))}</td><td>{e(str(file))}</td><td class="number">{e(str(points))} / {e(str(possible))}</td>'
            f'<td{css}>{text}</td><td class="number">{e(str(seconds))}</td></tr>'
        )
    parts.append("</tbody></table></main></body></html>")
    return "\n".join(parts) + "\n"
