"""A Fashion-MNIST DCGAN that lowers D's learning rate when its loss collapses.

The slides' advice, "if the discriminator loss falls to zero while the
adversarial loss rises, reduce the discriminator's learning rate", as
`kgt.callbacks.DiscriminatorLRBalancer`, beside one-sided label smoothing.

    python examples/fashion_mnist_dcgan.py --epochs 30     # downloads Fashion-MNIST
    python examples/fashion_mnist_dcgan.py --smoke
"""

import argparse
import os

import numpy as np

import keras_gan_tricks as kgt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="out/fashion_mnist")
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
        images, _ = kgt.datasets.fashion_mnist()
        epochs, filters, batch_size = args.epochs, 64, 128

    shape = (28, 28, 1)
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(128, shape, base_filters=filters),
        kgt.architectures.dcgan_discriminator(shape, base_filters=filters, dropout=0.3),
    )
    gan.compile(label_policy=kgt.labels.OneSidedSmoothing(0.1))
    balancer = kgt.callbacks.DiscriminatorLRBalancer(
        collapse_below=0.1, patience=50, min_lr=1e-6
    )
    gan.fit(
        images,
        batch_size=batch_size,
        epochs=epochs,
        verbose=2,
        callbacks=[
            balancer,
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), scale=2),
        ],
    )
    print(
        f"D learning rate changes: {len(balancer.changes)}; now {balancer.current_lr():.3g}"
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
