"""Convolution and pooling written from scratch, and the arithmetic around them.

Deep-learning libraries compute a *cross-correlation* and call it a
convolution: the kernel is slid over the image without being flipped. The
functions here follow that convention, so that they agree with
:func:`torch.nn.functional.conv2d` and :func:`torch.nn.functional.max_pool2d`.
"""

from __future__ import annotations

import numpy as np

from .arguments import image_2d, whole_number

IntOrPair = int | tuple[int, int]

__all__ = [
    "conv_output_size",
    "receptive_fields",
    "conv2d",
    "max_pool2d",
    "conv_layer_params",
    "linear_layer_params",
    "sobel_kernel",
]


def _pair(name: str, value: object, minimum: int = 1) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}={value!r} has {len(value)} entries: pass one number or a (height, width) pair.")
        return (whole_number(name, value[0], minimum), whole_number(name, value[1], minimum))
    size = whole_number(name, value, minimum)
    return size, size


def conv_output_size(size: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    """Spatial size of a convolution's (or pooling's) output along one axis.

    Implements ``O = floor((h + 2p - f) / s) + 1``.

    Parameters
    ----------
    size : int
        Input height or width ``h``.
    kernel_size : int
        Kernel height or width ``f``.
    padding : int, default 0
        Zeros added on each side ``p``.
    stride : int, default 1
        Step between kernel positions ``s``.

    Returns
    -------
    int
        The output size ``O``.

    Raises
    ------
    TypeError
        If an argument is not a whole number.
    ValueError
        If an argument is out of range or the kernel does not fit in the padded input.

    Examples
    --------
    >>> conv_output_size(7, kernel_size=3, stride=2)
    3
    >>> conv_output_size(28, kernel_size=5)
    24
    """
    size = whole_number("size", size)
    kernel_size = whole_number("kernel_size", kernel_size)
    padding = whole_number("padding", padding, minimum=0)
    stride = whole_number("stride", stride)
    padded = size + 2 * padding
    if kernel_size > padded:
        raise ValueError(
            f"kernel_size={kernel_size} is larger than the padded input ({padded}): use a smaller kernel or more padding."
        )
    return (padded - kernel_size) // stride + 1


def receptive_fields(layers: list[tuple[int, int]]) -> list[int]:
    """Side of the input window that one output pixel depends on, after each layer of a stack.

    Each layer is given as ``(kernel_size, stride)``; convolutions and pooling
    count alike, and padding moves the window without changing its size. One
    pixel after layer ``l`` sees ``r_l = r_{l-1} + (f_l - 1) * j_{l-1}`` input
    pixels along each axis, where ``j_{l-1}``, the product of the strides
    before it, is how far apart neighbouring pixels of layer ``l - 1`` sit on
    the input; ``r_0 = j_0 = 1``.

    Parameters
    ----------
    layers : list of (int, int)
        ``(kernel_size, stride)`` of each layer, from the input on.

    Returns
    -------
    list of int
        The receptive field's side after each layer, in input pixels.

    Raises
    ------
    TypeError
        If ``layers`` is not a list of pairs, or a size is not a whole number.
    ValueError
        If ``layers`` is empty or a size is not positive.

    Examples
    --------
    The network of Exercise 2: 5x5 convolution, 2x2 pooling with stride 2, twice.

    >>> receptive_fields([(5, 1), (2, 2), (5, 1), (2, 2)])
    [5, 6, 14, 16]
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers={layers!r} must be a list of (kernel_size, stride) pairs, for example [(5, 1), (2, 2)].")
    if not layers:
        raise ValueError("layers is empty: pass at least one (kernel_size, stride) pair.")
    sizes, size, jump = [], 1, 1
    for index, layer in enumerate(layers):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise TypeError(f"layers[{index}]={layer!r} is not a (kernel_size, stride) pair: write it as (5, 1).")
        kernel_size = whole_number(f"layers[{index}] kernel_size", layer[0])
        stride = whole_number(f"layers[{index}] stride", layer[1])
        size += (kernel_size - 1) * jump
        jump *= stride
        sizes.append(size)
    return sizes


_MAX_PADDED_PIXELS = 10**8  # 0.8 GB of float64: far beyond any image here, short of exhausting memory


def _prepare(image: object, kernel: object, padding: int, stride: int) -> tuple[np.ndarray, np.ndarray, int]:
    image = image_2d("image", image)
    kernel = image_2d("kernel", kernel)
    padding = whole_number("padding", padding, minimum=0)
    stride = whole_number("stride", stride)
    padded_pixels = (image.shape[0] + 2 * padding) * (image.shape[1] + 2 * padding)
    if padded_pixels > _MAX_PADDED_PIXELS:
        raise ValueError(
            f"padding={padding} would turn the {image.shape[0]}x{image.shape[1]} image into {padded_pixels:,} pixels "
            f"({padded_pixels * 8 / 1e9:,.0f} GB), almost all zeros: use a padding of at most the kernel size - 1."
        )
    for axis, name in enumerate(("height", "width")):
        padded = image.shape[axis] + 2 * padding
        if kernel.shape[axis] > padded:
            raise ValueError(
                f"kernel {name} {kernel.shape[axis]} is larger than the padded image {name} ({padded}): "
                "use a smaller kernel or more padding."
            )
    return np.pad(image, padding), kernel, stride


def conv2d(image: np.ndarray, kernel: np.ndarray, padding: int = 0, stride: int = 1) -> np.ndarray:
    """2-D convolution without Python loops: slide ``kernel`` over the zero-padded ``image``, multiply and add.

    Every kernel-sized window of the padded image is viewed at once (no copy)
    with :func:`numpy.lib.stride_tricks.sliding_window_view`, every ``stride``-th
    window is kept, and each is multiplied with the kernel and summed.

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor
        A 2-D array (height, width) of numbers.
    kernel : numpy.ndarray or torch.Tensor
        A 2-D array (kernel height, kernel width).
    padding : int, default 0
        Zeros added on each side of the image.
    stride : int, default 1
        Step between kernel positions, in both directions.

    Returns
    -------
    numpy.ndarray
        The float64 result, of size ``conv_output_size`` along each axis.

    Raises
    ------
    TypeError
        If ``image`` or ``kernel`` is not a numeric array, or an argument is not a whole number.
    ValueError
        If ``image`` or ``kernel`` is not 2-D, or the kernel is larger than the padded image.

    Examples
    --------
    >>> conv2d(np.arange(16).reshape(4, 4), np.ones((3, 3)), padding=1, stride=2)
    array([[10., 24.],
           [51., 90.]])
    """
    padded, kernel, stride = _prepare(image, kernel, padding, stride)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, kernel)


def max_pool2d(image: np.ndarray, kernel_size: IntOrPair, stride: IntOrPair | None = None) -> np.ndarray:
    """2-D max-pooling: the largest number in each window.

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor
        A 2-D array (height, width).
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; by default the window size, so windows do not overlap
        (PyTorch's default too).

    Returns
    -------
    numpy.ndarray
        The float64 result.

    Raises
    ------
    TypeError
        If ``image`` is not a numeric array or a size is not a whole number.
    ValueError
        If ``image`` is not 2-D or the window is larger than the image.

    Examples
    --------
    >>> max_pool2d(np.arange(16).reshape(4, 4), kernel_size=2)
    array([[ 5.,  7.],
           [13., 15.]])
    """
    image = image_2d("image", image)
    kh, kw = _pair("kernel_size", kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair("stride", stride)
    if kh > image.shape[0] or kw > image.shape[1]:
        raise ValueError(f"kernel_size={(kh, kw)} is larger than the image {image.shape}: use a smaller pooling window.")
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))[::sh, ::sw]
    return windows.max(axis=(2, 3))


def _bias(bias: object) -> int:
    """``bias`` as 1 (one bias per filter or unit) or 0, or a TypeError that names it: True or False only."""
    if isinstance(bias, (bool, np.bool_)):
        return int(bias)
    raise TypeError(
        f"bias={bias!r} is not True or False: pass bias=True (one bias per output channel or unit, PyTorch's "
        "default) or bias=False (none)."
    )


def conv_layer_params(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> int:
    """Number of learnable numbers in a 2-D convolutional layer.

    Each of the ``out_channels`` filters is ``kernel_size x kernel_size x in_channels``
    weights plus one bias. The count does not depend on the image size: the
    same filters are used at every position (parameter sharing).

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive whole number, or ``bias`` is not True or False.

    Examples
    --------
    >>> conv_layer_params(in_channels=3, out_channels=2, kernel_size=3)
    56
    """
    in_channels = whole_number("in_channels", in_channels)
    out_channels = whole_number("out_channels", out_channels)
    kernel_size = whole_number("kernel_size", kernel_size)
    return out_channels * (in_channels * kernel_size**2 + _bias(bias))


def linear_layer_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Number of learnable numbers in a fully connected (linear) layer.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive whole number, or ``bias`` is not True or False.

    Examples
    --------
    >>> linear_layer_params(in_features=784, out_features=10)
    7850
    """
    in_features = whole_number("in_features", in_features)
    out_features = whole_number("out_features", out_features)
    return out_features * (in_features + _bias(bias))


def sobel_kernel(direction: str = "x") -> np.ndarray:
    """The 3x3 Sobel kernel, a hand-made edge detector.

    Parameters
    ----------
    direction : {"x", "y"}
        ``"x"`` responds to intensity changing from left to right (vertical
        edges), ``"y"`` to changes from top to bottom (horizontal edges).

    Raises
    ------
    ValueError
        If ``direction`` is neither ``"x"`` nor ``"y"``.

    Examples
    --------
    >>> sobel_kernel("x")
    array([[-1,  0,  1],
           [-2,  0,  2],
           [-1,  0,  1]])
    """
    kernel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    if direction == "x":
        return kernel
    if direction == "y":
        return kernel.T.copy()
    raise ValueError(f"direction={direction!r} is not a Sobel direction: use 'x' or 'y'.")
