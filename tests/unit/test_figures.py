"""Tests of cnnlab.figures: what each figure shows."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from cnnlab import conv, figures


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


def test_digit_grid_marks_wrong_predictions_in_red():
    images = torch.zeros(3, 1, 28, 28)
    fig = figures.digit_grid(images, np.array([1, 2, 3]), np.array([1, 5, 3]), ncols=2)
    assert len(fig.axes) == 4  # 2 x 2 grid, one empty
    assert titles(fig)[:3] == ["true 1\npred 1", "true 2\npred 5", "true 3\npred 3"]
    colours = [ax.title.get_color() for ax in fig.axes[:3]]
    assert colours == ["black", "tab:red", "black"]
    assert not fig.axes[3].images


def test_digit_grid_without_predictions():
    fig = figures.digit_grid(np.zeros((2, 28, 28)), [7, 4])
    assert titles(fig)[:2] == ["7", "4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((2, 28, 28)), [1]), "got 2 images but 1 labels"),
        ((np.zeros((0, 28, 28)), []), "images is empty"),
        ((np.zeros((2, 28, 28)), [1, 2], [1]), "got 2 images"),
    ],
)
def test_digit_grid_errors(args, message):
    with pytest.raises(ValueError, match=message):
        figures.digit_grid(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # The model's scores passed where the predicted digits belong.
        (
            (np.zeros((3, 28, 28)), [1, 2, 3], torch.randn(3, 10)),
            r"y_pred has shape \(3, 10\), one score per class .* y_pred.argmax\(dim=1\)",
        ),
        ((np.zeros((3, 28, 28)), np.eye(3)), r"y_true has shape \(3, 3\), one score per class"),
        ((np.zeros((2, 28, 28)), [1, 2], [[1], [2], [3]]), r"y_pred has shape \(3, 1\): pass one digit per image, shape \(N,\)"),
        ((np.zeros((2, 28, 28)), [1, 2], [1, 2, 3]), "got 2 images but 3 labels"),
    ],
)
def test_digit_grid_names_labels_that_are_not_one_digit_per_image(args, message):
    with pytest.raises(ValueError, match=message):
        figures.digit_grid(*args)


def test_digit_grid_takes_tensors_of_digits():
    fig = figures.digit_grid(torch.zeros(2, 1, 28, 28), torch.tensor([3, 4]), torch.tensor([3, 9]))
    assert titles(fig)[:2] == ["true 3\npred 3", "true 4\npred 9"]


def test_confusion_figure_writes_counts_and_labels():
    matrix = np.array([[5, 1], [0, 4]])
    fig = figures.confusion_figure(matrix)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["5", "1", "0", "4"]
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    with pytest.raises(ValueError, match=r"matrix has shape \(2, 3\): a confusion matrix is square"):
        figures.confusion_figure(np.zeros((2, 3)))


def test_filters_figure_puts_the_reference_first():
    weights = torch.randn(4, 1, 5, 5)
    fig = figures.filters_figure(weights, reference=conv.sobel_kernel())
    assert titles(fig) == ["Sobel x", "filter 0", "filter 1", "filter 2", "filter 3"]
    shown = fig.axes[1].images[0].get_array()
    assert np.allclose(shown, weights[0, 0].numpy())
    with pytest.raises(ValueError, match=r"weights has shape \(4, 3, 5, 5\)"):
        figures.filters_figure(torch.zeros(4, 3, 5, 5))


def test_feature_maps_figure():
    fig = figures.feature_maps_figure(torch.zeros(1, 28, 28), torch.rand(3, 12, 12), title="maps")
    assert titles(fig) == ["input", "map 0", "map 1", "map 2"]
    assert fig._suptitle.get_text() == "maps"
    with pytest.raises(ValueError, match="maps has shape"):
        figures.feature_maps_figure(torch.zeros(28, 28), torch.zeros(12, 12))


def test_loss_curve_figure():
    losses = np.linspace(2, 0.1, 500)
    fig = figures.loss_curve_figure(losses, window=100)
    raw, smooth = fig.axes[0].lines
    assert len(raw.get_xdata()) == 500 and len(smooth.get_xdata()) == 401
    assert smooth.get_ydata()[0] == pytest.approx(losses[:100].mean())
    with pytest.raises(ValueError, match="losses is empty"):
        figures.loss_curve_figure([])
    with pytest.raises(ValueError, match="window=0 must be positive"):
        figures.loss_curve_figure([1.0], window=0)


def test_loss_curve_figure_detaches_losses_kept_as_tensors():
    weight = torch.ones(1, requires_grad=True)
    losses = [(weight * value).sum() for value in (2.0, 1.0, 0.5)]  # loss, not loss.item(): each still requires grad
    fig = figures.loss_curve_figure(losses, window=2)
    each, mean = fig.axes[0].lines[:2]
    np.testing.assert_allclose(each.get_ydata(), [2.0, 1.0, 0.5])
    np.testing.assert_allclose(mean.get_ydata(), [1.5, 0.75])
    fig = figures.loss_curve_figure(torch.stack(losses), window=1)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [2.0, 1.0, 0.5])


@pytest.mark.parametrize(
    ("losses", "error", "message"),
    [
        (
            [1.0, torch.ones(4)],
            ValueError,
            r"losses\[1\] is a tensor of shape \(4,\), not one loss: pass one number per step, loss.item\(\)",
        ),
        ([1.0, "0.5x"], TypeError, r"losses\[1\] is '0.5x', not a number: pass the loss of each step"),
        (3.0, TypeError, r"losses is a float: pass a list of the loss of each step"),
    ],
)
def test_loss_curve_figure_names_what_is_not_a_loss(losses, error, message):
    with pytest.raises(error, match=message):
        figures.loss_curve_figure(losses)


def test_ablation_figure_shows_every_run_and_each_mean():
    import pandas as pd

    runs = pd.DataFrame(
        {
            "model": ["a"] * 3 + ["b"] * 3,
            "seed": [0, 1, 2] * 2,
            "parameters": 1,
            "training seconds": 1.0,
            "test accuracy": [0.90, 0.91, 0.92, 0.95, 0.96, 0.97],
        }
    )
    fig = figures.ablation_figure(runs)
    ax = fig.axes[0]
    dots = [offsets for collection in ax.collections for offsets in collection.get_offsets().tolist()]
    assert sorted(dots) == sorted(
        [[acc * 100, row] for row, model in enumerate("ab") for acc in runs[runs.model == model]["test accuracy"]]
    )
    means = [line.get_xdata()[0] for line in ax.lines if line.get_color() == "black"]
    assert means == pytest.approx([91.0, 96.0])
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["seed 0", "seed 1", "seed 2", "mean"]
    plt.close(fig)
    with pytest.raises(TypeError, match="runs must be the table that compare_models returns"):
        figures.ablation_figure(runs[["model", "test accuracy"]])


def test_saliency_figure_puts_each_map_beside_its_image_with_a_colour_bar():
    image = np.zeros((6, 5))
    region = np.zeros((6, 5), dtype=bool)
    region[2:4, 1:3] = True
    rows = {
        "trained": {"gradient": np.random.rand(6, 5), "gradient ⊙ input": np.random.randn(6, 5)},
        "all layers random": {"gradient": np.random.rand(6, 5), "gradient ⊙ input": np.random.randn(6, 5)},
    }
    fig = figures.saliency_figure(image, rows, region=region)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == [
        "trained",
        "gradient",
        "gradient ⊙ input",
        "all layers random",
        "gradient",
        "gradient ⊙ input",
    ]
    assert len(fig.axes) == len(panels) + 4, "one colour bar per map"
    signed = panels[2].images[0]
    assert signed.get_cmap().name == "RdBu_r" and signed.norm.vmin == -signed.norm.vmax
    assert panels[1].images[0].norm.vmin == 0
    assert panels[0].collections, "the region is outlined on the image"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({}, "rows must map each row's title"),
        ({"a": {"m": np.zeros((6, 5))}, "b": {"n": np.zeros((6, 5))}}, "row 'b' names"),
        ({"a": {"m": np.zeros((5, 5))}}, r"the m map of row 'a' has shape \(5, 5\)"),
    ],
)
def test_saliency_figure_errors(rows, message):
    with pytest.raises(ValueError, match=message):
        figures.saliency_figure(np.zeros((6, 5)), rows)


def test_randomization_figure_starts_every_method_at_one():
    import pandas as pd

    table = pd.DataFrame({"gradient": [0.6, 0.3], "Grad-CAM": [0.1, -0.2]}, index=["fc2", "fc1"])
    fig = figures.randomization_figure(table)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in table.columns]
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 0.6, 0.3], [1.0, 0.1, -0.2]]
    assert [tick.get_text() for tick in fig.axes[0].get_xticklabels()] == ["none", "fc2", "fc1"]
    with pytest.raises(ValueError, match="the table is empty"):
        figures.randomization_figure(pd.DataFrame())
