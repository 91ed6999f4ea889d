"""Tests of cnnlab.animations: frames, captions and a self-contained, accessible player."""

import functools
import re

import numpy as np
import pytest
from bs4 import BeautifulSoup

from cnnlab import animations, conv

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def convolution():
    patch = np.arange(36, dtype=float).reshape(6, 6)
    kernel = conv.sobel_kernel("x")
    return patch, kernel, conv.conv2d(patch, kernel), animations.convolution_steps(patch, kernel, conv.conv2d(patch, kernel))


def test_one_frame_per_kernel_position(convolution):
    *_, player = convolution
    assert len(player) == 16 and all(frame.startswith(PNG) for frame in player.frames)
    assert len(set(player.frames)) == 16, "every step draws a different frame"


def test_captions_give_each_sum(convolution):
    _, _, result, player = convolution
    assert player.captions[5].startswith("Step 6 of 16: the kernel covers rows 2-4 and columns 2-4")
    assert f"{result[1, 1]:.0f}, goes to row 2, column 2" in player.captions[5]


@functools.cache
def made(player):
    """A player's frames, drawn once for the tests that read them (a player draws one figure per step)."""
    return player()


@pytest.mark.parametrize(
    ("player", "steps", "first", "last"),
    [
        (animations.padding_steps, 25, "5 of them padding zeros", "5 of them padding zeros"),
        (animations.stride_steps, 9, "all of them inside the image", "row 3, column 3 of the output"),
    ],
)
def test_padding_and_stride(player, steps, first, last):
    frames = made(player)
    assert len(frames) == steps
    assert first in frames.captions[0] and last in frames.captions[-1]


def test_stride_caption_says_where_the_kernel_starts():
    assert "starts at row 1, column 5 of the 7x7 input" in made(animations.stride_steps).captions[2]


def test_player_html_is_self_contained_and_accessible(convolution):
    *_, player = convolution
    text = player._repr_html_()
    assert not re.search(r"(src|href)=\"?(https?:)?//", text)
    soup = BeautifulSoup(text, "html.parser")
    figure = soup.find("figure", class_="cnnlab-player")
    assert figure["aria-label"] == "A convolution, step by step"
    assert figure.img["src"].startswith("data:image/png;base64,") and figure.img["alt"] == player.captions[0]
    assert [button["data-action"] for button in figure.find_all("button")] == ["first", "previous", "play", "next", "last"]
    assert all(button.get_text(strip=True) and button["title"] for button in figure.find_all("button"))
    # The symbols on the buttons are no names: a screen reader reads the label.
    assert [button["aria-label"] for button in figure.find_all("button")] == [
        "First step",
        "Previous step",
        "Play the steps",
        "Next step",
        "Last step",
    ]
    assert figure.find("input", type="range")["max"] == "15"
    assert figure.figcaption["aria-live"] == "polite"
    assert figure["id"] in soup.find("script").string
    assert player._repr_html_() == text, "the same frames give the same page"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("t", [], []), "frames is empty"),
        (("t", [PNG], ["a", "b"]), "captions has 2 entries but there are 1 frames"),
    ],
)
def test_player_rejects_bad_input(arguments, message):
    with pytest.raises(ValueError, match=message):
        animations.StepPlayer(*arguments)


def test_result_of_the_wrong_size_is_refused():
    patch = np.zeros((6, 6))
    with pytest.raises(ValueError, match=r"result has shape \(6, 6\) but a \(3, 3\) kernel on a \(6, 6\) patch gives \(4, 4\)"):
        animations.convolution_steps(patch, conv.sobel_kernel("x"), patch)
