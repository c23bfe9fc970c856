"""The slides' Keras MNIST GAN: RMSprop, a uniform latent, noisy labels, decaying noise.

Latent vectors of 100 drawn from U(-1, 1), RMSprop at 2e-4 for the
discriminator and 1e-4 for the generator, noisy labels (real U(0.7, 1.2),
fake U(0, 0.3)), and instance noise on the discriminator's inputs decaying to
zero: the tricks the slides list, in one `fit` call.

    python examples/mnist_gan_rmsprop.py --epochs 20       # downloads MNIST
    python examples/mnist_gan_rmsprop.py --smoke
"""

import os
import sys

import keras

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402


def main(argv=None):
    args = _example.parse_args(argv, __doc__, epochs=20, out="out/mnist_rmsprop")
    if args.smoke:
        images, filters, batch_size = _example.smoke_images(32, (28, 28, 1)), 8, 16
    else:
        images, filters, batch_size = kgt.datasets.mnist()[0], 64, 256

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
        epochs=args.epochs,
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
