"""Tests of cnnlab.contention on tiny runs: what the table holds, and that the busy process really runs and ends."""

import pytest
import torch

from cnnlab import contention, data


@pytest.fixture(scope="module")
def train_dataset(tmp_path_factory):
    return data.load_mnist("sample", tmp_path_factory.mktemp("cache"))[0]


def test_busy_process_spins_and_is_ended():
    with contention.busy_process() as process:
        assert process.poll() is None, "the busy process should still be running inside the block"
    assert process.poll() is not None, "the busy process should be ended after the block"


def test_contention_table_and_thread_count_restored(train_dataset):
    before = torch.get_num_threads()
    table = contention.contention_table(train_dataset, {"one": 1, "also one": 1}, num_steps=5)
    assert torch.get_num_threads() == before
    assert list(table.index) == ["one", "also one"]
    assert list(table.columns) == ["threads", "idle seconds", "busy seconds", "slowdown", "idle cost"]
    assert (table["slowdown"] == table["busy seconds"] / table["idle seconds"]).all()
    assert table["idle cost"].min() == 0 and (table["idle cost"] >= 0).all()


def test_bad_arguments(train_dataset):
    with pytest.raises(ValueError, match=r"thread_counts=\{\}: pass labels with thread counts of 1 or more"):
        contention.contention_table(train_dataset, {})
    with pytest.raises(ValueError, match=r"thread_counts=\{'none': 0\}"):
        contention.contention_table(train_dataset, {"none": 0})
    with pytest.raises(ValueError, match="num_steps=0 must be a positive whole number"):
        contention.time_training(train_dataset, num_steps=0)
