"""What every self-check shares: the pass note, the error, and running a student's model safely.

A self-check never lets a raw traceback reach the student: building the model,
running it and calling the student's functions all happen here, and any
failure becomes a :class:`SelfCheckError` that names the task, the layer or
line at fault and the fix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .. import shapes

__all__ = [
    "HiddenTest",
    "Passed",
    "SelfCheckError",
    "as_number",
    "build",
    "fail",
    "logits_problem",
    "require_module",
    "run_model",
    "self_check",
    "two_numbers",
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


@dataclass(frozen=True)
class HiddenTest:
    """A grader's test of what a self-check cannot see, beside the chapter's self-checks.

    ``test`` gets the notebook's variable ``variable`` and returns why the
    answer fails, or None; passing earns ``points`` on top of the task's.
    """

    variable: str
    test: Callable
    points: int = 1


def fail(task: str, message: str) -> None:
    """Raise the self-check error of ``task``."""
    raise SelfCheckError(f"Task {task}: {message}")


def self_check(task: str, subject: str) -> Callable:
    """Make a check function safe: any failure other than a :class:`SelfCheckError` becomes one.

    The student then never sees a traceback from inside ``cnnlab``: the
    message names the task, what was being checked and what to do, whatever
    they passed.

    Examples
    --------
    >>> @self_check("9.9", "your layer")
    ... def check_layer(layer):
    ...     return layer.out_channels
    >>> try:
    ...     check_layer(None)
    ... except SelfCheckError as error:
    ...     print(str(error).split(". Compare")[0])
    Task 9.9: the self-check could not use your layer (AttributeError: 'NoneType' object has no attribute 'out_channels')
    """

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def checked(*args, **kwargs):
            try:
                return check(*args, **kwargs)
            except SelfCheckError:
                raise
            except Exception as error:  # noqa: BLE001 - the point: nothing from inside the check reaches the student
                text = " ".join(str(error).split())
                text = text if len(text) <= 300 else text[:297] + "..."
                raise SelfCheckError(
                    f"Task {task}: the self-check could not use {subject} ({type(error).__name__}: {text}). "
                    "Compare your answer with what the task asks for, fill in every blank marked ✎, and run the cell again."
                ) from None

        return checked

    return decorate


def two_numbers(a: float, b: float) -> tuple[str, str]:
    """Format ``a`` and ``b`` with just enough decimals to tell them apart (at least 4).

    Examples
    --------
    >>> two_numbers(0.964121, 0.964124)
    ('0.964121', '0.964124')
    >>> two_numbers(0.5, 0.25)
    ('0.5000', '0.2500')
    """
    for decimals in range(4, 13):
        left, right = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
        if left != right:
            return left, right
    return f"{a!r}", f"{b!r}"


def require_module(obj, kind: type, name: str, task: str, example: str) -> None:
    """Fail unless ``obj`` is an instance of the module class ``kind``."""
    if obj is None or obj is Ellipsis:
        fail(task, f"{name} is still a blank ({obj!r}): replace it with {example}.")
    if isinstance(obj, type):
        fail(task, f"{name} is the class {obj.__name__} itself: create a layer by calling it, as in {example}.")
    if not isinstance(obj, kind):
        found = type(obj).__name__ if isinstance(obj, nn.Module) else f"a {type(obj).__name__}"
        fail(task, f"{name} is {found}, not nn.{kind.__name__}: use {example}.")


def build(model_or_class, task: str, name: str = "the model") -> nn.Module:
    """The student's model: ``model_or_class`` itself, or an instance of it built here.

    A class whose ``__init__`` fails gets a message that explains the failure
    rather than a traceback.
    """
    if model_or_class is None or model_or_class is Ellipsis:
        fail(task, f"{name} is still a blank ({model_or_class!r}): write the class and pass it (or an instance of it).")
    if isinstance(model_or_class, type):
        if not issubclass(model_or_class, nn.Module):
            fail(task, f"{model_or_class.__name__} is not an nn.Module: write class {model_or_class.__name__}(nn.Module).")
        try:
            model = model_or_class()
        except TypeError as error:
            text = str(error)
            if "is not a Module subclass" in text:
                fail(
                    task,
                    f"building {model_or_class.__name__}() failed: nn.Sequential takes modules only ({text}). "
                    "Use the module forms, such as nn.ReLU() instead of F.relu and nn.MaxPool2d(2) instead of "
                    "F.max_pool2d.",
                )
            if "NoneType" in text:
                fail(task, f"building {model_or_class.__name__}() failed because something is still None ({text}).")
            fail(task, f"building {model_or_class.__name__}() failed with TypeError: {text}.")
        except shapes.LayerError as error:
            fail(task, f"building {model_or_class.__name__}() failed: {error}")
        except Exception as error:  # noqa: BLE001 - any failure of the student's __init__ becomes a message
            fail(task, f"building {model_or_class.__name__}() failed with {type(error).__name__}: {error}.")
        if getattr(model, "_modules", None) is None:
            fail(task, f"{model_or_class.__name__}.__init__ does not call super().__init__() first.")
        return model
    if not isinstance(model_or_class, nn.Module):
        fail(task, f"{name} is a {type(model_or_class).__name__}: pass your nn.Module class or an instance of it.")
    return model_or_class


def run_model(model: nn.Module, X: torch.Tensor, task: str, record: list | None = None) -> torch.Tensor:
    """``model(X)``, with any failure explained: which layer, on which input shape, and the fix.

    When ``record`` is a list, the layers (modules without children) that ran
    are appended to it, in order.
    """
    try:
        out, layers = shapes.traced_forward(model, X)
    except shapes.LayerError as error:
        text = str(error)
        if "NoneType" in text:
            fail(task, f"{text} Something is still None: fill in every blank marked ✎.")
        fail(task, text)
    if record is not None:
        record.extend(layers)
    if out is None:
        fail(task, "forward returned None: return the output of the last layer.")
    if not isinstance(out, torch.Tensor):
        fail(task, f"forward returned a {type(out).__name__}: return one tensor, the output of the last layer.")
    if out.is_floating_point() and not torch.isfinite(out).all():
        bad = "NaN" if torch.isnan(out).any() else "infinite"
        fail(
            task,
            f"the model's outputs hold {bad} values: the scores must be finite numbers. Look for a division, a log "
            "or an exp in forward, or weights set by hand.",
        )
    return out


def logits_problem(out: torch.Tensor) -> str | None:
    """Why ``out`` does not look like raw scores (logits), or None."""
    if (out >= 0).all() and torch.allclose(out.sum(dim=1), torch.ones(len(out)), atol=1e-4):
        return "the outputs are probabilities (a softmax was applied)"
    if (out <= 0).all() and torch.allclose(out.exp().sum(dim=1), torch.ones(len(out)), atol=1e-4):
        return "the outputs are log-probabilities (a log_softmax was applied)"
    if (out >= 0).all() and (out == 0).any():
        return "the outputs are never negative (a ReLU after the last layer)"
    return None


def as_number(value, name: str, task: str) -> float:
    """``value`` as one float, or a message saying what it is instead."""
    if value is None:
        fail(task, f"{name} is still None: compute it with sklearn.metrics.")
    array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    if array.ndim > 0 and array.size > 1:
        fail(task, f"{name} holds {array.size} numbers, one per class (average=None): pass average='macro' for their mean.")
    try:
        number = float(array)
    except (TypeError, ValueError):
        fail(task, f"{name} is a {type(value).__name__}, not a number.")
    if math.isnan(number):
        fail(task, f"{name} is NaN: check the labels passed to the score.")
    return number
