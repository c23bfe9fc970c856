"""Train a DCGAN on scikit-learn's bundled 8x8 handwritten digits.

No download needed: the 1,797 digits ship with scikit-learn. The script
trains `kgt.GAN` with one-sided label smoothing, saves a PNG grid of
samples, the model as `.keras`, and checks that the saved model loads and
generates the same samples.

    python examples/digits_dcgan.py --epochs 60 --out out/digits
    python examples/digits_dcgan.py --smoke      # a few seconds, for CI
"""

import argparse
import os
import time

import keras
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import keras_gan_tricks as kgt

LATENT_DIM = 64


def load_images():
    """The digits as float32 (n, 8, 8, 1) in [-1, 1] (raw pixels are 0..16)."""
    images = load_digits().images.astype("float32")
    return (images / 8.0 - 1.0)[..., None]


def build_generator():
    z = keras.Input((LATENT_DIM,))
    x = keras.layers.Dense(2 * 2 * 128)(z)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((2, 2, 128))(x)
    for filters in (128, 64):
        # Kernel 4 with stride 2: divisible, so no checkerboard artifacts.
        x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    return keras.Model(z, x, name="generator")


def build_discriminator():
    image = keras.Input((8, 8, 1))
    x = image
    for filters in (64, 128):
        x = keras.layers.Conv2D(filters, 4, strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    logit = keras.layers.Dense(1)(x)
    return keras.Model(image, logit, name="discriminator")


def save_grid(images, path, columns=8, scale=4):
    """Tiles images in [-1, 1] into one PNG, each scaled up `scale` times."""
    images = np.clip((images[..., 0] + 1.0) * 127.5, 0, 255).astype("uint8")
    rows = int(np.ceil(len(images) / columns))
    h, w = images.shape[1:3]
    grid = np.zeros((rows * (h + 1) + 1, columns * (w + 1) + 1), "uint8")
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[
            1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w
        ] = image
    picture = Image.fromarray(grid).resize(
        (grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST
    )
    picture.save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default="out/digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run for tests")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    images = load_images()
    epochs = args.epochs
    if args.smoke:
        images, epochs = images[:128], 1
    os.makedirs(args.out, exist_ok=True)

    gan = kgt.GAN(
        build_generator(), build_discriminator(), latent_dim=LATENT_DIM, seed=args.seed
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss="non_saturating",
        label_policy=kgt.labels.OneSidedSmoothing(0.1),
    )
    start = time.time()
    gan.fit(images, batch_size=args.batch_size, epochs=epochs, verbose=2)
    seconds = time.time() - start

    grid_path = os.path.join(args.out, "samples.png")
    model_path = os.path.join(args.out, "gan.keras")
    samples = gan.generate(64, seed=args.seed)
    save_grid(samples, grid_path)
    save_grid(images[:64], os.path.join(args.out, "real.png"))
    gan.save(model_path)
    reloaded = keras.saving.load_model(model_path)
    same = np.allclose(reloaded.generate(64, seed=args.seed), samples, atol=1e-6)
    print(f"trained {epochs} epochs in {seconds:.0f} s")
    print(
        f"samples: {grid_path} (real digits beside them: {os.path.join(args.out, 'real.png')})"
    )
    print(f"model:   {model_path} (reloaded, same samples: {same})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
