import json

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

import keras_gan_tricks as kgt
from keras_gan_tricks import penalties
from tests.nets import EachBatch, conv_discriminator, conv_generator


def linear_critic(w):
    w = ops.convert_to_tensor(w)
    return lambda x: ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)) * w, axis=1)


def quadratic_critic(x):
    """D(x) = 0.5 * ||x||^2, so that grad D(x) = x."""
    return 0.5 * ops.sum(ops.square(ops.reshape(x, (ops.shape(x)[0], -1))), axis=1)


weights = hnp.arrays("float32", st.integers(1, 8), elements=st.floats(-3, 3, width=32))


@given(w=weights, gamma=st.floats(0.0, 20.0), seed=st.integers(0, 100))
def test_r1_on_linear_discriminator_is_half_gamma_norm_squared(w, gamma, seed):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((5, w.size)).astype("float32")
    fake = rng.standard_normal((5, w.size)).astype("float32")
    value = float(penalties.R1(gamma)(linear_critic(w), real, fake))
    expected = gamma / 2 * float(np.sum(w.astype("float64") ** 2))
    assert value == pytest.approx(expected, rel=1e-4, abs=1e-5)


@given(
    direction=weights.filter(lambda w: np.linalg.norm(w) > 1e-2),
    seed=st.integers(0, 100),
)
def test_gradient_penalty_is_zero_for_unit_norm_linear_critic(direction, seed):
    w = (direction / np.linalg.norm(direction)).astype("float32")
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((6, w.size)).astype("float32")
    fake = rng.standard_normal((6, w.size)).astype("float32")
    value = float(
        penalties.GradientPenalty(10.0)(linear_critic(w), real, fake, seed=seed)
    )
    assert value == pytest.approx(0.0, abs=1e-5)
    # Scaled to norm 3 the penalty is weight * (3 - 1)^2.
    scaled = float(
        penalties.GradientPenalty(10.0)(linear_critic(3 * w), real, fake, seed=seed)
    )
    assert scaled == pytest.approx(40.0, rel=1e-4)


def test_r1_uses_real_and_r2_uses_fake_samples():
    real = np.full((4, 3), 2.0, "float32")  # ||x||^2 = 12
    fake = np.full((4, 3), 1.0, "float32")  # ||x||^2 = 3
    assert float(penalties.R1(2.0)(quadratic_critic, real, fake)) == pytest.approx(12.0)
    assert float(penalties.R2(2.0)(quadratic_critic, real, fake)) == pytest.approx(3.0)


def test_gradient_penalty_samples_between_real_and_fake():
    # With grad D(x) = x the gradient norm at x_hat = e*real + (1-e)*fake is
    # |e*2 + (1-e)*(-2)| * sqrt(3) for real = 2, fake = -2 (3 features): it
    # must vary per sample and stay within the segment's norms.
    real = np.full((512, 3), 2.0, "float32")
    fake = np.full((512, 3), -2.0, "float32")
    penalty = penalties.GradientPenalty(weight=1.0, target=1.0)
    value = float(penalty(quadratic_critic, real, fake, seed=0))
    # E[(|4e - 2| sqrt3 - 1)^2] for e ~ U(0, 1): 3*E[(4e-2)^2] - 2 sqrt3 E|4e-2| + 1 = 4 - 2 sqrt3 + 1.
    assert value == pytest.approx(5 - 2 * np.sqrt(3), rel=0.1)
    # Where real and fake coincide, every interpolate is that point.
    same = float(penalty(quadratic_critic, real, real, seed=0))
    assert same == pytest.approx((2 * np.sqrt(3) - 1) ** 2, rel=1e-5)


def test_penalty_works_on_images():
    real = np.ones((2, 4, 4, 1), "float32")
    w = np.full((16,), 0.25, "float32")  # unit norm over the 16 pixels
    assert float(penalties.R1(10.0)(linear_critic(w), real, real)) == pytest.approx(5.0)
    assert float(
        penalties.GradientPenalty(1.0)(linear_critic(w), real, real, seed=1)
    ) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize(
    "make,error,text",
    [
        (lambda: penalties.R1(-1.0), ValueError, "gamma=-1.0"),
        (lambda: penalties.R2(float("inf")), ValueError, "gamma=inf"),
        (lambda: penalties.GradientPenalty(-10), ValueError, "weight=-10"),
        (lambda: penalties.GradientPenalty(10, target=0.0), ValueError, "target=0.0"),
        (lambda: penalties.R1("10"), TypeError, "gamma='10'"),
        (lambda: penalties.get("r1"), TypeError, "penalty='r1'"),
    ],
)
def test_bad_arguments(make, error, text):
    with pytest.raises(error, match=text):
        make()


@pytest.mark.parametrize(
    "penalty",
    [penalties.R1(3.0), penalties.R2(0.5), penalties.GradientPenalty(5.0, target=0.5)],
    ids=repr,
)
def test_serialization_round_trip(penalty):
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(penalty)))
    assert keras.saving.deserialize_keras_object(config) == penalty


@pytest.mark.parametrize("make", [kgt.penalties.R1, kgt.penalties.R2])
def test_lazy_penalty_runs_every_kth_step_k_times_as_strong(make):
    """`every=k`: the penalty is computed on steps 0, k, 2k, ... times k, and
    adds nothing in between (a discriminator with dropout, whose random
    state the skipped branch must leave alone)."""
    images = np.tanh(np.random.default_rng(0).standard_normal((96, 8, 8, 1)))
    images = images.astype("float32")

    def run(penalty):
        keras.utils.set_random_seed(3)
        gan = kgt.GAN(conv_generator(), conv_discriminator(), seed=0)
        gan.compile(penalty=penalty)
        seen = []
        gan.fit(
            images,
            batch_size=16,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[EachBatch(lambda batch, logs: seen.append(gan.batch_values()))],
        )
        return seen

    eager, lazy = run(make(2.0)), run(make(2.0, every=3))
    penalties = [v["penalty"] for v in lazy]
    assert [p > 0 for p in penalties] == [True, False, False, True, False, False]
    # Step 0 starts from the same state: exactly 3 times the eager penalty.
    assert penalties[0] == pytest.approx(3 * eager[0]["penalty"], rel=1e-5)
    assert all(np.isfinite(v["d_loss"]) for v in lazy)


def test_lazy_penalty_config_round_trip():
    for penalty in (
        kgt.penalties.R1(0.5, every=16),
        kgt.penalties.R2(0.5, every=4),
        kgt.penalties.GradientPenalty(10.0, every=2),
    ):
        again = type(penalty).from_config(penalty.get_config())
        assert (
            again.every == penalty.every and again.get_config() == penalty.get_config()
        )
    with pytest.raises(ValueError, match="every=0"):
        kgt.penalties.R1(1.0, every=0)
