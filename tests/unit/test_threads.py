"""Tests of cnnlab.threads: the cores a process may use, from its affinity and its cgroup quota."""

import pytest
import torch

from cnnlab import threads


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "250000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_cpu_quota_from_cgroup_v1_and_v2(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert threads.cpu_quota(tmp_path) == expected


def test_quota_caps_the_affinity(tmp_path):
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert threads.available_cpus(tmp_path) == 0.5
    assert threads.recommended_threads(threads.available_cpus(tmp_path)) == 1


def test_recommended_threads_refuses_nonsense():
    with pytest.raises(ValueError, match="cpus=0 is not a number of cores"):
        threads.recommended_threads(0)


@pytest.fixture
def machine_with(monkeypatch):
    """Pretend this process may use ``cores`` cores; PyTorch's thread count is restored afterwards."""
    before = torch.get_num_threads()
    yield lambda cores: monkeypatch.setattr(threads, "available_cpus", lambda cgroup=threads.CGROUP: cores)
    torch.set_num_threads(before)


def test_use_available_cpus_sets_and_says(machine_with):
    machine_with(4.0)
    message = threads.use_available_cpus()
    assert torch.get_num_threads() == 3
    assert message.startswith("PyTorch uses 3 CPU thread(s)") and "may use 4 core(s)" in message


def test_cnnlab_threads_overrides_the_recommendation(machine_with, monkeypatch):
    machine_with(8.0)
    monkeypatch.setenv("CNNLAB_THREADS", "1")
    message = threads.use_available_cpus()
    assert torch.get_num_threads() == 1
    assert message.startswith("PyTorch uses 1 CPU thread(s)") and "CNNLAB_THREADS asks" in message


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_cnnlab_threads_must_be_a_positive_whole_number(monkeypatch, value):
    monkeypatch.setenv("CNNLAB_THREADS", value)
    with pytest.raises(ValueError, match=rf"CNNLAB_THREADS='{value}' is not a number of threads: set it to a positive"):
        threads.use_available_cpus()
