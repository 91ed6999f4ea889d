"""Tests of cnnlab.train on a tiny, separable problem."""

import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from cnnlab import loaders, train


def toy_problem(n=64):
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(n, 4, generator=generator)
    y = (X[:, 0] > 0).long()
    return X, y


def fresh_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_get_device_is_cpu_here_or_an_accelerator():
    assert train.get_device().type in {"cpu", "cuda", "mps"}


def test_train_one_epoch_lowers_the_loss_and_sets_train_mode():
    X, y = toy_problem()
    model = fresh_model().eval()
    loader = loaders.tensor_loader(X, y, 8, shuffle=True, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(10):
        losses += train.train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", progress=False)
    assert model.training
    assert len(losses) == 80
    assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:8])


def test_max_steps_and_train_for_steps_cycle_the_data():
    X, y = toy_problem(20)
    loader = loaders.tensor_loader(X, y, 8)
    model = fresh_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert len(train.train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", max_steps=2, progress=False)) == 2
    assert len(train.train_for_steps(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", 7, progress=False)) == 7


def test_training_is_repeatable_with_a_seed():
    X, y = toy_problem()

    def run():
        train.seed_everything(1)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        loader = loaders.tensor_loader(X, y, 8, shuffle=True, seed=1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return train.train_for_steps(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", 20, progress=False)

    assert run() == run()


def test_predict_and_evaluate_agree():
    X, y = toy_problem()
    model = fresh_model()
    loader = loaders.tensor_loader(X, y, 10)
    y_true, y_pred = train.predict(model, loader, "cpu")
    assert not model.training
    assert np.array_equal(y_true, y.numpy())
    scores = train.evaluate(model, loader, nn.CrossEntropyLoss(), "cpu")
    assert scores["accuracy"] == pytest.approx((y_true == y_pred).mean())
    with torch.no_grad():
        assert scores["loss"] == pytest.approx(nn.CrossEntropyLoss()(model(X), y).item(), rel=1e-5)


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_step_counts_are_validated(steps):
    X, y = toy_problem(8)
    model = fresh_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = loaders.tensor_loader(X, y, 4)
    with pytest.raises(ValueError, match=f"num_steps={steps!r} must be a positive whole number"):
        train.train_for_steps(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", steps, progress=False)
    with pytest.raises(ValueError, match=f"max_steps={steps!r} must be a positive whole number"):
        train.train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", max_steps=steps)


def test_empty_loaders_are_errors():
    model = fresh_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="loader yields no batches"):
        train.train_for_steps(model, [], nn.CrossEntropyLoss(), optimizer, "cpu", 3, progress=False)
    with pytest.raises(ValueError, match="loader yields no examples"):
        train.evaluate(model, [], nn.CrossEntropyLoss(), "cpu")


def test_training_steps_are_the_default_unless_the_grader_asks_for_fewer():
    assert train.training_steps(7500, {}) == 7500
    assert train.training_steps(7500, {"CNNLAB_TRAINING_STEPS": "400"}) == 400
    assert train.training_steps(300, {"CNNLAB_TRAINING_STEPS": "400"}) == 300, "never longer than the chapter's default"
    for value in ("0", "-5", "many", "2.5"):
        with pytest.raises(ValueError, match=rf"CNNLAB_TRAINING_STEPS='{re.escape(value)}' must be a positive whole number"):
            train.training_steps(7500, {"CNNLAB_TRAINING_STEPS": value})
    with pytest.raises(ValueError, match="default=0 must be a positive whole number"):
        train.training_steps(0, {})
