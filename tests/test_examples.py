"""Every example runs end to end with --smoke (CI runs them all)."""

import importlib.util
import os
import pathlib

import keras
import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
# `_example.py` is what the examples share, not an example.
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_seed_examples_exist():
    assert set(NAMES) >= {
        "dcgan_cifar10_frog",
        "dcgan_svhn",
        "mnist_gan_rmsprop",
        "fashion_mnist_dcgan",
        "conditional_gan",
        "wgan_gp",
        "custom_train_step",
        "custom_train_step_jax",
        "custom_train_step_torch",
    }


# The custom train_step examples each run on one backend, by design.
BACKEND_OF = {
    "custom_train_step": "tensorflow",
    "custom_train_step_jax": "jax",
    "custom_train_step_torch": "torch",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_example_smoke(name, tmp_path):
    backend = BACKEND_OF.get(name, keras.backend.backend())
    if backend != keras.backend.backend():
        with pytest.raises(SystemExit, match=f"KERAS_BACKEND={backend}"):
            load_example(name).main(["--smoke", "--out", str(tmp_path)])
        return
    out = tmp_path / name
    assert load_example(name).main(["--smoke", "--out", str(out)]) == 0
    saved = sorted(out.glob("*.keras"))
    assert saved, os.listdir(out)
    model = keras.saving.load_model(saved[0])
    assert model.built


def test_the_examples_share_their_command_line(tmp_path):
    shared = load_example("_example")
    out = tmp_path / "made"
    args = shared.parse_args(["--smoke", "--out", str(out)], "Doc.\n", 30, "x")
    assert (args.epochs, args.smoke) == (1, True) and out.is_dir()
    args = shared.parse_args(["--epochs", "3"], "Doc.", 30, str(out))
    assert (args.epochs, args.smoke) == (3, False)
    assert len(shared.digits(args)[0]) == 1797 and len(shared.ring(args)[0]) == 50_000
    other = next(b for b in ("jax", "torch") if b != keras.backend.backend())
    with pytest.raises(SystemExit, match=f"uses its API: .*KERAS_BACKEND={other}"):
        shared.parse_args([], "Doc.", 30, str(out), backend=(other, "its API"))
    images = shared.smoke_images(4, (8, 8, 3))
    assert images.shape == (4, 8, 8, 3) and images.dtype == "float32"
    assert np.abs(images).max() < 1
