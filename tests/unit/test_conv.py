"""Unit and property tests of cnnlab.conv against worked examples and PyTorch."""

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import conv

CASES = settings(max_examples=250, deadline=None)


def torch_conv(image, kernel, padding, stride):
    x = torch.tensor(image, dtype=torch.float64)[None, None]
    w = torch.tensor(kernel, dtype=torch.float64)[None, None]
    return F.conv2d(x, w, padding=padding, stride=stride)[0, 0].numpy()


@st.composite
def conv_problem(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    padding = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, kh - 2 * padding), 12))
    w = draw(st.integers(max(1, kw - 2 * padding), 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), padding, stride


@CASES
@given(conv_problem())
def test_conv2d_matches_pytorch(problem):
    image, kernel, padding, stride = problem
    expected = torch_conv(image, kernel, padding, stride)
    np.testing.assert_allclose(conv.conv2d(image, kernel, padding, stride), expected, atol=1e-10)


@CASES
@given(
    size=st.integers(1, 64),
    kernel_size=st.integers(1, 9),
    padding=st.integers(0, 4),
    stride=st.integers(1, 5),
)
def test_output_size_matches_pytorch(size, kernel_size, padding, stride):
    if kernel_size > size + 2 * padding:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv.conv_output_size(size, kernel_size, padding, stride)
        return
    layer = nn.Conv2d(1, 1, kernel_size, stride=stride, padding=padding)
    with torch.no_grad():
        expected = layer(torch.zeros(1, 1, size, 1 + 2 * kernel_size)).shape[2]
    assert conv.conv_output_size(size, kernel_size, padding, stride) == expected


@CASES
@given(
    h=st.integers(1, 16),
    w=st.integers(1, 16),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_pool2d_matches_pytorch(h, w, kh, kw, sh, sw, seed):
    if kh > h or kw > w:
        return
    image = np.random.default_rng(seed).normal(size=(h, w))
    expected = F.max_pool2d(torch.tensor(image)[None, None], (kh, kw), stride=(sh, sw))[0, 0].numpy()
    np.testing.assert_array_equal(conv.max_pool2d(image, (kh, kw), (sh, sw)), expected)


def test_worked_example_by_hand():
    # One window of the book's example, multiplied and summed by hand.
    image = np.array([[0, 0, 117], [0, 0, 131], [0, 0, 144]])
    expected = -1 * 0 + 0 * 0 + 1 * 117 + -2 * 0 + 0 * 0 + 2 * 131 + -1 * 0 + 0 * 0 + 1 * 144
    assert conv.conv2d(image, conv.sobel_kernel("x"))[0, 0] == expected == 523


def test_convolution_accepts_tensors_and_integers():
    image = torch.arange(16).reshape(4, 4)
    result = conv.conv2d(image, np.ones((2, 2), dtype=np.int64))
    assert result.dtype == np.float64
    assert result[0, 0] == 0 + 1 + 4 + 5


def test_padding_keeps_size_for_odd_kernel():
    assert conv.conv2d(np.ones((6, 6)), np.ones((3, 3)), padding=1).shape == (6, 6)


def test_max_pool_default_stride_is_window():
    assert conv.max_pool2d(np.zeros((6, 4)), kernel_size=(3, 2)).shape == (2, 2)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((np.zeros((2, 2, 2)), np.ones((1, 1))), ValueError, r"image has shape \(2, 2, 2\) \(3-D\) but must be 2-D"),
        ((np.zeros(4), np.ones((1, 1))), ValueError, "image has shape .* must be 2-D"),
        ((np.zeros((4, 4)), np.ones(3)), ValueError, "kernel has shape"),
        (([[1, 2], [3, 4]], np.ones((1, 1))), TypeError, "image is a list: pass a 2-D numpy array"),
        ((np.zeros((4, 4), dtype=bool), np.ones((1, 1))), TypeError, "image has dtype bool"),
        ((np.array([["a"]]), np.ones((1, 1))), TypeError, "image has dtype <U1"),
        ((np.zeros((3, 3)), np.ones((5, 5))), ValueError, r"kernel height 5 is larger than the padded image height \(3\)"),
        ((np.zeros((5, 3)), np.ones((3, 5))), ValueError, r"kernel width 5 is larger than the padded image width \(3\)"),
    ],
)
def test_convolution_errors(args, error, message):
    with pytest.raises(error, match=message):
        conv.conv2d(*args)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"stride": 0}, ValueError, "stride=0 must be positive"),
        ({"stride": -1}, ValueError, "stride=-1 must be positive"),
        ({"stride": 1.5}, TypeError, "stride=1.5 is a float: pass a whole number"),
        ({"padding": -1}, ValueError, "padding=-1 must be non-negative"),
        ({"padding": True}, TypeError, "padding=True is a bool"),
    ],
)
def test_convolution_argument_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        conv.conv2d(np.zeros((4, 4)), np.ones((3, 3)), **kwargs)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((4, 7), ValueError, r"kernel_size=7 is larger than the padded input \(4\): use a smaller kernel or more padding"),
        ((0, 1), ValueError, "size=0 must be positive"),
        ((5, 3, 0, 0), ValueError, "stride=0 must be positive"),
        ((5, 3, -2), ValueError, "padding=-2 must be non-negative"),
        ((5.0, 3), TypeError, "size=5.0 is a float"),
        ((5, "3"), TypeError, "kernel_size='3' is a str"),
    ],
)
def test_output_size_errors(args, error, message):
    with pytest.raises(error, match=message):
        conv.conv_output_size(*args)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kernel_size": 5}, ValueError, r"kernel_size=\(5, 5\) is larger than the image \(4, 4\)"),
        ({"kernel_size": (2, 2, 2)}, ValueError, r"kernel_size=\(2, 2, 2\) has 3 entries"),
        ({"kernel_size": 2, "stride": 0}, ValueError, "stride=0 must be positive"),
        ({"kernel_size": 0}, ValueError, "kernel_size=0 must be positive"),
    ],
)
def test_max_pool_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        conv.max_pool2d(np.zeros((4, 4)), **kwargs)


def test_parameter_counts_match_pytorch():
    layer = nn.Conv2d(3, 2, kernel_size=3)
    assert conv.conv_layer_params(3, 2, 3) == sum(p.numel() for p in layer.parameters())
    assert conv.conv_layer_params(3, 2, 3, bias=False) == 54
    dense = nn.Linear(320, 50)
    assert conv.linear_layer_params(320, 50) == sum(p.numel() for p in dense.parameters())
    assert conv.linear_layer_params(320, 50, bias=False) == 16000


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        (conv.conv_layer_params, (0, 2, 3), "in_channels=0 must be positive"),
        (conv.conv_layer_params, (3, 0, 3), "out_channels=0 must be positive"),
        (conv.linear_layer_params, (10, -1), "out_features=-1 must be positive"),
    ],
)
def test_parameter_count_errors(function, args, message):
    with pytest.raises(ValueError, match=message):
        function(*args)


def test_sobel_kernels():
    sobel_x, sobel_y = conv.sobel_kernel("x"), conv.sobel_kernel("y")
    np.testing.assert_array_equal(sobel_y, sobel_x.T)
    ramp = np.tile(np.arange(5), (5, 1))  # brighter to the right
    assert (conv.conv2d(ramp, sobel_x) > 0).all()
    assert (conv.conv2d(ramp, sobel_y) == 0).all()
    with pytest.raises(ValueError, match="direction='z' is not a Sobel direction: use 'x' or 'y'"):
        conv.sobel_kernel("z")


def test_empty_kernel_is_refused():
    with pytest.raises(ValueError, match=r"kernel has shape \(0, 0\), no numbers at all: pass at least a 1x1 array"):
        conv.conv2d(np.ones((4, 4)), np.zeros((0, 0)))


def _input_window(layers, size: int) -> int:
    """Side of the input region that the centre output pixel of ``layers`` depends on, found by autograd."""
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = x
    for kernel_size, stride in layers:
        # Average pooling has the geometry of max-pooling, and a gradient on every pixel of its window.
        out = F.avg_pool2d(out, kernel_size, stride)
    centre = out.shape[-1] // 2
    out[0, 0, centre, centre].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(
    "layers",
    [[(5, 1), (2, 2), (5, 1), (2, 2)], [(3, 1)], [(3, 2), (3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 1)], [(1, 1), (2, 2)]],
)
def test_receptive_fields_match_what_autograd_sees(layers):
    sizes = conv.receptive_fields(layers)
    assert sizes[-1] == _input_window(layers, size=64)
    assert sizes == [conv.receptive_fields(layers[: i + 1])[-1] for i in range(len(layers))]


@pytest.mark.parametrize(
    ("layers", "error", "message"),
    [
        ([], ValueError, "layers is empty"),
        ("55", TypeError, r"layers='55' must be a list of \(kernel_size, stride\) pairs"),
        ([(5, 1), 3], TypeError, r"layers\[1\]=3 is not a \(kernel_size, stride\) pair"),
        ([(5, 0)], ValueError, r"layers\[0\] stride=0 must be positive"),
        ([(2.5, 1)], TypeError, r"layers\[0\] kernel_size=2.5 is a float"),
    ],
)
def test_receptive_fields_refuse_bad_layers(layers, error, message):
    with pytest.raises(error, match=message):
        conv.receptive_fields(layers)


@pytest.mark.parametrize("function", [conv.conv_layer_params, conv.linear_layer_params])
@pytest.mark.parametrize("bias", ["no", None, 1, "False"])
def test_parameter_counts_take_bias_as_true_or_false(function, bias):
    with pytest.raises(TypeError, match=rf"bias={bias!r} is not True or False: pass bias=True .* or bias=False"):
        function(3, 2, 3, bias=bias) if function is conv.conv_layer_params else function(3, 2, bias=bias)


def test_parameter_counts_accept_numpy_booleans():
    assert conv.conv_layer_params(3, 2, 3, bias=np.bool_(False)) == 54
    assert conv.linear_layer_params(320, 50, bias=np.bool_(True)) == 16050


@pytest.mark.parametrize(
    ("shape", "padding", "message"),
    [
        # (10 + 2 * 100000) x (20 + 2 * 100000) pixels: the count and its size name both sides of the padded image.
        ((10, 20), 10**5, r"padding=100000 would turn the 10x20 image into 40,006,000,200 pixels \(320 GB\)"),
        # Just over the limit of 10**8 pixels: 10,003 x 10,003.
        ((1, 1), 5001, r"padding=5001 would turn the 1x1 image into 100,060,009 pixels \(1 GB\), almost all zeros"),
    ],
)
def test_huge_padding_is_refused_before_any_memory_is_used(shape, padding, message):
    with pytest.raises(ValueError, match=message + r".*use a padding of at most the kernel size - 1"):
        conv.conv2d(np.ones(shape), np.ones((1, 1)), padding=padding)


@pytest.mark.parametrize(("shape", "kernel_size"), [((4, 6), (5, 2)), ((6, 4), (2, 5)), ((4, 4), (1, 5))])
def test_a_pooling_window_too_big_in_one_direction_is_named(shape, kernel_size):
    with pytest.raises(ValueError, match=rf"kernel_size={re.escape(str(kernel_size))} is larger than the image"):
        conv.max_pool2d(np.zeros(shape), kernel_size=kernel_size)


@pytest.mark.parametrize(
    "function", [conv.conv_output_size, lambda *args: conv.conv2d(np.zeros((5, 5)), np.ones((3, 3)), *args[2:])]
)
def test_padding_minus_one_is_refused(function):
    with pytest.raises(ValueError, match="padding=-1 must be non-negative: use a whole number >= 0"):
        function(5, 3, -1)
