"""Every example runs end to end with --smoke (CI runs them all)."""

import importlib.util
import os
import pathlib

import keras
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py"))


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
