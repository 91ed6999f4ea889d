"""Time the original practical's MNIST recipe against the book's data path, side by side, in one process.

    python benchmarks/training_speed.py                    # MNIST per CNNLAB_MNIST (auto), CPU and CUDA if present
    python benchmarks/training_speed.py --data synthetic   # random digits of MNIST's shape
    python benchmarks/training_speed.py --json results.json

Every recipe trains the practical's network on the same number of images (one
full MNIST epoch, 60,000, by default, cycling a smaller set) from the same seed,
and is tested on the same test set. The table gives seconds per 60,000
images, images per second, test accuracy and the speed-up over the original practical's recipe.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets, transforms

from cnnlab import benchmark, data


def synthetic_mnist(folder: Path, num_train: int = 60_000, num_test: int = 10_000, seed: int = 0):
    """Random digits with MNIST's shape and file format, read by torchvision's own loader."""
    rng = np.random.default_rng(seed)
    raw = data.raw_folder(folder)
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", num_train), ("t10k", num_test)):
        data.write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        data.write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count, dtype=np.uint8))
    to_tensor = transforms.ToTensor()
    return (
        datasets.MNIST(folder, train=True, transform=to_tensor),
        datasets.MNIST(folder, train=False, transform=to_tensor),
        "synthetic digits of MNIST's shape (accuracy is chance level by design)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist")
    parser.add_argument("--mode", default=None, help="MNIST mode: full, sample or auto (default: $CNNLAB_MNIST or auto)")
    parser.add_argument("--images", type=int, default=60_000, help="training images per recipe (default 60000)")
    parser.add_argument("--device", action="append", help="cpu or cuda; repeat for several (default: cpu, and cuda if present)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        if options.data == "synthetic":
            train_dataset, test_dataset, description = synthetic_mnist(Path(folder))
        else:
            train_dataset, test_dataset, source = data.load_mnist(options.mode)
            description = str(source)
        rows = benchmark.run_benchmark(train_dataset, test_dataset, options.images, options.device)

    print(f"Data: {description}")
    print(f"Each recipe: {options.images:,} training images; torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(benchmark.format_table(rows))
    if options.json:
        record = {
            "date": date.today().isoformat(),
            "data": description,
            "images": options.images,
            "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(),
            "cpu_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "rows": rows,
        }
        options.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
