"""Alarms (`kgt.callbacks.Alarms`, in every `kgt.GAN.fit`): each controller
driven to its bound on a scripted game says so once, in a warning that
names what it saw, what it did and what to change, and in the history.

The scripted games freeze both networks (learning rates of 1e-9 and 0): the
real data and the generator's constant output fix D's signal, so each
controller meets exactly the condition it must report.
"""

import warnings

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt


def frozen_game(real, fake_value, shape=(1,)):
    """A GAN whose generator always outputs `fake_value` and whose D is the
    mean of its input (neither learns: their rates are tiny)."""
    generator = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(
                int(np.prod(shape)),
                kernel_initializer="zeros",
                bias_initializer=keras.initializers.Constant(fake_value),
            ),
            keras.layers.Reshape(shape),
        ]
    )
    flat = [keras.layers.Flatten()] if len(shape) > 1 else []
    discriminator = keras.Sequential(
        [
            keras.Input(shape),
            *flat,
            keras.layers.Dense(
                1,
                kernel_initializer=keras.initializers.Constant(1.0 / np.prod(shape)),
                bias_initializer="zeros",
            ),
        ]
    )
    gan = kgt.GAN(generator, discriminator, latent_dim=2, seed=0)
    return gan


def frozen_compile(gan, tricks):
    """Neither network learns: D at a rate of 1e-9 (the balancer's to
    lower), G at 0."""
    gan.compile(
        d_optimizer=keras.optimizers.SGD(1e-9),
        g_optimizer=keras.optimizers.SGD(0.0),
        tricks=tricks,
    )


def fit(gan, real, epochs=20, callbacks=()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = gan.fit(
            real, batch_size=64, epochs=epochs, verbose=0, callbacks=list(callbacks)
        )
    said = [w for w in caught if issubclass(w.category, kgt.tricks.TrainingAlarm)]
    return history, [str(w.message) for w in said]


def mostly_above(n=640, below=0.05, seed=0):
    """Real samples at 1 but a share `below` at -2: against fakes at -1, D
    (the identity) ranks that share of pairs wrong."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, 1)) < below, -2.0, 1.0).astype("float32")


def test_the_balancer_at_its_lowest_rate_says_so_once():
    real = mostly_above()
    gan = frozen_game(real, -1.0)
    balancer = kgt.tricks.DiscriminatorLRBalancer(
        patience=10, warmup=0, min_lr=1e-9, target=0.85
    )
    frozen_compile(gan, [balancer])
    history, said = fit(gan, real)
    assert len(said) == 1, said  # once, though it lasts the whole fit
    message = said[0]
    assert message.startswith(f"{balancer.name} (lowest_rate, step ")
    # Not before the fit's first tenth (200 steps planned), though the
    # condition holds from its window's first end (step 10).
    assert int(message.split("step ")[1].split(",")[0]) > 20
    assert "in 0.9" in message and "min_lr: 1e-09" in message  # what it saw
    assert "can lower D's rate no further" in message  # what it did
    assert "What to change: if D's learning rate started above G's" in message
    alarms = history.history["alarms"]
    assert len(alarms) == 20 and sum(bool(a) for a in alarms) == 1
    assert alarms[[bool(a) for a in alarms].index(True)] == message


def test_a_discriminator_that_is_always_right_is_said_to_be_certain():
    real = np.ones((640, 1), "float32")
    gan = frozen_game(real, -1.0)
    frozen_compile(
        gan,
        [kgt.tricks.DiscriminatorLRBalancer(patience=10, warmup=0)],
    )
    _, said = fit(gan, real)
    assert len(said) == 1 and "(d_certain," in said[0]
    assert "in 1.000 of pairs" in said[0] and "G's gradient fades" in said[0]


def test_under_auto_a_certain_discriminator_is_said_within_a_tenth_of_the_fit():
    """`kgt.recipes.auto` sizes the balancer's warmup and window to the plan
    (30 steps of 1,200; at its defaults the first window ends at step 150)
    and the balancer looks from the fit's first twentieth: a D right on
    every pair from the start is said before step 120."""
    real = np.full((1200 * 8, 4, 4, 1), 0.5, "float32")
    gan = frozen_game(real, -0.5, shape=(4, 4, 1))
    kgt.recipes.auto(
        gan,
        data=real,
        steps=1200,
        d_optimizer=keras.optimizers.SGD(1e-9),
        g_optimizer=keras.optimizers.SGD(0.0),
    )

    class StopAt(keras.callbacks.Callback):  # the plan stays 1,200 steps
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 >= 130:
                self.model.stop_training = True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = gan.fit(real, batch_size=8, epochs=1, verbose=0, callbacks=[StopAt()])
    said = [str(w.message) for w in caught if w.category is kgt.tricks.TrainingAlarm]
    certain = [m for m in said if "(d_certain, step " in m]
    assert len(certain) == 1, said
    step = int(certain[0].split("(d_certain, step ")[1].split(",")[0])
    assert 60 < step <= 120, said
    assert certain[0] in history.history["alarms"][0]


def test_adaptive_noise_at_its_maximum_says_so():
    real = np.ones((640, 1), "float32")
    gan = frozen_game(real, -1.0)
    noise = kgt.tricks.AdaptiveInstanceNoise(
        maximum=0.05, interval=2, speed=640, target=0.85
    )
    frozen_compile(gan, [noise])
    history, said = fit(gan, real)
    assert len(said) == 1 and "(noise_at_maximum," in said[0], said
    assert "at its maximum, stddev 0.05" in said[0]
    assert "balancer FD 14.5, DiffAugment 17.6" in said[0]
    assert said[0] in history.history["alarms"]


def test_adaptive_augmentation_at_its_maximum_says_so():
    real = np.full((640, 4, 4, 1), 0.5, "float32")
    gan = frozen_game(real, -0.5, shape=(4, 4, 1))
    augment = kgt.augment.AdaptiveAugment(
        policy=("translation",), interval=2, speed=640, seed=0
    )
    frozen_compile(gan, [augment])
    history, said = fit(gan, real)
    assert len(said) == 1 and "(augment_at_maximum," in said[0], said
    assert "probability p at 1" in said[0] and "`limited_data` recipe" in said[0]
    assert said[0] in history.history["alarms"]


def test_the_balancer_at_its_lowest_rate_just_above_target_is_quiet():
    """D ahead of target (0.82 > 0.8) but not clearly (0.85): a wobble."""
    keras.utils.set_random_seed(0)
    real = mostly_above(below=0.18)
    gan = frozen_game(real, -1.0)
    frozen_compile(
        gan,
        [
            kgt.tricks.DiscriminatorLRBalancer(
                patience=40, warmup=0, min_lr=1e-9, target=0.8
            )
        ],
    )
    history, said = fit(gan, real)
    assert said == [] and "alarms" not in history.history
    assert 0.8 < history.history["d_rank"][-1] < 0.85


def test_a_balanced_game_says_nothing_and_keeps_its_history_as_it_was():
    real = mostly_above(below=0.5)  # D ranks half the pairs wrong
    gan = frozen_game(real, -1.0)
    frozen_compile(
        gan,
        [
            kgt.tricks.DiscriminatorLRBalancer(patience=10, warmup=0, min_lr=1e-9),
            kgt.tricks.AdaptiveInstanceNoise(maximum=0.05, interval=2, speed=640),
        ],
    )
    history, said = fit(gan, real, epochs=5)
    assert said == [] and "alarms" not in history.history


def test_a_non_finite_loss_is_in_the_history():
    import tensorflow as tf

    real = np.ones((640, 1), "float32")
    real[300] = np.nan  # in the fifth batch (fit checks the first one)
    gan = frozen_game(real, -1.0)
    gan.compile()
    data = tf.data.Dataset.from_tensor_slices(real).batch(64)
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        history = gan.fit(data, epochs=3, verbose=0)
    assert len(history.history["alarms"]) == 1
    assert "a non-finite loss" in history.history["alarms"][0]


def test_your_own_alarms_settings_and_your_own_tricks_alarm():
    class Stuck(kgt.tricks.Trick):
        """A user's controller, stuck from the start."""

        def alarm(self, step, logs):
            return kgt.tricks.Alarm("stuck", "it saw d_loss", "it did nothing", "x")

    real = np.ones((640, 1), "float32")
    gan = frozen_game(real, -1.0)
    gan.compile(tricks=[Stuck(name="stuck_trick")])
    listener = kgt.callbacks.Alarms(every=5, patience=30, warn=False)
    history, said = fit(gan, real, epochs=5, callbacks=[listener])
    assert said == []  # warn=False: recorded only
    [raised] = listener.raised
    # Looked at every 5 steps (from step 5); said once it had lasted 30, at
    # step 30, in any order of the looks (JAX's callback threads).
    assert raised["step"] == 30 and raised["epoch"] == 3
    assert raised["message"] == (
        "stuck_trick (stuck, step 30, for 30 steps): it saw d_loss. it "
        "did nothing. What to change: x"
    )
    assert history.history["alarms"] == ["", "", raised["message"], "", ""]


def test_a_run_of_looks_is_said_at_the_same_step_whatever_their_order():
    """The looks of a condition reach `Alarms` out of order on JAX: the run
    is read both ways, so the step said is where it first lasted `patience`."""
    listener = kgt.callbacks.Alarms(every=5, patience=30, warn=False)
    listener._every, listener._patience = 5, 30
    looks = {step: "stuck" for step in (5, 10, 15, 20, 30, 35)}
    assert listener._reached(looks, 35, "stuck") is None  # 25 not seen yet
    looks[25] = "stuck"
    assert listener._reached(looks, 25, "stuck") == (30, 30)
    looks = {step: "stuck" for step in (10, 15, 20, 25, 30, 35, 40)}
    looks[5] = None
    assert listener._reached(looks, 40, "stuck") == (35, 30)
