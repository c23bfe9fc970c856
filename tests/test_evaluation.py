import numpy as np
import pytest

from keras_gan_tricks import datasets, evaluation


@pytest.mark.parametrize("mixture,std,modes", [("ring", 0.01, 8), ("grid", 0.05, 25)])
def test_mode_coverage_of_real_samples(mixture, std, modes):
    make = datasets.gaussian_ring if mixture == "ring" else datasets.gaussian_grid
    samples, centers = make(n=2500, seed=5)
    result = evaluation.mode_coverage(samples, centers, std)
    assert result["modes"] == modes
    assert result["high_quality"] == pytest.approx(
        1 - np.exp(-4.5), abs=0.006
    )  # chi2(2) within 3 std: 98.9%
    assert result["reverse_kl"] < 0.02


def test_mode_coverage_of_a_collapsed_generator():
    samples, centers = datasets.gaussian_grid(n=2500)
    collapsed = centers[7] + 0.01 * np.random.default_rng(0).standard_normal((500, 2))
    result = evaluation.mode_coverage(collapsed, centers, 0.05)
    assert result == {
        "modes": 1,
        "high_quality": 1.0,
        "reverse_kl": pytest.approx(np.log(25)),
    }
    far = evaluation.mode_coverage(centers + 1.0, centers, 0.05)
    assert (
        far["modes"] == 0
        and far["high_quality"] == 0.0
        and far["reverse_kl"] == float("inf")
    )
    with pytest.raises(ValueError, match="same d"):
        evaluation.mode_coverage(np.zeros((3, 3)), centers, 0.05)
    with pytest.raises(ValueError, match="std=0.0"):
        evaluation.mode_coverage(samples, centers, 0.0)


@pytest.mark.slow
def test_digits_classifier_accuracy_and_cache(tmp_path):
    classifier = evaluation.digits_classifier()
    assert classifier.accuracy > 0.97
    assert evaluation.digits_classifier() is classifier  # kept in memory
    images, labels = datasets.digits()
    assert (classifier.predict(images) == labels).mean() > 0.97
    assert classifier.features(images[:5]).shape == (5, 128)


@pytest.mark.slow
def test_frechet_distance_real_vs_real_below_real_vs_noise():
    images, _ = datasets.digits()
    order = np.random.default_rng(0).permutation(len(images))
    a, b = images[order[:898]], images[order[898:]]
    noise = np.tanh(np.random.default_rng(1).standard_normal(a.shape)).astype("float32")
    real_vs_real = evaluation.frechet_distance(a, b)
    assert real_vs_real < 0.1 * evaluation.frechet_distance(a, noise)
    assert evaluation.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-3)


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = 2.0 * rng.standard_normal((20000, 3)) + 1.0
    # ||mu||^2 + tr(I + 4I - 2 * 2I) = 3 + 3.
    assert evaluation.frechet_distance_from_features(a, b) == pytest.approx(
        6.0, rel=0.03
    )


@pytest.mark.slow
def test_class_coverage_and_stacked_modes():
    images, labels = datasets.digits()
    real = evaluation.class_coverage(images)
    assert real["classes"] == 10 and real["kl_to_uniform"] < 0.01
    ones = evaluation.class_coverage(images[labels == 1])
    assert ones["classes"] <= 2 and ones["kl_to_uniform"] > 1.5
    stacked, modes = datasets.stacked_digits(n=26000)
    result = evaluation.stacked_mode_count(stacked)
    assert result["modes"] >= 990 and result["kl_to_uniform"] < 0.1
    collapsed = evaluation.stacked_mode_count(np.repeat(stacked[:1], 100, axis=0))
    assert collapsed["modes"] == 1 and collapsed["kl_to_uniform"] == pytest.approx(
        np.log(1000)
    )
    with pytest.raises(ValueError, match=r"\(n, 8, 8, 3\)"):
        evaluation.stacked_mode_count(images)


def test_kl_to_uniform_matches_scipy_and_refuses_bad_counts():
    from scipy import stats

    for counts in ([5, 5, 0, 0], [1, 2, 3, 4], [10, 0, 0, 0, 0, 0, 0, 0], [3, 3, 3]):
        counts = np.asarray(counts, "float64")
        expected = stats.entropy(
            counts / counts.sum(), np.full(len(counts), 1 / len(counts))
        )
        assert evaluation.kl_to_uniform(counts) == pytest.approx(expected)
    assert evaluation.kl_to_uniform([0, 0]) == float("inf")
    for bad in ([[1, 2]], [], [1, -1], [1, np.nan]):
        with pytest.raises(ValueError, match="counts"):
            evaluation.kl_to_uniform(bad)


@pytest.mark.slow
def test_the_summarys_real_floor_holds_for_real_images_in_class_order():
    """A folder of class subfolders is read class by class: the floor's two
    halves must still hold every class, not digits 0-4 against 5-9."""
    images, labels = datasets.digits()
    by_class = images[np.argsort(labels, kind="stable")]
    shuffled = images[np.random.default_rng(3).permutation(len(images))]
    fake = shuffled[:400]
    floor = evaluation.summary(fake, by_class)["frechet_distance_real_vs_real"]
    split_by_class = evaluation.frechet_distance(by_class[:898], by_class[898:])
    assert floor < 0.1 * split_by_class
    assert floor == pytest.approx(
        evaluation.summary(fake, shuffled)["frechet_distance_real_vs_real"], rel=0.5
    )
