"""A DCGAN for 32x32x3 SVHN digits with batch norm, Adam and one-sided smoothing.

The SVHN/MNIST DCGAN tutorial's recipe: batch normalization in both
networks, Adam(2e-4, beta_1=0.5), real labels smoothed to 0.9. SVHN comes
from tensorflow-datasets (`pip install tensorflow-datasets`; it downloads).

    python examples/dcgan_svhn.py --epochs 25
    python examples/dcgan_svhn.py --smoke
"""

import os
import sys

import keras

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402


def load_svhn():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise SystemExit(
            "SVHN needs tensorflow-datasets: pip install tensorflow-datasets "
            "(or try --smoke)."
        ) from None
    images = tfds.as_numpy(tfds.load("svhn_cropped", split="train", batch_size=-1))[
        "image"
    ]
    return (images.astype("float32") / 127.5 - 1.0).astype("float32")


def main(argv=None):
    args = _example.parse_args(argv, __doc__, epochs=25, out="out/svhn")
    if args.smoke:
        images, filters = _example.smoke_images(32, (32, 32, 3)), 8
    else:
        images, filters = load_svhn(), 64

    shape = (32, 32, 3)
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(
            100, shape, base_filters=filters, batch_norm=True
        ),
        kgt.architectures.dcgan_discriminator(
            shape, base_filters=filters, batch_norm=True, dropout=0.0
        ),
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        label_policy=kgt.labels.OneSidedSmoothing(0.1),
    )
    gan.fit(
        images,
        batch_size=16 if args.smoke else 128,
        epochs=args.epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), n=36, scale=2)
        ],
    )
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
