"""Tiny networks for the tests."""

import keras


class EachBatch(keras.callbacks.Callback):
    """Calls `fn(batch, logs)` after each training batch, with the model's
    variables current: on JAX, `fit` keeps their values in its train state
    until a callback reads `self.model`."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def on_train_batch_end(self, batch, logs=None):
        self.model  # noqa: B018 (syncs the JAX train state)
        self.fn(batch, logs)


def mlp_generator(latent_dim=4, out_dim=2, width=16):
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(out_dim),
        ],
        name="mlp_generator",
    )


def mlp_discriminator(in_dim=2, width=16, out_units=1):
    return keras.Sequential(
        [
            keras.Input((in_dim,)),
            keras.layers.Dense(width),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(out_units),
        ],
        name="mlp_discriminator",
    )


def conv_generator(latent_dim=8):
    """A functional DCGAN-style generator for 8x8x1 images in [-1, 1]."""
    z = keras.Input((latent_dim,))
    x = keras.layers.Dense(4 * 4 * 8)(z)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    return keras.Model(z, x, name="conv_generator")


def conv_discriminator():
    x_in = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 4, strides=2, padding="same")(x_in)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    # Seeded: on PyTorch an unseeded Dropout draws from torch's global
    # generator, which no saving keeps, so a resumed fit's masks would differ.
    x = keras.layers.Dropout(0.2, seed=0)(x)
    x = keras.layers.Dense(1)(x)
    return keras.Model(x_in, x, name="conv_discriminator")


def patch_discriminator(channels_first=False):
    """A PatchGAN-style discriminator for 8x8x1 images: a 2x2 map of logits,
    one per patch (Isola et al. 2017), `(batch, 2, 2, 1)`."""
    x_in = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 4, strides=2, padding="same")(x_in)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(1, 3, strides=2, padding="same")(x)
    if channels_first:
        x = keras.layers.Permute((3, 1, 2))(x)
    return keras.Model(x_in, x, name="patch_discriminator")
