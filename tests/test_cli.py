import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

import keras_gan_tricks as kgt
from keras_gan_tricks import cli
from keras_gan_tricks.cli import flags, output, silence


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--epochs", "2", "--out", str(out), "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    for name in (
        "samples.png",
        "real.png",
        "training.png",
        "gan.keras",
        "metrics.json",
    ):
        assert (out / name).is_file(), name
        assert str(out / name) in printed
    assert sorted(os.listdir(out / "grids")) == ["epoch_0001.png", "epoch_0002.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classifier_accuracy"] > 0.97
    assert metrics["frechet_distance"] > 0 and 0 <= metrics["classes_covered"] <= 10
    assert (
        metrics["frechet_distance_real_vs_real"] < metrics["frechet_distance_matched"]
    )
    assert np.isfinite(metrics["class_kl_to_uniform"])
    assert "Frechet distance" in printed and "classes covered" in printed
    assert Image.open(out / "training.png").size[0] > 100


@pytest.mark.slow
@pytest.mark.parametrize(
    "data,flags,key",
    [
        (
            "ring",
            [
                "--limit",
                "500",
                "--penalty",
                "r1",
                "--penalty-weight",
                "0.1",
                "--minibatch-stddev",
            ],
            "modes",
        ),
        (
            "digits",
            [
                "--limit",
                "64",
                "--label-smoothing",
                "0.1",
                "--instance-noise",
                "0.2",
                "--balancer",
                "--ema",
                "0.99",
            ],
            "frechet_distance",
        ),
    ],
)
def test_train_and_sample(tmp_path, data, flags, key, capsys):
    out = tmp_path / data
    args = [
        "train",
        "--data",
        data,
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--out",
        str(out),
        *flags,
    ]
    assert cli.main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert key in metrics
    gan = keras.saving.load_model(out / "gan.keras")
    assert gan.d_optimizer is not None
    grid = tmp_path / "grid.png"
    assert (
        cli.main(["sample", str(out / "gan.keras"), "-n", "16", "--out", str(grid)])
        == 0
    )
    assert grid.is_file() and "wrote 16 samples" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,text",
    [
        (["demo", "--epochs", "0"], "expected a positive integer, got '0'"),
        (["demo", "--epoch", "3"], "unrecognized arguments: --epoch 3"),
        (
            ["train", "--data", "imagenet"],
            "expected one of digits, ring, grid, stacked-digits, mnist, "
            "fashion-mnist, cifar10 or a folder of images, got 'imagenet'",
        ),
        (
            ["train", "--data", "ring", "--image-size", "32"],
            "--image-size applies to a folder given to --data",
        ),
        (
            ["train", "--data", "ring", "--cifar-class", "frog"],
            "--cifar-class applies to --data cifar10 only",
        ),
        (["sample", "missing.keras"], "no such model file: missing.keras"),
        (["train"], "the following arguments are required: --data"),
    ],
)
def test_bad_flags_and_paths_get_one_line(argv, text, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and err.startswith("keras-gan-tricks: error: ")
        and text in err
    )


def test_the_trick_flags_are_those_a_recipe_replaces():
    # `--recipe` refuses exactly the flags of TRICK_FLAGS given off their
    # defaults: the train parser's trick flags are that list, in order.
    parser = flags.Parser()
    flags.add_trick_flags(parser)
    assert tuple(vars(parser.parse_args([]))) == cli.TRICK_FLAGS


def test_bad_model_file_and_values(tmp_path, capsys):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    assert cli.main(["sample", str(junk)]) == 2
    assert "cannot load" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "train",
                "--data",
                "ring",
                "--label-smoothing",
                "1.5",
                "--epochs",
                "1",
                "--limit",
                "100",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "smoothing=1.5" in err


def test_console_script_bad_flag_exits_non_zero():
    script = shutil.which("keras-gan-tricks")
    command = [script] if script else [sys.executable, "-m", "keras_gan_tricks.cli"]
    result = subprocess.run(
        [*command, "demo", "--seed", "x"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    # A bad flag is found before any backend is imported: one line, nothing else.
    assert result.stderr.splitlines() == [
        "keras-gan-tricks: error: argument --seed: invalid int value: 'x'"
    ]


def _run_cli(*argv, debug=False, importtime=False):
    return subprocess.run(
        [
            sys.executable,
            *(["-X", "importtime"] if importtime else []),
            "-m",
            "keras_gan_tricks.cli",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KGT_DEBUG": "1" if debug else ""},
    )


def test_help_imports_no_backend():
    result = _run_cli("train", "--help", importtime=True)
    assert result.returncode == 0 and "--instance-noise" in result.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "keras_gan_tricks" in imported  # (the measurement works)
    for heavy in ("keras", "tensorflow", "jax", "torch", "numpy"):
        assert heavy not in imported, heavy


def test_a_run_shows_only_the_librarys_output(tmp_path):
    out = tmp_path / "ring"
    args = ["train", "--data", "ring", "--limit", "64", "--epochs", "1"]
    result = _run_cli(*args, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "metrics:" in result.stdout
    # Whatever the backend logs on this machine, none of it reaches stderr.
    assert not [
        line for line in result.stderr.splitlines() if silence.BACKEND_LOG.match(line)
    ]
    assert "WARNING" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "line, backend",
    [
        (
            "I0000 00:00:1796121855.424027   29061 port.cc:153] oneDNN custom "
            "operations are on.",
            True,
        ),
        (
            "E0000 00:00:1796121858.210690   29061 cuda_platform.cc:52] failed "
            "call to cuInit: INTERNAL",
            True,
        ),
        (
            "W1201 10:19:37.123456 140234 cpu_feature_guard.cc:227] This "
            "TensorFlow binary is optimized",
            True,
        ),
        (
            "WARNING: All log messages before absl::InitializeLog() is called "
            "are written to STDERR",
            True,
        ),
        ("To enable the following instructions: AVX2 FMA, in other operations", True),
        ("keras-gan-tricks: error: --epochs: expected a positive integer", False),
        ("UserWarning: `x` holds values in [0, 255]", False),
        ("I0000 is not a log line without its source", False),
    ],
)
def test_backend_log_filter(line, backend):
    assert bool(silence.BACKEND_LOG.match(line)) is backend


def test_the_2d_picture_draws_the_real_modes_beside_the_samples(tmp_path):
    import keras_gan_tricks as kgt
    from tests.nets import mlp_discriminator, mlp_generator

    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    points, centers = kgt.datasets.gaussian_ring(n=500)

    def colours(path):
        pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
        red = np.abs(pixels - [214, 39, 40]).sum(1) < 60  # tab:red: the modes
        grey = np.abs(pixels - [191, 191, 191]).sum(1) < 20  # the real data
        return red.sum(), grey.sum()

    both = output.draw(gan, 200, 0, tmp_path / "both.png", real=points, centers=centers)
    alone = output.draw(gan, 200, 0, tmp_path / "alone.png")
    red, grey = colours(both)
    assert red > 50 and grey > 50
    assert colours(alone)[0] < red / 10


def test_train_says_what_auto_picked(tmp_path, capsys):
    """The default recipe, `auto`, prints the facts it read and its row."""
    out = tmp_path / "ring"
    argv = ["train", "--data", "ring", "--limit", "200", "--epochs", "1"]
    assert cli.main([*argv, "--batch-size", "100", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "recipe: auto: 200 vectors of shape 2, 2 steps: the points row: "
        "R3GAN's objective" in printed
    )
    gan = keras.saving.load_model(out / "gan.keras")
    assert isinstance(gan.loss, kgt.losses.RelativisticPairing)
