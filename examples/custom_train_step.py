"""The tricks inside your own `train_step`, without `kgt.GAN`.

A GAN written as the Keras guide does (a `keras.Model` with its own
`train_step` and TensorFlow's GradientTape, so TensorFlow only), borrowing
kgt's loss, label policy, penalty and instance-noise layer, and driven by
kgt's callbacks. Trained on the 8-Gaussian ring; reports PacGAN's mode
coverage. `custom_train_step_jax.py` and `custom_train_step_torch.py` write
the same step for JAX and PyTorch. The command line, the data and the report
come from `_example.py` beside this file: copy both.

    python examples/custom_train_step.py --epochs 20
    python examples/custom_train_step.py --smoke
"""

import os
import sys

import keras
import tensorflow as tf

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402

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
    args = _example.parse_args(
        argv,
        __doc__,
        epochs=20,
        out="out/custom_train_step",
        backend=("tensorflow", "tf.GradientTape"),
    )

    points, centers = _example.ring(args)
    width = 16 if args.smoke else 128
    model = MyGAN(*build_networks(width))
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
    )
    steps = args.epochs * len(points) // 100
    floor = model.gan_loss.discriminator_floor([0.9], [0.0])  # one-sided smoothing 0.1
    model.fit(
        points,
        batch_size=100,
        epochs=args.epochs,
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
    _example.report_mode_coverage(model.generator, centers, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
