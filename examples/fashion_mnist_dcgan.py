"""A Fashion-MNIST DCGAN that lowers D's learning rate when its loss collapses.

The slides' advice, "if the discriminator loss falls to zero while the
adversarial loss rises, reduce the discriminator's learning rate", as
`kgt.callbacks.DiscriminatorLRBalancer`, beside one-sided label smoothing.

    python examples/fashion_mnist_dcgan.py --epochs 30     # downloads Fashion-MNIST
    python examples/fashion_mnist_dcgan.py --smoke
"""

import os
import sys

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402


def main(argv=None):
    args = _example.parse_args(argv, __doc__, epochs=30, out="out/fashion_mnist")
    if args.smoke:
        images, filters, batch_size = _example.smoke_images(32, (28, 28, 1)), 8, 16
    else:
        images, filters, batch_size = kgt.datasets.fashion_mnist()[0], 64, 128

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
        epochs=args.epochs,
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
