"""What the self-checks' mutation suites share: the chapters' own reference answers, edits, and the verdict.

A suite (``tests/unit/test_checks*.py``) starts from the answer a chapter's
solution gives, read by ``booktools.chapter`` with its comments taken out,
changes it the way a student would, and expects the task's self-check either
to pass (an answer right in another way) or to raise ``SelfCheckError`` with a
message that names the real cause and the fix. Nothing else may escape.
"""

from __future__ import annotations

import io
import re
import textwrap
import tokenize

from bookpaths import book
from cnnlab import checks


def without_comments(code: str) -> str:
    """``code`` with every comment removed, and the lines that held nothing else.

    Examples
    --------
    >>> print(without_comments("# a title\\nx = f(  # why\\n    1)  # ✎\\n\\ny = 2"))
    x = f(
        1)
    <BLANKLINE>
    y = 2
    """
    cuts = {
        token.start[0]: token.start[1]
        for token in tokenize.generate_tokens(io.StringIO(code).readline)
        if token.type == tokenize.COMMENT
    }
    kept = []
    for number, line in enumerate(code.split("\n"), 1):
        if number in cuts:
            line = line[: cuts[number]].rstrip()
            if not line.strip():
                continue
        kept.append(line)
    return "\n".join(kept)


def reference_answer(chapter: str, label: str) -> str:
    """The code of the solution of exercise ``label`` in ``book/<chapter>.md``, as the student would write it."""
    exercise = next(exercise for exercise in book().chapter(f"book/{chapter}").exercises if exercise.label == label)
    return without_comments("\n".join(cell.source for cell in exercise.solution)).strip("\n") + "\n"


def edit(source: str, *changes: tuple[str, str]) -> str:
    """``source`` with each ``(old, new)`` change made once; an ``old`` that is not there fails the suite."""
    for old, new in changes:
        assert old in source, f"{old!r} is not in the reference answer"
        source = source.replace(old, new, 1)
    return source


def define(prelude: str, code: str, name: str):
    """Run ``code`` after ``prelude`` (the imports a notebook has made) and return what it calls ``name``."""
    namespace: dict = {}
    exec(prelude + textwrap.dedent(code), namespace)  # noqa: S102 - the answers are the suite's own code
    return namespace[name]


def expect(check, arguments: list, expected: str | None, task: str = "") -> None:
    """Run the self-check: it passes when ``expected`` is None, else its message matches ``expected``.

    The message must start with ``Task <task>``, the task the student is told about.
    """
    if expected is None:
        assert isinstance(check(*arguments), checks.Passed)
        return
    try:
        check(*arguments)
    except checks.SelfCheckError as error:
        message = str(error)
    else:
        raise AssertionError(f"the self-check passed; expected {expected!r}")
    assert message.startswith(f"Task {task}"), message
    assert re.search(expected, message, re.S), f"expected {expected!r}\ngot     {message!r}"
