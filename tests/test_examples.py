"""Every example runs end to end with --smoke."""

import importlib.util
import os
import pathlib

import keras
import numpy as np
import pytest
from PIL import Image

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_digits_dcgan_smoke(tmp_path):
    example = load_example("digits_dcgan")
    assert example.main(["--smoke", "--out", str(tmp_path)]) == 0
    grid = np.array(Image.open(tmp_path / "samples.png"))
    assert grid.shape == (8 * 9 * 4 + 4, 8 * 9 * 4 + 4)
    assert grid.std() > 0  # not a blank picture
    assert sorted(os.listdir(tmp_path / "grids")) == [
        "epoch_0001.png",
        "epoch_0002.png",
    ]
    gan = keras.saving.load_model(tmp_path / "gan.keras")
    assert gan.generate(2, seed=0).shape == (2, 8, 8, 1)
    assert "ema_generator" in gan.trick_states and "lr_balancer" in gan.trick_states


def test_digits_are_scaled_to_tanh_range():
    images = load_example("digits_dcgan").load_images()
    assert images.shape == (1797, 8, 8, 1)
    assert images.min() == -1.0 and images.max() == 1.0
