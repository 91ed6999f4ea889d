"""Tests of cnnlab.models."""

import pytest
import torch
import torch.nn as nn

from cnnlab import models


def test_mnist_net_shapes_and_parameters():
    model = models.MNISTModel()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert models.count_parameters(model) == 260 + 5020 + 16050 + 510


def test_mnist_net_returns_logits_not_probabilities():
    torch.manual_seed(0)
    out = models.MNISTModel()(torch.rand(4, 1, 28, 28))
    assert not torch.allclose(out.sum(dim=1), torch.ones(4))
    assert (out < 0).any()


@pytest.mark.parametrize(
    ("kwargs", "parameters"),
    [
        ({}, 21_840),
        ({"batchnorm": True}, 21_840 + 2 * (10 + 20)),
        ({"dropout": 0.3}, 21_840),
        ({"downsample": "stride"}, 21_840),
    ],
)
def test_sequential_variants(kwargs, parameters):
    model = models.SequentialCNN(**kwargs)
    assert models.count_parameters(model) == parameters
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_sequential_with_other_channels_derives_the_flatten_size():
    model = models.SequentialCNN(channels=(16, 32))
    assert model.lin_blocks[1].in_features == 32 * 4 * 4
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_sequential_matches_mnist_net_with_the_same_weights():
    torch.manual_seed(0)
    reference = models.MNISTModel()
    sequential = models.SequentialCNN()
    conv_a, conv_b = sequential.conv_blocks[0][0], sequential.conv_blocks[1][0]
    fc_a, fc_b = sequential.lin_blocks[1], sequential.lin_blocks[3]
    for target, source in ((conv_a, reference.conv1), (conv_b, reference.conv2), (fc_a, reference.fc1), (fc_b, reference.fc2)):
        target.load_state_dict(source.state_dict())
    X = torch.rand(5, 1, 28, 28)
    assert torch.allclose(sequential(X), reference(X), atol=1e-6)


def test_flatten_size_restores_training_mode():
    block = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    block.train()
    assert models.flatten_size(block) == 4 * 26 * 26
    assert block.training


def test_flatten_size_explains_a_mismatch():
    message = r"flatten_size: the blocks cannot process an input of shape \(1, 28, 28\): features takes 3 input channel\(s\) but"
    with pytest.raises(ValueError, match=message):
        models.flatten_size(nn.Conv2d(3, 4, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"downsample": "avg"}, "downsample='avg' is not a way to downsample: use 'pool' or 'stride'"),
        ({"dropout": 1.0}, r"dropout=1.0 is not a probability below 1"),
        ({"dropout": -0.1}, r"dropout=-0.1 is not a probability below 1"),
    ],
)
def test_conv_block_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.conv_block(1, 4, **kwargs)


def test_conv_block_layers_in_order():
    block = models.conv_block(1, 4, batchnorm=True, dropout=0.5, downsample="stride")
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Dropout2d]
    assert block[0].stride == (2, 2)
