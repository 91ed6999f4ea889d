"""Self-checks of Exercise 2: the MNIST network, its loss and optimiser, training, testing and scores.

The network is built and run here (so that a broken ``__init__`` or
``forward`` gets a message, not a traceback) and compared with the network
the task describes, made of the student's own layers. The training, testing
and scoring functions are run on small inputs chosen so that each mistake
shows: several test batches, a model with dropout, classes of different
sizes.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import (
    HiddenTest,
    Passed,
    as_number,
    build,
    call_answer,
    fail,
    is_blank_error,
    logits_problem,
    require_module,
    run_model,
    self_check,
    two_numbers,
)

__all__ = [
    "HIDDEN_TESTS",
    "check_loss_and_optimizer",
    "check_network",
    "check_predict",
    "check_scores",
    "check_train_epoch",
    "trained_network_problem",
]


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# Ex 2.1: the network --------------------------------------------------------------------


def _layer(model, name: str, kind: type, task: str, example: str):
    if not hasattr(model, name):
        cls = type(model)
        if "__init__" not in vars(cls) and not list(model.children()):
            methods = [key for key, value in vars(cls).items() if callable(value) and key != "forward"]
            misspelt = difflib.get_close_matches("__init__", methods, n=1, cutoff=0.6)
            spelt = f" (it is spelt {misspelt[0]})" if misspelt else ""
            fail(
                task,
                f"{cls.__name__} has no __init__ of its own{spelt}, so none of its layers is ever created: define "
                "def __init__(self): with two underscores on each side, and create the layers there.",
            )
        others = [key for key, value in model.named_children() if isinstance(value, kind)]
        named = f" (it has {', '.join('self.' + key for key in others)})" if others else ""
        fail(
            task,
            f"the model has no self.{name}{named}: the self-check looks for the layers by the names the notebook "
            f"gives, so create self.{name} = {example} in __init__ and use it in forward.",
        )
    require_module(getattr(model, name, None), kind, f"self.{name}", task, example)
    return getattr(model, name)


def _check_conv_channels(model) -> None:
    task = "2.1.1"
    conv1 = _layer(model, "conv1", nn.Conv2d, task, "nn.Conv2d(1, 10, kernel_size=5)")
    conv2 = _layer(model, "conv2", nn.Conv2d, task, "nn.Conv2d(10, 20, kernel_size=5)")
    if conv1.in_channels != 1:
        fail(task, f"conv1 has in_channels={conv1.in_channels} but MNIST images have 1 channel (greyscale).")
    if conv1.out_channels != 10:
        fail(task, f"conv1 has out_channels={conv1.out_channels} but should learn 10 filters.")
    if conv2.in_channels != conv1.out_channels:
        fail(task, f"conv2 has in_channels={conv2.in_channels} but conv1 produces {conv1.out_channels} channels.")
    if conv2.out_channels != 20:
        fail(task, f"conv2 has out_channels={conv2.out_channels} but should learn 20 filters.")
    for name, layer in (("conv1", conv1), ("conv2", conv2)):
        if tuple(layer.kernel_size) != (5, 5):
            fail(task, f"{name} has kernel_size={tuple(layer.kernel_size)} but the network uses 5x5 kernels.")
        if tuple(layer.stride) != (1, 1) or _pair(layer.padding) != (0, 0):
            fail(task, f"{name} has stride={layer.stride} and padding={layer.padding}: keep stride 1 and no padding.")


def _check_maxpool(model) -> None:
    task = "2.1.2"
    pool = _layer(model, "maxpool", nn.MaxPool2d, task, "nn.MaxPool2d(kernel_size=2, stride=2)")
    if _pair(pool.kernel_size) != (2, 2):
        fail(task, f"self.maxpool has kernel_size={pool.kernel_size} but the network pools 2x2 windows.")
    if _pair(pool.stride) != (2, 2):
        fail(task, f"self.maxpool has stride={pool.stride} but should move 2 pixels at a time: stride=2.")
    if _pair(pool.padding) != (0, 0):
        fail(task, f"self.maxpool has padding={pool.padding}, which changes the sizes (24 -> 13): pool without padding.")


def _check_linear_layers(model) -> None:
    task = "2.1.3"
    fc1 = _layer(model, "fc1", nn.Linear, task, "nn.Linear(320, 50)")
    fc2 = _layer(model, "fc2", nn.Linear, task, "nn.Linear(50, 10)")
    if fc1.in_features != 320:
        fail(task, f"fc1 has in_features={fc1.in_features} but conv2's output is 20 channels x 4 x 4 = 320 numbers per image.")
    if fc1.out_features != 50:
        fail(task, f"fc1 has out_features={fc1.out_features} but the first fully connected layer has 50 neurons.")
    if fc2.in_features != fc1.out_features:
        fail(task, f"fc2 has in_features={fc2.in_features} but fc1 outputs {fc1.out_features} numbers.")
    if fc2.out_features != 10:
        fail(task, f"fc2 has out_features={fc2.out_features} but there are 10 digits, so 10 outputs.")


def _check_forward(model) -> None:
    task = "2.1.4"
    X = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        out = run_model(model, X, task)
        if tuple(out.shape) != (4, 10):
            fail(task, f"forward returned shape {tuple(out.shape)} for 4 images: it should return (4, 10), 10 scores per image.")
        m = model

        def block(x, conv):
            return F.relu(m.maxpool(conv(x)))

        def plain(x, conv):
            return m.maxpool(conv(x))

        features = block(block(X, m.conv1), m.conv2).flatten(1)
        expected = m.fc2(F.relu(m.fc1(features)))
        if torch.allclose(out, expected, atol=1e-5):
            return
        problem = logits_problem(out)
        if problem:
            fail(task, f"{problem}. Return the raw scores of fc2: nn.CrossEntropyLoss applies the softmax itself.")
        if torch.allclose(out, m.fc2(m.fc1(features)), atol=1e-5):
            fail(task, "there is no ReLU between fc1 and fc2: apply F.relu to fc1's output.")
        missing_relu = {
            "the first convolutional block": block(plain(X, m.conv1), m.conv2),
            "the second convolutional block": plain(block(X, m.conv1), m.conv2),
            "both convolutional blocks": plain(plain(X, m.conv1), m.conv2),
        }
        for where, without in missing_relu.items():
            if torch.allclose(out, m.fc2(F.relu(m.fc1(without.flatten(1)))), atol=1e-5):
                fail(task, f"{where} has no ReLU: each block is conv -> maxpool -> relu.")
    fail(
        task,
        "the output differs from conv1 -> maxpool -> relu -> conv2 -> maxpool -> relu -> flatten -> "
        "fc1 -> relu -> fc2: check the order of the lines and that each uses the x of the line before.",
    )


@self_check("2.1", "your network")
def check_network(model) -> Passed:
    """Ex 2.1: the layers (2.1.1-2.1.3) and the forward pass (2.1.4) of ``MNISTModel``.

    Parameters
    ----------
    model : type or nn.Module
        The class (built here, so that a failing ``__init__`` is explained) or an instance.
    """
    model = build(model, "2.1", "MNISTModel")
    _check_conv_channels(model)
    _check_maxpool(model)
    _check_linear_layers(model)
    _check_forward(model)
    return Passed("2.1", "conv1 1 -> 10 and conv2 10 -> 20 (5x5), 2x2 max-pooling, fc1 320 -> 50, fc2 50 -> 10, logits out.")


# Ex 2: loss and optimiser -----------------------------------------------------------------


def _check_loss(loss_fn, task: str) -> None:
    if loss_fn is None:
        fail(task, "loss_fn is still None: use nn.CrossEntropyLoss().")
    if isinstance(loss_fn, type):
        fail(task, f"loss_fn is the class {loss_fn.__name__} itself: create the loss by calling it, nn.CrossEntropyLoss().")
    if not callable(loss_fn):
        fail(task, f"loss_fn is a {type(loss_fn).__name__}, not a loss: use nn.CrossEntropyLoss().")
    generator = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(6, 10, generator=generator), torch.randint(0, 10, (6,), generator=generator)
    try:
        value = loss_fn(logits, labels)
    except Exception as error:  # noqa: BLE001 - a wrong loss fails in many ways
        fail(
            task, f"loss_fn(outputs, labels) raised {type(error).__name__}: {error}. Use nn.CrossEntropyLoss(), for class labels."
        )
    expected = F.cross_entropy(logits, labels)
    if isinstance(loss_fn, nn.CrossEntropyLoss) and loss_fn.reduction != "mean":
        fail(task, f"loss_fn has reduction={loss_fn.reduction!r}: keep the default mean over the batch, nn.CrossEntropyLoss().")
    if isinstance(loss_fn, nn.CrossEntropyLoss) and loss_fn.label_smoothing:
        fail(
            task,
            f"loss_fn has label_smoothing={loss_fn.label_smoothing:g}, which trains towards softened targets and "
            "changes the loss the task compares: keep the plain cross-entropy, nn.CrossEntropyLoss().",
        )
    if isinstance(loss_fn, nn.CrossEntropyLoss) and loss_fn.weight is not None:
        fail(task, "loss_fn weighs the classes (weight=...): the digits are balanced, keep nn.CrossEntropyLoss().")
    if not isinstance(value, torch.Tensor) or value.shape != () or not torch.allclose(value, expected, atol=1e-6):
        if isinstance(loss_fn, nn.NLLLoss) or loss_fn is F.nll_loss:
            fail(task, "NLLLoss expects log-probabilities, but the network returns raw scores: use nn.CrossEntropyLoss().")
        fail(task, f"loss_fn is {type(loss_fn).__name__}, not the cross-entropy loss: use nn.CrossEntropyLoss().")


@self_check("2.2 (loss and optimiser)", "your loss_fn, optimizer and model")
def check_loss_and_optimizer(loss_fn, optimizer, model) -> Passed:
    """The loss is cross-entropy; the optimiser is SGD(lr=0.001, momentum=0.9) on the model's parameters."""
    task = "2.2 (loss and optimiser)"
    _check_loss(loss_fn, task)
    if optimizer is None:
        fail(task, "optimizer is still None: use optim.SGD(model.parameters(), lr=0.001, momentum=0.9).")
    if isinstance(optimizer, type):
        fail(
            task,
            f"optimizer is the class {optimizer.__name__} itself: create the optimiser by calling it, "
            "optim.SGD(model.parameters(), lr=0.001, momentum=0.9).",
        )
    if model is None or isinstance(model, type) or not isinstance(model, nn.Module):
        found = (
            "None" if model is None else f"the class {model.__name__}" if isinstance(model, type) else f"a {type(model).__name__}"
        )
        fail(task, f"model is {found}: pass the network you train, the instance model = MNISTModel().")
    if not isinstance(optimizer, torch.optim.SGD):
        fail(
            task, f"optimizer is {type(optimizer).__name__}, not SGD: use optim.SGD(model.parameters(), lr=0.001, momentum=0.9)."
        )
    settings = optimizer.param_groups[0]
    if settings["lr"] != 0.001:
        fail(task, f"optimizer has lr={settings['lr']} but the practical uses lr=0.001.")
    if settings["momentum"] != 0.9:
        fail(task, f"optimizer has momentum={settings['momentum']} but the practical uses momentum=0.9.")
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if optimised != {id(p) for p in model.parameters()}:
        fail(task, "optimizer does not hold this model's parameters: create it after the model, with model.parameters().")
    return Passed(task, "cross-entropy loss and SGD with lr=0.001, momentum=0.9.")


# Ex 2.2: training -------------------------------------------------------------------------


def _tracked_tensors():
    """A tensor subclass that records the tensors ``.to`` was called on, or returned, in a set of its own."""
    moved: set[int] = set()

    class Tracked(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            result = super().__torch_function__(func, types, args, kwargs or {})
            if func is torch.Tensor.to and args:
                moved.update((id(args[0]), id(result)))
            return result

    return Tracked, moved


class _SpyLoader:
    """A few fixed batches, as tracked tensors; remembers the batch handed out last."""

    def __init__(self, batches, tensor_class):
        self.batches, self.tensor_class, self.current, self.handed = batches, tensor_class, None, []

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for X, y in self.batches:
            self.current = (X, y)
            X, y = X.as_subclass(self.tensor_class), y.as_subclass(self.tensor_class)
            self.handed.append((X, y))
            yield X, y


class _SpySGD(torch.optim.SGD):
    """SGD that checks, at every step, that the gradients are those of this batch's loss alone."""

    def __init__(self, model, loader):
        super().__init__(model.parameters(), lr=0.01)
        self.model, self.loader, self.steps, self.problems, self.previous = model, loader, 0, [], None

    def step(self, closure=None):
        self.steps += 1
        grads = [None if p.grad is None else p.grad.detach().clone() for p in self.model.parameters()]
        if any(g is None for g in grads) or not any(g.abs().sum() for g in grads):
            self.problems.append("no gradient")
        else:
            reference = copy.deepcopy(self.model)
            reference.zero_grad()
            X, y = self.loader.current
            F.cross_entropy(reference(X), y).backward()
            expected = [p.grad for p in reference.parameters()]
            if not all(torch.allclose(g, e, atol=1e-6) for g, e in zip(grads, expected)):
                accumulated = self.previous is not None and all(
                    torch.allclose(g, e + p, atol=1e-6) for g, e, p in zip(grads, expected, self.previous)
                )
                self.problems.append("accumulated" if accumulated else "wrong gradient")
        self.previous = grads
        return super().step(closure)


@self_check("2.2", "your train_epoch")
def check_train_epoch(train_epoch: Callable) -> Passed:
    """Ex 2.2.1-2.2.7: run the student's ``train_epoch`` on three small batches and watch every step."""
    task = "2.2"
    if train_epoch is None or not callable(train_epoch):
        fail(
            task,
            "train_epoch is not a function: define it with def train_epoch(model, train_loader, loss_fn, optimizer, device).",
        )
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 6 * 6, 10))
    model.eval()
    Tracked, moved = _tracked_tensors()
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.rand(4, 1, 8, 8, generator=generator), torch.randint(0, 10, (4,), generator=generator)) for _ in range(3)]
    loader = _SpyLoader(batches, Tracked)
    optimizer = _SpySGD(model, loader)
    unmoved_inputs = []
    # The spy optimiser runs a copy of the model on plain tensors; only the student's calls get tracked tensors.
    model.register_forward_pre_hook(
        lambda module, inputs: unmoved_inputs.append(isinstance(inputs[0], Tracked) and id(inputs[0]) not in moved)
    )
    model_calls = []
    model.register_forward_hook(lambda module, inputs, output: model_calls.append(1))
    other_model = (
        "train_epoch did not run the model it was given: inside the function use its argument model, "
        "not a model of the notebook (the self-check passes a small model of its own)."
    )
    try:
        losses = train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    except Exception as error:  # noqa: BLE001 - every failure of the student's function becomes a message
        text = str(error)
        if is_blank_error(error):
            fail(task, f"train_epoch failed because a blank is still empty ({text}): fill in every line marked ✎.")
        if not model_calls and loader.handed:
            fail(task, f"{other_model} ({type(error).__name__}: {' '.join(text.split())[:200]})")
        if "does not require grad" in text:
            fail(task, "the loss has no gradient to back-propagate: do not train under torch.no_grad() or detach the outputs.")
        hint = ""
        if any(word in text.lower() for word in ("float", "long", "target", "size", "shape")):
            hint = " Compute the loss as loss_fn(outputs, y): the model's outputs first, then the labels."
        fail(task, f"train_epoch raised {type(error).__name__}: {text}.{hint}")
    if inspect.isgenerator(losses):
        fail(
            task,
            "train_epoch is a generator (it uses yield), so calling it ran none of its lines: collect the losses "
            "with losses.append(loss.item()) and return losses.",
        )
    if loader.handed and not model_calls:
        fail(task, other_model)
    if not model.training:
        fail("2.2.1", "the model is still in evaluation mode: call model.train() before the loop over batches.")
    if len(loader.handed) != len(batches):
        fail(task, f"train_epoch used {len(loader.handed)} of the {len(batches)} batches: loop over the whole train_loader.")
    if not all(id(X) in moved and id(y) in moved for X, y in loader.handed):
        fail("2.2.2", "the batches were not moved to the device: X = X.to(device) and y = y.to(device).")
    if any(unmoved_inputs):
        fail("2.2.2", "the model received a batch before it was moved to the device: move X first, then call model(X).")
    if optimizer.steps != len(batches):
        fail(
            "2.2.7",
            f"optimizer.step() ran {optimizer.steps} times for {len(batches)} batches: once per batch, after loss.backward().",
        )
    if "no gradient" in optimizer.problems:
        fail(
            "2.2.6",
            "there were no gradients when optimizer.step() ran: call loss.backward() after computing the "
            "loss and before optimizer.step(), and clear the gradients before loss.backward(), not between it and step().",
        )
    if "accumulated" in optimizer.problems:
        fail(
            "2.2.3",
            "the gradients of earlier batches add up: call optimizer.zero_grad() once per batch, before loss.backward().",
        )
    if "wrong gradient" in optimizer.problems:
        fail(
            "2.2.4-2.2.5",
            "the gradients are not those of this batch's loss: outputs = model(X), loss = loss_fn(outputs, y), "
            "loss.backward(), then optimizer.step().",
        )
    if not isinstance(losses, list) or len(losses) != len(batches) or not all(isinstance(v, float) for v in losses):
        if isinstance(losses, list) and losses:
            kind = "a list of tensors" if isinstance(losses[0], torch.Tensor) else f"a list of {type(losses[0]).__name__}"
        else:
            kind = type(losses).__name__
        fail(task, f"train_epoch returned {kind}: return a list with one loss.item() (a float) per batch.")
    return Passed(task, "one epoch: train mode, batches on the device, gradients cleared, forward, loss, backward, step.")


# Ex 2.3: testing --------------------------------------------------------------------------


def _predict_problem(model: nn.Module, batches, y_true, y_pred, was_training: bool) -> str | None:
    """Why ``(y_true, y_pred)`` are not the eval-mode predictions of every batch, or None."""
    labels = torch.cat([y for _, y in batches]).numpy()
    model.eval()
    with torch.no_grad():
        expected = torch.cat([model(X).argmax(dim=1) for X, _ in batches]).numpy()
    if y_pred.ndim == 2:
        return f"y_pred has shape {y_pred.shape}: these are the scores; take outputs.argmax(dim=1), the digit per image."
    if len(y_true) == len(labels) and np.array_equal(y_true, expected) and np.array_equal(y_pred, labels):
        return "y_true and y_pred are swapped: return the true labels first, then the predictions."
    batch, count = len(batches[0][1]), len(batches)
    if len(y_pred) == 10 * count and len(labels) != 10 * count:
        return (
            f"y_pred has {len(y_pred)} values for {len(labels)} images, 10 per batch: outputs.argmax(dim=0) picks, for each "
            "digit, the image with the highest score. Take argmax(dim=1), over the 10 scores of each image."
        )
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if len(values) == batch and count > 1:
            return f"{name} has {batch} values, one batch, but the test set has {len(labels)} images: collect every batch."
        if len(values) != len(labels):
            return f"{name} has {len(values)} values but the test set has {len(labels)} images: one per image, every batch."
    if not np.array_equal(y_true, labels):
        return "y_true does not hold the test labels in order: append y of every batch."
    if not np.array_equal(y_pred, expected):
        if was_training:
            return (
                "the predictions are those of a model in training mode (dropout still active): call model.eval() before the loop."
            )
        return "y_pred is not the argmax of the model's outputs for each image: outputs = model(X), then outputs.argmax(dim=1)."
    return None


@self_check("2.3", "your predict")
def check_predict(predict: Callable) -> Passed:
    """Ex 2.3: ``predict(model, test_loader, device)`` returns the labels and eval-mode predictions of every batch.

    The check uses a model with dropout, which gives other predictions in
    training mode, and a test loader of three batches.
    """
    task = "2.3"
    if predict is None or not callable(predict):
        fail(task, "predict is not a function: define it with def predict(model, test_loader, device).")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))
    generator = torch.Generator().manual_seed(2)
    batches = [(torch.rand(5, 1, 6, 6, generator=generator), torch.randint(0, 10, (5,), generator=generator)) for _ in range(3)]
    model.train()
    torch.manual_seed(1)
    with_gradients = []
    hook = model.register_forward_hook(lambda module, inputs, output: with_gradients.append(torch.is_grad_enabled()))
    try:
        result = predict(model, batches, torch.device("cpu"))
    except Exception as error:  # noqa: BLE001 - every failure of the student's function becomes a message
        text = str(error)
        if is_blank_error(error):
            fail(task, f"predict failed because a blank is still empty ({text}): fill in every line marked ✎.")
        if "requires grad" in text:
            fail(task, f"{text}: run the loop under torch.no_grad(), which also saves memory.")
        fail(task, f"predict raised {type(error).__name__}: {text}.")
    finally:
        hook.remove()
    if inspect.isgenerator(result):
        fail(task, "predict is a generator (it uses yield), so calling it ran none of its lines: return y_true, y_pred.")
    if not isinstance(result, tuple) or len(result) != 2 or any(value is None for value in result):
        fail(task, f"predict returned {result!r:.80}: return y_true, y_pred, two arrays.")
    for name, value in zip(("y_true", "y_pred"), result):
        if (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(item, (torch.Tensor, np.ndarray)) and item.ndim >= 1 for item in value)
        ):
            fail(
                task,
                f"{name} is a list of {len(value)} batches: join them into one tensor with torch.cat({name}_batches), "
                "one value per image.",
            )
    was_training = model.training
    y_true, y_pred = (np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value) for value in result)
    problem = _predict_problem(model, batches, y_true, y_pred, was_training)
    if problem:
        fail(task, problem)
    if was_training:
        fail(task, "predict leaves the model in training mode: call model.eval() before the loop.")
    if any(with_gradients):
        fail(
            task,
            "predict runs the model with gradients on: put the loop under with torch.no_grad():, which skips the "
            "bookkeeping that only training needs and saves memory.",
        )
    return Passed(task, "the labels and the evaluation-mode predictions of every test batch.")


# Ex 2.3: scores -------------------------------------------------------------------------

# Three classes of different sizes, so that macro, weighted and micro averages all differ.
_Y_TRUE = np.array([0] * 6 + [1] * 3 + [2] * 1)
_Y_PRED = np.array([0, 0, 0, 0, 1, 2, 1, 1, 0, 2])
_AVERAGES = ("macro", "weighted", "micro")
_SCORERS = ("f1", "precision", "recall")


def _score(name: str, y_true: np.ndarray, y_pred: np.ndarray, **options) -> float:
    """scikit-learn's ``{name}_score``, imported when a check first needs it: importing scikit-learn takes a second."""
    from sklearn import metrics

    return float(getattr(metrics, f"{name}_score")(y_true, y_pred, **options))


def _score_problem(name: str, value: float) -> str | None:
    expected = _score(name, _Y_TRUE, _Y_PRED, average="macro")
    if np.isclose(value, expected):
        return None
    averages = [average for average in _AVERAGES[1:] if np.isclose(value, _score(name, _Y_TRUE, _Y_PRED, average=average))]
    if averages:
        which = " (and ".join(averages) + ")" * (len(averages) - 1)
        note = ", equal to the accuracy" if np.isclose(value, _score("accuracy", _Y_TRUE, _Y_PRED)) else ""
        return f"{name} is the {which} average{note}: pass average='macro', the plain mean over the classes."
    if np.isclose(value, _score(name, _Y_PRED, _Y_TRUE, average="macro")):
        return f"{name} is computed with its arguments swapped: the true labels come first, {name}_score(y_true, y_pred, ...)."
    shown, wanted = two_numbers(value, expected)
    return f"{name}={shown} but the macro average is {wanted}: use {name}_score(y_true, y_pred, average='macro')."


def _order_problem(numbers: dict[str, float]) -> str | None:
    """The values are right but returned in another order: say which is where."""
    expected = {name: _score(name, _Y_TRUE, _Y_PRED, average="macro") for name in _SCORERS}
    expected["accuracy"] = _score("accuracy", _Y_TRUE, _Y_PRED)
    misplaced = [
        f"{found} in place of {name}"
        for name, value in numbers.items()
        for found, right in expected.items()
        if found != name and np.isclose(value, right) and not np.isclose(value, expected[name])
    ]
    if misplaced and sorted(np.round(list(numbers.values()), 9)) == sorted(np.round(list(expected.values()), 9)):
        return f"the values are returned in another order ({'; '.join(misplaced)}): return accuracy, f1, precision, recall."
    return None


@self_check("2.3 (scores)", "your scores")
def check_scores(scores: Callable) -> Passed:
    """Ex 2.3: ``scores(y_true, y_pred)`` returns the accuracy and the macro-averaged F1, precision and recall.

    The check uses ten labels of three classes of different sizes, on which
    the macro, weighted and micro averages, and precision and recall, all differ.
    """
    task = "2.3 (scores)"
    if scores is None or not callable(scores):
        fail(task, "scores is not a function: define it with def scores(y_true, y_pred).")
    result = call_answer(scores, (_Y_TRUE.copy(), _Y_PRED.copy()), "scores", task)
    if isinstance(result, list) or (isinstance(result, np.ndarray) and result.ndim == 1):
        result = tuple(result)  # unpacks as the chapter's next cell does: accuracy, f1, precision, recall = scores(...)
    if not isinstance(result, tuple) or len(result) != 4:
        fail(task, f"scores returned {result!r:.80}: return accuracy, f1, precision, recall, four numbers.")
    values = dict(zip(("accuracy", "f1", "precision", "recall"), result))
    numbers = {name: as_number(value, name, task) for name, value in values.items()}
    order = _order_problem(numbers)
    if order:
        fail(task, order)
    accuracy = _score("accuracy", _Y_TRUE, _Y_PRED)
    if not np.isclose(numbers["accuracy"], accuracy):
        shown, wanted = two_numbers(numbers["accuracy"], accuracy)
        fail(task, f"accuracy={shown} but the fraction of correct predictions is {wanted}: use accuracy_score(y_true, y_pred).")
    for name in _SCORERS:
        problem = _score_problem(name, numbers[name])
        if problem:
            fail(task, problem)
    return Passed(task, "accuracy and macro-averaged F1, precision and recall.")


def trained_network_problem(model) -> str | None:
    """The grader's hidden test of Ex 2.4: the network the student trained predicts most test digits.

    It runs the book's own loop over the test set, not the student's
    ``predict``, and returns why the network fails, or None.
    """
    from .. import loaders

    if not isinstance(model, nn.Module):
        return "hidden test: there is no trained network called model"
    _, test_loader, _ = loaders.mnist_loaders(batch_size=500, seed=0)
    model.eval()
    right = total = 0
    with torch.no_grad():
        for X, y in test_loader:
            right += int((model(X).argmax(dim=1) == y).sum())
            total += len(y)
    share = right / max(total, 1)
    if share <= 0.5:
        return f"hidden test: the trained network predicts {share:.0%} of the test digits: training did not work"
    return None


# What the grader tests in secret, by the self-check whose task it belongs to.
# 1,000 steps of 8 images (two passes over the offline sample) train the network well past the 50% the test asks.
HIDDEN_TESTS = {"check_predict": HiddenTest("model", trained_network_problem, training_steps=1000)}
