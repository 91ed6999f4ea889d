"""The full MNIST against a bad network and bad files: every fault ends in a clear error, or the sample in auto mode.

Each network fault is played by a small server on 127.0.0.1: a connection
dropped half-way, a reply that is not HTTP, and a server that sends one byte
at a time.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import socket
import threading
import time

import pytest
from torchvision import datasets

from cnnlab import data

RAW_NAMES = list(data.RAW_FILES)
DEADLINE = 2.0


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    data.prepare_mnist("sample", root)
    return root


@pytest.fixture(scope="module")
def archives(sample_root, tmp_path_factory):
    """Gzipped copies of the sample under MNIST's file names, and their checksums."""
    folder = tmp_path_factory.mktemp("archives")
    checksums = []
    for name in RAW_NAMES:
        payload = gzip.compress((sample_root / "sample/MNIST/raw" / name).read_bytes(), mtime=0)
        (folder / f"{name}.gz").write_bytes(payload)
        checksums.append((f"{name}.gz", hashlib.md5(payload).hexdigest()))
    return folder, checksums


@pytest.fixture
def local_checksums(monkeypatch, archives):
    """The local copies have their own checksums; they stand in for torchvision's."""
    folder, checksums = archives
    monkeypatch.setattr(datasets.MNIST, "resources", checksums)
    return folder


class FaultyServer:
    """A TCP server on 127.0.0.1 that answers every request with one kind of fault."""

    def __init__(self, fault: str, body: bytes = b""):
        self.fault, self.body, self.requests = fault, body, 0
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/"

    def serve(self):
        while self.running:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection):
        self.requests += 1
        with connection:
            connection.recv(4096)
            try:
                if self.fault == "garbage":
                    connection.sendall(b"SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n")
                elif self.fault == "drop":
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
                elif self.fault == "slow headers":
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nX-Padding: " + b"x" * 1000:
                        if not self.running:
                            break
                        connection.sendall(bytes([byte]))
                        time.sleep(0.2)
                elif self.fault == "trickle":
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                    while self.running:
                        connection.sendall(b"x")
                        time.sleep(0.1)
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture(params=["drop", "garbage", "trickle", "slow headers"])
def faulty_server(request):
    server = FaultyServer(request.param)
    yield request.param, server
    server.close()


EXPECTED_FAULT = {
    "drop": r"ConnectionError: the connection closed after 1,000 of 100,000 bytes",
    "garbage": r"BadStatusLine",
    "trickle": r"TimeoutError: the deadline passed with [\d,]+ bytes received \(the server sends too slowly\)",
    "slow headers": r"TimeoutError: the deadline passed before the server's reply had arrived",
}


def test_every_fault_ends_in_a_download_error_after_retrying(tmp_path, faulty_server):
    fault, server = faulty_server
    start = time.monotonic()
    with pytest.raises(data.MNISTDownloadError, match=EXPECTED_FAULT[fault]) as caught:
        data.download_mnist(tmp_path, mirrors=[server.url], retries=2, timeout=1, deadline=DEADLINE)
    # Not a speed test: without a deadline the trickling server would keep the download going for 10,000 s.
    assert time.monotonic() - start < 10 * DEADLINE
    assert "train-images-idx3-ubyte.gz" in str(caught.value) and "CNNLAB_MNIST=sample" in str(caught.value)
    assert server.requests >= (1 if fault in ("trickle", "slow headers") else 2), "a failed try is retried"
    assert not list(data.raw_folder(tmp_path).glob("*.gz")), "nothing half-downloaded is kept"


def test_auto_falls_back_to_the_sample_and_says_why(tmp_path, faulty_server):
    fault, server = faulty_server
    source = data.prepare_mnist("auto", tmp_path, mirrors=[server.url], deadline=DEADLINE, timeout=1)
    assert source.kind == "sample"
    assert "The full MNIST could not be used here, so the book uses this sample. Why:" in source.note
    assert EXPECTED_FAULT[fault].split(":")[0].replace("\\", "") in source.note


def test_full_download_is_checked_and_described_from_the_files(tmp_path, local_checksums):
    server = LocalFiles(local_checksums)
    try:
        source = data.prepare_mnist("full", tmp_path, mirrors=["http://127.0.0.1:9/", server.url], retries=1, timeout=2)
    finally:
        server.close()
    assert source.kind == "full" and source.folder == tmp_path / "full"
    assert source.note == "Full MNIST: 4,000 training and 1,000 test digits, checked against the published checksums."
    assert len(datasets.MNIST(source.folder, train=True)) == 4000


class LocalFiles(FaultyServer):
    """A server that answers GET /<name> with the file of that name."""

    def __init__(self, folder):
        self.folder = folder
        super().__init__("files")

    def answer(self, connection):
        self.requests += 1
        with connection:
            request = connection.recv(4096).decode()
            name = request.split()[1].lstrip("/")
            path = self.folder / name
            body = path.read_bytes() if path.is_file() else b""
            status = b"200 OK" if path.is_file() else b"404 Not Found"
            connection.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def test_hand_copied_archives_are_used(tmp_path, local_checksums):
    raw = data.raw_folder(tmp_path / "full")
    raw.mkdir(parents=True)
    for archive in local_checksums.iterdir():
        shutil.copy(archive, raw / archive.name)

    def refuse(*args, **kwargs):
        raise AssertionError("nothing should be downloaded: the archives are there")

    source = data.prepare_mnist("full", tmp_path, opener=refuse)
    assert source.kind == "full" and (raw / "t10k-labels-idx1-ubyte").is_file()


def offline(url, timeout):
    raise OSError("network unreachable")


def test_the_sample_copied_into_full_is_refused(tmp_path, sample_root):
    shutil.copytree(sample_root / "sample", tmp_path / "full")
    with pytest.raises(
        data.MNISTDownloadError, match=r"train-images-idx3-ubyte.gz is missing, so the MNIST files in .* cannot be checked"
    ):
        data.prepare_mnist("full", tmp_path, opener=offline, retries=1)


def test_noise_named_like_mnist_is_refused(tmp_path):
    raw = data.raw_folder(tmp_path / "full")
    raw.mkdir(parents=True)
    for name, _ in datasets.MNIST.resources:
        (raw / name).write_bytes(gzip.compress(b"noise" * 100))
    with pytest.raises(
        data.MNISTDownloadError, match=r"train-images-idx3-ubyte.gz is not the published MNIST file \(MD5 [0-9a-f]{32}, expected"
    ):
        data.prepare_mnist("full", tmp_path, opener=offline, retries=1)


def test_changed_raw_file_is_unpacked_again(tmp_path, local_checksums):
    raw = data.raw_folder(tmp_path / "full")
    raw.mkdir(parents=True)
    for archive in local_checksums.iterdir():
        shutil.copy(archive, raw / archive.name)
    data.verify_full(tmp_path / "full")
    labels = raw / "t10k-labels-idx1-ubyte"
    original = labels.read_bytes()
    labels.write_bytes(original[:-1] + bytes([(original[-1] + 1) % 10]))
    data.verify_full(tmp_path / "full")
    assert labels.read_bytes() == original


def test_checksum_mismatch_names_the_mirror(tmp_path, monkeypatch, local_checksums):
    server = LocalFiles(local_checksums)
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, "0" * 32) for name, _ in datasets.MNIST.resources])
    try:
        with pytest.raises(data.MNISTDownloadError, match=r"checksum [0-9a-f]{32} does not match 0{32}"):
            data.download_mnist(tmp_path, mirrors=[server.url], retries=1)
    finally:
        server.close()


def test_the_wait_for_another_process_lock_respects_the_deadline(tmp_path, monkeypatch):
    from filelock import FileLock

    folder = tmp_path / "full"
    folder.mkdir()
    holder = FileLock(str(folder / ".lock"))
    holder.acquire()
    waits = []
    acquire = FileLock.acquire

    def recorded(self, timeout=None, *args, **kwargs):
        waits.append(timeout)
        return acquire(self, timeout, *args, **kwargs)

    monkeypatch.setattr(FileLock, "acquire", recorded)

    def never(*args, **kwargs):
        raise AssertionError("nothing is fetched while another process holds the lock")

    try:
        with pytest.warns(UserWarning, match="giving up after 0.4 s"):
            with pytest.raises(data.MNISTDownloadError) as caught:
                data.download_mnist(folder, mirrors=["http://127.0.0.1:9/"], deadline=0.4, opener=never)
    finally:
        holder.release()
    message = str(caught.value)
    assert f"Another process has held {folder / '.lock'} for 0.4 s" in message
    assert "no longer than its deadline (deadline=0.4 s)" in message and "pass a longer deadline" in message
    assert f"delete {folder / '.lock'}" in message
    assert ".lock" in caught.value.reason
    # The waits on the lock add up to the deadline, not to cache_lock's own 600 s.
    assert sum(waits) == pytest.approx(0.4)


def test_auto_falls_back_to_the_sample_when_the_lock_outlasts_the_deadline(tmp_path):
    from filelock import FileLock

    (tmp_path / "full").mkdir()
    holder = FileLock(str(tmp_path / "full" / ".lock"))
    holder.acquire()
    try:
        with pytest.warns(UserWarning, match="Waiting for another process"):
            source = data.prepare_mnist("auto", tmp_path, mirrors=["http://127.0.0.1:9/"], deadline=0.5)
    finally:
        holder.release()
    assert source.kind == "sample"
    assert "another process held" in source.note and ".lock" in source.note
