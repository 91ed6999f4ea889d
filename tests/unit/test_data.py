"""Tests of cnnlab.data: the sample, the IDX checks and the full download against a local server."""

import gzip
import hashlib
import http.server
import threading
from functools import partial

import numpy as np
import pytest
import torch
from torchvision import datasets

from cnnlab import data

RAW_NAMES = list(data._RAW_FILES)


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


# The full download, served from this machine -------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mnist_server(tmp_path_factory, sample_root):
    """A local HTTP server holding gzipped copies of the sample under MNIST's file names."""
    folder = tmp_path_factory.mktemp("mirror")
    checksums = []
    for name in RAW_NAMES:
        payload = gzip.compress((sample_root / "sample/MNIST/raw" / name).read_bytes(), mtime=0)
        (folder / f"{name}.gz").write_bytes(payload)
        checksums.append((f"{name}.gz", hashlib.md5(payload).hexdigest()))
    handler = partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", checksums
    server.shutdown()


@pytest.fixture
def local_resources(monkeypatch, mnist_server):
    url, checksums = mnist_server
    # The local copies have their own checksums; swap them in for torchvision's.
    monkeypatch.setattr(datasets.MNIST, "resources", checksums)
    return url


def test_full_download_from_a_server(tmp_path, local_resources):
    source = data.prepare_mnist("full", tmp_path, mirrors=["http://127.0.0.1:9/", local_resources], retries=1, timeout=2)
    assert source.kind == "full" and source.folder == tmp_path / "full"
    train_dataset = datasets.MNIST(source.folder, train=True)
    assert len(train_dataset) == 4000


def test_download_keeps_valid_files(tmp_path, local_resources):
    data.download_mnist(tmp_path, mirrors=[local_resources], retries=1)

    def refuse(*args, **kwargs):
        raise AssertionError("nothing should be downloaded twice")

    data.download_mnist(tmp_path, mirrors=[local_resources], opener=refuse)


def test_checksum_mismatch_is_an_error(tmp_path, monkeypatch, mnist_server):
    url, checksums = mnist_server
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, "0" * 32) for name, _ in checksums])
    with pytest.raises(
        data.MNISTDownloadError, match=r"Could not download train-images-idx3-ubyte.gz into .*checksum .* does not match 0{32}"
    ):
        data.download_mnist(tmp_path, mirrors=[url], retries=1)


def test_failed_download_in_full_mode_says_what_to_do(tmp_path):
    calls = []

    def offline(url, timeout):
        calls.append(url)
        raise OSError("network unreachable")

    with pytest.raises(data.MNISTDownloadError, match=r"into .*MNIST/raw .*network unreachable.*set CNNLAB_MNIST=sample"):
        data.prepare_mnist("full", tmp_path, mirrors=["http://a/", "http://b/"], retries=2, opener=offline)
    assert calls == ["http://a/train-images-idx3-ubyte.gz"] * 2 + ["http://b/train-images-idx3-ubyte.gz"] * 2


def test_auto_falls_back_to_the_sample_and_says_so(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise OSError("no route")

    monkeypatch.setattr(data.time, "sleep", lambda seconds: None)
    source = data.prepare_mnist("auto", tmp_path, opener=offline)
    assert source.kind == "sample"
    assert "The full MNIST could not be downloaded here" in source.note


def test_auto_uses_full_when_it_downloads(tmp_path, local_resources):
    source = data.prepare_mnist("auto", tmp_path, mirrors=[local_resources])
    assert source.kind == "full"


def test_file_with_extra_bytes_is_reported(tmp_path, sample_root):
    raw = copy_sample(sample_root, tmp_path)
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes() + b"\x00" * 10)
    with pytest.raises(data.MNISTDataError, match=r"MNIST file is corrupt \(too long\)"):
        data.check_raw_files(tmp_path)
