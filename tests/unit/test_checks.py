"""The self-checks, tried as students answer: realistic answers to every task, run in one process.

Each case is an answer a student could write, most of them the chapter's own
solution (read from the chapter, :mod:`mutations`) with one line changed. A wrong answer must raise ``SelfCheckError``
with a message that names its real cause and the fix; an answer that is right
in another way must pass. No case may end in any other exception.

The cases are grouped by the kind of mistake (``KIND``), which
``test_the_suite_covers_every_kind`` counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import mutations
import pytest
import torch
from mutations import edit, expect, reference_answer

from cnnlab import checks, models

PRELUDE = """\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, precision_score, recall_score
from cnnlab import models
"""

KINDS = {
    "right": "correct in another way: must pass",
    "wrong": "a plain mistake: the message names it",
    "blank": "a blank left as it was",
    "behaviour": "checked by behaviour, not by counting modules",
    "traceback": "formerly a raw traceback",
    "true": "formerly a false or misleading message",
    "shape": "a shape error named at its layer",
    "hidden": "a mistake the sample data cannot reveal",
}


@dataclass
class Case:
    id: str
    kind: str
    check: Any
    answer: Any  # a callable that returns the arguments of the check
    expected: str | None  # a regular expression the message must match, or None: must pass


def define(code: str, name: str):
    return mutations.define(PRELUDE, code, name)


def evaluate(expression: str):
    namespace: dict = {}
    exec(PRELUDE, namespace)  # noqa: S102 - the answers are the suite's own code
    return eval(expression, namespace)


CASES: list[Case] = []


def case(id, kind, check, answer, expected=None):
    assert kind in KINDS and not any(existing.id == id for existing in CASES), id
    CASES.append(Case(id, kind, check, answer, expected))


# Exercise 1.1: a convolution -------------------------------------------------------------

for id, kind, layer, expected in [
    ("keywords", "right", "nn.Conv2d(in_channels=3, out_channels=2, kernel_size=3)", None),
    ("positional", "right", "nn.Conv2d(3, 2, 3)", None),
    ("kernel tuple", "right", "nn.Conv2d(3, 2, (3, 3))", None),
    ("explicit defaults", "right", "nn.Conv2d(3, 2, 3, stride=1, padding=0)", None),
    ("padding valid", "right", "nn.Conv2d(3, 2, 3, padding='valid')", None),
    ("blank", "blank", "None", "operation is still a blank \\(None\\): replace it with nn.Conv2d"),
    ("class", "wrong", "nn.Conv2d", "operation is the class Conv2d itself: create a layer by calling it"),
    ("in 1", "wrong", "nn.Conv2d(1, 2, 3)", "in_channels=1 but the image has 3 channels"),
    ("channels swapped", "wrong", "nn.Conv2d(2, 3, 3)", "in_channels=2 but the image has 3 channels"),
    ("out 3", "wrong", "nn.Conv2d(3, 3, 3)", "out_channels=3 but the task asks for 2"),
    ("kernel 2", "wrong", "nn.Conv2d(3, 2, 2)", r"kernel_size=\(2, 2\) but the task asks for 3x3"),
    ("stride 2", "wrong", "nn.Conv2d(3, 2, 3, stride=2)", r"stride=\(2, 2\): keep the default stride of 1"),
    ("padded too early", "true", "nn.Conv2d(3, 2, 3, padding=1)", "a 100x100 image becomes 100x100: start without padding"),
    ("conv1d", "wrong", "nn.Conv1d(3, 2, 3)", "operation is Conv1d, not nn.Conv2d"),
    ("functional", "wrong", "F.conv2d", "operation is a builtin_function_or_method, not nn.Conv2d"),
    ("no bias", "wrong", "nn.Conv2d(3, 2, 3, bias=False)", r"no bias \(bias=False\)"),
    ("blank as ...", "blank", "...", r"operation is still a blank \(Ellipsis\)"),
    ("kernel list", "right", "nn.Conv2d(3, 2, [3, 3])", None),
    ("dilated", "wrong", "nn.Conv2d(3, 2, 3, dilation=2)", r"dilation=\(2, 2\), which spreads the 3x3 kernel.*dilation=1"),
    ("dilated in one direction", "wrong", "nn.Conv2d(3, 2, 3, dilation=(1, 2))", r"dilation=\(1, 2\)"),
    ("explicit dilation 1 and groups 1", "right", "nn.Conv2d(3, 2, 3, dilation=1, groups=1)", None),
    ("float64", "wrong", "nn.Conv2d(3, 2, 3, dtype=torch.float64)", "torch.float64 weights, but the images are float32"),
    ("made double", "wrong", "nn.Conv2d(3, 2, 3).double()", r"torch.float64 weights.*call .float\(\) on it"),
    ("half precision", "wrong", "nn.Conv2d(3, 2, 3).half()", "torch.float16 weights"),
    ("explicit float32", "right", "nn.Conv2d(3, 2, 3, dtype=torch.float32)", None),
    ("meta device", "true", "nn.Conv2d(3, 2, 3, device='meta')", "weights on the 'meta' device, which hold no numbers"),
    ("moved to the meta device", "true", "nn.Conv2d(3, 2, 3).to('meta')", "'meta' device.*without device='meta'"),
    ("on the CPU by name", "right", "nn.Conv2d(3, 2, 3, device='cpu')", None),
]:
    case(f"1.1 {id}", kind, checks.check_conv_layer, lambda layer=layer: [evaluate(layer)], expected)

for id, kind, layer, expected in [
    ("padding 1", "right", "nn.Conv2d(3, 2, 3, padding=1)", None),
    ("same", "right", "nn.Conv2d(3, 2, 3, padding='same')", None),
    ("pair", "right", "nn.Conv2d(3, 2, 3, padding=(1, 1))", None),
    ("reflect", "right", "nn.Conv2d(3, 2, 3, padding=1, padding_mode='reflect')", None),
    ("no padding", "wrong", "nn.Conv2d(3, 2, 3)", "a 100x100 image becomes 98x98: padding=1 keeps 100x100"),
    ("padding 2", "true", "nn.Conv2d(3, 2, 3, padding=2)", "padding=2, so a 100x100 image becomes 102x102"),
    ("blank", "blank", "...", r"operation is still a blank \(Ellipsis\)"),
    # Dilation 2 with padding 2 also keeps 100x100, but the kernel no longer covers neighbouring pixels.
    ("dilated and padded", "wrong", "nn.Conv2d(3, 2, 3, padding=2, dilation=2)", r"dilation=\(2, 2\).*keep PyTorch's default"),
    ("float64", "wrong", "nn.Conv2d(3, 2, 3, padding=1, dtype=torch.float64)", "torch.float64 weights"),
    ("meta device", "true", "nn.Conv2d(3, 2, 3, padding=1, device='meta')", "'meta' device"),
]:
    case(f"1.1 padding {id}", kind, checks.check_padded_conv_layer, lambda layer=layer: [evaluate(layer)], expected)

# Exercise 1.2: max-pooling -----------------------------------------------------------------

for id, kind, layer, expected in [
    ("keywords", "right", "nn.MaxPool2d(kernel_size=3, stride=1)", None),
    ("positional", "right", "nn.MaxPool2d(3, 1)", None),
    ("tuples", "right", "nn.MaxPool2d((3, 3), stride=(1, 1))", None),
    ("default stride", "wrong", "nn.MaxPool2d(3)", r"stride=\(3, 3\) \(PyTorch's default stride is the kernel size\)"),
    ("padded", "wrong", "nn.MaxPool2d(3, stride=1, padding=1)", "padding=1, so 100x100 images become 100x100 instead of 98x98"),
    ("average", "wrong", "nn.AvgPool2d(3, stride=1)", "maxpoolop is AvgPool2d, not nn.MaxPool2d"),
    ("window 2", "wrong", "nn.MaxPool2d(2, stride=1)", r"kernel_size=\(2, 2\) but the task asks for 3x3"),
    ("dilated", "wrong", "nn.MaxPool2d(3, stride=1, dilation=2)", "keep dilation=1"),
    ("blank", "blank", "None", "maxpoolop is still a blank"),
    ("blank as ...", "blank", "...", r"maxpoolop is still a blank \(Ellipsis\)"),
    ("class", "wrong", "nn.MaxPool2d", "maxpoolop is the class MaxPool2d itself: create a layer by calling it"),
    ("functional", "wrong", "F.max_pool2d", "maxpoolop is a function, not nn.MaxPool2d: use nn.MaxPool2d"),
]:
    case(f"1.2.1 {id}", kind, checks.check_pool_3x3, lambda layer=layer: [evaluate(layer)], expected)

for id, kind, layer, expected in [
    ("tuple", "right", "nn.MaxPool2d((4, 2), stride=2)", None),
    ("tuples", "right", "nn.MaxPool2d(kernel_size=(4, 2), stride=(2, 2))", None),
    ("ceil mode", "right", "nn.MaxPool2d((4, 2), 2, ceil_mode=True)", None),
    ("return indices", "wrong", "nn.MaxPool2d((4, 2), 2, return_indices=True)", "return_indices=True, so it returns two tensors"),
    ("swapped", "wrong", "nn.MaxPool2d((2, 4), stride=2)", "height and width swapped"),
    ("default stride", "wrong", "nn.MaxPool2d((4, 2))", r"stride=\(4, 2\) \(PyTorch's default"),
    ("square", "wrong", "nn.MaxPool2d(4, stride=2)", r"kernel_size=\(4, 4\) but the task asks for 4x2"),
    ("stride pair", "wrong", "nn.MaxPool2d((4, 2), stride=(2, 1))", r"stride=\(2, 1\) but the task asks for stride=2"),
    ("keywords as a list", "right", "nn.MaxPool2d(kernel_size=[4, 2], stride=2)", None),
    ("blank as ...", "blank", "...", r"maxpoolop is still a blank \(Ellipsis\)"),
]:
    case(f"1.2.2 {id}", kind, checks.check_pool_4x2, lambda layer=layer: [evaluate(layer)], expected)

# Exercise 2.1: the network -----------------------------------------------------------------

MODEL = reference_answer("ex2-mnist-cnn", "ex-2-1")
BLOCK_2 = "        x = self.conv2(x)\n        x = self.maxpool(x)\n        x = F.relu(x)\n"

for id, kind, changes, expected in [
    ("reference", "right", [], None),
    ("pool default stride", "right", [("nn.MaxPool2d(kernel_size=2, stride=2)", "nn.MaxPool2d(2)")], None),
    ("view", "right", [("x.flatten(start_dim=1)", "x.view(-1, 320)")], None),
    ("view batch", "right", [("x.flatten(start_dim=1)", "x.view(x.size(0), -1)")], None),
    ("relu before pool", "right", [(BLOCK_2, "        x = F.relu(self.conv2(x))\n        x = self.maxpool(x)\n")], None),
    ("torch.relu", "right", [("x = F.relu(x)\n        x = self.fc2", "x = torch.relu(x)\n        x = self.fc2")], None),
    (
        "functional pool",
        "right",
        [
            (
                "x = self.maxpool(x)\n        x = F.relu(x)\n        x = self.conv2",
                "x = F.max_pool2d(x, 2)\n        x = F.relu(x)\n        x = self.conv2",
            )
        ],
        None,
    ),
    ("3 channels", "wrong", [("nn.Conv2d(1, 10", "nn.Conv2d(3, 10")], "conv1 has in_channels=3 but MNIST images have 1 channel"),
    (
        "conv2 in 20",
        "wrong",
        [("nn.Conv2d(10, 20", "nn.Conv2d(20, 20")],
        "conv2 has in_channels=20 but conv1 produces 10 channels",
    ),
    (
        "kernel 3",
        "wrong",
        [("nn.Conv2d(1, 10, kernel_size=5)", "nn.Conv2d(1, 10, kernel_size=3)")],
        r"conv1 has kernel_size=\(3, 3\)",
    ),
    ("pool stride 1", "wrong", [("stride=2)", "stride=1)")], "self.maxpool has stride=1 but should move 2 pixels"),
    ("pool padding", "behaviour", [("stride=2)", "stride=2, padding=1)")], "self.maxpool has padding=1, which changes the sizes"),
    ("fc1 500", "wrong", [("20 * 4 * 4", "500")], "fc1 has in_features=500 but conv2's output is 20 channels x 4 x 4 = 320"),
    ("fc2 out 2", "wrong", [("nn.Linear(50, 10)", "nn.Linear(50, 2)")], "fc2 has out_features=2 but there are 10 digits"),
    ("softmax", "wrong", [("        return x\n", "        return F.softmax(x, dim=1)\n")], "the outputs are probabilities"),
    ("log_softmax", "wrong", [("        return x\n", "        return F.log_softmax(x, dim=1)\n")], "log-probabilities"),
    (
        "relu on logits",
        "wrong",
        [("        return x\n", "        return F.relu(x)\n")],
        "never negative \\(a ReLU after the last layer\\)",
    ),
    (
        "no relu between fc",
        "wrong",
        [("x = F.relu(x)\n        x = self.fc2", "x = self.fc2")],
        "there is no ReLU between fc1 and fc2",
    ),
    (
        "no relu block 1",
        "behaviour",
        [("x = self.maxpool(x)\n        x = F.relu(x)\n        x = self.conv2", "x = self.maxpool(x)\n        x = self.conv2")],
        "the first convolutional block has no ReLU",
    ),
    (
        "conv1 twice",
        "shape",
        [("        x = self.conv2(x)\n", "        x = self.conv1(x)\n")],
        r"self.conv1 takes 1 input channel\(s\) but received 10 .* runs a second time",
    ),
    (
        "conv2 first",
        "shape",
        [("        x = self.conv1(x)\n", "        x = self.conv2(x)\n")],
        r"self.conv2 takes 10 input channel\(s\) but received 1 .* should use self.conv1",
    ),
    (
        "no flatten",
        "shape",
        [("        x = x.flatten(start_dim=1)\n", "")],
        r"self.fc1 received a 4-D input \(4, 20, 4, 4\): flatten it",
    ),
    (
        "no super",
        "traceback",
        [("        super().__init__()\n", "")],
        "building MNISTModel\\(\\) failed with AttributeError: cannot assign module before Module.__init__",
    ),
    (
        "typo",
        "traceback",
        [("nn.Linear(50, 10)", "nn.linear(50, 10)")],
        "building MNISTModel\\(\\) failed with AttributeError: .*has no attribute 'linear'",
    ),
    ("blank layer", "blank", [("nn.Conv2d(10, 20, kernel_size=5)", "None")], r"self.conv2 is still a blank \(None\)"),
    ("blank forward", "blank", [("x = self.fc1(x)", "x = None")], "Something is still None: fill in every blank"),
    ("no return", "wrong", [("        return x\n", "")], "forward returned None: return the output of the last layer"),
    (
        "a pooling layer per block",
        "true",
        [
            (
                "self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)",
                "self.pool1 = nn.MaxPool2d(2)\n        self.pool2 = nn.MaxPool2d(2)",
            ),
            ("x = self.conv1(x)\n        x = self.maxpool(x)", "x = self.conv1(x)\n        x = self.pool1(x)"),
            ("x = self.conv2(x)\n        x = self.maxpool(x)", "x = self.conv2(x)\n        x = self.pool2(x)"),
        ],
        r"no self.maxpool \(it has self.pool1, self.pool2\): .* names the notebook gives",
    ),
    (
        "__init__ misspelt",
        "true",
        [("def __init__(self):", "def __int__(self):")],
        "has no __init__ of its own \\(it is spelt __int__\\)",
    ),
    (
        "forward misspelt",
        "traceback",
        [("def forward(self, x):", "def foward(self, x):")],
        "has no forward method \\(foward is not it",
    ),
    (
        "batch flattened too",
        "shape",
        [("x.flatten(start_dim=1)", "torch.flatten(x)")],
        r"self.fc1 received a 1-D input \(1280,\): the whole batch",
    ),
    (
        "view to 320 rows",
        "shape",
        [("x.flatten(start_dim=1)", "x.view(320, -1)")],
        "self.fc1 takes 320 features but received 4 per image",
    ),
    (
        "nn.ReLU applied in forward",
        "traceback",
        [("x = self.fc1(x)\n        x = F.relu(x)", "x = self.fc1(x)\n        x = nn.ReLU(x)")],
        r"self.fc2 received a ReLU, not a tensor \(ReLU is a layer: calling nn.ReLU\(x\) in forward builds a new layer",
    ),
    ("flatten with reshape", "right", [("x.flatten(start_dim=1)", "x.reshape(-1, 320)")], None),
    (
        "functional pooling by 2",
        "right",
        [("x = self.conv1(x)\n        x = self.maxpool(x)", "x = self.conv1(x)\n        x = F.max_pool2d(x, 2)")],
        None,
    ),
]:
    case(f"2.1 {id}", kind, checks.check_network, lambda changes=changes: [define(edit(MODEL, *changes), "MNISTModel")], expected)

case("2.1 instance", "right", checks.check_network, lambda: [define(MODEL, "MNISTModel")()])
case("2.1 blank class", "blank", checks.check_network, lambda: [None], r"MNISTModel is still a blank")
case("2.1 on the meta device", "true", checks.check_network, lambda: [define(MODEL, "MNISTModel")().to("meta")], "meta device")

# Exercise 2.2: loss and optimiser ----------------------------------------------------------

SGD = "optim.SGD(model.parameters(), lr=0.001, momentum=0.9)"


def loss_and_optimizer(loss_fn: str, optimizer: str = SGD):
    namespace: dict = {}
    exec(PRELUDE, namespace)  # noqa: S102 - the answers are the suite's own code
    model = models.MNISTModel()
    namespace.update(model=model, other=models.MNISTModel())
    return [eval(loss_fn, namespace), eval(optimizer, namespace), model]


for id, kind, loss_fn, optimizer, expected in [
    ("reference", "right", "nn.CrossEntropyLoss()", SGD, None),
    ("functional loss", "right", "F.cross_entropy", SGD, None),
    ("lambda loss", "right", "lambda outputs, y: F.cross_entropy(outputs, y)", SGD, None),
    ("positional SGD", "right", "nn.CrossEntropyLoss()", "optim.SGD(model.parameters(), 0.001, 0.9)", None),
    (
        "torch.optim",
        "right",
        "nn.CrossEntropyLoss()",
        "torch.optim.SGD(params=list(model.parameters()), lr=1e-3, momentum=0.9)",
        None,
    ),
    ("nll", "wrong", "nn.NLLLoss()", SGD, "NLLLoss expects log-probabilities"),
    ("class", "wrong", "nn.CrossEntropyLoss", SGD, "loss_fn is the class CrossEntropyLoss itself"),
    ("mse", "wrong", "nn.MSELoss()", SGD, "loss_fn\\(outputs, labels\\) raised RuntimeError.*Use nn.CrossEntropyLoss"),
    ("sum", "true", "nn.CrossEntropyLoss(reduction='sum')", SGD, "loss_fn has reduction='sum': keep the default mean"),
    ("adam", "wrong", "nn.CrossEntropyLoss()", "optim.Adam(model.parameters(), lr=0.001)", "optimizer is Adam, not SGD"),
    (
        "lr",
        "wrong",
        "nn.CrossEntropyLoss()",
        "optim.SGD(model.parameters(), lr=0.01, momentum=0.9)",
        "lr=0.01 but the practical uses lr=0.001",
    ),
    (
        "no momentum",
        "wrong",
        "nn.CrossEntropyLoss()",
        "optim.SGD(model.parameters(), lr=0.001)",
        "momentum=0 but the practical uses momentum=0.9",
    ),
    (
        "other model",
        "wrong",
        "nn.CrossEntropyLoss()",
        "optim.SGD(other.parameters(), lr=0.001, momentum=0.9)",
        "does not hold this model's parameters",
    ),
    (
        "label smoothing",
        "true",
        "nn.CrossEntropyLoss(label_smoothing=0.1)",
        SGD,
        "label_smoothing=0.1.*keep the plain cross-entropy",
    ),
    ("class weights", "true", "nn.CrossEntropyLoss(weight=torch.ones(10))", SGD, "weighs the classes"),
    ("explicit defaults", "right", "nn.CrossEntropyLoss(reduction='mean', label_smoothing=0.0)", SGD, None),
    ("blank loss", "blank", "None", SGD, "loss_fn is still None"),
    ("blank optimizer", "blank", "nn.CrossEntropyLoss()", "None", "optimizer is still None"),
]:
    case(
        f"2.2 loss {id}",
        kind,
        checks.check_loss_and_optimizer,
        lambda loss=loss_fn, optim=optimizer: loss_and_optimizer(loss, optim),
        expected,
    )

# Exercise 2.2: the training loop -------------------------------------------------------------

TRAIN = reference_answer("ex2-mnist-cnn", "ex-2-2")

for id, kind, changes, expected in [
    ("reference", "right", [], None),
    ("model.zero_grad", "right", [("optimizer.zero_grad()", "model.zero_grad()")], None),
    (
        "zero_grad last",
        "right",
        [("        optimizer.zero_grad()\n", ""), ("optimizer.step()\n", "optimizer.step()\n        optimizer.zero_grad()\n")],
        None,
    ),
    ("functional loss", "right", [("loss_fn(outputs, y)", "F.cross_entropy(outputs, y)")], None),
    ("one-line move", "right", [("X = X.to(device)\n        y = y.to(device)", "X, y = X.to(device), y.to(device)")], None),
    ("float", "right", [("loss.item()", "float(loss)")], None),
    ("no train", "wrong", [("    model.train()\n", "")], "Task 2.2.1: the model is still in evaluation mode"),
    ("eval", "wrong", [("model.train()", "model.eval()")], "Task 2.2.1: the model is still in evaluation mode"),
    ("y stays", "wrong", [("        y = y.to(device)\n", "")], "Task 2.2.2: the batches were not moved to the device"),
    (
        "moved late",
        "hidden",
        [("        outputs = model(X)\n", ""), ("X = X.to(device)\n", "outputs = model(X)\n        X = X.to(device)\n")],
        "Task 2.2.2: the model received a batch before it was moved",
    ),
    ("no zero_grad", "wrong", [("        optimizer.zero_grad()\n", "")], "Task 2.2.3: the gradients of earlier batches add up"),
    (
        "zero_grad after backward",
        "wrong",
        [("        optimizer.zero_grad()\n", ""), ("loss.backward()\n", "loss.backward()\n        optimizer.zero_grad()\n")],
        "Task 2.2.6: there were no gradients when optimizer.step\\(\\) ran",
    ),
    ("no backward", "wrong", [("        loss.backward()\n", "")], "Task 2.2.6: there were no gradients"),
    ("no step", "wrong", [("        optimizer.step()\n", "")], "Task 2.2.7: optimizer.step\\(\\) ran 0 times for 3 batches"),
    (
        "arguments swapped",
        "wrong",
        [("loss_fn(outputs, y)", "loss_fn(y, outputs)")],
        "train_epoch raised .*the model's outputs first, then the labels",
    ),
    (
        "tensor losses",
        "wrong",
        [("loss.item()", "loss")],
        "train_epoch returned a list of tensors: return a list with one loss.item\\(\\)",
    ),
    ("no return", "wrong", [("    return losses\n", "")], "train_epoch returned NoneType"),
    (
        "no_grad",
        "traceback",
        [("        outputs = model(X)\n", "        with torch.no_grad():\n            outputs = model(X)\n")],
        "the loss has no gradient to back-propagate",
    ),
    (
        "first batch only",
        "wrong",
        [("losses.append(loss.item())\n", "losses.append(loss.item())\n        break\n")],
        "train_epoch used 1 of the 3 batches",
    ),
    ("blank", "blank", [("outputs = model(X)", "outputs = None")], "a blank is still empty"),
]:
    case(
        f"2.2 train {id}",
        kind,
        checks.check_train_epoch,
        lambda changes=changes: [define(edit(TRAIN, *changes), "train_epoch")],
        expected,
    )

case("2.2 train none", "blank", checks.check_train_epoch, lambda: [None], "train_epoch is not a function")
# A train_epoch that trains the notebook's own network rather than its argument.
GLOBAL_MODEL = "cnn = models.MNISTModel()\n" + edit(TRAIN, ("outputs = model(X)", "outputs = cnn(X)"))
case(
    "2.2 train the notebook's model",
    "true",
    checks.check_train_epoch,
    lambda: [define(GLOBAL_MODEL, "train_epoch")],
    "did not run the model it was given: inside the function use its argument model",
)

# Exercise 2.3: predictions ---------------------------------------------------------------------

PREDICT = reference_answer("ex2-mnist-cnn", "ex-2-3")

for id, kind, changes, expected in [
    ("reference", "right", [], None),
    ("torch.max", "right", [("outputs.argmax(dim=1)", "torch.max(outputs, 1)[1]")], None),
    (
        "lists",
        "right",
        [
            ("predicted_batches.append(outputs.argmax(dim=1).cpu())", "predicted_batches.extend(outputs.argmax(1).tolist())"),
            ("true_batches.append(y)", "true_batches.extend(y.tolist())"),
            ("torch.cat(true_batches).numpy()", "np.array(true_batches)"),
            ("torch.cat(predicted_batches).numpy()", "np.array(predicted_batches)"),
        ],
        None,
    ),
    (
        "detach",
        "wrong",
        [
            ("    with torch.no_grad():\n        for", "    if True:\n        for"),
            ("outputs = model(X.to(device))", "outputs = model(X.to(device)).detach()"),
        ],
        "runs the model with gradients on: put the loop under with torch.no_grad",
    ),
    (
        "tensors",
        "right",
        [
            ("torch.cat(true_batches).numpy()", "torch.cat(true_batches)"),
            ("torch.cat(predicted_batches).numpy()", "torch.cat(predicted_batches)"),
        ],
        None,
    ),
    (
        "no eval",
        "hidden",
        [("    model.eval()\n", "")],
        "the predictions are those of a model in training mode \\(dropout still active\\): call model.eval\\(\\)",
    ),
    ("train", "hidden", [("model.eval()", "model.train()")], "training mode"),
    (
        "argmax dim 0",
        "true",
        [("argmax(dim=1)", "argmax(dim=0)")],
        "y_pred has 30 values for 15 images, 10 per batch: outputs.argmax\\(dim=0\\)",
    ),
    (
        "first batch",
        "hidden",
        [("true_batches.append(y)\n", "true_batches.append(y)\n            break\n")],
        "y_true has 5 values, one batch, but the test set has 15 images",
    ),
    (
        "last labels",
        "true",
        [("torch.cat(true_batches).numpy()", "y.numpy()")],
        "y_true has 5 values, one batch, but the test set has 15 images",
    ),
    ("swapped", "wrong", [("return y_true, y_pred", "return y_pred, y_true")], "y_true and y_pred are swapped"),
    ("scores", "wrong", [("outputs.argmax(dim=1).cpu()", "outputs.cpu()")], r"y_pred has shape \(15, 10\): these are the scores"),
    (
        "no no_grad",
        "wrong",
        [("    with torch.no_grad():\n        for", "    if True:\n        for")],
        "runs the model with gradients on",
    ),
    (
        "no cat",
        "wrong",
        [("torch.cat(predicted_batches).numpy()", "predicted_batches")],
        r"y_pred is a list of 3 batches: join them into one tensor with torch.cat",
    ),
    (
        "generator",
        "wrong",
        [("    return y_true, y_pred", "    yield y_true, y_pred")],
        "predict is a generator",
    ),
    (
        "numpy of outputs",
        "traceback",
        [
            ("    with torch.no_grad():\n        for", "    if True:\n        for"),
            ("outputs.argmax(dim=1).cpu()", "outputs.cpu().numpy().argmax(axis=1)"),
            ("torch.cat(predicted_batches).numpy()", "np.concatenate(predicted_batches)"),
        ],
        "requires grad.*torch.no_grad",
    ),
    ("one value", "wrong", [("return y_true, y_pred", "return y_pred")], "predict returned .*: return y_true, y_pred"),
    ("blank", "blank", [("outputs = model(X.to(device))", "outputs = None")], "a blank is still empty"),
]:
    case(
        f"2.3 predict {id}",
        kind,
        checks.check_predict,
        lambda changes=changes: [define(edit(PREDICT, *changes), "predict")],
        expected,
    )

# Exercise 2.3: scores ------------------------------------------------------------------------

SCORES = reference_answer("ex2-mnist-cnn", "ex-2-3-scores")

for id, kind, changes, expected in [
    ("reference", "right", [], None),
    ("mean", "right", [("accuracy_score(y_true, y_pred)", "(y_true == y_pred).mean()")], None),
    ("a list of four", "right", [("return accuracy, f1, precision, recall", "return [accuracy, f1, precision, recall]")], None),
    ("accuracy swapped", "right", [("accuracy_score(y_true, y_pred)", "accuracy_score(y_pred, y_true)")], None),
    (
        "zero_division",
        "right",
        [('f1_score(y_true, y_pred, average="macro")', 'f1_score(y_true, y_pred, average="macro", zero_division=0)')],
        None,
    ),
    (
        "support",
        "right",
        [
            (
                "    precision = precision_score",
                "    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average='macro')\n    precision = precision_score",
            )
        ],
        None,
    ),
    (
        "weighted",
        "hidden",
        [('f1_score(y_true, y_pred, average="macro")', 'f1_score(y_true, y_pred, average="weighted")')],
        "f1 is the weighted average: pass average='macro'",
    ),
    (
        "micro",
        "wrong",
        [('recall_score(y_true, y_pred, average="macro")', 'recall_score(y_true, y_pred, average="micro")')],
        "recall is the weighted \\(and micro\\) average, equal to the accuracy: pass average='macro'",
    ),
    (
        "micro precision",
        "wrong",
        [('precision_score(y_true, y_pred, average="macro")', 'precision_score(y_true, y_pred, average="micro")')],
        "precision is the micro average, equal to the accuracy",
    ),
    (
        "binary",
        "wrong",
        [('precision_score(y_true, y_pred, average="macro")', "precision_score(y_true, y_pred)")],
        "scores raised ValueError: Target is multiclass but average='binary'",
    ),
    (
        "per class",
        "traceback",
        [('f1_score(y_true, y_pred, average="macro")', "f1_score(y_true, y_pred, average=None)")],
        r"f1 holds 3 numbers, one per class \(average=None\)",
    ),
    (
        "precision swapped",
        "true",
        [('precision_score(y_true, y_pred, average="macro")', 'precision_score(y_pred, y_true, average="macro")')],
        "precision is computed with its arguments swapped",
    ),
    (
        "order",
        "wrong",
        [("return accuracy, f1, precision, recall", "return accuracy, f1, recall, precision")],
        r"returned in another order \(recall in place of precision; precision in place of recall\)",
    ),
    (
        "f1 from means",
        "true",
        [
            ('    f1 = f1_score(y_true, y_pred, average="macro")\n', ""),
            ("return accuracy", "f1 = 2 * precision * recall / (precision + recall)\n    return accuracy"),
        ],
        r"f1=0\.7115 but the macro average is 0\.6869",
    ),
    (
        "percent",
        "wrong",
        [("accuracy = accuracy_score(y_true, y_pred)", "accuracy = 100 * accuracy_score(y_true, y_pred)")],
        "accuracy=70.0000 but the fraction of correct predictions is 0.7000",
    ),
    ("blank", "blank", [('recall = recall_score(y_true, y_pred, average="macro")', "recall = None")], "recall is still None"),
]:
    case(
        f"2.3 scores {id}",
        kind,
        checks.check_scores,
        lambda changes=changes: [define(edit(SCORES, *changes), "scores")],
        expected,
    )

# Exercise 3.1: sequential blocks ---------------------------------------------------------------

SEQUENTIAL = reference_answer("ex3-sequential", "ex-3-1")
SECOND_BLOCK = "            nn.Conv2d(10, 20, kernel_size=5),\n            nn.MaxPool2d(2),\n            nn.ReLU(),\n"
THREE_BLOCKS = """\
class MNISTSequential(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.block2 = nn.Sequential(nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.head = nn.Sequential(nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10))

    def forward(self, x):
        x = self.block2(self.block1(x))
        return self.head(x.view(len(x), -1))
"""

for id, kind, source, expected in [
    ("reference", "right", SEQUENTIAL, None),
    ("three blocks", "right", THREE_BLOCKS, None),
    (
        "relu before pool",
        "right",
        edit(
            SEQUENTIAL,
            (
                SECOND_BLOCK,
                "            nn.Conv2d(10, 20, kernel_size=5),\n            nn.ReLU(),\n            nn.MaxPool2d(2),\n",
            ),
        ),
        None,
    ),
    (
        "flatten size",
        "right",
        edit(SEQUENTIAL, ("nn.Linear(320, 50)", "nn.Linear(models.flatten_size(self.conv_blocks), 50)")),
        None,
    ),
    (
        "no relu block 2",
        "behaviour",
        edit(SEQUENTIAL, (SECOND_BLOCK, "            nn.Conv2d(10, 20, kernel_size=5),\n            nn.MaxPool2d(2),\n")),
        "the second convolutional block has no ReLU",
    ),
    (
        "no pool block 1",
        "behaviour",
        edit(SEQUENTIAL, ("            nn.MaxPool2d(2),\n", "")),
        r"self.lin_blocks\[1\] takes 320 features but received 2000",
    ),
    (
        "pool padding",
        "behaviour",
        edit(SEQUENTIAL, ("nn.MaxPool2d(2),\n", "nn.MaxPool2d(2, padding=1),\n")),
        r"self.conv_blocks\[1\] has padding=1, which pools padded maps",
    ),
    (
        "pool paddings sized",
        "behaviour",
        edit(
            SEQUENTIAL,
            *[("nn.MaxPool2d(2),\n", "nn.MaxPool2d(2, padding=1),\n")] * 2,
            ("nn.Linear(320, 50)", "nn.Linear(500, 50)"),
        ),
        r"self.conv_blocks\[1\] has padding=1, which pools padded maps",
    ),
    (
        "pool paddings unsized",
        "shape",
        edit(SEQUENTIAL, *[("nn.MaxPool2d(2),\n", "nn.MaxPool2d(2, padding=1),\n")] * 2),
        r"self.lin_blocks\[1\] takes 320 features but received 500 per image. self.conv_blocks\[1\], self.conv_blocks\[4\] pads its input",
    ),
    (
        "functional relu",
        "traceback",
        edit(SEQUENTIAL, ("            nn.ReLU(),\n            nn.Conv2d", "            F.relu,\n            nn.Conv2d")),
        "nn.Sequential takes modules only.* nn.ReLU\\(\\) instead of F.relu",
    ),
    (
        "ReLU class not called",
        "traceback",
        edit(SEQUENTIAL, ("            nn.ReLU(),\n            nn.Conv2d", "            nn.ReLU,\n            nn.Conv2d")),
        "nn.Sequential takes modules only, not classes: call the class with its brackets, nn.ReLU\\(\\)",
    ),
    (
        "no flatten",
        "shape",
        edit(SEQUENTIAL, ("            nn.Flatten(),\n", "")),
        r"self.lin_blocks\[0\] received a 4-D input \(4, 20, 4, 4\): flatten it",
    ),
    (
        "log_softmax",
        "wrong",
        edit(SEQUENTIAL, ("nn.Linear(50, 10),\n        )", "nn.Linear(50, 10),\n            nn.LogSoftmax(dim=1),\n        )")),
        "log-probabilities",
    ),
    (
        "original practical",
        "shape",
        edit(
            SEQUENTIAL,
            ("nn.Conv2d(1, 10, kernel_size=5)", "nn.Conv2d(3, 64, kernel_size=5)"),
            ("nn.Conv2d(10, 20, kernel_size=5)", "nn.Conv2d(64, 128, kernel_size=5)"),
        ),
        r"self.conv_blocks\[0\] takes 3 input channel\(s\) but received 1",
    ),
    (
        "kernel 3",
        "wrong",
        edit(
            SEQUENTIAL,
            ("nn.Conv2d(10, 20, kernel_size=5)", "nn.Conv2d(10, 20, kernel_size=3)"),
            ("nn.Linear(320, 50)", "nn.Linear(500, 50)"),
        ),
        r"self.conv_blocks\[3\] has kernel_size=\(3, 3\)",
    ),
    (
        "one linear",
        "wrong",
        edit(
            SEQUENTIAL,
            (
                "            nn.Linear(320, 50),\n            nn.ReLU(),\n            nn.Linear(50, 10),\n",
                "            nn.Linear(320, 10),\n",
            ),
        ),
        "the linear layers map 320 -> 10: they should map 320 -> 50 then 50 -> 10",
    ),
    (
        "batchnorm early",
        "wrong",
        edit(
            SEQUENTIAL,
            ("nn.Conv2d(1, 10, kernel_size=5),\n", "nn.Conv2d(1, 10, kernel_size=5),\n            nn.BatchNorm2d(10),\n"),
        ),
        r"self.conv_blocks\[1\] belong\(s\) to Ex 3.2",
    ),
    ("not sequential", "wrong", MODEL.replace("MNISTModel", "MNISTSequential"), "the model has 0 nn.Sequential block"),
    (
        "blocks in the wrong order",
        "shape",
        edit(
            SEQUENTIAL,
            (
                "x = self.conv_blocks(x)\n        x = self.lin_blocks(x)",
                "x = self.lin_blocks(x)\n        x = self.conv_blocks(x)",
            ),
        ),
        r"self.lin_blocks\[1\] takes 320 features but received 784 per image",
    ),
    (
        "layers given as a list",
        "traceback",
        edit(
            SEQUENTIAL,
            ("self.lin_blocks = nn.Sequential(", "self.lin_blocks = nn.Sequential(["),
            ("            nn.Linear(50, 10),\n        )", "            nn.Linear(50, 10),\n        ])"),
        ),
        r"list is not a Module subclass\): the layers go to nn.Sequential one by one, not as a list.*nn.Sequential\(\*layers\)",
    ),
]:
    case(f"3.1 {id}", kind, checks.check_sequential_model, lambda source=source: [define(source, "MNISTSequential")], expected)

case("3.1 blank", "blank", checks.check_sequential_model, lambda: [None], "MNISTSequential is still a blank")

# Exercise 3.2: batchnorm and dropout ---------------------------------------------------------------

REGULARISED = reference_answer("ex3-sequential", "ex-3-2")
NORM_2 = "            nn.BatchNorm2d(20),\n"

for id, kind, changes, expected in [
    ("reference", "right", [], None),
    ("plain dropout", "right", [("nn.Dropout2d(dropout),\n        )", "nn.Dropout(dropout),\n        )")], None),
    (
        "dropout before relu",
        "right",
        [
            (
                "            nn.ReLU(),\n            nn.Dropout2d(dropout),\n        )",
                "            nn.Dropout2d(dropout),\n            nn.ReLU(),\n        )",
            )
        ],
        None,
    ),
    (
        "relu before pool",
        "right",
        [
            (
                "            nn.MaxPool2d(2),\n            nn.ReLU(),\n            nn.Dropout2d(dropout),\n            nn.Conv2d",
                "            nn.ReLU(),\n            nn.MaxPool2d(2),\n            nn.Dropout2d(dropout),\n            nn.Conv2d",
            )
        ],
        None,
    ),
    (
        "dropout in head too",
        "right",
        [
            (
                "            nn.ReLU(),\n            nn.Linear(50, 10)",
                "            nn.ReLU(),\n            nn.Dropout(0.5),\n            nn.Linear(50, 10)",
            )
        ],
        None,
    ),
    ("literal 320", "right", [("models.flatten_size(self.conv_blocks)", "320")], None),
    (
        "no batchnorm block 2",
        "behaviour",
        [(NORM_2, "")],
        r"the second convolutional block has no nn.BatchNorm2d: add nn.BatchNorm2d\(20\)",
    ),
    (
        "batchnorm after pool",
        "behaviour",
        [(NORM_2 + "            nn.MaxPool2d(2),\n", "            nn.MaxPool2d(2),\n" + NORM_2)],
        "in the second convolutional block the BatchNorm2d comes after MaxPool2d",
    ),
    (
        "no relu block 1",
        "behaviour",
        [
            (
                "            nn.ReLU(),\n            nn.Dropout2d(dropout),\n            nn.Conv2d",
                "            nn.Dropout2d(dropout),\n            nn.Conv2d",
            )
        ],
        "the first convolutional block has no ReLU",
    ),
    (
        "dropout in head only",
        "behaviour",
        [
            ("            nn.Dropout2d(dropout),\n", ""),
            ("            nn.Dropout2d(dropout),\n", ""),
            (
                "            nn.ReLU(),\n            nn.Linear(50, 10)",
                "            nn.ReLU(),\n            nn.Dropout(dropout),\n            nn.Linear(50, 10)",
            ),
        ],
        "the first convolutional block has no dropout.*sits in the linear block",
    ),
    (
        "no dropout",
        "wrong",
        [("            nn.Dropout2d(dropout),\n", ""), ("            nn.Dropout2d(dropout),\n", "")],
        "the first convolutional block has no dropout: end it with nn.Dropout2d",
    ),
    (
        "batchnorm1d",
        "traceback",
        [("nn.BatchNorm2d(10)", "nn.BatchNorm1d(10)")],
        r"flatten_size: .*features\[1\] is a BatchNorm1d, for \(N, C\) vectors, but received feature maps \(1, 10, 24, 24\): use nn.BatchNorm2d\(10\)",
    ),
    (
        "batchnorm size",
        "shape",
        [("nn.BatchNorm2d(10)", "nn.BatchNorm2d(20)")],
        r"flatten_size: .*features\[1\] has num_features=20 but its input has 10 channels",
    ),
    (
        "p 1",
        "wrong",
        [("def __init__(self, dropout=0.2)", "def __init__(self, dropout=1.0)")],
        r"has p=1.0: use a probability between 0 and 1",
    ),
    (
        "functional relu",
        "traceback",
        [
            (
                "            nn.ReLU(),\n            nn.Dropout2d(dropout),\n            nn.Conv2d",
                "            F.relu,\n            nn.Dropout2d(dropout),\n            nn.Conv2d",
            )
        ],
        "nn.Sequential takes modules only",
    ),
    (
        "typo",
        "traceback",
        [("nn.Dropout2d(dropout),\n        )", "nn.Dropout2D(dropout),\n        )")],
        "building MNISTRegularised\\(\\) failed with AttributeError: .*Dropout2D",
    ),
]:
    case(
        f"3.2 {id}",
        kind,
        checks.check_regularised_model,
        lambda changes=changes: [define(edit(REGULARISED, *changes), "MNISTRegularised")],
        expected,
    )

case("3.2 instance", "right", checks.check_regularised_model, lambda: [define(REGULARISED, "MNISTRegularised")(dropout=0.3)])

# Exercise 3.3: a variant ------------------------------------------------------------------------

STRIDED = """\
class StridedCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_blocks = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5, stride=2), nn.ReLU(),
            nn.Conv2d(10, 20, kernel_size=5, stride=2), nn.ReLU(),
        )
        self.lin_blocks = nn.Sequential(
            nn.Flatten(), nn.Linear(models.flatten_size(self.conv_blocks), 50), nn.ReLU(), nn.Linear(50, 10),
        )

    def forward(self, x):
        return self.lin_blocks(self.conv_blocks(x))
"""

for id, kind, changes, expected in [
    ("strided", "right", [], None),
    (
        "third block",
        "right",
        [
            (
                "nn.Conv2d(10, 20, kernel_size=5, stride=2), nn.ReLU(),\n",
                "nn.Conv2d(10, 20, kernel_size=5, stride=2), nn.ReLU(),\n            nn.Conv2d(20, 32, kernel_size=3, padding=1), nn.ReLU(),\n",
            )
        ],
        None,
    ),
    (
        "average pooling",
        "right",
        [("nn.Conv2d(1, 10, kernel_size=5, stride=2), nn.ReLU()", "nn.Conv2d(1, 10, kernel_size=5), nn.AvgPool2d(2), nn.ReLU()")],
        None,
    ),
    ("softmax", "wrong", [("nn.Linear(50, 10),\n", "nn.Linear(50, 10), nn.Softmax(dim=1),\n")], "the outputs are probabilities"),
    ("two classes", "wrong", [("nn.Linear(50, 10)", "nn.Linear(50, 2)")], r"returned shape \(4, 2\) for 4 images"),
    (
        "batchnorm1d",
        "traceback",
        [
            (
                "nn.Conv2d(1, 10, kernel_size=5, stride=2), nn.ReLU()",
                "nn.Conv2d(1, 10, kernel_size=5, stride=2), nn.BatchNorm1d(10), nn.ReLU()",
            )
        ],
        "is a BatchNorm1d.*use nn.BatchNorm2d\\(10\\)",
    ),
    (
        "functional dropout",
        "wrong",
        [("return self.lin_blocks(self.conv_blocks(x))", "return self.lin_blocks(F.dropout(self.conv_blocks(x), 0.5))")],
        "in evaluation mode two passes differ",
    ),
    (
        "no return",
        "wrong",
        [("        return self.lin_blocks(self.conv_blocks(x))\n", "        self.lin_blocks(self.conv_blocks(x))\n")],
        "forward returned None",
    ),
    (
        "wrong flatten size",
        "shape",
        [("models.flatten_size(self.conv_blocks)", "500")],
        r"self.lin_blocks\[1\] takes 500 features but received 320",
    ),
]:
    case(
        f"3.3 {id}", kind, checks.check_variant, lambda changes=changes: [define(edit(STRIDED, *changes), "StridedCNN")], expected
    )

case("3.3 library instance", "right", checks.check_variant, lambda: [models.SequentialCNN(batchnorm=True, dropout=0.2)])
case("3.3 blank", "blank", checks.check_variant, lambda: [None], "your variant is still a blank")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_self_check(case):
    torch.manual_seed(0)
    expect(case.check, case.answer(), case.expected)


def test_the_suite_covers_every_kind():
    counts = Counter(case.kind for case in CASES)
    assert len(CASES) >= 100
    assert set(counts) == set(KINDS)
    assert counts["right"] >= 20 and counts["traceback"] >= 6 and counts["hidden"] >= 4


def test_a_convolution_with_groups_is_refused_by_name():
    # PyTorch cannot build a 3 -> 2 convolution with groups other than 1 (groups divide both), so the setting is
    # changed on a built layer here, as a layer loaded from elsewhere could hold it.
    layer = torch.nn.Conv2d(3, 2, 3)
    layer.groups = 3
    with pytest.raises(checks.SelfCheckError, match=r"Task 1.1: operation has groups=3, .* keep PyTorch's default, groups=1"):
        checks.check_conv_layer(layer)


def test_passed_reads_as_a_tick():
    assert repr(checks.Passed("1.1", "fine.")) == "✓ Task 1.1: fine."


def test_numbers_show_their_difference():
    from cnnlab.checks.common import two_numbers

    assert two_numbers(0.123456, 0.123457) == ("0.123456", "0.123457")


def test_no_state_is_kept_between_checks():
    train_epoch = define(TRAIN, "train_epoch")
    for _ in range(2):
        checks.check_train_epoch(train_epoch)
    with pytest.raises(checks.SelfCheckError, match="not moved"):
        checks.check_train_epoch(define(edit(TRAIN, ("        y = y.to(device)\n", "")), "train_epoch"))
    checks.check_train_epoch(train_epoch)


def test_checks_leave_the_student_model_usable():
    model = models.MNISTModel()
    checks.check_network(model)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
