"""Top-k generator updates and the replay buffer of past fakes,
on the trick protocol; CI runs this module on all three backends."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks._backend import primitives
from tests.nets import mlp_discriminator, mlp_generator


def _np(x):
    return keras.ops.convert_to_numpy(
        keras.ops.stop_gradient(keras.ops.convert_to_tensor(x))
    )


def ring(n=128):
    return kgt.datasets.gaussian_ring(n, seed=0)[0]


# TopK


@pytest.mark.parametrize("fraction, k", [(0.5, 4), (0.3, 2), (1.0, 8), (0.01, 1)])
def test_topk_gives_g_exactly_the_top_ks_gradient(fraction, k):
    # Sinha et al. 2020: G's loss is the mean over the k fakes D rates
    # highest; d/dx_i of mean_topk softplus(-x) = -sigmoid(-x_i) / k.
    topk = kgt.tricks.TopK(fraction, minimum=0.01)
    loss = kgt.losses.NonSaturating()
    x = np.array([0.3, -1.2, 2.0, 0.9, -0.4, 1.5, -2.2, 0.1], "float32")

    def g_loss(logits):
        return loss.generator_loss(topk.generator_logits(logits))

    gradient = _np(primitives.input_gradient(g_loss, keras.ops.convert_to_tensor(x)))
    top = np.argsort(-x)[:k]
    expected = np.zeros(8)
    expected[top] = -1.0 / (1.0 + np.exp(x[top])) / k
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-7)
    # The value is the whole batch's.
    assert float(_np(g_loss(x))) == pytest.approx(
        float(np.mean(np.logaddexp(0, -x))), rel=1e-6
    )


def test_topk_fraction_follows_its_schedule_down_to_the_minimum(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, 2, 0.5)
    topk = kgt.tricks.TopK(schedule, minimum=0.3)
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=[topk])
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["topk_fraction"]))

    gan.fit(ring(), batch_size=16, epochs=1, verbose=0, callbacks=[Record()])
    expected = [max(0.5 ** (t / 2), 0.3) for t in range(8)]
    assert seen == pytest.approx(expected, rel=1e-5)
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    (loaded,) = keras.saving.load_model(path).tricks
    assert isinstance(loaded, kgt.tricks.TopK) and loaded.minimum == 0.3
    assert float(_np(loaded.fraction(2))) == pytest.approx(0.5)


def test_topk_arguments_are_checked():
    with pytest.raises(ValueError, match="fraction=0.0"):
        kgt.tricks.TopK(0.0)
    with pytest.raises(ValueError, match="minimum=1.5"):
        kgt.tricks.TopK(1.0, minimum=1.5)


# ReplayBuffer


def _call(buffer, fake):
    return _np(buffer.discriminator_fakes(keras.ops.convert_to_tensor(fake), True))


def test_the_buffer_fills_then_swaps_old_fakes_in():
    buffer = kgt.tricks.ReplayBuffer(size=8, probability=1.0, seed=0)
    buffer.build_buffer((2,))
    first = np.arange(8, dtype="float32").reshape(4, 2)
    second = first + 100
    # Filling: the fakes pass through and are stored.
    np.testing.assert_array_equal(_call(buffer, first), first)
    np.testing.assert_array_equal(_call(buffer, second), second)
    stored = _np(buffer.buffer)
    assert sorted(map(tuple, stored)) == sorted(
        map(tuple, np.concatenate([first, second]))
    )
    # Full, probability 1: every fake is swapped for a stored one, which it
    # replaces.
    third = first + 1000
    out = _call(buffer, third)
    assert all(tuple(row) in set(map(tuple, stored)) for row in out)
    assert len({tuple(row) for row in out}) == 4  # four different old fakes
    now = set(map(tuple, _np(buffer.buffer)))
    assert all(tuple(row) in now for row in third)
    assert not any(tuple(row) in now for row in out)
    # Probability 0: nothing swapped, nothing stored.
    keep = kgt.tricks.ReplayBuffer(size=4, probability=0.0, seed=0)
    keep.build_buffer((2,))
    _call(keep, first)
    before = _np(keep.buffer)
    np.testing.assert_array_equal(_call(keep, second), second)
    np.testing.assert_array_equal(_np(keep.buffer), before)
    # Not in training: untouched.
    np.testing.assert_array_equal(
        _np(buffer.discriminator_fakes(keras.ops.convert_to_tensor(first), False)),
        first,
    )


def test_the_buffer_in_a_fit_is_saved_and_restored(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    buffer = kgt.tricks.ReplayBuffer(size=64, seed=0)
    gan.compile(tricks=[buffer])
    history = gan.fit(ring(), batch_size=32, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["d_loss"]))
    gan.sync_state()
    assert float(_np(buffer.stored)) == 64.0
    stored = _np(buffer.buffer)
    assert np.abs(stored).sum() > 0
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    (loaded,) = keras.saving.load_model(path).tricks
    np.testing.assert_allclose(_np(loaded.buffer), stored)
    with pytest.raises(ValueError, match=r"size=8.*batch of 32"):
        small = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
        small.compile(tricks=[kgt.tricks.ReplayBuffer(size=8)], run_eagerly=True)
        small.fit(ring(64), batch_size=32, epochs=1, verbose=0)
