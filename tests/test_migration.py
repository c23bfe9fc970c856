"""The README's migration mappings, each against the peer's own numbers.

TF-GAN's values are the fixed expectations of its loss tests
(`tensorflow_gan/python/losses/losses_impl_test.py`: real logits
[-5.0, 1.4, 12.5, 2.7], generated [10.0, 4.4, -5.5, 3.6], 5 decimals).
GAN_stability (Mescheder et al. 2018) publishes no fixed values; its
regulariser is checked against its code's formula, `reg_param *
mean(sum(grad**2))` (`gan_training/train.py`), on a linear critic.
"""

import math

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt

REAL = np.array([-5.0, 1.4, 12.5, 2.7], "float32")
FAKE = np.array([10.0, 4.4, -5.5, 3.6], "float32")


def _d_loss(loss, policy=None, shape=(4,)):
    real_t, fake_t = np.ones(4, "float32"), np.zeros(4, "float32")
    if policy is not None:
        real_t, fake_t = policy(real_t, fake_t, seed=0)
    real_t = keras.ops.reshape(real_t, shape)  # one target per logit
    fake_t = keras.ops.reshape(fake_t, shape)
    return _float(
        loss.discriminator_loss(
            REAL.reshape(shape), FAKE.reshape(shape), real_t, fake_t
        )
    )


def _float(x):
    return float(keras.ops.convert_to_numpy(keras.ops.stop_gradient(x)))


# TF-GAN's D losses smooth the real targets by default (label_smoothing=0.25
# towards 1/2: target 0.875): OneSidedSmoothing(0.125) here.
TFGAN_SMOOTHING = kgt.labels.OneSidedSmoothing(0.125)


@pytest.mark.parametrize("shape", [(4,), (2, 2, 1)], ids=["logits", "patch"])
@pytest.mark.parametrize(
    "name, loss, policy, g_offset, expected_g, expected_d",
    [
        # modified_generator_loss / modified_discriminator_loss
        (
            "modified",
            kgt.losses.NonSaturating(),
            TFGAN_SMOOTHING,
            0.0,
            1.38582,
            6.19637,
        ),
        # minimax_*: TF-GAN's G loss is -(BCE(1, 1) + BCE(0, x_f)): ours minus
        # the constant softplus(-1) (same gradients)
        (
            "minimax",
            kgt.losses.Minimax(),
            TFGAN_SMOOTHING,
            -math.log1p(math.exp(-1.0)),
            -4.82408,
            6.19637,
        ),
        ("least_squares", kgt.losses.LeastSquares(), None, 0.0, 17.69625, 41.73375),
        ("wasserstein", kgt.losses.Wasserstein(), None, 0.0, -3.12500, 0.22500),
        ("wasserstein_hinge", kgt.losses.Hinge(), None, 0.0, -3.12500, 6.75000),
    ],
)
def test_tfgan_losses_match_tfgans_published_values(
    name, loss, policy, g_offset, expected_g, expected_d, shape
):
    # TF-GAN's "patch" tests reshape the same logits into a map: the same
    # values (a one-channel map, (batch, h, 1), here).
    got_g = _float(loss.generator_loss(FAKE.reshape(shape))) + g_offset
    assert got_g == pytest.approx(expected_g, abs=1e-5)
    assert _d_loss(loss, policy, shape) == pytest.approx(expected_d, abs=1e-5)


def test_without_the_smoothing_tfgans_value_is_not_reached():
    # The mapping matters: the library's default (no smoothing) differs.
    assert abs(_d_loss(kgt.losses.NonSaturating()) - 6.19637) > 0.1


# wasserstein_gradient_penalty: its test critic is D(x) = 2 x on one sample
# of 4 features, and TF-GAN differentiates the sum of D's outputs: one logit
# 2 * sum(x) per sample has the same input gradient (2 everywhere, norm 4).
TFGAN_GP_FAKE = np.array([[3.1, 2.3, -12.3, 32.1]], "float32")
TFGAN_GP_REAL = np.array([[-12.3, 23.2, 16.3, -43.2]], "float32")


def _tfgan_critic(x):
    return 2.0 * keras.ops.sum(x, axis=1)


@pytest.mark.parametrize(
    "target, expected",
    [(1.0, 9.0), (2.0, 1.0)],  # TF-GAN: (‖g‖ / t - 1)², unweighted (weights=1)
)
def test_tfgan_gradient_penalty_maps_to_weight_over_target_squared(target, expected):
    penalty = kgt.penalties.GradientPenalty(weight=1.0 / target**2, target=target)
    got = _float(penalty(_tfgan_critic, TFGAN_GP_REAL, TFGAN_GP_FAKE, seed=0))
    assert got == pytest.approx(expected, abs=1e-5)
    # Without the mapping: the default weight (10, the paper's) and no
    # division by the target give other values.
    plain = kgt.penalties.GradientPenalty(target=target)
    assert _float(plain(_tfgan_critic, TFGAN_GP_REAL, TFGAN_GP_FAKE, seed=0)) != (
        pytest.approx(expected, abs=1e-3)
    )


@pytest.mark.parametrize("reg_param", [0.05, 10.0])
def test_gan_stability_reg_param_is_half_of_r1_gamma(reg_param):
    # GAN_stability: reg = reg_param * mean(sum(grad**2)) on real samples
    # ('real'), on generated ones ('fake'); R1/R2 here: gamma / 2 * the same.
    w = np.array([3.0, -4.0, 1.0], "float32")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")

    def critic(samples):
        return keras.ops.sum(samples * keras.ops.convert_to_tensor(w), axis=1)

    theirs = reg_param * float(np.sum(w.astype("float64") ** 2))
    r1 = kgt.penalties.R1(gamma=2 * reg_param)
    r2 = kgt.penalties.R2(gamma=2 * reg_param)
    assert _float(r1(critic, x, x * 0)) == pytest.approx(theirs, rel=1e-5)
    assert _float(r2(critic, x * 0, x)) == pytest.approx(theirs, rel=1e-5)
    assert _float(kgt.penalties.R1(gamma=reg_param)(critic, x, x)) == pytest.approx(
        theirs / 2, rel=1e-5
    )
