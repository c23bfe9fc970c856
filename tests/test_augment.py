"""`kgt.augment`: DiffAugment's transforms and ADA's adaptive probability."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from keras_gan_tricks.tricks import StepOutcome

augment = kgt.augment


def images(n=4, size=8, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, size, size, channels)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_shift_moves_each_image_by_its_own_offset_with_zero_fill():
    x = images(3)
    dy, dx = np.array([1, -2, 0]), np.array([0, 1, -1])
    out = numpy(augment.shift(x, dy, dx))
    for b in range(3):
        expected = np.zeros_like(x[b])
        h, w = x.shape[1:3]
        for i in range(h):
            for j in range(w):
                si, sj = i - dy[b], j - dx[b]
                if 0 <= si < h and 0 <= sj < w:
                    expected[i, j] = x[b, si, sj]
        np.testing.assert_allclose(out[b], expected, rtol=1e-6)


def test_translation_shifts_by_at_most_the_ratio_and_is_differentiable():
    x = np.zeros((64, 8, 8, 1), "float32")
    x[:, 4, 4, 0] = 1.0  # one bright pixel per image
    out = numpy(augment.translation(x, seed=0, ratio=0.125))  # s = 1 pixel
    moves = set()
    for b in range(64):
        ((i, j),) = np.argwhere(out[b, :, :, 0] == 1.0)
        moves.add((i - 4, j - 4))
        assert out[b].sum() == pytest.approx(1.0)
    assert moves <= {(a, c) for a in (-1, 0, 1) for c in (-1, 0, 1)}
    assert len(moves) >= 6  # the offsets vary per sample
    # Gradients flow: d sum(out) / dx is 1 where a pixel stays in the frame.
    from keras_gan_tricks._backend import primitives

    x = keras.ops.convert_to_tensor(images(8))
    g = numpy(
        primitives.input_gradient(
            lambda v: augment.translation(v, seed=keras.random.SeedGenerator(3)), x
        )
    )
    assert set(np.unique(g)) <= {0.0, 1.0} and g.sum() > 0.5 * g.size


def test_cutout_zeroes_one_square_per_image_at_most():
    x = np.ones((32, 8, 8, 3), "float32")
    out = numpy(augment.cutout(x, seed=0, ratio=0.5))  # 4x4 squares
    zeros = (out == 0).all(axis=-1).sum(axis=(1, 2))
    assert zeros.max() == 16 and zeros.min() >= 4  # clipped at the border
    for b in range(32):
        rows, cols = np.nonzero((out[b] == 0).all(axis=-1))
        # One rectangle: every pixel of its bounding box is cut.
        assert len(rows) == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    assert len({out[b].tobytes() for b in range(32)}) > 8


def test_color_jitters_per_sample_within_diffaugments_bounds():
    x = np.zeros((256, 4, 4, 3), "float32")
    out = numpy(augment.color(x, seed=0))
    # A constant image: saturation and contrast keep it constant, brightness
    # adds U(-0.5, 0.5).
    per_image = out.reshape(256, -1)
    assert np.allclose(per_image, per_image[:, :1], atol=1e-6)
    assert per_image[:, 0].min() >= -0.5 and per_image[:, 0].max() <= 0.5
    assert per_image[:, 0].std() > 0.2


def test_diffaugment_is_identity_at_probability_0_and_in_inference():
    x = images(16)
    layer = augment.DiffAugment(probability=0.0, seed=0)
    np.testing.assert_array_equal(numpy(layer(x, training=True)), x)
    layer = augment.DiffAugment(seed=0)
    np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
    assert not np.allclose(numpy(layer(x, training=True)), x)
    half = augment.DiffAugment(policy=("cutout",), probability=0.5, seed=0)
    out = numpy(half(images(200, channels=1) + 2.0, training=True))
    cut = (out == 0).any(axis=(1, 2, 3)).mean()
    assert 0.35 < cut < 0.65


def test_diffaugment_trains_g_through_every_d_input_and_round_trips(tmp_path):
    g = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Reshape((8, 8, 1)),
        ]
    )
    d = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(1),
        ]
    )
    gan = kgt.GAN(g, d, seed=0)
    diff = augment.DiffAugment(seed=0)
    gan.compile(tricks=[diff])
    before = [numpy(w).copy() for w in g.trainable_weights]
    history = gan.fit(images(64), batch_size=32, verbose=0)
    assert history.history["augment_p"] == [1.0]
    for old, w in zip(before, g.trainable_weights, strict=True):
        assert not np.allclose(old, numpy(w))  # G's gradient went through
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    (trick,) = loaded.tricks
    assert isinstance(trick, augment.DiffAugment)
    assert trick.get_config() == diff.get_config()
    # Its random stream is saved too: a resumed run draws what this one would.
    np.testing.assert_array_equal(
        numpy(trick.seed_generator.state), numpy(diff.seed_generator.state)
    )
    assert numpy(diff.seed_generator.state)[1] > 0  # it moved during fit


def test_diffaugment_refuses_samples_that_are_not_images():
    gan = kgt.GAN(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
    )
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        gan.compile(tricks=[augment.DiffAugment()])
    with pytest.raises(ValueError, match="policy=\\('flip',\\)"):
        augment.DiffAugment(policy=("flip",))


def outcome(step, sign, n=16):
    logits = np.full((n, 1), 2.0 * sign, "float32")
    return StepOutcome(
        step=keras.ops.convert_to_tensor(step),
        finite=keras.ops.convert_to_tensor(True),
        real_logits=keras.ops.convert_to_tensor(logits),
        fake_logits=keras.ops.convert_to_tensor(np.zeros_like(logits)),
    )


def test_ada_moves_p_by_its_rule_stops_at_its_bounds_and_settles():
    ada = augment.AdaptiveAugment(target=0.6, interval=4, speed=640, initial=0.0)
    p = lambda: float(ada.probability)  # noqa: E731
    for step in range(1, 9):  # D sure of every real image: r_t = 1
        ada.end_step(outcome(step, +1))
    # Two adjustments of 4 steps x 16 images / 640 = 0.1 each.
    assert p() == pytest.approx(0.2)
    assert float(ada.signs[2]) == pytest.approx(1.0)  # the last r_t
    for step in range(9, 100):
        ada.end_step(outcome(step, +1))
    assert p() == pytest.approx(1.0)  # clipped at 1
    for step in range(100, 200):  # D unsure: r_t = -1 < target
        ada.end_step(outcome(step, -1))
    assert p() == pytest.approx(0.0)
    # A D whose certainty falls as p rises (r_t = 1 - p): p settles where
    # r_t meets the target (p = 0.4), within one adjustment of it.
    settle = augment.AdaptiveAugment(target=0.6, interval=4, speed=4000)
    seen = []
    for step in range(1, 400):
        r = 1.0 - float(settle.probability)
        positives = int(round((r + 1) / 2 * 100))
        logits = np.where(np.arange(100) < positives, 1.0, -1.0)[:, None]
        settle.end_step(
            StepOutcome(
                step=keras.ops.convert_to_tensor(step),
                finite=keras.ops.convert_to_tensor(True),
                real_logits=keras.ops.convert_to_tensor(logits.astype("float32")),
                fake_logits=keras.ops.convert_to_tensor(np.zeros((100, 1), "float32")),
            )
        )
        seen.append(float(settle.probability))
    late = seen[-200:]
    assert min(late) >= 0.3 - 1e-6 and max(late) <= 0.5 + 1e-6
    assert np.mean(late) == pytest.approx(0.4, abs=0.05)


def test_ada_in_a_fit_logs_and_keeps_p_across_backup_and_restore(tmp_path):
    def nets():
        g = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(64), keras.layers.Reshape((8, 8, 1))]
        )
        d = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
        )
        return g, d

    class StopAt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    data = images(128) + 3.0  # far from G's samples: D is sure at once
    backup = os.fspath(tmp_path / "backup")
    gan = kgt.GAN(*nets(), seed=0)
    ada = augment.AdaptiveAugment(interval=2, speed=256, initial=0.5, seed=0)
    gan.compile(tricks=[ada])
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["augment_p"])

    with pytest.raises(RuntimeError, match="interrupted"):
        gan.fit(
            data,
            batch_size=32,
            epochs=4,
            verbose=0,
            callbacks=[Record(), keras.callbacks.BackupAndRestore(backup), StopAt()],
        )
    assert seen[0] > 0.5 and len(seen) == 2  # p rose, and is logged
    # A new process: new objects, the same backup directory.
    keras.backend.clear_session()
    gan2 = kgt.GAN(*nets(), seed=0)
    ada2 = augment.AdaptiveAugment(interval=2, speed=256, initial=0.5, seed=0)
    gan2.compile(tricks=[ada2])
    restored = {}

    class Peek(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model  # noqa: B018 (on JAX: syncs the train state)
            restored["p"] = float(keras.ops.convert_to_numpy(ada2.probability))

    history = gan2.fit(
        data,
        batch_size=32,
        epochs=4,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup), Peek()],
    )
    assert restored["p"] == pytest.approx(seen[1])
    assert len(history.history["augment_p"]) == 2  # epochs 3 and 4 only
    assert "ada_rt" in history.history
