"""The tricks inside your own `train_step` on PyTorch, without `kgt.GAN`.

The same GAN as `custom_train_step.py`, written as Keras's guide
"Customizing what happens in `fit()` with PyTorch" writes a `train_step`:
`loss.backward()` and `optimizer.apply(...)`, one optimizer per network. kgt
supplies the loss, the label policy, the R1 penalty (its input gradient
taken with `torch.autograd.grad`, kept differentiable for D's update) and
the instance noise; kgt's callbacks decay the noise and balance D's rate.
Trained on the 8-Gaussian ring; reports PacGAN's mode coverage. The command
line, the data and the report come from `_example.py` beside this file: copy
both.

    KERAS_BACKEND=torch python examples/custom_train_step_torch.py --epochs 20
    KERAS_BACKEND=torch python examples/custom_train_step_torch.py --smoke
"""

import os
import sys

import keras
from keras import ops

import keras_gan_tricks as kgt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _example.py
import _example  # noqa: E402

LATENT_DIM = 2


class MyGAN(keras.Model):
    def __init__(self, generator, discriminator):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        # Noise on every sample D sees, real and fake (decayed by a callback).
        self.instance_noise = kgt.layers.InstanceNoise(0.1, seed=1)
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

    def discriminate(self, x):
        return self.discriminator(self.instance_noise(x, training=True), training=True)

    def _apply(self, optimizer, loss, variables):
        import torch

        self.zero_grad()
        loss.backward()
        gradients = [v.value.grad for v in variables]
        with torch.no_grad():
            optimizer.apply(gradients, variables)

    def train_step(self, real):
        batch = ops.shape(real)[0]
        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        fake = ops.stop_gradient(self.generator(z, training=True))
        real_labels, fake_labels = self.label_policy(
            ops.ones((batch,)), ops.zeros((batch,)), seed=self.seed_generator
        )
        d_loss = self.gan_loss.discriminator_loss(
            self.discriminate(real), self.discriminate(fake), real_labels, fake_labels
        )
        # R1 on the clean real samples: the penalty takes the input gradient
        # with torch.autograd.grad(create_graph=True), so D's update sees it.
        penalty = self.penalty(
            lambda x: self.discriminator(x, training=True), real, fake
        )
        self._apply(
            self.d_optimizer, d_loss + penalty, self.discriminator.trainable_weights
        )

        z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
        g_loss = self.gan_loss.generator_loss(
            self.discriminate(self.generator(z, training=True))
        )
        self._apply(self.optimizer, g_loss, self.generator.trainable_weights)
        # Each batch's own adversarial losses: what DiscriminatorLRBalancer reads.
        logs = {"d_loss": d_loss, "g_loss": g_loss, "penalty": penalty}
        return {name: ops.stop_gradient(value) for name, value in logs.items()}


def build_networks(width):
    """PacGAN-style MLPs for the ring, three hidden layers of `width` units."""
    generator = kgt.architectures.mlp_generator(
        LATENT_DIM, width=width, depth=3, batch_norm=False
    )
    discriminator = kgt.architectures.mlp_discriminator(width=width, depth=3)
    return generator, discriminator


def main(argv=None):
    args = _example.parse_args(
        argv,
        __doc__,
        epochs=20,
        out="out/custom_train_step_torch",
        backend=("torch", "loss.backward()"),
    )

    points, centers = _example.ring(args)
    width = 16 if args.smoke else 128
    model = MyGAN(*build_networks(width))
    model.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
    )
    floor = model.gan_loss.discriminator_floor([0.9], [0.0])  # one-sided smoothing 0.1
    model.fit(
        points,
        batch_size=100,
        epochs=args.epochs,
        verbose=2,
        callbacks=[
            # 0.1 at the first step, 0 at the last: the layer's stddev.
            kgt.callbacks.InstanceNoiseDecay(initial=0.1, final=0.0),
            kgt.callbacks.DiscriminatorLRBalancer(
                optimizer=model.d_optimizer, floor=floor
            ),
        ],
    )
    _example.report_mode_coverage(model.generator, centers, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
