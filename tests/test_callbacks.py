import math
import os

import keras
import numpy as np
import pytest
from keras import ops

import keras_gan_tricks as kgt
from keras_gan_tricks.callbacks import (
    DiscriminatorLRBalancer,
    GeneratorEMA,
    InstanceNoiseDecay,
    SampleGrid,
    ScaledSchedule,
)
from tests.nets import (
    EachBatch,
    conv_discriminator,
    conv_generator,
    mlp_discriminator,
    mlp_generator,
)
from tests.trick_case import Interrupt as StopAt


def two_clusters(n=1024, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[1.0, 1.0], [-1.0, -1.0]], "float32")
    return (centres[rng.integers(0, 2, n)] + 0.1 * rng.standard_normal((n, 2))).astype(
        "float32"
    )


# InstanceNoiseDecay


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("linear", {0: 0.4, 50: 0.25, 100: 0.1, 400: 0.1}),
        ("exponential", {0: 0.4, 50: 0.2, 100: 0.1, 400: 0.1}),
        (
            "cosine",
            {
                0: 0.4,
                50: 0.25,
                100: 0.1,
                400: 0.1,
                25: 0.1 + 0.3 * (1 + math.cos(math.pi / 4)) / 2,
            },
        ),
    ],
)
def test_decay_values_at_chosen_steps(kind, expected):
    decay = InstanceNoiseDecay(initial=0.4, final=0.1, steps=100, kind=kind)
    for step, value in expected.items():
        assert decay.value(step) == pytest.approx(value, rel=1e-5), step


def test_decay_to_zero_and_with_a_keras_schedule():
    assert InstanceNoiseDecay(0.3, 0.0, 10).value(10) == 0.0
    assert InstanceNoiseDecay(0.3, 0.0, 10, kind="cosine").value(10) == pytest.approx(
        0.0, abs=1e-7
    )
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([5], [0.3, 0.1])
    decay = InstanceNoiseDecay(schedule=schedule)
    assert decay.value(3) == pytest.approx(0.3) and decay.value(7) == pytest.approx(0.1)
    assert InstanceNoiseDecay(schedule=lambda step: 1.0 / (1 + step)).value(
        3
    ) == pytest.approx(0.25)
    clone = InstanceNoiseDecay.from_config(decay.get_config())
    assert clone.value(7) == pytest.approx(0.1)
    clone = InstanceNoiseDecay.from_config(
        InstanceNoiseDecay(0.5, 0.1, 20, kind="cosine").get_config()
    )
    assert clone.kind == "cosine" and clone.value(10) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        ({"initial": -0.1, "steps": 10}, ValueError, "initial=-0.1"),
        ({"initial": 0.1, "final": -1.0, "steps": 10}, ValueError, "final=-1.0"),
        ({"initial": 0.1, "steps": 0}, ValueError, "steps=0"),
        ({"initial": 0.1, "steps": 10, "kind": "step"}, ValueError, "kind='step'"),
        ({"initial": 0.1, "steps": 10, "kind": "exponential"}, ValueError, "final=0.0"),
        ({"steps": 10}, ValueError, "initial=None"),
        ({"schedule": 0.3}, TypeError, "schedule=0.3"),
        ({"schedule": lambda s: 0.1, "initial": 0.3}, ValueError, "initial=0.3"),
    ],
)
def test_decay_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        InstanceNoiseDecay(**kwargs)


def test_decay_drives_every_noise_layer_and_logs_it():
    noisy_d = keras.Sequential(
        [keras.Input((2,)), kgt.layers.InstanceNoise(0.9), mlp_discriminator()]
    )
    gan = kgt.GAN(mlp_generator(), noisy_d, instance_noise=0.9)
    gan.compile()
    decay = InstanceNoiseDecay(initial=0.5, final=0.1, steps=8)
    history = gan.fit(
        two_clusters(256), batch_size=64, epochs=3, verbose=0, callbacks=[decay]
    )
    layers = kgt.callbacks.find_instance_noise(gan)
    assert len(layers) == 2
    # Set before each batch from the step count: the last of 12 batches was step 11.
    for layer in layers:
        assert float(layer.stddev) == pytest.approx(0.1)
    assert history.history["noise_stddev"] == pytest.approx(
        [decay.value(3), decay.value(7), decay.value(11)]
    )


def test_decay_continues_after_save_and_load(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), instance_noise=1.0)
    gan.compile()
    data = two_clusters(320)
    gan.fit(
        data, batch_size=64, verbose=0, callbacks=[InstanceNoiseDecay(1.0, 0.0, 20)]
    )
    assert float(gan.instance_noise.stddev) == pytest.approx(0.8)  # step 4
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.instance_noise.stddev) == pytest.approx(0.8)
    loaded.fit(
        data[:64],
        batch_size=64,
        verbose=0,
        callbacks=[InstanceNoiseDecay(1.0, 0.0, 20)],
    )
    assert float(loaded.instance_noise.stddev) == pytest.approx(0.75)  # step 5, not 0


def test_decay_on_a_gan_without_noise_adds_the_gans_own_and_saves_it(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile()
    gan.fit(
        two_clusters(128),
        batch_size=32,
        verbose=0,
        callbacks=[InstanceNoiseDecay(0.4, 0.0, 8)],
    )
    assert isinstance(gan.instance_noise, kgt.layers.InstanceNoise)
    assert float(gan.instance_noise.stddev) == pytest.approx(0.25)  # step 3 of 8
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.instance_noise.stddev) == pytest.approx(0.25)
    # A model that is not a kgt.GAN has no noise of its own to add.
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="found no kgt.layers.InstanceNoise"):
        plain.fit(
            np.zeros((8, 2)),
            np.zeros((8, 1)),
            verbose=0,
            callbacks=[InstanceNoiseDecay(0.1, 0.0, 10)],
        )


def test_decay_without_steps_spans_each_whole_fit():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile()
    per_batch = []
    record = EachBatch(lambda b, logs: per_batch.append(logs["noise_stddev"]))
    data = two_clusters(128)  # 4 batches of 32
    decay = InstanceNoiseDecay(initial=0.4, final=0.0)
    gan.fit(data, batch_size=32, epochs=3, verbose=0, callbacks=[decay, record])
    # 12 steps: 0.4 at the first, linearly to 0 at the (unrun) 13th.
    assert per_batch == pytest.approx([0.4 * (1 - t / 12) for t in range(12)])
    # A later fit decays afresh over its own length, from its first step.
    per_batch.clear()
    gan.fit(data, batch_size=32, epochs=2, verbose=0, callbacks=[decay, record])
    assert per_batch == pytest.approx([0.4 * (1 - t / 8) for t in range(8)])
    # initial_epoch counts: epochs 2 and 3 of 3 are the fit's 8 steps.
    per_batch.clear()
    gan.fit(
        data,
        batch_size=32,
        epochs=3,
        initial_epoch=1,
        verbose=0,
        callbacks=[InstanceNoiseDecay(0.2, 0.0, kind="cosine"), record],
    )
    expected = [0.1 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    assert per_batch == pytest.approx(expected, abs=1e-6)


def test_decay_without_steps_on_another_model_counts_initial_epoch():
    """The plan of a fit is one rule, for the GAN's step and the callback's
    batch hooks alike: epochs from `initial_epoch` times batches per epoch."""
    noise = kgt.layers.InstanceNoise(0.0)
    model = keras.Sequential([keras.Input((2,)), noise, keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    per_batch = []
    record = EachBatch(lambda b, logs: per_batch.append(logs["noise_stddev"]))
    x = two_clusters(128)
    model.fit(
        x,
        x[:, :1],
        batch_size=32,
        epochs=3,
        initial_epoch=1,
        verbose=0,
        callbacks=[InstanceNoiseDecay(0.4, 0.0), record],
    )
    # Epochs 2 and 3: 8 steps, from 0.4 linearly towards 0.
    assert per_batch == pytest.approx([0.4 * (1 - t / 8) for t in range(8)])


def test_decay_without_steps_as_a_compiled_trick():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile(tricks=[kgt.tricks.InstanceNoiseDecay(0.3, 0.1)])
    assert gan.instance_noise is not None  # the GAN's own, added at compile
    per_batch = []
    record = EachBatch(lambda b, logs: per_batch.append(logs["noise_stddev"]))
    gan.fit(two_clusters(64), batch_size=32, epochs=2, verbose=0, callbacks=[record])
    assert per_batch == pytest.approx([0.3, 0.25, 0.2, 0.15])


def test_decay_without_steps_needs_a_fit_of_known_length():
    def batches():
        while True:
            yield (two_clusters(32),)

    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile()
    with pytest.raises(ValueError, match=r"steps_per_epoch.*Received: steps=None"):
        gan.fit(batches(), epochs=1, verbose=0, callbacks=[InstanceNoiseDecay(0.2)])
    history = gan.fit(
        batches(),
        epochs=2,
        steps_per_epoch=2,
        verbose=0,
        callbacks=[InstanceNoiseDecay(0.2)],
    )
    assert history.history["noise_stddev"] == pytest.approx([0.15, 0.05])


def test_decay_without_steps_resumes_its_fit_after_a_crash(tmp_path):
    backup = os.fspath(tmp_path / "backup")
    data = two_clusters(128)

    def run(callbacks):
        keras.backend.clear_session()
        gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
        gan.compile()
        per_batch = []
        record = EachBatch(lambda b, logs: per_batch.append(logs["noise_stddev"]))
        gan.fit(
            data,
            batch_size=32,
            epochs=4,
            verbose=0,
            callbacks=[InstanceNoiseDecay(0.4), record, *callbacks],
        )
        return per_batch

    whole = [0.4 * (1 - t / 16) for t in range(16)]
    with pytest.raises(RuntimeError, match="interrupted"):
        run([keras.callbacks.BackupAndRestore(backup), StopAt(2)])
    # A new process: new objects, the same backup directory. Epochs 3 and 4
    # take the values of the uninterrupted run, not a new decay.
    resumed = run([keras.callbacks.BackupAndRestore(backup)])
    assert resumed == pytest.approx(whole[8:])


def test_decay_and_ema_run_inside_a_gan_step_with_no_batch_work(monkeypatch):
    noisy_d = keras.Sequential(
        [keras.Input((2,)), kgt.layers.InstanceNoise(0.9), mlp_discriminator()]
    )
    gan = kgt.GAN(mlp_generator(), noisy_d, instance_noise=0.9, seed=0)
    gan.compile()
    decay = InstanceNoiseDecay(initial=0.5, final=0.1, steps=40)
    ema = GeneratorEMA(0.9)
    # Neither reads the step count (a wait on the step) nor, on JAX, pulls
    # the train state back into the model (`self.model`) after a batch.
    reads = []
    faces = kgt.callbacks.faces
    real_read = faces.training_step
    monkeypatch.setattr(
        faces, "training_step", lambda m: reads.append(1) or real_read(m)
    )
    syncs = []
    if keras.backend.backend() == "jax":
        real_sync = gan.jax_state_sync
        monkeypatch.setattr(
            gan, "jax_state_sync", lambda: syncs.append(1) or real_sync()
        )
    seen = {}

    class Peek(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["async_safe"] = (decay.async_safe, ema.async_safe)

    history = gan.fit(
        two_clusters(256),
        batch_size=16,
        epochs=2,
        verbose=0,
        callbacks=[decay, ema, Peek()],
    )
    assert reads == []
    # Keras and kgt sync a few times per epoch and at the end, not per
    # batch (32 batches).
    assert len(syncs) < 16, len(syncs)
    # Keras may run their (empty) batch hooks on its callback thread ...
    assert seen["async_safe"] == (True, True)
    # ... in that fit only: another model's fit would run them for real.
    assert (decay.async_safe, ema.async_safe) == (False, False)
    # The step set the stddev of both layers and logged it.
    for layer in kgt.callbacks.find_instance_noise(gan):
        assert float(layer.stddev) == pytest.approx(decay.value(31))
    assert history.history["noise_stddev"] == pytest.approx(
        [decay.value(15), decay.value(31)]
    )


def test_decay_in_the_step_follows_each_step_and_only_its_fit():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), instance_noise=1.0, seed=0)
    gan.compile()
    per_batch = []
    record = EachBatch(lambda b, logs: per_batch.append(logs["noise_stddev"]))
    decay = InstanceNoiseDecay(1.0, 0.2, 8, kind="exponential")
    data = two_clusters(320)
    gan.fit(data, batch_size=32, verbose=0, callbacks=[decay, record])
    expected = [decay.value(t) for t in range(10)]
    assert per_batch == pytest.approx(expected, rel=1e-6)
    assert expected[-1] == pytest.approx(0.2)  # held at `final` after `steps`
    # The same schedule in a new callback reuses the compiled step.
    step = gan.train_function
    gan.fit(data[:32], batch_size=32, verbose=0, callbacks=[decay])
    assert gan.train_function is step
    del step  # (see test_ema_warmup_schedule_inside_the_step_and_only_during_its_fit)
    # A fit without the callback leaves the stddev where the last one put it.
    gan.instance_noise.stddev.assign(0.7)
    history = gan.fit(data, batch_size=32, verbose=0)
    assert float(gan.instance_noise.stddev) == pytest.approx(0.7)
    assert "noise_stddev" not in history.history


def test_decay_with_a_plain_callable_runs_in_the_batch_hooks():
    # A Python function of the step may not trace inside a compiled step:
    # the callback sets the stddev before each batch, as for any model.
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), instance_noise=1.0, seed=0)
    gan.compile()
    decay = InstanceNoiseDecay(schedule=lambda step: 1.0 / (1 + step))
    seen = []

    class Peek(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(decay.async_safe)

    history = gan.fit(
        two_clusters(128), batch_size=32, verbose=0, callbacks=[decay, Peek()]
    )
    assert seen == [False]  # its hooks do the work: in line, during the fit
    assert float(gan.instance_noise.stddev) == pytest.approx(0.25)  # step 3
    assert history.history["noise_stddev"] == pytest.approx([0.25])


# DiscriminatorLRBalancer


def far_clusters(n=2048):
    """Data far from an untrained generator's outputs: easy for D to win on."""
    return 3.0 * two_clusters(n)


def overpowered_gan(d_lr=1e-2, g_lr=1e-6, label_policy=None, schedule=None):
    """The seeds' failure: D's rate far above G's, so D's loss collapses."""
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(width=32), seed=0)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(schedule or d_lr, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(g_lr, beta_1=0.5),
        label_policy=label_policy,
    )
    return gan


@pytest.mark.parametrize(
    "policy", [None, kgt.labels.OneSidedSmoothing(0.1)], ids=["hard", "smoothed"]
)
def test_balancer_lowers_d_rate_on_collapse_respecting_min_lr(policy):
    gan = overpowered_gan(label_policy=policy)
    balancer = DiscriminatorLRBalancer(patience=20, min_lr=3e-3, verbose=0)
    history = gan.fit(
        far_clusters(2048), batch_size=64, epochs=6, verbose=0, callbacks=[balancer]
    )
    lrs = [c["new_lr"] for c in balancer.changes]
    # Halved, then clipped at min_lr; then G (at 1e-6) is what keeps D
    # ahead, and two lowerings that left D's lead as it was are the last.
    assert lrs == pytest.approx([5e-3, 3e-3])
    assert balancer.changes[0]["cause"] == "floor"  # D's loss at 0 by step 20
    assert balancer.current_lr() == pytest.approx(3e-3)
    assert history.history["d_lr"][-1] == pytest.approx(3e-3)


def test_balancer_raises_the_rate_once_calm_but_not_back_to_one_that_failed():
    gan = overpowered_gan()
    balancer = DiscriminatorLRBalancer(patience=20, min_lr=1e-4, verbose=0)
    data = far_clusters(2048)
    gan.fit(data, batch_size=64, epochs=4, verbose=0, callbacks=[balancer])
    lowered = balancer.current_lr()
    assert lowered < 5e-3
    gan.g_optimizer.learning_rate = 1e-2  # G catches up: D's lead goes
    gan.fit(data, batch_size=64, epochs=6, verbose=0, callbacks=[balancer])
    raised = [c for c in balancer.changes if c["new_lr"] > c["old_lr"]]
    assert raised and all(c["cause"] == "calm" for c in raised)
    assert raised[0]["old_lr"] <= lowered * (1 + 1e-6)
    # 1e-2 failed first: nothing above 1e-2 * sqrt(factor) once it had.
    ceiling = 1e-2 * 0.5**0.5
    assert max(c["new_lr"] for c in raised) <= ceiling * (1 + 1e-5)


def scripted_balancer(**kwargs):
    """A balancer bound to a bare optimizer, driven by hand."""
    optimizer = keras.optimizers.Adam(1e-2)
    trick = kgt.tricks.DiscriminatorLRBalancer(**kwargs)
    trick.bind_optimizer(optimizer, *trick.new_state(), floor=None)
    return trick


def ranked(accuracy, n=20):
    """Real and fake logits that D ranks right `accuracy` of the time."""
    right = int(round(accuracy * n))
    real = np.array([1.0] * right + [-1.0] * (n - right), "float32")
    return real, np.zeros(n, "float32")


def drive(trick, accuracy, windows, step):
    """`windows` windows of the scripted signal; returns the rates after
    each window and the next step."""
    rates = []
    for _ in range(windows):
        for _ in range(trick.patience):
            step += 1
            trick.control(step, 1.3, 0.7, True, *ranked(accuracy))
        rates.append(trick.current_lr())
    return rates, step


def drive_each(trick, accuracies, step=0):
    """One window per accuracy; the rates after each and the next step."""
    rates = []
    for accuracy in accuracies:
        more, step = drive(trick, accuracy, 1, step)
        rates += more
    return rates, step


def test_balancer_stops_lowering_when_lowering_does_not_move_the_signal():
    """At 100x G's rate D's lead is G's slowness: two lowerings that leave
    the signal where it was are the last (the atlas: lowering on made FD
    worse)."""
    trick = scripted_balancer(patience=5, min_lr=1e-4, warmup=0)
    rates, step = drive(trick, 1.0, 12, 0)
    assert rates == pytest.approx([5e-3] * 3 + [2.5e-3] * 9)
    # Once the signal falls to the target the run is over; a new lead is
    # answered again.
    rates, step = drive_each(trick, [0.75, 0.9, 0.9], step)
    assert rates == pytest.approx([2.5e-3, 1.25e-3, 1.25e-3])


def test_balancer_follows_a_scripted_signal_to_its_bounds_and_settles():
    trick = scripted_balancer(
        patience=5, min_lr=1e-3, target=0.9, recover_below=0.8, warmup=0
    )
    # Ahead: halved, then (D's lead outlasting the change) again only
    # after two windows, since the signal cannot grow past 1; held at min_lr.
    rates, step = drive_each(trick, [0.99] * 3 + [0.97] * 3 + [0.95] * 3 + [0.93] * 3)
    assert rates == pytest.approx(
        [5e-3] * 3 + [2.5e-3] * 3 + [1.25e-3] * 3 + [1e-3] * 3
    )
    # Within the band: nothing moves.
    rates, step = drive(trick, 0.85, 4, step)
    assert rates == pytest.approx([1e-3] * 4)
    # Calm: doubled each window, up to sqrt(1/2) of the rate that failed
    # (1e-2: the lowerings in a row answered one failure), then held.
    rates, step = drive(trick, 0.5, 5, step)
    ceiling = 1e-2 * 0.5**0.5
    assert rates == pytest.approx([2e-3, 4e-3, ceiling, ceiling, ceiling])
    # Ahead again at the ceiling: it fails too, and the next ceiling is lower.
    rates, step = drive(trick, 0.95, 1, step)
    assert rates == pytest.approx([ceiling / 2])
    rates, step = drive(trick, 0.6, 3, step)
    assert rates == pytest.approx([ceiling * 0.5**0.5] * 3)
    count, changes = trick.read_changes()
    assert count == 4 + 3 + 1 + 1
    assert [c["reason"] for c in changes] == ["ahead"] * 4 + ["calm"] * 3 + [
        "ahead",
        "calm",
    ]
    assert changes[0]["signal"] == pytest.approx(1.0)
    assert changes[4]["signal"] == pytest.approx(0.5)
    assert max(c["new_lr"] for c in changes) <= ceiling * (1 + 1e-6)


def test_balancer_never_takes_d_below_g_rate_by_default():
    optimizer = keras.optimizers.Adam(1e-2)
    trick = kgt.tricks.DiscriminatorLRBalancer(patience=5, warmup=0)
    g_optimizer = keras.optimizers.Adam(3e-3)
    trick.bind_optimizer(optimizer, *trick.new_state(), None, g_optimizer)
    rates, _ = drive(trick, 1.0, 7, 0)
    assert rates == pytest.approx([5e-3] * 3 + [3e-3] * 4)


def test_balancer_waits_out_its_warmup():
    trick = scripted_balancer(patience=5, min_lr=1e-3, warmup=10)
    rates, _ = drive(trick, 1.0, 3, 0)
    assert rates == pytest.approx([1e-2, 1e-2, 5e-3])


def test_balancer_ignores_steps_that_were_not_applied():
    trick = scripted_balancer(patience=5, warmup=0)
    for step in range(1, 11):
        trick.control(step, 1.3, 0.7, False, *ranked(1.0))
    assert trick.current_lr() == pytest.approx(1e-2)
    assert trick.read_changes()[0] == 0


def test_ranking_accuracy_is_the_auc_of_the_logits():
    rng = np.random.default_rng(0)
    real = rng.normal(1.0, 1.0, 37).astype("float32")
    fake = rng.normal(0.0, 1.0, 23).astype("float32")
    fake[:3] = real[:3]  # ties count one half
    pairs = real[:, None] - fake[None, :]
    expected = np.mean((pairs > 0) + 0.5 * (pairs == 0))
    got = float(kgt.tricks.ranking_accuracy(real, fake))
    assert got == pytest.approx(expected, rel=1e-6)
    # The same under any increasing map of the logits (any loss's scale).
    assert float(
        kgt.tricks.ranking_accuracy(np.exp(real), np.exp(fake))
    ) == pytest.approx(expected, rel=1e-6)
    # A map of logits per sample counts once, by its mean.
    maps = np.broadcast_to(real[:, None, None], (37, 2, 2)) + np.array(
        [[0.5, -0.5], [0.25, -0.25]], "float32"
    )
    untied = fake[3:]
    assert float(kgt.tricks.ranking_accuracy(maps, untied)) == pytest.approx(
        np.mean(real[:, None] > untied[None, :]), rel=1e-6
    )


def test_balancer_acts_inside_the_step_without_a_sync_per_batch(monkeypatch):
    """In a kgt.GAN fit the balancer changes D's rate in the compiled step:
    no read of the batch's values, the train state synced per epoch (JAX),
    its hooks free to run on Keras's callback thread; the changes it made
    reach `changes` at the epoch's end, and the rate is logged per batch."""
    gan = overpowered_gan()
    balancer = DiscriminatorLRBalancer(patience=20, min_lr=1e-3, verbose=0)
    reads = []
    monkeypatch.setattr(
        gan, "batch_values", lambda: reads.append(1) or pytest.fail("read")
    )
    syncs = []
    if keras.backend.backend() == "jax":
        real_sync = gan.jax_state_sync
        monkeypatch.setattr(
            gan, "jax_state_sync", lambda: syncs.append(1) or real_sync()
        )
    seen, rates = {}, []

    class Peek(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["async_safe"] = balancer.async_safe

        def on_train_batch_end(self, batch, logs=None):
            rates.append(float(logs["d_lr"]))

    gan.fit(
        far_clusters(2048),
        batch_size=64,
        epochs=6,
        verbose=0,
        callbacks=[balancer, Peek()],
    )
    assert reads == [] and seen["async_safe"] is True
    # Keras and kgt sync a few times per epoch, not per batch (192 batches).
    assert len(syncs) < 48, len(syncs)
    # Each change the step made is in `changes`, with the rate logged then.
    assert [c["new_lr"] for c in balancer.changes] == pytest.approx([5e-3, 2.5e-3])
    for change in balancer.changes:
        assert any(r == pytest.approx(change["new_lr"], rel=1e-6) for r in rates)
        assert change["cause"] in ("ahead", "floor") and change["step"] >= 20
    assert rates[0] == pytest.approx(1e-2) and rates[-1] == pytest.approx(2.5e-3)


@pytest.mark.parametrize(
    "policy",
    [None, kgt.labels.OneSidedSmoothing(0.1), kgt.labels.UniformNoise()],
    ids=["hard", "smoothed", "noisy"],
)
def test_balancer_stays_quiet_in_a_balanced_game(policy):
    # Both at 2e-4: D's ranking accuracy stays within 0.25-0.85 here. (At
    # 1e-3 this small D runs ahead, to 0.97, for a while, and the balancer
    # rightly acts.)
    gan = overpowered_gan(d_lr=2e-4, g_lr=2e-4, label_policy=policy)
    balancer = DiscriminatorLRBalancer(patience=20, verbose=0)
    ranks = []
    gan.fit(
        two_clusters(2048),
        batch_size=64,
        epochs=6,
        verbose=0,
        callbacks=[balancer, EachBatch(lambda _, logs: ranks.append(logs["d_rank"]))],
    )
    assert balancer.changes == []
    ranks = [float(r) for r in ranks]
    assert 0.0 < max(ranks) < 0.9  # it measured, and saw no lead


def test_balancer_scales_a_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(
        1e-2, decay_steps=1000, decay_rate=0.5
    )
    gan = overpowered_gan(schedule=schedule)
    balancer = DiscriminatorLRBalancer(patience=20, min_lr=1e-4, verbose=0)
    gan.fit(
        far_clusters(2048), batch_size=64, epochs=4, verbose=0, callbacks=[balancer]
    )
    wrapped = keras.optimizers.schedules.deserialize(
        gan.d_optimizer.get_config()["learning_rate"]
    )
    assert isinstance(wrapped, ScaledSchedule)
    assert wrapped.schedule.get_config() == schedule.get_config()
    step = int(gan.d_optimizer.iterations)
    scale = balancer._state["scale"]
    assert scale <= 0.25
    # The saved schedule carries the scale the step used.
    assert wrapped.scale == pytest.approx(scale)
    assert balancer.current_lr() == pytest.approx(
        float(schedule(step)) * scale, rel=1e-5
    )


def test_balancer_floor_follows_the_label_policy():
    loss = kgt.losses.NonSaturating()
    assert loss.discriminator_floor(np.ones(10), np.zeros(10)) == 0.0
    smoothed = loss.discriminator_floor(np.full(10, 0.9), np.zeros(10))
    assert smoothed == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    r = np.random.default_rng(0).uniform(0.7, 1.2, 100000)
    f = np.random.default_rng(1).uniform(0.0, 0.3, 100000)
    h = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    assert loss.discriminator_floor(r, f) == pytest.approx(h(0.95) + h(0.15), rel=1e-2)
    assert kgt.losses.LeastSquares().discriminator_floor(r, f) == pytest.approx(
        0.5 * (0.25 / 12 + 0.09 / 12), rel=2e-2
    )
    assert kgt.losses.Hinge().discriminator_floor(r, f) == 0.0
    assert kgt.losses.Wasserstein().discriminator_floor(r, f) is None


@pytest.mark.parametrize("loss", ["wasserstein", "least_squares", "hinge"])
def test_balancer_sees_d_ahead_under_any_loss(loss):
    """The signal is D's ranking of its logits: the same under every loss
    (the Wasserstein loss has no floor; here the floor rule is off for all)."""
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(width=32), seed=0)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-6, beta_1=0.5),
        loss=loss,
    )
    balancer = DiscriminatorLRBalancer(
        patience=20, min_lr=1e-3, collapse_below=1e-9, verbose=0
    )
    gan.fit(
        far_clusters(2048), batch_size=64, epochs=6, verbose=0, callbacks=[balancer]
    )
    assert balancer.changes and balancer.changes[0]["cause"] == "ahead"
    assert balancer.changes[0]["new_lr"] == pytest.approx(5e-3)
    assert balancer.changes[0]["signal"] > 0.8
    assert balancer.changes[0]["step"] > 100  # after the warmup


def test_balancer_rejects_bad_arguments():
    for kwargs, text in [
        ({"factor": 1.0}, "factor=1.0"),
        ({"patience": 0}, "patience=0"),
        ({"collapse_below": 0.0}, "collapse_below=0.0"),
        ({"min_lr": -1e-4}, "min_lr=-0.0001"),
        ({"recover": 0.5}, "recover=0.5"),
        ({"smoothing": 1.0}, "smoothing=1.0"),
        ({"target": 0.5}, "target=0.5"),
        ({"target": 0.8, "recover_below": 0.8}, "recover_below=0.8"),
    ]:
        with pytest.raises(ValueError, match=text):
            DiscriminatorLRBalancer(**kwargs)
    with pytest.raises(TypeError, match="optimizer='adam'"):
        DiscriminatorLRBalancer(optimizer="adam")
    config = DiscriminatorLRBalancer(patience=7, factor=0.3).get_config()
    assert DiscriminatorLRBalancer.from_config(config).get_config() == config


def test_balancer_state_survives_backup_and_restore(tmp_path):
    data = far_clusters(1024)
    backup = os.fspath(tmp_path / "backup")
    gan = overpowered_gan()
    balancer = DiscriminatorLRBalancer(patience=20, min_lr=1e-5, verbose=0)
    with pytest.raises(RuntimeError, match="interrupted"):
        gan.fit(
            data,
            batch_size=64,
            epochs=6,
            verbose=0,
            callbacks=[balancer, keras.callbacks.BackupAndRestore(backup), StopAt(3)],
        )
    saved_lr = balancer.current_lr()
    saved_state = {name: balancer._state[name] for name in balancer._STATE}
    assert saved_lr < 1e-2 and saved_state["initialized"] == 1.0

    # A new process: fresh objects, same backup directory.
    keras.backend.clear_session()
    resumed = overpowered_gan()
    fresh = DiscriminatorLRBalancer(patience=20, min_lr=1e-5, verbose=0)
    seen = {}

    class Peek(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model  # noqa: B018 (on JAX: syncs the train state into it)
            if not seen:
                seen["lr"] = float(
                    ops.convert_to_numpy(resumed.d_optimizer.learning_rate)
                )
                seen["epoch_logs"] = dict(logs)

    resumed.fit(
        data,
        batch_size=64,
        epochs=4,
        verbose=0,
        callbacks=[fresh, keras.callbacks.BackupAndRestore(backup), Peek()],
    )
    # Training resumed at epoch 3 with the reduced rate, not the base rate.
    assert int(resumed.g_optimizer.iterations) == 4 * 16
    assert seen["lr"] <= saved_lr * (1 + 1e-6)
    assert fresh._state["base_lr"] == pytest.approx(1e-2)
    assert fresh._state["seen"] > saved_state["seen"]


def test_balancer_state_is_saved_in_the_keras_file(tmp_path):
    gan = overpowered_gan()
    balancer = DiscriminatorLRBalancer(patience=20, verbose=0)
    gan.fit(
        far_clusters(2048), batch_size=64, epochs=4, verbose=0, callbacks=[balancer]
    )
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    state = loaded.trick_states["lr_balancer"].read()
    assert state["scale"] == pytest.approx(balancer._state["scale"])
    assert state["scale"] < 1.0
    assert float(
        ops.convert_to_numpy(loaded.d_optimizer.learning_rate)
    ) == pytest.approx(balancer.current_lr())


# GeneratorEMA


def test_ema_is_the_moving_average_of_the_weights():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile()
    initial = [w.numpy() for w in gan.generator.trainable_weights]
    snapshots = []
    record = EachBatch(
        lambda b, logs: snapshots.append(
            [w.numpy() for w in gan.generator.trainable_weights]
        )
    )
    ema = GeneratorEMA(decay=0.5, warmup=False)
    gan.fit(
        two_clusters(256), batch_size=64, epochs=2, verbose=0, callbacks=[ema, record]
    )
    expected = initial
    for weights in snapshots:
        expected = [0.5 * e + 0.5 * w for e, w in zip(expected, weights, strict=True)]
    got = [w.numpy() for w in ema.ema_generator.trainable_weights]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # generate() samples from the average; use_ema=False from the raw weights.
    averaged, raw = gan.generate(8, seed=0), gan.generate(8, seed=0, use_ema=False)
    assert not np.allclose(averaged, raw)
    np.testing.assert_allclose(
        raw,
        ops.convert_to_numpy(gan.generator(gan.sample_latent(8, seed=0))),
        rtol=1e-5,
    )


def _bn_gan_fit_with_ema(**ema_kwargs):
    gan = kgt.GAN(
        kgt.architectures.dcgan_generator(8, (8, 8, 1), base_filters=4),
        conv_discriminator(),
        seed=0,
    )
    gan.compile()
    ema = GeneratorEMA(decay=0.999, **ema_kwargs)
    gan.fit(
        np.tanh(np.random.default_rng(0).standard_normal((128, 8, 8, 1))).astype(
            "float32"
        ),
        batch_size=32,
        verbose=0,
        callbacks=[ema],
    )
    return gan, ema


def _statistics(model):
    return [w.numpy() for w in model.non_trainable_weights]


def test_ema_warmup_and_batch_norm_statistics_copied():
    gan, ema = _bn_gan_fit_with_ema(recalibrate_batch_norm=False)
    for copy, stat in zip(
        _statistics(ema.ema_generator), _statistics(gan.generator), strict=True
    ):
        np.testing.assert_array_equal(copy, stat)
    # With warm-up the average has moved off the initial weights after 4 steps.
    moved = [
        np.abs(a.numpy() - b.numpy()).max()
        for a, b in zip(
            ema.ema_generator.trainable_weights,
            gan.generator.trainable_weights,
            strict=True,
        )
    ]
    assert max(moved) < 0.05


def test_ema_recalibrates_the_averaged_batch_norm_statistics_after_fit():
    gan, ema = _bn_gan_fit_with_ema()  # the default: recalibrate
    raw = _statistics(gan.generator)
    after_fit = _statistics(ema.ema_generator)
    # Not the raw generator's copied statistics any more ...
    assert not all(np.allclose(a, r) for a, r in zip(after_fit, raw, strict=True))
    # ... but the averaged generator's own: recalibrating again with the same
    # (default) seed from these weights gives the same statistics.
    for layer in ema.ema_generator.non_trainable_weights:
        layer.assign(np.full(layer.shape, 5.0, "float32"))
    norms = [
        layer
        for layer in ema.ema_generator.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) >= 2 and gan.recalibrate_batch_norm() == len(norms)
    for again, first in zip(_statistics(ema.ema_generator), after_fit, strict=True):
        np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-6)
    # The raw generator was not touched, nor were the averaged weights.
    for now, before in zip(_statistics(gan.generator), raw, strict=True):
        np.testing.assert_array_equal(now, before)


def test_recalibrate_batch_norm_averages_the_batch_statistics():
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, kernel_initializer="glorot_normal"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )
    gan = kgt.GAN(generator, mlp_discriminator(), seed=0)
    norm = generator.layers[1]
    norm.moving_mean.assign(np.full(3, 7.0, "float32"))
    norm.moving_variance.assign(np.full(3, 9.0, "float32"))
    kernel = [w.numpy() for w in generator.trainable_weights]
    before = gan.generate(16, seed=3)
    assert gan.recalibrate_batch_norm(batches=3, batch_size=50, seed=7) == 1
    # The plain average of the three batches' mean and (biased) variance.
    means, variances = [], []
    for k in range(3):
        h = ops.convert_to_numpy(generator.layers[0](gan.sample_latent(50, seed=7 + k)))
        means.append(h.mean(0))
        variances.append(h.var(0))
    np.testing.assert_allclose(norm.moving_mean.numpy(), np.mean(means, 0), rtol=1e-5)
    np.testing.assert_allclose(
        norm.moving_variance.numpy(), np.mean(variances, 0), rtol=1e-4
    )
    assert norm.momentum == 0.99
    for now, then in zip(generator.trainable_weights, kernel, strict=True):
        np.testing.assert_array_equal(now.numpy(), then)
    assert not np.allclose(gan.generate(16, seed=3), before)
    # Without batch norm nothing runs.
    plain = kgt.GAN(mlp_generator(), mlp_discriminator())
    assert plain.recalibrate_batch_norm() == 0


def test_recalibrate_batch_norm_of_a_conditional_generator_needs_labels():
    from tests.test_gan import conditional_networks

    generator, discriminator = conditional_networks()
    z, y = generator.inputs
    h = keras.layers.BatchNormalization()(generator.layers[-2].output)
    generator = keras.Model([z, y], keras.layers.Dense(2)(h))
    gan = kgt.GAN(generator, discriminator, seed=0)
    gan.compile()
    with pytest.raises(ValueError, match="labels=None"):
        gan.recalibrate_batch_norm()
    assert gan.recalibrate_batch_norm(labels=np.arange(3), batches=2) == 1
    # GeneratorEMA leaves a conditional generator to the user by default and
    # refuses to promise what it cannot do.
    x = np.random.default_rng(0).standard_normal((64, 2)).astype("float32")
    y = np.zeros((64, 1), "int32")
    ema = GeneratorEMA(0.9)
    gan.fit(x, y, batch_size=32, verbose=0, callbacks=[ema])
    for copy, stat in zip(
        _statistics(ema.ema_generator), _statistics(gan.generator), strict=True
    ):
        np.testing.assert_array_equal(copy, stat)
    with pytest.raises(ValueError, match="recalibrate_batch_norm=True"):
        gan.fit(
            x,
            y,
            batch_size=32,
            verbose=0,
            callbacks=[GeneratorEMA(0.9, recalibrate_batch_norm=True)],
        )


def test_ema_is_saved_and_reloaded(tmp_path):
    gan = kgt.GAN(conv_generator(), conv_discriminator(), seed=0)
    gan.compile()
    gan.fit(
        np.zeros((64, 8, 8, 1), "float32"),
        batch_size=32,
        verbose=0,
        callbacks=[GeneratorEMA(0.9)],
    )
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert "ema_generator" in loaded.trick_states
    np.testing.assert_array_equal(loaded.generate(4, seed=1), gan.generate(4, seed=1))
    np.testing.assert_array_equal(
        loaded.generate(4, seed=1, use_ema=False),
        gan.generate(4, seed=1, use_ema=False),
    )
    # Training the loaded GAN keeps averaging into the same reloaded copy.
    callback = GeneratorEMA(0.9)
    loaded.fit(
        np.zeros((32, 8, 8, 1), "float32"),
        batch_size=32,
        verbose=0,
        callbacks=[callback],
    )
    assert callback.ema_generator is loaded.trick_states["ema_generator"]


def test_ema_warmup_schedule_inside_the_step_and_only_during_its_fit():
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile()
    initial = [w.numpy() for w in gan.generator.trainable_weights]
    snapshots = []
    record = EachBatch(
        lambda b, logs: snapshots.append(
            [w.numpy() for w in gan.generator.trainable_weights]
        )
    )
    ema = GeneratorEMA(decay=0.9, warmup=True)
    data = two_clusters(256)
    gan.fit(data, batch_size=32, verbose=0, callbacks=[ema, record])
    expected = initial
    for t, weights in enumerate(snapshots, start=1):  # t: steps taken
        d = min(0.9, (1 + t) / (10 + t))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights, strict=True)]
    average = [w.numpy() for w in ema.ema_generator.trainable_weights]
    for e, a in zip(expected, average, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    # Fitting again with the callback reuses the compiled step (no retrace).
    step = gan.train_function
    gan.fit(data[:32], batch_size=32, verbose=0, callbacks=[ema])
    assert gan.train_function is step
    # (On JAX, a live reference to an old compiled step lets jax.jit's cache
    # hand it back for the same method: drop it, as Keras does.)
    del step
    average = [w.numpy() for w in ema.ema_generator.trainable_weights]
    # A later fit without the callback trains G but leaves the average alone.
    snapshots.append([w.numpy() for w in gan.generator.trainable_weights])
    gan.fit(data, batch_size=32, verbose=0)
    assert not np.allclose(gan.generator.trainable_weights[0].numpy(), snapshots[-1][0])
    for before, after in zip(average, ema.ema_generator.trainable_weights, strict=True):
        np.testing.assert_array_equal(after.numpy(), before)


def test_ema_for_a_model_that_is_not_a_kgt_gan():
    # Any model with a `generator` attribute: updated from Python per batch.
    class Holder(keras.Model):
        def __init__(self):
            super().__init__()
            self.generator = mlp_generator()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(self.generator(x))

    model = Holder()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.random.default_rng(0).standard_normal((64, 4)).astype("float32")
    before = [w.numpy() for w in model.generator.trainable_weights]
    ema = GeneratorEMA(decay=0.5, warmup=False)
    model.fit(x, np.ones((64, 1)), batch_size=64, verbose=0, callbacks=[ema])
    after = [w.numpy() for w in model.generator.trainable_weights]
    for a, b0, b1 in zip(
        ema.ema_generator.trainable_weights, before, after, strict=True
    ):
        np.testing.assert_allclose(a.numpy(), 0.5 * b0 + 0.5 * b1, rtol=1e-5, atol=1e-6)


def test_ema_bad_arguments():
    with pytest.raises(ValueError, match="decay=1.0"):
        GeneratorEMA(decay=1.0)
    with pytest.raises(TypeError, match="recalibrate_batch_norm=1"):
        GeneratorEMA(recalibrate_batch_norm=1)


# SampleGrid


def test_sample_grid_writes_pngs_from_a_fixed_batch(tmp_path):
    from PIL import Image

    gan = kgt.GAN(conv_generator(), conv_discriminator())
    gan.compile(g_optimizer=keras.optimizers.SGD(0.0))
    grid = SampleGrid(tmp_path / "grids", every=2, n=10, columns=5, scale=2)
    gan.fit(
        np.zeros((64, 8, 8, 1), "float32"),
        batch_size=32,
        epochs=4,
        verbose=0,
        callbacks=[grid],
    )
    assert [os.path.basename(p) for p in grid.paths] == [
        "epoch_0002.png",
        "epoch_0004.png",
    ]
    first, second = (np.array(Image.open(p)) for p in grid.paths)
    assert first.shape == (2 * (2 * 9 + 1), 2 * (5 * 9 + 1))
    # G is frozen (learning rate 0): the same latent batch gives the same picture.
    np.testing.assert_array_equal(first, second)
    expected = kgt.images.image_grid(gan.generate(10, seed=0), columns=5)[..., 0]
    np.testing.assert_array_equal(first[::2, ::2], expected)


def test_sample_grid_tensorboard_images(tmp_path):
    import tensorflow as tf

    gan = kgt.GAN(conv_generator(), conv_discriminator())
    gan.compile()
    board = keras.callbacks.TensorBoard(os.fspath(tmp_path / "logs"))
    gan.fit(
        np.zeros((32, 8, 8, 1), "float32"),
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[board, SampleGrid(tmp_path / "grids", n=4, tensorboard=board)],
    )
    tags = []
    for root, _, files in os.walk(tmp_path / "logs" / "train"):
        for name in files:
            for record in tf.data.TFRecordDataset(os.path.join(root, name)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                tags += [
                    (v.tag, event.step)
                    for v in event.summary.value
                    if v.tag == "generated_samples"
                ]
    assert sorted(tags) == [("generated_samples", 0), ("generated_samples", 1)]


def test_sample_grid_rejects_non_images_and_bad_arguments(tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator())
    gan.compile()
    with pytest.raises(ValueError, match=r"generated samples of shape \(1, 2\)"):
        gan.fit(two_clusters(64), verbose=0, callbacks=[SampleGrid(tmp_path)])
    for kwargs, error, text in [
        ({"every": 0}, ValueError, "every=0"),
        ({"n": 0}, ValueError, "n=0"),
        ({"seed": -1}, ValueError, "seed=-1"),
        ({"tensorboard": 3}, TypeError, "tensorboard=3"),
    ]:
        with pytest.raises(error, match=text):
            SampleGrid(tmp_path, **kwargs)
    with pytest.raises(TypeError, match="directory=None"):
        SampleGrid(None)


def test_image_grid_layout_and_range():
    images = np.stack([np.full((2, 3, 1), v, "float32") for v in (-1.0, 0.0, 1.0)])
    grid = kgt.images.image_grid(images, columns=2)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 1) and grid.dtype == np.uint8
    assert grid[1, 1, 0] == 0 and grid[1, 5, 0] == 128 and grid[4, 1, 0] == 255
    assert grid[0].max() == 0  # padding
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        kgt.images.image_grid(np.zeros((3, 2)))


@pytest.mark.parametrize(
    "callback",
    [
        InstanceNoiseDecay(0.3, 0.01, 100, kind="exponential"),
        DiscriminatorLRBalancer(collapse_below=0.2, patience=5, recover=None),
        GeneratorEMA(0.99, warmup=False),
        SampleGrid(
            "grids",
            every=3,
            n=9,
            seed=2,
            labels=[0, 1, 2],
            columns=3,
            tensorboard="logs",
        ),
    ],
    ids=lambda c: type(c).__name__,
)
def test_callback_config_round_trip(callback):
    import json

    config = json.loads(json.dumps(callback.get_config()))
    clone = type(callback).from_config(config)
    assert clone.get_config() == callback.get_config()


def test_update_average_where_keeps_every_value_where_false():
    average = keras.Variable(np.array([1.0, 2.0], "float32"))
    weight = keras.Variable(np.array([3.0, 6.0], "float32"))
    copy = keras.Variable(np.array([0.0, 0.0], "float32"))
    source = keras.Variable(np.array([5.0, 7.0], "float32"))
    pairs, copies = [(average, weight)], [(copy, source)]
    kgt.callbacks.update_average(pairs, copies, 0.5, where=keras.ops.array(False))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(average), [1.0, 2.0])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(copy), [0.0, 0.0])
    kgt.callbacks.update_average(pairs, copies, 0.5, where=keras.ops.array(True))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(average), [2.0, 4.0])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(copy), [5.0, 7.0])
