"""A student's answers as plain data, so that a process that never ran the student's code can judge them.

The grader (:mod:`booktools.grading.grade`) runs a submission in a sandboxed kernel.
After each self-check cell it asks that kernel to :func:`export` the
arguments of the self-check call (``checks.check_network(MNISTModel)``, say)
as JSON: numbers, strings, tensors (their bytes), modules (their class
among ``torch.nn``'s own, their attributes, parameters and children; a
module with its own ``forward`` also carries that ``forward`` traced by
``torch.fx`` into a graph of ``torch`` operations), optimisers, and for each
function or class the calls the self-check made of it, each with its
arguments and what it returned or raised. The export also names what of
``cnnlab`` the answer is, subclasses, wraps or called (``uses``), so that
the grader can refuse the book's own reference as the student's work.

The trust boundary
------------------
Everything an export holds was shaped by the submission: the kernel that
wrote it ran the student's code, and may have replaced this module. So the
judge (:mod:`booktools.grading.judge`) treats it as data and nothing else:

1. :func:`check_export` checks its whole form first, strictly: every object
   has exactly the keys of its kind, every value the type it must have, every
   name the form it must have (no name of an attribute, parameter, child,
   keyword or graph target begins with an underscore), nesting and sizes
   are bounded. Anything else is a :class:`TransportError`, before one
   object is built.
2. :class:`Decoder` builds only ``torch.nn``'s own module classes (their
   ``forward`` is their class's; ``__init__`` never runs), the optimisers
   of :data:`OPTIMIZERS`, tensors from bytes, and plain values. An attribute
   may hold plain data only, and may not shadow anything its class defines.
   Nothing is unpickled, imported, or looked up by a name the data gives,
   except in the exact tables below.
3. A module with a ``forward`` of its own is rebuilt as a module whose
   ``forward`` interprets the traced graph node by node (:func:`_interpret`).
   The interpreter calls only what the exact tables :data:`FUNCTIONS` (torch,
   ``torch.nn.functional``, ``operator`` and ``math`` functions, each written
   out) and :data:`TENSOR_METHODS` (on a tensor only) name, reads only the
   tensor attributes of :data:`TENSOR_ATTRIBUTES` (fx's ``getattr`` nodes:
   ``x.shape``), reaches a submodule only through its parent's children and
   a parameter or buffer only through its owner's own tables, and never
   calls a value it computed: a submodule is called through ``nn.Module``'s
   ``__call__``, which runs the ``forward`` of its (trusted) class. The
   tables hold what the chapters' answer keys and the self-checks' mutation
   suites trace to, and what a student's forward plausibly adds.
4. A function or class the student wrote answers only the calls it was
   recorded with (:class:`ReplayMiss` otherwise), with values decoded as above.

Every call the interpreter makes goes through :func:`_call`, which the tests
watch. Data made by a hostile kernel can claim any answer; it earns points
only if it is a right one, which the judge's own pristine self-check decides.
The judge still runs in a sandbox of its own: if a rule above had a hole,
the process it would steer sees no grader file and holds no grade (defence
in depth).

What the grader can and cannot tell about reuse
-----------------------------------------------
``uses`` is gathered in the kernel, which the student controls: it names a
``cnnlab`` class in the answer's class hierarchy or among its modules, a
``cnnlab`` function the answer is (or wraps, with ``functools.wraps`` or
``partial``), and every ``cnnlab`` function that the student's own code
called while the self-check ran it (a profile hook on the code objects of
``cnnlab``'s functions, which catches a reference saved under another name
before the export). It cannot see code copied from the book's sources, and
a notebook that attacks the grader can leave ``uses`` out: it catches the
shipped reference handed in as work, not a determined forger.

This module imports nothing but the standard library, numpy and torch: the
grader copies it into the sandbox.
"""

from __future__ import annotations

import base64
import builtins
import functools
import hashlib
import inspect
import json
import math
import operator
import os
import re
import sys

import numpy as np
import torch
import torch.nn as nn

_PLAIN = (bool, int, float, str, type(None))
_MODULE_KEYS = {"training", "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set"}
# The only private attribute of a torch.nn module that an export carries: Conv2d and ConvTranspose2d's forward
# reads it when padding_mode is not "zeros".
_PRIVATE_ATTRIBUTES = frozenset({"_reversed_padding_repeated_twice"})


class ReplayMiss(BaseException):
    """The judge asked a recorded function or class something it was never asked in the sandbox.

    A ``BaseException``, so that a self-check's ``except Exception`` cannot turn it into a verdict.
    """


class TransportError(ValueError):
    """Data that does not describe an answer this module can rebuild."""


# ----------------------------------------------------------------------------------------------
# Encoding (in the sandbox)


class _Encoder:
    def __init__(self):
        self.tensors: dict[str, dict] = {}
        self.ids: dict[int, str] = {}
        self.keep: list = []  # the encoded tensors stay alive, so that their ids stay unique

    def tensor(self, value: torch.Tensor) -> str:
        if id(value) in self.ids:
            return self.ids[id(value)]
        ref = f"t{len(self.tensors)}"
        data = value.detach().cpu().contiguous()
        raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
        self.tensors[ref] = {
            "dtype": str(data.dtype).removeprefix("torch."),
            "shape": list(data.shape),
            "data": base64.b64encode(raw).decode("ascii"),
            "parameter": isinstance(value, nn.Parameter),
            "requires_grad": bool(value.requires_grad),
        }
        self.ids[id(value)] = ref
        self.keep.append(value)
        return ref

    def value(self, value, depth: int = 0):
        if depth > 40:
            return {"kind": "opaque", "type": "nested too deeply"}
        if isinstance(value, (bool, int, str, type(None))) and type(value) in _PLAIN:
            return {"kind": "plain", "value": value}
        if type(value) is float:
            return {"kind": "float", "value": repr(value)}
        if value is Ellipsis:
            return {"kind": "ellipsis"}
        if isinstance(value, torch.Tensor):
            return {"kind": "tensor", "ref": self.tensor(value)}
        if isinstance(value, np.ndarray) and value.dtype != object:
            return {"kind": "ndarray", "ref": self.tensor(torch.from_numpy(np.ascontiguousarray(value)))}
        if isinstance(value, np.generic) and not isinstance(value, np.object_):
            return {"kind": "npscalar", "dtype": value.dtype.name, "value": self.value(value.item(), depth + 1)}
        if isinstance(value, torch.device):
            return {"kind": "device", "value": str(value)}
        if isinstance(value, torch.dtype):
            return {"kind": "dtype", "value": str(value).removeprefix("torch.")}
        if isinstance(value, slice):
            return {"kind": "slice", "items": [self.value(v, depth + 1) for v in (value.start, value.stop, value.step)]}
        if isinstance(value, torch.Size):
            return {"kind": "size", "items": list(value)}
        if isinstance(value, (list, tuple)):
            return {
                "kind": type(value).__name__ if type(value) in (list, tuple) else "tuple",
                "items": [self.value(v, depth + 1) for v in value],
            }
        if isinstance(value, (set, frozenset)) and all(isinstance(v, str) for v in value):
            return {"kind": "set", "items": sorted(value)}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"kind": "dict", "items": {k: self.value(v, depth + 1) for k, v in value.items()}}
        if isinstance(value, nn.Module):
            return self.module(value, depth)
        if isinstance(value, torch.optim.Optimizer):
            return self.optimizer(value, depth)
        if isinstance(value, _Recorder):
            return {"kind": "recorded", "name": value.name, "is_class": value.is_class, "calls": value.calls}
        if inspect.isgenerator(value):
            return {"kind": "generator"}
        return {"kind": "opaque", "type": type(value).__name__}

    def module(self, module: nn.Module, depth: int) -> dict:
        cls = type(module)
        standard = _standard_module_class(cls.__name__) is cls
        attrs = {}
        for key, value in vars(module).items():
            if key in _MODULE_KEYS or (key.startswith("_") and key not in _PRIVATE_ATTRIBUTES):
                continue
            if isinstance(value, (nn.Module, torch.optim.Optimizer)) or callable(value) and not isinstance(value, type):
                continue
            encoded = self.value(value, depth + 1)
            if encoded["kind"] != "opaque":
                attrs[key] = encoded
        encoded = {
            "kind": "module",
            "class": cls.__name__,
            "standard": standard,
            "training": bool(module.training),
            "attrs": attrs,
            "parameters": {k: None if p is None else self.tensor(p) for k, p in module._parameters.items()},
            "buffers": {k: None if b is None else self.tensor(b) for k, b in module._buffers.items()},
            "persistent": sorted(set(module._buffers) - set(getattr(module, "_non_persistent_buffers_set", ()))),
            "children": {k: None if c is None else self.module(c, depth + 1) for k, c in module._modules.items()},
        }
        if not standard:
            # fx reads self.training as a constant: trace forward in both modes, and run the one that applies.
            modes = [(m, m.training) for m in module.modules()]
            try:
                encoded["graphs"] = {"train": _traced_graph(module.train(True)), "eval": _traced_graph(module.train(False))}
            finally:
                for m, mode in modes:
                    m.training = mode
        return encoded

    def optimizer(self, optimizer: torch.optim.Optimizer, depth: int) -> dict:
        groups = []
        for group in optimizer.param_groups:
            hyper = {k: self.value(v, depth + 1) for k, v in group.items() if k != "params"}
            groups.append({"params": [self.tensor(p) for p in group["params"]], "hyper": hyper})
        return {"kind": "optimizer", "class": type(optimizer).__name__, "groups": groups}


def _traced_graph(module: nn.Module) -> dict:
    """``module.forward`` as a list of fx nodes whose own children are leaves; or why it could not be traced."""
    import torch.fx as fx

    unattached = "<a module made inside forward>"

    class ChildrenAreLeaves(fx.Tracer):
        def path_of_module(self, m):
            try:
                return super().path_of_module(m)
            except NameError:  # made inside forward (nn.ZeroPad2d(...)(x), say): traced through, as its functions
                return unattached

        def is_leaf_module(self, m, qualified_name):
            return m is not module and qualified_name != unattached

    try:
        graph = ChildrenAreLeaves().trace(module)
    except Exception as error:  # noqa: BLE001 - any forward that fx cannot follow
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"}
    nodes = []
    for node in graph.nodes:
        nodes.append(
            {
                "op": node.op,
                "name": node.name,
                "target": _target_name(node.target),
                "args": _node_arg(node.args),
                "kwargs": _node_arg({k: v for k, v in node.kwargs.items() if k not in _DROPPED_KEYWORDS}),
            }
        )
    return {"nodes": nodes}


# The private keywords fx records that change nothing a forward computes (softmax's warning level): the export
# leaves them out, since a keyword of a traced call may not begin with an underscore.
_DROPPED_KEYWORDS = frozenset({"_stacklevel"})


def _target_name(target) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", "")
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if target is getattr(builtins, name, None):
        return f"builtins.{name}"
    if module == "math":
        return f"math.{name}"
    if getattr(torch.nn.functional, name, None) is target:
        return f"torch.nn.functional.{name}"
    if getattr(torch, name, None) is target:
        return f"torch.{name}"
    if getattr(torch.Tensor, name, None) is target:
        return f"torch.Tensor.{name}"
    return f"{module}.{name}"


def _node_arg(value):
    import torch.fx as fx

    if isinstance(value, fx.Node):
        return {"kind": "node", "name": value.name}
    if isinstance(value, (list, tuple)):
        return {"kind": "tuple" if isinstance(value, tuple) else "list", "items": [_node_arg(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): _node_arg(v) for k, v in value.items()}}
    return _Encoder().value(value) if not isinstance(value, torch.Tensor) else {"kind": "opaque", "type": "tensor constant"}


class _Recorder:
    """A student's function or class, recording each call a self-check makes of it."""

    def __init__(self, target, name: str):
        self.target, self.name, self.calls = target, name, []
        self.is_class = isinstance(target, type)
        self.uses: set[str] = set()  # the cnnlab classes among the modules it returned

    def call(self, args: tuple, kwargs: dict):
        key = fingerprint((args, kwargs))
        before = [a for a in (*args, *kwargs.values()) if isinstance(a, nn.Module)]
        given = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        entry = {"key": key, "callbacks": []}
        args, kwargs = _watched(args, kwargs, entry["callbacks"])
        encoder = _Encoder()
        try:
            result = self.target(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the judge raises the same again
            entry["raised"] = {"type": type(error).__name__, "message": str(error)[:2000]}
            raise
        else:
            entry["result"] = encoder.value(result)
            if isinstance(result, nn.Module):
                self.uses |= _static_uses(result)
        finally:
            # What the function left in its arguments, raised or not: the modules' values, modes, hooks and
            # gradients, and whether the tensors it was given now ask for gradients.
            entry["after"] = [encoder.module(m, 0) for m in before]
            entry["hooks"] = [[_hook_counts(sub) for sub in m.modules()] for m in before]
            entry["grads"] = [[_optional(encoder, q.grad) for q in m.parameters()] for m in before]
            entry["given"] = [{"requires_grad": t.requires_grad, "grad": _optional(encoder, t.grad)} for t in given]
            entry["tensors"] = encoder.tensors
            self.calls.append(entry)
        return result

    def stand_in(self):
        if self.is_class:
            recorder = self

            def __new__(cls, *args, **kwargs):
                return recorder.call(args, kwargs)

            return type(self.target.__name__, (self.target,), {"__new__": __new__})

        def recorded(*args, **kwargs):
            return self.call(args, kwargs)

        recorded.__name__ = getattr(self.target, "__name__", self.name)
        return recorded


_HOOK_KINDS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
# The public way to add a hook of each kind above, in the same order.
_HOOK_REGISTRARS = (
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_full_backward_pre_hook",
)


def _hook_counts(module: nn.Module) -> list[int]:
    return [len(getattr(module, kind, {})) for kind in _HOOK_KINDS]


def _optional(encoder: _Encoder, tensor: torch.Tensor | None):
    return None if tensor is None else encoder.tensor(tensor)


def _is_callback(value) -> bool:
    """A function or callable object that a self-check hands to the student's function (a saliency method, say)."""
    return callable(value) and not isinstance(value, (nn.Module, type, torch.Tensor))


def _watched(args: tuple, kwargs: dict, log: list) -> tuple[tuple, dict]:
    """``args`` and ``kwargs`` with each callback wrapped to log, in order, the arguments it is called with.

    The judge calls its own callbacks with those arguments again (:func:`_stand_in`), so that a self-check that
    watches what the student's function did with them (:class:`cnnlab.checks.ex5._RecordedMethod`) sees the same.
    """

    def watch(position, callback):
        def logged(*inner_args, **inner_kwargs):
            encoder = _Encoder()
            arguments = encoder.value((list(inner_args), inner_kwargs))
            log.append({"position": position, "arguments": arguments, "tensors": encoder.tensors})
            return callback(*inner_args, **inner_kwargs)

        return logged

    watched_args = tuple(watch(i, a) if _is_callback(a) else a for i, a in enumerate(args))
    watched_kwargs = {k: watch(k, v) if _is_callback(v) else v for k, v in kwargs.items()}
    return watched_args, watched_kwargs


def fingerprint(value) -> str:
    """A hash of ``value``'s encoding with every tensor replaced by the hash of its dtype, shape and bytes."""
    encoder = _Encoder()
    tree = encoder.value(value)
    digests = {
        ref: hashlib.sha256(json.dumps([t["dtype"], t["shape"]]).encode() + t["data"].encode()).hexdigest()
        for ref, t in encoder.tensors.items()
    }
    text = json.dumps(tree, sort_keys=True)
    for ref, digest in sorted(digests.items(), key=lambda item: -len(item[0])):
        text = text.replace(f'"{ref}"', f'"{digest}"')
    return hashlib.sha256(text.encode()).hexdigest()


def _call_arguments(call: str) -> tuple[str, list[str]]:
    import ast

    node = ast.parse(call, mode="eval").body
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        raise TransportError(f"{call!r} is not a checks.check_...(...) call")
    return node.func.attr, [ast.unparse(a) for a in node.args]


def export(call: str, namespace: dict, extra: tuple[str, ...] = ()) -> str:
    """The answers of one self-check call as JSON, with the calls the self-check made of each function or class.

    ``extra`` names further variables of the notebook to send (a trained model, for a hidden test). The
    document's ``uses`` names what of ``cnnlab`` the answers are, subclass, wrap or called (:class:`_Watch`).
    """
    from cnnlab import checks

    check_name, expressions = _call_arguments(call)
    values = []
    for expression in expressions:
        try:
            values.append(eval(expression, namespace))  # noqa: S307 - the notebook's own names, in its own kernel
        except Exception as error:  # noqa: BLE001
            values.append(_Missing(f"{type(error).__name__}: {error}"))
    recorders = [
        _Recorder(v, e) if (callable(v) and not isinstance(v, (nn.Module, _Missing))) else None
        for v, e in zip(values, expressions)
    ]
    arguments = [r.stand_in() if r else v for r, v in zip(recorders, values)]
    watch = _Watch()
    with watch:
        for run in (getattr(checks, check_name), PROBES.get(check_name)):
            try:
                if run is not None:
                    run(*arguments)
            except BaseException:  # noqa: BLE001 - the verdict is the judge's; only the recorded calls matter here
                pass
    encoder = _Encoder()
    encoded = [encoder.value(r if r else v) for r, v in zip(recorders, values)]
    extras = {name: encoder.value(namespace[name]) for name in extra if name in namespace}
    uses = set(watch.used).union(*(_static_uses(v) for v in values), *(r.uses for r in recorders if r))
    return json.dumps(
        {"check": check_name, "arguments": encoded, "extra": extras, "tensors": encoder.tensors, "uses": sorted(uses)}
    )


def _in_cnnlab(value) -> bool:
    module = getattr(value, "__module__", None)
    return isinstance(module, str) and (module == "cnnlab" or module.startswith("cnnlab."))


def _dotted(value) -> str:
    return f"{value.__module__}.{getattr(value, '__qualname__', getattr(value, '__name__', '?'))}"


def _function_of(member):
    """The plain function a class member holds (a method, static or class method, or property's getter), or None."""
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    elif isinstance(member, property):
        member = member.fget
    return member if inspect.isfunction(member) else None


def _static_uses(value) -> set[str]:
    """The cnnlab classes and functions ``value`` is, subclasses, holds as modules or methods, or wraps.

    Examples
    --------
    >>> import functools
    >>> from cnnlab import models
    >>> class Mine(models.MNISTModel):
    ...     pass
    >>> sorted(_static_uses(Mine)), sorted(_static_uses(functools.partial(models.conv_block, 1)))
    (['cnnlab.models.MNISTModel'], ['cnnlab.models.conv_block'])
    """
    found: set[str] = set()
    pending, seen = [value], set()
    while pending and len(seen) < 1000:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, functools.partial):
            pending.append(item.func)
        elif inspect.ismethod(item):
            pending.append(item.__func__)
        elif isinstance(item, type):
            found |= {_dotted(base) for base in item.__mro__ if _in_cnnlab(base)}
            for member in list(vars(item).values()):
                function = _function_of(member)
                if function is not None:
                    pending.append(function)
        elif isinstance(item, nn.Module):
            pending += [type(sub) for sub in item.modules()]
        elif inspect.isfunction(item):
            if _in_cnnlab(item):
                found.add(_dotted(item))
            wrapped = item.__dict__.get("__wrapped__")
            if wrapped is not None:
                pending.append(wrapped)
    return found


class _Watch:
    """While active, records each cnnlab function that the student's own code calls (a profile hook).

    A call counts when the nearest caller outside the Python libraries is the student's code (a notebook cell),
    not cnnlab itself (a reference calling its helpers, a self-check computing its expected answer) nor this
    module (a recorded function, a self-check's callback). The methods of classes defined in ``cnnlab.checks``
    are not watched: the self-checks hand their own models to the student's functions.
    """

    def __init__(self):
        import cnnlab

        self.codes = _cnnlab_code()
        self.cnnlab = os.path.dirname(os.path.abspath(cnnlab.__file__)) + os.sep
        self.grader = os.path.abspath(__file__)
        import site
        import sysconfig

        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
        roots |= {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
        self.library = tuple(os.path.abspath(root) + os.sep for root in roots if root)
        self.kinds: dict[str, str] = {}
        self.used: set[str] = set()
        self.previous = None

    def kind(self, filename: str) -> str:
        """ "cnnlab", "grader", "library" or "student": who wrote the code of ``filename``."""
        if filename not in self.kinds:
            path = os.path.abspath(filename) if os.path.isabs(filename) else filename
            if path.startswith(self.cnnlab):
                kind = "cnnlab"
            elif path == self.grader:
                kind = "grader"
            elif path.startswith(self.library) or filename.startswith("<frozen"):
                kind = "library"
            else:
                kind = "student"
            self.kinds[filename] = kind
        return self.kinds[filename]

    def profile(self, frame, event, arg):
        if event != "call" or frame.f_code not in self.codes:
            return
        caller = frame.f_back
        while caller is not None and self.kind(caller.f_code.co_filename) == "library":
            caller = caller.f_back
        if caller is not None and self.kind(caller.f_code.co_filename) == "student":
            self.used.add(self.codes[frame.f_code])

    def __enter__(self):
        self.previous = sys.getprofile()
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.previous)
        return False


def _cnnlab_code() -> dict:
    """The code object of every function of the cnnlab modules loaded, named by its dotted name.

    Module-level functions of every cnnlab module, and the methods of the classes defined outside ``cnnlab.checks``.
    """
    codes = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "cnnlab" or name.startswith("cnnlab.")):
            continue
        for value in list(vars(module).values()):
            if inspect.isfunction(value) and value.__module__ == name:
                codes[value.__code__] = _dotted(value)
            elif isinstance(value, type) and value.__module__ == name and not name.startswith("cnnlab.checks"):
                for member in list(vars(value).values()):
                    function = _function_of(member)
                    if function is not None:
                        codes[function.__code__] = _dotted(function)
    return codes


class _Missing:
    def __init__(self, why: str):
        self.why = why


# ----------------------------------------------------------------------------------------------
# The form of an export, checked strictly before anything is built (in the judge)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,99}")  # an attribute, parameter or child: "weight", nn.Sequential's "0"
_PUBLIC = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")  # a keyword, a tensor method, a hyperparameter
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_NODE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_PLACEHOLDER = re.compile(r"\*{0,2}[A-Za-z_][A-Za-z0-9_]{0,99}")
_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,99}(\.[A-Za-z0-9][A-Za-z0-9_]{0,99}){0,20}")
_REF = re.compile(r"t[0-9]{1,9}")
_CHECK = re.compile(r"check_[a-z0-9_]{1,60}")
_USE = re.compile(r"cnnlab(\.[A-Za-z_][A-Za-z0-9_]{0,99}){1,10}")
_KEY = re.compile(r"[0-9a-f]{64}")
_DEVICE = re.compile(r"(cpu|cuda|mps|meta)(:[0-9]{1,3})?")
_DEPTH = 60  # nested values, far beyond any honest answer (the encoder stops at 40)
_TEXT = 100_000  # characters of one string
_ITEMS = 1_000_000  # items of one list, dict or table
_NODES = 20_000  # nodes of one traced graph
_NODE_OPS = {"placeholder", "call_function", "call_method", "call_module", "get_attr", "output"}
_DTYPES = {
    name: getattr(torch, name)
    for name in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
}
_NP_DTYPES = {
    name: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    )
}
# Every kind a value may be; the data kinds are those an attribute of a module, a hyperparameter or a graph's
# constant may hold.
_DATA_KINDS = {"plain", "float", "ellipsis", "tensor", "ndarray", "npscalar", "device", "dtype", "slice", "size"}
_DATA_KINDS |= {"list", "tuple", "set", "dict", "opaque"}
_KINDS = _DATA_KINDS | {"module", "optimizer", "recorded", "generator"}


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise TransportError(message)


def _exact(tree, keys: tuple[str, ...], what: str, optional: tuple[str, ...] = ()) -> None:
    """``tree`` is an object with exactly ``keys`` (and perhaps ``optional``)."""
    _expect(type(tree) is dict, f"{what} is not an object")
    present = set(tree)
    _expect(
        set(keys) <= present <= set(keys) | set(optional),
        f"{what} has the keys {sorted(map(str, present))[:12]}, not {list(keys)}",
    )


def _text(value, what: str, pattern: re.Pattern | None = None, most: int = _TEXT) -> str:
    _expect(type(value) is str and len(value) <= most, f"{what} is not a string of at most {most} characters")
    _expect(pattern is None or pattern.fullmatch(value) is not None, f"{what} {value[:80]!r} is not an allowed name")
    return value


def _sequence(value, what: str, most: int = _ITEMS) -> list:
    _expect(type(value) is list and len(value) <= most, f"{what} is not a list of at most {most} items")
    return value


def _mapping(value, what: str, most: int = _ITEMS) -> dict:
    _expect(type(value) is dict and len(value) <= most, f"{what} is not an object of at most {most} keys")
    return value


def _whole(value, what: str, low: int = 0, high: int = 1 << 40) -> int:
    _expect(type(value) is int and low <= value <= high, f"{what} is not a whole number from {low} to {high}")
    return value


def _named_in(value, allowed) -> bool:
    """Whether ``value`` is a string among ``allowed``: a list or an object from the data is refused, not hashed.

    Examples
    --------
    >>> _named_in("float32", {"float32": None}), _named_in(["float32"], {"float32": None})
    (True, False)
    """
    return type(value) is str and value in allowed


def _check_table(table) -> dict:
    """A table of tensors: ``{ref: {dtype, shape, data, parameter, requires_grad}}``, each as long as its shape says."""
    for ref, spec in _mapping(table, "the tensor table").items():
        _text(ref, "a tensor's name", _REF)
        _exact(spec, ("dtype", "shape", "data", "parameter", "requires_grad"), f"tensor {ref}")
        _expect(_named_in(spec["dtype"], _DTYPES), f"tensor {ref}'s dtype is not one of {sorted(_DTYPES)}")
        shape = [_whole(s, f"a size of tensor {ref}") for s in _sequence(spec["shape"], f"tensor {ref}'s shape", 16)]
        data = _text(spec["data"], f"tensor {ref}'s data", most=1 << 31)
        size = math.prod(shape) * torch.empty((), dtype=_DTYPES[spec["dtype"]]).element_size()
        _expect(len(data) == 4 * ((size + 2) // 3), f"tensor {ref} has {len(data)} characters of data for shape {shape}")
        _expect(
            type(spec["parameter"]) is bool and type(spec["requires_grad"]) is bool, f"tensor {ref}'s flags are not true or false"
        )
    return table


def _check_ref(ref, table: dict, what: str) -> None:
    _text(ref, what, _REF)
    _expect(ref in table, f"{what} {ref!r} is not in its tensor table")


def _check_value(tree, table: dict, depth: int = 0, data: bool = False) -> None:
    """One encoded value (:meth:`_Encoder.value`); ``data``: plain data only, no module, optimiser or function."""
    _expect(depth <= _DEPTH, f"a value is nested more than {_DEPTH} deep")
    _expect(type(tree) is dict and type(tree.get("kind")) is str, "a value is not an object with a kind")
    kind = tree["kind"]
    _expect(kind in (_DATA_KINDS if data else _KINDS), f"a value of kind {kind[:40]!r} is not allowed here")
    if kind == "plain":
        _exact(tree, ("kind", "value"), "a plain value")
        _expect(type(tree["value"]) in _PLAIN, "a plain value is not a number, string, true, false or null")
        _expect(type(tree["value"]) is not str or len(tree["value"]) <= _TEXT, "a string is too long")
    elif kind == "float":
        _exact(tree, ("kind", "value"), "a float")
        try:
            float(_text(tree["value"], "a float", most=40))
        except ValueError:
            raise TransportError(f"{tree['value']!r} is not a float") from None
    elif kind in ("ellipsis", "generator"):
        _exact(tree, ("kind",), f"a {kind}")
    elif kind in ("tensor", "ndarray"):
        _exact(tree, ("kind", "ref"), f"a {kind}")
        _check_ref(tree["ref"], table, f"a {kind}")
    elif kind == "npscalar":
        _exact(tree, ("kind", "dtype", "value"), "a numpy scalar")
        _expect(_named_in(tree["dtype"], _NP_DTYPES), "a numpy scalar's dtype is not allowed")
        _expect(type(tree["value"]) is dict and tree["value"].get("kind") in ("plain", "float"), "a numpy scalar is not a number")
        _check_value(tree["value"], table, depth + 1, data=True)
    elif kind == "device":
        _exact(tree, ("kind", "value"), "a device")
        _text(tree["value"], "a device", _DEVICE)
    elif kind == "dtype":
        _exact(tree, ("kind", "value"), "a dtype")
        _expect(_named_in(tree["value"], _DTYPES), "a dtype is not one of the allowed")
    elif kind == "size":
        _exact(tree, ("kind", "items"), "a size")
        for item in _sequence(tree["items"], "a size", 64):
            _whole(item, "a size")
    elif kind == "slice":
        _exact(tree, ("kind", "items"), "a slice")
        _expect(len(_sequence(tree["items"], "a slice", 3)) == 3, "a slice has not three items")
        for item in tree["items"]:
            _check_value(item, table, depth + 1, data=True)
    elif kind in ("list", "tuple"):
        _exact(tree, ("kind", "items"), f"a {kind}")
        for item in _sequence(tree["items"], f"a {kind}"):
            _check_value(item, table, depth + 1, data)
    elif kind == "set":
        _exact(tree, ("kind", "items"), "a set")
        for item in _sequence(tree["items"], "a set"):
            _text(item, "a set's item")
    elif kind == "dict":
        _exact(tree, ("kind", "items"), "a dict")
        for key, item in _mapping(tree["items"], "a dict").items():
            _text(key, "a dict's key", most=1000)
            _check_value(item, table, depth + 1, data)
    elif kind == "opaque":
        _exact(tree, ("kind", "type"), "an opaque value")
        _text(tree["type"], "an opaque value's type", most=200)
    elif kind == "module":
        _check_module(tree, table, depth)
    elif kind == "optimizer":
        _exact(tree, ("kind", "class", "groups"), "an optimiser")
        _expect(tree["class"] in OPTIMIZERS, f"{str(tree['class'])[:40]!r} is not a torch.optim optimiser")
        for group in _sequence(tree["groups"], "an optimiser's groups", 100):
            _exact(group, ("params", "hyper"), "an optimiser's group")
            for ref in _sequence(group["params"], "an optimiser's parameters"):
                _check_ref(ref, table, "an optimiser's parameter")
            for key, value in _mapping(group["hyper"], "an optimiser's settings", 100).items():
                _text(key, "an optimiser's setting", _PUBLIC)
                _check_value(value, table, depth + 1, data=True)
    else:  # recorded
        _exact(tree, ("kind", "name", "is_class", "calls"), "a recorded function")
        _text(tree["name"], "a recorded function's name", most=1000)
        _expect(type(tree["is_class"]) is bool, "a recorded function's is_class is not true or false")
        for call in _sequence(tree["calls"], "a recorded function's calls", 100_000):
            _check_call(call, depth + 1)


def _check_module(tree, table: dict, depth: int) -> None:
    keys = ("kind", "class", "standard", "training", "attrs", "parameters", "buffers", "persistent", "children")
    _exact(tree, keys, "a module", optional=("graphs",))
    _text(tree["class"], "a module's class", _CLASS)
    _expect(type(tree["standard"]) is bool and type(tree["training"]) is bool, "a module's flags are not true or false")
    if tree["standard"]:
        _expect(_standard_module_class(tree["class"]) is not None, f"{tree['class']!r} is not a torch.nn module")
        _expect("graphs" not in tree, "a torch.nn module cannot carry a forward of its own")
    else:
        _exact(tree.get("graphs"), ("train", "eval"), "a module's traced forward")
        for graph in tree["graphs"].values():
            _check_graph(graph)
    for key, value in _mapping(tree["attrs"], "a module's attributes", 10_000).items():
        _expect(
            type(key) is str and (_NAME.fullmatch(key) is not None or key in _PRIVATE_ATTRIBUTES),
            f"the attribute {key[:80]!r} is not allowed",
        )
        _check_value(value, table, depth + 1, data=True)
    for store in ("parameters", "buffers"):
        for key, ref in _mapping(tree[store], f"a module's {store}", 10_000).items():
            _text(key, f"the name of one of a module's {store}", _NAME)
            if ref is not None:
                _check_ref(ref, table, f"one of a module's {store}")
    for key in _sequence(tree["persistent"], "a module's persistent buffers", 10_000):
        _expect(type(key) is str and key in tree["buffers"], "a persistent buffer is not among the module's buffers")
    for key, child in _mapping(tree["children"], "a module's children", 10_000).items():
        _text(key, "a child's name", _NAME)
        if child is not None:
            _expect(type(child) is dict and child.get("kind") == "module", f"the child {key!r} is not a module")
            _expect(depth + 1 <= _DEPTH, f"modules are nested more than {_DEPTH} deep")
            _check_module(child, table, depth + 1)


def _check_graph(graph) -> None:
    """A traced forward: ``{"nodes": [...]}`` of the allowed operations only, or ``{"error": why}``."""
    _expect(type(graph) is dict, "a traced forward is not an object")
    if "error" in graph:
        _exact(graph, ("error",), "a traced forward")
        _text(graph["error"], "why a forward was not traced", most=1000)
        return
    _exact(graph, ("nodes",), "a traced forward")
    for node in _sequence(graph["nodes"], "a traced forward's nodes", _NODES):
        _exact(node, ("op", "name", "target", "args", "kwargs"), "a node of a traced forward")
        op = node["op"]
        _expect(_named_in(op, _NODE_OPS), f"the node operation {str(op)[:40]!r} is not allowed")
        _text(node["name"], "a node's name", _NODE)
        target = _text(node["target"], "a node's target", most=300)
        if op == "call_function":
            _expect(target in FUNCTIONS or target == _ATTRIBUTE_READ, f"the function {target[:80]!r} is not allowed")
        elif op == "call_method":
            _expect(target in TENSOR_METHODS, f"the tensor method {target[:80]!r} is not allowed")
        elif op in ("call_module", "get_attr"):
            _text(target, "a node's target", _PATH)
        elif op == "placeholder":
            _text(target, "an argument's name", _PLACEHOLDER)
        _expect(type(node["args"]) is dict and node["args"].get("kind") == "tuple", "a node's arguments are not a tuple")
        _expect(type(node["kwargs"]) is dict and node["kwargs"].get("kind") == "dict", "a node's keywords are not a dict")
        _check_argument(node["args"], 0)
        _check_argument(node["kwargs"], 0)
        for key in node["kwargs"]["items"]:
            _text(key, "a keyword", _PUBLIC)


def _check_argument(tree, depth: int) -> None:
    """An argument of a node: a node's value, a list, tuple, dict or slice of arguments, or a constant."""
    _expect(depth <= _DEPTH, f"an argument is nested more than {_DEPTH} deep")
    _expect(type(tree) is dict and type(tree.get("kind")) is str, "an argument is not an object with a kind")
    kind = tree["kind"]
    if kind == "node":
        _exact(tree, ("kind", "name"), "a node argument")
        _text(tree["name"], "a node argument", _NODE)
    elif kind in ("list", "tuple", "slice"):
        _exact(tree, ("kind", "items"), f"a {kind} argument")
        items = _sequence(tree["items"], f"a {kind} argument", 10_000)
        _expect(kind != "slice" or len(items) == 3, "a slice has not three items")
        for item in items:
            _check_argument(item, depth + 1)
    elif kind == "dict":
        _exact(tree, ("kind", "items"), "a dict argument")
        for key, item in _mapping(tree["items"], "a dict argument", 10_000).items():
            _text(key, "a dict argument's key", most=1000)
            _check_argument(item, depth + 1)
    else:  # a constant: plain data, and no tensor (its table is empty)
        _check_value(tree, {}, depth + 1, data=True)


def _check_call(call, depth: int) -> None:
    """One recorded call: its key, the callbacks it made, what it returned or raised, and what it left behind."""
    keys = ("key", "callbacks", "after", "hooks", "grads", "given", "tensors")
    _exact(call, keys, "a recorded call", optional=("result", "raised"))
    _expect(not ("result" in call and "raised" in call), "a recorded call both returned and raised")
    _text(call["key"], "a recorded call's key", _KEY)
    table = _check_table(call["tensors"])
    for callback in _sequence(call["callbacks"], "a recorded call's callbacks", 100_000):
        _exact(callback, ("position", "arguments", "tensors"), "a callback")
        position = callback["position"]
        _expect(
            type(position) is int and 0 <= position < 1000 or type(position) is str and _PUBLIC.fullmatch(position) is not None,
            "a callback's position is not an argument's",
        )
        _check_value(callback["arguments"], _check_table(callback["tensors"]), depth + 1)
    for module in _sequence(call["after"], "the modules a call left", 1000):
        _expect(type(module) is dict and module.get("kind") == "module", "what a call left is not a module")
        _check_module(module, table, depth + 1)
    for counts in _sequence(call["hooks"], "a call's hooks", 1000):
        for sub in _sequence(counts, "a call's hooks", 100_000):
            for count in _sequence(sub, "a call's hooks", len(_HOOK_KINDS)):
                _whole(count, "a count of hooks", high=1000)
    for grads in _sequence(call["grads"], "a call's gradients", 1000):
        for ref in _sequence(grads, "a call's gradients"):
            if ref is not None:
                _check_ref(ref, table, "a gradient")
    for given in _sequence(call["given"], "a call's tensors", 1000):
        _exact(given, ("requires_grad", "grad"), "a given tensor")
        _expect(type(given["requires_grad"]) is bool, "a given tensor's requires_grad is not true or false")
        if given["grad"] is not None:
            _check_ref(given["grad"], table, "a gradient")
    if "result" in call:
        _check_value(call["result"], table, depth + 1)
    if "raised" in call:
        _exact(call["raised"], ("type", "message"), "an exception")
        _text(call["raised"]["type"], "an exception's type", _CLASS)
        _text(call["raised"]["message"], "an exception's message", most=10_000)


def check_export(document) -> None:
    """Refuse, with a :class:`TransportError` naming the rule, anything but an export as :func:`export` writes one.

    Examples
    --------
    >>> check_export({"check": "check_conv_layer", "arguments": [], "extra": {}, "tensors": {}, "uses": []})
    >>> check_export({"check": "check_conv_layer", "arguments": [{"kind": "plain", "value": None, "x": 1}],
    ...               "extra": {}, "tensors": {}, "uses": []})
    Traceback (most recent call last):
    booktools.grading.answers.TransportError: a plain value has the keys ['kind', 'value', 'x'], not ['kind', 'value']
    """
    _exact(document, ("check", "arguments", "extra", "tensors", "uses"), "the export")
    _text(document["check"], "the self-check", _CHECK)
    table = _check_table(document["tensors"])
    for tree in _sequence(document["arguments"], "the self-check's arguments", 16):
        _check_value(tree, table)
    for name, tree in _mapping(document["extra"], "the extra variables", 16).items():
        _text(name, "an extra variable's name", _CLASS)
        _check_value(tree, table)
    for use in _sequence(document["uses"], "what the answer uses of cnnlab", 10_000):
        _text(use, "what the answer uses of cnnlab", _USE)


# ----------------------------------------------------------------------------------------------
# Decoding (in the judge)

# The optimisers an export may name, each written out.
OPTIMIZERS = {
    name: getattr(torch.optim, name)
    for name in ("SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam", "ASGD", "Rprop")
}


def _standard_module_class(name: str):
    """``torch.nn``'s own public module class of that name, or None."""
    cls = getattr(nn, name, None) if isinstance(name, str) and not name.startswith("_") else None
    if isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__.startswith("torch.nn.modules"):
        return cls
    return None


class Decoder:
    """Rebuilds encoded answers; ``tensors`` is the table that :func:`export` wrote beside them.

    It expects data that :func:`check_export` has accepted, and checks again what it relies on.
    """

    def __init__(self, tensors: dict):
        self.table, self.made = tensors, {}

    def tensor(self, ref: str) -> torch.Tensor:
        if ref in self.made:
            return self.made[ref]
        if not isinstance(ref, str) or ref not in self.table:
            raise TransportError(f"tensor {ref!r} is missing")
        spec = self.table[ref]
        dtype = _DTYPES.get(spec["dtype"])
        if dtype is None:
            raise TransportError(f"tensor dtype {spec['dtype']!r} is not supported")
        shape = [int(s) for s in spec["shape"]]
        try:
            raw = bytearray(base64.b64decode(spec["data"], validate=True))
        except ValueError:
            raise TransportError(f"tensor {ref!r}'s data is not base64") from None
        count = math.prod(shape)
        if len(raw) != count * torch.empty((), dtype=dtype).element_size():
            raise TransportError(f"tensor {ref!r} has {len(raw)} bytes for shape {shape}")
        value = torch.frombuffer(raw, dtype=dtype).reshape(shape).clone() if count else torch.empty(shape, dtype=dtype)
        if spec.get("parameter") is True:
            value = nn.Parameter(value, requires_grad=spec.get("requires_grad") is True)
        elif spec.get("requires_grad") is True and value.is_floating_point():
            value.requires_grad_(True)  # a result still recording gradients says so in the judge too
        self.made[ref] = value
        return value

    def value(self, tree):
        kind = tree["kind"]
        if kind == "plain":
            if type(tree["value"]) not in _PLAIN:
                raise TransportError("plain value of another type")
            return tree["value"]
        if kind == "float":
            return float(str(tree["value"]))
        if kind == "ellipsis":
            return Ellipsis
        if kind == "tensor":
            return self.tensor(tree["ref"])
        if kind == "ndarray":
            return self.tensor(tree["ref"]).detach().numpy().copy()
        if kind == "npscalar":
            dtype = _NP_DTYPES.get(tree["dtype"])
            if dtype is None:
                raise TransportError(f"numpy scalar of dtype {str(tree['dtype'])[:40]!r} is not supported")
            return dtype.type(self.value(tree["value"]))
        if kind == "device":
            return torch.device(_text(tree["value"], "a device", _DEVICE))
        if kind == "dtype":
            if tree["value"] not in _DTYPES:
                raise TransportError("a dtype is not one of the allowed")
            return _DTYPES[tree["value"]]
        if kind == "slice":
            return slice(*(self.value(v) for v in tree["items"]))
        if kind == "size":
            return torch.Size(int(v) for v in tree["items"])
        if kind in ("list", "tuple"):
            items = [self.value(v) for v in tree["items"]]
            return items if kind == "list" else tuple(items)
        if kind == "set":
            return set(str(v) for v in tree["items"])
        if kind == "dict":
            return {str(k): self.value(v) for k, v in tree["items"].items()}
        if kind == "module":
            return self.module(tree)
        if kind == "optimizer":
            return self.optimizer(tree)
        if kind == "recorded":
            return _stand_in(tree)
        if kind == "generator":
            return (_ for _ in ())
        if kind == "opaque":
            return Opaque(str(tree.get("type", "object")))
        raise TransportError(f"unknown kind {str(kind)[:40]!r}")

    def module(self, tree) -> nn.Module:
        cls = _standard_module_class(tree["class"]) if tree["standard"] is True else None
        if tree["standard"] is True and cls is None:
            raise TransportError(f"{tree['class']!r} is not a torch.nn module")
        if cls is None:
            cls = _student_class(str(tree["class"]))
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        absent = object()
        for key, value in tree["attrs"].items():
            allowed = _NAME.fullmatch(key) is not None or key in _PRIVATE_ATTRIBUTES
            if not allowed or key in _MODULE_KEYS or inspect.getattr_static(cls, key, absent) is not absent:
                raise TransportError(f"the attribute {key[:80]!r} cannot be set on a {cls.__name__}")
            if value.get("kind") not in _DATA_KINDS:
                raise TransportError(f"the attribute {key!r} is not data")
            object.__setattr__(module, key, self.value(value))
        for key, ref in tree["parameters"].items():
            value = None if ref is None else self.tensor(ref)
            if value is not None and not isinstance(value, nn.Parameter):
                value = nn.Parameter(value, requires_grad=value.requires_grad)
                self.made[ref] = value
            module.register_parameter(_text(key, "a parameter's name", _NAME), value)
        persistent = set(tree["persistent"])
        for key, ref in tree["buffers"].items():
            buffer = None if ref is None else self.tensor(ref)
            module.register_buffer(_text(key, "a buffer's name", _NAME), buffer, persistent=key in persistent)
        for key, child in tree["children"].items():
            module.add_module(_text(key, "a child's name", _NAME), None if child is None else self.module(child))
        module.training = tree["training"] is True
        if issubclass(cls, _GraphModule):
            graphs = tree.get("graphs") or {}
            object.__setattr__(module, "_answers_graphs", {mode: graphs.get(mode) for mode in ("train", "eval")})
        return module

    def optimizer(self, tree) -> torch.optim.Optimizer:
        cls = OPTIMIZERS.get(tree["class"]) if isinstance(tree["class"], str) else None
        if cls is None:
            raise TransportError(f"{str(tree['class'])[:40]!r} is not a torch.optim optimiser")
        groups = []
        for group in tree["groups"]:
            hyper = {_text(k, "an optimiser's setting", _PUBLIC): self.value(v) for k, v in group["hyper"].items()}
            groups.append({"params": [self.tensor(r) for r in group["params"]], **hyper})
        optimizer = cls.__new__(cls)
        torch.optim.Optimizer.__init__(optimizer, groups, dict(groups[0]) if groups else {})
        optimizer.defaults = {k: v for k, v in (groups[0] if groups else {}).items() if k != "params"}
        return optimizer


class Opaque:
    """An answer of a kind the judge does not rebuild (a file handle, a lambda's closure, ...)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


_STUDENT_CLASSES: dict[str, type] = {}


def _student_class(name: str) -> type:
    """A module class named like the student's, whose ``forward`` interprets the traced graph."""
    if not name.isidentifier() or name.startswith("_") or len(name) > 100:
        name = "StudentModule"
    if name not in _STUDENT_CLASSES:
        _STUDENT_CLASSES[name] = type(name, (_GraphModule,), {"__module__": __name__})
    return _STUDENT_CLASSES[name]


class _GraphModule(nn.Module):
    def forward(self, *args, **kwargs):
        graphs = self.__dict__.get("_answers_graphs") or {}
        graph = graphs.get("train" if self.training else "eval") or {"error": "no forward"}
        if "error" in graph:
            raise RuntimeError(f"the grader could not follow {type(self).__name__}.forward ({str(graph['error'])[:200]})")
        return _interpret(self, graph["nodes"], args, kwargs)


# What a traced forward may call: the functions (by the name the export gives them) and tensor methods below, each
# written out, and nothing else. They are what the chapters' answer keys and the self-checks' mutation suites trace
# to, and what a student's forward plausibly adds; none takes a callable or a name to look up.
def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_F = torch.nn.functional
FUNCTIONS = {
    **{
        f"torch.nn.functional.{name}": getattr(_F, name)
        for name in _names(
            "relu relu6 leaky_relu elu selu celu gelu silu mish hardswish hardtanh softplus sigmoid tanh softmax "
            "log_softmax dropout dropout2d alpha_dropout max_pool2d avg_pool2d adaptive_avg_pool2d "
            "adaptive_max_pool2d lp_pool2d conv2d conv_transpose2d linear bilinear batch_norm instance_norm "
            "layer_norm group_norm local_response_norm normalize interpolate upsample pad one_hot pixel_shuffle "
            "pixel_unshuffle embedding unfold fold"
        )
    },
    **{
        f"torch.{name}": getattr(torch, name)
        for name in _names(
            "relu sigmoid tanh softmax log_softmax flatten cat concat concatenate stack hstack vstack add sub "
            "subtract mul multiply div divide true_divide floor_divide remainder matmul mm bmm sum mean std var "
            "prod max min amax amin argmax argmin maximum minimum reshape squeeze unsqueeze transpose permute "
            "movedim swapaxes clamp clip exp log log1p sqrt rsqrt abs neg sign pow square where zeros_like "
            "ones_like full_like rand_like randn_like dropout max_pool2d conv2d chunk split narrow select "
            "index_select gather roll flip cumsum logsumexp topk sort einsum tensordot outer mv dot norm"
        )
    },
    **{
        f"operator.{name}": getattr(operator, name)
        for name in _names("add sub mul truediv floordiv mod pow neg pos abs matmul getitem eq ne lt le gt ge")
    },
    **{f"math.{name}": getattr(math, name) for name in _names("sqrt floor ceil exp log log2 pow prod fabs")},
}
TENSOR_METHODS = {
    name: getattr(torch.Tensor, name)
    for name in _names(
        "view view_as reshape reshape_as flatten unflatten size dim numel relu sigmoid tanh softmax "
        "log_softmax exp log sqrt abs neg pow clamp clip sum mean std var max min amax amin argmax argmin "
        "prod squeeze unsqueeze permute transpose movedim contiguous add sub mul div matmul mm bmm float "
        "double half long int bool to type_as detach clone expand expand_as repeat chunk split narrow select "
        "index_select gather masked_fill roll flip cumsum logsumexp topk sort norm t sign square"
    )
}
# fx records ``x.shape`` as a call of the builtin getattr: the interpreter reads these attributes of a tensor only.
TENSOR_ATTRIBUTES = frozenset({"shape", "dtype", "device", "ndim"})
_ATTRIBUTE_READ = "builtins.getattr"


def _tensor_attribute(value, name):
    """``value.name`` for a tensor and one of :data:`TENSOR_ATTRIBUTES`: all the interpreter reads of an object."""
    if not isinstance(value, torch.Tensor) or not isinstance(name, str) or name not in TENSOR_ATTRIBUTES:
        raise TransportError(f"reading {str(name)[:40]!r} of a {type(value).__name__} is not allowed")
    return getattr(value, name)


def _call(kind: str, name: str, function, args: tuple, kwargs: dict):
    """Every call the interpreter makes: ``kind`` is "function", "method", "attribute" or "module"."""
    return function(*args, **kwargs)


def _interpret(module: nn.Module, nodes: list, args: tuple, kwargs: dict):
    """Run a traced forward on ``module`` with the allowed operations only (the module docstring's rule 3)."""
    values: dict = {}
    placeholders = [n for n in nodes if n["op"] == "placeholder"]
    bound = list(args)
    for index, node in enumerate(placeholders):
        name = node["target"]
        if index < len(bound):
            values[node["name"]] = bound[index]
        elif name in kwargs:
            values[node["name"]] = kwargs[name]
        elif node["args"]["items"]:
            values[node["name"]] = _decode_arg(node["args"]["items"][0], values)
        else:
            raise TypeError(f"forward() missing the argument {name!r}")
    for node in nodes:
        op, target = node["op"], node["target"]
        if op == "placeholder":
            continue
        node_args = _decode_arg(node["args"], values)
        node_kwargs = _decode_arg(node["kwargs"], values)
        if any(not isinstance(k, str) or _PUBLIC.fullmatch(k) is None for k in node_kwargs):
            raise TransportError("a keyword of a traced call is not a public name")
        if op == "output":
            return node_args[0] if node_args else None
        if op == "call_module":
            child = _descend(module, target, "module")
            result = _call("module", target, child, node_args, node_kwargs)
        elif op == "get_attr":
            result = _descend(module, target, "tensor")
        elif op == "call_method":
            method = TENSOR_METHODS.get(target)
            if method is None or not node_args or not isinstance(node_args[0], torch.Tensor):
                raise TransportError(f"the method {str(target)[:80]!r} is not allowed")
            result = _call("method", target, method, node_args, node_kwargs)
        elif op == "call_function" and target == _ATTRIBUTE_READ:
            result = _call("attribute", target, _tensor_attribute, node_args, node_kwargs)
        elif op == "call_function":
            function = FUNCTIONS.get(target)
            if function is None:
                raise TransportError(f"the function {str(target)[:80]!r} is not allowed")
            result = _call("function", target, function, node_args, node_kwargs)
        else:
            raise TransportError(f"unknown node {str(op)[:40]!r}")
        values[node["name"]] = result
    raise TransportError("the traced forward has no output")


def _descend(module: nn.Module, path, want: str):
    """The submodule (``want="module"``), or parameter or buffer (``"tensor"``), at the dotted ``path`` of ``module``.

    Each step goes through a module's own table of children (then of parameters and buffers): never an attribute.
    """
    if not isinstance(path, str) or _PATH.fullmatch(path) is None:
        raise TransportError(f"{str(path)[:80]!r} is not a public path")
    *parents, last = path.split(".")
    for part in parents:
        module = module.__dict__["_modules"].get(part)
        if not isinstance(module, nn.Module):
            raise TransportError(f"{path!r} is not a path through the module's children")
    if want == "module":
        child = module.__dict__["_modules"].get(last)
        if not (isinstance(child, _GraphModule) or _standard_module_class(type(child).__name__) is type(child)):
            raise TransportError(f"{path!r} is not a child module")
        return child
    for store in ("_parameters", "_buffers"):
        value = module.__dict__[store].get(last)
        if isinstance(value, torch.Tensor):
            return value
    raise TransportError(f"{path!r} is not a parameter or buffer")


def _decode_arg(tree, values):
    kind = tree["kind"]
    if kind == "node":
        if tree["name"] not in values:
            raise TransportError(f"the node {str(tree['name'])[:80]!r} is used before it is computed")
        return values[tree["name"]]
    if kind in ("list", "tuple"):
        items = [_decode_arg(v, values) for v in tree["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {str(k): _decode_arg(v, values) for k, v in tree["items"].items()}
    if kind == "slice":
        return slice(*(_decode_arg(v, values) for v in tree["items"]))
    if kind not in _DATA_KINDS or kind in ("tensor", "ndarray", "opaque", "list", "tuple", "dict"):
        raise TransportError(f"a traced graph cannot hold a {str(kind)[:40]}")
    return Decoder({}).value(tree)


def _stand_in(tree):
    """A function or class that answers each call it was recorded with, and nothing else."""
    calls = {call["key"]: call for call in tree["calls"]}
    name = str(tree["name"]) if str(tree["name"]).isidentifier() else "answer"

    def answer(args, kwargs):
        modules = [a for a in (*args, *kwargs.values()) if isinstance(a, nn.Module)]
        call = calls.get(fingerprint((args, kwargs)))
        if call is None:
            raise ReplayMiss(f"{name} was not called with these arguments in the student's kernel")
        for callback in call.get("callbacks", []):
            position = callback["position"]
            target = args[position] if isinstance(position, int) and 0 <= position < len(args) else kwargs.get(position)
            if not _is_callback(target):
                raise ReplayMiss(f"{name} called an argument that is not a function")
            inner_args, inner_kwargs = Decoder(callback["tensors"]).value(callback["arguments"])
            target(*inner_args, **inner_kwargs)
        decoder = Decoder(call["tensors"])
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        _leave_as_recorded(call, decoder, modules, tensors)
        if "raised" in call:
            raise _exception(call["raised"])
        if "result" not in call:
            raise ReplayMiss(f"{name} neither returned nor raised in the student's kernel")
        return decoder.value(call["result"])

    if tree["is_class"]:

        def __new__(cls, *args, **kwargs):
            return answer(args, kwargs)

        return type(name, (nn.Module,), {"__new__": __new__, "__module__": __name__})

    def recorded(*args, **kwargs):
        return answer(args, kwargs)

    recorded.__name__ = name
    return recorded


def _leave_as_recorded(call: dict, decoder: Decoder, modules: list, tensors: list) -> None:
    """Leave the judge's arguments as the student's function left their twins: values, modes, hooks, gradients."""
    for module, after in zip(modules, call.get("after", [])):
        _restore(module, decoder.module(after))
    for module, counts in zip(modules, call.get("hooks", [])):
        for sub, left in zip(module.modules(), counts):
            # Hooks that do nothing, as many as the student's function left: a self-check counts them.
            for kind, register, count in zip(_HOOK_KINDS, _HOOK_REGISTRARS, left):
                for _ in range(max(0, int(count) - len(getattr(sub, kind)))):
                    getattr(sub, register)(lambda *_: None)
    for module, grads in zip(modules, call.get("grads", [])):
        for parameter, ref in zip(module.parameters(), grads):
            grad = None if ref is None else decoder.tensor(ref).detach()
            parameter.grad = grad if grad is None or grad.shape == parameter.shape else None
    for tensor, state in zip(tensors, call.get("given", [])):
        if tensor.is_leaf:
            tensor.requires_grad_(bool(state["requires_grad"]))
            grad = None if state["grad"] is None else decoder.tensor(state["grad"]).detach()
            tensor.grad = grad if grad is None or grad.shape == tensor.shape else None


def _restore(module: nn.Module, after: nn.Module) -> None:
    """Give ``module`` the modes and values that the student's function left its recorded twin with."""
    mine, theirs = list(module.modules()), list(after.modules())
    if len(mine) != len(theirs):
        raise ReplayMiss("the module the student's function changed has another structure")
    for a, b in zip(mine, theirs):
        a.training = b.training
        for store in ("_parameters", "_buffers"):
            for key, value in getattr(a, store).items():
                other = getattr(b, store).get(key)
                if value is not None and other is not None and value.shape == other.shape:
                    with torch.no_grad():
                        value.copy_(other)


_EXCEPTIONS = {
    name: getattr(builtins, name)
    for name in (
        "TypeError",
        "ValueError",
        "RuntimeError",
        "AttributeError",
        "IndexError",
        "KeyError",
        "NameError",
        "ZeroDivisionError",
        "AssertionError",
        "NotImplementedError",
        "UnboundLocalError",
        "StopIteration",
    )
}


def _exception(raised: dict) -> Exception:
    return _EXCEPTIONS.get(str(raised.get("type")), RuntimeError)(str(raised.get("message", ""))[:2000])


def decode(document: dict) -> tuple[str, list, dict]:
    """The check's name, the rebuilt arguments and extras of one exported self-check call, once its form is checked.

    Raises
    ------
    TransportError
        If ``document`` breaks a rule of :func:`check_export`, or its data cannot be rebuilt.
    """
    check_export(document)
    decoder = Decoder(document["tensors"])
    arguments = [decoder.value(tree) for tree in document["arguments"]]
    extra = {str(k): decoder.value(v) for k, v in document.get("extra", {}).items()}
    return str(document["check"]), arguments, extra


# ----------------------------------------------------------------------------------------------
# Checks whose self-check watches the student's function from inside (spies), which a replay
# cannot repeat: the sandbox also makes one plain call that the judge can redo with its own
# reference and compare.


def train_epoch_scenario():
    """A small network with batch normalisation, three batches, a loss and an SGD optimiser, all seeded."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 10))
    generator = torch.Generator().manual_seed(3)
    batches = [(torch.rand(4, 1, 8, 8, generator=generator), torch.randint(0, 10, (4,), generator=generator)) for _ in range(3)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, batches, nn.CrossEntropyLoss(), optimizer, torch.device("cpu")


PROBES = {"check_train_epoch": lambda function: function(*train_epoch_scenario())}
