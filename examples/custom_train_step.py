"""The tricks inside your own `train_step`, without `kgt.GAN`.

A GAN written as the Keras guide does (a `keras.Model` with its own
`train_step` and TensorFlow's GradientTape, so TensorFlow only), borrowing
kgt's loss, label policy, penalty and instance-noise layer, and driven by
kgt's callbacks. Trained on the 8-Gaussian ring; reports PacGAN's mode
coverage. `custom_train_step_jax.py` and `custom_train_step_torch.py` write
the same step for JAX and PyTorch.

    python examples/custom_train_step.py --epochs 20
    python examples/custom_train_step.py --smoke
"""

import argparse
import os

import keras
import tensorflow as tf

import keras_gan_tricks as kgt

LATENT_DIM = 2


class MyGAN(keras.Model):
    def __init__(self, generator, discriminator):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(0)
        self.gan_loss = kgt.losses.NonSaturating()
        self.label_policy = kgt.labels.OneSidedSmoothing(0.1)
        self.penalty = kgt.penalties.R1(gamma=0.1)
        self.built = True

    def compile(self, d_optimizer, g_optimizer):
        super().compile(optimizer=g_optimizer)  # `optimizer` counts the steps
        self.d_optimizer = d_optimizer
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.optimizer.build(self.generator.trainable_variables)

    def train_step(self, real):
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        fake = self.generator(z, training=True)
        real_labels, fake_labels = self.label_policy(
            tf.ones((batch,)), tf.zeros((batch,)), seed=self.seed_generator
        )
        with tf.GradientTape() as tape:
            d_loss = self.gan_loss.discriminator_loss(
                self.discriminator(real, training=True),
                self.discriminator(fake, training=True),
                real_labels,
                fake_labels,
            )
            penalty = self.penalty(
                lambda x: self.discriminator(x, training=True), real, fake
            )
            total = d_loss + penalty
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(
            zip(tape.gradient(total, d_vars), d_vars, strict=True)
        )

        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.gan_loss.generator_loss(
                self.discriminator(self.generator(z, training=True), training=True)
            )
        g_vars = self.generator.trainable_variables
        self.optimizer.apply_gradients(
            zip(tape.gradient(g_loss, g_vars), g_vars, strict=True)
        )
        # Each batch's own adversarial losses: what DiscriminatorLRBalancer reads.
        return {"d_loss": d_loss, "g_loss": g_loss, "penalty": penalty}


def build_networks(width):
    """PacGAN-style MLPs for the ring, three hidden layers of `width` units."""
    generator = kgt.architectures.mlp_generator(
        LATENT_DIM, width=width, depth=3, batch_norm=False
    )
    discriminator = kgt.architectures.mlp_discriminator(
        width=width, depth=3, instance_noise=0.1
    )
    return generator, discriminator


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="out/custom_train_step")
    parser.add_argument("--smoke", action="store_true", help="a tiny run, for tests")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit(
            "This example's train_step uses tf.GradientTape: run it with "
            "KERAS_BACKEND=tensorflow (kgt.GAN itself runs on every backend)."
        )
    os.makedirs(args.out, exist_ok=True)

    points, centers = kgt.datasets.gaussian_ring(n=512 if args.smoke else 50_000)
    epochs, width = (1, 16) if args.smoke else (args.epochs, 128)
    model = MyGAN(*build_networks(width))
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
    )
    steps = epochs * len(points) // 100
    floor = model.gan_loss.discriminator_floor([0.9], [0.0])  # one-sided smoothing 0.1
    model.fit(
        points,
        batch_size=100,
        epochs=epochs,
        verbose=2,
        callbacks=[
            kgt.callbacks.InstanceNoiseDecay(
                initial=0.1, final=0.0, steps=max(1, steps // 2)
            ),
            kgt.callbacks.DiscriminatorLRBalancer(
                optimizer=model.d_optimizer, floor=floor
            ),
        ],
    )
    z = keras.random.normal((2500, LATENT_DIM), seed=1)
    samples = keras.ops.convert_to_numpy(model.generator(z))
    print(
        "mode coverage:",
        kgt.evaluation.mode_coverage(samples, centers, kgt.datasets.RING_STD),
    )
    model.generator.save(os.path.join(args.out, "generator.keras"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
