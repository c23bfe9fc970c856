"""Keras's InceptionV3 as an extractor for any images, tested offline: the
FID protocol's pipeline (grey to three channels, 299x299 bilinear, 2048
pool features) on random weights, the error when the ImageNet weights
cannot be had, and the command line's choice of extractor."""

import json
import re

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks import cli
from keras_gan_tricks.evaluation import inception
from tests.folders import digits_folder


@pytest.fixture(scope="module")
def random_inception():
    keras.utils.set_random_seed(0)
    return kgt.evaluation.inception_v3(weights=None)


def test_prepares_images_as_the_fid_protocol(random_inception):
    rng = np.random.default_rng(0)
    grey = np.tanh(rng.standard_normal((2, 28, 28, 1))).astype("float32")
    prepared = random_inception.prepare(grey)
    assert prepared.shape == (2, 299, 299, 3) and prepared.dtype == np.float32
    np.testing.assert_array_equal(prepared[..., 0], prepared[..., 2])
    assert prepared.min() >= -1.0 - 1e-6 and prepared.max() <= 1.0 + 1e-6
    # Bilinear: a flat image stays flat, the mean level is kept.
    flat = random_inception.prepare(np.full((1, 32, 32, 3), 0.25, "float32"))
    np.testing.assert_allclose(flat, 0.25, atol=1e-6)
    np.testing.assert_allclose(prepared.mean(), grey.mean(), atol=0.02)
    # Already 299x299: unchanged.
    big = np.tanh(rng.standard_normal((1, 299, 299, 3))).astype("float32")
    np.testing.assert_allclose(random_inception.prepare(big), big, atol=1e-6)


def test_gives_2048_pool_features_whatever_the_batch(random_inception):
    images = np.tanh(np.random.default_rng(1).standard_normal((5, 16, 16, 3)))
    one_batch = kgt.evaluation.features(images, random_inception)
    assert one_batch.shape == (5, 2048) and one_batch.dtype == np.float64
    in_twos = random_inception.features(images, batch_size=2)
    np.testing.assert_allclose(in_twos, one_batch, rtol=1e-4, atol=1e-5)
    # The features are the network's pool on the prepared images.
    direct = random_inception.model.predict(
        random_inception.prepare(images[:2]), verbose=0
    )
    np.testing.assert_allclose(one_batch[:2], direct, rtol=1e-4, atol=1e-5)
    # Different images, different features.
    assert not np.allclose(one_batch[0], one_batch[1])
    assert "not the numbers of the original FID code" in random_inception.description


def test_says_which_file_to_put_where_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(kgt.evaluation.WeightsUnavailableError) as error:
        kgt.evaluation.inception_v3()
    message = str(error.value)
    assert inception.WEIGHTS_FILE in message and inception.WEIGHTS_URL in message
    assert str(tmp_path / "keras-home" / "models") in message
    assert "URL fetch failure" in message
    assert isinstance(error.value, OSError)


def test_bad_weights():
    with pytest.raises(ValueError, match=re.escape("weights='nowhere.h5'")):
        kgt.evaluation.inception_v3(weights="nowhere.h5")
    with pytest.raises(TypeError, match=re.escape("weights=3")):
        kgt.evaluation.inception_v3(weights=3)
    with pytest.raises(ValueError, match=re.escape("images of shape (2, 8, 8, 2)")):
        inception.InceptionFeatures.prepare(np.zeros((2, 8, 8, 2)))


def test_the_command_line_falls_back_to_inception_without_labels(
    tmp_path, monkeypatch, random_inception
):
    """No class subfolders: InceptionV3 measures (here with random weights,
    standing in for the ImageNet ones), and metrics.json says which and why;
    without its weights, no figures and both reasons."""
    folder = tmp_path / "flat"
    digits_folder(str(folder), n=40, size=8, classes=False)
    monkeypatch.setattr(kgt.evaluation, "inception_v3", lambda: random_inception)
    argv = ["train", "--data", str(folder), "--epochs", "1", "--recipe", "none"]
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["frechet_distance"] > 0 and np.isfinite(metrics["kernel_distance"])
    assert 0 <= metrics["precision"] <= 1 and 0 <= metrics["coverage"] <= 1
    assert metrics["generated_samples"] == 40
    assert metrics["extractor"].startswith("keras.applications.InceptionV3 (random")
    assert "no class subfolders" in metrics["why_this_extractor"]
