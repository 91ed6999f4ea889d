"""Answers as data: rebuilt exactly, and nothing else rebuilt (booktools.grading.answers, booktools.grading.judge)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import forged_exports
from bookpaths import ROOT
from booktools.grading import answers, judge


class Net(nn.Module):
    """A custom forward with a functional call, a skip, a concatenation and train-only dropout."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Sequential(nn.Conv2d(5, 2, 1))

    def forward(self, x):
        y = F.relu(self.conv(x))
        if self.training:
            y = F.dropout(y, 0.5)
        return self.head(torch.cat([y, x], dim=1))


def round_trip(value):
    encoder = answers._Encoder()
    tree = json.loads(json.dumps(encoder.value(value)))
    return answers.Decoder(json.loads(json.dumps(encoder.tensors))).value(tree)


def test_a_custom_module_is_rebuilt_with_the_same_outputs_modes_and_structure():
    torch.manual_seed(0)
    model = Net().eval()
    rebuilt = round_trip(model)
    X = torch.rand(2, 1, 6, 6)
    assert torch.equal(model(X), rebuilt(X))
    assert type(rebuilt).__name__ == "Net" and [n for n, _ in rebuilt.named_modules()] == [n for n, _ in model.named_modules()]
    rebuilt.train()
    torch.manual_seed(1)
    assert not torch.equal(rebuilt(X), model(X)), "train mode must run the traced training graph (dropout)"


def test_numbers_keep_their_python_and_numpy_types():
    values = [1, 2.5, float("nan"), True, None, "x", np.float64(0.25), np.bool_(True), np.int64(3), (1, [2.0])]
    rebuilt = round_trip(values)
    assert [type(v) for v in rebuilt] == [type(v) for v in values]
    assert rebuilt[1:2] + rebuilt[3:] == values[1:2] + values[3:] and np.isnan(rebuilt[2])


def test_an_optimiser_holds_the_rebuilt_models_own_parameters():
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rebuilt_model, rebuilt_optimizer = round_trip((model, optimizer))
    held = {id(p) for group in rebuilt_optimizer.param_groups for p in group["params"]}
    assert held == {id(p) for p in rebuilt_model.parameters()}
    assert rebuilt_optimizer.param_groups[0]["momentum"] == 0.9 and type(rebuilt_optimizer) is torch.optim.SGD


def test_a_recorded_function_answers_its_calls_only_and_raises_what_it_raised():
    def dice(a, b):
        if a.sum() == 0:
            raise ZeroDivisionError("division by zero")
        return a * b

    recorder = answers._Recorder(dice, "dice")
    stand_in = recorder.stand_in()
    x = torch.arange(3.0)
    stand_in(x, x)
    with pytest.raises(ZeroDivisionError):
        stand_in(torch.zeros(3), x)
    replay = round_trip(recorder)
    assert torch.equal(replay(x, x), x * x)
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        replay(torch.zeros(3), x)
    with pytest.raises(answers.ReplayMiss):
        replay(x + 1, x)


def forged_module(target: str, op: str = "call_function") -> dict:
    def node(op, name, target, args):
        return {
            "op": op,
            "name": name,
            "target": target,
            "args": {"kind": "tuple", "items": args},
            "kwargs": {"kind": "dict", "items": {}},
        }

    argument = [{"kind": "node", "name": "x"}, {"kind": "plain", "value": "__class__"}]
    graph = {
        "nodes": [
            node("placeholder", "x", "x", []),
            node(op, "bad", target, argument),
            node("output", "output", "output", [{"kind": "node", "name": "bad"}]),
        ]
    }
    return forged_exports.custom_module(graph, name="Evil")


def as_export(*arguments) -> dict:
    return {"check": "check_conv_layer", "arguments": list(arguments), "extra": {}, "tensors": {}, "uses": []}


@pytest.mark.parametrize(
    "target, op",
    [
        ("builtins.__import__", "call_function"),
        ("builtins.exec", "call_function"),
        ("os.system", "call_function"),
        ("torch.load", "call_function"),
        ("torch.hub", "call_function"),
        ("operator.attrgetter", "call_function"),  # a public function that walks attributes, dunders included
        ("operator.call", "call_function"),  # and one that calls what it is given
        ("operator.methodcaller", "call_function"),
        ("torch.Tensor.__reduce_ex__", "call_function"),
        ("__class__", "call_method"),
        ("register_hook", "call_method"),  # a public tensor method that takes a callable
        ("apply_", "call_method"),
        ("_modules", "get_attr"),
        ("", "call_module"),  # the module itself: forward calling forward
    ],
)
def test_a_forged_graph_may_call_nothing_outside_the_written_out_lists(target, op):
    with pytest.raises(answers.TransportError):
        answers.check_export(as_export(forged_module(target, op)))
    module = answers.Decoder({}).value(forged_module(target, op))  # the interpreter refuses it too, unchecked
    with pytest.raises(answers.TransportError):
        module(torch.zeros(1))


def test_a_forged_graph_cannot_walk_attributes_to_pythons_exec():
    # getattr(x, "__class__") and the like: fx's attribute nodes read a tensor's shape, dtype, device or ndim only.
    with pytest.raises(answers.TransportError, match="reading '__class__' of a Tensor is not allowed"):
        answers.Decoder({}).value(forged_module("builtins.getattr"))(torch.zeros(1))
    shape = forged_module("builtins.getattr")
    shape["graphs"]["eval"]["nodes"][1]["args"]["items"][1]["value"] = "shape"
    assert answers.Decoder({}).value(shape)(torch.zeros(2, 3)) == (2, 3)
    # A keyword beginning with an underscore, a callable taken from data, a module's forward from an attribute.
    keyword = forged_module("torch.relu")
    keyword["graphs"]["eval"]["nodes"][1]["kwargs"]["items"] = {"__self__": {"kind": "plain", "value": 1}}
    with pytest.raises(answers.TransportError, match="a keyword"):
        answers.check_export(as_export(keyword))
    shadow = {
        **forged_module("torch.relu"),
        "class": "Conv2d",
        "standard": True,
        "attrs": {"forward": {"kind": "plain", "value": 1}},
    }
    del shadow["graphs"]
    with pytest.raises(answers.TransportError, match="the attribute 'forward' cannot be set on a Conv2d"):
        answers.Decoder({}).value(shadow)
    callable_attribute = {**shadow, "attrs": {"act": {"kind": "recorded", "name": "f", "is_class": False, "calls": []}}}
    with pytest.raises(answers.TransportError, match="'recorded' is not allowed here"):
        answers.check_export(as_export(callable_attribute))


def test_the_written_out_lists_hold_what_the_books_answers_trace_to():
    # What the answer keys and the mutation suites trace to (collected once from tests/unit/test_checks*.py).
    traced = {
        "operator.add", "operator.floordiv", "operator.getitem", "operator.mul", "operator.sub", "torch.add",
        "torch.cat", "torch.concat", "torch.nn.functional.dropout", "torch.nn.functional.interpolate",
        "torch.nn.functional.log_softmax", "torch.nn.functional.max_pool2d", "torch.nn.functional.pad",
        "torch.nn.functional.relu", "torch.nn.functional.softmax", "torch.relu", "torch.sigmoid", "torch.stack",
    }  # fmt: skip
    assert traced <= set(answers.FUNCTIONS) and {"flatten", "size", "view"} <= set(answers.TENSOR_METHODS)
    assert not any(name.rpartition(".")[2].startswith("_") for name in [*answers.FUNCTIONS, *answers.TENSOR_METHODS])
    assert {"shape"} <= answers.TENSOR_ATTRIBUTES


def test_forged_data_is_refused():
    with pytest.raises(answers.TransportError, match="is not a torch.nn module"):
        answers.Decoder({}).value({**forged_module("torch.relu"), "class": "Popen", "standard": True})
    short = {"t0": {"dtype": "float32", "shape": [4], "data": "AAAA", "parameter": False, "requires_grad": False}}
    with pytest.raises(answers.TransportError, match="has 3 bytes for shape"):
        answers.Decoder(short).value({"kind": "tensor", "ref": "t0"})
    with pytest.raises(answers.TransportError, match="not a torch.optim optimiser"):
        answers.Decoder({}).value({"kind": "optimizer", "class": "__class__", "groups": []})


def test_the_judge_gives_no_point_to_a_forged_or_blank_answer_and_one_to_a_right_one():
    blank = {
        "check": "check_conv_layer",
        "arguments": [{"kind": "plain", "value": None}],
        "extra": {},
        "tensors": {},
        "uses": [],
    }
    assert judge.judge(blank)["passed"] is False and "still a blank" in judge.judge(blank)["message"]
    not_a_check = {**blank, "check": "SelfCheckError"}
    assert judge.judge(not_a_check)["passed"] is False
    layer = nn.Conv2d(3, 2, 3)
    encoder = answers._Encoder()
    right = {**blank, "arguments": [encoder.value(layer)], "tensors": encoder.tensors}
    assert judge.judge(json.loads(json.dumps(right))) == {"passed": True, "hidden": None, "message": ""}


@pytest.mark.parametrize("case", ["reference", "skip added", "layers defined in another order", "softmax in forward"])
def test_the_judge_agrees_with_the_self_check_on_a_segmentation_network(case):
    # The checks follow what forward runs (functions and layers); the judge runs the traced graph of the answer.
    import yaml
    from mutations import define, edit, reference_answer

    from cnnlab import checks

    tasks = yaml.safe_load((ROOT / "tests" / "unit" / "answers" / "ex4-brain-tissue.yml").read_text(encoding="utf-8"))
    task = next(task for task in tasks if task["task"] == "4.2")
    answer = next(answer for answer in task["cases"] if answer["id"] == case)
    source = edit(reference_answer("ex4-brain-tissue", "ex-4-1") + task["reference"]["code"], *answer.get("changes", []))
    prelude = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
    namespace: dict = {}
    exec(prelude + source, namespace)  # noqa: S102 - the suite's own answers
    verdict = judge.judge(json.loads(answers.export("checks.check_segmentation_net(TissueNet)", namespace)))
    try:
        checks.check_segmentation_net(define(prelude, source, "TissueNet"))
        expected = ""
    except checks.SelfCheckError as error:
        expected = str(error)
    assert verdict["passed"] is (expected == "") and verdict["message"] == expected
