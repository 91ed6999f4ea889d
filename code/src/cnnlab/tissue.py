"""Brain tissue in MRI slices, read offline: the MNI152 template and its tissue maps, and a threshold baseline.

nilearn ships the MNI152 2009 T1-weighted template with its grey- and
white-matter probability maps and its brain mask inside its wheel. These
functions turn them into a small segmentation task: every pixel of an axial
slice is background, cerebrospinal fluid (CSF), grey matter or white matter.
The labels are each voxel's most probable tissue inside the brain mask, with
CSF where neither grey nor white matter is the most likely (its probability
taken as what the other two leave). They are an average of 152 brains, not a
radiologist's manual segmentation of one patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import loaders, train
from .arguments import whole_number

__all__ = ["TISSUES", "Slices", "ThresholdBaseline", "TissueNet", "add_noise", "load_slices", "pixel_accuracy", "train_network"]

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
        Voxel size in mm; at 2 mm a slice is 99 x 117 pixels.
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
    from nilearn import datasets

    if resolution not in (1, 2) or isinstance(resolution, bool):
        raise ValueError(f"resolution={resolution!r} must be 1 or 2 (mm): nilearn ships the template at those two.")
    if not isinstance(min_brain_fraction, (int, float)) or not 0 <= min_brain_fraction < 1:
        raise ValueError(f"min_brain_fraction={min_brain_fraction!r} must lie between 0 and 1, for example 0.05.")
    t1 = datasets.load_mni152_template(resolution=resolution).get_fdata()
    gm = datasets.load_mni152_gm_template(resolution=resolution).get_fdata()
    wm = datasets.load_mni152_wm_template(resolution=resolution).get_fdata()
    mask = datasets.load_mni152_brain_mask(resolution=resolution).get_fdata()
    labels = tissue_labels(gm, wm, mask)
    t1 = (t1 - t1.min()) / (t1.max() - t1.min())
    keep = [z for z in range(t1.shape[2]) if (labels[:, :, z] > 0).mean() >= min_brain_fraction]
    # Voxel axes (x, y) -> rows from the front of the head to the back, as mri.brain_slice shows them.
    images = np.stack([np.rot90(t1[:, :, z]) for z in keep])[:, None].astype(np.float32)
    classes = np.stack([np.rot90(labels[:, :, z]) for z in keep])
    return Slices(torch.from_numpy(images.copy()), torch.from_numpy(classes.copy()), torch.tensor(keep))


def add_noise(images: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """``images`` with Gaussian noise of standard deviation ``std`` added, as from a lower-quality scanner.

    Examples
    --------
    >>> add_noise(torch.zeros(1, 1, 2, 2), std=0.0).sum().item()
    0.0
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(f"images is a {type(images).__name__}: pass a float tensor (N, 1, H, W).")
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not np.isfinite(std) or std < 0:
        raise ValueError(f"std={std!r} must be a non-negative number, for example 0.05 (5% of the intensity range).")
    generator = torch.Generator().manual_seed(whole_number("seed", seed, minimum=0))
    return images + std * torch.randn(images.shape, generator=generator).to(images)


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
    """

    def fit(self, images: torch.Tensor, labels: torch.Tensor) -> ThresholdBaseline:
        """Learn each class's mean intensity from training slices."""
        values, classes = images[:, 0].flatten(), labels.flatten()
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
        values = images[:, 0]
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
    images: torch.Tensor, labels: torch.Tensor, num_steps: int = 150, seed: int = 0, device: torch.device | str = "cpu"
) -> TissueNet:
    """A :class:`TissueNet` trained as the brain-tissue chapter trains it, returned in ``eval()`` mode.

    Cross-entropy with each class weighted by the square root of its inverse
    frequency in ``labels``, SGD with momentum 0.9 and learning rate 0.1,
    batches of 8 slices, ``num_steps`` steps.

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
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = loaders.tensor_loader(images.to(device), labels.to(device), batch_size=8, shuffle=True, seed=seed)
    train.train_for_steps(model, loader, loss_fn, optimizer, device, num_steps, progress=False)
    return model.eval()
