"""A real brain MRI slice for the convolution examples, read offline.

The image is the MNI152 T1-weighted template that ships inside nilearn, so no
download is needed.
"""

from __future__ import annotations

import numpy as np

from .arguments import whole_number
from .conv import conv2d

__all__ = ["brain_slice", "strongest_edge_patch"]


def brain_slice(z: int = 90) -> np.ndarray:
    """One axial slice of the MNI152 T1 template as 0-255 integers.

    Parameters
    ----------
    z : int, default 90
        Slice index from the bottom of the head (0-188); 90 passes through
        the lateral ventricles.

    Returns
    -------
    numpy.ndarray
        uint8 array (233, 197), oriented with the front of the head at the top.

    Raises
    ------
    ValueError
        If ``z`` is outside the volume.
    """
    from nilearn.datasets import load_mni152_template

    volume = load_mni152_template().get_fdata()
    if isinstance(z, bool) or not isinstance(z, (int, np.integer)) or not 0 <= z < volume.shape[2]:
        raise ValueError(f"z={z!r} is outside the volume: pick a slice between 0 and {volume.shape[2] - 1}.")
    image = np.rot90(volume[:, :, z])  # voxel axes (x, y) -> rows from front to back
    scaled = 255 * (image - image.min()) / (image.max() - image.min())
    return np.round(scaled).astype(np.uint8)


def strongest_edge_patch(image: np.ndarray, size: int = 7, kernel: np.ndarray | None = None) -> tuple[int, int]:
    """Top-left corner of the ``size x size`` patch centred on the sharpest edge.

    The edge strength is the absolute response to ``kernel`` (by default the
    horizontal Sobel kernel), so the chosen patch shows a clear change in intensity.

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D image.
    size : int, default 7
        Side of the patch.
    kernel : numpy.ndarray, optional
        Edge detector; by default :func:`cnnlab.conv.sobel_kernel`.

    Returns
    -------
    (row, col)
        So that ``image[row:row + size, col:col + size]`` is the patch.

    Raises
    ------
    ValueError
        If the patch does not fit in the image.
    """
    from .conv import sobel_kernel

    size = whole_number("size", size)
    if size > min(image.shape[:2]):
        raise ValueError(f"size={size} is larger than the image {image.shape}: use a smaller patch.")
    kernel = sobel_kernel("x") if kernel is None else kernel
    response = np.abs(conv2d(image, kernel, padding=kernel.shape[0] // 2))
    half = size // 2
    # Only centres whose whole patch lies inside the image.
    inner = response[half : image.shape[0] - (size - half) + 1, half : image.shape[1] - (size - half) + 1]
    row, col = np.unravel_index(np.argmax(inner), inner.shape)
    return int(row), int(col)
