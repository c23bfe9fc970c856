"""Every trick inside a user's own `keras.Model.train_step`, without kgt.GAN."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gan_tricks as kgt
from tests.nets import mlp_discriminator, mlp_generator

SMOOTHING = 0.1

# The hand-written step takes gradients with tf.GradientTape, as Keras's
# TensorFlow guide does; kgt.GAN's own step is tested on every backend.
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="a TensorFlow train_step (tf.GradientTape), by design",
)


class HandWrittenGAN(keras.Model):
    """A GAN as the Keras guide writes it, using kgt's pieces for the tricks."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(0)
        self.gan_loss = kgt.losses.NonSaturating()
        self.label_policy = kgt.labels.compose(
            kgt.labels.OneSidedSmoothing(SMOOTHING), kgt.labels.RandomFlip(0.01)
        )
        self.penalty = kgt.penalties.R1(gamma=0.1)
        self.built = True

    def compile(self, d_optimizer, g_optimizer):
        super().compile(optimizer=g_optimizer)
        self.d_optimizer = d_optimizer
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.optimizer.build(self.generator.trainable_variables)

    def call(self, z):
        return self.generator(z)

    def train_step(self, real):
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
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
                lambda x: self.discriminator(x, training=True),
                real,
                fake,
                seed=self.seed_generator,
            )
            total = d_loss + penalty
        variables = self.discriminator.trainable_variables
        gradients = tape.gradient(total, variables)
        self.d_optimizer.apply_gradients(zip(gradients, variables, strict=True))
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.gan_loss.generator_loss(
                self.discriminator(self.generator(z, training=True), training=True)
            )
        variables = self.generator.trainable_variables
        self.optimizer.apply_gradients(
            zip(tape.gradient(g_loss, variables), variables, strict=True)
        )
        # The batch's own adversarial losses, which DiscriminatorLRBalancer reads.
        return {"d_loss": d_loss, "g_loss": g_loss, "penalty": penalty}


@pytest.mark.slow
def test_all_tricks_in_a_hand_written_train_step(tmp_path):
    noise = kgt.layers.InstanceNoise(0.5)
    discriminator = keras.Sequential(
        [keras.Input((2,)), noise, mlp_discriminator(width=32)]
    )
    model = HandWrittenGAN(mlp_generator(), discriminator, latent_dim=4)
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-6, beta_1=0.5),
    )
    # D's best loss under the label policy: the targets' entropy.
    targets = model.label_policy(np.ones(8192), np.zeros(8192), seed=0)
    floor = model.gan_loss.discriminator_floor(
        *(keras.ops.convert_to_numpy(t) for t in targets)
    )
    balancer = kgt.callbacks.DiscriminatorLRBalancer(
        optimizer=model.d_optimizer, floor=floor, patience=20, min_lr=1e-3, verbose=0
    )
    ema = kgt.callbacks.GeneratorEMA(0.9)
    grid_dir = tmp_path / "grids"

    class PointsAsImages(kgt.callbacks.SampleGrid):
        def sample(self):
            return super().sample().reshape(-1, 1, 2, 1)

    rng = np.random.default_rng(0)
    data = (
        3 * np.sign(rng.standard_normal((2048, 1)))
        + 0.1 * rng.standard_normal((2048, 2))
    ).astype("float32")
    history = model.fit(
        data,
        batch_size=64,
        epochs=5,
        verbose=0,
        callbacks=[
            kgt.callbacks.InstanceNoiseDecay(initial=0.5, final=0.0, steps=100),
            balancer,
            ema,
            PointsAsImages(grid_dir, n=8),
        ],
    )
    assert np.all(np.isfinite(history.history["d_loss"])), history.history
    assert float(noise.stddev) == 0.0  # decayed from the model's optimizer steps
    assert history.history["noise_stddev"][0] == pytest.approx(0.5 * (1 - 31 / 100))
    assert balancer.changes, (floor, history.history)
    assert balancer.current_lr() < 1e-2
    assert history.history["d_lr"][-1] == pytest.approx(balancer.current_lr())
    averaged = ema.ema_generator.get_weights()
    assert not all(
        np.allclose(a, b)
        for a, b in zip(averaged, model.generator.get_weights(), strict=True)
    )
    assert sorted(os.listdir(grid_dir)) == [f"epoch_000{i}.png" for i in range(1, 6)]
