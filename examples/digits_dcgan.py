"""Train a DCGAN on scikit-learn's bundled 8x8 handwritten digits, with the tricks.

No download needed: the 1,797 digits ship with scikit-learn. The networks come
from `kgt.architectures`; training composes one-sided label smoothing,
instance noise decaying to zero, the discriminator learning-rate balancer, a
moving average of the generator and a sample grid per epoch in one `fit`
call. The script saves the model as `.keras` and checks that it reloads.

    python examples/digits_dcgan.py --epochs 60 --out out/digits
    python examples/digits_dcgan.py --smoke      # a few seconds, for CI
"""

import argparse
import os
import time

import keras
import numpy as np
from sklearn.datasets import load_digits

import keras_gan_tricks as kgt

LATENT_DIM = 64
IMAGE_SHAPE = (8, 8, 1)


def load_images():
    """The digits as float32 (n, 8, 8, 1) in [-1, 1] (raw pixels are 0..16)."""
    images = load_digits().images.astype("float32")
    return (images / 8.0 - 1.0)[..., None]


def build_gan(seed):
    generator = kgt.architectures.dcgan_generator(
        LATENT_DIM, IMAGE_SHAPE, base_filters=64
    )
    discriminator = kgt.architectures.dcgan_discriminator(
        IMAGE_SHAPE, base_filters=64, stages=2, dropout=0.3
    )
    kgt.architectures.check_architecture(generator, discriminator)
    return kgt.GAN(
        generator, discriminator, latent_dim=LATENT_DIM, instance_noise=0.2, seed=seed
    )


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
        images, epochs = images[:128], 2
    steps = epochs * int(np.ceil(len(images) / args.batch_size))

    gan = build_gan(args.seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss="non_saturating",
        label_policy=kgt.labels.OneSidedSmoothing(0.1),
    )
    grids = kgt.callbacks.SampleGrid(os.path.join(args.out, "grids"), n=64, scale=4)
    start = time.time()
    gan.fit(
        images,
        batch_size=args.batch_size,
        epochs=epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.InstanceNoiseDecay(initial=0.2, final=0.0, steps=steps // 2),
            kgt.callbacks.DiscriminatorLRBalancer(),
            kgt.callbacks.GeneratorEMA(decay=0.99),
            grids,
        ],
    )
    seconds = time.time() - start

    grid_path = os.path.join(args.out, "samples.png")
    real_path = os.path.join(args.out, "real.png")
    model_path = os.path.join(args.out, "gan.keras")
    samples = gan.generate(64, seed=args.seed)
    kgt.images.save_image_grid(samples, grid_path, columns=8, scale=4)
    kgt.images.save_image_grid(images[:64], real_path, columns=8, scale=4)
    gan.save(model_path)
    reloaded = keras.saving.load_model(model_path)
    same = np.allclose(reloaded.generate(64, seed=args.seed), samples, atol=1e-6)
    print(f"trained {epochs} epochs in {seconds:.0f} s")
    print(f"samples: {grid_path} (real digits beside them: {real_path})")
    print(f"progress: one grid per epoch in {grids.directory}")
    print(f"model:   {model_path} (reloaded, same samples: {same})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
