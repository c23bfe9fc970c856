"""WGAN-GP on the embedded digits: Wasserstein loss, gradient penalty, 5 critic steps.

Gulrajani et al. 2017: the critic (no sigmoid, no batch norm) is trained five
times per generator step with a gradient penalty of weight 10 on
real/fake interpolates; Adam(1e-4, beta_1=0.5, beta_2=0.9).

    python examples/wgan_gp.py --epochs 100
    python examples/wgan_gp.py --smoke
"""

import os
import sys

import keras

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402


def main(argv=None):
    args = _example.parse_args(argv, __doc__, epochs=100, out="out/wgan_gp")
    images, _ = _example.digits(args)

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
        epochs=args.epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), every=10, scale=4)
        ],
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
