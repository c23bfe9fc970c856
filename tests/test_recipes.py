"""kgt.recipes: named settings with their evidence (CI runs this module on
all three backends)."""

import json
import re

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


def test_auto_picks_its_row_from_the_gan_and_the_data():
    at = keras.ops.convert_to_numpy
    # Vectors: R3GAN's objective, the penalties decaying over the plan.
    gan = kgt.recipes.auto(_gan(), data=np.zeros((5000, 2)), steps=100)
    assert isinstance(gan.loss, kgt.losses.RelativisticPairing)
    r1, r2 = gan.penalty
    assert float(at(r1.gamma(0))) == pytest.approx(0.1)
    assert float(at(r2.gamma(100))) == pytest.approx(0.01)
    (ema,) = [t for t in gan.tricks if isinstance(t, kgt.tricks.GeneratorEMA)]
    assert ema.decay == 0.999 and gan.label_policy is None
    assert float(gan.d_optimizer.beta_1) == 0.0
    # Images: 1,000 or more, or their number unknown, the images row.
    for data in (None, 1000, np.zeros((1000, 8, 8, 1), "float32")):
        gan = kgt.recipes.auto(_image_gan(), data=data)
        assert _kinds(gan) == ["DiscriminatorLRBalancer", "GeneratorEMA"]
        assert gan.label_policy == kgt.labels.OneSidedSmoothing(0.1)
        assert gan.tricks[1].decay == 0.99
        # The balancer at its defaults when the plan is unknown.
        assert (gan.tricks[0].warmup, gan.tricks[0].patience) == (100, 50)
        assert isinstance(gan.loss, kgt.losses.NonSaturating)
    # Fewer, for a short or unknown plan: the images row still.
    images = np.zeros((999, 8, 8, 1), "float32")
    for steps in (None, 1999):
        gan = kgt.recipes.auto(_image_gan(), data=images, steps=steps)
        assert _kinds(gan) == ["DiscriminatorLRBalancer", "GeneratorEMA"]
    # Fewer for 2,000 steps or more: bCR joins it, on the GAN's seed.
    gan = kgt.recipes.auto(_image_gan(), data=(images, np.zeros(999)), steps=2000)
    assert _kinds(gan) == [
        "ConsistencyRegularization",
        "DiscriminatorLRBalancer",
        "GeneratorEMA",
    ]
    assert (gan.tricks[0].real_weight, gan.tricks[0].seed) == (10.0, 0)
    # The balancer's warmup and window: a fortieth of the plan, bounded.
    for steps, sized in ((1160, (30, 29)), (2400, (60, 50)), (200, (30, 20))):
        (balancer,) = [
            t
            for t in kgt.recipes.auto(_image_gan(), steps=steps).tricks
            if isinstance(t, kgt.tricks.DiscriminatorLRBalancer)
        ]
        assert (balancer.warmup, balancer.patience) == sized
    choice = kgt.recipes.choose(_image_gan(), data=images, steps=5000)
    assert choice.row == "few_images" and choice.facts["count"] == 999
    assert str(choice).startswith(
        "auto: 999 images of shape 8x8x1, 5000 steps: the few_images row: "
        "one-sided label smoothing 0.1, the DiscriminatorLRBalancer"
    )
    assert str(choice).endswith(
        "and balanced consistency regularisation (bCR, "
        "weight 10 on real and fake translations)"
    )
    assert "an unknown number of vectors of shape 2" in str(kgt.recipes.choose(_gan()))


def test_auto_on_vectors_compiles_exactly_the_r3gan_recipe():
    """So `r3gan`'s measured rows on the mixtures are `auto`'s."""

    def config(gan):
        text = json.dumps(gan.get_compile_config(), sort_keys=True)
        return re.sub(r'("name": "[a-z_]+?)(_\d+)?"', r'\1"', text)

    auto = kgt.recipes.auto(_gan(), data=4096, steps=400)
    assert config(auto) == config(kgt.recipes.r3gan(_gan(), steps=400))
    assert config(auto) != config(kgt.recipes.r3gan(_gan(), steps=401))


def test_auto_keeps_the_optimizers_it_is_given():
    d, g = keras.optimizers.Adam(2e-3), keras.optimizers.SGD(1e-2)
    gan = kgt.recipes.auto(_image_gan(), d_optimizer=d, g_optimizer=g)
    assert gan.d_optimizer is d and gan.g_optimizer is g
    gan = kgt.recipes.auto(_gan(), g_optimizer=keras.optimizers.SGD(1e-2))
    assert float(gan.d_optimizer.beta_2) == pytest.approx(0.99)


def test_auto_counts_the_samples_where_the_data_says():
    count = kgt.recipes.count_samples
    assert count(np.zeros((7, 3))) == 7 and count([np.zeros((5, 2)), None]) == 5
    assert count(12) == 12

    class Loader:  # a torch DataLoader's face: its data set has a length
        dataset = list(range(40))

    assert count(Loader()) == 40
    assert count(iter([np.zeros((4, 2))])) is None  # a generator does not say
    with pytest.raises(TypeError, match="data='images/'"):
        count("images/")
    with pytest.raises(ValueError, match="data=0"):
        kgt.recipes.auto(_gan(), data=0)
    with pytest.raises(ValueError, match="steps=0"):
        kgt.recipes.auto(_gan(), steps=0)


def test_auto_counts_an_unbatched_tf_dataset_not_a_batched_one():
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((30, 8, 8, 1), "float32"))
    assert kgt.recipes.count_samples(dataset) == 30
    assert kgt.recipes.count_samples(dataset.batch(8)) is None
    assert kgt.recipes.count_samples(dataset.filter(lambda x: True)) is None
    batched = dataset.batch(8)
    batched.file_paths = [f"{i}.png" for i in range(30)]  # as image_folder's
    assert kgt.recipes.count_samples(batched) == 30


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
        (["--data", "ring"], "auto"),
        (["--data", "grid"], "auto"),
        (["--data", "digits"], "auto"),
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
