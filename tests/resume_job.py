"""A training job for the resume test: every trick with state, backed up by
`keras.callbacks.BackupAndRestore`, optionally killed with SIGKILL mid-epoch.

    python tests/resume_job.py WORKDIR [--kill-epoch K]

At the end of each epoch (after the backup) it writes
`WORKDIR/records/epoch_E.npz`: every variable of the GAN (weights, batch-norm
statistics, instance-noise stddev, balancer state, averaged generator, seed)
and of both optimizers. With `--kill-epoch K` the process kills itself with
SIGKILL after batch 2 of epoch K, as an out-of-memory killer or a pre-empted
machine would.
"""

import argparse
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gan_tricks as kgt  # noqa: E402

EPOCHS = 4
BATCH = 32


def build():
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Dense(2),
        ]
    )
    discriminator = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(1),
        ]
    )
    gan = kgt.GAN(generator, discriminator, instance_noise=0.5, seed=3)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        label_policy=kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3)),
        penalty=kgt.penalties.R1(0.5),
    )
    return gan


class Record(keras.callbacks.Callback):
    def __init__(self, directory):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        groups = {
            "gan": gan.weights,  # includes the averaged generator's
            "generator": gan.generator.weights,
            "ema_generator": gan.trick_states["ema_generator"].weights,
            "seed": [gan.seed_generator.state],
            "d_opt": gan.d_optimizer.variables,
            "g_opt": gan.g_optimizer.variables,
        }
        arrays = {
            f"{group}/{i}/{variable.path}": keras.ops.convert_to_numpy(variable)
            for group, variables in groups.items()
            for i, variable in enumerate(variables)
        }
        np.savez(os.path.join(self.directory, f"epoch_{epoch}.npz"), **arrays)


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.kill_epoch, self.epoch = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.kill_epoch and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir")
    parser.add_argument("--kill-epoch", type=int, default=None)
    args = parser.parse_args()
    records = os.path.join(args.workdir, "records")
    os.makedirs(records, exist_ok=True)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0]], dtype="float32")
    points = centres[rng.integers(0, 2, 256)] + 0.1 * rng.standard_normal((256, 2))
    gan = build()
    callbacks = [
        kgt.callbacks.InstanceNoiseDecay(initial=0.5, final=0.0, steps=24),
        kgt.callbacks.DiscriminatorLRBalancer(
            collapse_below=2.0, patience=2, factor=0.5, verbose=0
        ),
        kgt.callbacks.GeneratorEMA(0.9),
        keras.callbacks.BackupAndRestore(os.path.join(args.workdir, "backup")),
        keras.callbacks.ModelCheckpoint(os.path.join(args.workdir, "gan.keras")),
        Record(records),
    ]
    if args.kill_epoch is not None:
        callbacks.append(KillAt(args.kill_epoch))
    gan.fit(
        points.astype("float32"),
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
