"""`gan.export_generator`: the generator that samples (the average when
`GeneratorEMA` keeps one), saved alone, loads with Keras's own loader and
gives `gan.generate`'s samples."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from tests.nets import mlp_discriminator, mlp_generator


def trained(tricks=()):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=list(tricks))
    points = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
    gan.fit(points, batch_size=32, epochs=2, verbose=0)
    return gan


def test_the_average_is_exported_and_samples_as_generate(tmp_path):
    gan = trained([kgt.tricks.GeneratorEMA(decay=0.9)])
    path = os.fspath(tmp_path / "generator.keras")
    exported = gan.export_generator(path)
    assert exported is gan.sampling_generator()
    assert exported is not gan.generator
    loaded = keras.saving.load_model(path)  # no kgt.GAN needed
    latents = gan.sample_latent(50, seed=3)
    samples = gan.generate(50, seed=3)
    np.testing.assert_allclose(loaded.predict(latents, verbose=0), samples, atol=1e-5)
    # The raw generator samples otherwise: the export is not it.
    raw = keras.ops.convert_to_numpy(gan.generator(latents, training=False))
    assert not np.allclose(raw, samples, atol=1e-3)
    # use_ema=False: the raw generator, as gan.generator.save() would.
    gan.export_generator(tmp_path / "raw.keras", use_ema=False)
    again = keras.saving.load_model(tmp_path / "raw.keras")
    np.testing.assert_allclose(again.predict(latents, verbose=0), raw, atol=1e-5)


def test_without_an_average_the_generator_is_exported(tmp_path):
    gan = trained()
    gan.export_generator(tmp_path / "generator.keras")
    loaded = keras.saving.load_model(tmp_path / "generator.keras")
    np.testing.assert_allclose(
        loaded.predict(gan.sample_latent(20, seed=1), verbose=0),
        gan.generate(20, seed=1),
        atol=1e-5,
    )


def test_only_keras_files(tmp_path):
    gan = trained()
    with pytest.raises(ValueError, match=r"filepath='.*generator.h5'"):
        gan.export_generator(os.fspath(tmp_path / "generator.h5"))
