"""What every self-check shares: the pass note, the error, and running a student's model safely.

A self-check never lets a raw traceback reach the student: building the model,
running it and calling the student's functions all happen here, and any
failure becomes a :class:`SelfCheckError` that names the task, the layer or
line at fault and the fix.

The vocabulary every exercise chapter's checks speak, so that a new chapter
gets it for free: :func:`is_blank` (a ✎ line left as ``None`` or ``...``),
:func:`error_hint` (what a raw Python or PyTorch error from a student's code
usually means: a blank, an empty list stacked because the line that
appends to it is still a blank (:func:`is_empty_join_error`), single numbers
joined with ``torch.cat``, ``and``/``or`` on tensors, a function or an
uncalled class where ``nn.Sequential`` needs a module, 0/0 in plain Python,
the meta device), :func:`call_answer` (a student's function called with any failure
turned into a message), :func:`build` and :func:`run_model`.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from .. import shapes

__all__ = [
    "FunctionCall",
    "HiddenTest",
    "Passed",
    "SelfCheckError",
    "as_number",
    "build",
    "call_answer",
    "error_hint",
    "fail",
    "is_blank",
    "is_blank_error",
    "is_empty_join_error",
    "record_functions",
    "recording",
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
    ``training_steps`` is how many steps the chapter's training must run under
    the grader for the test to be fair (``CNNLAB_TRAINING_STEPS``); the grader
    runs every other chapter shorter.
    """

    variable: str
    test: Callable
    points: int = 1
    training_steps: int | None = None


def fail(task: str, message: str) -> None:
    """Raise the self-check error of ``task``."""
    raise SelfCheckError(f"Task {task}: {message}")


def is_blank(value) -> bool:
    """Whether ``value`` is a blank of the student notebook left as it was: ``None`` or ``...``.

    Examples
    --------
    >>> is_blank(None), is_blank(...), is_blank(0)
    (True, True, False)
    """
    return value is None or value is Ellipsis


_BLANK_TEXTS = ("NoneType", "Ellipsis", "ellipsis")


def is_blank_error(error: BaseException) -> bool:
    """Whether ``error`` comes from a blank left as ``None`` or ``...`` somewhere in the student's code.

    Examples
    --------
    >>> is_blank_error(TypeError("unsupported operand type(s) for *: 'int' and 'ellipsis'")), is_blank_error(ValueError("x"))
    (True, False)
    """
    return any(blank in str(error) for blank in _BLANK_TEXTS)


_EMPTY_JOIN_TEXTS = ("expects a non-empty TensorList", "expected a non-empty list of Tensors")
_EMPTY_JOIN_HINT = (
    "the list given to torch.stack (or torch.cat) is still empty, so nothing was appended to it: a blank is still "
    "empty, most likely the line that appends to the list, such as scores.append(...). Fill in every line marked ✎"
)


def is_empty_join_error(error: BaseException) -> bool:
    """Whether ``error`` is PyTorch refusing to stack or concatenate an empty list: a blank that appends left as it was.

    A student notebook turns the line that appends to a list into a blank
    (``...``), so the list is still empty when ``torch.stack`` joins it.

    Examples
    --------
    >>> import torch
    >>> try:
    ...     torch.stack([])
    ... except RuntimeError as error:
    ...     print(is_empty_join_error(error), is_empty_join_error(ValueError("x")))
    True False
    """
    return any(text in str(error) for text in _EMPTY_JOIN_TEXTS)


def error_hint(error: BaseException) -> str | None:
    """What a raw error raised by a student's code usually means, and the fix; None for an error it does not know.

    Examples
    --------
    >>> import torch
    >>> try:
    ...     bool(torch.tensor([1, 2]) > 0)
    ... except RuntimeError as error:
    ...     print(error_hint(error).split(":")[0])
    Python's and, or, not and chained comparisons (a < b < c) ask one True or False of a whole tensor
    >>> error_hint(ZeroDivisionError("division by zero")).split(":")[0]
    'a division by zero in plain Python'
    """
    text = str(error)
    if is_blank_error(error):
        return "a blank is still empty: fill in every line marked ✎"
    if is_empty_join_error(error):
        return _EMPTY_JOIN_HINT
    if "zero-dimensional tensor" in text and "cannot be concatenated" in text:
        return (
            "the tensors are single numbers (0-D), which torch.cat cannot join: it joins along a dimension the tensors "
            "already have. Use torch.stack(...), which puts them side by side along a new one"
        )
    if "Boolean value of Tensor with more than" in text or "bool value of Tensor with more than" in text:
        return (
            "Python's and, or, not and chained comparisons (a < b < c) ask one True or False of a whole tensor: "
            "combine tensors element by element with &, | and ~, each comparison in brackets, as in "
            "(z >= first) & (z <= last)"
        )
    if "is not a Module subclass" in text:
        if text.startswith(("list ", "tuple ")):
            return (
                "the layers go to nn.Sequential one by one, not as a list: write nn.Sequential(layer1, layer2, ...), "
                "or unpack a list with nn.Sequential(*layers)"
            )
        if "functional" in text or "function" in text:
            return (
                "nn.Sequential takes modules only, not functions: use the module nn.ReLU() instead of F.relu "
                "(and nn.MaxPool2d(2) instead of F.max_pool2d)"
            )
        return "nn.Sequential takes modules only, not classes: call the class with its brackets, nn.ReLU() rather than nn.ReLU"
    if isinstance(error, ZeroDivisionError):
        return (
            "a division by zero in plain Python: where both counts are 0 the score is undefined, so return NaN "
            "there (float('nan')), or divide tensors, which give NaN by themselves"
        )
    if "meta" in text and ("device" in text or "Tensor.item()" in text or "data-dependent" in text):
        return (
            "the model is on the meta device, where tensors have a shape but no values: build it on the CPU, "
            "without device='meta'"
        )
    return None


@dataclass(frozen=True)
class FunctionCall:
    """A PyTorch function a forward pass called: its name, the shapes of its tensor arguments, and its options."""

    name: str
    shapes: tuple
    options: dict
    tensors: tuple = ()  # the ids of its tensor arguments, to tell one tensor from two


class _Recorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[FunctionCall] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat = [item for arg in args for item in (arg if isinstance(arg, (list, tuple)) else [arg])]
        tensors = [item for item in flat if isinstance(item, torch.Tensor)]
        shapes = tuple(tuple(item.shape) for item in tensors)
        options = {key: kwargs[key] for key in ("dim", "pad", "mode") if key in kwargs}
        if "axis" in kwargs:  # NumPy's name, which torch.cat accepts too
            options["dim"] = kwargs["axis"]
        name = getattr(func, "__name__", str(func))
        if name in ("cat", "concat", "concatenate", "stack") and "dim" not in options:
            options["dim"] = args[1] if len(args) > 1 else 0
        if name == "pad" and "pad" not in options and len(args) > 1:
            options["pad"] = tuple(args[1])
        self.calls.append(FunctionCall(name, shapes, options, tuple(id(item) for item in tensors)))
        return func(*args, **kwargs)


@contextlib.contextmanager
def recording() -> Iterator[list[FunctionCall]]:
    """Within the block, every PyTorch function called is appended to the list it gives, even if the block fails."""
    recorder = _Recorder()
    with recorder:
        yield recorder.calls


def record_functions(function: Callable, *arguments) -> tuple[object, list[FunctionCall]]:
    """``function(*arguments)`` and every PyTorch function it called on the way (``cat``, ``pad``, ``relu``...), in order.

    Functional calls and those made inside modules both count: ``nn.ReLU``
    calls ``relu``, as ``F.relu`` does.

    Examples
    --------
    >>> _, calls = record_functions(lambda x: torch.cat([x, x.relu()], dim=1), torch.zeros(1, 2))
    >>> [(call.name, call.options) for call in calls]
    [('relu', {}), ('cat', {'dim': 1})]
    """
    with recording() as calls:
        result = function(*arguments)
    return result, calls


def call_answer(function: Callable, arguments: tuple, call: str, task: str):
    """``function(*arguments)``, the student's function; any failure becomes a message naming ``call`` and the fix."""
    try:
        return function(*arguments)
    except SelfCheckError:
        raise
    except Exception as error:  # noqa: BLE001 - a failing answer becomes a message
        text = " ".join(str(error).split())[:300]
        if is_blank_error(error):
            fail(task, f"{call} failed because a blank is still empty ({text}): fill in every line marked ✎.")
        if is_empty_join_error(error):
            fail(task, f"{call} failed ({text}) because {_EMPTY_JOIN_HINT}.")
        hint = error_hint(error)
        fail(task, f"{call} raised {type(error).__name__}: {text}" + (f". {hint[0].upper()}{hint[1:]}." if hint else "."))


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
    ...     message = str(error)
    >>> print(message.split(". ")[0])
    Task 9.9: the self-check could not use your layer (AttributeError: 'NoneType' object has no attribute 'out_channels')
    >>> print(message.split(". ")[-1])
    A blank is still empty: fill in every line marked ✎.
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
                hint = error_hint(error)
                advice = (
                    f"{hint[0].upper()}{hint[1:]}."
                    if hint
                    else "Compare your answer with what the task asks for, fill in every blank marked ✎, and run the cell again."
                )
                raise SelfCheckError(
                    f"Task {task}: the self-check could not use {subject} ({type(error).__name__}: {text}). {advice}"
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
                fail(task, f"building {model_or_class.__name__}() failed ({text}): {error_hint(error)}.")
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
    if any(parameter.is_meta for parameter in model_or_class.parameters()):
        fail(
            task,
            f"{name} is on the meta device, where tensors have a shape but no values: build it on the CPU, "
            "without device='meta' (or pass the class, and the check builds it).",
        )
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
    """Why ``out`` does not look like raw scores (logits) over its dimension 1, the classes, or None."""
    ones = torch.ones_like(out.sum(dim=1))
    if (out >= 0).all() and torch.allclose(out.sum(dim=1), ones, atol=1e-4):
        return "the outputs are probabilities (a softmax was applied)"
    if (out <= 0).all() and torch.allclose(out.exp().sum(dim=1), ones, atol=1e-4):
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
