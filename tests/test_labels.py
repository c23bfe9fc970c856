import json

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_gan_tricks import labels

N = 4096


def run(policy, seed, n=N):
    real, fake = policy(np.ones(n, "float32"), np.zeros(n, "float32"), seed=seed)
    return keras.ops.convert_to_numpy(real), keras.ops.convert_to_numpy(fake)


@given(smoothing=st.floats(0.0, 0.99))
def test_one_sided_smoothing(smoothing):
    real, fake = run(labels.OneSidedSmoothing(smoothing), seed=0, n=8)
    np.testing.assert_allclose(real, 1.0 - smoothing, rtol=1e-6)
    np.testing.assert_array_equal(fake, 0.0)


ranges = st.tuples(st.floats(-1.0, 2.0), st.floats(0.0, 1.0)).map(
    lambda lw: (lw[0], lw[0] + lw[1])
)


@given(real_range=ranges, fake_range=ranges, seed=st.integers(0, 2**16))
def test_uniform_noise_stays_in_range(real_range, fake_range, seed):
    real, fake = run(labels.UniformNoise(real=real_range, fake=fake_range), seed)
    tol = 1e-5
    assert real.min() >= real_range[0] - tol and real.max() <= real_range[1] + tol
    assert fake.min() >= fake_range[0] - tol and fake.max() <= fake_range[1] + tol


def test_uniform_noise_defaults_cover_seed_ranges():
    real, fake = run(labels.UniformNoise(), seed=3)
    # Uniform on (0.7, 1.2) and (0, 0.3): mean and spread of the draws.
    assert real.mean() == pytest.approx(0.95, abs=0.01)
    assert fake.mean() == pytest.approx(0.15, abs=0.01)
    assert real.std() == pytest.approx(0.5 / np.sqrt(12), abs=0.01)
    assert not np.allclose(real - 0.7, (fake / 0.3) * 0.5), (
        "real and fake draws are tied"
    )


@pytest.mark.parametrize("probability", [0.0, 0.05, 0.3, 1.0])
def test_random_flip_rate(probability):
    real, fake = run(labels.RandomFlip(probability), seed=7, n=20000)
    flipped = real == 0.0
    # A flip swaps the pair at that position, nothing else changes.
    np.testing.assert_array_equal(fake[flipped], 1.0)
    np.testing.assert_array_equal(fake[~flipped], 0.0)
    np.testing.assert_array_equal(real[~flipped], 1.0)
    se = np.sqrt(probability * (1 - probability) / real.size)
    assert abs(flipped.mean() - probability) <= 5 * se + 1e-12


@pytest.mark.parametrize(
    "policy",
    [
        labels.UniformNoise(),
        labels.RandomFlip(0.5),
        labels.compose(labels.UniformNoise(), labels.RandomFlip(0.3)),
    ],
    ids=repr,
)
def test_determinism_under_seed(policy):
    a, b = run(policy, seed=11), run(policy, seed=11)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = run(policy, seed=12)
    assert not np.array_equal(a[0], c[0])
    # A SeedGenerator advances: two calls on the same generator differ, and
    # a generator in the same state repeats them.
    g1, g2 = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
    first, second = run(policy, g1), run(policy, g1)
    assert not np.array_equal(first[0], second[0])
    np.testing.assert_array_equal(run(policy, g2)[0], first[0])


policy_strategy = st.one_of(
    st.floats(0.0, 0.5).map(labels.OneSidedSmoothing),
    st.floats(0.0, 1.0).map(labels.RandomFlip),
    st.tuples(ranges, ranges).map(
        lambda rf: labels.UniformNoise(real=rf[0], fake=rf[1])
    ),
)


@given(
    policies=st.lists(policy_strategy, min_size=1, max_size=4),
    seed=st.integers(0, 1000),
)
def test_compose_equals_applying_one_by_one(policies, seed):
    composed = labels.compose(*policies)
    expected_real, expected_fake = np.ones(64, "float32"), np.zeros(64, "float32")
    stream = keras.random.SeedGenerator(seed)
    for policy in policies:
        expected_real, expected_fake = policy(expected_real, expected_fake, seed=stream)
    got_real, got_fake = composed(
        np.ones(64, "float32"),
        np.zeros(64, "float32"),
        seed=keras.random.SeedGenerator(seed),
    )
    np.testing.assert_allclose(got_real, expected_real, rtol=1e-6)
    np.testing.assert_allclose(got_fake, expected_fake, rtol=1e-6)


@pytest.mark.parametrize(
    "make,error,text",
    [
        (lambda: labels.OneSidedSmoothing(1.0), ValueError, "smoothing=1.0"),
        (lambda: labels.OneSidedSmoothing(-0.1), ValueError, "smoothing=-0.1"),
        (lambda: labels.OneSidedSmoothing("0.1"), TypeError, "smoothing='0.1'"),
        (lambda: labels.OneSidedSmoothing(float("nan")), ValueError, "smoothing=nan"),
        (
            lambda: labels.UniformNoise(real=(1.2, 0.7)),
            ValueError,
            r"real=\(1.2, 0.7\)",
        ),
        (lambda: labels.UniformNoise(fake=(0.3,)), TypeError, r"fake=\(0.3,\)"),
        (lambda: labels.UniformNoise(fake=0.3), TypeError, "fake=0.3"),
        (lambda: labels.RandomFlip(1.5), ValueError, "probability=1.5"),
        (lambda: labels.RandomFlip(-0.01), ValueError, "probability=-0.01"),
        (
            lambda: labels.compose(labels.RandomFlip(0.1), 0.1),
            TypeError,
            r"policies\[1\]=0.1",
        ),
        (lambda: run(labels.RandomFlip(0.1), seed="x"), TypeError, "seed='x'"),
    ],
)
def test_bad_arguments(make, error, text):
    with pytest.raises(error, match=text):
        make()


@pytest.mark.parametrize(
    "policy",
    [
        labels.OneSidedSmoothing(0.2),
        labels.UniformNoise(real=(0.8, 1.1), fake=(0.0, 0.2)),
        labels.RandomFlip(0.1),
        labels.compose(
            labels.UniformNoise(),
            labels.OneSidedSmoothing(0.1),
            labels.RandomFlip(0.05),
        ),
    ],
    ids=repr,
)
def test_serialization_round_trip(policy):
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(policy)))
    restored = keras.saving.deserialize_keras_object(config)
    assert restored == policy
    np.testing.assert_array_equal(run(restored, seed=1)[0], run(policy, seed=1)[0])
