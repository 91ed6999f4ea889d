"""Tests of cnnlab.tissue: the template's tissue labels, its slices, noise, accuracy and the threshold baseline."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
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


def fake_templates(made):
    """A stand-in for reading nilearn's maps: small slices, and a record of each time they were made."""

    def make(resolution, min_brain_fraction):
        made.append((resolution, min_brain_fraction))
        images = torch.linspace(0, 1, 60).reshape(3, 1, 4, 5)
        return tissue.Slices(images, (images[:, 0] * 3).round().long(), torch.tensor([5, 6, 7]))

    return make


def test_load_slices_keeps_its_slices_in_the_data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    made = []
    monkeypatch.setattr(tissue, "_slices_from_templates", fake_templates(made))
    first = tissue.load_slices(resolution=2)
    again = tissue.load_slices(resolution=2)
    assert made == [(2, 0.05)], "the second call read the cache"
    assert tissue.slices_cache_path(2, 0.05).parent == tmp_path and tissue.slices_cache_path(2, 0.05).is_file()
    for name in ("images", "labels", "z"):
        assert torch.equal(getattr(first, name), getattr(again, name))
        assert getattr(first, name).dtype == getattr(again, name).dtype
    tissue.load_slices(resolution=2, min_brain_fraction=0.1)
    tissue.load_slices(resolution=1)
    assert made == [(2, 0.05), (2, 0.1), (1, 0.05)], "other arguments are other files"


def test_the_cache_file_is_named_after_the_versions_that_decide_the_slices(monkeypatch):
    before = tissue.slices_cache_path(2, 0.05)
    monkeypatch.setattr(np, "__version__", "0.0.0")
    assert tissue.slices_cache_path(2, 0.05) != before
    monkeypatch.undo()
    monkeypatch.setattr(tissue, "version", lambda package: "0.0.0")
    assert tissue.slices_cache_path(2, 0.05) != before


def test_an_unreadable_cache_file_is_made_again_and_an_unwritable_cache_is_left_alone(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(tissue, "_slices_from_templates", fake_templates(made))
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    path = tissue.slices_cache_path(2, 0.05)
    path.write_bytes(b"PK\x03\x04 cut off")
    assert tissue.load_slices().z.tolist() == [5, 6, 7] and len(made) == 1
    assert tissue.load_slices().z.tolist() == [5, 6, 7] and len(made) == 1, "the broken file was replaced"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(blocked / "cache"))
    assert tissue.load_slices().z.tolist() == [5, 6, 7]
    assert tissue.load_slices().z.tolist() == [5, 6, 7] and len(made) == 3, "made each time, with no error"


def test_the_cached_slices_are_the_templates_slices(slices):
    made = tissue._slices_from_templates(2, 0.05)
    for name in ("images", "labels", "z"):
        assert torch.equal(getattr(slices, name), getattr(made, name))


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
    stored = tissue.train_network(slices.images[few], slices.labels[few], num_steps=15, channels_last=True)
    assert stored.down[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        predicted = stored(slices.images[few]).argmax(dim=1)
    assert tissue.pixel_accuracy(predicted, slices.labels[few]) > majority + 0.05, "the same training in another memory format"


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


def test_background_is_a_threshold_of_the_t1_image(slices):
    """nilearn's brain mask is the T1 template above 0.2 of its maximum: one intensity cut separates background."""
    intensity = slices.images[:, 0]
    assert intensity[slices.labels == 0].max() < intensity[slices.labels > 0].min()


def test_rician_noise_is_a_magnitude():
    images = torch.zeros(1, 1, 100, 100)
    noisy = tissue.add_noise(images, std=0.1, seed=1, kind="rician")
    assert torch.equal(noisy, tissue.add_noise(images, std=0.1, seed=1, kind="rician"))
    assert (noisy >= 0).all(), "a magnitude is never negative"
    # On a dark background the magnitude follows a Rayleigh law, of mean std * sqrt(pi / 2).
    assert noisy.mean().item() == pytest.approx(0.1 * np.sqrt(np.pi / 2), rel=0.05)
    bright = tissue.add_noise(torch.ones(1, 1, 100, 100), std=0.05, seed=1, kind="rician")
    assert bright.mean().item() == pytest.approx(1.0, abs=0.01), "on bright tissue it is nearly Gaussian"
    with pytest.raises(ValueError, match="kind='poisson' is not a kind of noise: use 'gaussian' or 'rician'"):
        tissue.add_noise(images, std=0.1, kind="poisson")


def test_gaussian_smooth_keeps_constants_and_spreads_a_point():
    assert torch.allclose(tissue.gaussian_smooth(torch.full((2, 1, 12, 10), 0.3), sigma=1.5), torch.full((2, 1, 12, 10), 0.3))
    point = torch.zeros(1, 1, 15, 15)
    point[0, 0, 7, 7] = 1.0
    smoothed = tissue.gaussian_smooth(point, sigma=1.0)
    assert smoothed.sum().item() == pytest.approx(1.0)
    assert smoothed[0, 0, 7, 7] == smoothed.max() and smoothed[0, 0, 7, 8] == pytest.approx(smoothed[0, 0, 8, 7].item())
    assert smoothed[0, 0, 7, 7].item() == pytest.approx(1 / (2 * np.pi), rel=0.05)
    assert torch.equal(tissue.gaussian_smooth(point, sigma=0), point)
    with pytest.raises(ValueError, match="sigma=-1 must be a non-negative number of pixels"):
        tissue.gaussian_smooth(point, sigma=-1)
    with pytest.raises(ValueError, match="too wide for images"):
        tissue.gaussian_smooth(point, sigma=5)
    with pytest.raises(TypeError, match=r"pass a float tensor \(N, 1, H, W\)"):
        tissue.gaussian_smooth(point[0], sigma=1)


def test_smoothed_thresholds_resist_noise_on_large_regions():
    labels = torch.zeros(1, 40, 40, dtype=torch.int64)
    labels[:, :, 20:] = 1
    images = labels[:, None].float()
    noisy = tissue.add_noise(images, std=0.4, seed=0)
    plain = tissue.ThresholdBaseline().fit(images, labels)
    smoothed = tissue.ThresholdBaseline(smoothing=1.5).fit(images, labels)
    assert tissue.pixel_accuracy(smoothed.predict(noisy), labels) > tissue.pixel_accuracy(plain.predict(noisy), labels) + 0.05
    with pytest.raises(ValueError, match="smoothing=-2 must be a non-negative number of pixels"):
        tissue.ThresholdBaseline(smoothing=-2)


def test_scale_intensities_uses_the_reference_range_only():
    train_images, test_images = tissue.scale_intensities(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 5.0]))
    assert train_images.tolist() == [0.0, 1.0] and test_images.tolist() == [-0.5, 2.0]
    with pytest.raises(ValueError, match=r"reference holds one value \(2.0\): pass the training images"):
        tissue.scale_intensities(torch.full((3,), 2.0), torch.zeros(2))


@pytest.mark.parametrize(
    ("scores", "verdict"),
    [
        ([0.91, 0.92, 0.95], "higher on every seed"),
        ([0.85, 0.86, 0.89], "lower on every seed"),
        ([0.85, 0.92, 0.95], "on both sides, within the seed-to-seed spread"),
        ([0.90, 0.92, 0.95], "on both sides, within the seed-to-seed spread"),  # a tie is not "higher"
        ([0.91, float("nan"), 0.95], "higher on every seed"),
    ],
)
def test_seed_verdict_concludes_only_when_every_seed_agrees(scores, verdict):
    assert tissue.seed_verdict(scores, baseline=0.90) == verdict
    others = {"higher on every seed", "lower on every seed", "on both sides, within the seed-to-seed spread"} - {verdict}
    assert tissue.seed_verdict(scores, baseline=0.90) not in others


def test_seed_verdict_refuses_one_seed_and_a_missing_baseline():
    with pytest.raises(ValueError, match=r"scores holds 1 number\(s\) that are not NaN: pass one score per seed"):
        tissue.seed_verdict([0.9, float("nan")], baseline=0.8)
    with pytest.raises(ValueError, match="baseline=nan must be a finite number"):
        tissue.seed_verdict([0.9, 0.8], baseline=float("nan"))


def _study_rows(cnn_csf):
    rows = [
        {"method": "CNN", "seed": seed, "condition": "clean", "CSF": value, "grey matter": 0.9}
        for seed, value in enumerate(cnn_csf)
    ]
    rows += [{"method": name, "seed": None, "condition": "clean", "CSF": 0.8, "grey matter": 0.95} for name in ("a", "b")]
    return rows


def test_seed_study_table_puts_the_seeds_beside_each_baseline():
    table = tissue.seed_study_table(_study_rows([0.82, 0.84, 0.86]), baselines=("a", "b"))
    assert list(table.index) == [("clean", "CSF"), ("clean", "grey matter")]
    csf, grey = table.loc[("clean", "CSF")], table.loc[("clean", "grey matter")]
    assert csf["seeds"] == 3 and csf["CNN mean"] == pytest.approx(0.84) and csf["CNN sd"] == pytest.approx(0.02)
    assert (csf["CNN min"], csf["CNN max"], csf["a"]) == (0.82, 0.86, 0.8)
    assert csf["CNN vs a"] == "higher on every seed" and grey["CNN vs b"] == "lower on every seed"
    mixed = tissue.seed_study_table(_study_rows([0.75, 0.85]), baselines=("a",)).loc[("clean", "CSF"), "CNN vs a"]
    assert mixed == "on both sides, within the seed-to-seed spread"
    with pytest.raises(ValueError, match=r"the rows hold 1 CNN seed\(s\)"):
        tissue.seed_study_table(_study_rows([0.8]), baselines=("a",))
    with pytest.raises(ValueError, match=r"the rows hold no baseline \['c'\]: pass baselines among \['a', 'b'\]"):
        tissue.seed_study_table(_study_rows([0.8, 0.9]), baselines=("c",))


def test_the_recorded_seed_study_holds_what_the_chapter_reads():
    record = tissue.recorded_seed_study()
    rows = pd.DataFrame(record["rows"])
    assert rows.loc[rows["method"] == "CNN", "seed"].nunique() >= 3
    assert set(rows["condition"]) == {"clean", "Gaussian noise", "Rician noise"}
    table = tissue.seed_study_table(rows)
    assert len(table) == 9 and table[["CNN mean", "intensity thresholds", "smoothed thresholds"]].stack().between(0, 1).all()
    assert record["steps"] > 0 and record["test_slices"] > 0 and len(record["test_slab"]) == 2


def test_the_seed_study_script_records_what_seed_study_table_reads(tmp_path):
    import importlib.util
    import json
    import sys

    from bookpaths import ROOT

    spec = importlib.util.spec_from_file_location("tissue_seeds", ROOT / "benchmarks" / "tissue_seeds.py")
    script = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec.loader.exec_module(script)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert script.main(["--seeds", "2", "--steps", "1", "--json", str(tmp_path / "seeds.json")]) == 0
    record = json.loads((tmp_path / "seeds.json").read_text())
    # The chapter's split: the middle fifth of the slices tested, 3 slices left out on each side.
    assert record["test_slab"] == [33, 47] and (record["train_slices"], record["test_slices"]) == (47, 15)
    assert tissue.seed_study_table(record["rows"])["seeds"].tolist() == [2] * 9
