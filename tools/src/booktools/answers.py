"""A student's answers as plain data, so that a process that never ran the student's code can judge them.

The grader (:mod:`booktools.grade`) runs a submission in a sandboxed kernel.
After each self-check cell it asks that kernel to :func:`export` the
arguments of the self-check call (``checks.check_network(MNISTModel)``, say)
as JSON: numbers, strings, tensors (their bytes), modules (their class
among ``torch.nn``'s own, their attributes, parameters and children; a
module with its own ``forward`` also carries that ``forward`` traced by
``torch.fx`` into a graph of ``torch`` operations), optimisers, and for each
function or class the calls the self-check made of it, each with its
arguments and what it returned or raised.

:func:`decode` rebuilds those answers in the judge (:mod:`booktools.judge`)
without running any of the student's code: only ``torch.nn`` classes are
built, a traced ``forward`` is interpreted node by node with public
``torch``, ``torch.nn.functional``, ``operator`` and ``math`` functions and
public tensor methods only, and a recorded function answers only the calls
it was recorded with (:class:`ReplayMiss` otherwise). Nothing is unpickled.

Data made by a hostile kernel can claim anything; it earns points only if
it is a right answer, which the judge's own pristine self-check decides.
This module imports nothing but the standard library, numpy and torch: the
grader copies it into the sandbox.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import inspect
import json
import math
import operator

import numpy as np
import torch
import torch.nn as nn

MIME = "application/vnd.cnnlab.answers+json"
_PLAIN = (bool, int, float, str, type(None))
_MODULE_KEYS = {"training", "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set"}


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
            if key in _MODULE_KEYS or key.startswith("__") or "hook" in key:
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
                "kwargs": _node_arg(dict(node.kwargs)),
            }
        )
    return {"nodes": nodes}


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

    ``extra`` names further variables of the notebook to send (a trained model, for a hidden test).
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
    for run in (getattr(checks, check_name), PROBES.get(check_name)):
        try:
            if run is not None:
                run(*arguments)
        except BaseException:  # noqa: BLE001 - the verdict is the judge's; only the recorded calls matter here
            pass
    encoder = _Encoder()
    encoded = [encoder.value(r if r else v) for r, v in zip(recorders, values)]
    extras = {name: encoder.value(namespace[name]) for name in extra if name in namespace}
    return json.dumps({"check": check_name, "arguments": encoded, "extra": extras, "tensors": encoder.tensors})


class _Missing:
    def __init__(self, why: str):
        self.why = why


# ----------------------------------------------------------------------------------------------
# Decoding (in the judge)


def _standard_module_class(name: str):
    cls = getattr(nn, name, None) if isinstance(name, str) and not name.startswith("_") else None
    if isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__.startswith("torch.nn.modules"):
        return cls
    return None


_DTYPES = {
    name: getattr(torch, name)
    for name in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
}


class Decoder:
    """Rebuilds encoded answers; ``tensors`` is the table that :func:`export` wrote beside them."""

    def __init__(self, tensors: dict):
        self.table, self.made = tensors, {}

    def tensor(self, ref: str) -> torch.Tensor:
        if ref in self.made:
            return self.made[ref]
        if ref not in self.table:
            raise TransportError(f"tensor {ref!r} is missing")
        spec = self.table[ref]
        dtype = _DTYPES.get(spec["dtype"])
        if dtype is None:
            raise TransportError(f"tensor dtype {spec['dtype']!r} is not supported")
        shape = [int(s) for s in spec["shape"]]
        raw = bytearray(base64.b64decode(spec["data"]))
        count = math.prod(shape)
        if len(raw) != count * torch.empty((), dtype=dtype).element_size():
            raise TransportError(f"tensor {ref!r} has {len(raw)} bytes for shape {shape}")
        value = torch.frombuffer(raw, dtype=dtype).reshape(shape).clone() if count else torch.empty(shape, dtype=dtype)
        if spec.get("parameter"):
            value = nn.Parameter(value, requires_grad=bool(spec.get("requires_grad")))
        elif spec.get("requires_grad") and value.is_floating_point():
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
            return float(tree["value"])
        if kind == "ellipsis":
            return Ellipsis
        if kind == "tensor":
            return self.tensor(tree["ref"])
        if kind == "ndarray":
            return self.tensor(tree["ref"]).detach().numpy().copy()
        if kind == "npscalar":
            dtype = np.dtype(str(tree["dtype"]))
            if dtype.kind not in "biuf":
                raise TransportError(f"numpy scalar of dtype {dtype} is not supported")
            return dtype.type(self.value(tree["value"]))
        if kind == "device":
            return torch.device(tree["value"])
        if kind == "dtype":
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
        raise TransportError(f"unknown kind {kind!r}")

    def module(self, tree) -> nn.Module:
        cls = _standard_module_class(tree["class"]) if tree.get("standard") else None
        if tree.get("standard") and cls is None:
            raise TransportError(f"{tree['class']!r} is not a torch.nn module")
        if cls is None:
            cls = _student_class(str(tree["class"]))
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        for key, value in tree["attrs"].items():
            if key.startswith("__") or key in _MODULE_KEYS:
                raise TransportError(f"attribute {key!r} cannot be set")
            object.__setattr__(module, key, self.value(value))
        for key, ref in tree["parameters"].items():
            value = None if ref is None else self.tensor(ref)
            if value is not None and not isinstance(value, nn.Parameter):
                value = nn.Parameter(value, requires_grad=value.requires_grad)
                self.made[ref] = value
            module.register_parameter(key, value)
        persistent = set(tree.get("persistent", tree["buffers"]))
        for key, ref in tree["buffers"].items():
            module.register_buffer(key, None if ref is None else self.tensor(ref), persistent=key in persistent)
        for key, child in tree["children"].items():
            module.add_module(key, None if child is None else self.module(child))
        module.training = bool(tree["training"])
        if cls.__module__ == __name__:
            graphs = tree.get("graphs") or {}
            object.__setattr__(module, "_answers_graphs", {mode: graphs.get(mode) for mode in ("train", "eval")})
        return module

    def optimizer(self, tree) -> torch.optim.Optimizer:
        cls = getattr(torch.optim, str(tree["class"]), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and not tree["class"].startswith("_")):
            raise TransportError(f"{tree['class']!r} is not a torch.optim optimiser")
        groups = []
        for group in tree["groups"]:
            hyper = {k: self.value(v) for k, v in group["hyper"].items()}
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
    if not name.isidentifier():
        name = "StudentModule"
    if name not in _STUDENT_CLASSES:
        _STUDENT_CLASSES[name] = type(name, (_GraphModule,), {"__module__": __name__})
    return _STUDENT_CLASSES[name]


class _GraphModule(nn.Module):
    def forward(self, *args, **kwargs):
        graphs = self.__dict__.get("_answers_graphs") or {}
        graph = graphs.get("train" if self.training else "eval") or {"error": "no forward"}
        if "error" in graph:
            raise RuntimeError(f"the grader could not follow {type(self).__name__}.forward ({graph['error']})")
        return _interpret(self, graph["nodes"], args, kwargs)


_FUNCTION_PREFIXES = ("torch.nn.functional.", "torch.", "operator.", "math.", "builtins.", "torch.Tensor.")
_BUILTINS = {"getattr", "len", "int", "float", "min", "max", "abs", "range", "tuple", "list", "slice", "isinstance"}
_TORCH_DENIED = {
    "load",
    "save",
    "compile",
    "hub",
    "jit",
    "library",
    "ops",
    "classes",
    "set_default_device",
    "set_default_dtype",
    "manual_seed",
    "seed",
    "use_deterministic_algorithms",
    "set_num_threads",
    "from_file",
    "set_printoptions",
    "set_grad_enabled",
    "set_default_tensor_type",
    "utils",
    "backends",
    "autograd",
    "package",
    "overrides",
    "export",
    "fx",
    "multiprocessing",
}


def _resolve_function(name: str):
    """The callable a traced node names, if it is a public torch, functional, operator or math function."""
    if not isinstance(name, str) or not name.startswith(_FUNCTION_PREFIXES):
        raise TransportError(f"the function {name!r} is not allowed")
    head, _, attr = name.rpartition(".")
    if attr.startswith("_") or not attr:
        raise TransportError(f"the function {name!r} is not allowed")
    owners = {
        "torch.nn.functional": torch.nn.functional,
        "torch": torch,
        "operator": operator,
        "math": math,
        "torch.Tensor": torch.Tensor,
    }
    if head == "builtins":
        if attr not in _BUILTINS:
            raise TransportError(f"the builtin {attr!r} is not allowed")
        return getattr(builtins, attr)
    if head not in owners or (head == "torch" and attr in _TORCH_DENIED):
        raise TransportError(f"the function {name!r} is not allowed")
    target = getattr(owners[head], attr, None)
    if target is None or isinstance(target, type(math)) or not callable(target):
        raise TransportError(f"the function {name!r} is not allowed")
    return target


def _interpret(module: nn.Module, nodes: list, args: tuple, kwargs: dict):
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
        op = node["op"]
        if op == "placeholder":
            continue
        node_args = _decode_arg(node["args"], values)
        node_kwargs = _decode_arg(node["kwargs"], values)
        if op == "output":
            return node_args[0]
        if op == "call_module":
            result = module.get_submodule(_public_path(node["target"]))(*node_args, **node_kwargs)
        elif op == "get_attr":
            result = module
            for part in _public_path(node["target"]).split("."):
                result = getattr(result, part)
        elif op == "call_method":
            method = node["target"]
            if method.startswith("_") or not hasattr(torch.Tensor, method) or not isinstance(node_args[0], torch.Tensor):
                raise TransportError(f"the method {method!r} is not allowed")
            result = getattr(node_args[0], method)(*node_args[1:], **node_kwargs)
        elif op == "call_function":
            function = _resolve_function(node["target"])
            if function is getattr and (len(node_args) < 2 or not isinstance(node_args[1], str) or node_args[1].startswith("_")):
                raise TransportError("getattr of a private attribute is not allowed")
            result = function(*node_args, **node_kwargs)
        else:
            raise TransportError(f"unknown node {op!r}")
        values[node["name"]] = result
    raise TransportError("the traced forward has no output")


def _public_path(path: str) -> str:
    if any(part.startswith("_") for part in str(path).split(".")):
        raise TransportError(f"{path!r} is not a public attribute")
    return str(path)


def _decode_arg(tree, values):
    kind = tree["kind"]
    if kind == "node":
        return values[tree["name"]]
    if kind in ("list", "tuple"):
        items = [_decode_arg(v, values) for v in tree["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _decode_arg(v, values) for k, v in tree["items"].items()}
    if kind == "slice":
        return slice(*(_decode_arg(v, values) for v in tree["items"]))
    if kind in ("tensor", "ndarray", "module", "optimizer", "recorded", "opaque"):
        raise TransportError(f"a traced graph cannot hold a {kind}")
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
    """The check's name, the rebuilt arguments and extras of one exported self-check call."""
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
