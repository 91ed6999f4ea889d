"""Checks of the arguments the helpers share: whole numbers and 2-D images, with errors that say what to pass."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["image_2d", "whole_number"]


def whole_number(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int (numpy integers too), or a TypeError or ValueError that names ``name``.

    Examples
    --------
    >>> whole_number("stride", np.int64(2))
    2
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} is a {type(value).__name__}: pass a whole number.")
    if value < minimum:
        word = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name}={value} must be {word}: use a whole number >= {minimum}.")
    return int(value)


def image_2d(name: str, value: object) -> np.ndarray:
    """``value`` as a 2-D float64 array, or a TypeError or ValueError that names ``name`` and says what to pass.

    Examples
    --------
    >>> image_2d("kernel", torch.ones(2, 2)).dtype
    dtype('float64')
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        # NumPy has no bfloat16 or float16 arithmetic of its own: compute in float32.
        value = (value.float() if value.dtype in (torch.bfloat16, torch.float16) else value).numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} is a {type(value).__name__}: pass a 2-D numpy array or torch tensor.")
    if value.ndim != 2:
        raise ValueError(
            f"{name} has shape {value.shape} ({value.ndim}-D) but must be 2-D (height, width): "
            "select one channel of one image, for example image[0, 0]."
        )
    if value.dtype == bool or not (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)):
        raise TypeError(f"{name} has dtype {value.dtype}: pass an array of integers or floats.")
    if value.size == 0:
        raise ValueError(f"{name} has shape {value.shape}, no numbers at all: pass at least a 1x1 array.")
    return value.astype(np.float64)
