"""One GAN step on the backend of `KERAS_BACKEND`, for the parity test.

Run as `python -m tests.parity_step INPUTS OUT [--load FILE ...]`: reads the
initial weights, the real batch and the latent vectors from INPUTS (.npz),
runs one `train_on_batch` per configuration (d_steps discriminator steps and
one generator step on exactly those latents), and writes the logs, every
weight afterwards and the optimizers' step counts to OUT/<config>.npz, the
trained GAN to OUT/<config>.keras and its samples for fixed latent vectors
to OUT/<config>_samples.npy. With `--load`, also loads each given .keras
file (saved on another backend) and writes its samples to
OUT/loaded_<i>.npy.
"""

import argparse
import os
import sys

import keras
import numpy as np
from keras import ops

import keras_gan_tricks as kgt

LATENT_DIM = 8
SAMPLE_SHAPE = (8, 8, 1)


@keras.saving.register_keras_serializable(package="kgt_parity")
class FixedLatentGAN(kgt.GAN):
    """A GAN whose steps take given latent vectors, in order, not random ones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_latents = None
        self.draws = 0

    def sample_latent_tensor(self, batch_size):
        if self.fixed_latents is None:
            return super().sample_latent_tensor(batch_size)
        # Called while the step is traced: once per objective, in order.
        z = self.fixed_latents[self.draws % len(self.fixed_latents)]
        self.draws += 1
        return ops.convert_to_tensor(z)


def generator():
    z = keras.Input((LATENT_DIM,))
    x = keras.layers.Dense(4 * 4 * 8, use_bias=False)(z)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Conv2D(1, 3, padding="same", activation="tanh")(x)
    return keras.Model(z, x, name="parity_generator")


def discriminator(minibatch_stddev=True):
    x_in = keras.Input(SAMPLE_SHAPE)
    x = keras.layers.Conv2D(8, 4, strides=2, padding="same")(x_in)
    x = keras.layers.LeakyReLU(0.2)(x)
    if minibatch_stddev:
        x = kgt.layers.MinibatchStdDev(group_size=4)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(1)(x)
    return keras.Model(x_in, x, name="parity_discriminator")


# Each configuration is deterministic given the latents: no label noise,
# instance noise, random flips or interpolation draws.
CONFIGS = {
    "smoothed_r1": dict(
        d_optimizer=lambda: keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=lambda: keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss="non_saturating",
        label_policy=lambda: kgt.labels.OneSidedSmoothing(0.1),
        penalty=lambda: kgt.penalties.R1(1.0),
        d_steps=1,
    ),
    "least_squares_r2_2dsteps": dict(
        d_optimizer=lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        g_optimizer=lambda: keras.optimizers.RMSprop(1e-3),
        loss="least_squares",
        label_policy=lambda: None,
        penalty=lambda: kgt.penalties.R2(0.5),
        d_steps=2,
    ),
    # No MinibatchStdDev: the discriminator sees real and fake in one call.
    "smoothed_joint_batch": dict(
        d_optimizer=lambda: keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=lambda: keras.optimizers.Adam(1e-3, beta_1=0.5),
        loss="non_saturating",
        label_policy=lambda: kgt.labels.OneSidedSmoothing(0.2),
        penalty=lambda: None,
        d_steps=1,
        minibatch_stddev=False,
    ),
}


def make_inputs(path, seed=0, batch_size=8):
    """Writes initial weights, a real batch and latents to `path` (.npz)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    arrays = {
        "real": rng.uniform(-1, 1, (batch_size, *SAMPLE_SHAPE)).astype("float32"),
        "latents": rng.standard_normal((3, batch_size, LATENT_DIM)).astype("float32"),
        "sample_latents": rng.standard_normal((4, LATENT_DIM)).astype("float32"),
    }
    for prefix, net in (
        ("g", generator()),
        ("d", discriminator()),
        ("e", discriminator(minibatch_stddev=False)),
    ):
        for i, weight in enumerate(net.get_weights()):
            arrays[f"{prefix}{i:02d}"] = weight
    np.savez(path, **arrays)


def _weights(arrays, prefix):
    return [arrays[k] for k in sorted(arrays) if k[0] == prefix and k[1:].isdigit()]


def run(inputs, out, config_name):
    arrays = dict(np.load(inputs))
    config = CONFIGS[config_name]
    g = generator()
    g.set_weights(_weights(arrays, "g"))
    if config.get("minibatch_stddev", True):
        d = discriminator()
        d.set_weights(_weights(arrays, "d"))
    else:
        d = discriminator(minibatch_stddev=False)
        d.set_weights(_weights(arrays, "e"))
    gan = FixedLatentGAN(g, d, seed=0)
    gan.compile(
        d_optimizer=config["d_optimizer"](),
        g_optimizer=config["g_optimizer"](),
        loss=config["loss"],
        label_policy=config["label_policy"](),
        penalty=config["penalty"](),
        d_steps=config["d_steps"],
    )
    gan.fixed_latents = list(arrays["latents"][: config["d_steps"] + 1])
    expected_joint = not config.get("minibatch_stddev", True)
    if gan.joint_discriminator_batch is not expected_joint:
        raise SystemExit(f"{config_name}: joint batch {gan.joint_discriminator_batch}")
    logs = gan.train_on_batch(arrays["real"], return_dict=True)
    result = {f"log_{k}": np.float32(v) for k, v in logs.items()}
    for prefix, net in (("g", gan.generator), ("d", gan.discriminator)):
        for weight in net.weights:
            result[f"{prefix}:{weight.path}"] = ops.convert_to_numpy(weight)
    result["d_iterations"] = ops.convert_to_numpy(gan.d_optimizer.iterations)
    result["g_iterations"] = ops.convert_to_numpy(gan.g_optimizer.iterations)
    np.savez(os.path.join(out, f"{config_name}.npz"), **result)
    gan.fixed_latents = None
    gan.save(os.path.join(out, f"{config_name}.keras"))
    np.save(os.path.join(out, f"{config_name}_samples.npy"), _samples(gan, arrays))


def _samples(gan, arrays):
    return ops.convert_to_numpy(gan(arrays["sample_latents"], training=False))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inputs")
    parser.add_argument("out")
    parser.add_argument("--load", nargs="*", default=[])
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_train:
        for name in CONFIGS:
            run(args.inputs, args.out, name)
    arrays = dict(np.load(args.inputs))
    for i, path in enumerate(args.load):
        gan = keras.saving.load_model(path)
        if not isinstance(gan, FixedLatentGAN) or not gan.compiled:
            raise SystemExit(f"{path} did not load as a compiled FixedLatentGAN")
        np.save(os.path.join(args.out, f"loaded_{i}.npy"), _samples(gan, arrays))
    print(f"parity_step done on {keras.backend.backend()}", file=sys.stderr)


if __name__ == "__main__":
    main()
