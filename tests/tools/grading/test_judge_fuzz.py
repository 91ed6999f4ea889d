"""Forged exports, graphs, verdicts and names, generated (hypothesis): only data crosses into the grader's trust.

Three properties, each over a few hundred forgeries in seconds:

* decoding and judging any forged export or traced graph calls nothing but
  the interpreter's written-out functions and tensor methods (every call goes
  through ``booktools.grading.answers._call``, which the test watches), never
  ``exec``, ``eval``, ``compile`` or an import of a module not yet loaded, and
  never ends in a passed verdict unless the export keeps every rule;
* whatever the judge prints, every task gets a verdict of the exact form, and
  a line outside it gives the notebook nothing;
* whatever the names, messages and verdicts, grading a folder writes both CSVs
  (and the rest), printable, with one row per task and file.
"""

from __future__ import annotations

import builtins
import csv
import json
import os
import string
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import forged_exports
from bookpaths import ROOT
from booktools.grading import answers, grade, judge

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Names a forger would try: the allowed ones, dunders, Python's ways to run code, attribute walkers, and noise.
TARGETS = st.sampled_from(
    [
        "torch.relu",
        "torch.cat",
        "operator.getitem",
        "torch.nn.functional.conv2d",
        "builtins.getattr",
        "builtins.exec",
        "builtins.eval",
        "builtins.__import__",
        "builtins.compile",
        "builtins.open",
        "operator.attrgetter",
        "operator.methodcaller",
        "operator.call",
        "torch.load",
        "torch.hub.load",
        "torch.ops.aten.add",
        "torch._C._nn.pad",
        "torch.Tensor.__reduce_ex__",
        "torch.Tensor.register_hook",
        "math.__loader__",
        "os.system",
        "subprocess.run",
        "__class__",
        "__globals__",
        "__subclasses__",
        "view",
        "size",
        "register_hook",
        "apply_",
        "new_tensor",
        "conv",
        "conv.weight",
        "_modules",
        "conv._parameters",
        "",
    ]
) | st.text(string.printable, max_size=20)
NAMES = st.sampled_from(["x", "a", "b", "output", "__class__", "_x"]) | st.text(
    string.ascii_letters + "_", min_size=1, max_size=6
)


def constants():
    plain = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.sampled_from(["__class__", "__globals__", "shape", "exec", "os", "__builtins__", "import os"]),
    )
    return plain.map(lambda value: {"kind": "plain", "value": value}) | st.sampled_from(
        [
            {"kind": "float", "value": "1.5"},
            {"kind": "ellipsis"},
            {"kind": "dtype", "value": "float32"},
            {"kind": "opaque", "type": "x"},
        ]
    )


ARGUMENTS = st.recursive(
    constants() | NAMES.map(lambda name: {"kind": "node", "name": name}),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: {"kind": "tuple", "items": items}),
        st.lists(inner, max_size=3).map(lambda items: {"kind": "list", "items": items}),
        st.dictionaries(st.sampled_from(["dim", "__self__", "_x", "out", "inplace"]), inner, max_size=2).map(
            lambda items: {"kind": "dict", "items": items}
        ),
    ),
    max_leaves=8,
)
NODES = st.builds(
    lambda op, name, target, args, kwargs: {
        "op": op,
        "name": name,
        "target": target,
        "args": {"kind": "tuple", "items": args},
        "kwargs": {"kind": "dict", "items": kwargs},
    },
    st.sampled_from(["call_function", "call_method", "call_module", "get_attr", "placeholder", "output", "eval"]),
    NAMES,
    TARGETS,
    st.lists(ARGUMENTS, max_size=3),
    st.dictionaries(st.sampled_from(["dim", "__self__", "_stacklevel", "out", "weight"]), ARGUMENTS, max_size=2),
)


# Nodes that line up (an allowed call on the input or on an earlier node), so that the interpreter runs far enough
# to call things: the forged nodes beside them then meet real values.
ALLOWED_CALLS = st.one_of(
    st.tuples(st.just("call_function"), st.sampled_from(sorted(answers.FUNCTIONS))),
    st.tuples(st.just("call_method"), st.sampled_from(sorted(answers.TENSOR_METHODS))),
    st.tuples(st.just("call_function"), st.just("builtins.getattr")),
    st.tuples(st.just("call_module"), st.just("conv")),
    st.tuples(st.just("get_attr"), st.sampled_from(["conv.weight", "conv.bias"])),
)
LINED_UP = st.builds(
    lambda call, name, source, extra: {
        "op": call[0],
        "name": name,
        "target": call[1],
        "args": {"kind": "tuple", "items": [{"kind": "node", "name": source}, *extra]},
        "kwargs": {"kind": "dict", "items": {}},
    },
    ALLOWED_CALLS,
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["x", "a", "b"]),
    st.lists(constants(), max_size=2),
)


def graph_module(nodes: list) -> tuple[dict, dict]:
    """A module whose forward is ``nodes`` after one placeholder, with a standard child ``conv``; and its tensors."""
    placeholder = {"op": "placeholder", "name": "x", "target": "x", "args": {"kind": "tuple", "items": []}}
    placeholder["kwargs"] = {"kind": "dict", "items": {}}
    graph = {"nodes": [placeholder, *nodes]}
    encoder = answers._Encoder()
    conv = encoder.module(nn.Conv2d(1, 1, 3), 0)
    return forged_exports.custom_module(graph, children={"conv": conv}), encoder.tensors


class Watched:
    """Records what the interpreter calls, and every exec, eval, compile and new import, while active."""

    def __init__(self, monkeypatch):
        self.calls, self.forbidden = [], []
        self.loaded = set(sys.modules)
        original_call, original_import = answers._call, builtins.__import__

        def call(kind, name, function, args, kwargs):
            self.calls.append((kind, name, function))
            return original_call(kind, name, function, args, kwargs)

        def forbid(what):
            def refuse(*args, **kwargs):
                self.forbidden.append(what)
                raise RuntimeError(f"{what} was called")

            return refuse

        def importing(name, *args, **kwargs):
            if name not in self.loaded and not name.startswith(tuple(f"{m}." for m in ("torch", "numpy"))):
                self.forbidden.append(f"import {name}")
            return original_import(name, *args, **kwargs)

        monkeypatch.setattr(answers, "_call", call)
        for name in ("exec", "eval", "compile"):
            monkeypatch.setattr(builtins, name, forbid(name))
        monkeypatch.setattr(builtins, "__import__", importing)

    def check(self) -> None:
        assert not self.forbidden, self.forbidden
        for kind, name, function in self.calls:
            if kind == "function":
                assert answers.FUNCTIONS[name] is function
            elif kind == "method":
                assert answers.TENSOR_METHODS[name] is function
            elif kind == "attribute":
                assert function is answers._tensor_attribute
            else:
                assert kind == "module" and (type(function) is nn.Conv2d or isinstance(function, answers._GraphModule))


def export_of(*arguments, tensors=None, check="check_conv_layer", uses=()) -> dict:
    return {"check": check, "arguments": list(arguments), "extra": {}, "tensors": tensors or {}, "uses": list(uses)}


@FUZZ
@given(nodes=st.lists(NODES | LINED_UP, max_size=6))
def test_a_forged_graph_calls_only_what_the_interpreter_allows(monkeypatch, nodes):
    tree, tensors = graph_module(nodes)
    document = json.loads(json.dumps(export_of(tree, tensors=tensors)))
    with monkeypatch.context() as patch:
        watched = Watched(patch)
        try:
            answers.check_export(document)
            accepted = True
        except answers.TransportError:
            accepted = False
        module = answers.Decoder(document["tensors"]).value(document["arguments"][0])
        try:
            module(torch.zeros(1, 1, 5, 5))
        except Exception:  # noqa: BLE001 - a forged graph may fail in any way but these
            pass
        verdict = judge.judge(document)
    watched.check()
    assert set(verdict) == {"passed", "hidden", "message"} and verdict["passed"] is False and verdict["message"]
    if not accepted:
        assert verdict["message"].startswith("the grader refused this answer: ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
KINDS = st.sampled_from(sorted(answers._KINDS | {"node", "exec", "__class__"}))


def forged_values():
    return st.recursive(
        st.builds(
            lambda kind, rest: {"kind": kind, **rest},
            KINDS,
            st.dictionaries(st.sampled_from(["value", "ref", "items", "type", "class", "calls"]), JSON, max_size=3),
        ),
        lambda inner: st.one_of(
            st.builds(
                lambda kind, items: {"kind": kind, "items": items},
                st.sampled_from(["list", "tuple", "dict", "slice"]),
                st.lists(inner, max_size=3),
            ),
            st.builds(
                lambda name, calls: {"kind": "recorded", "name": name, "is_class": False, "calls": calls},
                st.text(max_size=5),
                st.lists(
                    st.dictionaries(
                        st.sampled_from(["key", "result", "raised", "callbacks", "tensors"]), inner | JSON, max_size=4
                    ),
                    max_size=2,
                ),
            ),
        ),
        max_leaves=10,
    )


def right_export() -> dict:
    encoder = answers._Encoder()
    return json.loads(json.dumps(export_of(encoder.value(nn.Conv2d(3, 2, 3)), tensors=encoder.tensors)))


def mutate(document, path: list, value):
    """``document`` with the item at ``path`` (indices into the nested objects and lists) replaced by ``value``."""
    if not path or not isinstance(document, (dict, list)) or not document:
        return value
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[path[0] % len(keys)]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[key] = mutate(document[key], path[1:], value)
    return copy


@FUZZ
@given(
    forged=st.one_of(
        JSON,
        forged_values().map(lambda tree: export_of(tree)),
        st.builds(
            lambda path, value: mutate(right_export(), path, value),
            st.lists(st.integers(0, 50), max_size=6),
            JSON | forged_values(),
        ),
    )
)
def test_a_forged_export_is_refused_with_a_message_or_judged_on_its_merits(monkeypatch, forged):
    with monkeypatch.context() as patch:
        watched = Watched(patch)
        verdict = judge.judge(forged)
        try:
            answers.check_export(forged)
            accepted = True
        except answers.TransportError as error:
            accepted, why = False, str(error)
    watched.check()
    assert set(verdict) == {"passed", "hidden", "message"} and type(verdict["passed"]) is bool and type(verdict["message"]) is str
    if not accepted:
        assert verdict["passed"] is False and verdict["message"] == f"the grader refused this answer: {why[:300]}"
    elif verdict["passed"]:  # only an export that keeps every rule, and is a right answer, passes
        assert forged["check"] == "check_conv_layer"


TASKS = ["q1", "q2", "q3"]
VERDICT_LINES = st.one_of(
    st.builds(
        lambda task, passed, hidden, message: json.dumps({"task": task, "passed": passed, "hidden": hidden, "message": message}),
        st.sampled_from([*TASKS, "q9", None, 1]),
        st.sampled_from([True, False, "true", 1, None]),
        st.sampled_from([None, True, False, "no"]),
        st.text(max_size=30) | st.integers(),
    ),
    JSON.map(json.dumps),
    st.text(max_size=40),
)


@FUZZ
@given(lines=st.lists(VERDICT_LINES, max_size=5), cut=st.booleans())
def test_any_judge_output_gives_every_task_a_verdict_of_the_exact_form(lines, cut):
    output = "\n".join(lines) + ("" if cut else "\n")
    verdicts = grade.parse_verdicts(output, TASKS)
    assert set(verdicts) == set(TASKS)
    for verdict in verdicts.values():
        assert set(verdict) == {"passed", "hidden", "message"} and type(verdict["passed"]) is bool
        assert verdict["hidden"] in (None, True, False) and type(verdict["message"]) is str
    complete = [line for line in output.split("\n")[:-1] if line.strip()]
    if any(grade._verdict_problem(_loads(line), TASKS, {}) for line in complete):
        assert not any(v["passed"] for v in verdicts.values())


def _loads(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None


FILE_NAMES = st.binary(min_size=1, max_size=40).map(lambda raw: raw.replace(b"/", b"_").replace(b"\0", b"_") + b".ipynb")
MESSAGES = st.text(max_size=60) | st.sampled_from(["\x1b[31mred", "=cmd|' /C calc'!A0", "a\nb\rc", "\u202eevil", "\udcff"])
QUESTIONS = [{"name": name, "check": "check_x", "call": f"checks.check_x({name})", "points": 2} for name in TASKS]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(FILE_NAMES, min_size=1, max_size=5, unique_by=lambda raw: raw.lower()),
    outputs=st.lists(st.lists(VERDICT_LINES, max_size=3).map(lambda lines: "\n".join(lines) + "\n"), min_size=5, max_size=5),
    messages=st.lists(MESSAGES, min_size=5, max_size=5),
    failing=st.sets(st.integers(0, 4), max_size=2),
)
def test_grading_a_folder_always_writes_both_csvs_printable_with_every_row(monkeypatch, names, outputs, messages, failing):
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "in"
        folder.mkdir()
        for name in names:
            with open(os.path.join(os.fsencode(folder), name), "w") as file:
                file.write("{}")
        order = {
            grade.readable_name(path.name): index for index, path in enumerate(sorted(folder.iterdir(), key=lambda p: p.name))
        }

        def fake(submission, root, chapter, time_limit, data_root, limits, use_sandbox, slot):
            index = order[grade.readable_name(submission.path.name)]
            if index in failing:
                raise RuntimeError(messages[index])
            run = grade.KernelRun(own_checks={"q1": None, "q2": messages[index], "q3": None}, exports={"q3": {"check": 1}})
            return grade.task_results(submission, QUESTIONS, run, grade.parse_verdicts(outputs[index], TASKS)), "graded"

        with monkeypatch.context() as patch:
            patch.setattr(grade, "grade_submission", fake)
            patch.setattr(grade, "prepare_sample", lambda: Path(work))
            patch.setattr(grade, "_questions", lambda root, chapter: QUESTIONS)
            patch.setattr(grade.class_report, "_figure", lambda summaries: ("", ""))
            grade.grade_folder(folder, ROOT, "ex1-conv-pool", Path(work) / "out", time_limit=10)
        out = Path(work) / "out"
        assert sorted(p.name for p in out.iterdir()) == ["canvas.csv", "grades.csv", "moodle.csv", "report.html", "summary.csv"]
        with (out / "grades.csv").open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        with (out / "summary.csv").open(encoding="utf-8", newline="") as file:
            summary = list(csv.DictReader(file))
        assert len(rows) == len(TASKS) * len(names) and len(summary) == len(names)
        shown = [row["file"][1:] if row["file"][:2] in ("'=", "'+", "'-", "'@") else row["file"] for row in summary]
        if not any(name.startswith(b"'") for name in names):  # a spreadsheet's apostrophe is its own, not the name's
            assert sorted(grade.name_bytes(file) for file in shown) == sorted(names)
        assert all(0 <= float(row["points"]) <= 2 for row in rows)
        for name in ("grades.csv", "summary.csv", "canvas.csv", "moodle.csv", "report.html"):
            text = (out / name).read_text(encoding="utf-8").replace("\r\n", "").replace("\n", "")
            assert all(c.isprintable() for c in text), name
        assert sum(row["status"].startswith("error") for row in summary) == len(failing & set(range(len(names))))


@pytest.mark.parametrize("kind", sorted(answers._KINDS))
def test_every_kind_of_value_has_its_exact_form(kind):
    # A key too many is refused for every kind: the form is exact, not "at least".
    with pytest.raises(answers.TransportError):
        answers.check_export(export_of({"kind": kind, "__class__": 1}))
