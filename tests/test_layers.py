import os

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keras import ops

import keras_gan_tricks as kgt


@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(lambda s: (64, *s)),
    stddev=st.floats(0.01, 3.0),
    offset=st.floats(-2.0, 2.0),
)
def test_instance_noise_std_in_training_identity_at_inference(shape, stddev, offset):
    layer = kgt.layers.InstanceNoise(stddev, seed=1)
    x = np.full(shape, offset, "float32")
    noisy = ops.convert_to_numpy(layer(x, training=True))
    diff = (noisy - x).ravel()
    n = diff.size
    # The sample std of n normal draws has standard error about std/sqrt(2n).
    assert abs(diff.std() - stddev) < 5 * stddev / np.sqrt(2 * n) + 1e-6
    assert abs(diff.mean()) < 5 * stddev / np.sqrt(n)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)


def test_instance_noise_stddev_is_a_variable():
    layer = kgt.layers.InstanceNoise(0.3)
    assert isinstance(layer.stddev, keras.Variable) and not layer.stddev.trainable
    assert float(layer.stddev) == pytest.approx(0.3)
    assert layer.non_trainable_weights == [layer.stddev] and not layer.trainable_weights
    layer.stddev.assign(0.0)
    x = np.ones((8, 4), "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=True)), x)
    layer.stddev.assign(2.0)
    assert ops.convert_to_numpy(
        layer(np.zeros((4096,), "float32"), training=True)
    ).std() == pytest.approx(2.0, rel=0.1)


def test_instance_noise_draws_differ_between_calls_and_seeds():
    x = np.zeros((16,), "float32")
    layer = kgt.layers.InstanceNoise(1.0, seed=3)
    first, second = (ops.convert_to_numpy(layer(x, training=True)) for _ in range(2))
    assert not np.array_equal(first, second)
    again = kgt.layers.InstanceNoise(1.0, seed=3)
    np.testing.assert_array_equal(ops.convert_to_numpy(again(x, training=True)), first)


def test_instance_noise_saved_with_its_current_stddev(tmp_path):
    model = keras.Sequential(
        [keras.Input((3,)), kgt.layers.InstanceNoise(0.5), keras.layers.Dense(1)]
    )
    model.layers[0].stddev.assign(0.125)
    path = os.fspath(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[0], kgt.layers.InstanceNoise)
    assert float(loaded.layers[0].stddev) == pytest.approx(0.125)
    config = kgt.layers.InstanceNoise(0.2, seed=4, name="n").get_config()
    clone = kgt.layers.InstanceNoise.from_config(config)
    assert float(clone.stddev) == pytest.approx(0.2) and clone.seed == 4


@pytest.mark.parametrize(
    "make,error,text",
    [
        (lambda: kgt.layers.InstanceNoise(-0.1), ValueError, "stddev=-0.1"),
        (lambda: kgt.layers.InstanceNoise("0.1"), TypeError, "stddev='0.1'"),
        (lambda: kgt.layers.InstanceNoise(float("nan")), ValueError, "stddev=nan"),
        (lambda: kgt.layers.MinibatchStdDev(group_size=1), ValueError, "group_size=1"),
        (lambda: kgt.layers.MinibatchStdDev(epsilon=0.0), ValueError, "epsilon=0.0"),
    ],
)
def test_layer_bad_arguments(make, error, text):
    with pytest.raises(error, match=text):
        make()


def minibatch_stddev_reference(x, group_size, eps=1e-8):
    n = x.shape[0]
    groups = -(-n // group_size)
    flat = x.reshape(n, -1).astype("float64")
    stat = np.empty(n)
    for g in range(groups):
        members = np.arange(n) % groups == g
        stat[members] = np.sqrt(flat[members].var(axis=0) + eps).mean()
    return stat


@pytest.mark.parametrize("batch", [8, 10, 3, 1])
@pytest.mark.parametrize("shape", [(4, 4, 2), (5,)])
def test_minibatch_stddev_matches_reference(batch, shape):
    x = np.random.default_rng(batch).standard_normal((batch, *shape)).astype("float32")
    out = ops.convert_to_numpy(kgt.layers.MinibatchStdDev(group_size=4)(x))
    assert out.shape == (batch, *shape[:-1], shape[-1] + 1)
    np.testing.assert_array_equal(out[..., :-1], x)
    expected = minibatch_stddev_reference(x, 4)
    got = out[..., -1].reshape(batch, -1)
    np.testing.assert_allclose(
        got, np.repeat(expected[:, None], got.shape[1], axis=1), rtol=1e-4, atol=1e-5
    )


def test_minibatch_stddev_sees_collapse():
    rng = np.random.default_rng(0)
    varied = rng.standard_normal((16, 4, 4, 1)).astype("float32")
    collapsed = np.repeat(varied[:1], 16, axis=0)
    layer = kgt.layers.MinibatchStdDev()
    assert ops.convert_to_numpy(layer(collapsed))[..., -1].max() < 1e-3
    assert ops.convert_to_numpy(layer(varied))[..., -1].min() > 0.5


def test_minibatch_stddev_in_a_model_and_config():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            kgt.layers.MinibatchStdDev(group_size=2),
            keras.layers.Flatten(),
        ]
    )
    assert model.output_shape == (None, 6 * 6 * 4)
    layer = kgt.layers.MinibatchStdDev.from_config(
        kgt.layers.MinibatchStdDev(group_size=8).get_config()
    )
    assert layer.group_size == 8
