"""The README's migration mappings, each against the peer's own numbers.

TF-GAN's values are the fixed expectations of its loss tests
(`tensorflow_gan/python/losses/losses_impl_test.py`: real logits
[-5.0, 1.4, 12.5, 2.7], generated [10.0, 4.4, -5.5, 3.6], 5 decimals;
`GradientPenaltyTest`: 9.0, and 1.0 with `target=2.0`). GAN_stability
(Mescheder et al. 2018) publishes no fixed values; its regulariser is
checked against its code's formula, `reg_param * mean(sum(grad**2))`
(`gan_training/train.py`), on a linear critic. The conventions that differ
(docs/migration.md, "Conventions that differ") are each shown here with
the factor between them.
"""

import math
import re

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from tests.nets import conv_generator, patch_discriminator

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


# wasserstein_gradient_penalty (GradientPenaltyTest): one sample of 4
# features and an elementwise critic, D(x) = 2 x (its `dummy_d` times the
# inputs): a map of 4 logits. TF-GAN differentiates the map, that is its sum:
# gradient 2 everywhere, norm 4, penalty (4 - 1)² = 9. The map's mean (kgt's
# default) has gradient 1/2 everywhere, norm 1: penalty 0.
TFGAN_GP_FAKE = np.array([[3.1, 2.3, -12.3, 32.1]], "float32")
TFGAN_GP_REAL = np.array([[-12.3, 23.2, 16.3, -43.2]], "float32")
TFGAN_GP_MAP = 4  # the critic's logits per sample


def _tfgan_critic(x):  # TF-GAN's discriminator_fn: 2.0 * inputs
    return 2.0 * x


def _one_logit_critic(x):  # the same sum as one logit per sample
    return 2.0 * keras.ops.sum(x, axis=1)


def _tfgan_gp(penalty, critic=_tfgan_critic):
    return _float(penalty(critic, TFGAN_GP_REAL, TFGAN_GP_FAKE, seed=0))


@pytest.mark.parametrize(
    "critic, reduction",
    [
        (_tfgan_critic, "sum"),  # TF-GAN's own critic: its map summed
        (_one_logit_critic, "mean"),  # one logit: either reduction
        (_one_logit_critic, "sum"),
    ],
    ids=["map-sum", "logit-mean", "logit-sum"],
)
@pytest.mark.parametrize(
    "target, expected",
    [(1.0, 9.0), (2.0, 1.0)],  # TF-GAN: (‖g‖ / t - 1)², unweighted (weights=1)
)
def test_tfgan_gradient_penalty_maps_to_weight_over_target_squared(
    target, expected, critic, reduction
):
    penalty = kgt.penalties.GradientPenalty(
        weight=1.0 / target**2, target=target, reduction=reduction
    )
    assert _tfgan_gp(penalty, critic) == pytest.approx(expected, abs=1e-5)
    # Without the mapping: the default weight (10, the paper's) and no
    # division by the target give other values.
    plain = kgt.penalties.GradientPenalty(target=target, reduction=reduction)
    assert _tfgan_gp(plain, critic) != pytest.approx(expected, abs=1e-3)


def test_tfgan_gradient_penalty_differentiates_the_maps_sum_kgt_its_mean():
    # GradientPenaltyTest's fixture as it stands: TF-GAN gives 9.0; kgt's
    # default (the map's mean, gradient norm 4 / 4 = 1, on target) gives 0.
    assert _tfgan_gp(kgt.penalties.GradientPenalty(weight=1.0)) == pytest.approx(
        0.0, abs=1e-5
    )
    summed = kgt.penalties.GradientPenalty(weight=1.0, reduction="sum")
    assert _tfgan_gp(summed) == pytest.approx(9.0, abs=1e-5)
    # The sum's norm is N times the mean's (N logits per sample), so "sum"
    # with (weight w, target t) is "mean" with (weight N² w, target t / N).
    n = TFGAN_GP_MAP
    mean_equivalent = kgt.penalties.GradientPenalty(weight=n**2, target=1.0 / n)
    assert _tfgan_gp(mean_equivalent) == pytest.approx(9.0, abs=1e-4)


# A PatchGAN-style critic in keras.ops and in NumPy: each 2x2 patch of an 8x8
# image gives one logit, tanh of its weighted sum, a 4x4 map (N = 16).
PATCH_WEIGHTS = np.array([[0.5, -1.0], [0.75, 0.25]], "float32")
PATCH_MAP = 16


def _patch_critic(x):
    patches = keras.ops.reshape(x, (-1, 4, 2, 4, 2))
    w = keras.ops.convert_to_tensor(PATCH_WEIGHTS.reshape(1, 1, 2, 1, 2))
    logits = keras.ops.tanh(keras.ops.sum(patches * w, axis=(2, 4)))
    return keras.ops.reshape(logits, (-1, 4, 4, 1))


def _numpy_patch_critic(x):
    patches = x.reshape(-1, 4, 2, 4, 2)
    w = PATCH_WEIGHTS.astype("float64").reshape(1, 1, 2, 1, 2)
    return np.tanh((patches * w).sum(axis=(2, 4))).reshape(-1, 4, 4, 1)


def _finite_difference_r1(x, gamma, reduce):
    """gamma / 2 * mean(‖∇D(x)‖²), by central differences in float64 of each
    sample's map reduced by `reduce` (np.mean or np.sum)."""
    flat = x.astype("float64").reshape(len(x), -1)

    def value(v):
        return reduce(_numpy_patch_critic(v).reshape(len(v), -1), axis=1)

    h, grads = 1e-5, np.zeros_like(flat)
    for j in range(flat.shape[1]):  # the samples' values are independent
        step = np.zeros_like(flat)
        step[:, j] = h
        grads[:, j] = (value(flat + step) - value(flat - step)) / (2 * h)
    return gamma / 2 * np.mean(np.sum(grads**2, axis=1))


@pytest.mark.parametrize("reduction, reduce", [("mean", np.mean), ("sum", np.sum)])
def test_r1_on_a_patch_map_matches_the_finite_difference_reference(reduction, reduce):
    x = np.random.default_rng(3).uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    expected = _finite_difference_r1(x, 2.0, reduce)
    r1 = kgt.penalties.R1(gamma=2.0, reduction=reduction)
    r2 = kgt.penalties.R2(gamma=2.0, reduction=reduction)
    assert _float(r1(_patch_critic, x, x * 0)) == pytest.approx(expected, rel=1e-4)
    assert _float(r2(_patch_critic, x * 0, x)) == pytest.approx(expected, rel=1e-4)


def test_r1_of_the_maps_sum_is_n_squared_times_its_means():
    x = np.random.default_rng(4).uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    mean = _finite_difference_r1(x, 1.0, np.mean)
    assert _finite_difference_r1(x, 1.0, np.sum) == pytest.approx(
        PATCH_MAP**2 * mean, rel=1e-6
    )
    summed = _float(kgt.penalties.R1(gamma=1.0, reduction="sum")(_patch_critic, x, x))
    assert summed == pytest.approx(PATCH_MAP**2 * mean, rel=1e-4)
    # So "sum" with gamma g is "mean" with gamma N² g.
    scaled = kgt.penalties.R1(gamma=float(PATCH_MAP**2))
    assert _float(scaled(_patch_critic, x, x)) == pytest.approx(summed, rel=1e-5)


def _first_step_penalty(penalty):
    keras.utils.set_random_seed(0)
    gan = kgt.GAN(conv_generator(), patch_discriminator(), seed=0)  # 2x2 map
    gan.compile(penalty=penalty)
    images = np.tanh(np.random.default_rng(7).standard_normal((16, 8, 8, 1)))
    history = gan.fit(images.astype("float32"), batch_size=16, epochs=1, verbose=0)
    return history.history["penalty"][0]


def test_the_gans_step_takes_the_reduction():
    # One step from the same weights: a 2x2 map's sum gives 4² times the
    # mean's R1 in kgt.GAN's compiled step too.
    mean = _first_step_penalty(kgt.penalties.R1(gamma=1.0))
    summed = _first_step_penalty(kgt.penalties.R1(gamma=1.0, reduction="sum"))
    assert mean > 0 and summed == pytest.approx(16 * mean, rel=1e-4)


@pytest.mark.parametrize(
    "cls, earlier",
    [
        (kgt.penalties.GradientPenalty, {"weight": 10.0, "target": 1.0, "every": 1}),
        (kgt.penalties.R1, {"gamma": 10.0, "every": 1}),
        (kgt.penalties.R2, {"gamma": 10.0, "every": 1}),
    ],
)
def test_reduction_config_round_trip(cls, earlier):
    # The default's config is the one earlier versions saved, and loads as
    # the mean.
    assert cls().get_config() == earlier
    assert cls.from_config(earlier).reduction == "mean"
    summed = cls(reduction="sum")
    assert summed.get_config() == {**earlier, "reduction": "sum"}
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(summed)
    )
    assert type(again) is cls and again.reduction == "sum" and again == summed
    assert again != cls()
    for bad in ("max", "SUM", None):
        with pytest.raises(ValueError, match=re.escape(f"reduction={bad!r}")):
            cls(reduction=bad)
    with pytest.raises(ValueError, match=re.escape("Received: reduction='max'")):
        cls(reduction="max")


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
