"""kgt.recipes: named settings with their evidence (CI runs this module on
all three backends)."""

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks import cli
from keras_gan_tricks.cli import flags
from keras_gan_tricks.cli import train as cli_train
from tests.nets import (
    conv_discriminator,
    conv_generator,
    mlp_discriminator,
    mlp_generator,
)


def _gan():
    return kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)


def _image_gan():
    return kgt.GAN(conv_generator(), conv_discriminator(), latent_dim=8, seed=0)


def _kinds(gan):
    return [type(t).__name__ for t in gan.tricks]


def test_each_recipe_configures_what_was_measured():
    gan = kgt.recipes.small_images(_gan())
    assert gan.label_policy == kgt.labels.OneSidedSmoothing(0.1)
    assert _kinds(gan) == [
        "AdaptiveInstanceNoise",
        "DiscriminatorLRBalancer",
        "GeneratorEMA",
    ]
    gan = kgt.recipes.limited_data(_image_gan(), consistency=5.0)
    bcr, ema = gan.tricks
    assert isinstance(bcr, kgt.augment.ConsistencyRegularization)
    assert (bcr.real_weight, bcr.fake_weight, bcr.seed) == (5.0, 5.0, 0)
    assert ema.decay == 0.99 and gan.label_policy is None
    assert float(gan.g_optimizer.beta_1) == pytest.approx(0.5)
    gan = kgt.recipes.mixtures_2d(_gan(), noise=0.2, steps=20_000)
    assert gan.label_policy == kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3))
    decay, ema = gan.tricks
    assert (decay.initial, decay.final, decay.steps) == (0.2, 0.0, 10_000)
    assert ema.decay == 0.999
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(gan.d_optimizer.beta_1) == pytest.approx(0.8)
    gan = kgt.recipes.dcgan_seeds(_gan(), steps=100)
    assert _kinds(gan) == [
        "InstanceNoiseDecay",
        "DiscriminatorLRBalancer",
        "GeneratorEMA",
    ]
    gan = kgt.recipes.r3gan(_gan(), gamma=1.0, steps=100)
    assert isinstance(gan.loss, kgt.losses.RelativisticPairing)
    r1, r2 = gan.penalty
    # R3GAN's schedule: gamma decays by cosine to a tenth.
    at = keras.ops.convert_to_numpy
    assert float(at(r1.gamma(0))) == pytest.approx(1.0)
    assert float(at(r2.gamma(100))) == pytest.approx(0.1)
    assert gan.label_policy is None and gan.instance_noise is None
    (ema,) = [t for t in gan.tricks if isinstance(t, kgt.tricks.GeneratorEMA)]
    assert ema.decay == 0.999
    assert "GeneratorEMA" not in _kinds(kgt.recipes.r3gan(_gan(), ema=None))


@pytest.mark.parametrize("name", kgt.recipes.NAMES)
def test_each_recipe_trains(name):
    kwargs = {} if name in ("small_images", "limited_data") else {"steps": 8}
    if name == "limited_data":  # bCR translates images
        gan = kgt.recipes.get(name)(_image_gan(), **kwargs)
        data = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1))
    else:
        gan = kgt.recipes.get(name)(_gan(), **kwargs)
        data = kgt.datasets.gaussian_ring(128, seed=0)[0]
    history = gan.fit(data, batch_size=32, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["d_loss"])) and np.all(
        np.isfinite(history["g_loss"])
    )
    assert gan.generate(4, seed=0).shape == (4, *data.shape[1:])


def test_recipe_names_and_arguments_are_checked():
    assert set(kgt.recipes.NAMES) == set(cli.RECIPES)
    with pytest.raises(ValueError, match="name='fast'"):
        kgt.recipes.get("fast")
    with pytest.raises(ValueError, match="steps=0"):
        kgt.recipes.mixtures_2d(_gan(), steps=0)
    with pytest.raises(ValueError, match="noise=-1"):
        kgt.recipes.mixtures_2d(_gan(), noise=-1.0)
    with pytest.raises(ValueError, match="consistency=-1"):
        kgt.recipes.limited_data(_image_gan(), consistency=-1)
    with pytest.raises(ValueError, match="ema=1.0"):
        kgt.recipes.r3gan(_gan(), ema=1.0)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--data", "ring"], "r3gan"),
        (["--data", "grid"], "r3gan"),
        (["--data", "digits"], "small_images"),
        (["--data", "ring", "--noisy-labels"], None),  # flags alone, as before
        (["--data", "ring", "--recipe", "none"], None),
        (["--data", "digits", "--recipe", "r3gan"], "r3gan"),
        (["--data", "ring", "--recipe", "mixtures_2d", "--limit", "9"], "mixtures_2d"),
    ],
)
def test_train_picks_the_recipe_for_its_data(argv, expected):
    args = flags.build_parser().parse_args(["train", *argv])
    assert cli_train.choose_recipe(args) == expected


def test_a_recipe_and_trick_flags_do_not_mix():
    args = flags.build_parser().parse_args(
        ["train", "--data", "ring", "--recipe", "r3gan", "--ema", "0.99"]
    )
    with pytest.raises(cli.UsageError, match="--recipe r3gan.*--ema"):
        cli_train.choose_recipe(args)


def test_limited_data_is_refused_on_points():
    args = flags.build_parser().parse_args(
        ["train", "--data", "grid", "--recipe", "limited_data"]
    )
    with pytest.raises(cli.UsageError, match="limited_data.*--data grid"):
        cli_train.choose_recipe(args)
