"""Self-checks for the practical's exercises: one per task, each naming what is wrong.

Every check returns a :class:`Passed` note when the answer is right, and
raises :class:`SelfCheckError` with a message that names the task, the wrong
value and the fix when it is not. A blank left as ``None`` gets its own
message rather than a crash elsewhere.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import metrics, models

__all__ = [
    "SelfCheckError",
    "Passed",
    "check_conv_layer",
    "check_padded_conv_layer",
    "check_pool_3x3",
    "check_pool_4x2",
    "check_conv_channels",
    "check_maxpool",
    "check_linear_layers",
    "check_forward",
    "check_loss_and_optimizer",
    "check_train_epoch",
    "check_predictions",
    "check_scores",
    "check_sequential_model",
    "check_regularised_model",
    "check_variant",
]


class SelfCheckError(AssertionError):
    """An exercise's answer is not right yet; the message says why and how to fix it."""


@dataclass(frozen=True)
class Passed:
    """A passed self-check; shown as a tick and the task in a notebook."""

    task: str
    detail: str

    def __repr__(self) -> str:
        return f"✓ Task {self.task}: {self.detail}"


def _fail(task: str, message: str) -> None:
    raise SelfCheckError(f"Task {task}: {message}")


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _require(obj, kind: type, name: str, task: str, example: str) -> None:
    """Fail unless ``obj`` is an instance of the module class ``kind``."""
    if obj is None:
        _fail(task, f"{name} is still None: replace it with {example}.")
    if isinstance(obj, type):
        _fail(task, f"{name} is the class {obj.__name__} itself: create a layer by calling it, as in {example}.")
    if not isinstance(obj, kind):
        found = type(obj).__name__ if isinstance(obj, nn.Module) else f"a {type(obj).__name__}"
        _fail(task, f"{name} is {found}, not nn.{kind.__name__}: use {example}.")


def _forward(model: nn.Module, X: torch.Tensor, task: str, name: str = "model") -> torch.Tensor:
    try:
        out = model(X)
    except (TypeError, AttributeError) as error:
        if "NoneType" in str(error):
            _fail(task, f"{name}(X) failed because something is still None ({error}): fill in every blank marked ✎.")
        _fail(task, f"{name}(X) raised {type(error).__name__}: {error}.")
    except RuntimeError as error:
        _fail(task, f"{name}(X) raised RuntimeError: {error}. Check the sizes of the layers.")
    if out is None:
        _fail(
            task, f"{name}'s forward returned None: fill in every line marked ✎ so that it returns the output of the last layer."
        )
    return out


def _logits_problem(out: torch.Tensor) -> str | None:
    """Why ``out`` does not look like raw scores (logits), or None."""
    if (out >= 0).all() and torch.allclose(out.sum(dim=1), torch.ones(len(out)), atol=1e-4):
        return "the outputs are probabilities (a softmax was applied)"
    if (out <= 0).all() and torch.allclose(out.exp().sum(dim=1), torch.ones(len(out)), atol=1e-4):
        return "the outputs are log-probabilities (a log_softmax was applied)"
    return None


# Exercise 1 ---------------------------------------------------------------------------


def _check_conv(operation, padding: int, task: str) -> None:
    example = f"nn.Conv2d(in_channels=3, out_channels=2, kernel_size=3{', padding=1' if padding else ''})"
    _require(operation, nn.Conv2d, "operation", task, example)
    if operation.in_channels != 3:
        _fail(task, f"operation has in_channels={operation.in_channels} but the image has 3 channels (shape 1x3x100x100).")
    if operation.out_channels != 2:
        _fail(task, f"operation has out_channels={operation.out_channels} but the task asks for 2 output channels.")
    if tuple(operation.kernel_size) != (3, 3):
        _fail(task, f"operation has kernel_size={tuple(operation.kernel_size)} but the task asks for 3x3: kernel_size=3.")
    if tuple(operation.stride) != (1, 1):
        _fail(task, f"operation has stride={tuple(operation.stride)}: keep the default stride of 1.")
    found_padding = operation.padding
    if found_padding == "same":  # PyTorch keeps the string; for a 3x3 kernel it means 1
        found_padding = 1
    if tuple(_pair(found_padding)) != (padding, padding):
        if padding:
            _fail(task, f"operation has padding={operation.padding}, so a 100x100 image becomes 98x98: pass padding=1.")
        _fail(task, f"operation has padding={operation.padding}: start without padding (it comes a few cells later).")


def check_conv_layer(operation) -> Passed:
    """Ex 1.1: a Conv2d with 3 input channels, 2 output channels, a 3x3 kernel, stride 1, no padding."""
    _check_conv(operation, 0, "1.1")
    return Passed("1.1", "a 3 -> 2 channel convolution with a 3x3 kernel.")


def check_padded_conv_layer(operation) -> Passed:
    """Ex 1.1, second part: the same convolution with padding 1, which keeps 100x100."""
    _check_conv(operation, 1, "1.1 (padding)")
    return Passed("1.1 (padding)", "padding=1 keeps the 100x100 size.")


def _check_pool(maxpoolop, kernel: tuple[int, int], stride: tuple[int, int], task: str) -> None:
    example = f"nn.MaxPool2d(kernel_size={kernel if kernel[0] != kernel[1] else kernel[0]}, stride={stride[0]})"
    _require(maxpoolop, nn.MaxPool2d, "maxpoolop", task, example)
    found_kernel = _pair(maxpoolop.kernel_size)
    if found_kernel == kernel[::-1] and kernel[0] != kernel[1]:
        _fail(
            task,
            f"maxpoolop has kernel_size={found_kernel}, height and width swapped: the window is "
            f"{kernel[0]} tall and {kernel[1]} wide, kernel_size={kernel}.",
        )
    if found_kernel != kernel:
        _fail(task, f"maxpoolop has kernel_size={found_kernel} but the task asks for {kernel[0]}x{kernel[1]}.")
    found_stride = _pair(maxpoolop.stride)
    if found_stride != stride:
        default = " (PyTorch's default stride is the kernel size)" if found_stride == found_kernel else ""
        _fail(task, f"maxpoolop has stride={found_stride}{default} but the task asks for stride={stride[0]}.")


def check_pool_3x3(maxpoolop) -> Passed:
    """Ex 1.2.1: max-pooling with a 3x3 window and stride 1."""
    _check_pool(maxpoolop, (3, 3), (1, 1), "1.2.1")
    return Passed("1.2.1", "3x3 max-pooling with stride 1 turns 100x100 into 98x98.")


def check_pool_4x2(maxpoolop) -> Passed:
    """Ex 1.2.2: max-pooling with a 4x2 window and stride 2."""
    _check_pool(maxpoolop, (4, 2), (2, 2), "1.2.2")
    return Passed("1.2.2", "4x2 max-pooling with stride 2 turns 100x100 into 49x50.")


# Exercise 2.1: the network -------------------------------------------------------------


def _layer(model, name: str, kind: type, task: str, example: str):
    if model is None:
        _fail(task, "model is None: create it with model = MNISTModel().")
    _require(getattr(model, name, None), kind, f"self.{name}", task, example)
    return getattr(model, name)


def check_conv_channels(model) -> Passed:
    """Ex 2.1.1: conv1 is 1 -> 10 channels and conv2 is 10 -> 20 channels, both 5x5."""
    task = "2.1.1"
    conv1 = _layer(model, "conv1", nn.Conv2d, task, "nn.Conv2d(1, 10, kernel_size=5)")
    conv2 = _layer(model, "conv2", nn.Conv2d, task, "nn.Conv2d(10, 20, kernel_size=5)")
    if conv1.in_channels != 1:
        _fail(task, f"conv1 has in_channels={conv1.in_channels} but MNIST images have 1 channel (greyscale).")
    if conv1.out_channels != 10:
        _fail(task, f"conv1 has out_channels={conv1.out_channels} but should learn 10 filters.")
    if conv2.in_channels != conv1.out_channels:
        _fail(task, f"conv2 has in_channels={conv2.in_channels} but conv1 produces {conv1.out_channels} channels.")
    if conv2.out_channels != 20:
        _fail(task, f"conv2 has out_channels={conv2.out_channels} but should learn 20 filters.")
    for name, layer in (("conv1", conv1), ("conv2", conv2)):
        if tuple(layer.kernel_size) != (5, 5):
            _fail(task, f"{name} has kernel_size={tuple(layer.kernel_size)} but the network uses 5x5 kernels.")
    return Passed(task, "conv1 maps 1 -> 10 channels and conv2 maps 10 -> 20, with 5x5 kernels.")


def check_maxpool(model) -> Passed:
    """Ex 2.1.2: a 2x2 max-pooling with stride 2."""
    task = "2.1.2"
    pool = _layer(model, "maxpool", nn.MaxPool2d, task, "nn.MaxPool2d(kernel_size=2, stride=2)")
    if _pair(pool.kernel_size) != (2, 2):
        _fail(task, f"self.maxpool has kernel_size={pool.kernel_size} but the network pools 2x2 windows.")
    if _pair(pool.stride) != (2, 2):
        _fail(task, f"self.maxpool has stride={pool.stride} but should move 2 pixels at a time: stride=2.")
    return Passed(task, "2x2 max-pooling with stride 2 halves each feature map.")


def check_linear_layers(model) -> Passed:
    """Ex 2.1.3: fc1 is 320 -> 50 and fc2 is 50 -> 10."""
    task = "2.1.3"
    fc1 = _layer(model, "fc1", nn.Linear, task, "nn.Linear(320, 50)")
    fc2 = _layer(model, "fc2", nn.Linear, task, "nn.Linear(50, 10)")
    if fc1.in_features != 320:
        _fail(task, f"fc1 has in_features={fc1.in_features} but conv2's output is 20 channels x 4 x 4 = 320 numbers per image.")
    if fc1.out_features != 50:
        _fail(task, f"fc1 has out_features={fc1.out_features} but the first fully connected layer has 50 neurons.")
    if fc2.in_features != fc1.out_features:
        _fail(task, f"fc2 has in_features={fc2.in_features} but fc1 outputs {fc1.out_features} numbers.")
    if fc2.out_features != 10:
        _fail(task, f"fc2 has out_features={fc2.out_features} but there are 10 digits, so 10 outputs.")
    return Passed(task, "fc1 maps 320 -> 50 and fc2 maps 50 -> 10.")


def check_forward(model) -> Passed:
    """Ex 2.1.4: conv1 -> maxpool -> relu -> conv2 -> maxpool -> relu -> flatten -> fc1 -> relu -> fc2."""
    task = "2.1.4"
    for check in (check_conv_channels, check_maxpool, check_linear_layers):
        check(model)
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(4, 1, 28, 28, generator=generator)
    model.eval()
    with torch.no_grad():
        out = _forward(model, X, task)
        if tuple(out.shape) != (4, 10):
            _fail(task, f"forward returned shape {tuple(out.shape)} for 4 images: it should return (4, 10), 10 scores per image.")
        m = model

        def block(x, conv):
            return F.relu(m.maxpool(conv(x)))

        features = block(block(X, m.conv1), m.conv2).flatten(1)
        expected = m.fc2(F.relu(m.fc1(features)))
        if torch.allclose(out, expected, atol=1e-5):
            return Passed(task, "the forward pass returns 10 raw scores (logits) per image.")
        problem = _logits_problem(out)
        if problem:
            _fail(task, f"{problem}. Return the raw scores of fc2: nn.CrossEntropyLoss applies the softmax itself.")
        if torch.allclose(out, F.relu(expected), atol=1e-5):
            _fail(task, "a ReLU after fc2 sets every negative score to 0: return fc2's output as it is.")
        if torch.allclose(out, m.fc2(m.fc1(features)), atol=1e-5):
            _fail(task, "there is no ReLU between fc1 and fc2: apply F.relu to fc1's output.")

        def plain(x, conv):
            return m.maxpool(conv(x))

        missing_relu = {
            "the first convolutional block": block(plain(X, m.conv1), m.conv2),
            "the second convolutional block": plain(block(X, m.conv1), m.conv2),
            "both convolutional blocks": plain(plain(X, m.conv1), m.conv2),
        }
        for where, features_without in missing_relu.items():
            if torch.allclose(out, m.fc2(F.relu(m.fc1(features_without.flatten(1)))), atol=1e-5):
                _fail(task, f"{where} has no ReLU: each block is conv -> maxpool -> relu.")
    _fail(
        task,
        "the output differs from conv1 -> maxpool -> relu -> conv2 -> maxpool -> relu -> flatten -> "
        "fc1 -> relu -> fc2: check the order of the lines and that each uses the x of the line before.",
    )


# Exercise 2: loss, optimiser and training ----------------------------------------------


def check_loss_and_optimizer(loss_fn, optimizer, model) -> Passed:
    """The loss is cross-entropy; the optimiser is SGD(lr=0.001, momentum=0.9) on the model's parameters."""
    task = "2.2 (loss and optimiser)"
    _require(loss_fn, nn.CrossEntropyLoss, "loss_fn", task, "nn.CrossEntropyLoss()")
    if optimizer is None:
        _fail(task, "optimizer is still None: use optim.SGD(model.parameters(), lr=0.001, momentum=0.9).")
    if not isinstance(optimizer, torch.optim.SGD):
        _fail(
            task, f"optimizer is {type(optimizer).__name__}, not SGD: use optim.SGD(model.parameters(), lr=0.001, momentum=0.9)."
        )
    settings = optimizer.param_groups[0]
    if settings["lr"] != 0.001:
        _fail(task, f"optimizer has lr={settings['lr']} but the practical uses lr=0.001.")
    if settings["momentum"] != 0.9:
        _fail(task, f"optimizer has momentum={settings['momentum']} but the practical uses momentum=0.9.")
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if optimised != {id(p) for p in model.parameters()}:
        _fail(task, "optimizer does not hold this model's parameters: create it after the model, with model.parameters().")
    return Passed(task, "cross-entropy loss and SGD with lr=0.001, momentum=0.9.")


class _TrackedTensor(torch.Tensor):
    """A tensor that records calls to ``.to``, to see whether a batch was moved to the device."""

    moves: list[int] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.to and args:
            cls.moves.append(id(args[0]))
        return super().__torch_function__(func, types, args, kwargs or {})


class _SpyLoader:
    """A few fixed batches; remembers the last one handed out."""

    def __init__(self, batches):
        self.batches, self.current = batches, None

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for X, y in self.batches:
            self.current = (X, y)
            yield X.as_subclass(_TrackedTensor), y.as_subclass(_TrackedTensor)


class _SpySGD(torch.optim.SGD):
    """SGD that checks, at every step, that the gradients are those of this batch's loss."""

    def __init__(self, model, loader):
        super().__init__(model.parameters(), lr=0.01)
        self.model, self.loader, self.events, self.problems = model, loader, [], []

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.events.append("zero_grad")
        super().zero_grad(set_to_none)

    def step(self, closure=None):
        self.events.append("step")
        grads = [p.grad for p in self.model.parameters()]
        if any(g is None for g in grads) or not any(g.abs().sum() for g in grads):
            self.problems.append("no_grad")
        else:
            reference = copy.deepcopy(self.model)
            reference.zero_grad()
            X, y = self.loader.current
            F.cross_entropy(reference(X), y).backward()
            expected = [p.grad for p in reference.parameters()]
            if not all(torch.allclose(g, e, atol=1e-6) for g, e in zip(grads, expected)):
                self.problems.append("wrong_grad")
        return super().step(closure)


def check_train_epoch(train_epoch: Callable) -> Passed:
    """Ex 2.2.1-2.2.7: run the student's ``train_epoch`` on three small batches and watch every step."""
    task = "2.2"
    if train_epoch is None or not callable(train_epoch):
        _fail(
            task,
            "train_epoch is not a function: define it with def train_epoch(model, train_loader, loss_fn, optimizer, device).",
        )
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 6 * 6, 10))
    model.eval()
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.rand(4, 1, 8, 8, generator=generator), torch.randint(0, 10, (4,), generator=generator)) for _ in range(3)]
    loader = _SpyLoader(batches)
    optimizer = _SpySGD(model, loader)
    _TrackedTensor.moves = []
    try:
        losses = train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    except (TypeError, RuntimeError, ValueError, IndexError, AttributeError) as error:
        if "NoneType" in str(error):
            _fail(task, f"train_epoch failed because something is still None ({error}): fill in every blank marked ✎.")
        hint = ""
        if any(word in str(error).lower() for word in ("float", "long", "target", "size")):
            hint = " Compute the loss as loss_fn(outputs, y): the model's outputs first, then the labels."
        _fail(task, f"train_epoch raised {type(error).__name__}: {error}.{hint}")
    if not model.training:
        _fail("2.2.1", "the model is still in evaluation mode: call model.train() before the loop over batches.")
    if len(_TrackedTensor.moves) < 2 * len(batches):
        _fail("2.2.2", "the batches were not moved to the device: X = X.to(device) and y = y.to(device).")
    steps = optimizer.events.count("step")
    clears = optimizer.events.count("zero_grad")
    if steps != len(batches):
        _fail(
            "2.2.7",
            f"optimizer.step() ran {steps} times for {len(batches)} batches: call it once per batch, after loss.backward().",
        )
    if clears != len(batches):
        _fail(
            "2.2.3",
            f"optimizer.zero_grad() ran {clears} times for {len(batches)} batches: call it once per batch, "
            "before loss.backward(), or the gradients of earlier batches add up.",
        )
    if "no_grad" in optimizer.problems:
        _fail(
            "2.2.6",
            "there were no gradients when optimizer.step() ran: call loss.backward() after computing the "
            "loss and before optimizer.step() (and optimizer.zero_grad() before both).",
        )
    if "wrong_grad" in optimizer.problems:
        _fail(
            "2.2.4-2.2.5",
            "the gradients are not those of this batch's loss: outputs = model(X), "
            "loss = loss_fn(outputs, y), and optimizer.zero_grad() before loss.backward().",
        )
    if not isinstance(losses, list) or len(losses) != len(batches) or not all(isinstance(v, float) for v in losses):
        _fail(task, f"train_epoch returned {type(losses).__name__}: return a list with one loss.item() per batch.")
    return Passed(task, "one epoch: train mode, batches on the device, zero_grad, forward, loss, backward, step.")


# Exercise 2.3: testing ------------------------------------------------------------------


def check_predictions(y_true, y_pred, test_labels) -> Passed:
    """Ex 2.3: predictions for the whole test set, as class numbers, with a sensible accuracy."""
    task = "2.3"
    test_labels = np.asarray(test_labels)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values is None:
            _fail(task, f"{name} is still None: collect the labels of every batch of test_loader.")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim == 2:
        _fail(task, f"y_pred has shape {y_pred.shape}: these are scores; take outputs.argmax(dim=1) for the predicted digit.")
    if len(y_true) != len(test_labels) or len(y_pred) != len(test_labels):
        _fail(
            task,
            f"you have {len(y_pred)} predictions but the test set has {len(test_labels):,} images: "
            "loop over every batch of test_loader, not just one.",
        )
    if not np.array_equal(np.bincount(y_true, minlength=10), np.bincount(test_labels, minlength=10)):
        _fail(task, "y_true does not hold the test set's labels: append y of every batch.")
    if y_pred.min() < 0 or y_pred.max() > 9 or not np.issubdtype(y_pred.dtype, np.integer):
        _fail(task, "y_pred is not digits 0-9: take outputs.argmax(dim=1) for each batch.")
    accuracy = float((y_true == y_pred).mean())
    if accuracy < 0.9:
        _fail(task, f"the accuracy is only {accuracy:.1%}: was the model trained, and set to model.eval() before testing?")
    return Passed(task, f"{len(y_pred):,} test predictions, accuracy {accuracy:.1%}.")


def check_scores(accuracy, f1, precision, recall, y_true, y_pred) -> Passed:
    """Ex 2.3: accuracy and macro-averaged F1, precision and recall from scikit-learn."""
    task = "2.3 (scores)"
    given = {"accuracy": accuracy, "f1": f1, "precision": precision, "recall": recall}
    for name, value in given.items():
        if value is None:
            _fail(task, f"{name} is still None: compute it with sklearn.metrics.")
    try:
        expected = metrics.classification_scores(y_true, y_pred)
    except ValueError as error:
        _fail(task, f"y_true and y_pred are not ready ({error}): finish the predictions of Ex 2.3 first.")
    for name, value in given.items():
        if not np.isclose(float(value), expected[name]):
            averaged = name != "accuracy" and np.isclose(float(value), expected["accuracy"])
            hint = " That is the micro average (equal to the accuracy): pass average='macro'." if averaged else ""
            _fail(task, f"{name}={float(value):.4f} but the expected value is {expected[name]:.4f}.{hint}")
    return Passed(task, "accuracy and macro-averaged F1, precision and recall.")


# Exercise 3 -----------------------------------------------------------------------------


def _check_mnist_model(model, task: str) -> torch.Tensor:
    """Run ``model`` on 4 MNIST-sized images and check it returns 10 logits each."""
    if model is None:
        _fail(task, "the model is None: create an instance of your class.")
    if not isinstance(model, nn.Module):
        _fail(task, f"the model is a {type(model).__name__}: pass an instance of your nn.Module class.")
    model.eval()
    X = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = _forward(model, X, task)
    if tuple(out.shape) != (4, 10):
        _fail(task, f"the model returned shape {tuple(out.shape)} for 4 images: it should return (4, 10).")
    problem = _logits_problem(out)
    if problem:
        _fail(task, f"{problem}. nn.CrossEntropyLoss expects raw scores: return the last linear layer's output.")
    return out


def check_sequential_model(model) -> Passed:
    """Ex 3.1: the Exercise 2 network rewritten with ``nn.Sequential`` blocks."""
    task = "3.1"
    _check_mnist_model(model, task)
    blocks = [m for m in model.children() if isinstance(m, nn.Sequential)]
    if len(blocks) < 2:
        _fail(
            task,
            f"the model has {len(blocks)} nn.Sequential block(s): group the convolutional layers and the "
            "linear layers into nn.Sequential blocks.",
        )
    count = models.count_parameters(model)
    if count != 21_840:
        _fail(
            task,
            f"the model has {count:,} parameters but the Exercise 2 network has 21,840: keep the same layers "
            "(1 -> 10 -> 20 channels, 5x5 kernels, 320 -> 50 -> 10), only grouped differently.",
        )
    return Passed(task, f"{len(blocks)} sequential blocks, 21,840 parameters, 10 logits per image.")


def check_regularised_model(model) -> Passed:
    """Ex 3.2: batch normalisation after each convolution, and dropout, inside the blocks."""
    task = "3.2"
    if not isinstance(model, nn.Module):
        _check_mnist_model(model, task)
    layers = list(model.modules())
    norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        _fail(task, "the model has no nn.BatchNorm2d: add one after each convolution, with as many features as its channels.")
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    for conv, norm in zip(convs, norms):
        if norm.num_features != conv.out_channels:
            _fail(
                task,
                f"a BatchNorm2d has num_features={norm.num_features} but the convolution before it has "
                f"{conv.out_channels} output channels.",
            )
    drops = [m for m in layers if isinstance(m, (nn.Dropout, nn.Dropout2d))]
    if not drops:
        _fail(task, "the model has no dropout module: add nn.Dropout2d (or nn.Dropout) to a block.")
    for drop in drops:
        if not 0 < drop.p < 1:
            _fail(task, f"a dropout layer has p={drop.p}: use a probability between 0 and 1, such as 0.25.")
    _check_mnist_model(model, task)
    X = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        if not torch.equal(model(X), model(X)):
            _fail(
                task,
                "in evaluation mode two passes differ: use dropout modules (they switch off in eval mode) "
                "rather than F.dropout without training=self.training.",
            )
    return Passed(task, f"{len(norms)} batchnorm and {len(drops)} dropout layer(s).")


def check_variant(model) -> Passed:
    """Ex 3.3: any changed network still takes MNIST images and returns 10 logits."""
    task = "3.3"
    _check_mnist_model(model, task)
    return Passed(task, f"your variant has {models.count_parameters(model):,} parameters and returns 10 logits.")
