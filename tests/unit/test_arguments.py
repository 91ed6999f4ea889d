"""Tests of cnnlab.arguments: what the shared checks accept, and the errors that name the argument."""

import numpy as np
import pytest
import torch

from cnnlab import arguments


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_whole_numbers_of_any_integer_type(value):
    assert arguments.whole_number("size", value) == 3 and type(arguments.whole_number("size", value)) is int


@pytest.mark.parametrize(
    ("value", "minimum", "error", "message"),
    [
        (2.0, 1, TypeError, r"size=2\.0 is a float: pass a whole number"),
        (True, 1, TypeError, "size=True is a bool"),
        (0, 1, ValueError, "size=0 must be positive: use a whole number >= 1"),
        (-1, 0, ValueError, "size=-1 must be non-negative: use a whole number >= 0"),
    ],
)
def test_whole_number_errors(value, minimum, error, message):
    with pytest.raises(error, match=message):
        arguments.whole_number("size", value, minimum)


def test_image_2d_converts_tensors_and_integers():
    image = arguments.image_2d("image", torch.arange(4).reshape(2, 2))
    assert image.dtype == np.float64 and image.tolist() == [[0, 1], [2, 3]]


def test_image_2d_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"patch has shape \(1, 2, 2\) \(3-D\) but must be 2-D"):
        arguments.image_2d("patch", np.zeros((1, 2, 2)))
    with pytest.raises(TypeError, match="patch is a list"):
        arguments.image_2d("patch", [[1]])
