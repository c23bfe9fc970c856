"""WGAN-GP on the embedded digits: Wasserstein loss, gradient penalty, 5 critic steps.

Gulrajani et al. 2017: the critic (no sigmoid, no batch norm) is trained five
times per generator step with a gradient penalty of weight 10 on
real/fake interpolates; Adam(1e-4, beta_1=0.5, beta_2=0.9).

    python examples/wgan_gp.py --epochs 100
    python examples/wgan_gp.py --smoke
"""

import argparse
import os

import keras

import keras_gan_tricks as kgt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="out/wgan_gp")
    parser.add_argument("--smoke", action="store_true", help="a tiny run, for tests")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    images, _ = kgt.datasets.digits()
    epochs = args.epochs
    if args.smoke:
        images, epochs = images[:64], 1

    shape = (8, 8, 1)
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(64, shape),
        kgt.architectures.dcgan_discriminator(shape, stages=2, dropout=0.0),
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        loss="wasserstein",
        penalty=kgt.penalties.GradientPenalty(weight=10.0),
        d_steps=5,
    )
    gan.fit(
        images,
        batch_size=64,
        epochs=epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), every=10, scale=4)
        ],
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
