import re
import warnings

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks.architectures import ArchitectureWarning, check_architecture


@pytest.mark.parametrize(
    "shape,start",
    [
        ((28, 28, 1), (7, 7)),
        ((32, 32, 3), (4, 4)),
        ((8, 8, 1), (4, 4)),
        ((64, 48, 3), (8, 6)),
        ((7, 7, 1), (7, 7)),
    ],
)
def test_dcgan_pair_fits_any_image_size(shape, start):
    generator = kgt.architectures.dcgan_generator(16, shape)
    discriminator = kgt.architectures.dcgan_discriminator(shape)
    assert generator.output_shape == (None, *shape)
    assert discriminator.output_shape == (None, 1)
    reshape = next(
        layer for layer in generator.layers if isinstance(layer, keras.layers.Reshape)
    )
    assert reshape.output.shape[1:3] == start
    images = kgt.GAN(generator, discriminator).generate(3, seed=0)
    assert images.shape == (3, *shape) and np.abs(images).max() <= 1.0


def test_dcgan_28_matches_the_benchmark_network():
    g = kgt.architectures.dcgan_generator(100, (28, 28, 1), output_kernel_size=7)
    transposed = [
        layer for layer in g.layers if isinstance(layer, keras.layers.Conv2DTranspose)
    ]
    assert [(t.filters, t.kernel_size, t.strides) for t in transposed] == [
        (128, (4, 4), (2, 2)),
        (64, (4, 4), (2, 2)),
    ]
    assert g.layers[-1].kernel_size == (7, 7)
    d = kgt.architectures.dcgan_discriminator((28, 28, 1))
    convs = [layer for layer in d.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.strides) for c in convs] == [(64, (2, 2)), (128, (2, 2))]


def test_discriminator_options():
    d = kgt.architectures.dcgan_discriminator(
        (16, 16, 3),
        spectral_norm=True,
        instance_noise=0.2,
        minibatch_stddev=True,
        batch_norm=True,
    )
    kinds = [type(layer) for layer in d.layers]
    assert kgt.layers.InstanceNoise in kinds and kgt.layers.MinibatchStdDev in kinds
    assert kinds.count(kgt.layers.SpectralNormalization) == 3
    assert kinds.count(keras.layers.BatchNormalization) == 1
    assert float(
        kgt.callbacks.find_instance_noise(
            kgt.GAN(kgt.architectures.dcgan_generator(8, (16, 16, 3)), d)
        )[0].stddev
    ) == pytest.approx(0.2)


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_dcgan_trains(spectral_norm):
    shape = (8, 8, 1)
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(8, shape, base_filters=8),
        kgt.architectures.dcgan_discriminator(
            shape, base_filters=8, spectral_norm=spectral_norm
        ),
    )
    gan.compile()
    data = np.tanh(np.random.default_rng(0).standard_normal((64, *shape))).astype(
        "float32"
    )
    history = gan.fit(data, batch_size=32, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])


@pytest.mark.parametrize(
    "make,error,text",
    [
        (
            lambda: kgt.architectures.dcgan_generator(8, (28, 28, 1), kernel_size=3),
            ValueError,
            "kernel_size=3",
        ),
        (
            lambda: kgt.architectures.dcgan_discriminator((28, 28, 1), kernel_size=5),
            ValueError,
            "kernel_size=5",
        ),
        (
            lambda: kgt.architectures.dcgan_generator(0, (28, 28, 1)),
            ValueError,
            "latent_dim=0",
        ),
        (
            lambda: kgt.architectures.dcgan_generator(8, (28, 28)),
            ValueError,
            r"image_shape=\(28, 28\)",
        ),
        (
            lambda: kgt.architectures.dcgan_generator(8, (8, 8, 1), activation="elu"),
            ValueError,
            "activation='elu'",
        ),
        (
            lambda: kgt.architectures.dcgan_discriminator((8, 8, 1), dropout=1.0),
            ValueError,
            "dropout=1.0",
        ),
        (
            lambda: check_architecture("g", keras.Sequential()),
            TypeError,
            "generator='g'",
        ),
    ],
)
def test_bad_arguments(make, error, text):
    with pytest.raises(error, match=text):
        make()


def test_clean_dcgan_has_no_findings():
    for shape in [(28, 28, 1), (32, 32, 3)]:
        g = kgt.architectures.dcgan_generator(32, shape)
        d = kgt.architectures.dcgan_discriminator(
            shape, spectral_norm=True, minibatch_stddev=True, instance_noise=0.1
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", ArchitectureWarning)
            assert check_architecture(g, d) == []


def bad_generator(kernel=3, activation=None):
    z = keras.Input((8,))
    x = keras.layers.Reshape((2, 2, 2))(keras.layers.Dense(8)(z))
    x = keras.layers.Conv2DTranspose(4, kernel, strides=2, padding="same", name="up")(x)
    x = keras.layers.Conv2D(1, 3, padding="same", activation=activation, name="out")(x)
    return keras.Model(z, x)


def discriminator(*middle, final_activation=None, shape=(4, 4, 1)):
    return keras.Sequential(
        [
            keras.Input(shape),
            *middle,
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation=final_activation, name="logit"),
        ]
    )


def codes(findings):
    return sorted(f.code for f in findings)


def test_each_gotcha_is_flagged():
    clean_g = bad_generator(kernel=4, activation="tanh")
    clean_d = discriminator(
        keras.layers.Conv2D(4, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
    )
    assert check_architecture(clean_g, clean_d, warn=False) == []

    found = check_architecture(
        bad_generator(kernel=3, activation="tanh"), clean_d, warn=False
    )
    assert (
        codes(found) == ["kernel_stride"]
        and found[0].layer == "up"
        and found[0].network == "generator"
    )
    found = check_architecture(
        clean_g,
        discriminator(keras.layers.Conv2D(4, 3, strides=2, padding="same")),
        warn=False,
    )
    assert codes(found) == ["kernel_stride"] and found[0].network == "discriminator"

    assert codes(
        check_architecture(
            clean_g, discriminator(keras.layers.MaxPooling2D()), warn=False
        )
    ) == ["pooling"]
    assert codes(
        check_architecture(
            clean_g, discriminator(keras.layers.AveragePooling2D(2)), warn=False
        )
    ) == ["pooling"]
    assert codes(
        check_architecture(clean_g, discriminator(keras.layers.ReLU()), warn=False)
    ) == ["relu"]
    assert codes(
        check_architecture(
            clean_g,
            discriminator(keras.layers.Conv2D(4, 4, activation="relu")),
            warn=False,
        )
    ) == ["relu"]
    assert codes(
        check_architecture(
            clean_g, discriminator(keras.layers.Activation("relu")), warn=False
        )
    ) == ["relu"]
    assert (
        codes(
            check_architecture(
                clean_g,
                discriminator(keras.layers.ReLU(negative_slope=0.2)),
                warn=False,
            )
        )
        == []
    )

    found = check_architecture(
        bad_generator(kernel=4, activation=None), clean_d, warn=False
    )
    assert codes(found) == ["output_activation"] and "'linear'" in found[0].message
    assert (
        codes(
            check_architecture(
                bad_generator(4, "sigmoid"), clean_d, data_range=(0, 1), warn=False
            )
        )
        == []
    )
    assert (
        codes(
            check_architecture(
                bad_generator(4, None), clean_d, data_range=None, warn=False
            )
        )
        == []
    )

    assert codes(
        check_architecture(
            clean_g, discriminator(final_activation="sigmoid"), warn=False
        )
    ) == ["sigmoid_output"]
    assert codes(
        check_architecture(clean_g, discriminator(shape=(5, 5, 1)), warn=False)
    ) == ["shape_mismatch"]


def test_findings_inside_wrappers_and_nested_models_and_warnings():
    inner = keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            keras.layers.SpectralNormalization(keras.layers.Conv2D(4, 3, strides=2)),
            keras.layers.ReLU(),
        ]
    )
    outer = keras.Sequential(
        [keras.Input((4, 4, 1)), inner, keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    with pytest.warns(ArchitectureWarning, match="ReLU"):
        found = check_architecture(bad_generator(4, "tanh"), outer)
    assert codes(found) == ["kernel_stride", "relu"]


# The 2D MLPs: PacGAN's networks for the ring and the grid, and smaller ones.


@pytest.mark.parametrize(
    "kwargs,latent_dim,pack",
    [({}, 2, 1), ({"width": 16, "depth": 1, "batch_norm": False}, 8, 4)],
)
def test_mlp_pair_shapes_and_a_packed_fit(kwargs, latent_dim, pack, points):
    generator = kgt.architectures.mlp_generator(latent_dim, **kwargs)
    discriminator = kgt.architectures.mlp_discriminator(
        pack=pack, **{k: v for k, v in kwargs.items() if k != "batch_norm"}
    )
    assert generator.input_shape == (None, latent_dim)
    assert generator.output_shape == (None, 2)
    assert discriminator.input_shape == (None, 2 * pack)
    assert discriminator.output_shape == (None, 1)
    gan = kgt.GAN(generator, discriminator, pack=pack, seed=0)
    gan.compile()
    history = gan.fit(points, batch_size=32, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])


def test_mlp_pair_has_no_findings():
    # Unbounded points: no output activation to check against a range.
    generator = kgt.architectures.mlp_generator(2)
    discriminator = kgt.architectures.mlp_discriminator(
        spectral_norm=True, minibatch_stddev=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArchitectureWarning)
        assert check_architecture(generator, discriminator, data_range=None) == []


def test_mlp_discriminator_options():
    d = kgt.architectures.mlp_discriminator(
        input_dim=3, spectral_norm=True, instance_noise=0.2, minibatch_stddev=True
    )
    kinds = [type(layer) for layer in d.layers]
    assert kinds[0] is kgt.layers.InstanceNoise
    assert kinds[-2:] == [
        kgt.layers.MinibatchStdDev,
        kgt.layers.SpectralNormalization,
    ]
    assert kinds.count(kgt.layers.SpectralNormalization) == 4
    assert float(d.layers[0].stddev) == pytest.approx(0.2)
    assert d.input_shape == (None, 3)
    g = kgt.architectures.mlp_generator(4, output_dim=3, activation="leaky_relu")
    assert g.output_shape == (None, 3)
    assert sum(isinstance(layer, keras.layers.LeakyReLU) for layer in g.layers) == 4


@pytest.mark.parametrize(
    "make,error,text",
    [
        (lambda: kgt.architectures.mlp_generator(0), ValueError, "latent_dim=0"),
        (
            lambda: kgt.architectures.mlp_generator(2, output_dim=1.5),
            TypeError,
            "output_dim=1.5",
        ),
        (lambda: kgt.architectures.mlp_generator(2, width=0), ValueError, "width=0"),
        (lambda: kgt.architectures.mlp_generator(2, depth=0), ValueError, "depth=0"),
        (
            lambda: kgt.architectures.mlp_generator(2, batch_norm="yes"),
            TypeError,
            "batch_norm='yes'",
        ),
        (
            lambda: kgt.architectures.mlp_generator(2, activation="tanh"),
            ValueError,
            "activation='tanh'",
        ),
        (lambda: kgt.architectures.mlp_discriminator(pack=0), ValueError, "pack=0"),
        (
            lambda: kgt.architectures.mlp_discriminator(input_dim=None),
            TypeError,
            "input_dim=None",
        ),
        (
            lambda: kgt.architectures.mlp_discriminator(instance_noise=-0.1),
            ValueError,
            "instance_noise=-0.1",
        ),
        (
            lambda: kgt.architectures.mlp_discriminator(spectral_norm=1),
            TypeError,
            "spectral_norm=1",
        ),
        (
            lambda: kgt.architectures.mlp_discriminator(minibatch_stddev="4"),
            TypeError,
            "minibatch_stddev='4'",
        ),
    ],
)
def test_mlp_bad_arguments(make, error, text):
    with pytest.raises(error, match=text):
        make()


def _copied_mlp(
    input_dim, output_dim, width, depth, hidden, first=(), last=(), sn=False
):
    """The form of the MLPs the CLI, the benchmarks and the examples wrote
    out before the builders: `first` layers, `depth` x (Dense(width),
    `hidden` layers), `last` layers, Dense(output_dim); every Dense wrapped
    in spectral normalization if `sn`."""

    def dense(units):
        layer = keras.layers.Dense(units)
        return kgt.layers.SpectralNormalization(layer) if sn else layer

    layers = [keras.Input((input_dim,)), *(make() for make in first)]
    for _ in range(depth):
        layers += [dense(width), *(make() for make in hidden)]
    layers += [make() for make in last]
    return keras.Sequential([*layers, dense(output_dim)])


def _batch_norm_relu():
    return [keras.layers.BatchNormalization, keras.layers.ReLU]


def _leaky_relu():
    return [lambda: keras.layers.LeakyReLU(0.2)]


COPIES = {
    # keras-gan-tricks train --data ring/grid: PacGAN's networks.
    "cli generator": (
        lambda: _copied_mlp(64, 2, 400, 4, _batch_norm_relu()),
        lambda: kgt.architectures.mlp_generator(64),
    ),
    "cli discriminator": (
        lambda: _copied_mlp(
            2, 1, 200, 3, _leaky_relu(), last=[kgt.layers.MinibatchStdDev], sn=True
        ),
        lambda: kgt.architectures.mlp_discriminator(
            spectral_norm=True, minibatch_stddev=True
        ),
    ),
    # benchmarks/modes.py (and dispatch.py's pacgan, failures.py's grid).
    "modes generator": (
        lambda: _copied_mlp(2, 2, 400, 4, _batch_norm_relu()),
        lambda: kgt.architectures.mlp_generator(2),
    ),
    "modes discriminator": (
        lambda: _copied_mlp(2, 1, 200, 3, _leaky_relu()),
        lambda: kgt.architectures.mlp_discriminator(),
    ),
    "modes PacGAN4 + MinibatchStdDev": (
        lambda: _copied_mlp(
            8,
            1,
            200,
            3,
            _leaky_relu(),
            last=[lambda: kgt.layers.MinibatchStdDev(group_size=4)],
        ),
        lambda: kgt.architectures.mlp_discriminator(pack=4, minibatch_stddev=True),
    ),
    # benchmarks/backends.py's mlp2d.
    "backends generator": (
        lambda: _copied_mlp(8, 2, 128, 3, [keras.layers.ReLU]),
        lambda: kgt.architectures.mlp_generator(
            8, width=128, depth=3, batch_norm=False
        ),
    ),
    "backends discriminator": (
        lambda: _copied_mlp(2, 1, 128, 3, _leaky_relu()),
        lambda: kgt.architectures.mlp_discriminator(width=128, depth=3),
    ),
    # examples/custom_train_step*.py (instance noise in the TensorFlow one).
    "example generator": (
        lambda: _copied_mlp(2, 2, 16, 3, [keras.layers.ReLU]),
        lambda: kgt.architectures.mlp_generator(2, width=16, depth=3, batch_norm=False),
    ),
    "example discriminator": (
        lambda: _copied_mlp(
            2, 1, 16, 3, _leaky_relu(), first=[lambda: kgt.layers.InstanceNoise(0.1)]
        ),
        lambda: kgt.architectures.mlp_discriminator(
            width=16, depth=3, instance_noise=0.1
        ),
    ),
}


def _layer_list(network):
    """Each layer's class and configuration, names aside."""

    def unnamed(config):
        return {
            key: unnamed(value["config"]) if key == "layer" else value
            for key, value in config.items()
            if key != "name"
        }

    return [(type(layer), unnamed(layer.get_config())) for layer in network.layers]


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_mlp_builders_equal_the_copies_they_replace(copy):
    """Same layers, and under the same seed the same initial weights: the
    figures measured with the copies are reproduced with the builders."""
    old, new = COPIES[copy]
    keras.utils.set_random_seed(7)
    old = old()
    keras.utils.set_random_seed(7)
    new = new()
    assert _layer_list(new) == _layer_list(old)
    assert (new.input_shape, new.output_shape) == (old.input_shape, old.output_shape)
    for a, b in zip(old.get_weights(), new.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "shape,blocks,start",
    [((32, 32, 3), 3, 4), ((64, 64, 1), 4, 4), ((28, 28, 1), 2, 7)],
)
def test_resnet_pair_fits_the_image_and_follows_the_tricks(shape, blocks, start):
    g = kgt.architectures.resnet_generator(16, shape, base_filters=4)
    d = kgt.architectures.resnet_discriminator(shape, base_filters=4)
    assert g.output_shape == (None, *shape)
    assert d.output_shape == (None, 1)
    adds = [layer for layer in g.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == blocks
    assert g.get_layer("block1_add").output.shape[1:3] == (2 * start, 2 * start)
    assert len([la for la in d.layers if isinstance(la, keras.layers.Add)]) == blocks
    wrapped = [
        la for la in d.layers if isinstance(la, kgt.layers.SpectralNormalization)
    ]
    assert len(wrapped) == 3 * blocks + 1  # two convolutions, the shortcut, the logit
    assert check_architecture(g, d, warn=False) == []
    plain = kgt.architectures.resnet_discriminator(shape, spectral_norm=False)
    assert not any(
        isinstance(la, kgt.layers.SpectralNormalization) for la in plain.layers
    )


def test_resnet_shortcut_carries_the_input():
    """Each block is a residual: zero its main path's last convolution and
    the block's output is the shortcut alone."""
    g = kgt.architectures.resnet_generator(8, (16, 16, 1), base_filters=4)
    block = keras.Model(g.input, g.get_layer("block1_add").output)
    skip = keras.Model(g.input, g.get_layer("block1_skip").output)
    z = np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
    conv = g.get_layer("block1_conv2")
    conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block(z)),
        keras.ops.convert_to_numpy(skip(z)),
        rtol=1e-6,
    )


def test_resnet_pair_trains_and_reloads(tmp_path):
    shape = (16, 16, 3)
    gan = kgt.GAN(
        kgt.architectures.resnet_generator(8, shape, base_filters=4),
        kgt.architectures.resnet_discriminator(
            shape, base_filters=4, minibatch_stddev=True
        ),
        seed=0,
    )
    gan.compile()
    data = np.tanh(np.random.default_rng(0).standard_normal((32, *shape)))
    history = gan.fit(data.astype("float32"), batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["d_loss"]))
    gan.save(tmp_path / "resnet.keras")
    again = keras.saving.load_model(tmp_path / "resnet.keras")
    z = gan.sample_latent(4, seed=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again.generator(z, training=False)),
        keras.ops.convert_to_numpy(gan.generator(z, training=False)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "make,error,text",
    [
        (
            lambda: kgt.architectures.resnet_generator(8, (32, 32)),
            ValueError,
            "image_shape=(32, 32)",
        ),
        (
            lambda: kgt.architectures.resnet_generator(8, (32, 32, 1), base_filters=0),
            ValueError,
            "base_filters=0",
        ),
        (
            lambda: kgt.architectures.resnet_discriminator((32, 32, 1), stages=0),
            ValueError,
            "stages=0",
        ),
        (
            lambda: kgt.architectures.resnet_discriminator(
                (32, 32, 1), spectral_norm="yes"
            ),
            TypeError,
            "spectral_norm='yes'",
        ),
    ],
)
def test_resnet_bad_arguments(make, error, text):
    with pytest.raises(error, match=re.escape(text)):
        make()
