"""Diagrams of the operations in the theory chapters, drawn with matplotlib.

Each function returns a :class:`matplotlib.figure.Figure` and shows nothing,
so a chapter decides where it goes and a test can inspect it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from .conv import _as_image, conv_output_size

__all__ = ["draw_number_grid", "convolution_figure", "padding_figure", "stride_figure", "layer_order_figure"]


def _outline_cells(ax: Axes) -> None:
    """Thin lines between the cells of an image drawn with ``imshow``, and no ticks."""
    ax.set_xticks(np.arange(-0.5, ax.get_xlim()[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, ax.get_ylim()[0], 1), minor=True)
    ax.grid(which="minor", color="0.55", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)


def draw_number_grid(
    ax: Axes,
    values: np.ndarray,
    title: str = "",
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    highlight: tuple[int, int, int, int] | None = None,
) -> Axes:
    """Draw a 2-D array as coloured cells with each cell's number written in it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    values : numpy.ndarray
        A 2-D array of numbers.
    title : str
        Title above the grid.
    cmap, vmin, vmax
        Colour map and its limits.
    highlight : (row, col, height, width), optional
        A rectangle of cells to outline, such as the kernel's current position.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError, TypeError
        If ``values`` is not a 2-D numeric array.
    """
    grid = _as_image("values", values)
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax)
    for (row, col), value in np.ndenumerate(grid):
        red, green, blue, _ = image.cmap(image.norm(value))
        colour = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
        ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=9)
    _outline_cells(ax)
    if highlight is not None:
        row, col, height, width = highlight
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False, edgecolor="tab:red", linewidth=2.5))
    ax.set_title(title)
    return ax


def convolution_figure(patch: np.ndarray, kernel: np.ndarray, result: np.ndarray) -> Figure:
    """Image patch, kernel and result side by side, every number visible.

    The first kernel position is outlined on the patch and its output cell on
    the result, so the reader can redo one multiply-and-sum by hand.
    """
    fig, axes = plt.subplots(1, 3, figsize=(11, 4), gridspec_kw={"width_ratios": [patch.shape[1], 4, result.shape[1]]})
    kh, kw = np.shape(kernel)
    draw_number_grid(axes[0], patch, "image patch (0-255)", vmin=0, vmax=255, highlight=(0, 0, kh, kw))
    limit = np.abs(kernel).max()
    draw_number_grid(axes[1], kernel, "Sobel kernel", cmap="RdBu_r", vmin=-limit, vmax=limit)
    limit = max(np.abs(result).max(), 1)
    draw_number_grid(axes[2], result, "result", cmap="RdBu_r", vmin=-limit, vmax=limit, highlight=(0, 0, 1, 1))
    fig.tight_layout()
    return fig


def padding_figure(size: int = 5, padding: int = 1, kernel_size: int = 3) -> Figure:
    """A ``size x size`` input surrounded by ``padding`` rings of zeros, and the output it gives.

    Raises
    ------
    ValueError
        If the sizes are invalid (see :func:`cnnlab.conv.conv_output_size`).
    """
    out = conv_output_size(size, kernel_size, padding=padding)
    padded = np.zeros((size + 2 * padding,) * 2)
    padded[padding : padding + size, padding : padding + size] = 1
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [len(padded), max(out, 1)]})
    axes[0].imshow(padded, cmap="Blues", vmin=-0.3, vmax=1.6)
    for (row, col), value in np.ndenumerate(padded):
        axes[0].text(col, row, "0" if value == 0 else "x", ha="center", va="center", fontsize=10)
    axes[0].add_patch(Rectangle((-0.5, -0.5), kernel_size, kernel_size, fill=False, edgecolor="tab:red", linewidth=2.5))
    axes[0].set_title(f"{size}x{size} input, padding {padding}, {kernel_size}x{kernel_size} kernel")
    axes[1].imshow(np.ones((out, out)), cmap="Greens", vmin=0, vmax=2)
    axes[1].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=2.5))
    axes[1].set_title(f"{out}x{out} output")
    for ax in axes:
        _outline_cells(ax)
    fig.tight_layout()
    return fig


def stride_figure(size: int = 7, kernel_size: int = 3, stride: int = 2) -> Figure:
    """Every position a ``kernel_size`` kernel takes on a ``size x size`` input at ``stride``.

    Each output cell is numbered, and the same number marks the centre of the
    input window that produced it.

    Raises
    ------
    ValueError
        If the sizes are invalid (see :func:`cnnlab.conv.conv_output_size`).
    """
    out = conv_output_size(size, kernel_size, stride=stride)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [size, out]})
    axes[0].imshow(np.zeros((size, size)), cmap="Blues", vmin=0, vmax=1)
    colours = plt.get_cmap("tab10")
    for index in range(out * out):
        row, col = divmod(index, out)
        top, left = row * stride, col * stride
        colour = colours(index % 10)
        inset = 0.08 * (index % 3)
        axes[0].add_patch(
            Rectangle(
                (left - 0.5 + inset, top - 0.5 + inset),
                kernel_size - 2 * inset,
                kernel_size - 2 * inset,
                fill=False,
                edgecolor=colour,
                linewidth=2,
            )
        )
        axes[0].text(
            left + kernel_size // 2,
            top + kernel_size // 2,
            str(index + 1),
            ha="center",
            va="center",
            color=colour,
            fontsize=11,
            fontweight="bold",
        )
        axes[1].text(col, row, str(index + 1), ha="center", va="center", color=colour, fontsize=11, fontweight="bold")
    axes[1].imshow(np.zeros((out, out)), cmap="Greens", vmin=0, vmax=1)
    axes[0].set_title(f"h={size}, f={kernel_size}, s={stride}")
    axes[1].set_title(f"output {out}x{out}")
    for ax in axes:
        _outline_cells(ax)
    fig.tight_layout()
    return fig


_BLOCK_COLOURS = {
    "conv": "#9ecae1",
    "strided conv": "#6baed6",
    "batchnorm": "#fdd0a2",
    "relu": "#c7e9c0",
    "max-pool": "#dadaeb",
    "dropout": "#fcbba1",
}


def layer_order_figure(orderings: dict[str, Sequence[str]]) -> Figure:
    """One row of boxes per named ordering of layers, with arrows between them.

    Parameters
    ----------
    orderings : dict
        Row label -> sequence of layer names, for example
        ``{"classic": ["conv", "batchnorm", "relu", "max-pool"]}``.

    Raises
    ------
    ValueError
        If ``orderings`` is empty or a row has no layers.
    """
    if not orderings:
        raise ValueError("orderings is empty: pass at least one {label: [layer, ...]} entry.")
    for label, layers in orderings.items():
        if len(layers) == 0:
            raise ValueError(f"ordering {label!r} has no layers: list at least one layer name.")
    width = max(len(layers) for layers in orderings.values())
    fig, ax = plt.subplots(figsize=(2.2 * width + 2.5, 1.1 * len(orderings) + 0.4))
    for row, (label, layers) in enumerate(orderings.items()):
        y = len(orderings) - 1 - row
        ax.text(-0.3, y, label, ha="right", va="center", fontsize=11)
        for col, layer in enumerate(layers):
            x = 2.2 * col
            ax.add_patch(Rectangle((x, y - 0.3), 1.6, 0.6, facecolor=_BLOCK_COLOURS.get(layer, "#eeeeee"), edgecolor="0.3"))
            ax.text(x + 0.8, y, layer, ha="center", va="center", fontsize=10)
            if col:
                ax.add_patch(FancyArrowPatch((x - 0.6, y), (x, y), arrowstyle="-|>", mutation_scale=14, color="0.3"))
    ax.set_xlim(-3.2, 2.2 * width)
    ax.set_ylim(-0.6, len(orderings) - 0.4)
    ax.axis("off")
    fig.tight_layout()
    return fig
