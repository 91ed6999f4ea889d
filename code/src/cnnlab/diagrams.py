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

from .arguments import image_2d
from .conv import conv_output_size

__all__ = [
    "draw_number_grid",
    "outline_cells",
    "convolution_figure",
    "padding_figure",
    "stride_figure",
    "layer_order_figure",
    "stack_figure",
    "filter_volume_figure",
]


def outline_cells(ax: Axes) -> None:
    """Thin lines between the cells of an image drawn with ``imshow``, and no ticks.

    The lines are drawn as two line collections: as a grid of minor ticks they
    would cost a tick object each, most of the time an animation's frame takes.
    """
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    ax.vlines(np.arange(-0.5, right, 1), bottom, top, colors="0.55", linewidth=0.5)
    ax.hlines(np.arange(-0.5, bottom, 1), left, right, colors="0.55", linewidth=0.5)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])


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
    grid = image_2d("values", values)
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax)
    for (row, col), value in np.ndenumerate(grid):
        red, green, blue, _ = image.cmap(image.norm(value))
        colour = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
        ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=9)
    outline_cells(ax)
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
        outline_cells(ax)
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
        outline_cells(ax)
    fig.tight_layout()
    return fig


_BLOCK_COLOURS = {
    "input": "#dddddd",
    "conv": "#9ecae1",
    "strided conv": "#6baed6",
    "batchnorm": "#fdd0a2",
    "relu": "#c7e9c0",
    "max-pool": "#dadaeb",
    "dropout": "#fcbba1",
    "fc": "#c7e9c0",
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


def _stack(ax: Axes, x: float, height: float, depth: int, colour: str, label: str) -> float:
    """Draw ``depth`` offset squares of side ``height`` from ``x``; return the x where the stack ends."""
    shown = min(depth, 8)  # more sheets would only blur into one
    step = 0.12
    for sheet in range(shown):
        offset = step * sheet
        ax.add_patch(
            Rectangle((x + offset, -height / 2 + offset), height, height, facecolor=colour, edgecolor="0.25", linewidth=0.8)
        )
    right = x + step * (shown - 1) + height
    ax.text((x + right) / 2, -height / 2 - 0.35, label, ha="center", va="top", fontsize=9)
    return right


def stack_figure(layers: Sequence[tuple[str, int, int]]) -> Figure:
    """A network drawn as a row of feature-map stacks, each labelled with its shape.

    Parameters
    ----------
    layers : sequence of (name, channels, size)
        For each stage, a name, its number of channels and its height (= width);
        a size of 0 draws a fully connected layer of ``channels`` units as a bar.

    Raises
    ------
    ValueError
        If ``layers`` is empty or a stage has no channels.
    """
    if not layers:
        raise ValueError("layers is empty: pass at least one (name, channels, size) stage.")
    for name, channels, _ in layers:
        if channels < 1:
            raise ValueError(f"stage {name!r} has channels={channels}: every stage needs at least one channel or unit.")
    largest = max(size for _, _, size in layers) or 1
    fig, ax = plt.subplots(figsize=(12, 3.4))
    x = 0.0
    colours = {"input": _BLOCK_COLOURS["input"], "conv": _BLOCK_COLOURS["conv"], "pool": _BLOCK_COLOURS["max-pool"]}
    for index, (name, channels, size) in enumerate(layers):
        if size:
            colour = next((colours[key] for key in colours if name.lower().startswith(key)), _BLOCK_COLOURS["fc"])
            height = 0.6 + 2.2 * size / largest
            label = f"{name}\n{channels}x{size}x{size}"
            right = _stack(ax, x, height, channels, colour, label)
        else:
            height = 0.4 + 2.2 * min(channels, 100) / 100
            ax.add_patch(Rectangle((x, -height / 2), 0.3, height, facecolor=_BLOCK_COLOURS["fc"], edgecolor="0.25"))
            ax.text(x + 0.15, -height / 2 - 0.35, f"{name}\n{channels}", ha="center", va="top", fontsize=9)
            right = x + 0.3
        if index < len(layers) - 1:
            ax.add_patch(FancyArrowPatch((right + 0.1, 0), (right + 0.6, 0), arrowstyle="-|>", mutation_scale=12, color="0.3"))
        x = right + 0.8
    ax.set_xlim(-0.2, x)
    ax.set_ylim(-2.6, 2.0)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig


def filter_volume_figure(size: int = 6, channels: int = 3, kernel_size: int = 3, filters: int = 2) -> Figure:
    """An input of ``channels`` maps, one ``kernel_size x kernel_size x channels`` filter on it, and the maps it makes.

    The filter spans every input channel at once, and each of the ``filters``
    filters produces one output map; the outlined output pixel is the sum over
    the outlined input block.

    Raises
    ------
    ValueError
        If the sizes are invalid (see :func:`cnnlab.conv.conv_output_size`).
    """
    out = conv_output_size(size, kernel_size)
    if channels < 1 or filters < 1:
        raise ValueError(f"channels={channels} and filters={filters} must both be positive.")
    fig, ax = plt.subplots(figsize=(9, 4))
    step = 0.9
    input_colours = plt.get_cmap("Pastel1")
    for channel in reversed(range(channels)):
        origin = np.array([channel * step, channel * step])
        depth = 3 * (channels - channel)  # the first channel is drawn in front
        ax.add_patch(Rectangle(origin, size, size, facecolor=input_colours(channel % 9), edgecolor="0.3", zorder=depth))
        for line in range(1, size):
            ax.plot([origin[0] + line] * 2, [origin[1], origin[1] + size], color="0.6", linewidth=0.4, zorder=depth + 1)
            ax.plot([origin[0], origin[0] + size], [origin[1] + line] * 2, color="0.6", linewidth=0.4, zorder=depth + 1)
        window = Rectangle(origin + [1, size - 1 - kernel_size], kernel_size, kernel_size, fill=False, edgecolor="tab:red")
        window.set(linewidth=2, zorder=depth + 2)
        ax.add_patch(window)
    ax.text(
        (channels - 1) * step + size / 2,
        -0.7,
        f"input: {channels} channels of {size}x{size}\n"
        f"filter: {kernel_size}x{kernel_size}x{channels} (red, through every channel)",
        ha="center",
        va="top",
        fontsize=9,
    )
    left = (channels - 1) * step + size + 2.5
    ax.add_patch(
        FancyArrowPatch((left - 2.0, size / 2), (left - 0.4, size / 2), arrowstyle="-|>", mutation_scale=14, color="0.3")
    )
    output_colours = plt.get_cmap("Set2")
    for map_index in reversed(range(filters)):
        origin = np.array([left + map_index * step, map_index * step + (size - out) / 2])
        ax.add_patch(Rectangle(origin, out, out, facecolor=output_colours(map_index % 8), edgecolor="0.3"))
        if map_index == 0:
            # Output row 1, column 1: the window above starts at input row 1, column 1.
            ax.add_patch(Rectangle(origin + [1, out - 2], 1, 1, fill=False, edgecolor="tab:red", linewidth=2, zorder=50))
    ax.text(
        left + (filters - 1) * step / 2 + out / 2,
        -0.7,
        f"output: {filters} maps of {out}x{out},\none per filter",
        ha="center",
        va="top",
        fontsize=9,
    )
    ax.set_xlim(-0.5, left + (filters - 1) * step + out + 0.5)
    ax.set_ylim(-2.2, (channels - 1) * step + size + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig
