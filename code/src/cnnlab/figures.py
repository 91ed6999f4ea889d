"""Figures of data and results: digit grids, confusion matrices, filters, feature maps, curves, saliency maps.

Each function returns a :class:`matplotlib.figure.Figure` and shows nothing.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .arguments import whole_number

__all__ = [
    "segmentation_figure",
    "ablation_figure",
    "digit_grid",
    "confusion_figure",
    "filters_figure",
    "feature_maps_figure",
    "loss_curve_figure",
    "saliency_figure",
    "randomization_figure",
]


def _as_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _labels(name: str, values) -> np.ndarray:
    """``values`` as one digit per image, or a ValueError naming ``name``: scores per class are not labels."""
    labels = _as_numpy(values)
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise ValueError(
            f"{name} has shape {labels.shape}, one score per class for each image, not one digit per image: "
            f"pass the predicted digits, {name}.argmax(dim=1) (or outputs.argmax(dim=1) of the model's outputs)."
        )
    if labels.ndim != 1:
        raise ValueError(f"{name} has shape {labels.shape}: pass one digit per image, shape (N,).")
    return labels


def digit_grid(images, y_true, y_pred=None, ncols: int = 8) -> Figure:
    """Digits with their true label and, if given, the predicted one (wrong ones in red).

    Parameters
    ----------
    images : array or tensor (N, 1, H, W) or (N, H, W)
    y_true : array (N,)
    y_pred : array (N,), optional
        The predicted digits; the model's scores (N, 10) are refused with the fix, ``.argmax(dim=1)``.
    ncols : int, default 8

    Raises
    ------
    ValueError
        If the numbers of images and labels differ, there are no images, or the labels are not one digit per image.

    Examples
    --------
    >>> import torch
    >>> digit_grid(torch.zeros(2, 1, 28, 28), torch.tensor([3, 4]), torch.zeros(2, 10))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y_pred has shape (2, 10), one score per class for each image, not one digit per image: ...
    """
    ncols = whole_number("ncols", ncols)
    images = _as_numpy(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images has shape {images.shape}: pass a batch of images, (N, 1, H, W) or (N, H, W).")
    images = images.reshape(len(images), *images.shape[-2:]) if images.ndim == 4 else images
    y_true = _labels("y_true", y_true)
    y_pred = None if y_pred is None else _labels("y_pred", y_pred)
    if len(images) == 0:
        raise ValueError("images is empty: pass at least one image.")
    if len(y_true) != len(images) or (y_pred is not None and len(y_pred) != len(images)):
        labels = len(y_true) if len(y_true) != len(images) else len(y_pred)
        raise ValueError(f"got {len(images)} images but {labels} labels: pass one label per image.")
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.55 * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], cmap="gray_r")
        if y_pred is None:
            ax.set_title(f"{y_true[index]}", fontsize=10)
        else:
            predicted = y_pred[index]
            wrong = predicted != y_true[index]
            ax.set_title(f"true {y_true[index]}\npred {predicted}", fontsize=9, color="tab:red" if wrong else "black")
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray) -> Figure:
    """A confusion matrix with each count written in its cell, drawn by scikit-learn's ``ConfusionMatrixDisplay``.

    Raises
    ------
    ValueError
        If ``matrix`` is not square.
    """
    matrix = _as_numpy(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix has shape {matrix.shape}: a confusion matrix is square (classes x classes).")
    fig, ax = plt.subplots(figsize=(6.5, 6))
    from sklearn.metrics import ConfusionMatrixDisplay  # here, not at the top: importing scikit-learn takes a second

    ConfusionMatrixDisplay(matrix, display_labels=np.arange(len(matrix))).plot(ax=ax, cmap="Blues", colorbar=False)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    fig.tight_layout()
    return fig


def filters_figure(weights, reference=None, reference_title: str = "Sobel x") -> Figure:
    """The 2-D kernels of a first convolutional layer, optionally beside a reference kernel.

    Parameters
    ----------
    weights : tensor (out_channels, 1, f, f)
        For example ``model.conv1.weight``.
    reference : array (k, k), optional
        A hand-made kernel to show first, such as the Sobel kernel.

    Raises
    ------
    ValueError
        If ``weights`` is not (out_channels, 1, f, f).
    """
    weights = _as_numpy(weights)
    if weights.ndim != 4 or weights.shape[1] != 1:
        raise ValueError(
            f"weights has shape {weights.shape}: pass a first layer's weight (out_channels, 1, f, f), such as model.conv1.weight."
        )
    panels = [(reference_title, _as_numpy(reference))] if reference is not None else []
    panels += [(f"filter {i}", kernel[0]) for i, kernel in enumerate(weights)]
    fig, axes = plt.subplots(1, len(panels), figsize=(1.4 * len(panels), 1.8), squeeze=False)
    for ax, (title, kernel) in zip(axes.flat, panels):
        limit = np.abs(kernel).max() or 1.0
        ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def feature_maps_figure(image, maps, title: str = "feature maps") -> Figure:
    """One input image and the feature maps a layer computes from it.

    Parameters
    ----------
    image : array or tensor (H, W) or (1, H, W)
    maps : array or tensor (C, h, w)

    Raises
    ------
    ValueError
        If ``maps`` is not 3-D.
    """
    image, maps = np.squeeze(_as_numpy(image)), _as_numpy(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps has shape {maps.shape}: pass the maps of one image, (channels, height, width).")
    if len(maps) == 0:
        raise ValueError(f"maps has shape {maps.shape}, no map at all: pass the output of a layer with at least one channel.")
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(1.4 * (len(maps) + 1), 1.9))
    axes[0].imshow(image, cmap="gray_r")
    axes[0].set_title("input", fontsize=9)
    for index, (ax, feature_map) in enumerate(zip(axes[1:], maps)):
        ax.imshow(feature_map, cmap="viridis")
        ax.set_title(f"map {index}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _loss_values(losses) -> np.ndarray:
    """``losses`` as float64 numbers, one per step: numbers, or losses as tensors (detached here)."""
    if isinstance(losses, torch.Tensor):
        return losses.detach().cpu().double().numpy().reshape(-1)
    if isinstance(losses, (str, bytes)) or not hasattr(losses, "__len__"):
        raise TypeError(
            f"losses is a {type(losses).__name__}: pass a list of the loss of each step, such as losses.append(loss.item())."
        )
    values = []
    for step, value in enumerate(losses):
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"losses[{step}] is a tensor of shape {tuple(value.shape)}, not one loss: "
                    "pass one number per step, loss.item()."
                )
            value = value.detach().cpu().item()
        try:
            values.append(float(value))
        except (TypeError, ValueError):
            raise TypeError(f"losses[{step}] is {value!r:.40}, not a number: pass the loss of each step, loss.item().") from None
    return np.asarray(values, dtype=float)


def loss_curve_figure(losses, window: int = 100) -> Figure:
    """Training loss per step, and its moving average over ``window`` steps.

    Parameters
    ----------
    losses : list of numbers, or of loss tensors
        The loss of each step. Losses kept as tensors (``loss`` rather than
        ``loss.item()``), even ones that still require grad, are detached here.
    window : int, default 100

    Raises
    ------
    TypeError
        If ``losses`` is not a sequence of numbers (or of one-number tensors).
    ValueError
        If ``losses`` is empty, a tensor in it holds more than one number, or ``window`` is not positive.
    """
    losses = _loss_values(losses)
    if losses.size == 0:
        raise ValueError("losses is empty: train for at least one step first.")
    window = whole_number("window", window)
    window = min(window, losses.size)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(np.arange(1, losses.size + 1), losses, color="0.8", linewidth=0.5, label="each step")
    ax.plot(np.arange(window, losses.size + 1), smooth, color="tab:blue", label=f"mean of {window} steps")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return fig


def ablation_figure(runs) -> Figure:
    """Every run of an ablation: one dot per seed and a bar at each model's mean test accuracy.

    Parameters
    ----------
    runs : pandas.DataFrame
        The table of :func:`cnnlab.experiments.compare_models` (columns ``model``, ``seed``, ``test accuracy``).

    Raises
    ------
    TypeError, ValueError
        If ``runs`` is not such a table, or is empty.
    """
    from .experiments import summarise

    summary = summarise(runs)
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(summary) + 1.2))
    seeds = sorted(runs["seed"].unique())
    markers = "osD^v<>p"
    for row, name in enumerate(summary.index):
        model = runs[runs["model"] == name]
        for index, seed in enumerate(seeds):
            accuracy = model.loc[model["seed"] == seed, "test accuracy"] * 100
            ax.scatter(
                accuracy,
                [row] * len(accuracy),
                marker=markers[index % len(markers)],
                color=f"C{index}",
                label=f"seed {seed}" if row == 0 else None,
                zorder=3,
            )
        mean = summary.loc[name, "mean accuracy"] * 100
        ax.plot([mean, mean], [row - 0.3, row + 0.3], color="black", linewidth=2, label="mean" if row == 0 else None)
        ax.plot([summary.loc[name, "lowest"] * 100, summary.loc[name, "highest"] * 100], [row, row], color="0.6", zorder=1)
    ax.set_yticks(range(len(summary)), summary.index)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy (%)")
    ax.grid(axis="x", color="0.9")
    ax.legend(loc="lower left", bbox_to_anchor=(1.01, 0), frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


# Background transparent, then CSF, grey matter and white matter.
_TISSUE_COLOURS = ["#00000000", "#1f77b4", "#d62728", "#f2c14e"]


def segmentation_figure(
    image, labels, predictions: dict | None = None, names=("background", "CSF", "grey matter", "white matter")
) -> Figure:
    """An image, its label map and, if given, predicted maps, each coloured by class over the image.

    Parameters
    ----------
    image : array or tensor (H, W)
    labels : array or tensor (H, W) of class numbers
    predictions : dict, optional
        Title -> predicted map (H, W), one more panel each.
    names : sequence of str
        The class names, background first; at most 4 classes.

    Raises
    ------
    ValueError
        If the maps and the image differ in shape, a map holds a class outside ``names``, or there are more than 4 classes.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    image, labels = _as_numpy(image), _as_numpy(labels)
    if image.ndim != 2:
        raise ValueError(f"image has shape {image.shape}: pass one 2-D slice (H, W), for example images[i, 0].")
    if not 2 <= len(names) <= len(_TISSUE_COLOURS):
        raise ValueError(f"names has {len(names)} classes: pass 2 to {len(_TISSUE_COLOURS)} names, background first.")
    maps = {"labels": labels, **{title: _as_numpy(value) for title, value in (predictions or {}).items()}}
    for title, values in maps.items():
        if values.shape != image.shape:
            raise ValueError(f"the {title} map has shape {values.shape} but the image {image.shape}: pass one class per pixel.")
        if values.min() < 0 or values.max() >= len(names):
            raise ValueError(f"the {title} map holds classes outside 0-{len(names) - 1}: pass class numbers of names.")
    colours = ListedColormap(_TISSUE_COLOURS[: len(names)])
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(3.1 * (len(maps) + 1), 3.6))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("MRI slice")
    for ax, (title, values) in zip(axes[1:], maps.items()):
        ax.imshow(image, cmap="gray")
        ax.imshow(values, cmap=colours, vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest", alpha=0.85)
        ax.set_title(title)
    for ax in axes:
        ax.axis("off")
    handles = [Patch(color=colour, label=name) for colour, name in zip(_TISSUE_COLOURS[1:], names[1:])]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def saliency_figure(image, rows: dict, region=None) -> Figure:
    """An image and its saliency maps, one row per model (trained, randomized...), each map with its colour bar.

    A map that is never negative is drawn from black (0) to yellow; a signed
    map in blue (negative) and red (positive) around a white 0.

    Parameters
    ----------
    image : array or tensor (H, W)
    rows : dict
        Row title -> {method name -> map (H, W)}; every row names the same methods.
    region : array or tensor (H, W) of bool, optional
        The region whose score the maps explain, outlined on the image.

    Raises
    ------
    ValueError
        If a map's shape differs from the image's, or the rows name different methods.
    """
    image = _as_numpy(image)
    if image.ndim != 2:
        raise ValueError(f"image has shape {image.shape}: pass one 2-D image (H, W), for example images[i, 0].")
    if not rows or not all(isinstance(maps, dict) and maps for maps in rows.values()):
        raise ValueError("rows must map each row's title to a non-empty dict of maps, e.g. {'trained': {'gradient': m}}.")
    methods = list(next(iter(rows.values())))
    for title, maps in rows.items():
        if list(maps) != methods:
            raise ValueError(f"row {title!r} names {list(maps)} but the first row {methods}: give every row the same methods.")
        for method, values in maps.items():
            if _as_numpy(values).shape != image.shape:
                raise ValueError(
                    f"the {method} map of row {title!r} has shape {_as_numpy(values).shape} but the image {image.shape}: "
                    "pass (H, W) maps."
                )
    fig, axes = plt.subplots(len(rows), len(methods) + 1, figsize=(2.3 * (len(methods) + 1), 2.3 * len(rows)), squeeze=False)
    for row, (title, maps) in enumerate(rows.items()):
        axes[row, 0].imshow(image, cmap="gray")
        if region is not None:
            axes[row, 0].contour(_as_numpy(region).astype(float), levels=[0.5], colors="tab:cyan", linewidths=0.8)
        axes[row, 0].set_title(title, fontsize=10)
        for ax, (method, values) in zip(axes[row, 1:], maps.items()):
            values = _as_numpy(values)
            if values.min() < 0:
                limit = np.abs(values).max() or 1.0
                shown = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
            else:
                shown = ax.imshow(values, cmap="inferno", vmin=0)
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
            ax.set_title(method, fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def randomization_figure(table) -> Figure:
    """Rank correlation with the trained model's maps as more layers are randomized, one line per method.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per step of the randomization test (the layers randomized so far, in order), one column per method.

    Raises
    ------
    ValueError
        If the table is empty.
    """
    if len(table) == 0 or len(table.columns) == 0:
        raise ValueError("the table is empty: pass one row per randomized layer and one column per method.")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    steps = ["none", *[str(name) for name in table.index]]
    markers = "osD^v<>p"
    for index, method in enumerate(table.columns):
        ax.plot(steps, [1.0, *table[method].tolist()], marker=markers[index % len(markers)], label=method)
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set_ylim(min(-0.1, float(np.nanmin(table.to_numpy())) - 0.05), 1.05)
    ax.set_xlabel("randomized down to layer (from the output)")
    ax.set_ylabel("rank correlation with\nthe trained model's maps")
    ax.grid(axis="y", color="0.9")
    ax.legend(loc="lower left", bbox_to_anchor=(1.01, 0), frameon=False, fontsize=9)
    fig.tight_layout()
    return fig
