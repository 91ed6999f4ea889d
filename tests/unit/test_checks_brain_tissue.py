"""The brain-tissue chapter's self-checks, tried as students answer, in one process.

Each case is the chapter's reference answer (read from the chapter, :mod:`mutations`) with one change: right in another
way (must pass), a plain mistake, a blank left as it was, or an answer that
crashes. A wrong answer must raise ``SelfCheckError`` naming the task, what
is wrong and the fix; nothing else may escape.
"""

from __future__ import annotations

from collections import Counter

import pytest
from mutations import define, edit, expect, reference_answer

from cnnlab import checks

PRELUDE = """\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
"""

KINDS = ("right", "wrong", "blank", "crash")

BLOCK = reference_answer("ex4-brain-tissue", "ex-4-1")

NET = (
    BLOCK
    + """
class TissueNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = conv_block(1, 16)
        self.pool = nn.MaxPool2d(2)
        self.middle = conv_block(16, 32)
        self.up = nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)
        self.head = nn.Sequential(conv_block(32, 16), nn.Conv2d(16, 4, kernel_size=1))

    def forward(self, x):
        skip = self.down(x)
        x = self.up(self.middle(self.pool(skip)))
        x = F.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))
        return self.head(torch.cat([skip, x], dim=1))
"""
)

DICE = reference_answer("ex4-brain-tissue", "ex-4-3")

SPLIT = reference_answer("ex4-brain-tissue", "ex-4-4")

CASES = []


def case(id, kind, check, source, name, expected=None):
    assert kind in KINDS
    CASES.append(pytest.param(check, source, name, expected, id=f"{kind}: {id}"))


# Ex 4.1 -------------------------------------------------------------------------------------------
for id, kind, changes, expected in [
    ("reference", "right", [], None),
    ("5x5 with padding 2", "right", [("kernel_size=3, padding=1", "kernel_size=5, padding=2")], None),
    ("padding same", "right", [("padding=1", "padding='same'")], None),
    ("leaky relu", "right", [("nn.ReLU()", "nn.LeakyReLU(0.0)")], None),
    (
        "no padding",
        "wrong",
        [("kernel_size=3, padding=1", "kernel_size=3")],
        r"turns a 13x10 slice into 11x8: a 3x3 convolution keeps the size with padding=1",
    ),
    ("padding 2", "wrong", [("padding=1", "padding=2")], r"into 15x12.*padding=1"),
    ("no batchnorm", "wrong", [("        nn.BatchNorm2d(out_channels),\n", "")], "no batch normalisation: add nn.BatchNorm2d"),
    ("no relu", "wrong", [("        nn.ReLU(),\n", "")], "no activation: end it with nn.ReLU"),
    ("fixed channels", "wrong", [("nn.Conv2d(in_channels, out_channels", "nn.Conv2d(1, 8")], "use the arguments"),
    (
        "relu before batchnorm",
        "wrong",
        [
            (
                "        nn.BatchNorm2d(out_channels),\n        nn.ReLU(),\n",
                "        nn.ReLU(),\n        nn.BatchNorm2d(out_channels),\n",
            )
        ],
        "negative values: end it with the ReLU",
    ),
    ("batchnorm of in_channels", "crash", [("nn.BatchNorm2d(out_channels)", "nn.BatchNorm2d(in_channels)")], "Task 4.1"),
    (
        "returns a list",
        "wrong",
        [("return nn.Sequential(", "return list(nn.Sequential("), ("        nn.ReLU(),\n    )", "        nn.ReLU(),\n    ))")],
        "returned a list: return the layers as one module",
    ),
    (
        "blank",
        "blank",
        [
            (
                "    return nn.Sequential(\n        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),\n        nn.BatchNorm2d(out_channels),\n        nn.ReLU(),\n    )",
                "    return None",
            )
        ],
        r"returned None: return the block",
    ),
    (
        "layers given as a list",
        "crash",
        [
            (
                "nn.Sequential(",
                "nn.Sequential([",
            ),
            ("        nn.ReLU(),\n    )", "        nn.ReLU(),\n    ])"),
        ],
        "Task 4.1",
    ),
]:
    case(f"4.1 {id}", kind, checks.check_conv_block, edit(BLOCK, *changes), "conv_block", expected)
case("4.1 None", "blank", checks.check_conv_block, "conv_block = None", "conv_block", "conv_block is not a function")

# Ex 4.2 -------------------------------------------------------------------------------------------
for id, kind, changes, expected in [
    ("reference", "right", [], None),
    (
        "upsample and conv",
        "right",
        [
            (
                "nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)",
                "nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(32, 16, 1))",
            )
        ],
        None,
    ),
    (
        "interpolate to size",
        "right",
        [
            (
                "        x = F.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))\n",
                "        x = F.interpolate(x, size=skip.shape[-2:])\n",
            )
        ],
        None,
    ),
    (
        "strided convolution",
        "right",
        [("self.pool = nn.MaxPool2d(2)", "self.pool = nn.Conv2d(16, 16, 3, stride=2, padding=1)")],
        None,
    ),
    (
        "no pad: odd sizes",
        "wrong",
        [("        x = F.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))\n", "")],
        r"on a 99x117 slice .*F\.pad.*F\.interpolate",
    ),
    (
        "no skip, no pad",
        "wrong",
        [
            (
                "        x = F.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))\n        return self.head(torch.cat([skip, x], dim=1))",
                "        return self.head(torch.cat([x, x], dim=1))",
            )
        ],
        r"on a 99x117 slice the network returns 98x116 scores: pooling rounds odd sizes down",
    ),
    (
        "10 classes",
        "wrong",
        [("nn.Conv2d(16, 4, kernel_size=1)", "nn.Conv2d(16, 10, kernel_size=1)")],
        "returns 10 channels: end with a 1x1 convolution to 4",
    ),
    (
        "3x3 head",
        "wrong",
        [("nn.Conv2d(16, 4, kernel_size=1)", "nn.Conv2d(16, 4, kernel_size=3, padding=1)")],
        "the last layer is not a 1x1 convolution",
    ),
    (
        "softmax at the end",
        "wrong",
        [("nn.Conv2d(16, 4, kernel_size=1))", "nn.Conv2d(16, 4, kernel_size=1), nn.Softmax(dim=1))")],
        "ends with Softmax: return the raw scores",
    ),
    (
        "no downsampling",
        "wrong",
        [
            ("self.pool = nn.MaxPool2d(2)", "self.pool = nn.Identity()"),
            ("self.up = nn.ConvTranspose2d(32, 16, kernel_size=2, stride=2)", "self.up = nn.Conv2d(32, 16, 1)"),
        ],
        "never downsamples: add nn.MaxPool2d",
    ),
    ("up by 4, cropped back", "right", [("kernel_size=2, stride=2)", "kernel_size=4, stride=4)")], None),
    ("pool blank", "blank", [("self.pool = nn.MaxPool2d(2)", "self.pool = None")], r"Task 4\.2.*None"),
    (
        "forward blank",
        "blank",
        [("        return self.head(torch.cat([skip, x], dim=1))", "        return None")],
        "forward returned None",
    ),
    ("channels mismatch", "crash", [("nn.Sequential(conv_block(32, 16)", "nn.Sequential(conv_block(16, 16)")], r"Task 4\.2"),
    ("no super init", "crash", [("        super().__init__()\n", "")], r"Task 4\.2"),
]:
    case(f"4.2 {id}", kind, checks.check_segmentation_net, edit(NET, *changes), "TissueNet", expected)
case("4.2 None", "blank", checks.check_segmentation_net, "TissueNet = None", "TissueNet", "still a blank")

# Ex 4.3 -------------------------------------------------------------------------------------------
for id, kind, changes, expected in [
    ("reference", "right", [], None),
    (
        "numpy",
        "right",
        [
            (
                "        A, B = predicted == c, labels == c\n        overlap = (A & B).sum().float()\n        scores.append(2 * overlap / (A.sum() + B.sum()))",
                "        A, B = (predicted == c).numpy(), (labels == c).numpy()\n        with np.errstate(invalid='ignore'):\n            scores.append(np.float64(2 * (A & B).sum()) / (A.sum() + B.sum()))",
            ),
            ("return torch.stack(scores)", "return np.array(scores)"),
        ],
        None,
    ),
    (
        "list of floats",
        "right",
        [
            (
                "scores.append(2 * overlap / (A.sum() + B.sum()))",
                "total = (A.sum() + B.sum()).item()\n        scores.append(2 * overlap.item() / total if total else float('nan'))",
            ),
            ("return torch.stack(scores)", "return scores"),
        ],
        None,
    ),
    (
        "iou",
        "wrong",
        [("scores.append(2 * overlap / (A.sum() + B.sum()))", "scores.append(overlap / (A | B).sum())")],
        "you return the IoU",
    ),
    ("no factor 2", "wrong", [("2 * overlap", "overlap")], "the factor 2 is missing"),
    (
        "absent gives 1",
        "wrong",
        [
            (
                "scores.append(2 * overlap / (A.sum() + B.sum()))",
                "scores.append(2 * overlap / (A.sum() + B.sum()) if (A.sum() + B.sum()) else torch.tensor(1.0))",
            )
        ],
        "absent from both masks.*Return NaN",
    ),
    ("smoothing", "wrong", [("(A.sum() + B.sum())", "(A.sum() + B.sum() + 1e-6)")], "absent from both masks.*Return NaN"),
    (
        "accuracy per class",
        "wrong",
        [("scores.append(2 * overlap / (A.sum() + B.sum()))", "scores.append((A == B).float().mean())")],
        r"your Dice is 0\.\d+ but it is",
    ),
    (
        "one number",
        "wrong",
        [("return torch.stack(scores)", "return torch.stack(scores).nanmean()")],
        r"returned shape \(\): return one score per class",
    ),
    ("without the last class", "wrong", [("range(num_classes)", "range(num_classes - 1)")], r"returned shape \(3,\)"),
    ("union of all classes", "wrong", [("(A.sum() + B.sum())", "(predicted.numel() * 2)")], r"your Dice is"),
    ("overlap blank", "blank", [("overlap = (A & B).sum().float()", "overlap = None")], "a blank is still empty"),
    ("returns None", "blank", [("    return torch.stack(scores)", "    return None")], "returned None"),
    ("and with numbers", "crash", [("(A & B)", "(A.float() & B)")], r"Task 4\.3"),
]:
    case(f"4.3 {id}", kind, checks.check_dice, edit(DICE, *changes), "dice_per_class", expected)

# Ex 4.4 -------------------------------------------------------------------------------------------
for id, kind, changes, expected in [
    ("reference", "right", [], None),
    (
        "masks",
        "right",
        [("    return torch.nonzero(train).flatten(), torch.nonzero(test).flatten()", "    return train, test")],
        None,
    ),
    (
        "lists",
        "right",
        [
            (
                "    return torch.nonzero(train).flatten(), torch.nonzero(test).flatten()",
                "    return [i for i in range(len(z)) if train[i]], [i for i in range(len(z)) if test[i]]",
            )
        ],
        None,
    ),
    (
        "interleaved",
        "wrong",
        [
            ("test = (z >= first) & (z <= last)", "test = z % 4 == 0"),
            ("train = (z < first - gap) | (z > last + gap)", "train = ~test"),
        ],
        "interleaved",
    ),
    (
        "random split",
        "wrong",
        [
            ("test = (z >= first) & (z <= last)", "test = torch.rand(len(z), generator=torch.Generator().manual_seed(0)) < 0.25"),
            ("train = (z < first - gap) | (z > last + gap)", "train = ~test"),
        ],
        "interleaved",
    ),
    (
        "no gap",
        "wrong",
        [("train = (z < first - gap) | (z > last + gap)", "train = ~test")],
        "within 3 slices of the test slab: leave gap=3",
    ),
    ("gap of one", "wrong", [("first - gap", "first - 1"), ("last + gap", "last + 1")], "within 3 slices"),
    ("last excluded", "wrong", [("(z <= last)", "(z < last)")], "include both ends"),
    (
        "overlap",
        "wrong",
        [("train = (z < first - gap) | (z > last + gap)", "train = torch.ones_like(test)")],
        "both trained on and tested on",
    ),
    (
        "train only below",
        "wrong",
        [("train = (z < first - gap) | (z > last + gap)", "train = z < first - gap")],
        "is in neither set",
    ),
    ("test blank", "blank", [("test = (z >= first) & (z <= last)", "test = None")], "a blank is still empty"),
    (
        "returns one",
        "blank",
        [
            (
                "    return torch.nonzero(train).flatten(), torch.nonzero(test).flatten()",
                "    return torch.nonzero(train).flatten()",
            )
        ],
        "return train_index, test_index",
    ),
    (
        "positions as floats",
        "wrong",
        [
            (
                "torch.nonzero(train).flatten(), torch.nonzero(test).flatten()",
                "torch.nonzero(train).flatten().float(), torch.nonzero(test).flatten().float()",
            )
        ],
        "not a list of positions",
    ),
    ("slab unpacked wrongly", "crash", [("first, last = test_slab", "first, last, step = test_slab")], r"Task 4\.4"),
]:
    case(f"4.4 {id}", kind, checks.check_slab_split, edit(SPLIT, *changes), "slab_split", expected)


@pytest.mark.parametrize(("check", "source", "name", "expected"), CASES)
def test_self_check(check, source, name, expected):
    expect(check, [define(PRELUDE, source, name)], expected, task="4.")


def test_the_suite_covers_every_kind():
    counts = Counter(param.id.split(":")[0] for param in CASES)
    assert sum(counts.values()) >= 40 and set(counts) == set(KINDS), counts
    assert counts["right"] >= 10
