"""Train the brain-tissue chapter's network from several seeds and record its Dice beside the threshold baselines'.

    python benchmarks/tissue_seeds.py                       # seeds 0-4, prints the table
    python benchmarks/tissue_seeds.py --seeds 5 --json code/src/cnnlab/measurements/tissue-seeds.json

One training of the chapter takes about 15 s on one CPU thread, so the chapter
trains one network (seed 0) and reads the others from this record. Everything
else is the chapter's: the same slab split (the middle fifth of the slices
tested, 3 slices left out on each side), the intensities scaled by the training
slices' range, the same training (cnnlab.tissue.train_network, 150 steps, channels_last), and
the same test conditions (clean, Gaussian and Rician noise of standard deviation
0.05, seed 0). Dice is pooled over all pixels of the test slab, per tissue.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import torch

from cnnlab import benchmark, threads, tissue

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_speed import cpu_name  # noqa: E402

SMOOTHING = 1.0  # pixels (2 mm), fixed beforehand, not tuned on the test slab
NOISE_STD = 0.05


def dice_per_class(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 4) -> torch.Tensor:
    """Dice of each class over every pixel of the stack (pooled), NaN for a class absent from both."""
    scores = []
    for c in range(num_classes):
        A, B = predicted == c, labels == c
        scores.append(2 * (A & B).sum().float() / (A.sum() + B.sum()))
    return torch.stack(scores)


def chapter_split(slices: tissue.Slices) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """The chapter's split: the middle fifth of the slices is the test slab, 3 slices left out on each side."""
    z = slices.z
    low, span = z.min().item(), z.max().item() - z.min().item()
    first, last = low + 2 * span // 5, low + 3 * span // 5
    test = (z >= first) & (z <= last)
    train = (z < first - 3) | (z > last + 3)
    return torch.nonzero(train).flatten(), torch.nonzero(test).flatten(), (first, last)


def conditions(images: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "clean": images,
        "Gaussian noise": tissue.add_noise(images, std=NOISE_STD, seed=0),
        "Rician noise": tissue.add_noise(images, std=NOISE_STD, seed=0, kind="rician"),
    }


def rows_for(method: str, seed: int | None, predict, tests: dict[str, torch.Tensor], labels: torch.Tensor) -> list[dict]:
    rows = []
    for condition, images in tests.items():
        dice = dice_per_class(predict(images), labels)
        rows.append(
            {
                "method": method,
                "seed": seed,
                "condition": condition,
                **{name: dice[c].item() for c, name in enumerate(tissue.TISSUES) if c},
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds, 0 to N-1 (default 5)")
    parser.add_argument("--steps", type=int, default=150, help="training steps per network (default 150, the chapter's)")
    parser.add_argument("--json", type=Path, help="also write the record as JSON to this file")
    options = parser.parse_args(argv)
    if options.seeds < 2 or options.steps < 1:
        parser.error(f"--seeds {options.seeds} and --steps {options.steps}: give at least 2 seeds and 1 step.")
    print(threads.use_available_cpus())

    slices = tissue.load_slices(resolution=2)
    train_index, test_index, test_slab = chapter_split(slices)
    X_train, X_test = tissue.scale_intensities(slices.images[train_index], slices.images[test_index])
    y_train, y_test = slices.labels[train_index], slices.labels[test_index]
    tests = conditions(X_test)

    rows = []
    for name, smoothing in (("intensity thresholds", 0.0), ("smoothed thresholds", SMOOTHING)):
        baseline = tissue.ThresholdBaseline(smoothing=smoothing).fit(X_train, y_train)
        rows += rows_for(name, None, baseline.predict, tests, y_test)
    for seed in range(options.seeds):
        model = tissue.train_network(X_train, y_train, num_steps=options.steps, seed=seed, channels_last=True)

        def predict(images: torch.Tensor, model: torch.nn.Module = model) -> torch.Tensor:
            return model(images).argmax(dim=1)

        with torch.no_grad():
            rows += rows_for("CNN", seed, predict, tests, y_test)
        print(f"seed {seed} done")
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    if options.json:
        record = {
            "date": date.today().isoformat(),
            "cpu": cpu_name(),
            **{key: value for key, value in benchmark.cpu_flags_summary().items() if key != "cpu"},
            "torch": torch.__version__,
            "cpu_threads": torch.get_num_threads(),
            "steps": options.steps,
            "test_slab": list(test_slab),
            "train_slices": len(train_index),
            "test_slices": len(test_index),
            "noise_std": NOISE_STD,
            "smoothing_pixels": SMOOTHING,
            "rows": rows,
        }
        options.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
