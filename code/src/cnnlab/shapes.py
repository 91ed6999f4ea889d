"""Which layer broke a forward pass, and why: shapes traced layer by layer.

A shape error from deep inside PyTorch ("mat1 and mat2 shapes cannot be
multiplied (4x500 and 320x50)") does not say which line of a network is at
fault. :func:`traced_forward` runs a model with a hook on every layer, and
when a layer fails it raises :class:`LayerError` naming the layer as the code
names it (``self.fc1``, ``self.conv_blocks[3]``), the shape it received, the
sizes on the way there, and the fix for the usual causes: a convolution run
twice, a missing flatten, padding that changed the sizes, ``BatchNorm1d``
after a convolution.
"""

from __future__ import annotations

import difflib

import torch
import torch.nn as nn

__all__ = ["LayerError", "layer_name", "traced_forward"]

_RESIZING = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
# The names of PyTorch's layer classes, to tell a layer built in forward (nn.ReLU(x)) from any other object.
_LAYER_CLASSES = frozenset(name for name, value in vars(nn).items() if isinstance(value, type) and issubclass(value, nn.Module))


class LayerError(ValueError):
    """A model could not process its input; the message names the layer, its input shape and the fix."""


def layer_name(model: nn.Module, module: nn.Module, root: str = "self") -> str:
    """How code names ``module`` inside ``model``: ``self.conv1`` or ``self.conv_blocks[3]``.

    Examples
    --------
    >>> blocks = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    >>> layer_name(nn.ModuleDict({"features": blocks}), blocks[1])
    'self.features[1]'
    >>> layer_name(blocks, blocks[0], root="blocks")
    'blocks[0]'
    """
    for name, candidate in model.named_modules():
        if candidate is module:
            parts = [f"[{part}]" if part.isdigit() else f".{part}" for part in name.split(".") if part]
            return root + "".join(parts)
    return type(module).__name__


def _explain(model: nn.Module, module: nn.Module, shape: tuple, done: list, error: Exception, root: str) -> str:
    """Why ``module`` could not process an input of ``shape``; ``done`` holds the (layer, output shape) before it."""
    name = layer_name(model, module, root)
    earlier = [layer for layer, _ in done]
    if shape is None:
        return f"{name} was called without an input: give it the tensor that the line before returned, {name}(x)."
    if isinstance(shape, str):  # the layer received something that is not a tensor
        built = (
            f" ({shape} is a layer: calling nn.{shape}(x) in forward builds a new layer instead of applying one. Create "
            f"it in __init__ and call it, or use the function, such as F.relu(x))"
            if shape in _LAYER_CLASSES
            else ""
        )
        return f"{name} received a {shape}, not a tensor{built}: give each layer the tensor that the line before returned."
    if isinstance(module, nn.Conv2d) and len(shape) == 4 and shape[1] != module.in_channels:
        reason = f"{name} takes {module.in_channels} input channel(s) but received {shape[1]} (input {shape})"
        if module in earlier:
            return f"{reason}: {name} runs a second time. Each convolution runs once; the next block uses the next layer."
        fitting = [
            layer_name(model, other, root)
            for other in model.modules()
            if isinstance(other, nn.Conv2d) and other.in_channels == shape[1] and other not in earlier
        ]
        if fitting:
            return f"{reason}: this block should use {fitting[0]}, the convolution that takes {shape[1]} channel(s)."
        return f"{reason}: set in_channels={shape[1]}, the channels of the layer before it."
    if isinstance(module, nn.Linear) and len(shape) == 1:
        return (
            f"{name} received a 1-D input {shape}: the whole batch was flattened into one vector. Keep the batch "
            "dimension and flatten from dimension 1, x.flatten(start_dim=1) (torch.flatten(x, 1)), or use nn.Flatten()."
        )
    if isinstance(module, nn.Linear) and len(shape) > 2:
        return (
            f"{name} received a {len(shape)}-D input {shape}: flatten it to (N, features) first, with "
            "x.flatten(start_dim=1) in forward or nn.Flatten() in a block."
        )
    if isinstance(module, nn.Linear) and len(shape) == 2 and shape[1] != module.in_features:
        trail = ", ".join(f"{layer_name(model, layer, root)} -> {out}" for layer, out in done)
        padded = [
            layer_name(model, layer, root)
            for layer in earlier
            if isinstance(layer, _RESIZING) and getattr(layer, "padding", 0) not in (0, (0, 0))
        ]
        cause = f" {', '.join(padded)} pads its input, which changes the sizes." if padded else ""
        return (
            f"{name} takes {module.in_features} features but received {shape[1]} per image.{cause} "
            f"The sizes on the way: {trail}. Make in_features match, or fix the layer that changed the size."
        )
    if isinstance(module, nn.BatchNorm1d) and len(shape) == 4:
        return f"{name} is a BatchNorm1d, for (N, C) vectors, but received feature maps {shape}: use nn.BatchNorm2d({shape[1]})."
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and len(shape) >= 2 and shape[1] != module.num_features:
        return f"{name} has num_features={module.num_features} but its input has {shape[1]} channels: use {shape[1]}."
    return f"{name} failed on an input of shape {shape} with {type(error).__name__}: {error}."


def traced_forward(model: nn.Module, X: torch.Tensor, root: str = "self") -> tuple[object, list[nn.Module]]:
    """``model(X)`` and the layers (modules without children) that ran, in order.

    Parameters
    ----------
    model : nn.Module
    X : torch.Tensor
    root : str
        How layer names start in messages: ``self`` for a model's own code.

    Returns
    -------
    (output, layers)

    Raises
    ------
    LayerError
        If the forward pass fails; the message names the layer at fault.

    Examples
    --------
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(16, 2))
    >>> traced_forward(model, torch.zeros(1, 1, 6, 6), root="model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cnnlab.shapes.LayerError: model[1] received a 4-D input (1, 4, 4, 4): flatten it to (N, features) first, ...
    """
    calls: list[list] = []  # [layer, input shape, output shape or None while it runs]
    handles = []

    def before(module, inputs):
        first = inputs[0] if inputs else None
        received = tuple(first.shape) if isinstance(first, torch.Tensor) else None
        if received is None and first is not None:
            received = type(first).__name__
        calls.append([module, received, None])

    def after(module, inputs, output):
        running = next(call for call in reversed(calls) if call[0] is module and call[2] is None)
        running[2] = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__

    for module in model.modules():
        if not list(module.children()):
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
    try:
        out = model(X)
    except Exception as error:  # noqa: BLE001 - every failure becomes a message that names its layer
        unfinished = [call for call in calls if call[2] is None]
        if unfinished:
            module, shape, _ = unfinished[-1]
            done = [(call[0], call[2]) for call in calls if call[2] is not None]
            raise LayerError(_explain(model, module, shape, done, error, root)) from error
        if isinstance(error, NotImplementedError) and 'missing the required "forward"' in str(error):
            methods = [key for key, value in vars(type(model)).items() if callable(value) and not key.startswith("__")]
            near = difflib.get_close_matches("forward", methods, n=1, cutoff=0.6)
            spelt = f" ({near[0]} is not it: the name must be exactly forward)" if near else ""
            raise LayerError(
                f"{type(model).__name__} has no forward method{spelt}: define def forward(self, x): inside the class, "
                "indented like __init__, and return the output."
            ) from error
        after_layer = f" after {layer_name(model, calls[-1][0], root)}, whose output has shape {calls[-1][2]}" if calls else ""
        raise LayerError(f"the forward pass raised {type(error).__name__}{after_layer}: {error}.") from error
    finally:
        for handle in handles:
            handle.remove()
    return out, [call[0] for call in calls]
