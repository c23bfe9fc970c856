"""Chollet's DCGAN on CIFAR-10 frogs ("Deep Learning with Python", sec. 8.5).

Latent vectors of 32, 32x32x3 images, RMSprop with gradient clipping and
learning-rate decay, dropout in the discriminator, and noisy labels (his
`labels += 0.05 * random`: real targets in [0.95, 1], fake in [0, 0.05]).

    python examples/dcgan_cifar10_frog.py --epochs 100      # downloads CIFAR-10
    python examples/dcgan_cifar10_frog.py --smoke           # tiny synthetic data
"""

import argparse
import os

import keras
import numpy as np

import keras_gan_tricks as kgt

LATENT_DIM = 32


def build_generator(filters=256):
    z = keras.Input((LATENT_DIM,))
    x = keras.layers.Dense(filters // 2 * 16 * 16)(z)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((16, 16, filters // 2))(x)
    x = keras.layers.Conv2D(filters, 5, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same")(x)  # 32x32
    x = keras.layers.LeakyReLU(0.2)(x)
    for _ in range(2):
        x = keras.layers.Conv2D(filters, 5, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(3, 7, activation="tanh", padding="same")(x)
    return keras.Model(z, x, name="generator")


def build_discriminator(filters=128):
    image = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(filters, 3)(image)
    x = keras.layers.LeakyReLU(0.2)(x)
    for _ in range(3):
        x = keras.layers.Conv2D(filters, 4, strides=2)(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.4)(x)
    return keras.Model(image, keras.layers.Dense(1)(x), name="discriminator")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="out/cifar10_frog")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data, for tests"
    )
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    if args.smoke:
        frogs = np.tanh(
            np.random.default_rng(0).standard_normal((16, 32, 32, 3))
        ).astype("float32")
        epochs, width = 1, 8
    else:
        frogs, _ = kgt.datasets.cifar10("frog")
        epochs, width = args.epochs, 1

    gan = kgt.GAN(
        build_generator(256 // width),
        build_discriminator(128 // width),
        latent_dim=LATENT_DIM,
    )
    gan.compile(
        d_optimizer=keras.optimizers.RMSprop(8e-4, clipvalue=1.0),
        g_optimizer=keras.optimizers.RMSprop(4e-4, clipvalue=1.0),
        label_policy=kgt.labels.UniformNoise(real=(0.95, 1.0), fake=(0.0, 0.05)),
    )
    gan.fit(
        frogs,
        batch_size=8 if args.smoke else 20,
        epochs=epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), n=16, scale=2)
        ],
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
