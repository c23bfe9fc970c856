"""Your own images, start to finish: a folder in, a generator, pictures and figures out.

The recommended path: `kgt.datasets.image_folder` streams the folder from
disk; the DCGAN builders (or the residual pair, `--arch resnet`) fit its
size; `kgt.recipes.auto` compiles the GAN with the tricks measured
for images; a classifier trained on the folder's class subfolders gives the
figures (Keras's InceptionV3 without subfolders, when its weights can be
had); `BackupAndRestore` makes a killed run resume when run again; the
averaged generator is exported alone for `keras.saving.load_model`.

    python examples/own_images.py --data photos/ --image-size 64 --epochs 30
    python examples/own_images.py             # on 32-px digits it writes first
    python examples/own_images.py --smoke     # one epoch on 120 small digits

Without `--data`, the example writes scikit-learn's digits as 32x32 colour
PNGs in class subfolders under `OUT/digits`, so that it runs anywhere.
"""

import os
import sys

import keras
import numpy as np
from PIL import Image

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402


def add_arguments(parser):
    parser.add_argument("--data", default=None, help="a folder of images")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--arch", choices=("dcgan", "resnet"), default="dcgan")
    parser.add_argument("--seed", type=int, default=0)


def write_digits(folder, n, size):
    """The first `n` digits as `size`-pixel colour PNGs in class subfolders."""
    images, labels = kgt.datasets.digits()
    for i in range(n):
        pixels = np.round((images[i, ..., 0] + 1.0) * 127.5).astype("uint8")
        tint = np.stack([pixels, pixels // (1 + labels[i] % 3), pixels // 2], -1)
        os.makedirs(os.path.join(folder, str(labels[i])), exist_ok=True)
        picture = Image.fromarray(tint.astype("uint8")).resize((size, size))
        picture.save(os.path.join(folder, str(labels[i]), f"{i:05d}.png"))
    return folder


def figures_extractor(folder, size):
    """The real images as arrays and the network to measure with: a
    classifier of the class subfolders, else InceptionV3, else None."""
    try:
        real, labels = kgt.datasets.image_folder(
            folder, image_size=size, labels="inferred", as_arrays=True
        )
        return real, kgt.evaluation.image_classifier(real, labels)
    except ValueError as error:  # no subfolders, or an untrusted classifier
        print(f"no classifier of the labels: {error}")
    real = kgt.datasets.image_folder(folder, image_size=size, as_arrays=True)
    try:
        return real, kgt.evaluation.inception_v3()
    except kgt.evaluation.WeightsUnavailableError as error:
        print(f"no figures: {error}")
        return real, None


def networks(arch, shape, latent_dim, smoke):
    filters = 8 if smoke else 64
    if arch == "resnet":
        return (
            kgt.architectures.resnet_generator(latent_dim, shape, base_filters=filters),
            kgt.architectures.resnet_discriminator(shape, base_filters=filters),
        )
    return (
        kgt.architectures.dcgan_generator(latent_dim, shape, base_filters=filters),
        kgt.architectures.dcgan_discriminator(shape, base_filters=filters),
    )


def main(argv=None):
    args = _example.parse_args(
        argv, __doc__, epochs=30, out="out/own_images", extra=add_arguments
    )
    size = 16 if args.smoke else args.image_size
    folder = args.data or write_digits(
        os.path.join(args.out, "digits"), 120 if args.smoke else 1797, size
    )
    keras.utils.set_random_seed(args.seed)

    # The folder, streamed from disk in a new order each epoch ([-1, 1]).
    images = kgt.datasets.image_folder(
        folder, image_size=size, batch_size=32 if args.smoke else 64, seed=args.seed
    )
    shape = tuple(images.element_spec.shape[1:])
    gan = kgt.GAN(*networks(args.arch, shape, 64, args.smoke), seed=args.seed)
    # The default: the tricks measured for the folder's kind and size.
    gan = kgt.recipes.auto(gan, data=images, steps=args.epochs * len(images))

    real, extractor = figures_extractor(folder, size)
    callbacks = [
        # Killed or out of time? Run the same command again: it resumes.
        keras.callbacks.BackupAndRestore(os.path.join(args.out, "backup")),
        kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), scale=4),
    ]
    if extractor is not None:  # KID, precision, recall... in each epoch's logs
        callbacks.append(
            kgt.callbacks.QualityMonitor(real, extractor, samples=min(len(real), 1000))
        )
    history = gan.fit(images, epochs=args.epochs, callbacks=callbacks, verbose=2)

    # The averaged generator alone, and what it draws.
    gan.export_generator(os.path.join(args.out, "generator.keras"))
    samples = gan.generate(64, seed=args.seed)
    kgt.images.save_image_grid(samples, os.path.join(args.out, "samples.png"), scale=4)
    if extractor is not None:
        fake = gan.generate(len(real), seed=args.seed + 1)
        fd = kgt.evaluation.frechet_distance_from_features(
            kgt.evaluation.features(real, extractor),
            kgt.evaluation.features(fake, extractor),
        )
        print(f"FD {fd:.2f}; last epoch's KID {history.history['quality_kid'][-1]:.4g}")
    print(f"wrote {args.out}/generator.keras, samples.png and grids/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
