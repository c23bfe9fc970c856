"""The feedback loops: D's signals, adaptive instance noise."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks.tricks import StepOutcome
from tests.nets import mlp_discriminator, mlp_generator
from tests.test_callbacks import StopAt


def outcome(step, accuracy, n=20, finite=True):
    """A step whose logits D ranks right `accuracy` of the time."""
    right = int(round(accuracy * n))
    real = np.array([1.0] * right + [-1.0] * (n - right), "float32")[:, None]
    return StepOutcome(
        step=keras.ops.convert_to_tensor(step),
        finite=keras.ops.convert_to_tensor(finite),
        real_logits=keras.ops.convert_to_tensor(real),
        fake_logits=keras.ops.convert_to_tensor(np.zeros((n, 1), "float32")),
    )


def stddev(layer):
    return float(keras.ops.convert_to_numpy(layer.stddev))


def test_feedback_window_averages_by_weight_and_decides_on_its_interval():
    window = tuple(keras.ops.zeros(()) for _ in range(3))
    decisions = []
    for step, (value, weight) in enumerate(
        [(1.0, 2.0), (0.0, 1.0), (0.5, 0.0), (0.25, 4.0)], start=1
    ):
        due, mean, count, window = kgt.tricks.feedback_window(
            window, value, weight, step, 2
        )
        decisions.append((bool(due), float(mean), float(count)))
    # Step 2: (2 * 1 + 1 * 0) / 3; step 4: the weightless step is ignored.
    assert decisions[1] == (True, pytest.approx(2 / 3), 3.0)
    assert decisions[3] == (True, pytest.approx(0.25), 4.0)
    assert not decisions[0][0] and not decisions[2][0]
    assert float(window[2]) == pytest.approx(0.25)  # the last mean is kept


def test_adaptive_noise_moves_by_its_rule_stops_at_its_bounds_and_settles():
    noise = kgt.layers.AdaptiveInstanceNoise(
        target=0.85, interval=4, speed=800, maximum=0.4
    )
    for step in range(1, 9):  # D ahead: ranking accuracy 1
        noise.end_step(outcome(step, 1.0))
    # Two adjustments of 4 steps x 20 samples / 800 x 0.4 = 0.04 each.
    assert stddev(noise) == pytest.approx(0.08)
    assert float(noise.feedback[2]) == pytest.approx(1.0)
    for step in range(9, 200):
        noise.end_step(outcome(step, 1.0))
    assert stddev(noise) == pytest.approx(0.4)  # clipped at `maximum`
    for step in range(200, 300):  # D cannot tell: 0.5 < target
        noise.end_step(outcome(step, 0.5))
    assert stddev(noise) == pytest.approx(0.0)
    for step in range(300, 340):  # steps not applied change nothing
        noise.end_step(outcome(step, 1.0, finite=False))
    assert stddev(noise) == 0.0
    # A D whose lead falls as the noise rises (accuracy 1 - stddev): the
    # stddev settles where the accuracy meets the target (0.15).
    settle = kgt.layers.AdaptiveInstanceNoise(
        target=0.85, interval=4, speed=4000, maximum=0.5
    )
    seen = []
    for step in range(1, 1200):
        settle.end_step(outcome(step, 1.0 - stddev(settle), n=100))
        seen.append(stddev(settle))
    late = seen[-400:]
    assert min(late) >= 0.1 and max(late) <= 0.2
    assert np.mean(late) == pytest.approx(0.15, abs=0.02)


def test_adaptive_noise_checks_its_arguments_and_round_trips():
    for kwargs, text in [
        ({"target": 1.0}, "target=1.0"),
        ({"maximum": 0.0}, "maximum=0.0"),
        ({"initial": 0.6}, "initial=0.6"),
        ({"interval": 0}, "interval=0"),
        ({"speed": 0}, "speed=0"),
        ({"signal": "accuracy"}, "signal='accuracy'"),
    ]:
        with pytest.raises(ValueError, match=text):
            kgt.layers.AdaptiveInstanceNoise(**kwargs)
    layer = kgt.layers.AdaptiveInstanceNoise(target=0.8, maximum=0.3, seed=3)
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    x = keras.ops.ones((2, 3))
    assert bool(keras.ops.all(layer(x, training=True) == x))  # stddev 0 at first


def far_data(n=512):
    rng = np.random.default_rng(0)
    return (3.0 + 0.1 * rng.standard_normal((n, 2))).astype("float32")


def test_adaptive_noise_in_a_fit_rises_logs_and_survives_backup_and_restore(
    tmp_path,
):
    def gan_with(noise):
        gan = kgt.GAN(mlp_generator(), mlp_discriminator(width=32), seed=0)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(1e-2),
            g_optimizer=keras.optimizers.Adam(1e-5),
            tricks=[noise],
        )
        return gan

    backup = os.fspath(tmp_path / "backup")
    noise = kgt.layers.AdaptiveInstanceNoise(interval=2, speed=2048, seed=0)
    gan = gan_with(noise)
    # A decay on the same GAN leaves the adaptive noise alone.
    assert noise not in gan.instance_noise_layers()
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((float(logs["noise_stddev"]), float(logs["noise_signal"])))

    with pytest.raises(RuntimeError, match="interrupted"):
        gan.fit(
            far_data(),
            batch_size=32,
            epochs=4,
            verbose=0,
            callbacks=[Record(), keras.callbacks.BackupAndRestore(backup), StopAt(2)],
        )
    # D ranks the far reals above G's samples: the noise rose.
    assert len(seen) == 2 and seen[1][0] > seen[0][0] > 0.0
    assert seen[1][1] > 0.85
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    (restored_noise,) = [
        t for t in loaded.tricks if isinstance(t, kgt.layers.AdaptiveInstanceNoise)
    ]
    assert stddev(restored_noise) == pytest.approx(seen[1][0])

    # A new process: new objects, the same backup directory.
    keras.backend.clear_session()
    noise2 = kgt.layers.AdaptiveInstanceNoise(interval=2, speed=2048, seed=0)
    gan2 = gan_with(noise2)
    restored = {}

    class Peek(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model  # noqa: B018 (on JAX: syncs the train state)
            restored["stddev"] = stddev(noise2)

    history = gan2.fit(
        far_data(),
        batch_size=32,
        epochs=4,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup), Peek()],
    )
    assert restored["stddev"] == pytest.approx(seen[1][0])
    assert len(history.history["noise_stddev"]) == 2  # epochs 3 and 4 only


def test_balancer_as_a_compiled_trick_acts_and_saves_its_loop(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(width=32), seed=0)
    balancer = kgt.tricks.DiscriminatorLRBalancer(patience=20, min_lr=1e-3)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-6, beta_1=0.5),
        tricks=[balancer],
    )
    history = gan.fit(far_data(2048), batch_size=64, epochs=4, verbose=0)
    assert history.history["d_lr"][-1] < 1e-2
    assert history.history["d_rank"][-1] > 0.8
    gan.sync_state()
    count, changes = balancer.read_changes()
    assert count >= 1 and changes[0]["old_lr"] == pytest.approx(1e-2)
    control = gan.trick_states["lr_balancer_control"].read()
    assert control["upper"] == pytest.approx(1.0)  # the starting rate failed
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.trick_states["lr_balancer_control"].read() == pytest.approx(control)
    assert float(
        keras.ops.convert_to_numpy(loaded.d_optimizer.learning_rate)
    ) == pytest.approx(balancer.current_lr())
