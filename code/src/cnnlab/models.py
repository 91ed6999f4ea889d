"""The CNNs of the practical: the original practical's MNIST network and its sequential variants."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import shapes

__all__ = ["MNISTModel", "flatten_size", "conv_block", "SequentialCNN", "count_parameters"]


class MNISTModel(nn.Module):
    """The practical's CNN for 28x28 greyscale digits.

    Two blocks of convolution (5x5 kernels, 10 then 20 filters), 2x2
    max-pooling and ReLU, then a fully connected layer of 50 units and one of
    10 outputs. ``forward`` returns *logits*: ``nn.CrossEntropyLoss`` applies
    the softmax itself.

    Examples
    --------
    >>> MNISTModel()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(20 * 4 * 4, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.maxpool(self.conv1(x)))  # (N, 10, 12, 12)
        x = F.relu(self.maxpool(self.conv2(x)))  # (N, 20, 4, 4)
        x = x.flatten(start_dim=1)  # (N, 320)
        x = F.relu(self.fc1(x))  # (N, 50)
        return self.fc2(x)  # (N, 10)


def flatten_size(features: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    """Number of features ``features`` produces for one input, found by a dry run.

    Use it to size the first linear layer instead of working it out by hand.

    Raises
    ------
    cnnlab.shapes.LayerError
        If ``features`` cannot process an input of ``input_shape``; the message
        names the layer at fault and the fix.

    Examples
    --------
    >>> flatten_size(nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(2)))
    1440
    """
    if not isinstance(features, nn.Module):
        raise TypeError(
            f"features={features!r:.60} is a {type(features).__name__}: pass the blocks, an nn.Module such as nn.Sequential(...)."
        )
    if (
        not isinstance(input_shape, (tuple, list))
        or not input_shape
        or not all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in input_shape)
    ):
        raise TypeError(
            f"input_shape={input_shape!r} must be the shape of one input, (channels, height, width) of positive whole "
            "numbers, for example (1, 28, 28)."
        )
    was_training = features.training
    features.eval()
    try:
        with torch.no_grad():
            out, _ = shapes.traced_forward(features, torch.zeros(1, *input_shape), root="features")
    except shapes.LayerError as error:
        raise shapes.LayerError(
            f"flatten_size: the blocks cannot process an input of shape {tuple(input_shape)}: {error}"
        ) from None
    finally:
        features.train(was_training)
    return out[0].numel()


def conv_block(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 5,
    batchnorm: bool = False,
    dropout: float = 0.0,
    downsample: str = "pool",
) -> nn.Sequential:
    """One convolutional block: convolution, optional batchnorm, downsampling, ReLU, optional dropout.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
        Of the convolution.
    batchnorm : bool, default False
        Add ``BatchNorm2d`` after the convolution.
    dropout : float, default 0
        Probability of ``Dropout2d`` at the end of the block (0 for none).
    downsample : {"pool", "stride"}
        Halve the size with 2x2 max-pooling, or with a convolution of stride 2.

    Raises
    ------
    ValueError
        If ``downsample`` or ``dropout`` is out of range.

    Examples
    --------
    >>> [type(layer).__name__ for layer in conv_block(1, 10, batchnorm=True)]
    ['Conv2d', 'BatchNorm2d', 'MaxPool2d', 'ReLU']
    """
    if downsample not in ("pool", "stride"):
        raise ValueError(f"downsample={downsample!r} is not a way to downsample: use 'pool' or 'stride'.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout} is not a probability below 1: use a value in [0, 1), such as 0.25.")
    stride = 2 if downsample == "stride" else 1
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(out_channels))
    if downsample == "pool":
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class SequentialCNN(nn.Module):
    """The practical's CNN written with ``nn.Sequential`` blocks, with optional extras.

    With the defaults it has exactly the layers (and parameter count) of
    :class:`MNISTModel`. The size of the first linear layer is derived from the
    convolutional blocks, so changing them never breaks the network.

    Parameters
    ----------
    batchnorm : bool, default False
        Batch normalisation in each convolutional block.
    dropout : float, default 0
        Dropout probability at the end of each convolutional block.
    downsample : {"pool", "stride"}
        Max-pooling or strided convolutions.
    channels : (int, int), default (10, 20)
        Filters of the two convolutional layers.

    Examples
    --------
    >>> count_parameters(SequentialCNN()) == count_parameters(MNISTModel())
    True
    """

    def __init__(
        self,
        batchnorm: bool = False,
        dropout: float = 0.0,
        downsample: str = "pool",
        channels: tuple[int, int] = (10, 20),
    ) -> None:
        super().__init__()
        self.conv_blocks = nn.Sequential(
            conv_block(1, channels[0], batchnorm=batchnorm, dropout=dropout, downsample=downsample),
            conv_block(channels[0], channels[1], batchnorm=batchnorm, dropout=dropout, downsample=downsample),
        )
        self.lin_blocks = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flatten_size(self.conv_blocks), 50),
            nn.ReLU(),
            nn.Linear(50, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin_blocks(self.conv_blocks(x))  # (N, 10)


def count_parameters(model: nn.Module) -> int:
    """Number of learnable numbers in ``model``.

    Examples
    --------
    >>> count_parameters(MNISTModel())
    21840
    """
    return sum(param.numel() for param in model.parameters() if param.requires_grad)
