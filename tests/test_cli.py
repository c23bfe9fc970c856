import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_gan_tricks import cli


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
        (["train", "--data", "imagenet"], "invalid choice: 'imagenet'"),
        (
            ["train", "--data", "ring", "--cifar-class", "frog"],
            "--cifar-class applies to --data cifar10 only",
        ),
        (["sample", "missing.keras"], "no such model file: missing.keras"),
        ([], "the following arguments are required: command"),
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
    # TensorFlow may log while it is imported; ours is one line, no traceback.
    ours = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("keras-gan-tricks")
    ]
    assert ours == ["keras-gan-tricks: error: argument --seed: invalid int value: 'x'"]
    assert "Traceback" not in result.stderr
