"""Saliency maps: which pixels a class score depends on, and the sanity check that tells a real map from an edge detector.

The reference methods of the saliency chapter, each equal to Captum's on the
same model and input (``tests/unit/test_saliency.py`` holds them to it):

* :func:`input_gradient`, the absolute gradient of one class score with
  respect to each pixel (Captum's ``Saliency``);
* :func:`gradient_times_input`, the signed gradient times the pixel
  (``InputXGradient``);
* :func:`occlusion`, the drop of the score when a patch of the image is
  blanked out, averaged over the patches that cover each pixel
  (``Occlusion``), with the patches from :func:`patch_masks`;
* :func:`grad_cam`, the last convolutional layer's feature maps weighted by
  their average gradient, after a ReLU, upsampled to the image (``LayerGradCam``
  followed by a bilinear ``LayerAttribution.interpolate``).

Every map has the images' shape ``(N, C, H, W)`` and is computed on the model
in ``eval()`` mode (the model is left in the mode it was in), for the score (the logit) of the class ``target`` names
for each image; no gradient or hook is left behind. :class:`RegionScores`
turns a segmentation network into a classifier of one region, so that the
same methods explain the score of a tissue on a slice.

The model parameter randomization test of Adebayo et al. (NeurIPS 2018):
:func:`layers_from_output` lists the layers to re-initialise, from the output
down, :func:`randomization_test` re-initialises them one after the other and
measures, with :func:`rank_correlation`, how much each map still resembles the
trained model's.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .arguments import whole_number

__all__ = [
    "RegionScores",
    "cascade",
    "evaluating",
    "grad_cam",
    "gradient_times_input",
    "input_gradient",
    "layer_gradients",
    "layers_from_output",
    "occlusion",
    "patch_masks",
    "randomization_test",
    "randomized_copy",
    "rank_correlation",
    "similarities",
    "paired_difference",
    "ssim",
]

Method = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block the model is in ``eval()`` mode; afterwards each of its modules is back in the mode it was in.

    Examples
    --------
    >>> model = nn.Sequential(nn.Dropout(0.5)).train()
    >>> with evaluating(model):
    ...     model.training
    False
    >>> model.training
    True
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, mode in modes:
            module.training = mode


def _check_images(images) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        found = (
            f"a {images.dtype} tensor of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else repr(images)[:60]
        )
        raise ValueError(f"images is {found}: pass a float tensor (N, C, H, W), e.g. X[:8] from a test batch.")


def _targets(target, images: torch.Tensor) -> torch.Tensor:
    """``target`` as one class index per image, on the images' device."""
    target = torch.as_tensor(target, device=images.device)
    if target.is_floating_point() or target.ndim > 1 or (target.ndim == 1 and len(target) != len(images)):
        raise ValueError(
            f"target={target.tolist() if target.numel() <= 8 else tuple(target.shape)} is not one class index per image: "
            f"pass an int or an integer tensor of {len(images)} classes, such as the labels y."
        )
    return target.long().expand(len(images))


def _scores(model: nn.Module, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The score (logit) of each image's target class, shape (N,)."""
    logits = model(images)
    if logits.ndim != 2:
        raise ValueError(
            f"the model returns shape {tuple(logits.shape)}, not one score per class (N, classes): "
            "wrap a segmentation network in RegionScores(model, region) to explain one region's score."
        )
    return logits.gather(1, target[:, None]).squeeze(1)


def input_gradient(model: nn.Module, images: torch.Tensor, target, absolute: bool = True) -> torch.Tensor:
    """The gradient of each image's ``target`` score with respect to its pixels, as absolute values by default.

    Parameters
    ----------
    model : nn.Module
        A classifier returning (N, classes) scores; it runs in ``eval()`` mode and is left in the mode it was in.
    images : torch.Tensor
        (N, C, H, W); left untouched.
    target : int or torch.Tensor
        The class whose score to explain, one per image.
    absolute : bool, default True
        Return ``|gradient|`` (Captum's ``Saliency``) or the signed gradient.

    Returns
    -------
    torch.Tensor
        (N, C, H, W), without gradient history; the model's parameters get no ``.grad``.

    Examples
    --------
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     _ = model[1].weight.copy_(torch.tensor([[1.0, -2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]]))
    >>> input_gradient(model, torch.zeros(1, 1, 2, 2), target=0).flatten().tolist()
    [1.0, 2.0, 0.0, 3.0]
    """
    _check_images(images)
    target = _targets(target, images)
    x = images.detach().clone().requires_grad_(True)
    with evaluating(model), torch.enable_grad():
        (gradient,) = torch.autograd.grad(_scores(model, x, target).sum(), x)
    return gradient.abs() if absolute else gradient


def gradient_times_input(model: nn.Module, images: torch.Tensor, target) -> torch.Tensor:
    """The signed input gradient times the image, pixel by pixel (Captum's ``InputXGradient``).

    Examples
    --------
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     _ = model[1].weight.copy_(torch.tensor([[3.0, -1.0]]))
    >>> gradient_times_input(model, torch.tensor([[[[2.0, 5.0]]]]), target=0).flatten().tolist()
    [6.0, -5.0]
    """
    return input_gradient(model, images, target, absolute=False) * images.detach()


def patch_masks(height: int, width: int, patch: int, stride: int) -> torch.Tensor:
    """Boolean masks of the square patches an occlusion map slides over an image, shape (P, height, width).

    Patches start every ``stride`` pixels along each side; where the last one
    would not reach the edge, one more starts, cut off at the edge, so that
    every pixel is covered (the positions Captum's ``Occlusion`` uses).

    Raises
    ------
    ValueError
        If ``patch`` is larger than the image or ``stride`` larger than ``patch`` (pixels would be skipped).

    Examples
    --------
    >>> masks = patch_masks(4, 5, patch=2, stride=2)
    >>> masks.shape, masks.sum(dim=0).min().item()
    (torch.Size([6, 4, 5]), 1)
    >>> masks[-1].int().tolist()
    [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]]
    """
    height, width = whole_number("height", height, minimum=1), whole_number("width", width, minimum=1)
    patch, stride = whole_number("patch", patch, minimum=1), whole_number("stride", stride, minimum=1)
    if patch > min(height, width):
        raise ValueError(f"patch={patch} is larger than the {height}x{width} image: use a patch of at most {min(height, width)}.")
    if stride > patch:
        raise ValueError(
            f"stride={stride} is larger than patch={patch}, so pixels between patches would never be covered: "
            "use stride <= patch."
        )
    rows = [i * stride for i in range(math.ceil((height - patch) / stride) + 1)]
    columns = [j * stride for j in range(math.ceil((width - patch) / stride) + 1)]
    masks = torch.zeros(len(rows) * len(columns), height, width, dtype=torch.bool)
    for k, (top, left) in enumerate((top, left) for top in rows for left in columns):
        masks[k, top : top + patch, left : left + patch] = True
    return masks


def occlusion(
    model: nn.Module,
    images: torch.Tensor,
    target,
    patch: int = 4,
    stride: int = 2,
    batch_size: int = 1024,
    masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """How much each image's ``target`` score drops when a patch around each pixel is set to 0 (Captum's ``Occlusion``).

    Every patch of :func:`patch_masks` is blanked out in turn; each pixel gets
    the average drop of the score over the patches that cover it. The occluded
    copies run through the model in batches of ``batch_size``, not one forward
    pass per patch.

    Parameters
    ----------
    masks : torch.Tensor, optional
        Boolean (P, H, W) regions to blank out instead of the square patches
        (``patch`` and ``stride`` are then unused); a pixel no region covers gets NaN.

    Returns
    -------
    torch.Tensor
        (N, C, H, W): the same value for every channel of a pixel.

    Examples
    --------
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))
    >>> with torch.no_grad():
    ...     _ = model[1].weight.fill_(1.0)
    >>> occlusion(model, torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]), target=0, patch=1, stride=1).flatten().tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    _check_images(images)
    target = _targets(target, images)
    batch_size = whole_number("batch_size", batch_size, minimum=1)
    if masks is None:
        masks = patch_masks(images.shape[-2], images.shape[-1], patch, stride)
    masks = masks.to(images.device)
    keep = (~masks)[:, None].to(images.dtype)  # (P, 1, H, W)
    maps = []
    with evaluating(model), torch.no_grad():
        original = _scores(model, images, target)
        for image, score, label in zip(images, original, target):
            occluded = image[None] * keep  # (P, C, H, W)
            drops = torch.cat(
                [score - _scores(model, chunk, label.expand(len(chunk))) for chunk in occluded.split(batch_size)]
            )  # (P,)
            total = torch.einsum("p,phw->hw", drops, masks.to(images.dtype))
            maps.append((total / masks.sum(dim=0)).expand_as(image))
    return torch.stack(maps)


def layer_gradients(model: nn.Module, images: torch.Tensor, target, layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer``'s output for the images, and the gradient of each image's ``target`` score with respect to it.

    A forward hook keeps the output; it is removed before returning, even if
    the model fails. The model runs in ``eval()`` mode, is left in the mode it was in, and its parameters get no ``.grad``.

    Returns
    -------
    (features, gradients) : two tensors of the layer's output shape, without gradient history.
    """
    _check_images(images)
    target = _targets(target, images)
    if not isinstance(layer, nn.Module) or not any(layer is module for module in model.modules()):
        raise ValueError(f"layer={type(layer).__name__} is not a layer of the model: pass one of its modules, e.g. model.conv2.")
    kept = {}

    def keep_output(module, inputs, output):
        kept["features"] = output

    hook = layer.register_forward_hook(keep_output)
    try:
        with evaluating(model), torch.enable_grad():
            scores = _scores(model, images.detach(), target)
            (gradients,) = torch.autograd.grad(scores.sum(), kept["features"])
    finally:
        hook.remove()
    return kept["features"].detach(), gradients


def grad_cam(model: nn.Module, images: torch.Tensor, target, layer: nn.Module) -> torch.Tensor:
    """Grad-CAM: ``layer``'s feature maps weighted by the average gradient of the score, ReLU, upsampled to the images.

    The feature maps and their gradients come from :func:`layer_gradients`,
    which leaves no hook behind. The map is upsampled bilinearly (``align_corners=False``).

    Returns
    -------
    torch.Tensor
        (N, 1, H, W), 0 or more.

    Examples
    --------
    >>> torch.manual_seed(0) is not None
    True
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    >>> grad_cam(model, torch.rand(2, 1, 8, 8), target=1, layer=model[0]).shape
    torch.Size([2, 1, 8, 8])
    >>> model[0]._forward_hooks
    OrderedDict()
    """
    features, gradients = layer_gradients(model, images, target, layer)  # (N, K, h, w) each
    weights = gradients.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    cam = F.relu((weights * features).sum(dim=1, keepdim=True))  # (N, 1, h, w)
    return F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False).detach()


class RegionScores(nn.Module):
    """A segmentation network seen as a classifier of one region: each class's scores summed over the region's pixels.

    ``RegionScores(model, region)(images)`` is ``(N, classes)``: for every
    class, its score summed over the pixels where ``region`` is True. The
    saliency methods then explain why the network gives a tissue to that region.

    Examples
    --------
    >>> segment = nn.Conv2d(1, 3, kernel_size=1)
    >>> region = torch.zeros(5, 4, dtype=torch.bool)
    >>> region[1:3, 1:3] = True
    >>> RegionScores(segment, region)(torch.rand(2, 1, 5, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, model: nn.Module, region: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(region, torch.Tensor) or region.dtype != torch.bool or region.ndim not in (2, 3):
            found = (
                f"a {region.dtype} tensor of shape {tuple(region.shape)}"
                if isinstance(region, torch.Tensor)
                else type(region).__name__
            )
            raise ValueError(f"region is {found}: pass a boolean mask (H, W) or (N, H, W), e.g. labels[0] == 2.")
        self.model = model
        self.register_buffer("region", region)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.model(x)  # (N, classes, H, W)
        if scores.shape[-2:] != self.region.shape[-2:]:
            raise ValueError(
                f"the region is {tuple(self.region.shape[-2:])} but the network's scores are {tuple(scores.shape[-2:])}: "
                "pass a mask of the slice's size."
            )
        return (scores * self.region.unsqueeze(-3)).sum(dim=(-2, -1))  # (N, classes)


def _batch_pair(maps, others) -> None:
    for name, value in (("maps", maps), ("others", others)):
        if not isinstance(value, torch.Tensor) or value.ndim < 2:
            raise ValueError(f"{name} is not a batch of maps: pass a tensor (N, ...) such as input_gradient's (N, 1, H, W).")
    if maps.shape != others.shape:
        raise ValueError(f"maps has shape {tuple(maps.shape)} but others {tuple(others.shape)}: compare maps of the same images.")


TIE_TOLERANCE = 1e-5
"""In an untied rank correlation, a value smaller in magnitude than this fraction of its map's largest counts as 0."""


def rank_correlation(maps: torch.Tensor, others: torch.Tensor, absolute: bool = True, untied: bool = False) -> torch.Tensor:
    """Spearman's rank correlation between each map and its counterpart, one number per image.

    Ties share their average rank. A map with no variation at all (a Grad-CAM
    that the ReLU zeroed everywhere) ranks nothing, and gets NaN.

    Parameters
    ----------
    maps, others : torch.Tensor
        Two batches of maps of the same shape, (N, ...).
    absolute : bool, default True
        Rank the absolute values (Adebayo et al. report both this and the signed ranks).
    untied : bool, default False
        Rank only the pixels where at least one of the two maps is not 0. Where
        both are 0 whatever the weights (the background of gradient ⊙ input on
        MNIST), the shared tie would otherwise count as agreement. A value
        whose magnitude is below :data:`TIE_TOLERANCE` times its map's largest
        counts as 0 here: an occlusion that hides only background changes the
        score by rounding error (about 1e-6 of a logit), not by exactly 0.

    Returns
    -------
    torch.Tensor
        (N,) float64, each between -1 and 1, or NaN.

    Examples
    --------
    >>> a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    >>> rank_correlation(a, torch.tensor([[10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0]])).tolist()
    [1.0, -1.0]

    Two maps that agree only on a shared background of zeros:

    >>> a, b = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 2.0]]), torch.tensor([[0.0, 0.0, 0.0, 0.0, 2.0, 1.0]])
    >>> round(rank_correlation(a, b).item(), 2), rank_correlation(a, b, untied=True).item()
    (0.92, -1.0)
    """
    _batch_pair(maps, others)
    a, b = (value.detach().flatten(1).double().cpu().numpy() for value in (maps, others))
    if absolute:
        a, b = np.abs(a), np.abs(b)
    from scipy.stats import rankdata  # here, not at the top: importing scipy.stats takes half a second

    if untied:
        a, b = _zero_below_tolerance(a), _zero_below_tolerance(b)
        return torch.tensor([float(_spearman(x[keep], y[keep], rankdata)) for x, y, keep in zip(a, b, (a != 0) | (b != 0))])
    return torch.from_numpy(_spearman(a, b, rankdata))


def _zero_below_tolerance(values: np.ndarray) -> np.ndarray:
    """``values`` (N, P) with each row's entries below TIE_TOLERANCE times its largest magnitude set to 0."""
    magnitude = np.abs(values)
    return np.where(magnitude < TIE_TOLERANCE * magnitude.max(axis=-1, keepdims=True), 0.0, values)


def _spearman(a: np.ndarray, b: np.ndarray, rankdata) -> np.ndarray:
    """Pearson's correlation of the ranks along the last axis; NaN where either has no variation."""
    if a.shape[-1] == 0:
        return np.full(a.shape[:-1], np.nan)
    ranks_a, ranks_b = (rankdata(values, axis=-1) for values in (a, b))
    ranks_a -= ranks_a.mean(axis=-1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ranks_a * ranks_b).sum(axis=-1) / np.sqrt((ranks_a**2).sum(axis=-1) * (ranks_b**2).sum(axis=-1))


def ssim(maps: torch.Tensor, others: torch.Tensor, window: int = 7) -> torch.Tensor:
    """The structural similarity (SSIM, Wang et al. 2004) of each map's absolute value with its counterpart's, one per image.

    Each map's absolute value is scaled by its largest value to 0-1 (a map
    that is 0 everywhere stays 0) and compared with the other's as scikit-image's
    ``structural_similarity(a, b, data_range=1)`` does by default: a uniform
    ``window`` x ``window`` window, the sample covariance, K1 = 0.01, K2 = 0.03,
    averaged over the windows that lie inside the map. Maps with several
    channels average their channels.

    Returns
    -------
    torch.Tensor
        (N,) float64, 1 for identical maps.

    Raises
    ------
    ValueError
        If the maps are not (N, C, H, W) of the same shape, or smaller than the window.

    Examples
    --------
    >>> a = torch.zeros(1, 1, 9, 9)
    >>> a[0, 0, 2:7, 3:6] = 1.0
    >>> ssim(a, 2 * a).item(), round(ssim(a, a.flip(-1).roll(2, -1)).item(), 3)
    (1.0, 0.093)
    """
    _batch_pair(maps, others)
    window = whole_number("window", window, minimum=2)
    if maps.ndim != 4 or min(maps.shape[-2:]) < window:
        raise ValueError(
            f"maps have shape {tuple(maps.shape)}: SSIM needs (N, C, H, W) maps of at least {window}x{window} pixels; "
            "pass a smaller window."
        )
    n, c, h, w = maps.shape

    def scaled(value: torch.Tensor) -> torch.Tensor:
        value = value.detach().double().abs().reshape(n * c, 1, h, w)
        top = value.amax(dim=(2, 3), keepdim=True)
        return torch.where(top > 0, value / top.clamp_min(torch.finfo(torch.float64).tiny), value)

    x, y = scaled(maps), scaled(others)
    mean = functools.partial(F.avg_pool2d, kernel_size=window, stride=1)
    count = window * window
    mu_x, mu_y = mean(x), mean(y)
    var_x = (mean(x * x) - mu_x**2) * count / (count - 1)
    var_y = (mean(y * y) - mu_y**2) * count / (count - 1)
    cov = (mean(x * y) - mu_x * mu_y) * count / (count - 1)
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.mean(dim=(1, 2, 3)).reshape(n, c).mean(dim=1)


SIMILARITIES = ("Spearman |.|", "Spearman signed", "Spearman |.| untied", "SSIM")


def similarities(maps: torch.Tensor, others: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each measure of :data:`SIMILARITIES` between each map and its counterpart: name -> (N,) values.

    Spearman's rank correlation of the absolute values and of the signed
    values (the two Adebayo et al. report), the absolute values' rank
    correlation within the pixels not tied at 0 in both maps, and :func:`ssim`.

    Examples
    --------
    >>> maps = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> {name: values.tolist() for name, values in similarities(maps, maps).items()}["SSIM"]
    [1.0, 1.0]
    """
    return dict(
        zip(
            SIMILARITIES,
            (
                rank_correlation(maps, others),
                rank_correlation(maps, others, absolute=False),
                rank_correlation(maps, others, untied=True),
                ssim(maps, others),
            ),
        )
    )


def paired_difference(values: torch.Tensor, null: torch.Tensor) -> tuple[float, float]:
    """The mean of ``values - null`` over the images, and the half-width of its 95% confidence interval.

    Images where either is NaN are left out. The interval is Student's t
    interval of the paired differences, valid for few images too.

    Examples
    --------
    >>> mean, half_width = paired_difference(torch.tensor([0.5, 0.7, 0.6, float("nan")]), torch.tensor([0.1, 0.2, 0.3, 0.4]))
    >>> round(mean, 3), round(half_width, 3)
    (0.4, 0.248)
    """
    difference = (values - null).double()
    difference = difference[~torch.isnan(difference)]
    if len(difference) < 2:
        return float("nan"), float("nan")
    from scipy.stats import t

    quantile = float(t.ppf(0.975, len(difference) - 1))
    return difference.mean().item(), quantile * difference.std().item() / math.sqrt(len(difference))


def layers_from_output(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers with weights of ``model``, named, from the output down: the modules that have ``reset_parameters``.

    The order is the reverse of the order in which the model defines them,
    which is the order its forward pass uses them in a network built layer
    after layer. ``reset_parameters`` draws a convolution's or a linear
    layer's weights and biases afresh, at random, as a new layer would; for
    batch normalisation it is not random: weight 1, bias 0, running mean 0 and
    variance 1, so that in ``eval()`` mode the layer passes its input on
    almost unchanged.

    Examples
    --------
    >>> [name for name, _ in layers_from_output(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)))]
    ['2', '0']
    """
    layers = [(name, module) for name, module in model.named_modules() if name and hasattr(module, "reset_parameters")]
    return layers[::-1]


def cascade(model: nn.Module, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Copies of ``model`` with more and more layers re-initialised, from the output down: (name, copy) pairs.

    One copy is randomized step by step, so each pair's model is the same
    object, with one more layer reset than at the step before; ``model``
    itself is untouched. The re-initialisation draws from ``seed`` and leaves
    PyTorch's global random state as it was.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> [name for name, _ in cascade(model)]
    ['2', '0']
    """
    seed = whole_number("seed", seed, minimum=0)
    randomized = copy.deepcopy(model)
    state = torch.Generator().manual_seed(seed).get_state()  # the state torch.manual_seed(seed) gives
    for name, layer in layers_from_output(randomized):
        callers = torch.random.get_rng_state()
        torch.random.set_rng_state(state)
        try:
            layer.reset_parameters()
            state = torch.random.get_rng_state()
        finally:
            torch.random.set_rng_state(callers)
        yield name, randomized


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer re-initialised (the last step of :func:`cascade`), from ``seed``.

    Two copies from different seeds are two independently randomized
    networks: how alike their maps are is what the randomization test's
    numbers are compared with (its null).

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(4, 2))
    >>> torch.equal(randomized_copy(model, 1)[0].weight, randomized_copy(model, 1)[0].weight)
    True
    >>> torch.equal(randomized_copy(model, 1)[0].weight, randomized_copy(model, 2)[0].weight)
    False
    """
    steps = list(cascade(model, seed))  # one copy, randomized further at each step
    return steps[-1][1] if steps else copy.deepcopy(model)


def randomization_test(model: nn.Module, method: Method, images: torch.Tensor, target, seed: int = 0) -> dict[str, float]:
    """The cascading model parameter randomization test: how much a method's maps survive re-initialised layers.

    The layers of a copy of ``model`` are re-initialised one after the other,
    from the output down (:func:`cascade`); after each, ``method`` maps the
    images again and the mean :func:`rank_correlation` of the absolute values
    with the trained model's maps is recorded.

    Parameters
    ----------
    method : callable
        ``method(model, images, target)`` returning maps, such as :func:`input_gradient`.
    seed : int, default 0
        Seed of the re-initialisation, so that every method meets the same random weights.

    Returns
    -------
    dict
        Layer name to mean rank correlation over the images (NaN maps left out), in the order randomized.
    """
    original = method(model, images, target)
    return {
        name: rank_correlation(original, method(randomized, images, target)).nanmean().item()
        for name, randomized in cascade(model, seed)
    }
