"""One GAN training step on one device and on two, for the distribution test.

    python -m tests.distributed_step OUT.npz

TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPU devices.
JAX: `keras.distribution.DataParallel` over two host devices (set
`XLA_FLAGS=--xla_force_host_platform_device_count=2` before starting).
Both runs start from the same weights and take the same global batch; the
file holds, for `single` and `distributed`, the step's logs and every weight
after it, plus (TensorFlow) the latent vectors two replicas drew.

On TensorFlow each replica runs the step on its half of the batch, so the
runs match when the latent vectors do too: a GAN subclass hands each replica
its half of fixed global latents, and the configuration avoids what is
computed per replica by design (batch-norm statistics, minibatch-stddev
groups). On JAX the step is one program over the global batch, sharded:
random draws and batch statistics are global and the runs match as they are.
"""

import os
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_gan_tricks as kgt  # noqa: E402

BATCH, LATENT = 32, 4
BACKEND = keras.backend.backend()


def networks(batch_norm):
    # No bias before batch norm: its gradient is zero up to rounding, which
    # Adam's normalisation turns into steps of any size up to the learning
    # rate, different on one device and two (the usual DCGAN habit, too).
    layers = [keras.Input((LATENT,)), keras.layers.Dense(16, use_bias=not batch_norm)]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    generator = keras.Sequential(
        [*layers, keras.layers.ReLU(), keras.layers.Dense(2)], name="generator"
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
    return generator, discriminator


class SlicedLatentGAN(kgt.GAN):
    """Takes fixed global latents (one set per objective); each replica of a
    tf.distribute strategy takes its own slice of them."""

    latents = None
    _phase = threading.local()  # replicas trace the step in threads

    def discriminator_objective(self, *args, **kwargs):
        self._phase.value = 0
        return super().discriminator_objective(*args, **kwargs)

    def generator_objective(self, *args, **kwargs):
        self._phase.value = 1
        return super().generator_objective(*args, **kwargs)

    def sample_latent_tensor(self, batch_size):
        import tensorflow as tf

        z = ops.convert_to_tensor(self.latents[self._phase.value])
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None else context.replica_id_in_sync_group
        return tf.slice(z, [replica * batch_size, 0], [batch_size, LATENT])


def build(batch_norm, weights, cls=kgt.GAN):
    generator, discriminator = networks(batch_norm)
    gan = cls(generator, discriminator, latent_dim=LATENT, seed=5)
    if BACKEND == "jax":  # random draws are global on JAX: all may stay
        policy = kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3))
    else:
        policy = kgt.labels.OneSidedSmoothing(0.1)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        label_policy=policy,
        penalty=kgt.penalties.R1(1.0),
    )
    if weights is not None:
        for variable, value in zip(
            generator.weights + discriminator.weights, weights, strict=True
        ):
            variable.assign(value)
    return gan


def step(gan, real):
    logs = gan.fit(real, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    logs = {k: np.float64(v[0]) for k, v in logs.history.items()}
    variables = gan.generator.weights + gan.discriminator.weights
    return logs, [np.array(ops.convert_to_numpy(v)) for v in variables]


def main(out):
    rng = np.random.default_rng(0)
    real = (rng.standard_normal((BATCH, 2)) * 0.5 + 1.0).astype("float32")
    results = {}
    if BACKEND == "tensorflow":
        import tensorflow as tf

        SlicedLatentGAN.latents = rng.standard_normal((2, BATCH, LATENT)).astype(
            "float32"
        )
        gan = build(False, None, SlicedLatentGAN)
        weights = [
            ops.convert_to_numpy(v)
            for v in gan.generator.weights + gan.discriminator.weights
        ]
        results["single"] = step(gan, real)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            gan = build(False, weights, SlicedLatentGAN)
        results["distributed"] = step(gan, real)
        # Without fixed latents, the two replicas draw different vectors.
        with strategy.scope():
            plain = build(False, weights)
        drawn = strategy.run(
            tf.function(lambda: plain.sample_latent_tensor(BATCH // 2))
        )
        local = strategy.experimental_local_results(drawn)
        np.save(
            out.replace(".npz", "_replica_latents.npy"),
            np.stack([ops.convert_to_numpy(z) for z in local]),
        )
    else:
        gan = build(True, None)
        weights = [
            ops.convert_to_numpy(v)
            for v in gan.generator.weights + gan.discriminator.weights
        ]
        results["single"] = step(gan, real)
        devices = keras.distribution.list_devices()
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices)
        )
        gan = build(True, weights)
        results["distributed"] = step(gan, real)
        # The variables live on both devices (replicated).
        arrays_on = {len(v.value.sharding.device_set) for v in gan.weights}
        assert arrays_on == {2}, arrays_on
        keras.distribution.set_distribution(None)
    arrays = {}
    for run, (logs, variables) in results.items():
        arrays.update({f"{run}/log/{k}": v for k, v in logs.items()})
        arrays.update({f"{run}/var/{i}": v for i, v in enumerate(variables)})
    np.savez(out, **arrays)
    return 0


if __name__ == "__main__":
    if BACKEND == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    raise SystemExit(main(sys.argv[1]))
