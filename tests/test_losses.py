import json

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_gan_tricks import losses


def softplus(x):
    return np.logaddexp(0.0, x)


def bce(t, x):
    """Binary cross-entropy of target t against sigmoid(x), in float64."""
    return t * softplus(-x) + (1 - t) * softplus(x)


REFERENCE = {
    "non_saturating": (
        lambda r, f, tr, tf: bce(tr, r).mean() + bce(tf, f).mean(),
        lambda f: softplus(-f).mean(),
    ),
    "minimax": (
        lambda r, f, tr, tf: bce(tr, r).mean() + bce(tf, f).mean(),
        lambda f: -softplus(f).mean(),
    ),
    "least_squares": (
        lambda r, f, tr, tf: (
            0.5 * ((r - tr) ** 2).mean() + 0.5 * ((f - tf) ** 2).mean()
        ),
        lambda f: 0.5 * ((f - 1) ** 2).mean(),
    ),
    "hinge": (
        lambda r, f, tr, tf: np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(),
        lambda f: -f.mean(),
    ),
    "wasserstein": (
        lambda r, f, tr, tf: f.mean() - r.mean(),
        lambda f: -f.mean(),
    ),
}

logit_arrays = hnp.arrays(
    "float32", st.integers(1, 16), elements=st.floats(-30, 30, width=32)
)


@pytest.mark.parametrize("name", sorted(REFERENCE))
@given(data=st.data())
def test_losses_match_numpy_reference(name, data):
    real = data.draw(logit_arrays)
    fake = data.draw(
        hnp.arrays("float32", real.shape, elements=st.floats(-30, 30, width=32))
    )
    labels = hnp.arrays("float32", real.shape, elements=st.floats(0, 1.25, width=32))
    real_t, fake_t = data.draw(labels), data.draw(labels)
    loss = losses.get(name)
    if not loss.uses_labels:
        real_t, fake_t = np.ones_like(real), np.zeros_like(fake)
    d_ref, g_ref = REFERENCE[name]
    r64, f64 = real.astype("float64"), fake.astype("float64")
    expected_d = d_ref(r64, f64, real_t.astype("float64"), fake_t.astype("float64"))
    got_d = float(loss.discriminator_loss(real[:, None], fake, real_t, fake_t[:, None]))
    np.testing.assert_allclose(got_d, expected_d, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        float(loss.generator_loss(fake)), g_ref(f64), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_default_labels_are_one_and_zero(name):
    loss = losses.get(name)
    real = np.array([1.0, -2.0, 0.3], "float32")
    fake = np.array([0.5, -1.0, 2.0], "float32")
    explicit = loss.discriminator_loss(
        real, fake, np.ones(3, "float32"), np.zeros(3, "float32")
    )
    np.testing.assert_allclose(
        float(loss.discriminator_loss(real, fake)), float(explicit), rtol=1e-6
    )


# Hand-computed values (TF-GAN style): real logits (1, -2), fake logits (0.5, -1).
# softplus(-1) = 0.31326169, softplus(2) = 2.12692801, softplus(0.5) = 0.97407698,
# softplus(1) = 1.31326169, softplus(-0.5) = 0.47407698.
FIXED = {
    "non_saturating": (1.86376418, (0.47407698 + 1.31326169) / 2),
    "minimax": (1.86376418, -(0.97407698 + 0.31326169) / 2),
    "least_squares": (0.5 * (0 + 9) / 2 + 0.5 * (0.25 + 1) / 2, 0.5 * (0.25 + 4) / 2),
    "hinge": ((0 + 3) / 2 + (1.5 + 0) / 2, 0.25),
    "wasserstein": (-0.25 - (-0.5), 0.25),
}


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fixed_values(name):
    loss = losses.get(name)
    d_expected, g_expected = FIXED[name]
    real = np.array([1.0, -2.0], "float32")
    fake = np.array([0.5, -1.0], "float32")
    assert float(loss.discriminator_loss(real, fake)) == pytest.approx(
        d_expected, abs=1e-5
    )
    assert float(loss.generator_loss(fake)) == pytest.approx(g_expected, abs=1e-5)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = losses.NonSaturating()
    real = np.array([1e4, -1e4], "float32")
    fake = np.array([-1e4, 1e4], "float32")
    d = float(loss.discriminator_loss(real, fake))
    g = float(loss.generator_loss(fake))
    assert np.isfinite(d) and np.isfinite(g)
    assert d == pytest.approx((1e4 + 1e4) / 2, rel=1e-6)
    assert g == pytest.approx(1e4 / 2, rel=1e-6)


def test_one_sided_smoothing_floor_is_label_entropy():
    # The documented floor: the best D loss under smoothing 0.1 is H(0.9).
    loss = losses.NonSaturating()
    best_logit = np.log(0.9 / 0.1)
    floor = float(
        loss.discriminator_loss(
            np.full(4, best_logit, "float32"),
            np.full(4, -50.0, "float32"),
            np.full(4, 0.9, "float32"),
            np.zeros(4, "float32"),
        )
    )
    assert floor == pytest.approx(-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)), abs=1e-5)
    assert 0.32 < floor < 0.33


def test_scores():
    logits = np.array([0.0, 100.0], "float32")
    np.testing.assert_allclose(losses.NonSaturating().score(logits), [0.5, 1.0])
    np.testing.assert_allclose(
        losses.Wasserstein().score(logits[:, None]), [0.0, 100.0]
    )


@pytest.mark.parametrize(
    "name,cls",
    [
        ("non_saturating", losses.NonSaturating),
        ("Non-Saturating", losses.NonSaturating),
        ("minimax", losses.Minimax),
        ("lsgan", losses.LeastSquares),
        ("least_squares", losses.LeastSquares),
        ("hinge", losses.Hinge),
        ("wgan", losses.Wasserstein),
        ("wasserstein", losses.Wasserstein),
    ],
)
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_rejects_unknown_name_and_type():
    with pytest.raises(ValueError, match=r"loss='crossentropy'"):
        losses.get("crossentropy")
    with pytest.raises(TypeError, match=r"loss=3"):
        losses.get(3)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_serialization_round_trip(name):
    loss = losses.get(name)
    config = json.loads(json.dumps(losses.serialize(loss)))
    restored = keras.saving.deserialize_keras_object(config)
    assert restored == loss and type(restored) is type(loss)
    assert losses.deserialize(config) == loss
