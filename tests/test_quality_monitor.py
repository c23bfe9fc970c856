"""`kgt.callbacks.QualityMonitor`: figures during training, collapse alarm."""

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from tests.nets import mlp_discriminator, mlp_generator


def ring(n=600):
    samples, _ = kgt.datasets.gaussian_ring(n, seed=0)
    return samples


def test_quality_figures_reach_the_logs_and_history():
    data = ring()
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    gan.compile()
    monitor = kgt.callbacks.QualityMonitor(data, extractor=lambda x: x, samples=200)
    history = gan.fit(data, batch_size=64, epochs=2, verbose=0, callbacks=[monitor])
    for key in kgt.callbacks.QualityMonitor.KEYS:
        values = history.history[f"quality_{key}"]
        assert len(values) == 2 and all(np.isfinite(values)), key
    assert [row["epoch"] for row in monitor.history] == [1, 2]
    for row in monitor.history:
        assert 0 <= row["precision"] <= 1 and 0 <= row["coverage"] <= 1
    # The figures are those of the GAN's samples against the held sample.
    fake = gan.generate(200, seed=0)
    expected = kgt.evaluation.precision_recall(monitor.real, fake)
    assert monitor.history[-1]["recall"] == pytest.approx(expected["recall"])


class Scripted:
    """A model whose samples collapse from the second call on."""

    stop_training = False

    def __init__(self, real):
        self.real, self.calls = real, 0

    def generate(self, n, seed=None):
        self.calls += 1
        rng = np.random.default_rng(self.calls)
        if self.calls == 1:
            return self.real[rng.permutation(len(self.real))[:n]] + 0.001
        return np.tile(self.real[:1], (n, 1)) + 0.001 * rng.normal(size=(n, 2))


def test_a_collapse_raises_the_alarm_and_can_stop_training():
    data = ring(300)
    monitor = kgt.callbacks.QualityMonitor(
        data, extractor=lambda x: x, samples=100, stop_on_collapse=True
    )
    model = Scripted(data)
    monitor.set_model(model)
    logs = {}
    monitor.on_epoch_end(0, logs)
    assert logs["quality_recall"] > 0.5 and not monitor.alarms
    with pytest.warns(UserWarning, match="possible mode collapse at epoch 2.*recall"):
        monitor.on_epoch_end(1, logs)
    assert logs["quality_recall"] < 0.2 and model.stop_training
    assert monitor.alarms[0]["epoch"] == 2


def test_the_alarm_is_quiet_while_healthy_and_fires_on_a_forced_collapse():
    data, _ = kgt.datasets.gaussian_ring(2000, seed=0)
    keras.utils.set_random_seed(0)
    gan = kgt.GAN(mlp_generator(width=64), mlp_discriminator(width=64), seed=0)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
    )
    monitor = kgt.callbacks.QualityMonitor(data, extractor=lambda x: x, samples=300)

    class Collapse(keras.callbacks.Callback):
        """After epoch 3 (measured first) every sample is the last layer's bias."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                last = self.model.generator.layers[-1]  # (on JAX: synced state)
                last.kernel.assign(np.zeros(last.kernel.shape, "float32"))

    with pytest.warns(UserWarning, match="possible mode collapse at epoch 4"):
        history = gan.fit(
            data, batch_size=64, epochs=5, verbose=0, callbacks=[monitor, Collapse()]
        )
    recall = [row["recall"] for row in monitor.history]
    assert min(recall[:3]) > 0.2 and recall[3] < 0.05, recall
    # Quiet for the three healthy epochs (an early generator's coverage near
    # 0 wobbles, below alarm_floor: no alarm), then at every collapsed one.
    assert [alarm["epoch"] for alarm in monitor.alarms] == [4, 5]
    # The fit's history holds them too, one entry per epoch (kgt.callbacks.Alarms).
    said = history.history["alarms"]
    assert said[:3] == ["", "", ""] and "mode collapse at epoch 4" in said[3]
    assert "mode collapse at epoch 5" in said[4]


def test_quality_monitor_checks_its_arguments():
    data = ring(100)
    for kwargs, error, text in [
        ({"samples": 3}, ValueError, "samples=3"),
        ({"every": 0}, ValueError, "every=0"),
        ({"alarm_drop": 1.0}, ValueError, "alarm_drop=1.0"),
        ({"alarm_floor": -0.1}, ValueError, "alarm_floor=-0.1"),
        ({"stop_on_collapse": "yes"}, TypeError, "stop_on_collapse='yes'"),
    ]:
        with pytest.raises(error, match=text):
            kgt.callbacks.QualityMonitor(data, **kwargs)
    with pytest.raises(ValueError, match=r"at least 6 samples.*\(3, 2\)"):
        kgt.callbacks.QualityMonitor(data[:3])
    monitor = kgt.callbacks.QualityMonitor(data, extractor=lambda x: x)
    with pytest.raises(TypeError, match="generate.*Sequential"):
        monitor.set_model(keras.Sequential([keras.layers.Dense(1)]))
