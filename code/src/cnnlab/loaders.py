"""Batches from tensors built once: the original practical's DataLoader idiom without per-image work.

torchvision's MNIST turns every digit into a PIL image and back into a tensor
each time it is read. :func:`dataset_to_tensors` does that conversion once for
the whole set, with the same arithmetic as ``ToTensor``, and
:func:`tensor_loader` batches the result with a standard
:class:`torch.utils.data.DataLoader`, so a training loop written for the
original practical's loader (``for X, y in train_loader``) runs unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)

from . import data
from .arguments import whole_number

if TYPE_CHECKING:
    from torchvision import datasets

__all__ = ["dataset_to_tensors", "tensor_loader", "reseed", "mnist_loaders"]


def dataset_to_tensors(dataset: datasets.MNIST) -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of a torchvision MNIST-style dataset as two tensors.

    Parameters
    ----------
    dataset : torchvision.datasets.MNIST
        Any dataset with a uint8 ``data`` tensor (N, H, W) and a ``targets`` tensor.

    Returns
    -------
    X : torch.Tensor
        float32 images (N, 1, H, W) in [0, 1], equal to ``ToTensor`` applied to each image.
    y : torch.Tensor
        int64 labels (N,).

    Raises
    ------
    TypeError
        If ``dataset`` has no uint8 ``data`` tensor of shape (N, H, W).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fake = SimpleNamespace(data=torch.full((2, 3, 3), 255, dtype=torch.uint8), targets=torch.tensor([4, 7]))
    >>> X, y = dataset_to_tensors(fake)
    >>> X.shape, X.max().item(), y.tolist()
    (torch.Size([2, 1, 3, 3]), 1.0, [4, 7])
    """
    data = getattr(dataset, "data", None)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.ndim != 3:
        found = type(data).__name__ if not isinstance(data, torch.Tensor) else f"{data.dtype} tensor of shape {tuple(data.shape)}"
        raise TypeError(
            f"dataset.data is a {found}: pass a torchvision MNIST-style dataset whose data is a uint8 (N, H, W) tensor."
        )
    # The same operations as ToTensor on a uint8 image: convert to float32, then divide by 255.
    X = data.unsqueeze(1).to(torch.get_default_dtype()).div(255)
    y = torch.as_tensor(dataset.targets, dtype=torch.int64)
    return X, y


def tensor_loader(
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader that yields ``(X[batch], y[batch])`` by indexing whole batches at once.

    Parameters
    ----------
    X, y : torch.Tensor
        Inputs and labels with the same first dimension.
    batch_size : int
        Examples per batch.
    shuffle : bool, default False
        Reshuffle at the start of every pass.
    seed : int, optional
        Seed of the shuffling, for repeatable runs.
    drop_last : bool, default False
        Drop a last, smaller batch.

    Returns
    -------
    torch.utils.data.DataLoader

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length or ``batch_size`` is not positive.

    Examples
    --------
    >>> loader = tensor_loader(torch.zeros(10, 1, 2, 2), torch.arange(10), batch_size=4)
    >>> [tuple(batch.shape) for batch, _ in loader]
    [(4, 1, 2, 2), (4, 1, 2, 2), (2, 1, 2, 2)]
    """
    for name, value in (("X", X), ("y", y)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name} is a {type(value).__name__}: pass a torch tensor; convert a NumPy array with torch.from_numpy({name})."
            )
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)}: pass inputs and labels of the same length.")
    if seed is not None:
        seed = whole_number("seed", seed, minimum=0)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive whole number, for example 8.")
    batch_size = int(batch_size)
    dataset = TensorDataset(X, y)
    if shuffle:
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(seed)
        sampler = RandomSampler(dataset, generator=generator)
    else:
        sampler = SequentialSampler(dataset)
    # batch_size=None: each index the sampler yields is a whole list, fetched in one indexing operation.
    return DataLoader(dataset, batch_size=None, sampler=BatchSampler(sampler, batch_size, drop_last))


def reseed(loader: DataLoader, seed: int) -> None:
    """Restart the shuffling of a loader from ``seed``.

    After it, a :func:`tensor_loader` yields the same sequence of batches as a
    new ``tensor_loader(..., shuffle=True, seed=seed)``, and a standard
    ``DataLoader(..., shuffle=True)`` shuffles with its own generator seeded
    with ``seed``, so two loaders reseeded alike give the same batches; a
    loader that does not shuffle is left as it is.

    Raises
    ------
    TypeError
        If the loader shuffles with a sampler that cannot be seeded.

    Examples
    --------
    >>> loader = tensor_loader(torch.zeros(6, 1), torch.arange(6), 3, shuffle=True, seed=1)
    >>> first = [y.tolist() for _, y in loader]
    >>> reseed(loader, 1)
    >>> [y.tolist() for _, y in loader] == first
    True
    """
    sampler = loader.sampler
    if isinstance(sampler, BatchSampler):  # tensor_loader: BatchSampler(RandomSampler)
        sampler = sampler.sampler
    if isinstance(sampler, SequentialSampler):
        return
    if not isinstance(sampler, RandomSampler):
        raise TypeError(
            f"the loader draws its examples with a {type(sampler).__name__}, which reseed cannot seed: "
            "use shuffle=True or a tensor_loader."
        )
    if sampler.generator is None:
        sampler.generator = torch.Generator()
    sampler.generator.manual_seed(seed)


def mnist_loaders(
    batch_size: int = 8,
    test_batch_size: int = 1000,
    seed: int = 0,
    mode: str | None = None,
    device: torch.device | str = "cpu",
) -> tuple[DataLoader, DataLoader, data.MNISTSource]:
    """MNIST training and test loaders built from tensors, as the practical chapters use them.

    The training loader reshuffles each pass with a seeded generator; the test
    loader keeps the test set's order.

    Parameters
    ----------
    batch_size : int, default 8
        Training batch size (the practical's).
    test_batch_size : int, default 1000
        Test batch size; it does not change any result.
    seed : int, default 0
        Seed of the shuffling.
    mode : str, optional
        MNIST mode, see :func:`cnnlab.data.prepare_mnist`.
    device : torch.device or str, default "cpu"
        Where to keep the tensors; on a GPU the whole set fits in memory.

    Returns
    -------
    (train_loader, test_loader, source)
    """
    train_dataset, test_dataset, source = data.load_mnist(mode)
    X_train, y_train = (t.to(device) for t in dataset_to_tensors(train_dataset))
    X_test, y_test = (t.to(device) for t in dataset_to_tensors(test_dataset))
    train_loader = tensor_loader(X_train, y_train, batch_size, shuffle=True, seed=seed)
    test_loader = tensor_loader(X_test, y_test, test_batch_size)
    return train_loader, test_loader, source
