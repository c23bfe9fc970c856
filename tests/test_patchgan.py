"""Discriminators that emit a map of logits (PatchGAN, Isola et al. 2017).

Losses, label policies, penalties and metrics average over each sample's map
first; on every backend the GAN trains, saves and reloads with such a D.
"""

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks import losses
from tests.nets import conv_generator, patch_discriminator
from tests.test_losses import REFERENCE


def _maps(seed, shape=(4, 3, 3, 1)):
    rng = np.random.default_rng(seed)
    return (3 * rng.standard_normal(shape)).astype("float32")


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("per_logit_targets", [False, True])
def test_losses_on_maps_match_the_per_patch_reference(name, per_logit_targets):
    # pix2pix's objective: each patch's loss, averaged over the map and the
    # batch; targets one per sample (broadcast) or one per patch.
    real, fake = _maps(0), _maps(1)
    loss = losses.get(name)
    rng = np.random.default_rng(2)
    if not loss.uses_labels:
        shape = real.shape if per_logit_targets else (4,)
        real_t, fake_t = np.ones(shape, "float32"), np.zeros(shape, "float32")
    elif per_logit_targets:
        real_t = rng.uniform(0.7, 1.0, real.shape).astype("float32")
        fake_t = rng.uniform(0.0, 0.3, fake.shape).astype("float32")
    else:
        real_t = rng.uniform(0.7, 1.0, 4).astype("float32")
        fake_t = rng.uniform(0.0, 0.3, 4).astype("float32")
    d_ref, g_ref = REFERENCE[name]
    grow = (lambda t: t) if per_logit_targets else (lambda t: t[:, None, None, None])
    r64, f64 = real.astype("float64"), fake.astype("float64")
    expected_d = d_ref(
        r64,
        f64,
        np.broadcast_to(grow(real_t.astype("float64")), real.shape),
        np.broadcast_to(grow(fake_t.astype("float64")), fake.shape),
    )
    got_d = float(loss.discriminator_loss(real, fake, real_t, fake_t))
    np.testing.assert_allclose(got_d, expected_d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        float(loss.generator_loss(fake)), g_ref(f64), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_a_one_logit_map_is_one_logit_per_sample(name):
    real, fake = _maps(3, (5,)), _maps(4, (5,))
    loss = losses.get(name)
    for shape in [(5, 1), (5, 1, 1, 1), (5, 1, 1)]:
        np.testing.assert_allclose(
            float(loss.discriminator_loss(real.reshape(shape), fake.reshape(shape))),
            float(loss.discriminator_loss(real, fake)),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loss.score(real.reshape(shape))),
            keras.ops.convert_to_numpy(loss.score(real)),
            rtol=1e-6,
        )


def test_score_is_per_sample_and_averages_the_map():
    maps = _maps(5)
    score = keras.ops.convert_to_numpy(losses.NonSaturating().score(maps))
    assert score.shape == (4,)
    expected = (1 / (1 + np.exp(-maps.astype("float64")))).reshape(4, -1).mean(1)
    np.testing.assert_allclose(score, expected, rtol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses.Wasserstein().score(maps)),
        maps.reshape(4, -1).mean(1),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "real_shape, labels_shape, arg",
    [
        ((4, 2), None, "real_logits"),  # two logits per sample: a classifier head
        ((4, 3, 3, 2), None, "real_logits"),  # a map of two channels
        ((), None, "real_logits"),  # no batch axis
        ((4, 3, 3, 1), (4, 2), "real_labels"),  # targets neither per sample nor logit
    ],
)
def test_standalone_losses_refuse_other_shapes_naming_them(
    real_shape, labels_shape, arg
):
    real = np.zeros(real_shape, "float32")
    labels = None if labels_shape is None else np.ones(labels_shape, "float32")
    for name in sorted(REFERENCE):
        loss = losses.get(name)
        if labels is not None and not loss.uses_labels:
            continue
        with pytest.raises(ValueError, match=rf"`{arg}`.*shape \(") as info:
            loss.discriminator_loss(real, np.zeros((4,), "float32"), labels)
        shape = real_shape if arg == "real_logits" else labels_shape
        assert str(shape) in str(info.value)
    with pytest.raises(ValueError, match=r"fake_logits of shape \(4, 2\)"):
        losses.NonSaturating().generator_loss(np.zeros((4, 2), "float32"))


def test_penalties_take_the_maps_mean_per_sample():
    critic = patch_discriminator()
    x = np.random.default_rng(6).uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    got = float(kgt.penalties.R1(gamma=2.0)(critic, x, x))
    # Finite differences of each sample's mean logit, in float64.
    eps, squared = 1e-2, np.zeros(4)
    base = keras.ops.convert_to_numpy(critic(x)).reshape(4, -1).mean(1)
    flat = x.reshape(4, -1)
    for j in range(flat.shape[1]):
        shifted = flat.copy()
        shifted[:, j] += eps
        moved = (
            keras.ops.convert_to_numpy(critic(shifted.reshape(x.shape)))
            .reshape(4, -1)
            .mean(1)
        )
        squared += ((moved - base) / eps) ** 2
    np.testing.assert_allclose(got, 2.0 / 2 * squared.mean(), rtol=0.05)


def _patch_gan(**compile_kwargs):
    keras.utils.set_random_seed(0)
    gan = kgt.GAN(conv_generator(), patch_discriminator(), seed=0)
    gan.compile(**compile_kwargs)
    return gan


def _images(n=64):
    rng = np.random.default_rng(7)
    return np.tanh(rng.standard_normal((n, 8, 8, 1))).astype("float32")


def test_a_patchgan_discriminator_trains_with_the_tricks():
    gan = _patch_gan(
        label_policy=kgt.labels.OneSidedSmoothing(0.1),
        penalty=kgt.penalties.R1(1.0),
        tricks=[
            kgt.layers.AdaptiveInstanceNoise(maximum=0.2),
            kgt.tricks.DiscriminatorLRBalancer(warmup=2, patience=2),
        ],
    )
    before = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(_images(), batch_size=16, epochs=2, verbose=0).history
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "penalty", "d_rank"):
        assert np.all(np.isfinite(history[key])), (key, history[key])
    assert 0.0 < history["d_real"][-1] < 1.0  # a probability, averaged per sample
    assert any(
        not np.allclose(a, b)
        for a, b in zip(before, gan.discriminator.get_weights(), strict=True)
    )


def test_a_patchgan_gan_saves_and_reloads(tmp_path):
    gan = _patch_gan(label_policy=kgt.labels.OneSidedSmoothing(0.1))
    gan.fit(_images(32), batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "patch.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    x = _images(8)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.discriminator(x)),
        keras.ops.convert_to_numpy(gan.discriminator(x)),
        atol=1e-6,
    )
    z = np.random.default_rng(8).standard_normal((4, 8)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.generator(z)),
        keras.ops.convert_to_numpy(gan.generator(z)),
        atol=1e-6,
    )
    loaded.fit(_images(32), batch_size=16, epochs=1, verbose=0)


def _weights_after_training(discriminator):
    keras.utils.set_random_seed(0)
    gan = kgt.GAN(conv_generator(), discriminator, seed=0)
    gan.compile(penalty=kgt.penalties.R1(1.0))
    gan.fit(_images(32), batch_size=16, epochs=2, verbose=0, shuffle=False)
    return gan.generator.get_weights() + gan.discriminator.get_weights()


def test_a_one_patch_map_trains_exactly_like_one_logit():
    # Parity: the same D emitting (batch, 1, 1, 1) or (batch, 1) takes the
    # same steps (losses, penalty and metrics average a map per sample).
    def discriminator(flat):
        keras.utils.set_random_seed(1)
        x_in = keras.Input((8, 8, 1))
        x = keras.layers.Conv2D(4, 4, strides=2, padding="same")(x_in)
        x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Conv2D(1, 4, strides=4, padding="valid")(x)
        if flat:
            x = keras.layers.Reshape((1,))(x)
        return keras.Model(x_in, x)

    for a, b in zip(
        _weights_after_training(discriminator(True)),
        _weights_after_training(discriminator(False)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_channels_first_maps_are_accepted():
    gan = kgt.GAN(conv_generator(), patch_discriminator(channels_first=True), seed=0)
    gan.compile()
    history = gan.fit(_images(32), batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][-1])


def test_the_gan_refuses_a_map_of_several_channels():
    x_in = keras.Input((8, 8, 1))
    out = keras.layers.Conv2D(3, 4, strides=4)(x_in)
    with pytest.raises(ValueError, match=r"one channel.*\(None, 2, 2, 3\)"):
        kgt.GAN(conv_generator(), keras.Model(x_in, out))
