"""The benchmark scripts run (their --quick form) and write what they promise.

They report figures, not pass/fail: these tests check that the scripts work
and their JSON holds the keys the README and results tables use.
"""

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script, *args):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


@pytest.mark.slow
def test_speed_quick(tmp_path):
    out = tmp_path / "speed.json"
    _run("speed.py", "--quick", "--models", "digits", "--json", str(out))
    results = json.loads(out.read_text())
    # The bare and the hand-written contenders are TensorFlow code: on the
    # other backends their ratios are None (not run), not a number.
    tensorflow = keras.backend.backend() == "tensorflow"
    for key in (
        "kgt_plain_over_bare",
        "kgt_all_over_bare",
        "kgt_lazy_over_bare",
        "classic_over_kgt_all",
        "kgt_all_over_handwritten_all",
        "utilization",
    ):
        if tensorflow or key in ("classic_over_kgt_all", "utilization"):
            assert results[key] > 0, key
        else:
            assert results[key] is None, key
    row = results["models"]["digits"]
    # Growth is measured between two real resident-set readings.
    assert row["rss_mb_epoch_2"] > 0 and row["rss_mb_epoch_6"] > 0
    expected = row["rss_mb_epoch_6"] / row["rss_mb_epoch_2"] - 1
    assert results["memory_growth"] == pytest.approx(expected)
    assert set(row["ms_per_step"]) == {
        "kgt-plain",
        "kgt-all",
        "kgt-lazy",
        "classic",
        *(("bare", "handwritten-all") if tensorflow else ()),
    }
    assert row["step_gflop"] > 0 and row["matmul_gflops"] > 0
    assert row["recalibrate_ms"] > 0
    assert results["rounds"] == 3
    assert {name: len(t) for name, t in row["round_ms"].items()} == {
        name: 3 for name in row["ms_per_step"]
    }
    # The fastest-round ratios come from the recorded rounds.
    fast = min(row["round_ms"]["kgt-all"]) / min(row["round_ms"]["kgt-plain"])
    assert row["kgt_all_over_kgt_plain_fast"] == pytest.approx(fast)
    if tensorflow:
        fast = min(row["round_ms"]["kgt-plain"]) / min(row["round_ms"]["bare"])
        assert row["kgt_plain_over_bare_fast"] == pytest.approx(fast)
    assert results["utilization_fast"] >= results["utilization"] > 0


@pytest.mark.slow
def test_modes_quick(tmp_path):
    out, png = tmp_path / "modes.json", tmp_path / "modes.png"
    _run(
        "modes.py",
        "--quick",
        "--datasets",
        "ring",
        "--first-seed",
        "5",
        "--json",
        str(out),
        "--plot",
        str(png),
    )
    results = json.loads(out.read_text())["results"]["ring"]
    assert set(results) == {"vanilla", "all tricks"}
    for row in results.values():
        assert [run["seed"] for run in row["runs"]] == [5, 6]
        assert 0 <= row["modes"][0] <= 8 and 0 <= row["high_quality"][0] <= 1
    assert png.stat().st_size > 10_000


@pytest.mark.slow
def test_dispatch_quick(tmp_path):
    out = tmp_path / "dispatch.json"
    stdout = _run("dispatch.py", "--quick", "--steps", "20", "--json", str(out))
    results = json.loads(out.read_text())
    assert results["backend"] == keras.backend.backend()
    assert set(results["models"]) == {"pacgan", "mlp128"}
    for row in results["models"].values():
        _check_dispatch_row(row, "inline", "thread", "inline_over_thread")
    assert stdout.count("inline/thread") == 2


def _check_dispatch_row(row, slow, fast, key):
    """3 rounds of each contender; the fastest-round ratio from them."""
    assert {n: len(t) for n, t in row["round_ms"].items()} == {slow: 3, fast: 3}
    expected = min(row["round_ms"][slow]) / min(row["round_ms"][fast])
    assert row[f"{key}_fast"] == pytest.approx(expected)
    assert row[key] > 0


@pytest.mark.slow
def test_dispatch_tricks_quick(tmp_path):
    out = tmp_path / "tricks.json"
    stdout = _run(
        "dispatch.py",
        "--tricks",
        "--quick",
        "--steps",
        "20",
        "--models",
        "mlp128",
        "--json",
        str(out),
    )
    row = json.loads(out.read_text())["tricks"]["mlp128"]
    _check_dispatch_row(row, "hooks", "in_step", "hooks_over_in_step")
    assert stdout.count("hooks/in step") == 1


def _import_benchmark(name):
    """A benchmark script (benchmarks/NAME.py) as a module."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_failures_quick(tmp_path):
    out = tmp_path / "failures.json"
    stdout = _run("failures.py", "--quick", "--json", str(out))
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"d_lr_10x", "small_10pct", "dirac"}
    assert set(results["d_lr_10x"]) == {"vanilla", "balancer", "adaptive_noise", "ada"}
    for remedy, runs in results["small_10pct"].items():
        (run,) = runs
        assert run["images"] == 180 and run["steps"] == 58, remedy
        assert run["frechet_distance"] > 0 and len(run["curve"]) == 2
    (balanced,) = results["d_lr_10x"]["balancer"]
    assert balanced["lr_changes"] is not None and balanced["final_d_lr"] > 0
    (noisy,) = results["d_lr_10x"]["adaptive_noise"]
    assert 0.0 <= noisy["final_noise_stddev"] <= 0.5
    # The Dirac-GAN: R1 converges where plain gradient descent circles.
    dirac = results["dirac"]
    assert dirac["r1"][0]["final_distance"] < 0.01
    assert dirac["vanilla"][0]["late_mean_distance"] > 0.1
    assert "### dirac" in stdout and "| r1 | 1 |" in stdout


def test_failures_tables_pool_runs_by_seed(tmp_path):
    failures = _import_benchmark("failures")
    run = {"frechet_distance": 10.0, "classes_covered": 10, "class_kl_to_uniform": 0.1}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path, seeds, fd in ((a, (0, 1), 10.0), (b, (1, 2), 20.0)):
        runs = [
            {**run, "seed": s, "frechet_distance": fd + s, "seconds_to_target": None}
            for s in seeds
        ]
        path.write_text(json.dumps({"results": {"balanced": {"vanilla": runs}}}))
    pooled = failures.pool([str(a), str(b)])
    fds = [r["frechet_distance"] for r in pooled["balanced"]["vanilla"]]
    assert fds == [10.0, 21.0, 22.0]  # seed 1 from the later file
    text = failures.table(pooled)
    assert "| vanilla | 3 | 17.7 ± 3.8 |" in text and "not reached" in text


def test_speed_ratios_median_and_fastest_rounds():
    speed = _import_benchmark("speed")
    # Rounds 2 and 3 hit a cap (2.0 whatever the work): the median says
    # kgt-plain costs nothing, the fastest rounds say 10%.
    times = {"bare": [1.0, 2.0, 2.0], "kgt-plain": [1.1, 2.0, 2.0]}
    out = speed.ratios(times)
    assert out["kgt_plain_over_bare"] == pytest.approx(1.0)
    assert out["kgt_plain_over_bare_fast"] == pytest.approx(1.1)
    # A pair with a missing contender (no `bare` outside TensorFlow).
    assert out["classic_over_kgt_all"] is None
    assert out["classic_over_kgt_all_fast"] is None
    times = {"bare": [1.0, 3.0, 1.0], "kgt-plain": [2.0, 3.0, 1.5]}
    assert speed.ratios(times)["kgt_plain_over_bare"] == pytest.approx(1.5)


def test_speed_classic_loop_trains_both_networks():
    # The Keras 2 recipe (`d.trainable = False` once, before compiling the
    # combined model) leaves the discriminator untrained on Keras 3: the
    # contender would time a forward pass instead of a discriminator step.
    speed = _import_benchmark("speed_contenders")
    run = speed.make_classic("digits")
    g, d = run.generator, run.discriminator

    def snapshot(model):
        return [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]

    def changed(before, model):
        return sum(
            not np.array_equal(a, keras.ops.convert_to_numpy(w))
            for a, w in zip(before, model.weights, strict=True)
        )

    d_before, g_before = snapshot(d), snapshot(g)
    run(speed.data_for("digits", 1), 1)
    assert changed(d_before, d) == len(d.weights) > 0  # no running statistics in D
    assert changed(g_before, g) >= len(g.trainable_weights) > 0
    # The combined model's step updates the generator only.
    d_before = snapshot(d)
    z = np.random.default_rng(0).standard_normal((8, speed.LATENT["digits"]))
    run.combined.train_on_batch(z.astype("float32"), np.ones((8, 1), "float32"))
    assert changed(d_before, d) == 0


def test_speed_handwritten_contender_runs_every_trick():
    """`handwritten-all` times kgt-all's tricks: both networks and the
    average move, R1 and the smoothing are in D's loss, the rule's state
    advances."""
    pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the hand-written contender is TensorFlow code")
    speed = _import_benchmark("speed_contenders")
    run = speed.make_handwritten_all("digits")
    model = run.model

    def values(weights):
        return [np.array(keras.ops.convert_to_numpy(w)) for w in weights]

    nets = model.generator.trainable_weights + model.discriminator.trainable_weights
    before, average = values(nets), values(model.ema_g.trainable_weights)
    run(speed.data_for("digits", 2), 2)
    for old, new in zip(before, values(nets), strict=True):
        assert not np.array_equal(old, new)
    for old, new in zip(average, values(model.ema_g.trainable_weights), strict=True):
        assert not np.array_equal(old, new)
    assert keras.ops.convert_to_numpy(model.balance)[3] == 2  # steps seen
    logs = model.train_on_batch(speed.data_for("digits", 1)[:64], return_dict=True)
    # Smoothed labels keep D's loss above 0 even for a perfect D.
    assert logs["d_loss"] > 0 and logs["d_lr"] == pytest.approx(2e-4)


def _modes_file(path, steps, runs_by_row):
    results = {
        "ring": {row: {"runs": runs} for row, runs in runs_by_row.items()},
    }
    path.write_text(json.dumps({"steps": steps, "seeds": 0, "results": results}))
    return str(path)


def _run_metrics(modes, hq, kl, seed=None):
    run = {"modes": modes, "high_quality": hq, "reverse_kl": kl}
    return run if seed is None else {"seed": seed, **run}


def test_modes_pools_seeds_across_files(tmp_path):
    modes = _import_benchmark("modes")
    # An old file (no seeds recorded: they were 0, 1), a later piece with
    # seeds 1 (again) and 2, and a row at another step count.
    old = _modes_file(
        tmp_path / "a.json",
        100,
        {"vanilla": [_run_metrics(8, 0.5, 0.1), _run_metrics(7, 0.7, 0.3)]},
    )
    new = _modes_file(
        tmp_path / "b.json",
        100,
        {
            "vanilla": [
                _run_metrics(1, 0.0, 9.0, seed=1),
                _run_metrics(6, 0.9, 0.2, seed=2),
            ]
        },
    )
    longer = _modes_file(
        tmp_path / "c.json", 200, {"vanilla": [_run_metrics(8, 1.0, 0.0, seed=0)]}
    )
    pooled = modes.pool([old, new, longer])["ring"]
    assert list(pooled) == [("vanilla", 100), ("vanilla", 200)]
    # Seed 1 counted once (the first file's run), seed 2 added.
    assert [r["modes"] for r in pooled[("vanilla", 100)]] == [8, 7, 6]
    table = modes.markdown([old, new, longer])
    assert "| vanilla | 100 | 3 | 7.00 ± 0.58 | 70.0 ± 11.5 | 0.200 ± 0.058 |" in table
    assert "| vanilla | 200 | 1 | 8.00 ± 0.00 | 100.0 ± 0.0 | 0.000 ± 0.000 |" in table


def test_modes_keeps_finished_seeds_of_a_stopped_job(tmp_path, monkeypatch):
    modes = _import_benchmark("modes")
    out = tmp_path / "stopped.json"

    def train(dataset, row, seed, steps):
        if seed == 4:
            raise KeyboardInterrupt  # the job is stopped during its second run
        return {"seed": seed, **_run_metrics(7, 0.6, 0.2)}, None, None

    monkeypatch.setattr(modes, "train", train)
    argv = ["--datasets", "ring", "--rows", "vanilla", "--first-seed", "3"]
    with pytest.raises(KeyboardInterrupt):
        modes.main([*argv, "--seeds", "3", "--json", str(out)])
    pooled = modes.pool([str(out)])["ring"]
    assert list(pooled) == [("vanilla", 20_000)]
    assert [run["seed"] for run in pooled[("vanilla", 20_000)]] == [3]


@pytest.mark.slow
def test_digits_quick(tmp_path):
    out, png = tmp_path / "digits.json", tmp_path / "digits.png"
    _run("digits.py", "--quick", "--json", str(out), "--plot", str(png))
    report = json.loads(out.read_text())
    assert report["classifier_accuracy"] > 0.97
    for setting in ("vanilla", "tricks"):
        row = report["results"][setting]
        assert 0 <= row["classes_covered"][0] <= 10
        assert 0 <= row["stacked_modes"][0] <= 1000
        assert row["frechet_distance"][0] > 0
    assert png.stat().st_size > 5_000


@pytest.mark.slow
def test_folders_quick(tmp_path):
    """Both folders written (100 digits each), both settings trained a few
    steps, measured by a classifier of the folder's labels, and reported."""
    out, page, png = tmp_path / "f.json", tmp_path / "f.md", tmp_path / "f.png"
    _run(
        "folders.py",
        *("--quick", "--images", "100", "--steps", "2", "--keep", str(tmp_path)),
        *("--json", str(out), "--markdown", str(page), "--plot", str(png)),
    )
    report = json.loads(out.read_text())
    assert report["folders"]["32-rgb"]["image_shape"] == [32, 32, 3]
    assert report["folders"]["64-grey"]["image_shape"] == [64, 64, 1]
    assert len(list((tmp_path / "64-grey").glob("*/*.png"))) == 100
    for result in report["folders"].values():
        for setting in ("vanilla", "small_images"):
            run = result["settings"][setting]["runs"][0]
            assert run["steps"] == 2 and run["frechet_distance"] > 0
            assert 0 <= run["classes_covered"] <= 10
        ratio = result["small_images_over_vanilla_fd"]
        fds = [
            result["settings"][s]["frechet_distance"][0]
            for s in ("small_images", "vanilla")
        ]
        assert ratio == pytest.approx(fds[0] / fds[1])
    text = page.read_text()
    assert text.startswith("# Image folders") and "| 64-grey | 64 x 64 x 1 |" in text
    # 2 folders x 2 settings x 16 samples, 64 px each: 4 rows of 16.
    from PIL import Image

    assert Image.open(png).size == (16 * 64 + 17, 4 * 64 + 5)


@pytest.mark.parametrize(
    "name", ["modes", "failures", "digits", "dispatch", "speed", "folders"]
)
def test_benchmarks_parse_their_arguments_in_main(name, monkeypatch, capsys):
    # Importing one reads no command line (the test runner's is not its
    # own); its `main` parses the arguments it is given.
    monkeypatch.setattr(sys, "argv", ["pytest", "--not-a-benchmark-flag"])
    module = _import_benchmark(name)
    with pytest.raises(SystemExit):
        module.main(["--no-such-flag"])
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_backend_flag_after_keras_is_loaded_is_refused(capsys):
    common = _import_benchmark("_common")
    other = next(b for b in common.BACKENDS if b != keras.backend.backend())
    parser = argparse.ArgumentParser()
    with pytest.raises(SystemExit):
        common.parse_args(parser, ["--backend", other])
    assert f"Received: --backend {other}" in capsys.readouterr().err
    args = common.parse_args(
        argparse.ArgumentParser(), ["--backend", keras.backend.backend()]
    )
    assert args.backend == keras.backend.backend()


def test_pooled_runs_by_seed_first_or_last_file(tmp_path):
    common = _import_benchmark("_common")
    files = []
    for i, runs in enumerate(
        [[{"v": 0}, {"v": 1}], [{"seed": 1, "v": 10}, {"seed": 2, "v": 20}]]
    ):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps({"results": {"t": {"r": runs}}}))

    def groups(contents):
        for table, rows in contents["results"].items():
            for row, runs in rows.items():
                yield table, row, runs

    first = common.pool_runs(files, groups)["t"]["r"]
    last = common.pool_runs(files, groups, later_wins=True)["t"]["r"]
    assert [r["v"] for r in first] == [0, 1, 20]  # runs without seeds: 0, 1
    assert [r["v"] for r in last] == [0, 10, 20]


def test_shared_table_and_round_ratios():
    common = _import_benchmark("_common")
    assert common.markdown_table(["a", "b"], [[1, "x"]]) == [
        "| a | b |",
        "|---|---|",
        "| 1 | x |",
    ]
    median, fastest = common.round_ratios([2.0, 3.0, 9.0], [1.0, 1.0, 2.0])
    assert (median, fastest) == (3.0, 2.0)
    timing = common.per_step_ms({"a": [0.001, 0.003, 0.002]})
    assert timing["ms_per_step"]["a"] == pytest.approx(2.0)
    assert timing["round_ms"]["a"] == pytest.approx([1.0, 3.0, 2.0])
