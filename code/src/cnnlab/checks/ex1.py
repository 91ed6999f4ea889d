"""Self-checks of Exercise 1: a convolutional layer and two max-pooling layers.

Each check applies the student's layer to an input of the exercise's shape
and compares the result with the layer the task asks for; when they differ,
the layer's settings say why.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import Passed, fail, require_module, self_check

__all__ = ["check_conv_layer", "check_padded_conv_layer", "check_pool_3x3", "check_pool_4x2"]

IMAGE_SIZE = 100


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _check_weights(layer: nn.Module, name: str, task: str) -> None:
    """The layer's weights are float32 numbers on a real device, like the images it gets."""
    for weight in layer.parameters():
        if weight.device.type == "meta":
            fail(task, f"{name} has weights on the 'meta' device, which hold no numbers: create the layer without device='meta'.")
        if weight.dtype != torch.float32:
            fail(
                task,
                f"{name} has {weight.dtype} weights, but the images are float32: create the layer without dtype=..., "
                "or call .float() on it.",
            )


def _check_conv(operation, padding: int, task: str) -> None:
    example = f"nn.Conv2d(in_channels=3, out_channels=2, kernel_size=3{', padding=1' if padding else ''})"
    require_module(operation, nn.Conv2d, "operation", task, example)
    if operation.in_channels != 3:
        fail(task, f"operation has in_channels={operation.in_channels} but the image has 3 channels (shape 1x3x100x100).")
    if operation.out_channels != 2:
        fail(task, f"operation has out_channels={operation.out_channels} but the task asks for 2 output channels.")
    if tuple(operation.kernel_size) != (3, 3):
        fail(task, f"operation has kernel_size={tuple(operation.kernel_size)} but the task asks for 3x3: kernel_size=3.")
    if tuple(operation.stride) != (1, 1):
        fail(task, f"operation has stride={tuple(operation.stride)}: keep the default stride of 1.")
    if tuple(operation.dilation) != (1, 1):
        fail(
            task,
            f"operation has dilation={tuple(operation.dilation)}, which spreads the 3x3 kernel over a wider window "
            "with gaps: keep PyTorch's default, dilation=1, so that the kernel covers 3x3 neighbouring pixels.",
        )
    if operation.groups != 1:
        fail(
            task,
            f"operation has groups={operation.groups}, so each filter sees only some of the image's channels: keep "
            "PyTorch's default, groups=1, so that every filter sees all 3 channels.",
        )
    if operation.bias is None:
        fail(task, "operation has no bias (bias=False): keep the default, one bias per filter.")
    _check_weights(operation, "operation", task)
    with torch.no_grad():
        size = operation(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)).shape[-2:]
    expected = IMAGE_SIZE - 2 + 2 * padding
    if tuple(size) != (expected, expected):
        padding_shown = operation.padding[0] if operation.padding in ((0, 0), (1, 1), (2, 2), (3, 3)) else operation.padding
        found = f"operation has padding={padding_shown}, so a 100x100 image becomes {size[0]}x{size[1]}"
        if padding:
            fail(task, f"{found}: padding=1 keeps 100x100 for a 3x3 kernel.")
        fail(task, f"{found}: start without padding (it comes a few cells later).")


@self_check("1.1", "your layer, operation")
def check_conv_layer(operation) -> Passed:
    """Ex 1.1: a Conv2d with 3 input channels, 2 output channels, a 3x3 kernel, stride 1, no padding.

    Examples
    --------
    >>> check_conv_layer(nn.Conv2d(3, 2, 3))
    ✓ Task 1.1: a 3 -> 2 channel convolution with a 3x3 kernel.
    """
    _check_conv(operation, 0, "1.1")
    return Passed("1.1", "a 3 -> 2 channel convolution with a 3x3 kernel.")


@self_check("1.1 (padding)", "your layer, operation")
def check_padded_conv_layer(operation) -> Passed:
    """Ex 1.1, second part: the same convolution with padding 1, which keeps 100x100."""
    _check_conv(operation, 1, "1.1 (padding)")
    return Passed("1.1 (padding)", "padding=1 keeps the 100x100 size.")


def _check_pool(maxpoolop, kernel: tuple[int, int], stride: int, task: str) -> tuple[int, int]:
    example = f"nn.MaxPool2d(kernel_size={kernel if kernel[0] != kernel[1] else kernel[0]}, stride={stride})"
    require_module(maxpoolop, nn.MaxPool2d, "maxpoolop", task, example)
    if maxpoolop.return_indices:
        fail(task, "maxpoolop has return_indices=True, so it returns two tensors: keep the default, one pooled tensor.")
    images = torch.rand(5, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        found, expected = maxpoolop(images), F.max_pool2d(images, kernel, stride)
    if found.shape == expected.shape and torch.equal(found, expected):
        return tuple(found.shape[-2:])
    found_kernel, found_stride = _pair(maxpoolop.kernel_size), _pair(maxpoolop.stride)
    if found_kernel == kernel[::-1] and kernel[0] != kernel[1]:
        fail(
            task,
            f"maxpoolop has kernel_size={found_kernel}, height and width swapped: the window is "
            f"{kernel[0]} tall and {kernel[1]} wide, kernel_size={kernel}.",
        )
    if found_kernel != kernel:
        fail(task, f"maxpoolop has kernel_size={found_kernel} but the task asks for {kernel[0]}x{kernel[1]}.")
    if found_stride != (stride, stride):
        default = " (PyTorch's default stride is the kernel size)" if found_stride == found_kernel else ""
        fail(task, f"maxpoolop has stride={found_stride}{default} but the task asks for stride={stride}.")
    if _pair(maxpoolop.padding) != (0, 0):
        fail(
            task,
            f"maxpoolop has padding={maxpoolop.padding}, so 100x100 images become {found.shape[-2]}x{found.shape[-1]} "
            f"instead of {expected.shape[-2]}x{expected.shape[-1]}: pool without padding.",
        )
    fail(task, f"maxpoolop gives {tuple(found.shape)} where the task's pooling gives {tuple(expected.shape)}: keep dilation=1.")


@self_check("1.2.1", "your pooling layer, maxpoolop")
def check_pool_3x3(maxpoolop) -> Passed:
    """Ex 1.2.1: max-pooling with a 3x3 window and stride 1."""
    height, width = _check_pool(maxpoolop, (3, 3), 1, "1.2.1")
    return Passed("1.2.1", f"3x3 max-pooling with stride 1 turns 100x100 into {height}x{width}.")


@self_check("1.2.2", "your pooling layer, maxpoolop")
def check_pool_4x2(maxpoolop) -> Passed:
    """Ex 1.2.2: max-pooling with a 4x2 window and stride 2."""
    height, width = _check_pool(maxpoolop, (4, 2), 2, "1.2.2")
    return Passed("1.2.2", f"4x2 max-pooling with stride 2 turns 100x100 into {height}x{width}.")
