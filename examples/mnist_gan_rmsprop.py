"""The slides' Keras MNIST GAN: RMSprop, a uniform latent, noisy labels, decaying noise.

Latent vectors of 100 drawn from U(-1, 1), RMSprop at 2e-4 for the
discriminator and 1e-4 for the generator, noisy labels (real U(0.7, 1.2),
fake U(0, 0.3)), and instance noise on the discriminator's inputs decaying to
zero: the tricks the slides list, in one `fit` call.

    python examples/mnist_gan_rmsprop.py --epochs 20       # downloads MNIST
    python examples/mnist_gan_rmsprop.py --smoke
"""

import argparse
import os

import keras
import numpy as np

import keras_gan_tricks as kgt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="out/mnist_rmsprop")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data, for tests"
    )
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    if args.smoke:
        images = np.tanh(
            np.random.default_rng(0).standard_normal((32, 28, 28, 1))
        ).astype("float32")
        epochs, filters, batch_size = 1, 8, 16
    else:
        images, _ = kgt.datasets.mnist()
        epochs, filters, batch_size = args.epochs, 64, 256

    shape = (28, 28, 1)
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(100, shape, base_filters=filters),
        kgt.architectures.dcgan_discriminator(shape, base_filters=filters, dropout=0.4),
        latent_distribution="uniform",
    )
    gan.compile(
        d_optimizer=keras.optimizers.RMSprop(2e-4),
        g_optimizer=keras.optimizers.RMSprop(1e-4),
        label_policy=kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3)),
    )
    gan.fit(
        images,
        batch_size=batch_size,
        epochs=epochs,
        verbose=2,
        callbacks=[
            # The GAN's own instance noise, 0.3 decaying to 0 over the fit.
            kgt.callbacks.InstanceNoiseDecay(initial=0.3, final=0.0),
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), n=64, scale=2),
        ],
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
