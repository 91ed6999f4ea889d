"""Tests of cnnlab.saliency: each reference map equals Captum's on the same model and input, and the randomization test.

The tolerance is float32's: the book's and Captum's maps run the same
operations in a different order (a sum of scores against a gradient per
target, batches of occluded copies of another size), so they agree to about
1e-6 of the map's largest value.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from captum.attr import InputXGradient, LayerAttribution, LayerGradCam, Occlusion, Saliency
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from cnnlab import models, saliency, tissue

TOLERANCE = 1e-5


def assert_same_map(book: torch.Tensor, captum: torch.Tensor) -> None:
    assert book.shape == captum.shape
    scale = captum.abs().max().item()
    assert scale > 0, "a map that is zero everywhere shows nothing"
    assert (book - captum.detach()).abs().max().item() <= TOLERANCE * scale


@pytest.fixture(autouse=True)
def quiet_captum():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
        yield


def classifier_with_batchnorm_and_dropout() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(8 * 9 * 9, 4),
    )
    model[1].running_mean.uniform_(-1, 1)
    return model.train()


def mnist_model() -> nn.Module:
    torch.manual_seed(0)
    return models.MNISTModel()


# Each model with the size of image it takes.
MODELS = {"MNISTModel": (mnist_model, 28), "batchnorm and dropout": (classifier_with_batchnorm_and_dropout, 24)}


@pytest.fixture(params=list(MODELS))
def case(request):
    build, size = MODELS[request.param]
    images = torch.rand(5, 1, size, size, generator=torch.Generator().manual_seed(2))
    return build(), images, torch.tensor([0, 3, 1, 2, 3])


def test_input_gradient_is_captums_saliency(case):
    model, images, target = case
    book = saliency.input_gradient(model, images, target)
    assert model.training, "the model goes back to the mode it was in"
    assert_same_map(book, Saliency(model.eval()).attribute(images, target=target, abs=True))
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not images.requires_grad and images.grad is None


def test_gradient_times_input_is_captums(case):
    model, images, target = case
    model.eval()
    assert_same_map(saliency.gradient_times_input(model, images, target), InputXGradient(model).attribute(images, target=target))


@pytest.mark.parametrize(("patch", "stride"), [(4, 2), (5, 3), (3, 3)])
def test_occlusion_is_captums(case, patch, stride):
    model, images, target = case
    book = saliency.occlusion(model, images, target, patch=patch, stride=stride, batch_size=7)
    model.eval()
    window, strides = (1, patch, patch), (1, stride, stride)
    captum = Occlusion(model).attribute(
        images, sliding_window_shapes=window, strides=strides, target=target, baselines=0, perturbations_per_eval=64
    )
    assert_same_map(book, captum)


def test_grad_cam_is_captums_upsampled_bilinearly(case):
    model, images, target = case
    layer = [module for module in model.modules() if isinstance(module, nn.Conv2d)][-1]
    book = saliency.grad_cam(model, images, target, layer)
    model.eval()
    captum = LayerGradCam(model, layer).attribute(images, target=target, relu_attributions=True)
    assert_same_map(book, LayerAttribution.interpolate(captum, images.shape[-2:], interpolate_mode="bilinear"))
    assert not layer._forward_hooks and not layer._backward_hooks
    assert all(parameter.grad is None for parameter in model.parameters())


def test_grad_cam_removes_its_hook_when_the_model_fails():
    model = models.MNISTModel()
    with pytest.raises(RuntimeError):
        saliency.grad_cam(model, torch.rand(2, 1, 20, 20), 1, model.conv2)  # 20x20 does not fit fc1
    assert not model.conv2._forward_hooks


def test_maps_can_be_asked_for_under_no_grad():
    model, images = models.MNISTModel(), torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        gradient = saliency.input_gradient(model, images, 0)
        cam = saliency.grad_cam(model, images, 0, model.conv2)
    assert gradient.shape == images.shape and cam.shape == images.shape


def test_region_scores_explain_a_segmentation_network_like_a_classifier():
    torch.manual_seed(0)
    network = tissue.TissueNet().eval()
    image = torch.rand(1, 1, 21, 18)
    region = torch.zeros(21, 18, dtype=torch.bool)
    region[5:9, 4:8] = True
    scores = saliency.RegionScores(network, region)(image)
    with torch.no_grad():
        expected = network(image)[:, :, 5:9, 4:8].sum(dim=(2, 3))
    assert torch.allclose(scores.detach(), expected, atol=1e-5)
    gradient = saliency.input_gradient(saliency.RegionScores(network, region), image, 2)
    assert_same_map(gradient, Saliency(saliency.RegionScores(network, region)).attribute(image, target=2, abs=True))


@settings(max_examples=40, deadline=None)
@given(height=st.integers(3, 30), width=st.integers(3, 30), patch=st.integers(1, 8), stride=st.integers(1, 8))
def test_patches_cover_every_pixel_with_captums_count(height, width, patch, stride):
    if patch > min(height, width) or stride > patch:
        with pytest.raises(ValueError, match="patch=|stride="):
            saliency.patch_masks(height, width, patch, stride)
        return
    masks = saliency.patch_masks(height, width, patch, stride)
    assert masks.sum(dim=0).min() >= 1, "every pixel lies under some patch"
    counts = [int(np.ceil((side - patch) / stride)) + 1 for side in (height, width)]
    assert len(masks) == counts[0] * counts[1]
    assert masks.sum(dim=(1, 2)).max() == patch * patch


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_rank_correlation_is_scipys_spearman_with_ties(data):
    size = data.draw(st.integers(3, 30))
    values = st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.0, 0.5, 1.0, 3.0]), min_size=size, max_size=size)
    a, b = torch.tensor([data.draw(values)]), torch.tensor([data.draw(values)])
    for absolute in (True, False):
        x, y = (a.abs(), b.abs()) if absolute else (a, b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns where a map is constant, and returns NaN as the book does
            expected = spearmanr(x[0].numpy(), y[0].numpy()).statistic
        found = saliency.rank_correlation(a, b, absolute=absolute).item()
        assert (np.isnan(found) and np.isnan(expected)) or found == pytest.approx(expected, abs=1e-9)


def test_layers_from_output_run_from_the_last_layer_down():
    assert [name for name, _ in saliency.layers_from_output(models.MNISTModel())] == ["fc2", "fc1", "conv2", "conv1"]


def test_randomization_test_leaves_the_model_and_the_random_state_as_they_were():
    torch.manual_seed(0)
    model = models.MNISTModel()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    images, target = torch.rand(6, 1, 28, 28), torch.arange(6)
    state = torch.random.get_rng_state()
    first = saliency.randomization_test(model, saliency.input_gradient, images, target, seed=3)
    assert list(first) == ["fc2", "fc1", "conv2", "conv1"]
    assert all(-1 <= value <= 1 for value in first.values())
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    assert torch.equal(torch.random.get_rng_state(), state)
    assert saliency.randomization_test(model, saliency.input_gradient, images, target, seed=3) == first


def test_a_map_of_the_image_alone_survives_every_randomization():
    torch.manual_seed(0)
    model = models.MNISTModel()
    images = torch.zeros(8, 1, 28, 28)
    images[:, :, 8:20, 10:16] = torch.rand(8, 1, 12, 6)

    def edges(network, x, target):
        return x.diff(dim=-1, prepend=x[..., :1]).abs()

    assert set(saliency.randomization_test(model, edges, images, 0).values()) == {1.0}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m: saliency.input_gradient(m, torch.rand(2, 28, 28), 0),
            r"images is a torch.float32 tensor of shape \(2, 28, 28\)",
        ),
        (
            lambda m: saliency.input_gradient(m, torch.rand(2, 1, 28, 28), torch.tensor([1, 2, 3])),
            "not one class index per image",
        ),
        (lambda m: saliency.input_gradient(m, torch.rand(2, 1, 28, 28), 0.5), "not one class index per image"),
        (lambda m: saliency.occlusion(m, torch.rand(1, 1, 28, 28), 0, patch=30), "patch=30 is larger than the 28x28 image"),
        (lambda m: saliency.occlusion(m, torch.rand(1, 1, 28, 28), 0, patch=3, stride=4), "stride=4 is larger than patch=3"),
        (lambda m: saliency.grad_cam(m, torch.rand(1, 1, 28, 28), 0, nn.Conv2d(1, 1, 3)), "is not a layer of the model"),
        (lambda m: saliency.rank_correlation(torch.rand(2, 4), torch.rand(3, 4)), r"maps has shape \(2, 4\) but others \(3, 4\)"),
        (lambda m: saliency.RegionScores(m, torch.ones(28, 28)), "region is a torch.float32 tensor"),
        (
            lambda m: saliency.input_gradient(tissue.TissueNet(), torch.rand(1, 1, 8, 8), 0),
            "wrap a segmentation network in RegionScores",
        ),
    ],
)
def test_bad_arguments_say_what_to_pass(call, message):
    with pytest.raises(ValueError, match=message):
        call(models.MNISTModel())


def test_maps_leave_the_model_in_its_mode_and_its_gradients_as_they_were():
    torch.manual_seed(0)
    model = classifier_with_batchnorm_and_dropout()
    model[1].eval()  # a mixed model: every module must get its own mode back
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    images = torch.rand(2, 1, 24, 24)
    saliency.input_gradient(model, images, 1)
    saliency.grad_cam(model, images, 1, model[4])
    saliency.occlusion(model, images, 1, patch=6, stride=6)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True, True, True, True]
    assert all(torch.equal(parameter.grad, torch.ones_like(parameter)) for parameter in model.parameters())


def ssim_by_windows(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """SSIM written out window by window (Wang et al. 2004, scikit-image's defaults), on maps scaled to 0-1."""
    a, b = np.abs(a) / np.abs(a).max(), np.abs(b) / np.abs(b).max()
    values = []
    for i in range(a.shape[0] - window + 1):
        for j in range(a.shape[1] - window + 1):
            x, y = a[i : i + window, j : j + window].ravel(), b[i : i + window, j : j + window].ravel()
            covariance = np.cov(x, y)
            numerator = (2 * x.mean() * y.mean() + 1e-4) * (2 * covariance[0, 1] + 9e-4)
            denominator = (x.mean() ** 2 + y.mean() ** 2 + 1e-4) * (covariance[0, 0] + covariance[1, 1] + 9e-4)
            values.append(numerator / denominator)
    return float(np.mean(values))


def test_ssim_is_the_window_by_window_formula():
    generator = torch.Generator().manual_seed(0)
    maps, others = torch.randn(3, 1, 11, 9, generator=generator), torch.randn(3, 1, 11, 9, generator=generator)
    others[1] = maps[1] * 3  # the same map, scaled: SSIM 1
    found = saliency.ssim(maps, others)
    expected = [ssim_by_windows(a[0].double().numpy(), b[0].double().numpy()) for a, b in zip(maps, others)]
    assert found.tolist() == pytest.approx(expected, abs=1e-9)
    assert found[1].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 7x7"):
        saliency.ssim(torch.rand(1, 1, 5, 5), torch.rand(1, 1, 5, 5))


def test_untied_rank_correlation_leaves_out_the_shared_zeros_only():
    a = torch.tensor([[0.0, 0.0, 0.0, 3.0, 1.0, 2.0, 0.0]])
    b = torch.tensor([[0.0, 0.0, 0.0, 1.0, 3.0, 2.0, 5.0]])
    kept = (a != 0) | (b != 0)
    expected = spearmanr(a[kept].numpy(), b[kept].numpy()).statistic
    assert saliency.rank_correlation(a, b, untied=True).item() == pytest.approx(expected)
    assert saliency.rank_correlation(a, b).item() > saliency.rank_correlation(a, b, untied=True).item()
    assert np.isnan(saliency.rank_correlation(torch.zeros(1, 4), torch.zeros(1, 4), untied=True).item())


def test_untied_rank_correlation_treats_rounding_error_as_zero():
    a = torch.tensor([[0.0, 1e-7, -1e-7, 3.0, 1.0, 2.0, 0.0]])  # background drops of rounding size
    b = torch.tensor([[0.0, 0.0, 0.0, 1.0, 3.0, 2.0, 5.0]])
    cleaned = torch.tensor([[0.0, 0.0, 0.0, 3.0, 1.0, 2.0, 0.0]])
    assert saliency.rank_correlation(a, b, untied=True).item() == pytest.approx(
        saliency.rank_correlation(cleaned, b, untied=True).item()
    )
    large = a * 1e6  # relative to the map's largest: the same pattern, scaled, is still rounding error
    assert saliency.rank_correlation(large, b, untied=True).item() == pytest.approx(
        saliency.rank_correlation(cleaned, b, untied=True).item()
    )
    kept = torch.tensor([[0.0, 1e-3, -1e-3, 3.0, 1.0, 2.0, 0.0]])  # 1e-3 of the largest is a value, not a tie
    assert saliency.rank_correlation(kept, b, untied=True).item() != pytest.approx(
        saliency.rank_correlation(cleaned, b, untied=True).item()
    )


def test_cascade_and_randomized_copies_are_seeded_and_leave_the_global_random_state():
    model = models.MNISTModel()
    state = torch.random.get_rng_state()
    steps = [(name, copy_.fc2.weight.clone(), copy_.conv1.weight.clone()) for name, copy_ in saliency.cascade(model, seed=4)]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [name for name, *_ in steps] == ["fc2", "fc1", "conv2", "conv1"]
    assert torch.equal(steps[0][2], model.conv1.weight), "conv1 is still trained after the first step"
    assert not torch.equal(steps[-1][2], model.conv1.weight)
    last = saliency.randomized_copy(model, seed=4)
    assert torch.equal(last.conv1.weight, steps[-1][2]) and torch.equal(last.fc2.weight, steps[-1][1])
    assert not torch.equal(saliency.randomized_copy(model, seed=5).fc2.weight, last.fc2.weight)


def test_paired_difference_uses_students_t():
    values, null = torch.tensor([0.3, 0.5, 0.4, 0.6]), torch.tensor([0.1, 0.1, 0.1, 0.1])
    mean, half_width = saliency.paired_difference(values, null)
    assert mean == pytest.approx(0.35) and half_width == pytest.approx(3.182446 * np.std([0.2, 0.4, 0.3, 0.5], ddof=1) / 2)
    assert all(np.isnan(saliency.paired_difference(torch.tensor([1.0]), torch.tensor([0.0]))))


def test_similarities_name_every_measure():
    maps = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    result = saliency.similarities(maps, -maps)
    assert list(result) == list(saliency.SIMILARITIES)
    assert result["Spearman |.|"].tolist() == [1.0, 1.0] and result["Spearman signed"].tolist() == [-1.0, -1.0]
