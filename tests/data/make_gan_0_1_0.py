"""Writes `gan_0_1_0.keras` and `gan_0_1_0_samples.npy`: a small GAN saved
by keras-gan-tricks 0.1.0 (commit 2b11598), which every later version must
keep loading (tests/test_compat.py). Kept to show how the file was made; do
not rerun it on a newer version (the file must stay a 0.1.0 file).

    KERAS_BACKEND=tensorflow python tests/data/make_gan_0_1_0.py
"""

import os

import keras
import numpy as np

import keras_gan_tricks as kgt

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(2),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    gan = kgt.GAN(generator, discriminator, instance_noise=0.2, seed=3)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        label_policy=kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3)),
        penalty=kgt.penalties.R1(gamma=0.5),
        d_steps=2,
    )
    rng = np.random.default_rng(0)
    data = rng.normal(size=(256, 2)).astype("float32")
    balancer = kgt.callbacks.DiscriminatorLRBalancer(patience=2, verbose=0)
    gan.fit(
        data,
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[
            kgt.callbacks.InstanceNoiseDecay(initial=0.2, final=0.05, steps=100),
            kgt.callbacks.GeneratorEMA(decay=0.9),
            balancer,
        ],
    )
    gan.save(os.path.join(HERE, "gan_0_1_0.keras"))
    np.save(os.path.join(HERE, "gan_0_1_0_samples.npy"), gan.generate(8, seed=0))
    np.save(
        os.path.join(HERE, "gan_0_1_0_raw_samples.npy"),
        gan.generate(8, seed=0, use_ema=False),
    )
    print("version", kgt.__version__, "steps", int(gan.g_optimizer.iterations))
    print("balancer state", {n: balancer._state[n] for n in balancer._STATE})


if __name__ == "__main__":
    main()
