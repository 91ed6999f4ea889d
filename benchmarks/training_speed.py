"""Time the original practical's MNIST recipe against the book's recipes, side by side, in one process.

    python benchmarks/training_speed.py                    # MNIST per CNNLAB_MNIST (auto), CPU and the accelerator if any
    python benchmarks/training_speed.py --data synthetic   # random digits of MNIST's shape
    python benchmarks/training_speed.py --contention       # also: batch 8 alone and beside a busy process
    python benchmarks/training_speed.py --profile          # also: where a step's time goes, original and fast recipe
    python benchmarks/training_speed.py --repeats 3         # each recipe timed 3 times, the median kept
    python benchmarks/training_speed.py --json results.json

Every recipe trains the practical's network on the same number of images (one
full MNIST epoch, 60,000, by default, cycling a smaller set) from the same seed,
and is tested on the same test set. The table gives seconds per 60,000 images,
images per second, test accuracy, the speed-up over the original practical's
recipe and the ratio to the arithmetic floor measured in the same run (a
matrix product's speed in the recipe's precision). With --repeats the recipes
take turns, each timed that many times, and the table gives the median and the
spread (slowest over fastest); on a shared machine one timing can be far off.
PyTorch's thread count is set as the chapters set it (cnnlab.threads) unless
--threads says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torchvision import datasets, transforms

from cnnlab import benchmark, contention, data, threads

FORMATS = {
    "seconds": "{:.1f}",
    "seconds per 60,000 images": "{:.1f}",
    "images per second": "{:,.0f}",
    "test accuracy": "{:.2%}",
    "speed-up": "{:.2f}x",
    "floor seconds": "{:.2f}",
    "x floor": "{:.2f}x",
    "spread": "{:.2f}x",
    "idle seconds": "{:.2f}",
    "busy seconds": "{:.2f}",
    "slowdown": "{:.2f}x",
    "idle cost": "{:+.0%}",
}


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


def cpu_name() -> str:
    """The processor's model name, from /proc/cpuinfo where there is one."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def as_text(table: pd.DataFrame) -> str:
    """The table as text, each column formatted for reading."""
    formatters = {column: fmt.format for column, fmt in FORMATS.items() if column in table}
    return table.to_string(formatters=formatters)


def fast_tolerance(rows: pd.DataFrame, test_images: int) -> float:
    """How far below the original's accuracy the fast recipe may be: half a point, or more where the test set cannot tell."""
    return max(0.005, benchmark.undetectable_drop(float(rows["test accuracy"].iloc[0]), test_images))


def profile_table(table: pd.DataFrame, train_dataset, test_images: int) -> dict[str, pd.DataFrame]:
    """For each device of ``table``: the original and the fast recipe's profiles side by side, the fast one's largest first.

    The fast recipe is :func:`cnnlab.benchmark.fast_recipe` of this run, as the speed chapter chooses it: the
    fastest recipe whose accuracy is not measurably below the original's on these test images (:func:`fast_tolerance`).
    """
    by_name = {recipe.name: recipe for recipe in benchmark.RECIPES}
    profiles = {}
    for device in table["device"].unique():
        rows = table[table["device"] == device]
        fast = benchmark.fast_recipe(rows, tolerance=fast_tolerance(rows, test_images))
        profile = pd.concat(
            {
                f"original: {rows.index[0]}": benchmark.profile_recipe(by_name[rows.index[0]], train_dataset, device=device),
                f"fast: {fast}": benchmark.profile_recipe(by_name[fast], train_dataset, device=device),
            },
            axis=1,
        ).fillna(0.0)
        profiles[device] = profile.sort_values((f"fast: {fast}", "milliseconds per step"), ascending=False)
    return profiles


def argument_problem(options: argparse.Namespace) -> str | None:
    """What is wrong with the command line, found before anything trains, or None."""
    if options.threads is not None and options.threads < 1:
        return f"--threads {options.threads} is not a number of threads: give a positive whole number, such as 1."
    if options.images < 1 or options.steps < 1 or options.repeats < 1:
        return f"--images {options.images}, --steps {options.steps} and --repeats {options.repeats} must be positive."
    for name in options.device or []:
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError):
            return f"--device {name} is not a PyTorch device: use cpu, cuda, cuda:1 or mps."
        if device.type != "cpu" and not torch.accelerator.is_available():
            return f"--device {name}: this machine has no {device.type} device; leave --device out to use what it has."
    if options.json is not None:
        folder = options.json.resolve().parent
        if not folder.is_dir():
            return f"--json {options.json}: the folder {folder} does not exist; create it first or write elsewhere."
        if not os.access(folder, os.W_OK):
            return f"--json {options.json}: the folder {folder} cannot be written to; choose a folder you can write to."
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist")
    parser.add_argument("--mode", default=None, help="MNIST mode: full, sample or auto (default: $CNNLAB_MNIST or auto)")
    parser.add_argument("--images", type=int, default=60_000, help="training images per recipe (default 60000)")
    parser.add_argument("--device", action="append", help="cpu, cuda, ...; repeat for several (default: cpu and the accelerator)")
    parser.add_argument("--threads", type=int, help="PyTorch CPU threads (default: as cnnlab.threads recommends)")
    parser.add_argument("--repeats", type=int, default=1, help="times each recipe is timed, the median kept (default 1)")
    parser.add_argument("--contention", action="store_true", help="also time batch 8 alone and beside a busy process")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per contention run (default 1500)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile the original and the fast recipe: each kind of operation per step"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    options = parser.parse_args(argv)
    problem = argument_problem(options)
    if problem:
        parser.error(problem)

    default_threads = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
        print(f"PyTorch uses {options.threads} CPU thread(s), as --threads asks.")
    else:
        print(threads.use_available_cpus())

    with tempfile.TemporaryDirectory() as folder:
        if options.data == "synthetic":
            train_dataset, test_dataset, description = synthetic_mnist(Path(folder))
        else:
            train_dataset, test_dataset, source = data.load_mnist(options.mode)
            description = str(source)
        table = benchmark.run_benchmark(train_dataset, test_dataset, options.images, options.device, repeats=options.repeats)
        settings = {"PyTorch's default": default_threads, "cnnlab.threads": torch.get_num_threads()}
        busy = contention.contention_table(train_dataset, settings, options.steps) if options.contention else None
        profiles = profile_table(table, train_dataset, len(test_dataset)) if options.profile else {}
        test_images = len(test_dataset)

    gflops = 60_000 * benchmark.training_flops_per_image() / 1e9
    print(f"Data: {description}")
    print(
        f"Each recipe: {options.images:,} training images; torch {torch.__version__}, {torch.get_num_threads()} CPU "
        f"thread(s); one epoch of 60,000 images is {gflops:.0f} GFLOP of training arithmetic"
    )
    print(as_text(table))
    skipped = {device: benchmark.recipes_for(device)[1] for device in table["device"].unique()}
    for device, reasons in skipped.items():
        for name, reason in reasons.items():
            print(f"skipped on {device}: {name}: {reason}")
    if busy is not None:
        print(f"\nBatch 8, {options.steps:,} steps, alone and beside one process that keeps a core busy:")
        print(as_text(busy))
    for device, profile in profiles.items():
        print(f"\nWhere a training step's time goes on {device}, by kind of operation (PyTorch's profiler, self times):")
        print(profile.round(3).to_string())
    if options.json:
        accelerator = torch.accelerator.current_accelerator(check_available=True)
        record = {
            "date": date.today().isoformat(),
            "data": description,
            "images": options.images,
            "repeats": options.repeats,
            "test_images": test_images,
            "torch": torch.__version__,
            "cpu": cpu_name(),
            "cpu_cores": threads.available_cpus(),
            "cpu_threads": torch.get_num_threads(),
            "accelerator": torch.cuda.get_device_name(0) if accelerator and accelerator.type == "cuda" else None,
            "training_gflop_per_60k_images": gflops,
            "recipes": table.reset_index().to_dict(orient="records"),
            **{key: value for key, value in benchmark.cpu_flags_summary().items() if key != "cpu"},
            "train_images": len(train_dataset),
            "skipped": skipped,
            "contention": None if busy is None else busy.reset_index().to_dict(orient="records"),
            "contention_steps": options.steps if busy is not None else None,
            "profiles": {device: json.loads(profile.to_json(orient="split")) for device, profile in profiles.items()} or None,
        }
        options.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
