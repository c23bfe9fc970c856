"""Reliability: non-finite losses, determinism, resuming after a crash."""

import os
import signal
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from tests.nets import EachBatch, mlp_generator


def bn_discriminator():
    return keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(1),
        ]
    )


def bn_generator():
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Dense(2),
        ]
    )


class Batches(keras.utils.PyDataset):
    """Batches of 2D points; the batch at `poison` (if any) holds `value`."""

    def __init__(self, points, batch_size=32, poison=None, value=np.nan):
        super().__init__()
        self.points, self.batch_size = points, batch_size
        self.poison, self.value = poison, value

    def __len__(self):
        return len(self.points) // self.batch_size

    def __getitem__(self, index):
        batch = self.points[index * self.batch_size : (index + 1) * self.batch_size]
        if index == self.poison:
            batch = batch.copy()
            batch[5, 1] = self.value
        return (batch,)


def state_of(gan):
    """Every weight of the GAN and both optimizers' variables, as NumPy."""
    return {
        v.path: np.array(keras.ops.convert_to_numpy(v))
        for v in [*gan.weights, *gan.d_optimizer.variables, *gan.g_optimizer.variables]
    }


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_loss_stops_training_with_the_last_finite_state(
    value, points, tmp_path
):
    gan = kgt.GAN(bn_generator(), bn_discriminator(), seed=0)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3),
        g_optimizer=keras.optimizers.Adam(1e-3),
        penalty=kgt.penalties.R1(1.0),
    )
    snapshots = {}

    def snapshot(batch, logs):
        snapshots[batch] = state_of(gan)

    checkpoint = tmp_path / "gan.weights.h5"
    with pytest.warns(RuntimeWarning, match=r"non-finite loss .*step 4 of this fit"):
        history = gan.fit(
            Batches(points, poison=3, value=value),
            epochs=3,
            verbose=0,
            shuffle=False,  # Keras shuffles a PyDataset's batches by default
            callbacks=[
                EachBatch(snapshot),
                keras.callbacks.ModelCheckpoint(checkpoint, save_weights_only=True),
            ],
        )
    assert gan.non_finite_step == 4
    assert len(history.history["d_loss"]) == 1  # stopped in the first epoch
    assert not np.isfinite(history.history["d_loss"][0])
    # The poisoned step changed nothing: weights, batch-norm statistics, both
    # optimizers' slots and step counts are those after batch 2.
    last_finite, now = snapshots[2], state_of(gan)
    assert set(now) == set(last_finite)
    for path, array in now.items():
        if "seed_generator" in path or "batch_values" in path or "non_finite" in path:
            continue  # the seed moved on; batch values hold the NaN loss
        np.testing.assert_array_equal(array, last_finite[path], err_msg=path)
        assert np.all(np.isfinite(array)), path
    assert int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)) == 3
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 3
    # The epoch-end checkpoint holds that finite state, and training resumes.
    restored = kgt.GAN(bn_generator(), bn_discriminator(), seed=0)
    restored.load_weights(checkpoint)
    for mine, theirs in zip(gan.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        history = gan.fit(Batches(points), epochs=1, verbose=0)
    assert gan.non_finite_step is None
    assert np.isfinite(history.history["d_loss"][0])


class SlowOnThread(keras.callbacks.Callback):
    """Async-safe: Keras may run it on its callback thread, where it sleeps
    from batch `slow_from` on, so that `fit` dispatches steps ahead of the
    callbacks that come after it (the GAN's stop callback)."""

    async_safe = True

    def __init__(self, slow_from):
        super().__init__()
        self.slow_from, self.seen = slow_from, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(batch)
        if batch >= self.slow_from:
            time.sleep(0.3)


def test_steps_dispatched_past_a_non_finite_one_apply_nothing(points):
    """With nothing but async-safe callbacks, Keras runs them on a thread
    (the GAN's stop check is async-safe on JAX): steps run before the stop
    flag lands, and none of them may apply an update."""
    gan = kgt.GAN(bn_generator(), bn_discriminator(), seed=0)
    gan.compile(penalty=kgt.penalties.R1(1.0))
    slow = SlowOnThread(slow_from=3)
    with pytest.warns(RuntimeWarning, match=r"non-finite loss .*step 4 of this fit"):
        history = gan.fit(
            Batches(points, poison=3),
            epochs=3,
            verbose=0,
            shuffle=False,
            callbacks=[slow],
        )
    assert gan.non_finite_step == 4
    assert len(history.history["d_loss"]) == 1
    if keras.backend.backend() == "jax":
        # Steps went on past the poisoned batch 3 (elsewhere the stop check
        # runs in line, so the next step waits for it).
        assert max(slow.seen) > 3, slow.seen
    steps, first = keras.ops.convert_to_numpy(gan.non_finite_guard.latch)
    assert first == 4 and steps == max(slow.seen) + 1
    # Only the three finite steps were applied.
    assert int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)) == 3
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 3
    for path, array in state_of(gan).items():
        if "batch_values" not in path:  # they hold the last batch's losses
            assert np.all(np.isfinite(array)), path


def test_a_step_after_a_non_finite_one_applies_nothing(points):
    """The step's own latch: once a step of a `fit` was non-finite, later
    clean steps change no weight, statistic, optimizer slot or average; a
    new `fit` or `train_on_batch` starts clean."""
    gan = kgt.GAN(bn_generator(), bn_discriminator(), seed=0)
    gan.compile(penalty=kgt.penalties.R1(1.0))
    ema = kgt.callbacks.GeneratorEMA(0.9, recalibrate_batch_norm=False)
    gan.fit(Batches(points), epochs=1, verbose=0, callbacks=[ema])
    # The fit's tricks (the in-step average) stay in the step after it.
    clean = points[:32]
    latch = gan.non_finite_guard.latch
    latch.assign([7, 5])  # step 5 of this `fit` was non-finite
    before = state_of(gan)
    averaged = [keras.ops.convert_to_numpy(w) for w in ema.ema_generator.weights]
    logs = keras.Model.train_on_batch(gan, clean, return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    for path, array in state_of(gan).items():
        if "seed_generator" in path or "batch_values" in path or "non_finite" in path:
            continue
        np.testing.assert_array_equal(array, before[path], err_msg=path)
    for old, new in zip(averaged, ema.ema_generator.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(new), old)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(latch), [8, 5])
    # `train_on_batch` (each call stands alone) and `fit` reset the latch.
    gan.train_on_batch(clean)
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 9
    # ... and the average is still updated in the step (so its staying put
    # above was the latch's doing).
    assert any(
        not np.array_equal(keras.ops.convert_to_numpy(new), old)
        for old, new in zip(averaged, ema.ema_generator.weights, strict=True)
    )
    latch.assign([7, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        gan.fit(Batches(points), epochs=1, verbose=0)
    assert gan.non_finite_step is None
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 17


def test_overflow_in_the_networks_skips_the_update(points):
    """Finite data, but the discriminator overflows on generated samples."""

    class OverflowOnFake(keras.layers.Layer):
        def call(self, x):
            # Finite for the data (|x| < 10), infinite beyond.
            big = keras.ops.cast(keras.ops.max(keras.ops.abs(x)) > 10.0, x.dtype)
            return x * (1.0 + big * 1e38) * (1.0 + big * 1e38)

    generator = mlp_generator()
    last = generator.layers[-1]
    last.bias.assign([50.0, 50.0])  # generated samples far outside the data
    discriminator = keras.Sequential(
        [keras.Input((2,)), OverflowOnFake(), keras.layers.Dense(1)]
    )
    gan = kgt.GAN(generator, discriminator, seed=0)
    gan.compile()
    before = state_of(gan)
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        gan.fit(Batches(points), epochs=1, verbose=0)
    assert gan.non_finite_step == 1
    for path, array in state_of(gan).items():
        if "seed_generator" in path or "batch_values" in path or "non_finite" in path:
            continue
        np.testing.assert_array_equal(array, before[path], err_msg=path)


def test_same_seed_same_losses(points):
    """With `keras.utils.set_random_seed` (and TensorFlow's op determinism),
    two runs give identical losses and weights."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    def run():
        keras.utils.set_random_seed(7)
        gan = kgt.GAN(bn_generator(), bn_discriminator(), instance_noise=0.1, seed=None)
        gan.compile(
            label_policy=kgt.labels.UniformNoise(real=(0.7, 1.2), fake=(0.0, 0.3)),
            penalty=kgt.penalties.R1(1.0),
        )
        history = gan.fit(points, batch_size=32, epochs=2, verbose=0, shuffle=True)
        return history.history, [keras.ops.convert_to_numpy(w) for w in gan.weights]

    (h1, w1), (h2, w2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    # And a different seed gives a different run (the test can fail).
    keras.utils.set_random_seed(8)
    gan = kgt.GAN(bn_generator(), bn_discriminator(), instance_noise=0.1)
    gan.compile(penalty=kgt.penalties.R1(1.0))
    h3 = gan.fit(points, batch_size=32, epochs=2, verbose=0).history
    assert h3["d_loss"] != h1["d_loss"]


def run_job(workdir, *extra):
    job = os.path.join(os.path.dirname(__file__), "resume_job.py")
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    return subprocess.run(
        [sys.executable, job, os.fspath(workdir), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _order(key):
    return int(key.split("/")[1])


def records(workdir):
    found = {}
    for name in os.listdir(workdir / "records"):
        epoch = int(name.removeprefix("epoch_").removesuffix(".npz"))
        with np.load(workdir / "records" / name) as arrays:
            found[epoch] = dict(arrays)
    return found


def test_sigkill_then_backup_and_restore_resumes_losing_nothing(tmp_path):
    """A job killed with SIGKILL in epoch 2 and started again resumes at
    epoch 2 and from there matches a job that was never interrupted: weights,
    both optimizers' slots and step counts, instance-noise stddev, balancer
    state, averaged generator and random stream."""
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    done = run_job(reference)
    assert done.returncode == 0, done.stderr[-3000:]
    killed = run_job(crashed, "--kill-epoch", "2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert sorted(records(crashed)) == [0, 1]  # died during epoch 2
    resumed = run_job(crashed)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    expected, got = records(reference), records(crashed)
    assert sorted(got) == sorted(expected) == [0, 1, 2, 3]
    names = set(expected[3])
    for needle in ("iteration", "stddev", "ema_generator", "balancer", "seed"):
        assert any(needle in name for name in names), (needle, sorted(names))
    for epoch in (2, 3):
        assert set(got[epoch]) == names
        for name in names:
            if "non_finite" in name:
                continue  # counts the steps of the current `fit`, which restarts
            np.testing.assert_allclose(
                got[epoch][name],
                expected[epoch][name],
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"epoch {epoch}: {name}",
            )
    # The run moved each of them between epochs (so equality means something).
    for needle in ("iteration", "stddev", "ema_generator", "balancer"):
        assert any(
            not np.array_equal(expected[1][n], expected[3][n])
            for n in names
            if needle in n
        ), needle
    # ModelCheckpoint saved the whole GAN, which loads and generates.
    gan = keras.saving.load_model(crashed / "gan.keras")
    generator = [
        got[3][k] for k in sorted(got[3], key=_order) if "generator/" == k[:10]
    ]
    for variable, array in zip(gan.generator.weights, generator, strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable),
            array,
            rtol=1e-6,
            err_msg=variable.path,
        )
    assert gan.generate(8, seed=0).shape == (8, 2)


@pytest.fixture
def policy():
    """Sets a global dtype policy for one test, then float32 again."""
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_finite_with_loss_scaling(name, policy, points):
    policy(name)
    gan = kgt.GAN(bn_generator(), bn_discriminator(), instance_noise=0.1, seed=0)
    gan.compile(
        penalty=kgt.penalties.R1(1.0),
        label_policy=kgt.labels.OneSidedSmoothing(0.1),
    )
    float16 = name == "mixed_float16"
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        # Both optimizers scale their loss under float16; bfloat16 needs none.
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == float16
    assert gan.generator.compute_dtype == name.removeprefix("mixed_")
    before = [keras.ops.convert_to_numpy(w) for w in gan.generator.weights]
    history = gan.fit(
        points,
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[kgt.callbacks.GeneratorEMA(0.9)],
    ).history
    for key in ("d_loss", "g_loss", "penalty"):
        assert np.all(np.isfinite(history[key])), (key, history[key])
    assert history["penalty"][-1] > 0
    assert gan.non_finite_step is None
    # Weights stay float32 and moved.
    for variable in gan.generator.weights:
        assert variable.dtype == "float32"
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))
    assert any(
        not np.array_equal(keras.ops.convert_to_numpy(v), old)
        for v, old in zip(gan.generator.trainable_weights, before, strict=True)
    )
    samples = gan.generate(16, seed=0)
    assert samples.dtype == np.float32 and np.all(np.isfinite(samples))
    # The penalty is summed and reduced in float32.
    _, aux = gan.discriminator_objective(keras.ops.convert_to_tensor(points[:32]))
    assert keras.backend.standardize_dtype(aux["penalty"].dtype) == "float32"


def test_float16_overflow_lowers_the_loss_scale_without_stopping(policy, points):
    """A loss scale too large for float16: the gradients overflow, the
    optimizer skips those steps and halves its scale; the GAN does not take
    that for a non-finite loss."""
    policy("mixed_float16")
    gan = kgt.GAN(bn_generator(), bn_discriminator(), seed=0)
    huge = 2.0**30
    gan.compile(
        d_optimizer=keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam(2e-4), initial_scale=huge
        ),
    )
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    history = gan.fit(points, batch_size=32, epochs=2, verbose=0).history
    assert gan.non_finite_step is None
    assert np.all(np.isfinite(history["d_loss"]))
    scale = float(keras.ops.convert_to_numpy(gan.d_optimizer.dynamic_scale))
    assert scale < huge
    d_steps = int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations))
    g_steps = int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))
    assert g_steps == 16 and 0 < d_steps < 16  # overflowing steps were skipped
    for variable in gan.discriminator.weights:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))
