"""Tests of cnnlab.tissue: the template's tissue labels, its slices, noise, accuracy and the threshold baseline."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from cnnlab import figures, tissue


@pytest.fixture(scope="module")
def slices():
    return tissue.load_slices(resolution=2)


def test_slices_hold_the_brain_with_its_imbalance(slices):
    assert slices.images.shape[1:] == (1, 117, 99) and slices.images.dtype == torch.float32
    assert slices.labels.shape == (len(slices), 117, 99) and slices.labels.dtype == torch.int64
    assert 0 <= slices.images.min() and slices.images.max() <= 1
    assert torch.all(slices.z[1:] > slices.z[:-1]), "slices in order from the bottom of the head"
    counts = slices.voxel_counts()
    assert set(counts) == set(tissue.TISSUES)
    # The whole volume at 2 mm has about 20,000 CSF, 136,000 grey and 79,000 white matter voxels.
    assert (
        15_000 < counts["CSF"] < 25_000 and 120_000 < counts["grey matter"] < 150_000 and 70_000 < counts["white matter"] < 90_000
    )
    assert counts["background"] > counts["grey matter"] > counts["white matter"] > counts["CSF"]
    for z in range(len(slices)):
        assert (slices.labels[z] > 0).float().mean() >= 0.05


def test_white_matter_is_brighter_than_grey_matter_than_csf_in_t1(slices):
    means = [slices.images[:, 0][slices.labels == c].mean().item() for c in (1, 2, 3)]
    assert means[0] < means[1] < means[2]


def test_tissue_labels_take_the_most_probable_tissue():
    gm = np.array([0.6, 0.3, 0.2, 0.45, 0.9])
    wm = np.array([0.3, 0.6, 0.1, 0.45, 0.1])
    mask = np.array([1, 1, 1, 1, 0])
    assert tissue.tissue_labels(gm, wm, mask).tolist() == [2, 3, 1, 2, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resolution": 3}, "resolution=3 must be 1 or 2"),
        ({"min_brain_fraction": 1.5}, "min_brain_fraction=1.5 must lie between 0 and 1"),
    ],
)
def test_load_slices_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tissue.load_slices(**kwargs)


def test_noise_is_seeded_and_checked():
    images = torch.zeros(2, 1, 50, 50)
    noisy = tissue.add_noise(images, std=0.1, seed=3)
    assert torch.equal(noisy, tissue.add_noise(images, std=0.1, seed=3))
    assert noisy.std().item() == pytest.approx(0.1, rel=0.1)
    with pytest.raises(ValueError, match="std=-1 must be a non-negative number"):
        tissue.add_noise(images, std=-1)
    with pytest.raises(TypeError, match="pass a float tensor"):
        tissue.add_noise(np.zeros((1, 1, 2, 2)), std=0.1)


def test_pixel_accuracy_and_its_shape_check():
    assert tissue.pixel_accuracy(torch.tensor([1, 2]), torch.tensor([1, 3])) == 0.5
    with pytest.raises(ValueError, match=r"predicted has shape \(2,\) but labels \(3,\)"):
        tissue.pixel_accuracy(torch.tensor([1, 2]), torch.tensor([1, 2, 3]))


def test_threshold_baseline_orders_classes_by_brightness():
    images = torch.tensor([0.0, 0.1, 0.3, 0.35, 0.6, 0.7, 0.9, 1.0]).reshape(1, 1, 2, 4)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]).reshape(1, 2, 4)
    baseline = tissue.ThresholdBaseline().fit(images, labels)
    assert [cls for _, cls in baseline.thresholds] == [0, 1, 2, 3]
    assert torch.equal(baseline.predict(images), labels)
    assert baseline.predict(torch.tensor([0.2, 0.5]).reshape(1, 1, 1, 2)).tolist() == [[[1, 2]]]
    with pytest.raises(RuntimeError, match="call fit"):
        tissue.ThresholdBaseline().predict(images)
    with pytest.raises(ValueError, match="fewer than 2 classes"):
        tissue.ThresholdBaseline().fit(images, torch.zeros_like(labels))


def test_segmentation_figure_colours_every_map(slices):
    fig = figures.segmentation_figure(slices.images[30, 0], slices.labels[30], {"guess": slices.labels[30]}, names=tissue.TISSUES)
    assert [ax.get_title() for ax in fig.axes] == ["MRI slice", "labels", "guess"]
    assert [len(ax.images) for ax in fig.axes] == [1, 2, 2]
    assert [text.get_text() for text in fig.legends[0].get_texts()] == list(tissue.TISSUES[1:])
    plt.close(fig)
    with pytest.raises(ValueError, match=r"the labels map holds classes outside 0-3"):
        figures.segmentation_figure(np.zeros((3, 3)), np.full((3, 3), 7))
    with pytest.raises(ValueError, match=r"the guess map has shape \(2, 2\) but the image \(3, 3\)"):
        figures.segmentation_figure(np.zeros((3, 3)), np.zeros((3, 3), int), {"guess": np.zeros((2, 2), int)})
    with pytest.raises(ValueError, match="image has shape"):
        figures.segmentation_figure(np.zeros((1, 3, 3)), np.zeros((3, 3), int))


@pytest.mark.parametrize(("height", "width"), [(16, 12), (13, 9), (117, 99)])
def test_tissue_net_scores_every_pixel_of_any_slice(height, width):
    torch.manual_seed(0)
    assert tissue.TissueNet()(torch.rand(2, 1, height, width)).shape == (2, 4, height, width)


def test_train_network_learns_the_labels_and_returns_an_eval_model(slices):
    few = slice(30, 46)
    model = tissue.train_network(slices.images[few], slices.labels[few], num_steps=15)
    assert not model.training
    with torch.no_grad():
        predicted = model(slices.images[few]).argmax(dim=1)
    majority = (slices.labels[few] == 0).float().mean().item()
    assert tissue.pixel_accuracy(predicted, slices.labels[few]) > majority + 0.05, "better than calling everything background"
    again = tissue.train_network(slices.images[few], slices.labels[few], num_steps=15)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values())), "seeded"


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (
            torch.zeros(2, 1, 8, 8),
            torch.zeros(3, 8, 8, dtype=torch.int64),
            r"images \(2, 1, 8, 8\) and labels \(3, 8, 8\) do not match",
        ),
        (torch.zeros(2, 1, 8, 8), torch.zeros(2, 8, 8, dtype=torch.int64), "hold no CSF, grey matter, white matter"),
    ],
)
def test_train_network_refuses_what_it_cannot_learn(images, labels, message):
    with pytest.raises(ValueError, match=message):
        tissue.train_network(images, labels, num_steps=1)
