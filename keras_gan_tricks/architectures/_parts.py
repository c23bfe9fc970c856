"""What the builders share: checks of their arguments, the image's
halvings, the activations and the optional spectral normalization."""

import random

import keras

from keras_gan_tricks._utils import check_int
from keras_gan_tricks.layers import SpectralNormalization


def check_image_shape(image_shape):
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1
            for d in image_shape
        )
    ):
        raise ValueError(
            "`image_shape` must be (height, width, channels) of positive ints. "
            f"Received: image_shape={image_shape!r}"
        )
    return tuple(image_shape)


def halvings(height, width):
    """Stride-2 stages between a 4x4-or-larger odd/base grid and the image."""
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages, height, width


def check_kernel(kernel_size):
    kernel_size = check_int("kernel_size", kernel_size, low=2)
    if kernel_size % 2:
        raise ValueError(
            "`kernel_size` must be divisible by the stride, 2, or strided "
            "convolutions leave checkerboard artifacts. "
            f"Received: kernel_size={kernel_size}"
        )
    return kernel_size


def activation_layer(name):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(0.2)
    if name == "relu":
        return keras.layers.ReLU()
    raise ValueError(
        f"`activation` must be 'leaky_relu' or 'relu'. Received: activation={name!r}"
    )


def positive_ints(**values):
    """The values, each checked to be an int >= 1 (the error names it)."""
    return [check_int(name, value, low=1) for name, value in values.items()]


def draw_seed(seed):
    """`seed` checked, or one drawn from Python's `random` as Keras draws a
    `SeedGenerator`'s."""
    if seed is None:
        return random.randint(1, 10**9)
    return check_int("seed", seed, low=0)


def maybe_spectral_norm(layer, spectral_norm):
    return SpectralNormalization(layer) if spectral_norm else layer


def check_flag(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value
