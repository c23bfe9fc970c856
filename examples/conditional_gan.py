"""A class-conditional GAN on the embedded digits: labels go to both networks.

`kgt.GAN` sees that the generator takes `[z, label]` and feeds each batch's
labels to the generator and to the discriminator (`[image, label]`). After
training, row k of `by_class.png` holds samples asked to be digit k.

    python examples/conditional_gan.py --epochs 100
    python examples/conditional_gan.py --smoke
"""

import os
import sys

import keras
import numpy as np

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402

LATENT_DIM = 32
CLASSES = 10


def build_generator():
    z = keras.Input((LATENT_DIM,), name="z")
    label = keras.Input((1,), dtype="int32", name="label")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(CLASSES, 16)(label))
    x = keras.layers.Concatenate()([z, embedded])
    x = keras.layers.Dense(4 * 4 * 64)(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((4, 4, 64))(x)
    x = keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    image = keras.layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    return keras.Model([z, label], image, name="generator")


def build_discriminator():
    image = keras.Input((8, 8, 1), name="image")
    label = keras.Input((1,), dtype="int32", name="label")
    # The label as an extra 8x8 channel.
    plane = keras.layers.Reshape((8, 8, 1))(
        keras.layers.Dense(64)(
            keras.layers.Flatten()(keras.layers.Embedding(CLASSES, 16)(label))
        )
    )
    x = keras.layers.Concatenate()([image, plane])
    x = keras.layers.Conv2D(64, 4, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(128, 4, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model([image, label], keras.layers.Dense(1)(x), name="discriminator")


def main(argv=None):
    args = _example.parse_args(argv, __doc__, epochs=100, out="out/conditional")
    images, labels = _example.digits(args)

    gan = kgt.GAN(build_generator(), build_discriminator(), seed=0)
    gan.compile(label_policy=kgt.labels.OneSidedSmoothing(0.1))
    gan.fit(images, labels[:, None], batch_size=64, epochs=args.epochs, verbose=2)

    wanted = np.repeat(np.arange(CLASSES), 10)
    samples = gan.generate(len(wanted), seed=0, labels=wanted)
    path = kgt.images.save_image_grid(
        samples, os.path.join(args.out, "by_class.png"), columns=10, scale=4
    )
    if not args.smoke:
        predicted = kgt.evaluation.digits_classifier().predict(samples)
        print(
            f"samples classified as the asked-for digit: {(predicted == wanted).mean():.1%}"
        )
    print(f"wrote {path}")
    gan.save(os.path.join(args.out, "gan.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
