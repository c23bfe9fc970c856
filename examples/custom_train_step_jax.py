"""The tricks inside your own `train_step` on JAX, without `kgt.GAN`.

The same GAN as `custom_train_step.py`, written as Keras's guide
"Customizing what happens in `fit()` with JAX" writes a `train_step`: a pure
function of the state `fit` hands it (`jax.value_and_grad` over the
variables' values, `stateless_apply` for each network's optimizer), one
optimizer per network. kgt supplies the loss, the label policy, the R1
penalty (its input gradient taken with `jax.grad`, itself differentiated for
D's update: what `keras.ops` lacks) and the instance noise; kgt's callbacks
decay the noise and balance D's rate. Trained on the 8-Gaussian ring;
reports PacGAN's mode coverage. The command line, the data and the report
come from `_example.py` beside this file: copy both.

    KERAS_BACKEND=jax python examples/custom_train_step_jax.py --epochs 20
    KERAS_BACKEND=jax python examples/custom_train_step_jax.py --smoke
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
        # `fit` carries the model's variables and `self.optimizer`'s through
        # the step; D's optimizer state rides along as the model's own
        # (non-trainable) variables, and is saved with it.
        self.d_optimizer_state = list(self.d_optimizer.variables)

    def discriminate(self, x):
        return self.discriminator(self.instance_noise(x, training=True), training=True)

    def train_step(self, state, real):
        import jax
        import jax.numpy as jnp

        trainable, non_trainable, g_slots, metrics = state
        variables = self.trainable_variables + self.non_trainable_variables
        values = dict(
            zip(map(id, variables), [*trainable, *non_trainable], strict=True)
        )

        def stateless(fn, network, weights):
            """fn() on the state's values, `network`'s trainable variables set
            to `weights`; returns fn's result and every variable's new value
            (the seed generators and noise layers advance)."""

            def run(weights):
                own = dict(
                    zip(map(id, network.trainable_variables), weights, strict=True)
                )
                mapping = [(v, own.get(id(v), values[id(v)])) for v in variables]
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    loss, logs = fn()
                new = {id(v): scope.get_current_value(v) for v in variables}
                return loss, (logs, new)

            (_, (logs, new)), grads = jax.value_and_grad(run, has_aux=True)(weights)
            return logs, new, grads

        def input_gradient(fn, x):  # d sum(fn(x)) / dx, itself differentiable
            return jax.grad(lambda x: jnp.sum(fn(x)))(x)

        batch = ops.shape(real)[0]

        def d_objective():
            z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
            fake = ops.stop_gradient(self.generator(z, training=True))
            real_labels, fake_labels = self.label_policy(
                ops.ones((batch,)), ops.zeros((batch,)), seed=self.seed_generator
            )
            d_loss = self.gan_loss.discriminator_loss(
                self.discriminate(real),
                self.discriminate(fake),
                real_labels,
                fake_labels,
            )
            # R1 on the clean real samples (D here updates no state of its own).
            penalty = self.penalty(
                lambda x: self.discriminator(x, training=True),
                real,
                fake,
                input_gradient=input_gradient,
            )
            return d_loss + penalty, {"d_loss": d_loss, "penalty": penalty}

        d_net, d_opt = self.discriminator, self.d_optimizer
        d_weights = [values[id(v)] for v in d_net.trainable_variables]
        logs, values, grads = stateless(d_objective, d_net, d_weights)
        d_weights, d_slots = d_opt.stateless_apply(
            [values[id(v)] for v in d_opt.variables], grads, d_weights
        )
        values.update(zip(map(id, d_net.trainable_variables), d_weights, strict=True))
        values.update(zip(map(id, d_opt.variables), d_slots, strict=True))

        def g_objective():
            z = keras.random.normal((batch, LATENT_DIM), seed=self.seed_generator)
            g_loss = self.gan_loss.generator_loss(
                self.discriminate(self.generator(z, training=True))
            )
            return g_loss, {"g_loss": g_loss}

        g_net = self.generator
        g_weights = [values[id(v)] for v in g_net.trainable_variables]
        g_logs, values, grads = stateless(g_objective, g_net, g_weights)
        g_weights, g_slots = self.optimizer.stateless_apply(g_slots, grads, g_weights)
        values.update(zip(map(id, g_net.trainable_variables), g_weights, strict=True))
        # Each batch's own adversarial losses: what DiscriminatorLRBalancer reads.
        state = (
            [values[id(v)] for v in self.trainable_variables],
            [values[id(v)] for v in self.non_trainable_variables],
            g_slots,
            metrics,
        )
        return {**logs, **g_logs}, state


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
        out="out/custom_train_step_jax",
        backend=("jax", "jax.value_and_grad"),
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
