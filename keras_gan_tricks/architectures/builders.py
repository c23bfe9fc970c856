"""The builders: DCGAN networks for images and PacGAN's MLPs for points,
following the tricks (see `kgt.architectures`)."""

import keras

from keras_gan_tricks._utils import (
    check_int,
    check_number,
)
from keras_gan_tricks.architectures._parts import (
    activation_layer,
    check_flag,
    check_image_shape,
    check_kernel,
    draw_seed,
    halvings,
    maybe_spectral_norm,
    positive_ints,
)
from keras_gan_tricks.layers import (
    InstanceNoise,
    MinibatchStdDev,
)


def dcgan_generator(
    latent_dim,
    image_shape,
    base_filters=64,
    kernel_size=4,
    batch_norm=True,
    activation="leaky_relu",
    output_kernel_size=3,
    name="dcgan_generator",
):
    """A DCGAN generator: Dense, then stride-2 transposed convolutions, tanh.

    The latent vector is projected to a small grid (4x4 up to 7x7, whatever
    the image size halves down to) with `base_filters * 2**(stages - 1)`
    channels, then doubled in size by `stages` transposed convolutions
    (kernel divisible by the stride, channels halving each time), each
    followed by batch normalization and the activation; a final convolution
    maps to the image's channels with `tanh`. For 28x28x1: Dense to
    7x7x128, two transposed convolutions to 14x14x128 and 28x28x64, and a
    3x3 convolution to 28x28x1.

    Args:
        latent_dim: int >= 1. Size of the latent vector.
        image_shape: tuple `(height, width, channels)`.
        base_filters: int >= 1. Channels of the last upsampling stage.
        kernel_size: int, even. Kernel of the transposed convolutions.
        batch_norm: bool. Batch normalization after each stage.
        activation: `"leaky_relu"` (slope 0.2, Chollet) or `"relu"` (Radford).
        output_kernel_size: int >= 1. Kernel of the output convolution.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to images in
        [-1, 1].
    """
    latent_dim = check_int("latent_dim", latent_dim, low=1)
    height, width, channels = check_image_shape(image_shape)
    base_filters = check_int("base_filters", base_filters, low=1)
    kernel_size = check_kernel(kernel_size)
    output_kernel_size = check_int("output_kernel_size", output_kernel_size, low=1)
    activation_layer(activation)
    stages, h, w = halvings(height, width)

    z = keras.Input((latent_dim,), name="latent")
    filters = base_filters * 2 ** max(stages - 1, 0)
    x = keras.layers.Dense(h * w * filters, use_bias=not batch_norm)(z)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    x = activation_layer(activation)(x)
    x = keras.layers.Reshape((h, w, filters))(x)
    for stage in range(stages):
        x = keras.layers.Conv2DTranspose(
            base_filters * 2 ** (stages - 1 - stage),
            kernel_size,
            strides=2,
            padding="same",
            use_bias=not batch_norm,
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = activation_layer(activation)(x)
    image = keras.layers.Conv2D(
        channels, output_kernel_size, padding="same", activation="tanh", name="image"
    )(x)
    return keras.Model(z, image, name=name)


def dcgan_discriminator(
    image_shape,
    base_filters=64,
    kernel_size=4,
    stages=None,
    dropout=0.3,
    spectral_norm=False,
    batch_norm=False,
    instance_noise=None,
    minibatch_stddev=False,
    seed=None,
    name="dcgan_discriminator",
):
    """A DCGAN discriminator: stride-2 convolutions with LeakyReLU, one logit.

    `stages` stride-2 convolutions (kernel divisible by the stride,
    `base_filters` channels doubling each time), each followed by
    LeakyReLU(0.2), then optionally the minibatch standard deviation, a
    flatten, dropout and a Dense layer with one output and no activation
    (the losses take logits). No pooling and no ReLU (sparse gradients).

    Args:
        image_shape: tuple `(height, width, channels)`.
        base_filters: int >= 1. Channels of the first convolution.
        kernel_size: int, even. Kernel of the strided convolutions.
        stages: int >= 1 or None. Stride-2 convolutions; None halves the
            image down to 4x4-7x7 (at least one).
        dropout: float in [0, 1). Dropout before the output layer.
        spectral_norm: bool. Wrap every convolution and the output layer in
            `kgt.layers.SpectralNormalization` (Miyato et al. 2018; trains on
            every backend).
        batch_norm: bool. Batch normalization after each convolution but the
            first (Radford et al.).
        instance_noise: float >= 0 or None. Put a `kgt.layers.InstanceNoise`
            of this stddev at the input.
        minibatch_stddev: bool. Add `kgt.layers.MinibatchStdDev` before the
            output (ProGAN).
        seed: int or None. Seeds the dropout's masks; None draws a seed from
            Python's `random` (which `keras.utils.set_random_seed` seeds).
            Seeded, the masks come from the layer's own stream, which a
            resumed run restores (on PyTorch, Keras draws an unseeded
            dropout's masks from torch's global generator).
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from images to logits `(batch, 1)`.
    """
    height, width, _ = image_shape = check_image_shape(image_shape)
    base_filters = check_int("base_filters", base_filters, low=1)
    kernel_size = check_kernel(kernel_size)
    if stages is None:
        stages = max(halvings(height, width)[0], 1)
    stages = check_int("stages", stages, low=1)
    dropout = check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
    seed = draw_seed(seed)

    image = keras.Input(image_shape, name="image")
    x = image
    if instance_noise is not None:
        x = InstanceNoise(instance_noise, name="instance_noise")(x)
    for stage in range(stages):
        x = maybe_spectral_norm(
            keras.layers.Conv2D(
                base_filters * 2**stage, kernel_size, strides=2, padding="same"
            ),
            spectral_norm,
        )(x)
        if batch_norm and stage > 0:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    if minibatch_stddev:
        x = MinibatchStdDev()(x)
    x = keras.layers.Flatten()(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed)(x)
    logit = maybe_spectral_norm(keras.layers.Dense(1, name="logit"), spectral_norm)(x)
    return keras.Model(image, logit, name=name)


def mlp_generator(
    latent_dim,
    output_dim=2,
    width=400,
    depth=4,
    batch_norm=True,
    activation="relu",
    name="mlp_generator",
):
    """An MLP generator for low-dimensional data such as the 2D mixtures.

    `depth` hidden layers, each a Dense layer of `width` units followed by
    batch normalization (if `batch_norm`) and the activation, then a linear
    Dense layer to `output_dim`. The defaults are PacGAN's generator for the
    ring and the grid: four hidden layers of 400 ReLU units, batch norm.

    Args:
        latent_dim: int >= 1. Size of the latent vector.
        output_dim: int >= 1. Size of a sample (2 for points in the plane).
        width: int >= 1. Units of each hidden layer.
        depth: int >= 1. Hidden layers.
        batch_norm: bool. Batch normalization after each hidden Dense layer.
        activation: `"relu"` or `"leaky_relu"` (slope 0.2).
        name: str. The model's name.

    Returns:
        A `keras.Sequential` from latents to samples, with no output activation.

    Example:

    >>> generator = kgt.architectures.mlp_generator(2)
    >>> generator.output_shape
    (None, 2)
    """
    latent_dim, output_dim, width, depth = positive_ints(
        latent_dim=latent_dim, output_dim=output_dim, width=width, depth=depth
    )
    batch_norm = check_flag("batch_norm", batch_norm)
    activation_layer(activation)
    layers = [keras.Input((latent_dim,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        layers.append(activation_layer(activation))
    return keras.Sequential([*layers, keras.layers.Dense(output_dim)], name=name)


def mlp_discriminator(
    input_dim=2,
    width=200,
    depth=3,
    pack=1,
    spectral_norm=False,
    instance_noise=None,
    minibatch_stddev=False,
    name="mlp_discriminator",
):
    """An MLP discriminator for low-dimensional data such as the 2D mixtures.

    Optionally instance noise at the input, then `depth` hidden layers, each
    a Dense layer of `width` units followed by LeakyReLU(0.2), optionally
    the minibatch standard deviation, and a Dense layer to one logit. The
    defaults are PacGAN's discriminator for the ring and the grid: three
    hidden layers of 200 units (PacGAN's maxout made LeakyReLU).

    Args:
        input_dim: int >= 1. Size of one sample (2 for points in the plane).
        width: int >= 1. Units of each hidden layer.
        depth: int >= 1. Hidden layers.
        pack: int >= 1. Samples judged together (PacGAN), side by side in
            the input; pass the same `pack` to `kgt.GAN`.
        spectral_norm: bool. Wrap every Dense layer in
            `kgt.layers.SpectralNormalization` (Miyato et al. 2018; trains on
            every backend).
        instance_noise: float >= 0 or None. Put a `kgt.layers.InstanceNoise`
            of this stddev at the input.
        minibatch_stddev: bool. Add `kgt.layers.MinibatchStdDev` before the
            output (ProGAN).
        name: str. The model's name.

    Returns:
        A `keras.Sequential` from `(batch, input_dim * pack)` to `(batch, 1)`.

    Example:

    >>> discriminator = kgt.architectures.mlp_discriminator(pack=4)
    >>> discriminator.input_shape
    (None, 8)
    """
    input_dim, width, depth, pack = positive_ints(
        input_dim=input_dim, width=width, depth=depth, pack=pack
    )
    spectral_norm = check_flag("spectral_norm", spectral_norm)
    minibatch_stddev = check_flag("minibatch_stddev", minibatch_stddev)
    layers = [keras.Input((input_dim * pack,))]
    if instance_noise is not None:
        instance_noise = check_number("instance_noise", instance_noise, low=0.0)
        layers.append(InstanceNoise(instance_noise, name="instance_noise"))
    for _ in range(depth):
        dense = maybe_spectral_norm(keras.layers.Dense(width), spectral_norm)
        layers += [dense, keras.layers.LeakyReLU(0.2)]
    if minibatch_stddev:
        layers.append(MinibatchStdDev())
    logit = maybe_spectral_norm(keras.layers.Dense(1), spectral_norm)
    return keras.Sequential([*layers, logit], name=name)
