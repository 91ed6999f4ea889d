"""Step-through animations of the theory chapters: a convolution, padding and stride, frame by frame.

Each animation is a :class:`StepPlayer`: frames drawn by matplotlib, a
sentence describing each, and a small player (first, previous, play or
pause, next, last, and a slider) that a notebook or a page of the book shows
as self-contained HTML. The frames are inline PNG images and the script is
inline too, so nothing is loaded from another host; each frame's sentence is
the image's alternative text and is read out by screen readers as it changes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .conv import conv_output_size
from .diagrams import draw_number_grid, outline_cells

__all__ = ["StepPlayer", "convolution_steps", "padding_steps", "render_frames", "stride_steps"]

_STYLE = """
.cnnlab-player { margin: 1em 0; }
.cnnlab-player img { max-width: 100%; height: auto; background: #fff; }
.cnnlab-player .cnnlab-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4em; margin-top: 0.4em; }
.cnnlab-player button { font: inherit; min-width: 2.6em; padding: 0.2em 0.6em; color: #111; background: #f2f2f2;
  border: 1px solid #555; border-radius: 4px; cursor: pointer; }
.cnnlab-player button:focus-visible, .cnnlab-player input:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
.cnnlab-player input[type=range] { flex: 1 1 10em; }
.cnnlab-player figcaption { margin-top: 0.3em; }
"""

_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  var frames = %(frames)s, captions = %(captions)s;
  var image = root.querySelector("img"), caption = root.querySelector("figcaption");
  var slider = root.querySelector("input"), counter = root.querySelector(".cnnlab-counter");
  var play = root.querySelector("[data-action=play]");
  var current = 0, timer = null;
  function show(index) {
    current = Math.max(0, Math.min(frames.length - 1, index));
    image.src = "data:image/png;base64," + frames[current];
    image.alt = captions[current];
    caption.textContent = captions[current];
    slider.value = current;
    counter.textContent = "step " + (current + 1) + " of " + frames.length;
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "\\u25B6 Play"; play.setAttribute("aria-pressed", "false");
  }
  function start() {
    if (current === frames.length - 1) { show(0); }
    timer = setInterval(function () { if (current === frames.length - 1) { stop(); } else { show(current + 1); } }, %(interval)d);
    play.textContent = "\\u23F8 Pause"; play.setAttribute("aria-pressed", "true");
  }
  var actions = {
    first: function () { stop(); show(0); },
    previous: function () { stop(); show(current - 1); },
    play: function () { if (timer === null) { start(); } else { stop(); } },
    next: function () { stop(); show(current + 1); },
    last: function () { stop(); show(frames.length - 1); }
  };
  root.querySelectorAll("button").forEach(function (button) {
    button.addEventListener("click", actions[button.dataset.action]);
  });
  slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
})();
"""


def render_frames(draw: Callable[[int], Figure], count: int, dpi: int = 72) -> list[bytes]:
    """PNG images of ``draw(0)`` ... ``draw(count - 1)``; each figure is closed once saved.

    The frames of one player share their layout: the first frame's tight
    layout is computed once and given to every other frame, which keeps the
    axes still from step to step and saves a third of the drawing.
    """
    frames, layout = [], None
    for index in range(count):
        fig = draw(index)
        if layout is None:
            fig.tight_layout()
            layout = {name: getattr(fig.subplotpars, name) for name in ("left", "right", "bottom", "top", "wspace", "hspace")}
        else:
            fig.subplots_adjust(**layout)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        plt.close(fig)
        frames.append(buffer.getvalue())
    return frames


@dataclass(frozen=True)
class StepPlayer:
    """Frames and the sentence that describes each, shown as a player in a notebook or a page.

    Parameters
    ----------
    title : str
        What the animation shows; the player's accessible name.
    frames : list of bytes
        PNG images, one per step.
    captions : list of str
        One sentence per frame.
    interval_ms : int
        Time per frame while playing.

    Raises
    ------
    ValueError
        If there are no frames, or not one caption per frame.

    Examples
    --------
    >>> player = StepPlayer("demo", [b"a", b"b"], ["first", "second"])
    >>> "step 1 of 2" in player._repr_html_()
    True
    """

    title: str
    frames: list[bytes]
    captions: list[str]
    interval_ms: int = 900

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("frames is empty: an animation needs at least one frame.")
        if len(self.captions) != len(self.frames):
            raise ValueError(
                f"captions has {len(self.captions)} entries but there are {len(self.frames)} frames: give one caption per frame."
            )

    def __len__(self) -> int:
        return len(self.frames)

    def _repr_html_(self) -> str:
        encoded = [base64.b64encode(frame).decode("ascii") for frame in self.frames]
        identity = "cnnlab-player-" + hashlib.sha1("".join(encoded).encode()).hexdigest()[:12]
        script = _SCRIPT % {
            "id": json.dumps(identity),
            "frames": json.dumps(encoded),
            "captions": json.dumps(self.captions),
            "interval": self.interval_ms,
        }
        first = html.escape(self.captions[0])
        buttons = [
            ("first", "First step", "\u23ee First"),
            ("previous", "Previous step", "\u25c0 Previous"),
            ("play", "Play the steps", "\u25b6 Play"),
            ("next", "Next step", "Next \u25b6"),
            ("last", "Last step", "Last \u23ed"),
        ]
        pressed = ' aria-pressed="false"'
        controls = "".join(
            f'<button type="button" data-action="{action}" title="{label}" aria-label="{label}"'
            f"{pressed if action == 'play' else ''}>{text}</button>"
            for action, label, text in buttons
        )
        return (
            f"<style>{_STYLE}</style>"
            f'<figure class="cnnlab-player" id="{identity}" role="group" aria-label="{html.escape(self.title)}">'
            f'<img src="data:image/png;base64,{encoded[0]}" alt="{first}">'
            f'<div class="cnnlab-controls">{controls}'
            f'<input type="range" min="0" max="{len(encoded) - 1}" value="0" step="1" '
            f'aria-label="Step of {html.escape(self.title)}">'
            f'<span class="cnnlab-counter" aria-hidden="true">step 1 of {len(encoded)}</span></div>'
            f'<figcaption aria-live="polite">{first}</figcaption></figure>'
            f"<script>{script}</script>"
        )


def convolution_steps(patch: np.ndarray, kernel: np.ndarray, result: np.ndarray) -> StepPlayer:
    """The kernel sliding over ``patch``, each sum of products appearing in the result.

    Parameters
    ----------
    patch, kernel, result : numpy.ndarray
        The image patch, the kernel and the convolution's result (no padding, stride 1).

    Raises
    ------
    ValueError
        If ``result`` does not have the size of a convolution of ``patch`` with ``kernel``.
    """
    patch, kernel, result = (np.asarray(values, dtype=float) for values in (patch, kernel, result))
    size = tuple(conv_output_size(n, f) for n, f in zip(patch.shape, kernel.shape))
    if result.shape != size:
        raise ValueError(f"result has shape {result.shape} but a {kernel.shape} kernel on a {patch.shape} patch gives {size}.")
    kh, kw = kernel.shape
    positions = [divmod(index, size[1]) for index in range(size[0] * size[1])]
    limit = max(np.abs(result).max(), 1)
    kernel_limit = np.abs(kernel).max()

    def draw(index: int) -> Figure:
        row, col = positions[index]
        shown = np.full(result.shape, np.nan)
        for done in positions[: index + 1]:
            shown[done] = result[done]
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [patch.shape[1], kw + 1, size[1]]})
        draw_number_grid(axes[0], patch, "image patch", vmin=0, vmax=255, highlight=(row, col, kh, kw))
        draw_number_grid(axes[1], kernel, "kernel", cmap="RdBu_r", vmin=-kernel_limit, vmax=kernel_limit)
        image = axes[2].imshow(
            np.nan_to_num(shown), cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=np.where(np.isnan(shown), 0.0, 1.0)
        )
        for (r, c), value in np.ndenumerate(shown):
            if not np.isnan(value):
                red, green, blue, _ = image.cmap(image.norm(value))
                ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
                axes[2].text(c, r, f"{value:.0f}", ha="center", va="center", fontsize=9, color=ink)
        axes[2].set_xlim(-0.5, size[1] - 0.5)
        axes[2].set_ylim(size[0] - 0.5, -0.5)
        axes[2].add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=2.5))
        axes[2].set_title("result")
        axes[2].set_xticks([])
        axes[2].set_yticks([])
        return fig

    captions = [
        f"Step {index + 1} of {len(positions)}: the kernel covers rows {row + 1}-{row + kh} and columns {col + 1}-{col + kw} "
        f"of the patch; the sum of the {kh * kw} products, {result[row, col]:.0f}, goes to row {row + 1}, column {col + 1} "
        "of the result."
        for index, (row, col) in enumerate(positions)
    ]
    return StepPlayer("A convolution, step by step", render_frames(draw, len(positions)), captions)


def _sliding_steps(title: str, size: int, kernel_size: int, padding: int, stride: int) -> StepPlayer:
    """The kernel's positions on a padded input, and the output cell each one fills."""
    out = conv_output_size(size, kernel_size, padding=padding, stride=stride)
    full = size + 2 * padding
    positions = [divmod(index, out) for index in range(out * out)]
    inside = np.zeros((full, full))
    inside[padding : padding + size, padding : padding + size] = 1

    def draw(index: int) -> Figure:
        row, col = positions[index]
        top, left = row * stride, col * stride
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), gridspec_kw={"width_ratios": [full, max(out, 2)]})
        axes[0].imshow(inside, cmap="Blues", vmin=-0.3, vmax=1.6)
        for (r, c), value in np.ndenumerate(inside):
            axes[0].text(c, r, "x" if value else "0", ha="center", va="center", fontsize=10)
        axes[0].add_patch(
            Rectangle((left - 0.5, top - 0.5), kernel_size, kernel_size, fill=False, edgecolor="tab:red", linewidth=2.5)
        )
        filled = np.zeros((out, out))
        for done in positions[: index + 1]:
            filled[done] = 1
        axes[1].imshow(filled, cmap="Greens", vmin=0, vmax=2)
        axes[1].add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=2.5))
        axes[0].set_title(f"{size}x{size} input, padding {padding}, stride {stride}")
        axes[1].set_title(f"{out}x{out} output")
        for ax in axes:
            outline_cells(ax)
        return fig

    def caption(index: int, row: int, col: int) -> str:
        top, left = row * stride, col * stride
        window = inside[top : top + kernel_size, left : left + kernel_size]
        zeros = int(window.size - window.sum())
        padded = f", {zeros} of them padding zeros" if zeros else ", all of them inside the image"
        return (
            f"Step {index + 1} of {len(positions)}: the {kernel_size}x{kernel_size} kernel starts at row {top + 1}, "
            f"column {left + 1} of the {full}x{full} {'padded ' if padding else ''}input and covers {window.size} cells{padded}; "
            f"it gives row {row + 1}, column {col + 1} of the output."
        )

    captions = [caption(index, row, col) for index, (row, col) in enumerate(positions)]
    return StepPlayer(title, render_frames(draw, len(positions)), captions)


def padding_steps(size: int = 5, padding: int = 1, kernel_size: int = 3) -> StepPlayer:
    """A kernel sliding over a zero-padded input at stride 1, filling the output cell by cell.

    Raises
    ------
    ValueError
        If the sizes are invalid (see :func:`cnnlab.conv.conv_output_size`).
    """
    return _sliding_steps("Padding, step by step", size, kernel_size, padding, 1)


def stride_steps(size: int = 7, kernel_size: int = 3, stride: int = 2) -> StepPlayer:
    """A kernel jumping ``stride`` pixels at a time over an unpadded input.

    Raises
    ------
    ValueError
        If the sizes are invalid (see :func:`cnnlab.conv.conv_output_size`).
    """
    return _sliding_steps("Stride, step by step", size, kernel_size, 0, stride)
