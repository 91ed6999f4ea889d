"""Brain tissue in MRI slices, read offline: the MNI152 template and its tissue maps, and a threshold baseline.

nilearn ships the MNI152 2009 T1-weighted template with its grey- and
white-matter probability maps and its brain mask inside its wheel. These
functions turn them into a small segmentation task: every pixel of an axial
slice is background, cerebrospinal fluid (CSF), grey matter or white matter.
The labels are each voxel's most probable tissue inside the brain mask, with
CSF where neither grey nor white matter is the most likely (its probability
taken as what the other two leave). They are an average of 152 brains, not a
radiologist's manual segmentation of one patient.

nilearn's brain mask is the T1 template itself thresholded at 0.2 of its
maximum (``load_mni152_brain_mask``), so the background label is exactly
"T1 intensity at most 0.2": an intensity threshold can read it back.

Reading the maps takes a few seconds (importing nilearn, resampling three
volumes), so :func:`load_slices` keeps the slices it made in the data cache
(``CNNLAB_DATA_DIR``, by default ``~/.cache/cnnlab``), in a file named after
everything that decides them: the resolution, the brain fraction, the
versions of nilearn and numpy and this module's own source. A change to any
of them names another file; a file that cannot be read is made again; a
cache that cannot be written to (the grader's is read-only) is left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import loaders, train
from .arguments import whole_number
from .data.cache import atomic_write, data_root

__all__ = [
    "TISSUES",
    "Slices",
    "ThresholdBaseline",
    "TissueNet",
    "add_noise",
    "gaussian_smooth",
    "load_slices",
    "pixel_accuracy",
    "recorded_seed_study",
    "scale_intensities",
    "seed_study_table",
    "seed_verdict",
    "train_network",
]

TISSUES = ("background", "CSF", "grey matter", "white matter")


@dataclass(frozen=True)
class Slices:
    """Axial slices of the template and their labels.

    Attributes
    ----------
    images : torch.Tensor
        float32 (N, 1, H, W), the T1 intensity scaled to 0-1 over the whole volume.
    labels : torch.Tensor
        int64 (N, H, W), one class of :data:`TISSUES` per pixel.
    z : torch.Tensor
        int64 (N,), the slice's index in the volume, from the bottom of the head.
    """

    images: torch.Tensor
    labels: torch.Tensor
    z: torch.Tensor

    def __len__(self) -> int:
        return len(self.z)

    def voxel_counts(self) -> dict[str, int]:
        """How many pixels of each tissue the slices hold."""
        counts = torch.bincount(self.labels.flatten(), minlength=len(TISSUES))
        return {name: int(count) for name, count in zip(TISSUES, counts)}


def tissue_labels(gm: np.ndarray, wm: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each voxel's most probable tissue inside ``mask``: 1 CSF, 2 grey, 3 white matter; 0 outside.

    CSF's probability is taken as what grey and white matter leave, ``1 - gm - wm``.

    Examples
    --------
    >>> tissue_labels(np.array([0.7, 0.1, 0.2, 0.9]), np.array([0.2, 0.8, 0.1, 0.0]), np.array([1, 1, 1, 0]))
    array([2, 3, 1, 0])
    """
    gm, wm = np.clip(gm, 0, 1), np.clip(wm, 0, 1)
    csf = np.clip(1 - gm - wm, 0, 1)
    labels = 1 + np.argmax(np.stack([csf, gm, wm]), axis=0)
    return np.where(np.asarray(mask) > 0, labels, 0).astype(np.int64)


def load_slices(resolution: int = 2, min_brain_fraction: float = 0.05) -> Slices:
    """The template's axial slices that hold some brain, with their tissue labels.

    Parameters
    ----------
    resolution : {1, 2}, default 2
        Voxel size in mm; at 2 mm a slice is 117 x 99 pixels (height by width).
    min_brain_fraction : float, default 0.05
        Keep only slices in which at least this fraction of the pixels is brain.

    Returns
    -------
    Slices
        Slices in order from the bottom of the head, oriented with the front of the head at the top.

    Raises
    ------
    ValueError
        If ``resolution`` is not 1 or 2, or ``min_brain_fraction`` is not between 0 and 1.
    """
    if resolution not in (1, 2) or isinstance(resolution, bool):
        raise ValueError(f"resolution={resolution!r} must be 1 or 2 (mm): nilearn ships the template at those two.")
    if not isinstance(min_brain_fraction, (int, float)) or not 0 <= min_brain_fraction < 1:
        raise ValueError(f"min_brain_fraction={min_brain_fraction!r} must lie between 0 and 1, for example 0.05.")
    path = slices_cache_path(resolution, min_brain_fraction)
    with contextlib.suppress(OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing or unreadable: made again
        with np.load(path) as saved:
            return Slices(*(torch.from_numpy(saved[name]) for name in ("images", "labels", "z")))
    slices = _slices_from_templates(resolution, min_brain_fraction)
    saved = io.BytesIO()
    np.savez_compressed(saved, images=slices.images.numpy(), labels=slices.labels.numpy(), z=slices.z.numpy())
    with contextlib.suppress(OSError):  # a cache that cannot be written to: the slices are made each time
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, saved.getvalue())
    return slices


def slices_cache_path(resolution: int, min_brain_fraction: float) -> Path:
    """The file in the data cache that holds :func:`load_slices`' slices, named after all that decides them.

    Examples
    --------
    >>> slices_cache_path(2, 0.05).name.startswith("tissue-slices-2mm-0.05-")
    True
    >>> slices_cache_path(2, 0.05) != slices_cache_path(2, 0.1)
    True
    """
    decided_by = [str(resolution), repr(float(min_brain_fraction)), version("nilearn"), np.__version__]
    digest = hashlib.sha256("\n".join(decided_by).encode() + Path(__file__).read_bytes()).hexdigest()[:16]
    return data_root() / f"tissue-slices-{resolution}mm-{float(min_brain_fraction):g}-{digest}.npz"


def _slices_from_templates(resolution: int, min_brain_fraction: float) -> Slices:
    """:func:`load_slices` without the cache: nilearn's template and tissue maps made into labelled slices."""
    from nilearn import datasets

    template = datasets.load_mni152_template(resolution=resolution)
    t1 = template.get_fdata()
    gm = datasets.load_mni152_gm_template(resolution=resolution).get_fdata()
    wm = datasets.load_mni152_wm_template(resolution=resolution).get_fdata()
    # nilearn's load_mni152_brain_mask is this very template above 0.2 (its default threshold), compared in the
    # template's float32; computing it here gives the same mask without resampling the template a second time.
    mask = np.asarray(template.dataobj) > 0.2
    labels = tissue_labels(gm, wm, mask)
    t1 = (t1 - t1.min()) / (t1.max() - t1.min())
    keep = [z for z in range(t1.shape[2]) if (labels[:, :, z] > 0).mean() >= min_brain_fraction]
    # Voxel axes (x, y) -> rows from the front of the head to the back, as mri.brain_slice shows them.
    images = np.stack([np.rot90(t1[:, :, z]) for z in keep])[:, None].astype(np.float32)
    classes = np.stack([np.rot90(labels[:, :, z]) for z in keep])
    return Slices(torch.from_numpy(images.copy()), torch.from_numpy(classes.copy()), torch.tensor(keep))


def add_noise(images: torch.Tensor, std: float, seed: int = 0, kind: str = "gaussian") -> torch.Tensor:
    """``images`` with noise of standard deviation ``std`` added.

    Parameters
    ----------
    images : torch.Tensor
        Float images, (N, 1, H, W).
    std : float
        Standard deviation of the noise, in the images' units (0.05 is 5% of a 0-1 range).
    seed : int, default 0
        Seed of the noise.
    kind : {"gaussian", "rician"}, default "gaussian"
        ``"gaussian"`` adds one normal draw per pixel, which can make a pixel negative.
        ``"rician"`` is what a magnitude MR image shows: Gaussian noise on the real and
        the imaginary channel of the signal, then the magnitude,
        ``sqrt((x + n1)**2 + n2**2)``, so that dark background turns into a positive
        haze (mean about ``1.25 * std``) and no pixel is negative.

    Raises
    ------
    TypeError
        If ``images`` is not a float tensor.
    ValueError
        If ``std`` is negative or not a number, or ``kind`` is not one of the two.

    Examples
    --------
    >>> add_noise(torch.zeros(1, 1, 2, 2), std=0.0).sum().item()
    0.0
    >>> bool((add_noise(torch.zeros(1, 1, 4, 4), std=0.1, kind="rician") >= 0).all())
    True
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(f"images is a {type(images).__name__}: pass a float tensor (N, 1, H, W).")
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not np.isfinite(std) or std < 0:
        raise ValueError(f"std={std!r} must be a non-negative number, for example 0.05 (5% of the intensity range).")
    if kind not in ("gaussian", "rician"):
        raise ValueError(f"kind={kind!r} is not a kind of noise: use 'gaussian' or 'rician'.")
    generator = torch.Generator().manual_seed(whole_number("seed", seed, minimum=0))
    real = std * torch.randn(images.shape, generator=generator).to(images)
    if kind == "gaussian":
        return images + real
    imaginary = std * torch.randn(images.shape, generator=generator).to(images)
    return torch.sqrt((images + real) ** 2 + imaginary**2)


def gaussian_smooth(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``images`` (N, 1, H, W) blurred by a Gaussian of standard deviation ``sigma`` pixels.

    The kernel is cut at three standard deviations and normalised to sum to 1;
    the borders are padded by reflection, so a constant image stays constant.
    ``sigma=0`` returns the images unchanged.

    Raises
    ------
    TypeError
        If ``images`` is not a float tensor (N, 1, H, W).
    ValueError
        If ``sigma`` is negative or not a number.

    Examples
    --------
    >>> image = torch.zeros(1, 1, 9, 9); image[0, 0, 4, 4] = 1.0
    >>> smoothed = gaussian_smooth(image, sigma=1.0)
    >>> round(smoothed.sum().item(), 4), smoothed[0, 0, 4, 4].item() < 1
    (1.0, True)
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.ndim != 4 or images.shape[1] != 1:
        shape = tuple(getattr(images, "shape", ()))
        raise TypeError(f"images is a {type(images).__name__} {shape}: pass a float tensor (N, 1, H, W).")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma={sigma!r} must be a non-negative number of pixels, for example 1.0.")
    if sigma == 0:
        return images.clone()
    radius = max(1, int(np.ceil(3 * sigma)))
    if radius >= min(images.shape[-2:]):
        raise ValueError(
            f"sigma={sigma} needs a kernel of radius {radius}, too wide for images {tuple(images.shape[-2:])}: "
            "use a smaller sigma."
        )
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.reshape(1, 1, -1, 1))  # blur along the height
    return F.conv2d(rows, kernel.reshape(1, 1, 1, -1))  # then along the width


def scale_intensities(reference: torch.Tensor, *images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``reference`` and every other image set scaled so that ``reference`` spans 0 to 1.

    Scale with the training images' minimum and maximum only, and apply the
    same two numbers to the test images: their own range then plays no part
    in what the model sees. Test images may fall a little outside 0-1.

    Raises
    ------
    ValueError
        If ``reference`` is constant (it has no range to scale by).

    Examples
    --------
    >>> train_images, test_images = scale_intensities(torch.tensor([2.0, 4.0]), torch.tensor([3.0, 5.0]))
    >>> train_images.tolist(), test_images.tolist()
    ([0.0, 1.0], [0.5, 1.5])
    """
    low, high = reference.min(), reference.max()
    if not high > low:
        raise ValueError(f"reference holds one value ({low.item()}): pass the training images, which must vary.")
    return tuple((x - low) / (high - low) for x in (reference, *images))


def pixel_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of pixels whose class is right.

    Examples
    --------
    >>> pixel_accuracy(torch.tensor([[0, 1], [2, 2]]), torch.tensor([[0, 1], [2, 3]]))
    0.75
    """
    if predicted.shape != labels.shape:
        raise ValueError(
            f"predicted has shape {tuple(predicted.shape)} but labels {tuple(labels.shape)}: pass one class per pixel."
        )
    return (predicted == labels).float().mean().item()


class ThresholdBaseline:
    """What a radiographer would try first: intensity thresholds, fitted on training slices.

    Each class gets the range of intensities between the midpoints of its
    mean and its neighbours' means (a nearest-mean classifier), so that
    thresholds sit where one tissue's typical brightness gives way to the next.

    Parameters
    ----------
    smoothing : float, default 0
        If positive, every image is first blurred by :func:`gaussian_smooth`
        with this standard deviation in pixels, when fitting and when
        predicting: the thresholds then judge a pixel by its neighbourhood
        too, the simplest spatial baseline to set against a CNN on noisy images.

    Examples
    --------
    >>> ThresholdBaseline(smoothing=1.0).smoothing
    1.0
    """

    def __init__(self, smoothing: float = 0.0) -> None:
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not np.isfinite(smoothing) or smoothing < 0:
            raise ValueError(f"smoothing={smoothing!r} must be a non-negative number of pixels, for example 1.0 (or 0 for none).")
        self.smoothing = float(smoothing)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        return gaussian_smooth(images, self.smoothing) if self.smoothing > 0 else images

    def fit(self, images: torch.Tensor, labels: torch.Tensor) -> ThresholdBaseline:
        """Learn each class's mean intensity from training slices."""
        values, classes = self._prepare(images)[:, 0].flatten(), labels.flatten()
        present = [c for c in range(len(TISSUES)) if (classes == c).any()]
        if len(present) < 2:
            raise ValueError("the training slices hold fewer than 2 classes: fit on slices that show the tissues.")
        self.means = {c: values[classes == c].mean().item() for c in present}
        return self

    @property
    def thresholds(self) -> list[tuple[float, int]]:
        """(upper bound, class) pairs in order of intensity."""
        order = sorted(self.means, key=self.means.get)
        bounds = [(self.means[a] + self.means[b]) / 2 for a, b in zip(order, order[1:])]
        return list(zip([*bounds, float("inf")], order))

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """The class of every pixel, (N, H, W)."""
        if not hasattr(self, "means"):
            raise RuntimeError("the baseline has no thresholds yet: call fit(train_images, train_labels) first.")
        values = self._prepare(images)[:, 0]
        predicted = torch.full(values.shape, -1, dtype=torch.int64)
        for bound, cls in reversed(self.thresholds):
            predicted[values < bound] = cls
        return predicted


def _size_keeping_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU())


class TissueNet(nn.Module):
    """The brain-tissue chapter's segmentation network (Exercise 4.2), for the chapters that build on it.

    A size-keeping block from 1 to 16 channels, 2x2 max-pooling, a block to 32
    channels, a transposed convolution back to the full size and 16 channels,
    padded where pooling rounded an odd side down, joined with the first
    block's maps (a skip connection), a block to 16 channels and a 1x1
    convolution to one score per tissue and pixel.

    Examples
    --------
    >>> TissueNet()(torch.zeros(2, 1, 13, 10)).shape
    torch.Size([2, 4, 13, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.down = _size_keeping_block(1, 16)
        self.pool = nn.MaxPool2d(2)
        self.middle = _size_keeping_block(16, 32)
        self.up = nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)
        self.head = nn.Sequential(_size_keeping_block(32, 16), nn.Conv2d(16, len(TISSUES), kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down(x)  # (N, 16, H, W)
        x = self.up(self.middle(self.pool(skip)))  # (N, 16, 2 * (H // 2), 2 * (W // 2))
        x = F.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))  # (N, 16, H, W)
        return self.head(torch.cat([skip, x], dim=1))  # (N, 4, H, W)


def train_network(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_steps: int = 150,
    seed: int = 0,
    device: torch.device | str = "cpu",
    channels_last: bool = False,
) -> TissueNet:
    """A :class:`TissueNet` trained as the brain-tissue chapter trains it, returned in ``eval()`` mode.

    Cross-entropy with each class weighted by the square root of its inverse
    frequency in ``labels``, SGD with momentum 0.9 and learning rate 0.1,
    batches of 8 slices, ``num_steps`` steps. With ``channels_last`` the
    network and the slices are stored in that memory format, as the
    brain-tissue chapter trains them (faster convolutions on a CPU; the same
    arithmetic in another order, so the weights differ in their last digits).

    Raises
    ------
    ValueError
        If ``images`` and ``labels`` do not hold the same slices, or a class is absent from ``labels``.
    """
    if images.ndim != 4 or labels.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(
            f"images {tuple(images.shape)} and labels {tuple(labels.shape)} do not match: "
            "pass (N, 1, H, W) slices and (N, H, W) labels."
        )
    counts = torch.bincount(labels.flatten(), minlength=len(TISSUES)).float()
    if (counts == 0).any():
        missing = [name for name, count in zip(TISSUES, counts) if count == 0]
        raise ValueError(f"the training labels hold no {', '.join(missing)}: train on slices that show every tissue.")
    weights = (counts.sum() / (len(TISSUES) * counts)).sqrt()
    train.seed_everything(whole_number("seed", seed, minimum=0))
    model = TissueNet().to(device)
    images = images.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = loaders.tensor_loader(images, labels.to(device), batch_size=8, shuffle=True, seed=seed)
    train.train_for_steps(model, loader, loss_fn, optimizer, device, num_steps, progress=False)
    return model.eval()


def seed_verdict(scores: list[float] | torch.Tensor | np.ndarray, baseline: float) -> str:
    """How a model's scores from several training seeds stand against one baseline score.

    Returns ``"higher on every seed"`` or ``"lower on every seed"`` when all
    the scores lie on one side of ``baseline``, and ``"on both sides, within
    the seed-to-seed spread"`` otherwise. Only the first two allow a
    conclusion, and only about the training's randomness: every seed is
    scored on the same test images, so the verdict says nothing about other
    images or other brains. NaN scores are left out.

    Raises
    ------
    ValueError
        If fewer than two scores are left, or ``baseline`` is not a number.

    Examples
    --------
    >>> seed_verdict([0.91, 0.93, 0.92], baseline=0.90)
    'higher on every seed'
    >>> seed_verdict([0.88, 0.93, 0.92], baseline=0.90)
    'on both sides, within the seed-to-seed spread'
    """
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    values = np.asarray(scores, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if len(values) < 2:
        raise ValueError(
            f"scores holds {len(values)} number(s) that are not NaN: pass one score per seed, from two seeds or more."
        )
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float, np.floating)) or not np.isfinite(baseline):
        raise ValueError(f"baseline={baseline!r} must be a finite number, the baseline's score.")
    if (values > baseline).all():
        return "higher on every seed"
    if (values < baseline).all():
        return "lower on every seed"
    return "on both sides, within the seed-to-seed spread"


def seed_study_table(
    rows: list[dict] | pd.DataFrame, baselines: tuple[str, ...] = ("intensity thresholds", "smoothed thresholds")
) -> pd.DataFrame:
    """The CNN's Dice over seeds beside each baseline's, per test condition and tissue, with a verdict per baseline.

    Parameters
    ----------
    rows : list of dict or pandas.DataFrame
        One row per method, seed and condition, as ``benchmarks/tissue_seeds.py``
        records them: ``method`` ("CNN" or a baseline's name), ``seed`` (None for
        a baseline, which has no randomness), ``condition`` and one Dice column per tissue.
    baselines : tuple of str
        The baselines to set against the CNN.

    Returns
    -------
    pandas.DataFrame
        Indexed by (condition, tissue): the CNN's ``seeds``, ``CNN mean``, ``CNN sd``,
        ``CNN min`` and ``CNN max``, each baseline's Dice, and ``CNN vs <baseline>``,
        the :func:`seed_verdict`.

    Raises
    ------
    ValueError
        If the rows hold fewer than two CNN seeds, or name no such baseline.

    Examples
    --------
    >>> rows = [{"method": "CNN", "seed": s, "condition": "clean", "CSF": d} for s, d in [(0, 0.8), (1, 0.9)]]
    >>> rows.append({"method": "thresholds", "seed": None, "condition": "clean", "CSF": 0.7})
    >>> seed_study_table(rows, baselines=("thresholds",))["CNN vs thresholds"].tolist()
    ['higher on every seed']
    """
    table = pd.DataFrame(rows)
    tissues = [name for name in TISSUES[1:] if name in table]
    cnn = table[table["method"] == "CNN"]
    if cnn["seed"].nunique() < 2:
        raise ValueError(f"the rows hold {cnn['seed'].nunique()} CNN seed(s): record two or more to see the spread.")
    missing = [name for name in baselines if name not in set(table["method"])]
    if missing:
        known = sorted(set(table["method"]) - {"CNN"})
        raise ValueError(f"the rows hold no baseline {missing}: pass baselines among {known}.")
    out = []
    for condition in table["condition"].unique():
        for name in tissues:
            scores = cnn.loc[cnn["condition"] == condition, name].to_numpy(dtype=float)
            row = {
                "condition": condition,
                "tissue": name,
                "seeds": len(scores),
                "CNN mean": scores.mean(),
                "CNN sd": scores.std(ddof=1),
                "CNN min": scores.min(),
                "CNN max": scores.max(),
            }
            for baseline in baselines:
                value = float(table.loc[(table["method"] == baseline) & (table["condition"] == condition), name].iloc[0])
                row[baseline] = value
                row[f"CNN vs {baseline}"] = seed_verdict(scores, value)
            out.append(row)
    return pd.DataFrame(out).set_index(["condition", "tissue"])


def recorded_seed_study() -> dict:
    """The recorded run of ``benchmarks/tissue_seeds.py``: the chapter's network from several seeds, and the baselines.

    Its ``rows`` feed :func:`seed_study_table`; the rest names the machine, the
    date, the number of steps, the test slab and the noise.

    Examples
    --------
    >>> record = recorded_seed_study()
    >>> {"date", "cpu", "rows", "test_slab"} <= set(record)
    True
    """
    path = resources.files("cnnlab") / "measurements" / "tissue-seeds.json"
    return json.loads(path.read_text(encoding="utf-8"))
