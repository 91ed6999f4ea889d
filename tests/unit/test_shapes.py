"""Tests of cnnlab.shapes: which layer broke a forward pass, what it received, and what is left on the model."""

import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab import shapes


class Refuses(nn.Module):
    """A layer that fails for a reason of its own, not a shape."""

    def forward(self, x):
        raise ValueError("no numbers today")


class Net(nn.Module):
    def __init__(self, last: nn.Module):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.last = last

    def forward(self, x):
        return self.last(self.conv(x).flatten(1))


def hooks(model: nn.Module) -> int:
    return sum(len(module._forward_hooks) + len(module._forward_pre_hooks) for module in model.modules())


def message(model: nn.Module, X: torch.Tensor) -> str:
    with pytest.raises(shapes.LayerError) as caught:
        shapes.traced_forward(model, X)
    return str(caught.value)


def test_a_layer_that_fails_for_another_reason_gets_the_generic_message():
    assert message(Net(Refuses()), torch.zeros(2, 1, 5, 5)) == (
        "self.last failed on an input of shape (2, 36) with ValueError: no numbers today."
    )


def test_the_channel_message_is_only_for_channels():
    # The channels match; the kernel is larger than the image.
    text = message(nn.Sequential(nn.Conv2d(3, 2, 5)), torch.zeros(1, 3, 2, 2))
    assert "input channel" not in text
    assert text.startswith("self[0] failed on an input of shape (1, 3, 2, 2) with RuntimeError: ")
    assert "Kernel size can't be greater than actual input size" in text


def test_a_convolution_given_the_wrong_channels_is_named_with_the_fix():
    text = message(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(8, 2, 3)), torch.zeros(1, 1, 8, 8))
    fix = "set in_channels=4, the channels of the layer before it."
    assert text == f"self[1] takes 8 input channel(s) but received 4 (input (1, 4, 6, 6)): {fix}"


def test_the_sizes_on_the_way_are_each_layers_output():
    text = message(Net(nn.Linear(10, 2)), torch.zeros(2, 1, 5, 5))
    assert text.startswith("self.last takes 10 features but received 36 per image.")
    # The convolution's output, not the (2, 1, 5, 5) it received.
    assert "The sizes on the way: self.conv -> (2, 4, 3, 3). Make in_features match" in text


def test_padding_on_the_way_is_named_as_a_cause():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(8, 2))
    text = message(model, torch.zeros(1, 1, 3, 3))
    assert "self[2] takes 8 features but received 18 per image. self[0] pads its input, which changes the sizes." in text
    assert "self[0] -> (1, 2, 3, 3), self[1] -> (1, 18)" in text


def test_a_failure_after_the_last_layer_names_it():
    class AfterTheLayers(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return F.linear(self.conv(x), torch.zeros(5, 7))

    text = message(AfterTheLayers(), torch.zeros(1, 1, 5, 5))
    assert text.startswith("the forward pass raised RuntimeError after self.conv, whose output has shape (1, 2, 3, 3): ")


@pytest.mark.parametrize(
    ("model", "X"),
    [
        (Net(nn.Linear(36, 2)), torch.zeros(2, 1, 5, 5)),  # runs
        (Net(nn.Linear(10, 2)), torch.zeros(2, 1, 5, 5)),  # fails at a layer
        (Net(Refuses()), torch.zeros(2, 1, 5, 5)),  # fails for a reason of its own
    ],
)
def test_no_hook_is_left_on_the_students_model(model, X):
    try:
        out, layers = shapes.traced_forward(model, X)
    except shapes.LayerError:
        pass
    else:
        assert out.shape == (2, 2) and layers == [model.conv, model.last]
    assert hooks(model) == 0


def test_layer_names_follow_the_code():
    model = Net(nn.Sequential(nn.Linear(36, 4), nn.ReLU()))
    assert shapes.layer_name(model, model.last[1]) == "self.last[1]"
    assert shapes.layer_name(model, nn.ReLU()) == "ReLU"


class Forgets(nn.Module):
    def __init__(self, forward):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(18, 2)
        self.steps = forward

    def forward(self, x):
        return self.steps(self, x)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # torch.flatten(x) flattens the batch too.
        (lambda self, x: self.fc(torch.flatten(self.conv(x))), r"self.fc received a 1-D input \(36,\): the whole batch"),
        # nn.ReLU(x) builds a layer (with inplace=x) rather than applying one.
        (lambda self, x: self.fc(nn.ReLU(self.conv(x).flatten(1))), r"self.fc received a ReLU, not a tensor \(ReLU is a layer"),
        (lambda self, x: self.fc("x"), "self.fc received a str, not a tensor: give each layer the tensor"),
        (lambda self, x: self.fc(), r"self.fc was called without an input: .* self.fc\(x\)"),
    ],
)
def test_what_a_layer_received_instead_of_a_batch_is_named(steps, expected):
    text = message(Forgets(steps), torch.zeros(2, 1, 5, 5))
    assert re.search(expected, text), text


def test_a_misspelt_forward_is_named():
    class Misspelt(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def foward(self, x):
            return self.fc(x)

    assert message(Misspelt(), torch.zeros(1, 3)) == (
        "Misspelt has no forward method (foward is not it: the name must be exactly forward): define def forward(self, x): "
        "inside the class, indented like __init__, and return the output."
    )
