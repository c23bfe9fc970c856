"""Writes `gan_0_2_0.keras`, `gan_0_2_0_samples.npy`, `gan_0_2_0_raw_samples.npy`
and `gan_0_2_0_state.json`: a small image GAN saved by keras-gan-tricks 0.2
(commit 038f934) with the 0.2 tricks (adaptive instance noise, adaptive
augmentation, the balancer, the generator's average, R1 and R2 as a list,
the relativistic pairing loss), which every later version must keep loading
(tests/test_compat.py). Kept to show how the file was made; do not rerun it
on a newer version (the file must stay a 0.2 file).

    KERAS_BACKEND=tensorflow python tests/data/make_gan_0_2_0.py
"""

import json
import os

import keras
import numpy as np

import keras_gan_tricks as kgt

HERE = os.path.dirname(os.path.abspath(__file__))


def networks():
    generator = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(4 * 4 * 8),
            keras.layers.BatchNormalization(),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Reshape((4, 4, 8)),
            keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same"),
            keras.layers.Activation("tanh"),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    return generator, discriminator


def data():
    rng = np.random.default_rng(0)
    return np.tanh(rng.normal(size=(128, 8, 8, 1))).astype("float32")


def trick_state(gan):
    """The saved tricks' state, as plain floats."""
    noise, augment, balancer = gan.tricks[:3]
    return {
        "noise_stddev": float(noise.stddev),
        "noise_feedback": [
            float(v) for v in keras.ops.convert_to_numpy(noise.feedback)
        ],
        "augment_p": float(augment.probability),
        "augment_signs": [float(v) for v in keras.ops.convert_to_numpy(augment.signs)],
        "balancer": gan.trick_states["lr_balancer"].read(),
        "balancer_control": gan.trick_states["lr_balancer_control"].read(),
        "d_lr": float(keras.ops.convert_to_numpy(gan.d_optimizer.learning_rate)),
        "steps": int(gan.g_optimizer.iterations),
    }


def main():
    keras.utils.set_random_seed(0)
    generator, discriminator = networks()
    gan = kgt.GAN(generator, discriminator, seed=5)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        loss="relativistic_pairing",
        penalty=[kgt.penalties.R1(0.5), kgt.penalties.R2(0.5)],
        tricks=[
            kgt.layers.AdaptiveInstanceNoise(
                target=0.1, interval=2, speed=2000, initial=0.05, seed=1
            ),
            kgt.augment.AdaptiveAugment(
                policy=("translation",),
                target=0.1,
                interval=2,
                speed=3000,
                signal="ranking",
                seed=2,
            ),
            kgt.tricks.DiscriminatorLRBalancer(
                patience=2, warmup=0, target=0.6, recover_below=0.55
            ),
            kgt.tricks.GeneratorEMA(0.9),
        ],
    )
    gan.fit(data(), batch_size=32, epochs=3, verbose=0)
    gan.save(os.path.join(HERE, "gan_0_2_0.keras"))
    np.save(os.path.join(HERE, "gan_0_2_0_samples.npy"), gan.generate(8, seed=0))
    np.save(
        os.path.join(HERE, "gan_0_2_0_raw_samples.npy"),
        gan.generate(8, seed=0, use_ema=False),
    )
    state = trick_state(gan)
    with open(os.path.join(HERE, "gan_0_2_0_state.json"), "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    print("version", kgt.__version__, state)


if __name__ == "__main__":
    main()
