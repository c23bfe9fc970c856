"""Chollet's DCGAN on CIFAR-10 frogs ("Deep Learning with Python", sec. 8.5).

Latent vectors of 32, 32x32x3 images, RMSprop with gradient clipping and
learning-rate decay, dropout in the discriminator, and noisy labels (his
`labels += 0.05 * random`: real targets in [0.95, 1], fake in [0, 0.05]).

    python examples/dcgan_cifar10_frog.py --epochs 100      # downloads CIFAR-10
    python examples/dcgan_cifar10_frog.py --smoke           # tiny synthetic data
"""

import os
import sys

import keras

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402

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
    args = _example.parse_args(argv, __doc__, epochs=100, out="out/cifar10_frog")
    if args.smoke:
        frogs, width = _example.smoke_images(16, (32, 32, 3)), 8
    else:
        frogs, width = kgt.datasets.cifar10("frog")[0], 1

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
        epochs=args.epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), n=16, scale=2)
        ],
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
