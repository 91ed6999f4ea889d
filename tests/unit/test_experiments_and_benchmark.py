"""Tests of cnnlab.experiments and cnnlab.benchmark on tiny runs (no timing is asserted)."""

import pandas as pd
import pytest
import torch

from bookpaths import benchmark_script
from cnnlab import benchmark, data, experiments, loaders, models


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return data.load_mnist("sample", tmp_path_factory.mktemp("cache"))


def test_compare_models_is_fair_and_repeatable(sample):
    train_dataset, test_dataset, _ = sample
    X, y = loaders.dataset_to_tensors(train_dataset)
    X_test, y_test = loaders.dataset_to_tensors(test_dataset)
    train_loader = loaders.tensor_loader(X, y, 8, shuffle=True, seed=0)
    test_loader = loaders.tensor_loader(X_test, y_test, 500)
    runs = experiments.compare_models(
        {"a": models.SequentialCNN, "b": models.SequentialCNN, "bn": lambda: models.SequentialCNN(batchnorm=True)},
        train_loader,
        test_loader,
        num_steps=30,
        seeds=(0, 1),
        progress=False,
    )
    assert list(runs.columns) == ["model", "seed", "parameters", "training seconds", "test loss", "test accuracy"]
    assert runs[["model", "seed"]].values.tolist() == [["a", 0], ["a", 1], ["b", 0], ["b", 1], ["bn", 0], ["bn", 1]]
    by_run = runs.set_index(["model", "seed"])
    # Same seed, same batches: identical models give identical results; another seed gives another result.
    assert by_run.loc[("a", 0), "test loss"] == by_run.loc[("b", 0), "test loss"]
    assert by_run.loc[("a", 1), "test loss"] == by_run.loc[("b", 1), "test loss"]
    assert by_run.loc[("a", 0), "test loss"] != by_run.loc[("a", 1), "test loss"]
    assert by_run.loc[("bn", 0), "parameters"] == 21_900
    assert runs["test accuracy"].between(0, 1).all()
    summary = experiments.summarise(runs)
    assert list(summary.index) == ["a", "b", "bn"] and (summary["seeds"] == 2).all()
    assert summary.loc["a", "mean accuracy"] == pytest.approx(runs[runs["model"] == "a"]["test accuracy"].mean(), abs=1e-4)
    comparison = experiments.against_baseline(runs, "a")
    assert list(comparison.index) == ["b", "bn"]
    assert comparison.loc["b", "difference (points)"] == 0 and not comparison.loc["b", "beyond noise"]

    # In the channels_last memory format: the same runs, up to the order in which sums are taken.
    channels_last = experiments.compare_models(
        {"a": models.SequentialCNN}, train_loader, test_loader, num_steps=30, seeds=(0, 1), progress=False, channels_last=True
    )
    assert channels_last["test loss"].tolist() == pytest.approx(runs["test loss"][:2].tolist(), abs=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"factories": {}}, ValueError, "factories is empty"),
        ({"seeds": ()}, ValueError, r"seeds=\[\] must hold at least one seed"),
        ({"seeds": (1, 1)}, ValueError, r"seeds=\[1, 1\] must hold at least one seed, each once"),
        ({"seeds": 3}, TypeError, r"seeds=3 must be a list of seeds"),
        ({"seeds": (-1,)}, ValueError, r"seed=-1 must be non-negative"),
        ({"num_steps": 0}, ValueError, r"num_steps=0 must be positive"),
        ({"channels_last": "yes"}, TypeError, r"channels_last='yes' must be True or False"),
    ],
)
def test_compare_models_refuses_bad_arguments(kwargs, error, message):
    arguments = {"factories": {"a": models.SequentialCNN}, "train_loader": [], "test_loader": [], "num_steps": 1, **kwargs}
    with pytest.raises(error, match=message):
        experiments.compare_models(**arguments)


def _runs(accuracies: dict[str, list[float]], seeds=(0, 1, 2)) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": name, "seed": seed, "parameters": 1, "training seconds": 1.0, "test accuracy": value}
            for name, values in accuracies.items()
            for seed, value in zip(seeds, values)
        ]
    )


def test_against_baseline_pairs_runs_by_seed():
    # The ranges overlap, but every seed gains exactly one point: paired, that is far beyond the noise.
    runs = _runs({"base": [0.90, 0.95, 0.92], "shifted": [0.91, 0.96, 0.93], "noisy": [0.92, 0.94, 0.93]})
    comparison = experiments.against_baseline(runs, "base")
    assert list(comparison.index) == ["shifted", "noisy"]
    assert comparison.loc["shifted", "difference (points)"] == pytest.approx(1.0)
    assert comparison.loc["shifted", "beyond noise"]
    assert not comparison.loc["noisy", "beyond noise"]
    assert (comparison["seeds"] == 3).all()


def test_against_baseline_agrees_with_scipy_and_bonferroni():
    from scipy import stats

    base = [0.90, 0.91, 0.92, 0.905]
    better, close = [0.93, 0.935, 0.95, 0.925], [0.905, 0.90, 0.93, 0.91]
    runs = _runs({"base": base, "a": better, "b": close}, seeds=(3, 1, 4, 5))
    comparison = experiments.against_baseline(runs, "base", level=0.05)
    for name, values in (("a", better), ("b", close)):
        p = stats.ttest_rel(values, base).pvalue
        assert comparison.loc[name, "p"] == pytest.approx(p, abs=1e-4)
        # Two comparisons: each p doubled, each interval at 1 - 0.05 / 2.
        assert comparison.loc[name, "p (Bonferroni)"] == pytest.approx(min(1, 2 * p), abs=1e-4)
        assert comparison.loc[name, "coverage"] == 0.975
        differences = (pd.Series(values) - pd.Series(base)) * 100
        half = stats.t.ppf(1 - 0.025 / 2, df=3) * differences.std(ddof=1) / 2
        assert comparison.loc[name, "low"] == pytest.approx(differences.mean() - half, abs=0.01)
        assert comparison.loc[name, "high"] == pytest.approx(differences.mean() + half, abs=0.01)
        # The verdict and the interval never disagree: beyond the noise exactly when the interval leaves out 0.
        excludes_zero = comparison.loc[name, "low"] > 0 or comparison.loc[name, "high"] < 0
        assert comparison.loc[name, "beyond noise"] == excludes_zero


def test_against_baseline_refuses_what_it_cannot_pair():
    runs = _runs({"base": [0.90, 0.91, 0.92], "other": [0.93, 0.94, 0.95]})
    with pytest.raises(ValueError, match=r"baseline='missing' is not among the models \['base', 'other'\]"):
        experiments.against_baseline(runs, "missing")
    with pytest.raises(ValueError, match=r"level=1.5 must lie strictly between 0 and 1"):
        experiments.against_baseline(runs, "base", level=1.5)
    unpaired = pd.concat([_runs({"base": [0.9, 0.91]}, seeds=(0, 1)), _runs({"other": [0.92, 0.93]}, seeds=(2, 3))])
    with pytest.raises(ValueError, match=r"'other' shares 0 seed\(s\) with the baseline 'base': train both on the same seeds"):
        experiments.against_baseline(unpaired, "base")


def test_summarise_and_against_baseline_refuse_another_table():
    runs = _runs({"base": [0.90, 0.91, 0.92], "other": [0.93, 0.94, 0.95]})
    for function in (experiments.summarise, lambda table: experiments.against_baseline(table, "base")):
        with pytest.raises(TypeError, match="runs must be the table that compare_models returns"):
            function(runs.drop(columns="seed"))
        with pytest.raises(ValueError, match="runs is empty"):
            function(runs.iloc[:0])


@pytest.mark.parametrize(
    ("difference", "p", "level", "beyond"),
    [
        (3.0, 0.001, 0.05, True),
        (-1.0, 0.05, 0.05, True),  # at the level: a test at 5% rejects
        (-1.0, 0.0501, 0.05, False),
        (-1.0, 0.2, 0.05, False),
        (2.0, 0.03, 0.01, False),
    ],
)
def test_verdicts_say_beyond_the_noise_only_when_the_test_does(difference, p, level, beyond):
    comparison = pd.DataFrame(
        {
            "seeds": [3],
            "difference (points)": [difference],
            "low": [difference - 1],
            "high": [difference + 1],
            "coverage": [0.9875],
            "p (Bonferroni)": [p],
        },
        index=["variant"],
    )
    (sentence,) = experiments.verdicts(comparison, level=level)
    assert ("beyond the seed-to-seed noise" in sentence) is beyond
    assert ("within the seed-to-seed noise" in sentence) is not beyond
    assert sentence.startswith(f"variant: {'better' if difference > 0 else 'worse'} by {abs(difference):.2f} points")
    assert "(98.75% interval" in sentence and "over 3 seeds" in sentence


def test_verdicts_follow_the_paired_test_of_real_runs():
    runs = _runs({"base": [0.90, 0.95, 0.92], "shifted": [0.91, 0.96, 0.93], "noisy": [0.92, 0.94, 0.93]})
    shifted, noisy = experiments.verdicts(experiments.against_baseline(runs, "base"))
    assert "beyond the seed-to-seed noise" in shifted and "within the seed-to-seed noise" in noisy


def test_verdicts_refuse_another_table():
    with pytest.raises(TypeError, match="comparison must be the table that against_baseline returns"):
        experiments.verdicts(pd.DataFrame({"difference (points)": [1.0]}))
    comparison = pd.DataFrame(
        {"seeds": [3], "difference (points)": [1.0], "low": [0.0], "high": [2.0], "coverage": [0.95], "p (Bonferroni)": [0.01]}
    )
    with pytest.raises(ValueError, match="level=0 must lie strictly between 0 and 1"):
        experiments.verdicts(comparison, level=0)


def test_benchmark_recipes_train_on_the_same_images(sample):
    train_dataset, test_dataset, _ = sample
    table = benchmark.run_benchmark(train_dataset, test_dataset, num_images=256, devices=["cpu"])
    timed, _ = benchmark.recipes_for("cpu")
    assert list(table.index) == [recipe.name for recipe in timed]
    assert table["steps"].tolist() == [256 // recipe.batch_size for recipe in timed]
    assert (table["images"] == 256).all()
    assert table["speed-up"].iloc[0] == 1.0
    assert ((table["seconds"] > 0) & table["test accuracy"].between(0, 1)).all()
    # One floor per device and precision, and every recipe's distance from it is its seconds over the floor.
    by_name = {recipe.name: recipe for recipe in timed}
    assert table["floor precision"].tolist() == ["bfloat16" if by_name[name].bfloat16 else "float32" for name in table.index]
    assert (table.groupby("floor precision")["floor seconds"].nunique() == 1).all()
    assert (table["x floor"] * table["floor seconds"]).round(9).equals(table["seconds per 60,000 images"].round(9))
    assert (table["repeats"] == 1).all() and (table["spread"] == 1.0).all()
    assert benchmark.fast_recipe(table) in table.index


def test_benchmark_takes_the_median_of_repeats(sample, monkeypatch):
    train_dataset, test_dataset, _ = sample
    times = iter([5.0, 1.0, 9.0, 2.0, 4.0, 3.0])  # original: 5, 9, 4 -> median 5; tensors: 1, 2, 3 -> median 2

    warmed = []

    def fake_run(recipe, train_dataset, test_loader, num_images, device, seed, warm_up=True):
        warmed.append(warm_up)
        seconds = next(times)
        return {
            "recipe": recipe.name,
            "device": "cpu",
            "batch size": recipe.batch_size,
            "steps": 1,
            "images": 60_000,
            "seconds": seconds,
            "seconds per 60,000 images": seconds,
            "images per second": 60_000 / seconds,
            "test accuracy": 0.9,
        }

    monkeypatch.setattr(benchmark, "run_recipe", fake_run)
    monkeypatch.setattr(benchmark, "matmul_gflops", lambda **kwargs: 100.0)
    table = benchmark.run_benchmark(train_dataset, test_dataset, devices=["cpu"], recipes=benchmark.RECIPES[:2], repeats=3)
    assert table["seconds"].tolist() == [5.0, 2.0] and table["speed-up"].tolist() == [1.0, 2.5]
    assert table["spread"].tolist() == [9.0 / 4.0, 3.0] and (table["repeats"] == 3).all()
    assert warmed == [True, True, False, False, False, False], "the recipes take turns, and only the first round warms up"
    with pytest.raises(ValueError, match="repeats=0 must be a positive whole number"):
        benchmark.run_benchmark(train_dataset, test_dataset, devices=["cpu"], repeats=0)


def test_every_recipe_sees_the_images_in_the_same_order(sample):
    """DataLoader(generator=g) would draw a base seed from g first and shuffle in another order than the tensors."""
    train_dataset, _, _ = sample
    cpu = torch.device("cpu")
    original, tensors, larger = (benchmark._train_loader(r, train_dataset, 0, cpu) for r in benchmark.RECIPES[:3])
    X_original, y_original = next(iter(original))
    X_tensors, y_tensors = next(iter(tensors))
    assert torch.equal(X_original, X_tensors) and torch.equal(y_original, y_tensors)
    assert torch.equal(next(iter(larger))[1][:8], y_original), "a larger batch starts with the same images"


def test_fast_recipe_keeps_the_accuracy():
    table = pd.DataFrame(
        {"device": "cpu", "seconds per 60,000 images": [30.0, 3.0, 4.0, 5.0], "test accuracy": [0.960, 0.950, 0.9551, 0.97]},
        index=["original", "too inaccurate", "within half a point", "slower"],
    )
    assert benchmark.fast_recipe(table) == "within half a point"
    assert benchmark.fast_recipe(table, tolerance=0.02) == "too inaccurate"
    assert benchmark.fast_recipe(table, tolerance=0) == "slower"
    with pytest.raises(ValueError, match=r"the table holds devices \['cpu', 'cuda'\]: pass one"):
        benchmark.fast_recipe(pd.concat([table, table.assign(device="cuda")]))
    with pytest.raises(ValueError, match="tolerance=-0.1 must be 0 or more"):
        benchmark.fast_recipe(table, tolerance=-0.1)


def test_fast_recipe_breaks_ties_within_the_spread_by_accuracy_then_batch():
    table = pd.DataFrame(
        {
            "device": "cpu",
            "seconds per 60,000 images": [30.0, 3.750, 3.754, 3.9, 6.0],
            "spread": [1.0, 1.22, 1.13, 1.01, 1.0],
            "batch size": [8, 256, 128, 128, 8],
            "test accuracy": [0.969, 0.957, 0.961, 0.961, 0.969],
        },
        index=["original", "fastest", "tied", "tied, larger median", "outside the spread"],
    )
    assert benchmark.tied_with_fastest(table.iloc[1:]) == ["fastest", "tied", "tied, larger median"]
    assert benchmark.fast_recipe(table, tolerance=0.02) == "tied"  # the most accurate of the tied, then the first in order
    assert benchmark.fast_recipe(table.assign(spread=1.0), tolerance=0.02) == "fastest"
    with pytest.raises(ValueError, match="lacks the column"):
        benchmark.tied_with_fastest(table.drop(columns="spread"))


def test_images_seen_counts_the_partial_last_batches():
    assert benchmark.images_seen(4_000, 128, 469) == 58_688
    assert benchmark.images_seen(4_000, 256, 235) == 58_816
    assert benchmark.images_seen(4_000, 8, 7_500) == 60_000
    with pytest.raises(ValueError, match="batch_size=0 must be"):
        benchmark.images_seen(4_000, 0, 10)


def test_cpu_flags_summary_reads_the_flags():
    summary = benchmark.cpu_flags_summary("model name : X\nflags : fpu avx512f\n")
    assert summary["cpu"] == "X" and not summary["amx_bf16"] and not summary["avx512_bf16"]
    assert isinstance(summary["cpu_capability"], str)


def test_undetectable_drop_shrinks_with_the_test_set():
    assert benchmark.undetectable_drop(0.96, 1_000) == pytest.approx(1.96 * (2 * 0.96 * 0.04 / 1_000) ** 0.5)
    assert benchmark.undetectable_drop(0.96, 10_000) == pytest.approx(benchmark.undetectable_drop(0.96, 1_000) / 10**0.5)
    assert benchmark.undetectable_drop(1.0, 1_000) == 0.0
    with pytest.raises(ValueError, match="accuracy=96 must lie between 0 and 1"):
        benchmark.undetectable_drop(96, 1_000)
    with pytest.raises(ValueError, match="test_images=0 must be a positive whole number"):
        benchmark.undetectable_drop(0.96, 0)


def test_fast_recipe_can_take_the_accuracy_of_another_run():
    timed = pd.DataFrame(
        {"device": "cpu", "seconds per 60,000 images": [20.0, 2.0, 3.0, 4.0], "test accuracy": [0.9, 0.1, 0.1, 0.1]},
        index=["original", "not recorded", "inaccurate when recorded", "accurate when recorded"],
    )
    recorded = pd.Series({"original": 0.960, "inaccurate when recorded": 0.940, "accurate when recorded": 0.957})
    assert benchmark.fast_recipe(timed, accuracy=recorded) == "accurate when recorded"
    with pytest.raises(ValueError, match="accuracy does not name the original recipe 'original'"):
        benchmark.fast_recipe(timed, accuracy=recorded.drop("original"))


@pytest.mark.parametrize(
    ("capability", "instructions", "expected"),
    [
        ("AVX2", {"_is_avx512_bf16_supported": True}, "PyTorch's CPU kernels here use AVX2, without bfloat16 instructions"),
        ("AVX512", {"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": False}, "neither the AVX-512 BF16 nor the AMX"),
        ("AVX512", {"_is_avx512_bf16_supported": True, "_is_amx_tile_supported": False}, None),
        ("AVX512", {"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": True}, None),
    ],
)
def test_bfloat16_is_tried_only_with_bfloat16_instructions(monkeypatch, capability, instructions, expected):
    for name, value in instructions.items():
        monkeypatch.setattr(torch.cpu, name, lambda value=value: value, raising=False)
    problem = benchmark.bfloat16_problem("cpu", capability=capability)
    assert problem is None if expected is None else expected in problem


def test_recipes_for_leaves_out_bfloat16_with_the_reason(monkeypatch):
    monkeypatch.setattr(benchmark, "bfloat16_problem", lambda device: "no bfloat16 here")
    kept, skipped = benchmark.recipes_for("cpu")
    assert [r.name for r in kept] == [r.name for r in benchmark.RECIPES if not r.bfloat16]
    assert skipped == {r.name: "no bfloat16 here" for r in benchmark.RECIPES if r.bfloat16} and skipped
    monkeypatch.setattr(benchmark, "bfloat16_problem", lambda device: None)
    assert benchmark.recipes_for("cpu") == (benchmark.RECIPES, {})


def test_profile_recipe_accounts_for_a_step_by_kind_of_operation(sample):
    train_dataset, _, _ = sample
    profile = benchmark.profile_recipe(benchmark.RECIPES[4], train_dataset, num_steps=2)
    assert profile["share"].sum() == pytest.approx(1.0)
    assert {"convolutions, forward", "convolutions, backward", "max-pooling, forward", "optimiser"} <= set(profile.index)
    assert profile["milliseconds per step"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="num_steps=0 must be a positive whole number"):
        benchmark.profile_recipe(benchmark.RECIPES[4], train_dataset, num_steps=0)


def test_the_benchmark_script_profiles_the_original_and_the_fast_recipe(tmp_path, monkeypatch, capsys):
    import json

    names = [recipe.name for recipe in benchmark.RECIPES[:4]]
    # The third recipe is the fastest, but 6 points less accurate than the original: the fourth is the fast one.
    table = pd.DataFrame(
        {"device": "cpu", "seconds per 60,000 images": [9.0, 5.0, 2.0, 3.0], "test accuracy": [0.96, 0.96, 0.90, 0.958]},
        index=pd.Index(names, name="recipe"),
    )
    profiled = []

    def profile(recipe, train_dataset, device="cpu"):
        profiled.append((recipe.name, train_dataset, device))
        milliseconds = [4.0, 1.0] if recipe is benchmark.RECIPES[0] else [1.0, 2.0]
        return pd.DataFrame(
            {"milliseconds per step": milliseconds, "share": [m / sum(milliseconds) for m in milliseconds]},
            index=pd.Index(["loading batches", "convolutions, forward"], name="operations"),
        )

    # 1,000 test images: a drop of 1.7 points cannot be told from noise, the third recipe's 6 points can.
    monkeypatch.setattr("cnnlab.data.load_mnist", lambda mode=None: ("the training digits", [None] * 1000, "test digits"))
    monkeypatch.setattr("cnnlab.benchmark.run_benchmark", lambda *args, **kwargs: table)
    monkeypatch.setattr("cnnlab.benchmark.profile_recipe", profile)
    assert benchmark_script().main(["--profile", "--json", str(tmp_path / "run.json")]) == 0
    assert profiled == [(names[0], "the training digits", "cpu"), (names[3], "the training digits", "cpu")]
    printed = capsys.readouterr().out
    assert "Where a training step's time goes on cpu" in printed and f"fast: {names[3]}" in printed
    saved = json.loads((tmp_path / "run.json").read_text())["profiles"]["cpu"]
    assert saved["index"] == ["convolutions, forward", "loading batches"], "the fast recipe's largest share first"
    assert saved["data"][0] == pytest.approx([1.0, 0.2, 2.0, 2 / 3])


def test_the_fast_recipes_change_memory_format_and_precision():
    recipe = next(r for r in benchmark.RECIPES if r.bfloat16)
    model = benchmark._model(recipe, torch.device("cpu"))
    assert isinstance(model, benchmark.BFloat16Forward)
    assert model.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.model.conv1.weight.dtype == torch.float32  # mixed precision: the weights stay float32
    X = torch.rand(4, 1, 28, 28)
    logits = model(X)
    assert logits.dtype == torch.float32
    # bfloat16 keeps about 3 significant digits: close to the float32 logits, not equal.
    reference = model.model(X)
    assert torch.allclose(logits, reference, atol=0.05) and not torch.equal(logits, reference)


def test_floor_measurements():
    assert benchmark.training_flops_per_image() == 2 * 288_000 + 3 * 640_000 + 3 * (16_000 + 500) * 2
    bigger = models.SequentialCNN(channels=(20, 40))
    assert benchmark.training_flops_per_image(bigger) > benchmark.training_flops_per_image()
    assert benchmark.matmul_gflops(size=128, repeats=2) > 0
    assert benchmark.matmul_gflops(size=64, repeats=1, dtype=torch.bfloat16) > 0
    with pytest.raises(ValueError, match="size=0, repeats=1: both must be positive"):
        benchmark.matmul_gflops(size=0, repeats=1)


def test_recorded_measurements_hold_what_the_chapter_reads():
    records = benchmark.recorded_measurements()
    assert records, "record a run: python benchmarks/training_speed.py --contention --json code/src/cnnlab/measurements/..."
    for record in records:
        recipes = pd.DataFrame(record["recipes"]).set_index("recipe")
        assert list(recipes.index) == [recipe.name for recipe in benchmark.RECIPES], "re-record after changing RECIPES"
        assert {"seconds per 60,000 images", "test accuracy", "speed-up", "x floor", "floor seconds"} <= set(recipes)
        contention = pd.DataFrame(record["contention"]).set_index("setting")
        assert list(contention.index) == ["PyTorch's default", "cnnlab.threads"]
        assert {"threads", "idle seconds", "busy seconds", "slowdown", "idle cost"} <= set(contention)
        assert record["contention_steps"] > 0 and record["cpu_cores"] > 0


def test_original_loader_and_tensor_path_yield_identical_batches(sample):
    """In the same order, the original practical's ToTensor DataLoader and the tensors give bit-identical batches."""
    train_dataset, _, _ = sample
    X, y = loaders.dataset_to_tensors(train_dataset)
    first = [(X[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)]
    original_batches = list(torch.utils.data.DataLoader(torch.utils.data.Subset(train_dataset, range(64)), batch_size=8))
    for (X1, y1), (X2, y2) in zip(first, original_batches):
        assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_run_recipe_rejects_no_images(sample):
    train_dataset, test_dataset, _ = sample
    with pytest.raises(ValueError, match="num_images=0 must be positive"):
        benchmark.run_recipe(benchmark.RECIPES[1], train_dataset, [], num_images=0)
    with pytest.raises(ValueError, match="recipe.loader='pil' is not a loader"):
        benchmark.run_recipe(benchmark.Recipe("x", "pil", 8, 0.1), train_dataset, [], num_images=8)
