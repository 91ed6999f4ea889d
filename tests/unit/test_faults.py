"""The book under bad input: a hostile user, a careless student and a broken disk, probe by probe, in one process.

Every probe does one wrong thing and asserts the class of what comes back and
the words of its message: the argument or path at fault and the fix. Nothing
from inside ``cnnlab`` reaches a student as a raw traceback, no bad cache is
silently used, and no answer leaks into a student notebook.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from filelock import FileLock

from bookpaths import CHAPTER, OTHER, benchmark_script, small_book
from booktools import notebooks
from booktools.myst_plain import ChapterError
from cnnlab import checks, conv, data, figures, loaders, metrics, models, threads
from cnnlab.checks import SelfCheckError

PROBES = []


def probe(area, name, action, error, *words):
    """Register a probe: ``action()`` must raise ``error`` (or return, when ``error`` is None), naming ``words``."""
    PROBES.append(pytest.param(action, error, words, id=f"{area}: {name}"))


@pytest.mark.parametrize(("action", "error", "words"), PROBES)
def test_probe(action, error, words, tmp_path, monkeypatch):
    if error is None:
        result = action(tmp_path, monkeypatch)
        text = str(result)
    else:
        with pytest.raises(error) as caught:
            action(tmp_path, monkeypatch)
        text = str(caught.value)
        assert caught.type is error or error is Exception, f"{caught.type.__name__}: {text}"
    for word in words:
        assert word in text, f"{word!r} not in: {text}"


def call(function, *args, **kwargs):
    return lambda tmp_path, monkeypatch: function(*args, **kwargs)


# Data: the sample cache ---------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _sample_master(tmp_path_factory):
    global SAMPLE
    SAMPLE = tmp_path_factory.mktemp("sample-master")
    data.prepare_mnist("sample", SAMPLE)


def sample_copy(tmp_path) -> Path:
    import shutil

    shutil.copytree(SAMPLE, tmp_path / "cache", dirs_exist_ok=True)
    return tmp_path / "cache"


def raw(root):
    return data.raw_folder(root / "sample")


def damaged(change):
    def action(tmp_path, monkeypatch):
        root = sample_copy(tmp_path)
        change(raw(root))
        source = data.prepare_mnist("sample", root)
        assert data.sample_problem(root / "sample") is None, "the sample was not repaired"
        train, _, _ = data.load_mnist("sample", root)
        assert train.data.float().mean() > 10 and int(train.targets.max()) <= 9 and len(train) == 4000
        return source.note

    return action


def zero_after_header(folder):
    path = folder / "train-images-idx3-ubyte"
    payload = path.read_bytes()
    path.write_bytes(payload[:16] + bytes(len(payload) - 16))


def labels_200(folder):
    path = folder / "train-labels-idx1-ubyte"
    payload = path.read_bytes()
    path.write_bytes(payload[:8] + bytes([200]) * (len(payload) - 8))


def swap_train_and_test(folder):
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        train, test = folder / f"train-{kind}", folder / f"t10k-{kind}"
        train_bytes, test_bytes = train.read_bytes(), test.read_bytes()
        train.write_bytes(test_bytes)
        test.write_bytes(train_bytes)


def flip_one_pixel(folder):
    path = folder / "t10k-images-idx3-ubyte"
    payload = bytearray(path.read_bytes())
    payload[500] ^= 0xFF
    path.write_bytes(bytes(payload))


probe(
    "data", "train images zeroed after the header", damaged(zero_after_header), None, "cached sample was damaged", "written again"
)
probe("data", "labels set to 200", damaged(labels_200), None, "train-labels-idx1-ubyte differs", "written again")
probe("data", "train and test swapped", damaged(swap_train_and_test), None, "cached sample was damaged", "4,000 training")
probe("data", "one test pixel flipped", damaged(flip_one_pixel), None, "t10k-images-idx3-ubyte differs")
probe("data", "checksums deleted", damaged(lambda folder: (folder / "SHA256SUMS.json").unlink()), None, "checksums", "missing")
probe("data", "checksums garbled", damaged(lambda folder: (folder / "SHA256SUMS.json").write_text("{no")), None, "cannot be read")
probe(
    "data", "checksums not a table", damaged(lambda folder: (folder / "SHA256SUMS.json").write_text("[1]")), None, "not a table"
)
probe(
    "data",
    "a file truncated",
    damaged(lambda folder: (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0")),
    None,
    "truncated",
)
probe("data", "a file deleted", damaged(lambda folder: (folder / "train-images-idx3-ubyte").unlink()), None, "not found")


def read_only_damaged(tmp_path, monkeypatch):
    root = sample_copy(tmp_path)
    labels_200(raw(root))

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(raw(root)))

    monkeypatch.setattr(data.sample, "write_mnist_sample", refuse)
    monkeypatch.setattr(data, "write_mnist_sample", refuse)
    data.prepare_mnist("sample", root)


probe(
    "data",
    "damaged sample in a read-only cache",
    read_only_damaged,
    data.MNISTDataError,
    "is damaged",
    "cannot write to",
    "CNNLAB_DATA_DIR",
)


def file_modes(tmp_path, monkeypatch):
    previous = os.umask(0o022)
    try:
        data.prepare_mnist("sample", tmp_path)
    finally:
        os.umask(previous)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in raw(tmp_path).iterdir() if not path.name.startswith(".")}
    assert set(modes.values()) == {0o644}, modes
    return "readable by all"


probe("data", "cache files readable by the whole class", file_modes, None, "readable by all")


def data_dir_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "file"))
    data.prepare_mnist("sample")


probe("data", "CNNLAB_DATA_DIR is a file (sample)", data_dir_is_a_file, data.MNISTDataError, "is not a folder", "CNNLAB_DATA_DIR")


def data_dir_is_a_file_auto(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    data.prepare_mnist("auto", tmp_path / "file", opener=offline)


def offline(url, timeout):
    raise OSError("offline")


probe("data", "cache is a file (auto keeps the reason)", data_dir_is_a_file_auto, data.MNISTDataError, "is not a folder", "Why:")


def data_dir_is_a_file_full(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    data.prepare_mnist("full", tmp_path / "file", opener=offline)


probe(
    "data", "cache is a file (full)", data_dir_is_a_file_full, data.MNISTDownloadError, "is not a folder", "CNNLAB_MNIST=sample"
)


def dangling_link(tmp_path, monkeypatch):
    (tmp_path / "cache").symlink_to(tmp_path / "gone")
    data.prepare_mnist("sample", tmp_path / "cache")


probe("data", "cache is a dangling link", dangling_link, data.MNISTDataError, "a link to a folder that does not exist")


def folder_where_a_file_goes(tmp_path, monkeypatch):
    (raw(tmp_path) / "train-images-idx3-ubyte").mkdir(parents=True)
    data.prepare_mnist("sample", tmp_path)


probe(
    "data",
    "a folder where a file goes",
    folder_where_a_file_goes,
    data.MNISTDataError,
    "is a folder where an MNIST file should be",
)


def disk_error(code, message):
    def action(tmp_path, monkeypatch):
        def fail(*args, **kwargs):
            raise OSError(code, message)

        monkeypatch.setattr(data.cache.os, "fsync", fail)
        data.prepare_mnist("sample", tmp_path)

    return action


probe(
    "data",
    "disk full",
    disk_error(errno.ENOSPC, "No space left on device"),
    data.MNISTDataError,
    "no space left",
    "free some space",
)
probe("data", "file too large", disk_error(errno.EFBIG, "File too large"), data.MNISTDataError, "refuses a file this large")
probe(
    "data",
    "permission denied",
    disk_error(errno.EACCES, "Permission denied"),
    data.MNISTDataError,
    "cannot write to",
    "CNNLAB_DATA_DIR",
)
probe(
    "data",
    "other disk error",
    disk_error(errno.EIO, "Input/output error"),
    data.MNISTDataError,
    "Input/output error",
    "CNNLAB_DATA_DIR",
)


def lock_held(tmp_path, monkeypatch):
    folder = tmp_path / "sample"
    folder.mkdir()
    holder = FileLock(str(folder / ".lock"))
    holder.acquire()
    try:
        with pytest.warns(UserWarning, match="Waiting for another process"):
            with data.cache.cache_lock(folder, timeout=1.5):
                pass
    finally:
        holder.release()


probe("data", "another process holds the lock", lock_held, data.MNISTDataError, "has held", ".lock for 1.5 s", "delete")
probe("data", "mode misspelt", call(data.prepare_mnist, "ful"), ValueError, "mode='ful' is not a MNIST mode")


def mode_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_MNIST", "offline")
    data.prepare_mnist(None, tmp_path)


probe("data", "CNNLAB_MNIST misspelt", mode_variable, ValueError, "CNNLAB_MNIST='offline'")
probe("data", "empty root", call(data.prepare_mnist, "sample", ""), ValueError, "root='' is empty")

# Data: the download's arguments ---------------------------------------------------------------------

for name, kwargs, error, words in [
    ("mirrors a string", {"mirrors": "http://example.org/"}, TypeError, ("mirrors='http://example.org/' must be a list",)),
    ("mirrors empty", {"mirrors": []}, ValueError, ("mirrors=[] holds no address",)),
    ("mirror not a URL", {"mirrors": ["example.org"]}, ValueError, ("'example.org', which is not a URL",)),
    ("retries 0", {"retries": 0}, ValueError, ("retries=0 must be a whole number of tries of at least 1",)),
    ("retries 1.5", {"retries": 1.5}, ValueError, ("retries=1.5",)),
    ("retries True", {"retries": True}, ValueError, ("retries=True",)),
    ("timeout 0", {"timeout": 0}, ValueError, ("timeout=0 must be a positive number of seconds",)),
    ("timeout text", {"timeout": "30"}, ValueError, ("timeout='30'",)),
    ("deadline nan", {"deadline": float("nan")}, ValueError, ("deadline=nan",)),
    ("deadline negative", {"deadline": -5}, ValueError, ("deadline=-5",)),
]:
    probe("download", name, lambda tmp_path, monkeypatch, kwargs=kwargs: data.download_mnist(tmp_path, **kwargs), error, *words)

# The student-notebook generator ---------------------------------------------------------------------


def generate(prose="", old=None, new=None):
    def action(tmp_path, monkeypatch):
        text = CHAPTER.replace("Some text,", f"{prose}\n\nSome text,") if prose else CHAPTER
        if old is not None:
            assert old in text, old
            text = text.replace(old, new)
        book = small_book(tmp_path, {"other": OTHER, "chapter": text})
        return notebooks.student_notebook(book.chapter("book/chapter"), book)

    return action


LEAK = "a code block in the prose holds a blank marker"
for pencil in "✎✏✐✍✒📝🖉🖊🖋🖍🖎":
    probe(
        "generator",
        f"{pencil} in a prose code block",
        generate(f"```python\nlayer = nn.Linear(3, 2)  # {pencil}\n```"),
        ChapterError,
        LEAK,
    )
for pencil in "✏🖍✍":
    probe(
        "generator", f"{pencil} as the marker", generate(old="# ✎", new=f"# {pencil}"), ChapterError, "looks like a blank marker"
    )
for name, prose in [
    ("code-block directive", "```{code-block} python\nlayer = nn.Linear(3, 2)  # ✎\n```"),
    ("hint admonition", "````{admonition} Hint\n:class: dropdown\n\n```python\nlayer = nn.Linear(3, 2)  # ✎\n```\n````"),
    ("::: note", ":::{note}\n```\nlayer = nn.Linear(3, 2)  # ✎\n```\n:::"),
    ("::: dropdown, indented code", ":::{dropdown} Peek\nTry:\n\n    layer = nn.Linear(3, 2)  # ✎\n:::"),
    ("nested ::: in ::::", "::::{tip}\n:::{note}\n```\nlayer = nn.Linear(3, 2)  # ✎\n```\n:::\n::::"),
    ("~~~ plain fence", "~~~python\nlayer = nn.Linear(3, 2)  # ✎\n~~~"),
]:
    probe("generator", name, generate(prose), ChapterError, LEAK, "chapter.md:")
probe("generator", "prose names the marker in inline code", generate("Lines marked `# ✎` are yours."), None, "Lines marked `# ✎`")
probe(
    "generator",
    "marker in exercise text's code",
    generate(old="Make a layer.", new="Make a layer.\n\n```\nlayer = nn.Linear(3, 2)  # ✎\n```"),
    ChapterError,
    LEAK,
)
probe(
    "generator",
    "solution-start without end",
    generate(old="```{solution-end}\n```\n\n```{code-cell} ipython3\ncheck(layer)\n```\n", new=""),
    ChapterError,
    "chapter.md:29: the solution opened here is never closed",
)
probe(
    "generator",
    "solution-end missing before the self-check",
    generate(old="```{solution-end}\n```\n", new=""),
    ChapterError,
    "chapter.md:29: the solution opened here is never closed",
)
probe(
    "generator",
    "solution-start misspelt",
    generate(old="{solution-start}", new="{solution-strat}"),
    ChapterError,
    "chapter.md:29: {solution-strat} is a misspelt directive: did you mean {solution-start}?",
)
probe(
    "generator",
    "marker outside a solution",
    generate(old="import torch\n", new="import torch  # ✎\n"),
    ChapterError,
    "marker outside a solution",
)
probe("generator", "solution cell without a marker", generate(old="  # ✎", new=""), ChapterError, "has no '# ✎' marker")
probe(
    "generator",
    "an answer line left unmarked beside a marked one",
    generate(old="print(layer)  # given\n", new="channels = 2\nprint(layer)  # given\n"),
    ChapterError,
    "chapter.md:39:",
    "'channels = 2' carries no marker",
)


def command_line(*arguments):
    def action(tmp_path, monkeypatch, arguments=arguments):
        (tmp_path / "empty").mkdir()
        (tmp_path / "a-file").write_text("")
        code = notebooks.main([argument.replace("{tmp}", str(tmp_path)) for argument in arguments])
        assert code == 2
        return "exit 2"

    return action


probe("generator", "--root missing", command_line("--root", "/no/such/folder"), None, "exit 2")
probe("generator", "--root a file", command_line("--root", "{tmp}/a-file"), None, "exit 2")
probe("generator", "--check on a folder with no chapter", command_line("--root", "{tmp}/empty", "--check"), None, "exit 2")

# Self-checks: whatever the student passes ----------------------------------------------------------


def student(check, *args):
    return lambda tmp_path, monkeypatch: check(*args)


class HalfForward(models.MNISTModel):
    """The first block written, the rest still blank."""

    def forward(self, x):
        x = torch.relu(self.maxpool(self.conv1(x)))
        x = None  # ✎ left blank
        return x


class ListForward(models.MNISTModel):
    def forward(self, x):
        return [
            self.fc2(
                torch.relu(self.fc1(torch.relu(self.maxpool(self.conv2(torch.relu(self.maxpool(self.conv1(x)))))).flatten(1)))
            )
        ]


class InfiniteLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_blocks = nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU())
        self.lin_blocks = nn.Sequential(nn.Flatten(), nn.Linear(1440, 10))

    def forward(self, x):
        return self.lin_blocks(self.conv_blocks(x)) / 0.0


class NaNLogits(InfiniteLogits):
    def forward(self, x):
        return self.lin_blocks(self.conv_blocks(x)) * float("nan")


def train_generator(model, train_loader, loss_fn, optimizer, device):
    for X, y in train_loader:
        yield loss_fn(model(X), y).item()


def predict_without_cat(model, test_loader, device):
    model.eval()
    true_batches, predicted_batches = [], []
    with torch.no_grad():
        for X, y in test_loader:
            predicted_batches.append(model(X).argmax(dim=1))
            true_batches.append(y)
    return torch.cat(true_batches), predicted_batches


def predict_with_gradients(model, test_loader, device):
    model.eval()
    outputs = [(model(X).argmax(dim=1), y) for X, y in test_loader]
    return torch.cat([y for _, y in outputs]), torch.cat([p for p, _ in outputs])


def crashing(*args):
    raise RuntimeError("boom")


model = models.MNISTModel()
SGD = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
for name, check, args, words in [
    ("1.1 None", checks.check_conv_layer, (None,), ("Task 1.1", "still a blank")),
    ("1.1 Ellipsis", checks.check_conv_layer, (...,), ("Task 1.1", "still a blank")),
    ("1.1 the class", checks.check_conv_layer, (nn.Conv2d,), ("Task 1.1", "the class Conv2d itself")),
    ("1.1 a string", checks.check_conv_layer, ("conv",), ("Task 1.1", "not nn.Conv2d")),
    (
        "1.1 float64 layer",
        checks.check_conv_layer,
        (nn.Conv2d(3, 2, 3, dtype=torch.float64),),
        ("Task 1.1", "torch.float64 weights"),
    ),
    ("1.1 meta layer", checks.check_conv_layer, (nn.Conv2d(3, 2, 3, device="meta"),), ("Task 1.1", "'meta' device")),
    ("1.1 padded too early", checks.check_conv_layer, (nn.Conv2d(3, 2, 3, padding=1),), ("Task 1.1", "padding=1")),
    ("1.1 padding 2", checks.check_padded_conv_layer, (nn.Conv2d(3, 2, 3, padding=2),), ("Task 1.1 (padding)", "padding=2")),
    ("1.2.1 indices", checks.check_pool_3x3, (nn.MaxPool2d(3, 1, return_indices=True),), ("Task 1.2.1", "return_indices=True")),
    ("1.2.1 a conv", checks.check_pool_3x3, (nn.Conv2d(3, 3, 3),), ("Task 1.2.1", "not nn.MaxPool2d")),
    ("1.2.2 a number", checks.check_pool_4x2, (4,), ("Task 1.2.2", "not nn.MaxPool2d")),
    ("2.1 None", checks.check_network, (None,), ("Task 2.1", "still a blank")),
    ("2.1 an int", checks.check_network, (3,), ("Task 2.1", "pass your nn.Module")),
    ("2.1 half-filled forward", checks.check_network, (HalfForward,), ("Task 2.1.4", "forward returned None")),
    ("2.1 forward returns a list", checks.check_network, (ListForward,), ("Task 2.1.4", "forward returned a list")),
    ("2.1 not a module", checks.check_network, (dict,), ("Task 2.1", "not an nn.Module")),
    (
        "2.2 all None",
        checks.check_loss_and_optimizer,
        (None, None, None),
        ("Task 2.2 (loss and optimiser)", "loss_fn is still None"),
    ),
    ("2.2 optimizer None", checks.check_loss_and_optimizer, (nn.CrossEntropyLoss(), None, model), ("optimizer is still None",)),
    (
        "2.2 SGD the class",
        checks.check_loss_and_optimizer,
        (nn.CrossEntropyLoss(), torch.optim.SGD, model),
        ("the class SGD itself",),
    ),
    ("2.2 model None", checks.check_loss_and_optimizer, (nn.CrossEntropyLoss(), SGD, None), ("model is None",)),
    (
        "2.2 model the class",
        checks.check_loss_and_optimizer,
        (nn.CrossEntropyLoss(), SGD, models.MNISTModel),
        ("the class MNISTModel",),
    ),
    (
        "2.2 loss the class",
        checks.check_loss_and_optimizer,
        (nn.CrossEntropyLoss, SGD, model),
        ("the class CrossEntropyLoss itself",),
    ),
    ("2.2 loss a number", checks.check_loss_and_optimizer, (0.5, SGD, model), ("not a loss",)),
    ("2.2 train None", checks.check_train_epoch, (None,), ("Task 2.2", "not a function")),
    ("2.2 train a generator", checks.check_train_epoch, (train_generator,), ("Task 2.2", "is a generator")),
    ("2.2 train crashes", checks.check_train_epoch, (crashing,), ("Task 2.2", "RuntimeError: boom")),
    ("2.3 predict None", checks.check_predict, (None,), ("Task 2.3", "not a function")),
    ("2.3 predict crashes", checks.check_predict, (crashing,), ("Task 2.3", "RuntimeError: boom")),
    ("2.3 predict without cat", checks.check_predict, (predict_without_cat,), ("y_pred is a list of 3 batches", "torch.cat")),
    ("2.3 predict without no_grad", checks.check_predict, (predict_with_gradients,), ("with gradients on", "torch.no_grad()")),
    ("2.3 scores None", checks.check_scores, (None,), ("Task 2.3 (scores)",)),
    ("2.3 scores crash", checks.check_scores, (crashing,), ("Task 2.3 (scores)", "boom")),
    ("3.1 None", checks.check_sequential_model, (None,), ("Task 3.1", "still a blank")),
    ("3.1 a list", checks.check_sequential_model, ([nn.Linear(1, 1)],), ("Task 3.1",)),
    ("3.2 Ellipsis", checks.check_regularised_model, (...,), ("Task 3.2", "still a blank")),
    ("3.3 infinite logits", checks.check_variant, (InfiniteLogits,), ("Task 3.3", "infinite values", "finite")),
    ("3.3 NaN logits", checks.check_variant, (NaNLogits,), ("Task 3.3", "NaN values")),
    ("3.3 a string", checks.check_variant, ("MyVariant",), ("Task 3.3",)),
    ("3.3 an int", checks.check_variant, (0,), ("Task 3.3",)),
]:
    probe("self-check", name, student(check, *args), SelfCheckError, *words)

# Helpers: arguments checked before PyTorch, NumPy or matplotlib sees them ---------------------------

image = np.ones((5, 5))
for name, action, error, words in [
    ("flatten_size(None)", call(models.flatten_size, None), TypeError, ("features=None", "nn.Module")),
    (
        "flatten_size(input_shape=28)",
        call(models.flatten_size, nn.Conv2d(1, 2, 3), input_shape=28),
        TypeError,
        ("input_shape=28", "(1, 28, 28)"),
    ),
    (
        "flatten_size(input_shape=(1, 0, 28))",
        call(models.flatten_size, nn.Conv2d(1, 2, 3), input_shape=(1, 0, 28)),
        TypeError,
        ("input_shape=(1, 0, 28)",),
    ),
    (
        "tensor_loader(numpy)",
        call(loaders.tensor_loader, np.zeros((4, 1)), torch.zeros(4), 2),
        TypeError,
        ("X is a ndarray", "torch.from_numpy"),
    ),
    ("tensor_loader(y numpy)", call(loaders.tensor_loader, torch.zeros(4, 1), np.zeros(4), 2), TypeError, ("y is a ndarray",)),
    (
        "tensor_loader(seed='0')",
        call(loaders.tensor_loader, torch.zeros(4, 1), torch.zeros(4), 2, True, "0"),
        TypeError,
        ("seed='0'",),
    ),
    (
        "tensor_loader(seed=-1)",
        call(loaders.tensor_loader, torch.zeros(4, 1), torch.zeros(4), 2, True, -1),
        ValueError,
        ("seed=-1",),
    ),
    (
        "tensor_loader(batch_size=0)",
        call(loaders.tensor_loader, torch.zeros(4, 1), torch.zeros(4), 0),
        ValueError,
        ("batch_size=0",),
    ),
    (
        "digit_grid(ncols=0)",
        call(figures.digit_grid, torch.zeros(2, 28, 28), [1, 2], ncols=0),
        ValueError,
        ("ncols=0 must be positive",),
    ),
    ("digit_grid(ncols=2.5)", call(figures.digit_grid, torch.zeros(2, 28, 28), [1, 2], ncols=2.5), TypeError, ("ncols=2.5",)),
    ("digit_grid(one image 2-D)", call(figures.digit_grid, torch.zeros(28, 28), [1]), ValueError, ("images has shape (28, 28)",)),
    ("loss_curve_figure(window=2.5)", call(figures.loss_curve_figure, [1.0, 0.5], window=2.5), TypeError, ("window=2.5",)),
    ("loss_curve_figure(window=0)", call(figures.loss_curve_figure, [1.0, 0.5], window=0), ValueError, ("window=0",)),
    ("loss_curve_figure([])", call(figures.loss_curve_figure, []), ValueError, ("losses is empty",)),
    (
        "digit_grid(the model's scores as y_pred)",
        call(figures.digit_grid, torch.zeros(2, 28, 28), [1, 2], torch.zeros(2, 10)),
        ValueError,
        ("y_pred has shape (2, 10)", "y_pred.argmax(dim=1)"),
    ),
    (
        "conv_layer_params(bias='no')",
        call(conv.conv_layer_params, 3, 2, 3, bias="no"),
        TypeError,
        ("bias='no' is not True or False", "bias=True", "bias=False"),
    ),
    (
        "feature_maps_figure(no maps)",
        call(figures.feature_maps_figure, np.ones((28, 28)), np.ones((0, 24, 24))),
        ValueError,
        ("no map at all",),
    ),
    (
        "feature_maps_figure(2-D maps)",
        call(figures.feature_maps_figure, np.ones((28, 28)), np.ones((24, 24))),
        ValueError,
        ("maps has shape (24, 24)",),
    ),
    (
        "confusion_figure(not square)",
        call(figures.confusion_figure, np.ones((2, 3))),
        ValueError,
        ("a confusion matrix is square",),
    ),
    (
        "recommended_threads(nan)",
        call(threads.recommended_threads, float("nan")),
        ValueError,
        ("cpus=nan is not a number of cores",),
    ),
    ("recommended_threads(0)", call(threads.recommended_threads, 0), ValueError, ("cpus=0",)),
    ("recommended_threads('2')", call(threads.recommended_threads, "2"), ValueError, ("cpus=2 is not",)),
    (
        "conv2d(bfloat16) works",
        call(lambda: conv.conv2d(torch.ones(4, 4, dtype=torch.bfloat16), torch.ones(2, 2)).shape),
        None,
        ("(3, 3)",),
    ),
    (
        "conv2d(padding=10**6)",
        call(conv.conv2d, image, np.ones((3, 3)), padding=10**6),
        ValueError,
        ("padding=1000000", "almost all zeros"),
    ),
    ("conv2d(padding=-1)", call(conv.conv2d, image, np.ones((3, 3)), padding=-1), ValueError, ("padding=-1",)),
    ("conv2d(3-D image)", call(conv.conv2d, np.ones((1, 5, 5)), np.ones((3, 3))), ValueError, ("image has shape (1, 5, 5)",)),
    (
        "conv2d(kernel too big)",
        call(conv.conv2d, np.ones((2, 2)), np.ones((3, 3))),
        ValueError,
        ("larger than the padded image",),
    ),
    ("conv2d(text image)", call(conv.conv2d, "image", np.ones((3, 3))), TypeError, ("image is a str",)),
    ("max_pool2d(kernel_size=[2, 2]) works", call(lambda: conv.max_pool2d(image, kernel_size=[2, 2]).shape), None, ("(2, 2)",)),
    ("max_pool2d(kernel_size=[2, 2, 2])", call(conv.max_pool2d, image, kernel_size=[2, 2, 2]), ValueError, ("has 3 entries",)),
    ("max_pool2d(kernel_size=0)", call(conv.max_pool2d, image, kernel_size=0), ValueError, ("kernel_size=0",)),
    ("conv_output_size(stride=0)", call(conv.conv_output_size, 28, 5, stride=0), ValueError, ("stride=0",)),
    ("confusion(num_classes=2.5)", call(metrics.confusion, [0, 1], [0, 1], num_classes=2.5), TypeError, ("num_classes=2.5",)),
    ("confusion(num_classes=0)", call(metrics.confusion, [0, 1], [0, 1], num_classes=0), ValueError, ("num_classes=0",)),
    ("confusion(label 10)", call(metrics.confusion, [0, 10], [0, 1]), ValueError, ("outside 0-9",)),
    ("confusion(lengths differ)", call(metrics.confusion, [0, 1], [0]), ValueError, ("y_true has 2 labels but y_pred has 1",)),
]:
    probe("helpers", name, action, error, *words)


def losses_that_require_grad(tmp_path, monkeypatch):
    weight = torch.ones(1, requires_grad=True)
    fig = figures.loss_curve_figure([(weight * 2.0).sum(), (weight * 1.0).sum()], window=2)
    return f"{fig.axes[0].lines[0].get_ydata().tolist()} drawn"


probe("helpers", "loss_curve_figure(losses kept as tensors)", losses_that_require_grad, None, "[2.0, 1.0] drawn")


def cgroup_period_zero(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("50000 0\n")
    return f"quota {threads.cpu_quota(tmp_path)}"


probe("helpers", "cgroup cpu.max with period 0", cgroup_period_zero, None, "quota None")

# The benchmark's command line: checked before anything trains -----------------------------------


def benchmark(*arguments):
    def action(tmp_path, monkeypatch, arguments=arguments):
        import contextlib
        import io

        stderr = io.StringIO()
        trained = []
        monkeypatch.setattr("cnnlab.benchmark.run_benchmark", lambda *args, **kwargs: trained.append(1))
        with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as caught:
            benchmark_script().main([argument.replace("{tmp}", str(tmp_path)) for argument in arguments])
        assert caught.value.code == 2 and not trained
        return stderr.getvalue()

    return action


probe("benchmark", "--threads 0", benchmark("--threads", "0"), None, "--threads 0 is not a number of threads")
probe("benchmark", "--threads -1", benchmark("--threads", "-1"), None, "--threads -1")
probe("benchmark", "--device bogus", benchmark("--device", "bogus"), None, "--device bogus is not a PyTorch device")
if not torch.accelerator.is_available():
    probe("benchmark", "--device cuda without one", benchmark("--device", "cuda"), None, "no cuda device")
probe("benchmark", "--json in a missing folder", benchmark("--json", "{tmp}/no/such/results.json"), None, "does not exist")
probe("benchmark", "--images 0", benchmark("--images", "0"), None, "must be positive")


def test_the_suite_is_broad():
    areas = {}
    for param in PROBES:
        area = param.id.split(":")[0]
        areas[area] = areas.get(area, 0) + 1
    assert sum(areas.values()) >= 100 and all(count >= 6 for count in areas.values()), areas
    print(json.dumps(areas))
