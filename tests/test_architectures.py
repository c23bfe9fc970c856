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
    assert kinds.count(keras.layers.SpectralNormalization) == 3
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
    if spectral_norm and keras.backend.backend() == "torch":
        # Keras's layer rewrites its kernel in place: refused before training.
        with pytest.raises(ValueError, match="SpectralNormalization.*in place"):
            gan.compile()
        return
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
