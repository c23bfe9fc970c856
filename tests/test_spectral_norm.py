"""`kgt.layers.SpectralNormalization`: Keras's outputs from the same
weights, a kernel of spectral norm one, gradients through sigma as in the
paper, and training on every backend (PyTorch included)."""

import os

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 7, 7, 3)).astype("float32")


def pair(make, power_iterations=1):
    """kgt's layer and Keras's around two copies of one layer, with the
    same kernel and the same starting `u`."""
    ours = kgt.layers.SpectralNormalization(make(), power_iterations=power_iterations)
    theirs = keras.layers.SpectralNormalization(
        make(), power_iterations=power_iterations
    )
    ours.build(X.shape)
    theirs.build(X.shape)
    for a, b in zip(ours.layer.weights, theirs.layer.weights, strict=True):
        b.assign(a.value)
    theirs.vector_u.assign(ours.vector_u.value)
    return ours, theirs


@pytest.mark.parametrize(
    "make",
    [lambda: keras.layers.Dense(5), lambda: keras.layers.Conv2D(4, 3, strides=2)],
    ids=["dense", "conv"],
)
@pytest.mark.parametrize("power_iterations", [1, 3])
def test_matches_keras_from_the_same_weights(make, power_iterations):
    ours, theirs = pair(make, power_iterations)
    for _ in range(3):  # u moves the same way, call after call
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ours(X, training=True)),
            keras.ops.convert_to_numpy(theirs(X, training=True)),
            rtol=1e-5,
            atol=1e-5,
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ours.vector_u.value),
            keras.ops.convert_to_numpy(theirs.vector_u.value),
            rtol=1e-5,
            atol=1e-6,
        )
    # Keras rewrote its kernel; ours is untouched.
    raw = keras.ops.convert_to_numpy(ours.layer.kernel.value)
    assert not np.allclose(raw, keras.ops.convert_to_numpy(theirs.layer.kernel.value))


def test_the_normalized_kernel_has_spectral_norm_one():
    layer = kgt.layers.SpectralNormalization(keras.layers.Conv2D(8, 3))
    layer.build(X.shape)
    # A kernel of known singular values (3, then 1.5 and below), the same on
    # every backend: power iteration closes the gap by (1.5 / 3)^2 a step.
    rng = np.random.default_rng(1)
    left, _ = np.linalg.qr(rng.normal(size=(27, 8)))
    right, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    singular = np.array([3.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.3, 0.1])
    kernel = (left * singular) @ right.T
    layer.layer.kernel.assign(kernel.reshape(3, 3, 3, 8).astype("float32"))
    assert np.linalg.norm(kernel, 2) == pytest.approx(3.0)  # far from one
    for _ in range(30):
        layer(X, training=True)
    normalized = keras.ops.convert_to_numpy(layer.normalized_weight()).reshape(-1, 8)
    assert np.linalg.norm(normalized, 2) == pytest.approx(1.0, abs=1e-4)
    # At inference u is read, not moved.
    u = keras.ops.convert_to_numpy(layer.vector_u.value)
    layer(X, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.vector_u.value), u)


def _gradient(layer, x):
    """d sum(layer(x, training=False)) / d kernel, with the backend's own
    autodiff."""
    backend = keras.backend.backend()
    kernel = layer.layer.kernel
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=False))
        return tape.gradient(loss, kernel.value).numpy()
    if backend == "jax":
        import jax

        def loss(value):
            others = [(w, w.value) for w in layer.layer.weights if w is not kernel]
            with keras.StatelessScope(state_mapping=[*others, (kernel, value)]):
                return keras.ops.sum(layer(x, training=False))

        return np.asarray(jax.grad(loss)(kernel.value))
    loss = keras.ops.sum(layer(x, training=False))
    loss.backward()
    return kernel.value.grad.detach().cpu().numpy()


def test_gradients_flow_through_sigma_as_in_the_paper():
    """For a Dense layer, sum(x W / sigma) has the gradient
    G / sigma - <W, G> / sigma**2 * v u^T (G = x^T 1; u, v the singular
    vectors), which Keras's in-place layer does not give."""
    layer = kgt.layers.SpectralNormalization(keras.layers.Dense(3, use_bias=False))
    x = RNG.normal(size=(4, 5)).astype("float32")
    layer.build(x.shape)
    for _ in range(50):  # u converges to the top singular vector
        layer(x, training=True)
    w = keras.ops.convert_to_numpy(layer.layer.kernel.value).astype("float64")
    left, singular, right = np.linalg.svd(w)
    sigma, v, u = singular[0], left[:, 0], right[0]
    g = x.astype("float64").T @ np.ones((4, 3))
    expected = g / sigma - np.sum(w * g) / sigma**2 * np.outer(v, u)
    np.testing.assert_allclose(_gradient(layer, x), expected, rtol=1e-3, atol=1e-4)


def test_saves_and_reloads_with_its_vector(tmp_path):
    inputs = keras.Input((7, 7, 3))
    hidden = kgt.layers.SpectralNormalization(keras.layers.Conv2D(4, 3, strides=2))(
        inputs
    )
    logit = kgt.layers.SpectralNormalization(keras.layers.Dense(1), power_iterations=2)(
        keras.layers.Flatten()(hidden)
    )
    model = keras.Model(inputs, logit)
    model(X, training=True)
    path = os.fspath(tmp_path / "d.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[-1].power_iterations == 2
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a.value), keras.ops.convert_to_numpy(b.value)
        )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(X)),
        keras.ops.convert_to_numpy(model(X)),
        rtol=1e-6,
    )


def test_a_spectrally_normalized_dcgan_trains_on_every_backend():
    """The builders' `spectral_norm=True` uses this layer: it trains under
    kgt.GAN on PyTorch too (Keras's layer is refused there)."""
    shape = (16, 16, 1)
    discriminator = kgt.architectures.dcgan_discriminator(
        shape, base_filters=8, spectral_norm=True
    )
    kinds = [type(layer) for layer in discriminator.layers]
    assert kinds.count(kgt.layers.SpectralNormalization) == 3
    generator = kgt.architectures.dcgan_generator(16, shape, base_filters=8)
    gan = kgt.GAN(generator, discriminator, seed=0)
    gan.compile()
    images = np.tanh(RNG.normal(size=(64, *shape))).astype("float32")
    u = keras.ops.convert_to_numpy(discriminator.layers[-1].vector_u.value)
    history = gan.fit(images, batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    moved = keras.ops.convert_to_numpy(discriminator.layers[-1].vector_u.value)
    assert not np.allclose(u, moved)  # the power iteration ran in the step
