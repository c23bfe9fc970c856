"""A residual generator and discriminator in the style of SNGAN (Miyato et
al. 2018) and BigGAN (Brock et al. 2019), for images of 32 to 128 pixels,
kept to the tricks `check_architecture` checks (see `kgt.architectures`)."""

import keras

from keras_gan_tricks._utils import check_int
from keras_gan_tricks.architectures._parts import (
    check_flag,
    check_image_shape,
    halvings,
    maybe_spectral_norm,
)
from keras_gan_tricks.layers import InstanceNoise, MinibatchStdDev


def _up_block(x, filters, batch_norm, spectral_norm, name):
    """BN, ReLU, 2x nearest upsampling, 3x3 conv, BN, ReLU, 3x3 conv; the
    shortcut upsampled and projected by a 1x1 conv."""

    def conv(kernel, suffix):
        layer = keras.layers.Conv2D(
            filters, kernel, padding="same", name=f"{name}_{suffix}"
        )
        return maybe_spectral_norm(layer, spectral_norm)

    shortcut = keras.layers.UpSampling2D(2, name=f"{name}_up_skip")(x)
    shortcut = conv(1, "skip")(shortcut)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = keras.layers.UpSampling2D(2, name=f"{name}_up")(x)
    x = conv(3, "conv1")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn2")(x)
    x = keras.layers.ReLU(name=f"{name}_relu2")(x)
    x = conv(3, "conv2")(x)
    return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def _down_block(x, filters, spectral_norm, first, name):
    """(LeakyReLU), 3x3 conv, LeakyReLU, 4x4 stride-2 conv; the shortcut a
    2x2 stride-2 conv (a learned average pooling: no pooling layer, kernels
    divisible by the stride). The first block takes the image unactivated."""

    def conv(kernel, strides, suffix):
        layer = keras.layers.Conv2D(
            filters, kernel, strides=strides, padding="same", name=f"{name}_{suffix}"
        )
        return maybe_spectral_norm(layer, spectral_norm)

    shortcut = conv(2, 2, "skip")(x)
    if not first:
        x = keras.layers.LeakyReLU(0.2, name=f"{name}_act1")(x)
    x = conv(3, 1, "conv1")(x)
    x = keras.layers.LeakyReLU(0.2, name=f"{name}_act2")(x)
    x = conv(4, 2, "conv2")(x)
    return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def resnet_generator(
    latent_dim,
    image_shape,
    base_filters=64,
    batch_norm=True,
    spectral_norm=False,
    name="resnet_generator",
):
    """A residual generator (SNGAN/BigGAN): Dense, residual up-blocks, tanh.

    The latent vector is projected to a small grid (4x4 up to 7x7, whatever
    the image size halves down to) with `base_filters * 2**(stages - 1)`
    channels, then doubled in size by `stages` residual blocks (batch
    normalization, ReLU, nearest-neighbour upsampling and two 3x3
    convolutions, beside an upsampled 1x1-projected shortcut; channels
    halving each time), then batch normalization, ReLU and a 3x3
    convolution to the image's channels with `tanh`. Upsampling then
    convolving has no checkerboard artifacts. For 32x32: 4x4 with 256
    channels, three blocks to 32x32 with 64. 64x64 takes four blocks and
    128x128 five.

    Args:
        latent_dim: int >= 1. Size of the latent vector.
        image_shape: tuple `(height, width, channels)`.
        base_filters: int >= 1. Channels of the last block.
        batch_norm: bool. Batch normalization before each activation.
        spectral_norm: bool. Wrap every convolution in
            `kgt.layers.SpectralNormalization` (BigGAN normalises G too).
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to images in
        [-1, 1].
    """
    latent_dim = check_int("latent_dim", latent_dim, low=1)
    height, width, channels = check_image_shape(image_shape)
    base_filters = check_int("base_filters", base_filters, low=1)
    check_flag("batch_norm", batch_norm)
    check_flag("spectral_norm", spectral_norm)
    stages, h, w = halvings(height, width)

    z = keras.Input((latent_dim,), name="latent")
    filters = base_filters * 2 ** max(stages - 1, 0)
    x = keras.layers.Dense(h * w * filters, name="project")(z)
    x = keras.layers.Reshape((h, w, filters))(x)
    for stage in range(stages):
        filters = base_filters * 2 ** (stages - 1 - stage)
        x = _up_block(x, filters, batch_norm, spectral_norm, f"block{stage + 1}")
    if batch_norm:
        x = keras.layers.BatchNormalization(name="out_bn")(x)
    x = keras.layers.ReLU(name="out_relu")(x)
    image = keras.layers.Conv2D(
        channels, 3, padding="same", activation="tanh", name="image"
    )(x)
    return keras.Model(z, image, name=name)


def resnet_discriminator(
    image_shape,
    base_filters=64,
    stages=None,
    spectral_norm=True,
    instance_noise=None,
    minibatch_stddev=False,
    name="resnet_discriminator",
):
    """A residual discriminator (SNGAN/BigGAN), kept to the tricks.

    `stages` residual down-blocks (3x3 convolution, LeakyReLU(0.2), 4x4
    stride-2 convolution, beside a 2x2 stride-2 convolution as shortcut;
    channels `base_filters` doubling each time), then LeakyReLU, optionally
    the minibatch standard deviation, a flatten and a Dense layer with one
    logit. SNGAN's blocks use ReLU and average pooling; these use LeakyReLU
    and strided convolutions, so `kgt.architectures.check_architecture`
    finds nothing (no sparse gradients). Spectral normalization on every
    layer by default, as in SNGAN.

    Args:
        image_shape: tuple `(height, width, channels)`.
        base_filters: int >= 1. Channels of the first block.
        stages: int >= 1 or None. Down-blocks; None halves the image down to
            4x4-7x7 (at least one).
        spectral_norm: bool. Wrap every convolution and the output layer in
            `kgt.layers.SpectralNormalization` (trains on every backend).
        instance_noise: float >= 0 or None. Put a `kgt.layers.InstanceNoise`
            of this stddev at the input.
        minibatch_stddev: bool. Add `kgt.layers.MinibatchStdDev` before the
            output (ProGAN).
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from images to logits `(batch, 1)`.
    """
    height, width, _ = image_shape = check_image_shape(image_shape)
    base_filters = check_int("base_filters", base_filters, low=1)
    if stages is None:
        stages = max(halvings(height, width)[0], 1)
    stages = check_int("stages", stages, low=1)
    check_flag("spectral_norm", spectral_norm)
    check_flag("minibatch_stddev", minibatch_stddev)

    image = keras.Input(image_shape, name="image")
    x = image
    if instance_noise is not None:
        x = InstanceNoise(instance_noise, name="instance_noise")(x)
    for stage in range(stages):
        x = _down_block(
            x, base_filters * 2**stage, spectral_norm, stage == 0, f"block{stage + 1}"
        )
    x = keras.layers.LeakyReLU(0.2, name="out_act")(x)
    if minibatch_stddev:
        x = MinibatchStdDev()(x)
    x = keras.layers.Flatten()(x)
    logit = maybe_spectral_norm(keras.layers.Dense(1, name="logit"), spectral_norm)(x)
    return keras.Model(image, logit, name=name)
