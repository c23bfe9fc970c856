"""Balanced consistency regularisation (bCR, Zhao et al. 2021) on kgt's
augmentations; CI runs this module on all three backends."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks.tricks import DiscriminatorContext
from tests.nets import conv_discriminator, conv_generator


def _np(x):
    return keras.ops.convert_to_numpy(
        keras.ops.stop_gradient(keras.ops.convert_to_tensor(x))
    )


def test_bcr_matches_the_papers_formula():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (6, 8, 8, 1)).astype("float32")
    fake = rng.uniform(-1, 1, (6, 8, 8, 1)).astype("float32")
    w = rng.normal(size=(64,)).astype("float32")

    def critic(x):  # a linear D: D(x) = w . vec(x)
        flat = keras.ops.reshape(keras.ops.convert_to_tensor(x), (-1, 64))
        return keras.ops.matmul(flat, keras.ops.convert_to_tensor(w))

    bcr = kgt.augment.ConsistencyRegularization(real_weight=2.0, fake_weight=0.5)
    # T here: a left-right flip, so the reference can apply it too.
    bcr.transform.augment = lambda x: keras.ops.flip(x, axis=2)
    context = DiscriminatorContext(
        discriminate=critic,
        real=keras.ops.convert_to_tensor(real),
        fake=keras.ops.convert_to_tensor(fake),
        real_logits=critic(real),
        fake_logits=critic(fake),
    )
    got = float(_np(bcr.discriminator_loss(context)["consistency"]))

    def d(x):
        return x.reshape(len(x), -1).astype("float64") @ w.astype("float64")

    expected = 2.0 * np.mean((d(real) - d(real[:, :, ::-1])) ** 2) + 0.5 * np.mean(
        (d(fake) - d(fake[:, :, ::-1])) ** 2
    )
    assert got == pytest.approx(expected, rel=1e-4)


def test_bcr_trains_logs_and_saves(tmp_path):
    gan = kgt.GAN(conv_generator(), conv_discriminator(), seed=0)
    gan.compile(tricks=[kgt.augment.ConsistencyRegularization(seed=0)])
    images = np.tanh(np.random.default_rng(1).normal(size=(64, 8, 8, 1)))
    history = gan.fit(images.astype("float32"), batch_size=16, epochs=2, verbose=0)
    values = history.history["consistency"]
    assert np.all(np.isfinite(values)) and values[-1] > 0
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    (loaded,) = keras.saving.load_model(path).tricks
    assert loaded.get_config()["policy"] == ["translation"]
    assert loaded.real_weight == 10.0


def test_bcr_is_for_images_and_checks_its_weights():
    from tests.nets import mlp_discriminator, mlp_generator

    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    with pytest.raises(ValueError, match="images"):
        gan.compile(tricks=[kgt.augment.ConsistencyRegularization()])
    with pytest.raises(ValueError, match="real_weight=-1.0"):
        kgt.augment.ConsistencyRegularization(real_weight=-1.0)
