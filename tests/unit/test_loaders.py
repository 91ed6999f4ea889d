"""Tests of cnnlab.loaders: the tensors equal ToTensor, and the batches are standard."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from cnnlab import data, loaders


@pytest.fixture(scope="module")
def datasets_(tmp_path_factory):
    train_dataset, test_dataset, _ = data.load_mnist("sample", tmp_path_factory.mktemp("cache"))
    return train_dataset, test_dataset


def test_tensors_equal_to_tensor_bit_for_bit(datasets_):
    train_dataset, _ = datasets_
    X, y = loaders.dataset_to_tensors(train_dataset)
    assert X.shape == (4000, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    for index in range(0, len(train_dataset), 37):
        image, label = train_dataset[index]
        assert torch.equal(X[index], image)
        assert y[index] == label


def test_loader_yields_the_same_batches_as_a_dataloader(datasets_):
    _, test_dataset = datasets_
    X, y = loaders.dataset_to_tensors(test_dataset)
    ours = list(loaders.tensor_loader(X, y, batch_size=64))
    theirs = list(DataLoader(test_dataset, batch_size=64))
    assert len(ours) == len(theirs) == 16
    for (X1, y1), (X2, y2) in zip(ours, theirs):
        assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_shuffling_is_seeded_and_covers_every_example():
    X, y = torch.arange(20.0).reshape(20, 1), torch.arange(20)
    first = [b.tolist() for _, b in loaders.tensor_loader(X, y, 6, shuffle=True, seed=3)]
    again = [b.tolist() for _, b in loaders.tensor_loader(X, y, 6, shuffle=True, seed=3)]
    other = [b.tolist() for _, b in loaders.tensor_loader(X, y, 6, shuffle=True, seed=4)]
    assert first == again != other
    assert sorted(sum(first, [])) == list(range(20))
    assert [len(b) for b in first] == [6, 6, 6, 2]


def test_reshuffles_every_pass():
    loader = loaders.tensor_loader(torch.zeros(50, 1), torch.arange(50), 10, shuffle=True, seed=0)
    assert [b.tolist() for _, b in loader] != [b.tolist() for _, b in loader]


def test_drop_last():
    loader = loaders.tensor_loader(torch.zeros(10, 1), torch.arange(10), 4, drop_last=True)
    assert len(loader) == 2


def test_mnist_loaders(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    train_loader, test_loader, source = loaders.mnist_loaders(batch_size=8, mode="sample")
    assert source.kind == "sample"
    assert len(train_loader) == 500 and len(test_loader) == 1
    X, y = next(iter(train_loader))
    assert X.shape == (8, 1, 28, 28) and y.shape == (8,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": torch.zeros(3, 1), "y": torch.zeros(2), "batch_size": 1}, "X has 3 examples but y has 2"),
        ({"X": torch.zeros(3, 1), "y": torch.zeros(3), "batch_size": 0}, "batch_size=0 must be a positive whole number"),
        ({"X": torch.zeros(3, 1), "y": torch.zeros(3), "batch_size": 2.5}, "batch_size=2.5 must be a positive whole number"),
    ],
)
def test_tensor_loader_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        loaders.tensor_loader(**kwargs)


def test_dataset_to_tensors_rejects_other_datasets():
    class Fake:
        data = torch.zeros(2, 28, 28)  # float, not uint8
        targets = torch.zeros(2)

    with pytest.raises(TypeError, match=r"dataset.data is a torch.float32 tensor of shape \(2, 28, 28\)"):
        loaders.dataset_to_tensors(Fake())
    with pytest.raises(TypeError, match="dataset.data is a NoneType"):
        loaders.dataset_to_tensors(object())


def test_reseed_restarts_the_shuffling_and_leaves_ordered_loaders_alone():
    X, y = torch.zeros(30, 1), torch.arange(30)
    loader = loaders.tensor_loader(X, y, 7, shuffle=True, seed=5)
    first = [b.tolist() for _, b in loader]
    assert [b.tolist() for _, b in loader] != first
    loaders.reseed(loader, 5)
    assert [b.tolist() for _, b in loader] == first
    ordered = loaders.tensor_loader(X, y, 7)
    loaders.reseed(ordered, 5)
    assert [b.tolist() for _, b in ordered][0] == list(range(7))


def test_reseed_makes_two_standard_loaders_agree():
    dataset = TensorDataset(torch.arange(20).float(), torch.arange(20))
    first, second = DataLoader(dataset, batch_size=4, shuffle=True), DataLoader(dataset, batch_size=4, shuffle=True)
    torch.manual_seed(1)
    loaders.reseed(first, 5)
    torch.manual_seed(2)
    loaders.reseed(second, 5)
    assert [y.tolist() for _, y in first] == [y.tolist() for _, y in second]


def test_reseed_refuses_a_sampler_it_cannot_seed():
    dataset = TensorDataset(torch.arange(4).float(), torch.arange(4))
    weighted = DataLoader(dataset, sampler=WeightedRandomSampler([1.0] * 4, 4))
    with pytest.raises(TypeError, match="draws its examples with a WeightedRandomSampler, which reseed cannot seed"):
        loaders.reseed(weighted, 0)
    loaders.reseed(DataLoader(dataset), 0)  # not shuffled: nothing to do


def test_numpy_integers_are_batch_sizes():
    loader = loaders.tensor_loader(torch.zeros(10, 1), torch.arange(10), batch_size=np.int64(4))
    assert [len(y) for _, y in loader] == [4, 4, 2]
