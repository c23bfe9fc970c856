"""`run_trick_test`: the round trips every trick must survive, in one
helper (as keras-hub's `TestCase.run_layer_test`), so a trick's own test
file holds only what is particular to it.

For a trick made by `make()` it checks, on the session's backend:

1. its config round trip (`from_config(get_config())` and
   `keras.saving` serialisation give the same config);
2. its hooks run inside a `kgt.GAN`'s compiled step (`fit`), the losses
   stay finite and the logs it names appear;
3. a `.keras` file keeps its state (every weight equal after loading) and
   the loaded GAN samples the same and trains on;
4. `keras.callbacks.BackupAndRestore`: a fit interrupted after its first
   epoch and resumed in a fresh GAN ends with the same trick state and
   generator weights as an uninterrupted one.
"""

import os

import keras
import numpy as np

import keras_gan_tricks as kgt
from tests.nets import (
    conv_discriminator,
    conv_generator,
    mlp_discriminator,
    mlp_generator,
)


class Interrupt(keras.callbacks.Callback):
    """Simulates a crash at the start of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def points(n=64, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0]], "float32")
    noise = 0.1 * rng.standard_normal((n, 2))
    return (centres[rng.integers(0, 2, n)] + noise).astype("float32")


def images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return np.tanh(rng.standard_normal((n, 8, 8, 1))).astype("float32")


def _gan(on_images, compile_kwargs, tricks):
    keras.utils.set_random_seed(0)
    if on_images:
        networks = conv_generator(), conv_discriminator()
    else:
        networks = mlp_generator(), mlp_discriminator()
    gan = kgt.GAN(*networks, seed=0)
    gan.compile(tricks=tricks, **(compile_kwargs or {}))
    return gan


def _trick_of(gan, kind):
    found = [t for t in gan.tricks if type(t) is kind]
    assert len(found) == 1, f"{kind.__name__} not among {gan.tricks}"
    return found[0]


def _weights(layer):
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in layer.weights]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def _fit(gan, data, epochs, callbacks=()):
    return gan.fit(
        data,
        batch_size=16,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )


def run_trick_test(
    make, tmp_path, on_images=False, logs=(), compile_kwargs=None, resume=True
):
    """Runs the four round trips on the trick `make()` returns."""
    trick = make()
    kind = type(trick)
    config = trick.get_config()
    assert kind.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(trick)
    )
    assert type(restored) is kind and restored.get_config() == config

    data = images() if on_images else points()
    gan = _gan(on_images, compile_kwargs, [trick])
    history = _fit(gan, data, epochs=1).history
    assert np.isfinite(history["d_loss"][-1]) and np.isfinite(history["g_loss"][-1])
    missing = [name for name in logs if name not in history]
    assert not missing, f"logs {missing} missing from {sorted(history)}"

    path = os.fspath(tmp_path / "trick_gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    _assert_same(_weights(_trick_of(loaded, kind)), _weights(trick))
    np.testing.assert_allclose(
        loaded.generate(8, seed=1), gan.generate(8, seed=1), rtol=1e-5, atol=1e-6
    )
    after = _fit(loaded, data, epochs=1).history
    assert np.isfinite(after["d_loss"][-1])

    if resume:
        backup = os.fspath(tmp_path / "backup")
        whole = _gan(on_images, compile_kwargs, [make()])
        _fit(whole, data, epochs=2)
        crashed = _gan(on_images, compile_kwargs, [make()])
        try:
            _fit(
                crashed,
                data,
                2,
                [keras.callbacks.BackupAndRestore(backup), Interrupt(1)],
            )
        except RuntimeError as error:
            assert "interrupted" in str(error)
        else:
            raise AssertionError("the fit was not interrupted")
        resumed = _gan(on_images, compile_kwargs, [make()])
        _fit(resumed, data, 2, [keras.callbacks.BackupAndRestore(backup)])
        _assert_same(
            _weights(_trick_of(resumed, kind)), _weights(_trick_of(whole, kind))
        )
        _assert_same(_weights(resumed.generator), _weights(whole.generator))
    return gan
