"""Tests of cnnlab.diagrams: what each figure draws, not how it looks."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

from cnnlab import conv, diagrams


def texts(ax):
    return [text.get_text() for text in ax.texts]


def test_number_grid_writes_every_value():
    fig, ax = plt.subplots()
    values = np.array([[0, 255], [-1.5, 7]])
    diagrams.draw_number_grid(ax, values, "title", highlight=(0, 0, 1, 2))
    assert texts(ax) == ["0", "255", "-1.5", "7"]
    assert ax.get_title() == "title"
    outlines = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(outlines) == 1 and outlines[0].get_width() == 2


def test_number_grid_text_contrasts_with_cell():
    fig, ax = plt.subplots()
    diagrams.draw_number_grid(ax, np.array([[0, 255]]), vmin=0, vmax=255)
    colours = [text.get_color() for text in ax.texts]
    assert colours == ["white", "black"]


def test_number_grid_rejects_non_2d():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="values has shape"):
        diagrams.draw_number_grid(ax, np.zeros(3))


def test_convolution_figure_shows_patch_kernel_and_result():
    patch = np.arange(36).reshape(6, 6)
    kernel = conv.sobel_kernel()
    result = conv.conv2d(patch, kernel)
    fig = diagrams.convolution_figure(patch, kernel, result)
    patch_ax, kernel_ax, result_ax = fig.axes[:3]
    assert len(texts(patch_ax)) == 36 and len(texts(kernel_ax)) == 9 and len(texts(result_ax)) == 16
    assert texts(result_ax)[0] == f"{result[0, 0]:.0f}"


def test_padding_figure_counts_zeros_and_output():
    fig = diagrams.padding_figure(size=5, padding=1, kernel_size=3)
    padded_ax, output_ax = fig.axes
    labels = texts(padded_ax)
    assert labels.count("0") == 7 * 7 - 25 and labels.count("x") == 25
    assert output_ax.get_title() == "5x5 output"


def test_stride_figure_numbers_every_position():
    fig = diagrams.stride_figure(size=7, kernel_size=3, stride=2)
    input_ax, output_ax = fig.axes
    assert texts(output_ax) == [str(i) for i in range(1, 10)]
    assert len([p for p in input_ax.patches if isinstance(p, Rectangle)]) == 9


def test_stride_figure_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="larger than the padded input"):
        diagrams.stride_figure(size=2, kernel_size=3)


def test_layer_order_figure_draws_each_layer():
    fig = diagrams.layer_order_figure({"a": ["conv", "relu"], "b": ["conv", "batchnorm", "relu"]})
    words = texts(fig.axes[0])
    assert words.count("conv") == 2 and words.count("relu") == 2 and "batchnorm" in words
    assert {"a", "b"} <= set(words)


@pytest.mark.parametrize(
    ("orderings", "message"),
    [({}, "orderings is empty"), ({"x": []}, "ordering 'x' has no layers")],
)
def test_layer_order_figure_errors(orderings, message):
    with pytest.raises(ValueError, match=message):
        diagrams.layer_order_figure(orderings)


def test_stack_figure_labels_each_stage_with_its_shape():
    fig = diagrams.stack_figure([("input", 1, 28), ("conv1", 10, 24), ("fc", 50, 0)])
    words = texts(fig.axes[0])
    assert words == ["input\n1x28x28", "conv1\n10x24x24", "fc\n50"]
    sheets = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(sheets) == 1 + 8 + 1  # the input, 10 maps shown as 8 sheets, the fully connected bar


@pytest.mark.parametrize(
    ("layers", "message"),
    [([], "layers is empty"), ([("conv", 0, 5)], "stage 'conv' has channels=0")],
)
def test_stack_figure_errors(layers, message):
    with pytest.raises(ValueError, match=message):
        diagrams.stack_figure(layers)


def test_filter_volume_figure_states_the_shapes():
    fig = diagrams.filter_volume_figure(size=6, channels=3, kernel_size=3, filters=2)
    words = texts(fig.axes[0])
    assert "input: 3 channels of 6x6\nfilter: 3x3x3 (red, through every channel)" in words
    assert "output: 2 maps of 4x4,\none per filter" in words
    red = [p for p in fig.axes[0].patches if p.get_edgecolor()[:3] == to_rgb("tab:red")]
    assert len(red) == 3 + 1  # the window on each input channel, and the output pixel


def test_filter_volume_figure_errors():
    with pytest.raises(ValueError, match="larger than the padded input"):
        diagrams.filter_volume_figure(size=2, kernel_size=3)
    with pytest.raises(ValueError, match="channels=0 and filters=2 must both be positive"):
        diagrams.filter_volume_figure(channels=0)
