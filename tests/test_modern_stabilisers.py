"""The modern stabilisers: the relativistic pairing loss, several penalties
with scheduled weights, LeCam. Each against a NumPy reference written from
its paper, and training inside kgt.GAN (CI runs this module on all three
backends)."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks.tricks import DiscriminatorContext, StepOutcome
from tests.nets import mlp_discriminator, mlp_generator


def softplus(x):
    return np.logaddexp(0.0, x)


def _np(x):
    return keras.ops.convert_to_numpy(keras.ops.stop_gradient(x))


def points(n=128, seed=0):
    return kgt.datasets.gaussian_ring(n, seed=seed)[0]


# RelativisticPairing


def test_relativistic_pairing_matches_the_papers_formula():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 16)).astype("float32") * 3
    loss = kgt.losses.get("relativistic_pairing")
    assert isinstance(loss, kgt.losses.RelativisticPairing)
    d = float(_np(loss.discriminator_loss(real, fake)))
    g = float(_np(loss.generator_loss(fake, real)))
    r64, f64 = real.astype("float64"), fake.astype("float64")
    assert d == pytest.approx(softplus(-(r64 - f64)).mean(), rel=1e-5)
    assert g == pytest.approx(softplus(-(f64 - r64)).mean(), rel=1e-5)
    # Maps of logits pair patch by patch; (batch, 1) is one per sample.
    maps = real.reshape(4, 2, 2, 1), fake.reshape(4, 2, 2, 1)
    assert float(_np(loss.discriminator_loss(*maps))) == pytest.approx(d, rel=1e-5)
    column = real[:, None], fake[:, None]
    assert float(_np(loss.discriminator_loss(*column))) == pytest.approx(d, rel=1e-5)


def test_relativistic_pairing_refuses_what_it_cannot_pair():
    loss = kgt.losses.RelativisticPairing()
    with pytest.raises(ValueError, match=r"same shape.*\(8, 1\).*\(6, 1\)"):
        loss.discriminator_loss(np.zeros((8,), "float32"), np.zeros((6,), "float32"))
    with pytest.raises(ValueError, match="real_logits=None"):
        loss.generator_loss(np.zeros((8,), "float32"))
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    with pytest.raises(ValueError, match="fixed targets"):
        gan.compile(
            loss="relativistic_pairing", label_policy=kgt.labels.OneSidedSmoothing(0.1)
        )


def test_r3gans_objective_trains_and_reloads(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(
        loss="relativistic_pairing",
        penalty=[kgt.penalties.R1(1.0), kgt.penalties.R2(1.0)],
    )
    before = [w.copy() for w in gan.generator.get_weights()]
    history = gan.fit(points(), batch_size=32, epochs=2, verbose=0).history
    for key in ("d_loss", "g_loss", "penalty_r1", "penalty_r2"):
        assert np.all(np.isfinite(history[key])), key
    assert history["penalty_r1"][-1] > 0 and history["penalty_r2"][-1] > 0
    assert any(
        not np.allclose(a, b)
        for a, b in zip(before, gan.generator.get_weights(), strict=True)
    )
    path = os.fspath(tmp_path / "r3gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, kgt.losses.RelativisticPairing)
    assert loaded.penalty == gan.penalty
    assert [t.term for t in loaded.tricks] == ["penalty_r1", "penalty_r2"]
    loaded.fit(points(64), batch_size=32, epochs=1, verbose=0)


# Several penalties, scheduled weights


def linear_critic_gan(**compile_kwargs):
    """A GAN whose D is linear without bias: ‖∇D‖² = ‖w‖² everywhere, so
    each penalty's value is known from D's weights alone."""
    discriminator = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, use_bias=False)]
    )
    gan = kgt.GAN(mlp_generator(), discriminator, seed=0)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), **compile_kwargs)
    return gan


def _norm2(gan):
    return float(np.sum(gan.discriminator.get_weights()[0].astype("float64") ** 2))


def test_several_penalties_each_a_term_of_its_own():
    gan = linear_critic_gan(penalty=[kgt.penalties.R1(1.0), kgt.penalties.R2(3.0)])
    w2 = _norm2(gan)
    logs = gan.train_on_batch(points(32), return_dict=True)
    assert logs["penalty_r1"] == pytest.approx(0.5 * 1.0 * w2, rel=1e-4)
    assert logs["penalty_r2"] == pytest.approx(0.5 * 3.0 * w2, rel=1e-4)
    assert gan.batch_values()["penalty"] == pytest.approx(2.0 * w2, rel=1e-4)
    # One penalty keeps 0.1.0's name.
    single = linear_critic_gan(penalty=kgt.penalties.R1(1.0))
    assert "penalty" in single.train_on_batch(points(32), return_dict=True)
    same = linear_critic_gan(penalty=[kgt.penalties.R1(1.0), kgt.penalties.R1(2.0)])
    assert [t.term for t in same.tricks] == ["penalty_r1", "penalty_r1_2"]


def test_a_penalty_weight_follows_a_schedule_of_the_step(tmp_path):
    # R3GAN's decay of gamma, here stepwise: 10 for the first step, then 0.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([0], [10.0, 0.0])
    gan = linear_critic_gan(penalty=kgt.penalties.R1(schedule))
    w2 = _norm2(gan)
    first = gan.train_on_batch(points(32), return_dict=True)
    second = gan.train_on_batch(points(32), return_dict=True)
    assert first["penalty"] == pytest.approx(5.0 * w2, rel=1e-4)
    assert second["penalty"] == 0.0
    # Config round trip, and through a saved GAN.
    r1 = kgt.penalties.R1.from_config(kgt.penalties.R1(schedule).get_config())
    assert isinstance(r1.gamma, keras.optimizers.schedules.PiecewiseConstantDecay)
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert float(_np(loaded.penalty.gamma(0))) == 10.0
    # Outside a GAN the step must be given.
    critic = gan.discriminator
    x = points(8)
    with pytest.raises(ValueError, match="step=None"):
        kgt.penalties.R1(schedule)(critic, x, x)
    value = kgt.penalties.R1(schedule)(critic, x, x, step=0)
    assert float(_np(value)) == pytest.approx(5.0 * _norm2(gan), rel=1e-4)


def test_penalty_arguments_are_checked():
    for make, error, text in [
        (lambda: kgt.penalties.R1(gamma="big"), TypeError, "gamma='big'"),
        (lambda: kgt.penalties.GradientPenalty(weight=-1.0), ValueError, "weight=-1.0"),
        (lambda: kgt.penalties.LeCam(decay=1.0), ValueError, "decay=1.0"),
        (
            lambda: linear_critic_gan(penalty=[kgt.penalties.R1(), "r2"]),
            TypeError,
            "holding 'r2'",
        ),
    ]:
        with pytest.raises(error, match=text):
            make()


# LeCam


def _context(real_logits, fake_logits, step=0):
    return DiscriminatorContext(
        real_logits=keras.ops.convert_to_tensor(real_logits),
        fake_logits=keras.ops.convert_to_tensor(fake_logits),
        step=step,
    )


def test_lecam_matches_the_papers_formula_and_moves_its_anchors():
    rng = np.random.default_rng(1)
    lecam = kgt.penalties.LeCam(weight=0.5, decay=0.9)
    r1, f1, r2, f2 = rng.normal(size=(4, 16)).astype("float32")
    # First step: anchors at 0, then set to the batch means.
    term = float(_np(lecam.discriminator_loss(_context(r1, f1))["lecam"]))
    assert term == pytest.approx(0.5 * (np.mean(r1**2) + np.mean(f1**2)), rel=1e-5)
    lecam.end_step(StepOutcome(finite=True, real_logits=r1, fake_logits=f1))
    anchors = lecam.anchor_values()
    assert anchors["real"] == pytest.approx(r1.mean(), rel=1e-5)
    assert anchors["fake"] == pytest.approx(f1.mean(), rel=1e-5)
    # Then eq. 3 with α_R, α_F, and the moving average with decay 0.9.
    term = float(_np(lecam.discriminator_loss(_context(r2, f2))["lecam"]))
    expected = 0.5 * (
        np.mean((r2 - anchors["fake"]) ** 2) + np.mean((f2 - anchors["real"]) ** 2)
    )
    assert term == pytest.approx(expected, rel=1e-5)
    lecam.end_step(StepOutcome(finite=True, real_logits=r2, fake_logits=f2))
    moved = lecam.anchor_values()
    assert moved["real"] == pytest.approx(0.9 * r1.mean() + 0.1 * r2.mean(), rel=1e-5)
    assert moved["updates"] == 2
    # A step that applied nothing leaves them.
    lecam.end_step(StepOutcome(finite=False, real_logits=r1 * 9, fake_logits=f1))
    assert lecam.anchor_values() == moved


def test_lecam_in_a_fit_logs_saves_and_restores_its_anchors(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    lecam = kgt.penalties.LeCam(0.3)
    gan.compile(loss="hinge", penalty=[kgt.penalties.R1(0.1), lecam])
    history = gan.fit(points(), batch_size=32, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["lecam"])) and history["lecam"][-1] > 0
    assert "penalty" in history  # one Penalty: 0.1.0's name
    gan.sync_state()
    anchors = lecam.anchor_values()
    assert anchors["updates"] == 8
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    (restored,) = [t for t in loaded.tricks if isinstance(t, kgt.penalties.LeCam)]
    assert restored.anchor_values() == pytest.approx(anchors)
    assert restored.get_config()["weight"] == 0.3
