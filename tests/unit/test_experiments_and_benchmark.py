"""Tests of cnnlab.experiments and cnnlab.benchmark on tiny runs (no timing is asserted)."""

import pytest
import torch

from cnnlab import benchmark, data, experiments, loaders, models


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return data.load_mnist("sample", tmp_path_factory.mktemp("cache"))


def test_compare_models_is_fair_and_repeatable(sample):
    train_dataset, test_dataset, _ = sample
    X, y = loaders.dataset_to_tensors(train_dataset)
    X_test, y_test = loaders.dataset_to_tensors(test_dataset)
    train_loader = loaders.tensor_loader(X, y, 8, shuffle=True, seed=0)
    test_loader = loaders.tensor_loader(X_test, y_test, 500)
    table = experiments.compare_models(
        {"a": models.SequentialCNN, "b": models.SequentialCNN, "bn": lambda: models.SequentialCNN(batchnorm=True)},
        train_loader,
        test_loader,
        num_steps=30,
        progress=False,
    )
    assert list(table.index) == ["a", "b", "bn"]
    assert list(table.columns) == ["parameters", "training seconds", "test loss", "test accuracy"]
    # Same seed, same batches: identical models give identical results.
    assert table.loc["a", "test loss"] == table.loc["b", "test loss"]
    assert table.loc["bn", "parameters"] == 21_900
    assert ((table["test accuracy"] >= 0) & (table["test accuracy"] <= 1)).all()
    with pytest.raises(ValueError, match="factories is empty"):
        experiments.compare_models({}, train_loader, test_loader, 1)


def test_benchmark_recipes_train_on_the_same_images(sample):
    train_dataset, test_dataset, _ = sample
    rows = benchmark.run_benchmark(train_dataset, test_dataset, num_images=256, devices=["cpu"])
    assert [row["recipe"] for row in rows] == [recipe.name for recipe in benchmark.RECIPES]
    assert [row["steps"] for row in rows] == [32, 32, 2]
    assert all(row["images"] == 256 for row in rows)
    assert rows[0]["speed-up"] == 1.0
    assert all(row["seconds"] > 0 and 0 <= row["test accuracy"] <= 1 for row in rows)
    table = benchmark.format_table(rows)
    assert table.splitlines()[0].startswith("recipe") and len(table.splitlines()) == 4


def test_seed_idiom_and_tensor_path_train_identically_on_the_same_batches(sample):
    """With the batches in the same order, the two loaders give bit-identical training."""
    train_dataset, _, _ = sample
    X, y = loaders.dataset_to_tensors(train_dataset)
    first = [(X[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)]
    seed_batches = list(torch.utils.data.DataLoader(torch.utils.data.Subset(train_dataset, range(64)), batch_size=8))
    for (X1, y1), (X2, y2) in zip(first, seed_batches):
        assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_run_recipe_rejects_no_images(sample):
    train_dataset, test_dataset, _ = sample
    with pytest.raises(ValueError, match="num_images=0 must be positive"):
        benchmark.run_recipe(benchmark.RECIPES[1], train_dataset, [], num_images=0)
    with pytest.raises(ValueError, match="recipe.loader='pil' is not a loader"):
        benchmark.run_recipe(benchmark.Recipe("x", "pil", 8, 0.1), train_dataset, [], num_images=8)
