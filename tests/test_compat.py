"""What users rely on across versions: every public name of 0.2 still
imports from where it did, every registered serialisation name still
resolves, and files saved by 0.1.0 and 0.2 load with the same samples and
trick state, and train on (CI runs this file on the three backends)."""

import importlib
import json
import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt

DATA = os.path.join(os.path.dirname(__file__), "data")


def _load_json(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return json.load(f)


SNAPSHOT = _load_json("public_names_0_2_0.json")


@pytest.mark.parametrize("module", sorted(SNAPSHOT["modules"]))
def test_every_public_name_of_0_2_still_imports(module):
    found = importlib.import_module(module)
    missing = [n for n in SNAPSHOT["modules"][module] if not hasattr(found, n)]
    assert not missing, f"{module} lost {missing}"


def test_every_registered_name_of_0_2_still_resolves():
    registered = keras.saving.get_custom_objects()
    missing = [n for n in SNAPSHOT["registered"] if n not in registered]
    assert not missing
    for name in SNAPSHOT["registered"]:
        assert keras.saving.get_registered_name(registered[name]) == name


def _samples_match(gan, prefix):
    for use_ema, suffix in ((True, "samples"), (False, "raw_samples")):
        np.testing.assert_allclose(
            gan.generate(8, seed=0, use_ema=use_ema),
            np.load(os.path.join(DATA, f"{prefix}_{suffix}.npy")),
            rtol=1e-5,
            atol=1e-5,
        )


def test_the_0_1_0_file_loads_samples_the_same_and_trains_on():
    """A GAN saved by 0.1.0 (instance noise, label noise, R1, d_steps=2,
    GeneratorEMA and the balancer's state; tests/data/make_gan_0_1_0.py)."""
    gan = keras.saving.load_model(os.path.join(DATA, "gan_0_1_0.keras"))
    _samples_match(gan, "gan_0_1_0")
    assert gan.d_steps == 2 and isinstance(gan.penalty, kgt.penalties.R1)
    assert float(gan.instance_noise.stddev) == pytest.approx(0.2 - 0.15 * 15 / 100)
    state = gan.trick_states["lr_balancer"].read()
    assert state["initialized"] == 1.0 and state["seen"] == 16.0
    assert int(gan.g_optimizer.iterations) == 16
    balancer = kgt.callbacks.DiscriminatorLRBalancer(patience=2, verbose=0)
    gan.fit(
        np.random.default_rng(1).normal(size=(64, 2)).astype("float32"),
        batch_size=32,
        verbose=0,
        callbacks=[
            kgt.callbacks.GeneratorEMA(0.9),
            kgt.callbacks.InstanceNoiseDecay(0.2, 0.05, 100),
            balancer,
        ],
    )
    assert int(gan.g_optimizer.iterations) == 18
    assert balancer.trick.refs.state.read()["seen"] == 18.0  # the saved one went on
    assert float(gan.instance_noise.stddev) == pytest.approx(0.2 - 0.15 * 17 / 100)
    assert np.all(np.isfinite(gan.generate(8, seed=0)))


def _vector(variable):
    return [float(v) for v in keras.ops.convert_to_numpy(variable)]


def test_the_0_2_file_loads_samples_and_trick_state_the_same_and_trains_on():
    """A GAN saved by 0.2 with its tricks (adaptive noise, adaptive
    augmentation, the balancer, the average, R1 + R2, the relativistic
    pairing loss; tests/data/make_gan_0_2_0.py)."""
    gan = keras.saving.load_model(os.path.join(DATA, "gan_0_2_0.keras"))
    saved = _load_json("gan_0_2_0_state.json")
    _samples_match(gan, "gan_0_2_0")
    noise, augment, balancer, average = gan.tricks[:4]
    assert isinstance(noise, kgt.layers.AdaptiveInstanceNoise)
    assert isinstance(augment, kgt.augment.AdaptiveAugment)
    assert isinstance(balancer, kgt.tricks.DiscriminatorLRBalancer)
    assert isinstance(average, kgt.tricks.GeneratorEMA)
    assert isinstance(gan.loss, kgt.losses.RelativisticPairing)
    assert [type(p) for p in gan.penalty] == [kgt.penalties.R1, kgt.penalties.R2]
    assert float(noise.stddev) == pytest.approx(saved["noise_stddev"])
    assert _vector(noise.feedback) == pytest.approx(saved["noise_feedback"])
    assert float(augment.probability) == pytest.approx(saved["augment_p"])
    assert _vector(augment.signs) == pytest.approx(saved["augment_signs"])
    state = gan.trick_states["lr_balancer"].read()
    control = gan.trick_states["lr_balancer_control"].read()
    assert state == pytest.approx(saved["balancer"])
    assert control == pytest.approx(saved["balancer_control"])
    assert int(gan.g_optimizer.iterations) == saved["steps"]
    rng = np.random.default_rng(1)
    images = np.tanh(rng.normal(size=(64, 8, 8, 1))).astype("float32")
    history = gan.fit(images, batch_size=32, verbose=0)
    assert int(gan.g_optimizer.iterations) == saved["steps"] + 2
    after = gan.trick_states["lr_balancer"].read()
    assert after["seen"] == saved["balancer"]["seen"] + 2
    assert {"penalty_r1", "penalty_r2", "d_lr", "augment_p"} <= set(history.history)
    assert not np.allclose(
        gan.generate(8, seed=0), np.load(os.path.join(DATA, "gan_0_2_0_samples.npy"))
    )
    assert np.all(np.isfinite(gan.generate(8, seed=0)))
