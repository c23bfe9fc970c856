import os

import keras
import numpy as np
import pytest
from keras import ops

import keras_gan_tricks as kgt
from tests.nets import (
    conv_discriminator,
    conv_generator,
    mlp_discriminator,
    mlp_generator,
)


def make_gan(**kwargs):
    kwargs.setdefault("seed", 0)
    return kgt.GAN(mlp_generator(), mlp_discriminator(), **kwargs)


class SubclassedGenerator(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(2)

    def call(self, z, training=False):
        return self.out(self.hidden(z))


class SubclassedDiscriminator(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16)
        self.act = keras.layers.LeakyReLU(0.2)
        self.dropout = keras.layers.Dropout(0.1)
        self.out = keras.layers.Dense(1)

    def call(self, x, training=False):
        return self.out(self.dropout(self.act(self.hidden(x)), training=training))


def weights_of(model):
    return [v.numpy() for v in model.weights]


# Training with fit.


@pytest.mark.parametrize("kind", ["sequential", "functional_conv", "subclassed"])
def test_fit_trains_both_networks(kind, points):
    if kind == "sequential":
        gan, data = make_gan(), points
    elif kind == "functional_conv":
        gan = kgt.GAN(conv_generator(), conv_discriminator(), seed=0)
        data = np.tanh(np.random.default_rng(0).standard_normal((64, 8, 8, 1))).astype(
            "float32"
        )
    else:
        gan, data = (
            kgt.GAN(SubclassedGenerator(), SubclassedDiscriminator(), latent_dim=4),
            points,
        )
    gan.compile()
    g_before, d_before = weights_of(gan.generator), weights_of(gan.discriminator)
    history = gan.fit(data, batch_size=32, epochs=2, verbose=0)
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert len(history.history[name]) == 2
        assert np.all(np.isfinite(history.history[name]))
    assert all(
        0.0 <= v <= 1.0 for v in history.history["d_real"] + history.history["d_fake"]
    )
    assert all(
        not np.allclose(a, b)
        for a, b in zip(g_before, weights_of(gan.generator), strict=True)
    )
    assert any(
        not np.allclose(a, b)
        for a, b in zip(d_before, weights_of(gan.discriminator), strict=True)
    )
    assert (
        int(gan.d_optimizer.iterations)
        == int(gan.g_optimizer.iterations)
        == 2 * len(data) // 32
    )


def test_default_optimizers_are_dcgan_adam():
    gan = make_gan()
    gan.compile()
    for opt in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == pytest.approx(2e-4)
        assert opt.beta_1 == pytest.approx(0.5)
    assert gan.d_optimizer is not gan.g_optimizer
    assert isinstance(gan.loss, kgt.losses.NonSaturating)
    # No unused Keras default optimizer to build and save: `gan.optimizer`
    # is a view of the two, for Keras's trainers and callbacks.
    assert gan.optimizer.optimizers == [gan.d_optimizer, gan.g_optimizer]
    assert [id(v) for v in gan.optimizer.variables] == [
        id(v) for v in gan.d_optimizer.variables + gan.g_optimizer.variables
    ]
    assert gan.optimizer.iterations is gan.g_optimizer.iterations
    with pytest.raises(AttributeError, match="d_optimizer.learning_rate"):
        gan.optimizer.learning_rate  # noqa: B018


def test_gan_learns_a_simple_distribution():
    # One Gaussian at (2, -1): after training, samples sit near it.
    rng = np.random.default_rng(0)
    data = (np.array([2.0, -1.0]) + 0.2 * rng.standard_normal((2048, 2))).astype(
        "float32"
    )
    gan = make_gan()
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
    )
    before = np.linalg.norm(gan.generate(512, seed=1).mean(0) - [2.0, -1.0])
    # 640 steps: enough on every backend's random stream (at 6 epochs, about
    # half of the seeds were still on the way on each backend).
    gan.fit(data, batch_size=64, epochs=20, verbose=0)
    after = np.linalg.norm(gan.generate(512, seed=1).mean(0) - [2.0, -1.0])
    assert after < 0.3 < before


@pytest.mark.parametrize(
    "loss", ["non_saturating", "minimax", "least_squares", "hinge", "wasserstein"]
)
def test_every_loss_trains(loss, points):
    gan = make_gan()
    gan.compile(
        loss=loss,
        penalty=kgt.penalties.GradientPenalty(1.0) if loss == "wasserstein" else None,
    )
    history = gan.fit(points, batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0]) and np.isfinite(
        history.history["g_loss"][0]
    )
    assert gan.loss == kgt.losses.get(loss)


@pytest.mark.parametrize("d_steps", [1, 3])
def test_d_steps_ratio_of_optimizer_steps(d_steps, points):
    gan = make_gan()
    gan.compile(d_steps=d_steps)
    gan.fit(points, batch_size=32, epochs=2, verbose=0)
    g_steps = int(gan.g_optimizer.iterations)
    assert g_steps == 16
    assert int(gan.d_optimizer.iterations) == d_steps * g_steps


def test_penalty_is_added_and_reported(points):
    gan = make_gan()
    gan.compile(penalty=kgt.penalties.R1(10.0))
    history = gan.fit(points, batch_size=64, epochs=1, verbose=0)
    assert history.history["penalty"][0] > 0.0
    plain = make_gan()
    plain.compile()
    assert "penalty" not in plain.fit(points, batch_size=64, verbose=0).history


def test_label_policy_changes_only_the_discriminator_targets(points):
    # Inverted labels teach D that real is fake; the generator's loss is
    # still the unperturbed one, so it chases what D now calls real.
    results = {}
    for policy in (None, kgt.labels.RandomFlip(1.0)):
        gan = make_gan()
        gan.compile(
            label_policy=policy,
            d_optimizer=keras.optimizers.Adam(1e-2),
            g_optimizer=keras.optimizers.SGD(0.0),
        )
        results[policy is None] = gan.fit(
            points, batch_size=64, epochs=30, verbose=0
        ).history
    assert results[True]["d_real"][-1] > 0.7 and results[True]["d_fake"][-1] < 0.3
    assert results[False]["d_real"][-1] < 0.3 and results[False]["d_fake"][-1] > 0.7
    # Evaluation uses clean targets: the flipped D now has a large loss.
    result = gan.evaluate(
        np.repeat(points, 16, axis=0), batch_size=512, verbose=0, return_dict=True
    )
    assert result["d_loss"] > 2 * np.log(2)
    z = gan.sample_latent(4096, seed=0)
    expected_g = float(gan.loss.generator_loss(gan.discriminator(gan.generator(z))))
    assert result["g_loss"] == pytest.approx(expected_g, rel=0.1)


def test_evaluate_does_not_update_weights(points):
    gan = make_gan()
    gan.compile(penalty=kgt.penalties.GradientPenalty())
    before = weights_of(gan)
    result = gan.evaluate(points, batch_size=64, verbose=0, return_dict=True)
    assert set(result) == {"d_loss", "g_loss", "d_real", "d_fake", "penalty"}
    for a, b in zip(before, weights_of(gan), strict=True):
        np.testing.assert_array_equal(a, b)


def test_tf_data_input(points):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(points).batch(32)
    gan = make_gan()
    gan.compile()
    gan.fit(dataset, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations) == 8


def test_labels_in_unconditional_data_are_ignored_with_a_warning(points):
    gan = make_gan()
    gan.compile()
    with pytest.warns(UserWarning, match="unconditional"):
        gan.fit(points, np.zeros(len(points)), batch_size=64, verbose=0)


def test_uniform_latent_distribution():
    gan = make_gan(latent_distribution="uniform")
    z = gan.sample_latent(5000, seed=0)
    assert z.shape == (5000, 4) and z.min() >= -1 and z.max() <= 1
    assert z.std() == pytest.approx(2 / np.sqrt(12), abs=0.02)
    z_step = ops.convert_to_numpy(gan.sample_latent_tensor(5000))
    assert z_step.min() >= -1 and z_step.max() <= 1
    normal = make_gan().sample_latent(5000, seed=0)
    assert normal.std() == pytest.approx(1.0, abs=0.05) and normal.min() < -2


def test_latent_dim_is_read_from_the_generator():
    assert make_gan().latent_dim == 4
    assert kgt.GAN(mlp_generator(latent_dim=7), mlp_discriminator()).latent_dim == 7


# Sampling.


def test_generate_is_deterministic_under_seed():
    gan = make_gan()
    a, b = gan.generate(10, seed=3), gan.generate(10, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 2)
    assert not np.array_equal(a, gan.generate(10, seed=4))
    # Batching does not change the samples.
    np.testing.assert_allclose(
        gan.generate(10, seed=3, batch_size=3), a, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        gan.predict(gan.sample_latent(10, seed=3), verbose=0), a, rtol=1e-5, atol=1e-6
    )


# Conditional GANs.


def conditional_networks(num_classes=3):
    z = keras.Input((4,))
    y = keras.Input((1,), dtype="int32")
    e = keras.layers.Flatten()(keras.layers.Embedding(num_classes, 4)(y))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([z, e]))
    generator = keras.Model([z, y], keras.layers.Dense(2)(h))
    x = keras.Input((2,))
    y2 = keras.Input((1,), dtype="int32")
    e2 = keras.layers.Flatten()(keras.layers.Embedding(num_classes, 4)(y2))
    h2 = keras.layers.LeakyReLU(0.2)(
        keras.layers.Dense(16)(keras.layers.Concatenate()([x, e2]))
    )
    discriminator = keras.Model([x, y2], keras.layers.Dense(1)(h2))
    return generator, discriminator


def test_conditional_gan_learns_class_means():
    rng = np.random.default_rng(0)
    means = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]], "float32")
    y = rng.integers(0, 3, 3000).astype("int32")
    x = (means[y] + 0.1 * rng.standard_normal((3000, 2))).astype("float32")
    gan = kgt.GAN(*conditional_networks(), seed=0)
    assert gan.conditional and gan.condition_shape == (1,)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
    )
    gan.fit(x, y[:, None], batch_size=64, epochs=8, verbose=0)
    for k in range(3):
        centre = gan.generate(200, seed=k, labels=np.full(200, k)).mean(0)
        distances = np.linalg.norm(means - centre, axis=1)
        # Class means are >= 2.8 apart: each label's samples sit by its own.
        assert distances.argmin() == k and distances[k] < 1.0, (k, distances)


def test_conditional_gan_from_subclassed_networks_with_condition_shape(points):
    class CondG(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            z, y = inputs
            return self.dense(ops.concatenate([z, ops.cast(y, "float32")], axis=-1))

    class CondD(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, inputs):
            x, y = inputs
            return self.dense(ops.concatenate([x, ops.cast(y, "float32")], axis=-1))

    gan = kgt.GAN(
        CondG(), CondD(), latent_dim=3, condition_shape=(2,), condition_dtype="float32"
    )
    gan.compile()
    one_hot = np.eye(2, dtype="float32")[np.arange(len(points)) % 2]
    gan.fit(points, one_hot, batch_size=64, verbose=0)
    assert gan.generate(4, seed=0, labels=one_hot[:4]).shape == (4, 2)


def test_conditional_gan_requires_labels(points):
    gan = kgt.GAN(*conditional_networks())
    gan.compile()
    with pytest.raises(ValueError, match="conditional"):
        gan.fit(points, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="labels=None"):
        gan.generate(4)
    with pytest.raises(ValueError, match=r"\(4, 1\)"):
        gan.generate(4, labels=np.zeros(3))
    with pytest.raises(ValueError, match="unconditional"):
        make_gan().generate(4, labels=np.zeros(4))


# Saving and loading.


def test_save_load_round_trip(tmp_path, points):
    policy = kgt.labels.compose(kgt.labels.UniformNoise(), kgt.labels.RandomFlip(0.05))
    gan = make_gan(latent_distribution="uniform")
    gan.compile(
        d_optimizer=keras.optimizers.RMSprop(1e-3),
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5),
        loss="least_squares",
        label_policy=policy,
        penalty=kgt.penalties.R1(2.0),
        d_steps=2,
    )
    gan.fit(points, batch_size=32, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)

    assert isinstance(loaded, kgt.GAN)
    assert loaded.latent_dim == 4 and loaded.latent_distribution == "uniform"
    assert loaded.loss == kgt.losses.LeastSquares()
    assert loaded.label_policy == policy
    assert loaded.penalty == kgt.penalties.R1(2.0)
    assert loaded.d_steps == 2
    assert isinstance(loaded.d_optimizer, keras.optimizers.RMSprop)
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(1e-4)
    for a, b in zip(weights_of(gan), weights_of(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    for opt, opt2 in (
        (gan.d_optimizer, loaded.d_optimizer),
        (gan.g_optimizer, loaded.g_optimizer),
    ):
        assert len(opt.variables) == len(opt2.variables)
        for a, b in zip(opt.variables, opt2.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (
        int(loaded.d_optimizer.iterations) == 16
        and int(loaded.g_optimizer.iterations) == 8
    )
    np.testing.assert_array_equal(gan.generate(8, seed=5), loaded.generate(8, seed=5))

    np.testing.assert_array_equal(gan.seed_generator.state, loaded.seed_generator.state)
    # Training resumes from the loaded state, identically to the original.
    gan.fit(points[:64], batch_size=32, verbose=0, shuffle=False)
    loaded.fit(points[:64], batch_size=32, verbose=0, shuffle=False)
    assert int(loaded.d_optimizer.iterations) == 20
    for a, b in zip(
        weights_of(gan.generator), weights_of(loaded.generator), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_save_load_conditional(tmp_path):
    gan = kgt.GAN(*conditional_networks())
    gan.compile()
    path = os.fspath(tmp_path / "cgan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.conditional and loaded.condition_shape == (1,)
    labels = np.arange(6) % 3
    np.testing.assert_array_equal(
        gan.generate(6, seed=1, labels=labels),
        loaded.generate(6, seed=1, labels=labels),
    )


def test_weights_round_trip_without_compile(tmp_path):
    gan = make_gan()
    path = os.fspath(tmp_path / "gan.weights.h5")
    gan.save_weights(path)
    other = make_gan()
    other.load_weights(path)
    np.testing.assert_array_equal(gan.generate(4, seed=0), other.generate(4, seed=0))


# Bad input: each raises early with the argument and its value.


def test_bad_latent_dim():
    with pytest.raises(ValueError, match="latent_dim=0"):
        kgt.GAN(SubclassedGenerator(), mlp_discriminator(), latent_dim=0)
    with pytest.raises(ValueError, match="latent_dim=-3"):
        kgt.GAN(SubclassedGenerator(), mlp_discriminator(), latent_dim=-3)
    with pytest.raises(TypeError, match="latent_dim='8'"):
        kgt.GAN(SubclassedGenerator(), mlp_discriminator(), latent_dim="8")
    with pytest.raises(ValueError, match="latent_dim=5"):
        kgt.GAN(mlp_generator(latent_dim=4), mlp_discriminator(), latent_dim=5)
    with pytest.raises(ValueError, match="latent_dim=None"):
        kgt.GAN(SubclassedGenerator(), mlp_discriminator())


def test_bad_latent_distribution():
    with pytest.raises(ValueError, match="latent_distribution='gaussian'"):
        make_gan(latent_distribution="gaussian")


def test_bad_networks():
    with pytest.raises(TypeError, match="generator="):
        kgt.GAN(lambda z: z, mlp_discriminator(), latent_dim=2)
    d = mlp_discriminator()
    with pytest.raises(ValueError, match="two different models"):
        kgt.GAN(d, d, latent_dim=2)


def test_generator_output_must_match_discriminator_input():
    with pytest.raises(
        ValueError,
        match=r"of shape \(batch, 3\)\. Received: discriminator with input shape \(batch, 2\)",
    ):
        kgt.GAN(mlp_generator(out_dim=3), mlp_discriminator(in_dim=2))
    with pytest.raises(ValueError, match="cannot take the generator's output"):
        kgt.GAN(
            conv_generator(),
            keras.Sequential([keras.layers.Conv1D(2, 3), keras.layers.Dense(1)]),
        )


def test_discriminator_must_emit_one_logit_per_sample():
    with pytest.raises(ValueError, match=r"one logit per sample.*\(None, 2\)"):
        kgt.GAN(mlp_generator(), mlp_discriminator(out_units=2))


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        ({"loss": "bce"}, ValueError, "loss='bce'"),
        ({"loss": None}, TypeError, "loss=None"),
        ({"d_steps": 0}, ValueError, "d_steps=0"),
        ({"d_steps": 1.5}, TypeError, "d_steps=1.5"),
        ({"label_policy": "smooth"}, TypeError, "label_policy='smooth'"),
        ({"penalty": 10.0}, TypeError, "penalty=10.0"),
        ({"d_optimizer": "sgdx"}, ValueError, "d_optimizer='sgdx'"),
        ({"optimizer": "adam"}, TypeError, "optimizer='adam'"),
        ({"metrics": ["accuracy"]}, TypeError, r"metrics=\['accuracy'\]"),
        (
            {"loss": "wasserstein", "label_policy": kgt.labels.OneSidedSmoothing(0.1)},
            ValueError,
            r"label_policy=OneSidedSmoothing\(smoothing=0.1\)",
        ),
    ],
)
def test_bad_compile_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        make_gan().compile(**kwargs)


def test_same_optimizer_twice_is_rejected():
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different optimizer"):
        make_gan().compile(d_optimizer=opt, g_optimizer=opt)


def test_frozen_network_is_rejected():
    gan = make_gan()
    gan.discriminator.trainable = False
    with pytest.raises(ValueError, match="discriminator has no trainable variables"):
        gan.compile()


def test_data_shape_must_match(points):
    import tensorflow as tf

    gan = make_gan()
    gan.compile()
    with pytest.raises(ValueError, match=r"Received: x of shape \(256, 3\)"):
        gan.fit(np.zeros((256, 3), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"Received: x with element shape \(None, 3\)"):
        gan.fit(
            tf.data.Dataset.from_tensor_slices(np.zeros((8, 3), "float32")).batch(4),
            verbose=0,
        )
    with pytest.raises(ValueError, match="one label per sample"):
        gan.fit(points, np.zeros(3), verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_rejected(points, bad):
    data = points.copy()
    data[17, 1] = bad
    gan = make_gan()
    gan.compile()
    with pytest.raises(
        ValueError, match=r"1 NaN or infinite value\(s\) \(the first at index \(17, 1\)"
    ):
        gan.fit(data, verbose=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        gan.evaluate(data, verbose=0)
    assert int(gan.g_optimizer.iterations) == 0


def test_bad_generate_arguments():
    gan = make_gan()
    with pytest.raises(ValueError, match="n=0"):
        gan.generate(0)
    with pytest.raises(TypeError, match="seed=1.5"):
        gan.generate(2, seed=1.5)
    with pytest.raises(ValueError, match="batch_size=0"):
        gan.generate(2, batch_size=0)


def test_config_round_trip():
    gan = make_gan(latent_distribution="uniform", seed=3, name="my_gan")
    config = gan.get_config()
    clone = kgt.GAN.from_config(config)
    assert clone.name == "my_gan" and clone.seed == 3
    assert clone.latent_distribution == "uniform" and clone.latent_dim == 4


@keras.saving.register_keras_serializable(package="kgt_tests")
class RegisteredGenerator(SubclassedGenerator):
    pass


@keras.saving.register_keras_serializable(package="kgt_tests")
class RegisteredDiscriminator(SubclassedDiscriminator):
    pass


def test_save_load_subclassed_networks(tmp_path, points):
    gan = kgt.GAN(
        RegisteredGenerator(), RegisteredDiscriminator(), latent_dim=4, seed=2
    )
    gan.compile(d_steps=2)
    gan.fit(points, batch_size=64, verbose=0)
    path = os.fspath(tmp_path / "subclassed.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.generator) is RegisteredGenerator
    assert loaded.d_steps == 2 and int(loaded.d_optimizer.iterations) == 8
    np.testing.assert_array_equal(gan.generate(5, seed=0), loaded.generate(5, seed=0))


def test_recompile_takes_effect(points):
    gan = make_gan()
    gan.compile()
    gan.fit(points, batch_size=64, verbose=0)
    gan.compile(d_steps=3, loss="hinge")
    gan.fit(points, batch_size=64, verbose=0)
    assert int(gan.g_optimizer.iterations) == 4  # a new optimizer
    assert int(gan.d_optimizer.iterations) == 12


@pytest.mark.parametrize(
    "options",
    [{"jit_compile": True}, {"steps_per_execution": 4}, {"run_eagerly": True}],
    ids=str,
)
def test_keras_compile_options(options, tmp_path, points):
    gan = make_gan()
    penalty = kgt.penalties.GradientPenalty()
    if keras.backend.backend() == "torch":
        if "steps_per_execution" in options:
            with pytest.raises(ValueError, match="steps_per_execution=4"):
                gan.compile(**options)
            return
        if "jit_compile" in options:
            # torch.compile cannot differentiate twice (for the penalty).
            with pytest.raises(ValueError, match="differentiate twice"):
                gan.compile(penalty=penalty, **options)
            penalty = None
    gan.compile(
        penalty=penalty,
        label_policy=kgt.labels.RandomFlip(0.1),
        **options,
    )
    history = gan.fit(points, batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert int(gan.g_optimizer.iterations) == 4
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    assert keras.saving.load_model(path).get_compile_config()[
        next(iter(options))
    ] == next(iter(options.values()))


def test_batch_values_are_each_batchs_own(points):
    gan = make_gan()
    gan.compile(penalty=kgt.penalties.R1(1.0))
    own, means = [], []

    def record(batch, logs):
        own.append(gan.batch_values())
        means.append(logs["d_loss"])

    gan.fit(
        points,
        batch_size=32,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=record)],
    )
    # Keras's batch logs are running means; the batch's own values undo them.
    for b in range(1, len(means)):
        expected = (b + 1) * means[b] - b * means[b - 1]
        assert own[b]["d_loss"] == pytest.approx(expected, rel=1e-3, abs=1e-4)
    assert own[-1]["d_loss"] != pytest.approx(means[-1], rel=1e-4)
    assert all(v["penalty"] > 0 for v in own)
    before = gan.batch_values()
    gan.evaluate(points, verbose=0)
    assert gan.batch_values() == before


# How the discriminator sees the real and fake batches.


def _d_with(*layers):
    return keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8), *layers, keras.layers.Dense(1)]
    )


@pytest.mark.parametrize(
    "discriminator,joint",
    [
        (lambda: _d_with(keras.layers.LeakyReLU(0.2), keras.layers.Dropout(0.2)), True),
        (lambda: _d_with(kgt.layers.InstanceNoise(0.1)), True),
        (lambda: _d_with(keras.layers.BatchNormalization()), False),
        (lambda: _d_with(kgt.layers.MinibatchStdDev()), False),
        (
            lambda: _d_with(keras.layers.Lambda(lambda x: x - keras.ops.mean(x, 0))),
            False,
        ),
        (lambda: SubclassedDiscriminator(), False),
    ],
    ids=["per_sample", "instance_noise", "batch_norm", "mbstd", "lambda", "subclassed"],
)
def test_auto_joins_the_batches_only_for_per_sample_discriminators(
    discriminator, joint
):
    gan = kgt.GAN(mlp_generator(), discriminator(), latent_dim=4)
    gan.compile()
    assert gan.joint_discriminator_batch is joint
    gan.compile(d_batch="separate")
    assert gan.joint_discriminator_batch is False


def test_joint_batch_refused_where_it_would_mix_statistics():
    gan = kgt.GAN(mlp_generator(), _d_with(keras.layers.BatchNormalization()))
    with pytest.raises(ValueError, match="BatchNormalization.*d_batch='joint'"):
        gan.compile(d_batch="joint")
    with pytest.raises(ValueError, match="d_batch='both'"):
        gan.compile(d_batch="both")


def test_joint_and_separate_batches_give_the_same_loss(points, tmp_path):
    gan = kgt.GAN(mlp_generator(), mlp_discriminator(), seed=0)
    seed_state = keras.ops.convert_to_numpy(gan.seed_generator.state)
    losses = {}
    for d_batch in ("joint", "separate"):
        gan.compile(d_batch=d_batch, label_policy=kgt.labels.OneSidedSmoothing(0.1))
        gan.seed_generator.state.assign(seed_state)  # the same fake batch
        loss, aux = gan.discriminator_objective(keras.ops.convert_to_tensor(points))
        losses[d_batch] = (float(loss), keras.ops.convert_to_numpy(aux["fake_logits"]))
    assert losses["joint"][0] == pytest.approx(losses["separate"][0], rel=1e-5)
    np.testing.assert_allclose(losses["joint"][1], losses["separate"][1], rtol=1e-5)
    # The choice is saved with the GAN.
    gan.compile(d_batch="separate")
    gan.save(tmp_path / "gan.keras")
    assert keras.saving.load_model(tmp_path / "gan.keras").d_batch == "separate"
