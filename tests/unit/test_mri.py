"""Tests of cnnlab.mri on the MNI152 template shipped with nilearn."""

import numpy as np
import pytest

from cnnlab import conv, mri


@pytest.fixture(scope="module")
def image():
    return mri.brain_slice()


def test_brain_slice_is_a_full_range_uint8_image(image):
    assert image.dtype == np.uint8
    assert image.shape == (233, 197)
    assert image.min() == 0 and image.max() == 255
    # The head fills a good part of the slice, and the corners are background.
    assert 0.2 < (image > 20).mean() < 0.8
    assert image[0, 0] == 0


@pytest.mark.parametrize("z", [-1, 189, 2.5, True])
def test_brain_slice_rejects_slices_outside_the_volume(z):
    with pytest.raises(ValueError, match=f"z={z!r} is outside the volume: pick a slice between 0 and 188"):
        mri.brain_slice(z)


def test_strongest_edge_patch_finds_the_largest_response(image):
    row, col = mri.strongest_edge_patch(image, size=6)
    patch = image[row : row + 6, col : col + 6]
    assert patch.shape == (6, 6)
    strongest = np.abs(conv.conv2d(patch, conv.sobel_kernel())).max()
    everywhere = np.abs(conv.conv2d(image, conv.sobel_kernel())).max()
    assert strongest == everywhere


def test_strongest_edge_patch_on_a_synthetic_step():
    step = np.zeros((20, 20))
    step[:, 12:] = 200
    row, col = mri.strongest_edge_patch(step, size=5)
    assert col + 2 in (11, 12)  # the patch centre sits on the step


def test_strongest_edge_patch_rejects_large_patches():
    with pytest.raises(ValueError, match=r"size=9 is larger than the image \(5, 5\): use a smaller patch"):
        mri.strongest_edge_patch(np.zeros((5, 5)), size=9)
