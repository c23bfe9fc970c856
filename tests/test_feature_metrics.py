"""Quality figures on any features: KID, precision/recall, density/coverage,
against NumPy references written from the papers' definitions."""

import numpy as np
import pytest

import keras_gan_tricks as kgt

evaluation = kgt.evaluation


def gaussians(n, d=4, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, d))


def radii(x, k):
    """Distance from each row to its k-th nearest other row (brute force)."""
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return np.array([np.sort(np.delete(row, i))[k - 1] for i, row in enumerate(dist)])


def inside(points, centres, r):
    """inside[j, i]: point j lies in the ball around centre i."""
    dist = np.sqrt(((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    return dist <= r[None, :]


def reference_precision_recall(real, fake, k):
    # Kynkäänniemi et al. 2019, eq. 1-2: f(phi, Phi) = 1 if phi lies within
    # the k-NN ball of some phi' in Phi.
    precision = inside(fake, real, radii(real, k)).any(1).mean()
    recall = inside(real, fake, radii(fake, k)).any(1).mean()
    return precision, recall


def reference_density_coverage(real, fake, k):
    # Naeem et al. 2020, eq. 3-4.
    hits = inside(fake, real, radii(real, k))
    return hits.sum() / (k * len(fake)), hits.any(0).mean()


def reference_kid_subset(x, y):
    # Bińkowski et al. 2018, eq. 3 with k(x, y) = (x.y / d + 1)^3.
    d, m = x.shape[1], len(x)

    def kernel(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / m**2


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_and_density_coverage_match_the_papers(k):
    real = gaussians(60, seed=0)
    fake = gaussians(45, shift=0.7, seed=1)
    got = evaluation.precision_recall(real, fake, k=k)
    precision, recall = reference_precision_recall(real, fake, k)
    assert got["precision"] == pytest.approx(precision)
    assert got["recall"] == pytest.approx(recall)
    got = evaluation.density_coverage(real, fake, k=k)
    density, coverage = reference_density_coverage(real, fake, k)
    assert got["density"] == pytest.approx(density)
    assert got["coverage"] == pytest.approx(coverage)
    assert 0 < coverage < 1 and 0 < recall < 1  # a case that tells them apart


def test_kernel_distance_matches_the_unbiased_estimator():
    real = gaussians(12, d=3, seed=2)
    fake = gaussians(12, d=3, shift=0.5, seed=3)
    got = evaluation.kernel_distance(real, fake, subsets=1, subset_size=12)
    # All of both sets in the one subset (its order does not matter).
    assert got["mean"] == pytest.approx(reference_kid_subset(real, fake), rel=1e-9)
    assert got["std"] == 0.0
    several = evaluation.kernel_distance(real, fake, subsets=20, subset_size=6)
    assert several["std"] > 0
    again = evaluation.kernel_distance(real, fake, subsets=20, subset_size=6)
    assert again == several  # seeded


def test_identical_and_disjoint_sets():
    real = gaussians(200, seed=4)
    same = evaluation.precision_recall(real, real.copy())
    assert same == {"precision": 1.0, "recall": 1.0}
    assert evaluation.density_coverage(real, real.copy())["coverage"] == 1.0
    far = real + 100.0
    assert evaluation.precision_recall(real, far) == {"precision": 0.0, "recall": 0.0}
    assert evaluation.density_coverage(real, far) == {"density": 0.0, "coverage": 0.0}
    # KID: unbiased, so about 0 (either sign) for two draws of one
    # distribution, and far above for different ones.
    other = gaussians(200, seed=5)
    close = evaluation.kernel_distance(real, other, subsets=50, subset_size=100)
    apart = evaluation.kernel_distance(real, other + 1.0, subsets=50, subset_size=100)
    assert abs(close["mean"]) < 3 * close["std"]
    assert apart["mean"] > 10 * max(close["std"], abs(close["mean"]))


def test_a_collapsed_generator_keeps_precision_and_loses_recall():
    real = gaussians(300, d=2, seed=6)
    collapsed = real[:10].repeat(30, axis=0) + 0.01 * gaussians(300, d=2, seed=7)
    figures = evaluation.precision_recall(real, collapsed)
    assert figures["precision"] > 0.9 and figures["recall"] < 0.2
    assert evaluation.density_coverage(real, collapsed)["coverage"] < 0.2


@pytest.mark.parametrize(
    "call, text",
    [
        (
            lambda: evaluation.precision_recall(np.zeros((3, 2)), np.zeros((9, 2))),
            "at least 4 samples",
        ),
        (
            lambda: evaluation.density_coverage(np.zeros((5, 2)), np.zeros((9, 2))),
            "k \\+ 1 = 6",
        ),
        (
            lambda: evaluation.kernel_distance(np.zeros((1, 2)), np.zeros((9, 2))),
            "at least 2 samples",
        ),
        (
            lambda: evaluation.precision_recall(np.zeros((9, 2)), np.zeros((9, 3))),
            r"real_features of shape \(9, 2\) and fake_features of shape \(9, 3\)",
        ),
        (
            lambda: evaluation.precision_recall(np.zeros(9), np.zeros((9, 1))),
            r"2D array.*shape \(9,\)",
        ),
        (
            lambda: evaluation.precision_recall(
                np.zeros((9, 2)), np.zeros((9, 2)), k=0
            ),
            "k=0",
        ),
        (
            lambda: evaluation.kernel_distance(
                np.zeros((9, 2)), np.zeros((9, 2)), subset_size=1
            ),
            "subset_size=1",
        ),
        (
            lambda: evaluation.density_coverage(
                np.full((9, 2), np.nan), np.zeros((9, 2))
            ),
            "must hold finite values",
        ),
    ],
)
def test_tiny_or_mismatched_sets_are_refused_clearly(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def small_classifier(shape=(12, 12, 1)):
    import keras

    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, strides=2, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", name="penultimate")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inputs, outputs)


def test_features_from_a_keras_model_a_callable_or_an_object():
    import keras

    images = np.random.default_rng(0).uniform(-1, 1, (10, 12, 12, 1))
    model = small_classifier()
    penultimate = keras.Model(model.inputs, model.get_layer("penultimate").output)
    expected = keras.ops.convert_to_numpy(penultimate(images.astype("float32")))
    got = evaluation.features(images, model, batch_size=3)
    assert got.shape == (10, 6) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    conv = evaluation.features(images, model, layer="conv")
    assert conv.shape == (10, 5 * 5 * 4)  # maps flattened per sample

    def flat(x):
        return x.reshape(len(x), -1)[:, :7] * 2

    np.testing.assert_allclose(
        evaluation.features(images, flat, batch_size=4),
        images.reshape(10, -1)[:, :7] * 2,
        rtol=1e-6,
    )

    class Extractor:
        def features(self, x):
            return np.ones((len(x), 2))

    assert evaluation.features(images, Extractor()).shape == (10, 2)
    with pytest.raises(TypeError, match="extractor=3"):
        evaluation.features(images, 3)


def test_frechet_distance_on_28x28_images_with_a_keras_model():
    rng = np.random.default_rng(1)
    model = small_classifier((28, 28, 1))
    a = rng.uniform(-1, 1, (64, 28, 28, 1))
    b = rng.uniform(-1, 1, (64, 28, 28, 1))
    near = evaluation.frechet_distance(a, b, classifier=model)
    far = evaluation.frechet_distance(a, b * 0.1 + 0.8, classifier=model)
    assert 0 <= near < far


def test_classifier_two_sample_test_tells_shifted_sets_apart_and_not_equal_ones():
    real = gaussians(400, seed=8)
    same = evaluation.classifier_two_sample_test(real, gaussians(400, seed=9))
    assert 0.4 < same["accuracy"] < 0.6 and same["p_value"] > 0.01
    assert same["test_samples"] == 400
    shifted = evaluation.classifier_two_sample_test(
        real, gaussians(400, shift=1.0, seed=9)
    )
    assert shifted["accuracy"] > 0.8 and shifted["p_value"] < 1e-6
    with pytest.raises(ValueError, match="test_fraction=1.0"):
        evaluation.classifier_two_sample_test(real, real, test_fraction=1.0)
    with pytest.raises(ValueError, match="at least 4 samples"):
        evaluation.classifier_two_sample_test(real[:3], real)


def test_the_distance_pass_agrees_across_block_sizes():
    real, fake = gaussians(50, seed=10), gaussians(37, shift=0.5, seed=11)
    r_real, r_fake = radii(real, 3), radii(fake, 3)
    whole = evaluation.figures._balls(fake, real, r_real, r_fake, rows=1024)
    blocks = evaluation.figures._balls(fake, real, r_real, r_fake, rows=7)
    for a, b in zip(whole, blocks, strict=True):
        np.testing.assert_array_equal(a, b)
    assert whole[1].any() and not whole[1].all()  # a case that tells
