"""Quality figures on arrays: features of any extractor, or 2D points.

Fréchet distance, KID, precision/recall, density/coverage and a classifier
two-sample test on `(n, d)` features; mode coverage and the KL of a
histogram to uniform on the 2D mixtures. NumPy and SciPy only.
"""

import warnings

import numpy as np

from keras_gan_tricks._utils import check_int, check_number


def kl_to_uniform(counts):
    """KL(p || uniform) of a histogram: how far a generator's spread over
    modes or classes is from even. `sum_i p_i log(p_i K)` over the `K` bins,
    `p` the counts normalised; empty bins contribute 0 (so a generator that
    covers one of `K` modes scores log K); inf for an empty histogram. 0
    for a perfectly even spread. It is PacGAN's reverse KL (Lin et al. 2018)
    over the high-quality samples' modes.

    Args:
        counts: 1-D array of counts >= 0 (one bin per mode or class).

    Example:

    >>> round(kgt.evaluation.kl_to_uniform([5, 5, 0, 0]), 4)  # log 2
    0.6931
    """
    counts = np.asarray(counts, "float64")
    if counts.ndim != 1 or not len(counts) or not np.all(np.isfinite(counts)):
        raise ValueError(
            "`counts` must be a 1-D array of finite counts, one per bin. "
            f"Received: counts of shape {counts.shape}"
        )
    if np.any(counts < 0):
        raise ValueError(
            f"`counts` must be >= 0. Received: counts={counts.tolist()[:10]}"
        )
    total = counts.sum()
    if total == 0:
        return float("inf")
    p = counts[counts > 0] / total
    return float(np.sum(p * np.log(p * len(counts))))


def mode_coverage(samples, centers, std):
    """PacGAN's mode-coverage figures for samples of a Gaussian mixture.

    A sample is high quality if it lies within 3 standard deviations
    (Euclidean distance / `std`) of its nearest centre; a mode is captured if
    at least one high-quality sample is nearest to it; the reverse KL is
    KL(p || uniform) of the high-quality samples' histogram over the modes.
    Real data scores about 98.9% high quality (the chi-squared(2) ceiling),
    every mode, and a KL near 0; a generator stuck on one of K modes scores
    1 mode and KL log K.

    Args:
        samples: array `(n, d)`.
        centers: array `(K, d)`. The mixture's centres.
        std: float > 0. The mixture components' standard deviation.

    Returns:
        A dict with `modes` (int), `high_quality` (fraction in [0, 1]) and
        `reverse_kl` (float; inf when no sample is high quality).
    """
    samples = np.asarray(samples, "float64")
    centers = np.asarray(centers, "float64")
    std = check_number("std", std, low=0.0, low_open=True)
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(
            "`samples` and `centers` must be (n, d) and (K, d) with the same d. "
            f"Received: samples of shape {samples.shape}, centers of shape {centers.shape}"
        )
    if not np.isfinite(samples).all():
        bad = int(samples.size - np.count_nonzero(np.isfinite(samples)))
        raise ValueError(
            "`samples` holds NaN or infinite values: clean or drop those samples. "
            f"Received: samples of shape {samples.shape} holding {bad} NaN or "
            "infinite value(s)"
        )
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] / std <= 3.0
    counts = np.bincount(nearest[good], minlength=len(centers))
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": float(good.mean()),
        "reverse_kl": kl_to_uniform(counts),
    }


def frechet_distance_from_features(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets.

    `||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^½)` (Heusel et al. 2017).
    """
    from scipy import linalg

    a = np.asarray(features_a, "float64")
    b = np.asarray(features_b, "float64")
    if (
        a.ndim != 2
        or b.ndim != 2
        or a.shape[1] != b.shape[1]
        or min(len(a), len(b)) < 2
    ):
        raise ValueError(
            "`features_a` and `features_b` must be (n, d) with the same d and "
            f"n >= 2. Received: features_a of shape {a.shape} and features_b of "
            f"shape {b.shape}"
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Dead ReLU units make the covariances singular; sqrtm copes, but warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():
            offset = np.eye(len(cov_a)) * 1e-6
            covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    distance = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.trace(covmean)
    )
    return float(max(distance, 0.0))


def _feature_pair(real_features, fake_features, least):
    """Two (n, d) float64 arrays with the same d and at least `least` rows
    each, or a clear ValueError."""
    real = np.asarray(real_features, "float64")
    fake = np.asarray(fake_features, "float64")
    for name, x in (("real_features", real), ("fake_features", fake)):
        if x.ndim != 2:
            raise ValueError(
                f"`{name}` must be a 2D array (samples, features). "
                f"Received: {name} of shape {x.shape}"
            )
        if len(x) < least:
            raise ValueError(
                f"`{name}` must hold at least {least} samples here. "
                f"Received: {name} of shape {x.shape}"
            )
        if not np.isfinite(x).all():
            raise ValueError(
                f"`{name}` must hold finite values. Received: {name} of shape "
                f"{x.shape} holding NaN or inf"
            )
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            "`real_features` and `fake_features` must have the same number of "
            f"features. Received: real_features of shape {real.shape} and "
            f"fake_features of shape {fake.shape}"
        )
    return real, fake


def _distances(a, b, rows=1024):
    """Euclidean distances between the rows of `a` and `b`, (len(a), len(b)),
    computed in blocks of `rows` rows."""
    from scipy.spatial.distance import cdist

    return np.concatenate([cdist(a[i : i + rows], b) for i in range(0, len(a), rows)])


def _kth_neighbour_radii(x, k):
    """Each row's distance to its k-th nearest other row of `x`."""
    radii = np.empty(len(x))
    for i in range(0, len(x), 1024):
        block = _distances(x[i : i + 1024], x)
        # Column k of the sorted row: index 0 is the row itself (distance 0).
        radii[i : i + 1024] = np.partition(block, k, axis=1)[:, k]
    return radii


def _balls(fake, real, real_radii, fake_radii=None, rows=1024):
    """One pass over the fake-to-real distances (in blocks of `rows` fake
    samples). Returns, for each fake sample, how many real balls
    `B(real[i], real_radii[i])` hold it; for each real sample, whether a
    fake sample lies in its own ball; and, with `fake_radii`, whether it
    lies in some fake ball `B(fake[j], fake_radii[j])` (distance <= radius)."""
    held = np.zeros(len(fake), "int64")
    own = np.zeros(len(real), bool)
    in_fake = np.zeros(len(real), bool)
    for i in range(0, len(fake), rows):
        block = _distances(fake[i : i + rows], real)
        inside = block <= real_radii[None, :]
        held[i : i + rows] = inside.sum(axis=1)
        own |= inside.any(axis=0)
        if fake_radii is not None:
            in_fake |= (block <= fake_radii[i : i + rows, None]).any(axis=0)
    return held, own, in_fake


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, each ball
    reaching the sample's k-th nearest neighbour in the same set. Precision
    is the fraction of fake samples inside the real manifold (how many
    generated samples look real); recall the fraction of real samples
    inside the fake manifold (how much of the real data the generator
    covers). Both are in [0, 1]; a collapsed generator keeps precision and
    loses recall.

    Args:
        real_features, fake_features: arrays `(n, d)` of features (any
            extractor's: see `features`), at least `k + 1` rows each.
        k: int >= 1. The neighbour that sets each ball's radius (3 in the
            paper).

    Returns:
        `{"precision": float, "recall": float}`.
    """
    k = check_int("k", k, low=1)
    real, fake = _feature_pair(real_features, fake_features, k + 1)
    held, _, in_fake = _balls(
        fake, real, _kth_neighbour_radii(real, k), _kth_neighbour_radii(fake, k)
    )
    return {"precision": float(np.mean(held > 0)), "recall": float(np.mean(in_fake))}


def density_coverage(real_features, fake_features, k=5):
    """Density and coverage (Naeem et al. 2020).

    Around each real sample `x_i`, a ball reaching its k-th nearest real
    neighbour, `B_i`. For `M` fake samples `y_j` and `N` real ones:
    density `= 1/(kM) sum_j sum_i 1[y_j in B_i]` (how many real
    neighbourhoods hold each fake sample, about 1 when the two match; above
    1 when fakes crowd where the real data is dense) and coverage `= 1/N
    sum_i 1[some y_j in B_i]` (the fraction of real neighbourhoods with a
    fake sample in them). Both use only the real manifold, so they are
    robust to fake outliers, unlike precision and recall.

    Args:
        real_features, fake_features: arrays `(n, d)`, at least `k + 1` real
            rows and one fake row.
        k: int >= 1. The neighbour that sets each ball's radius (5 in the
            paper).

    Returns:
        `{"density": float, "coverage": float}`.
    """
    k = check_int("k", k, low=1)
    real, fake = _feature_pair(real_features, fake_features, 1)
    if len(real) < k + 1:
        raise ValueError(
            f"`real_features` must hold at least k + 1 = {k + 1} samples. "
            f"Received: real_features of shape {real.shape}"
        )
    held, covered, _ = _balls(fake, real, _kth_neighbour_radii(real, k))
    density = np.sum(held) / (k * len(fake))
    return {"density": float(density), "coverage": float(np.mean(covered))}


def classifier_two_sample_test(real_features, fake_features, test_fraction=0.5, seed=0):
    """A classifier two-sample test (Lopez-Paz & Oquab 2017).

    A logistic regression (scikit-learn, on standardised features) learns
    to tell real from fake on part of the samples; its accuracy on the held
    out rest is about 1/2 when the two sets come from one distribution and
    near 1 when they are easy to tell apart. The p-value is the one-sided
    binomial test of that accuracy against 1/2 (small: the generator is
    told apart).

    Args:
        real_features, fake_features: arrays `(n, d)`, at least 4 rows each.
        test_fraction: float in (0, 1). Share of each set held out.
        seed: int. Seeds the split.

    Returns:
        `{"accuracy": float, "p_value": float, "test_samples": int}`.
    """
    from scipy.stats import binomtest
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    test_fraction = check_number(
        "test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True
    )
    seed = check_int("seed", seed)
    real, fake = _feature_pair(real_features, fake_features, 4)
    rng = np.random.default_rng(seed)
    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    test = np.zeros(len(x), bool)
    for index in (np.arange(len(real)), len(real) + np.arange(len(fake))):
        held = max(1, min(len(index) - 1, int(round(test_fraction * len(index)))))
        test[rng.permutation(index)[:held]] = True
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x[~test], y[~test])
    right = int(np.sum(model.predict(x[test]) == y[test]))
    total = int(test.sum())
    p_value = binomtest(right, total, 0.5, alternative="greater").pvalue
    return {"accuracy": right / total, "p_value": float(p_value), "test_samples": total}


def kernel_distance(
    real_features, fake_features, subsets=100, subset_size=1000, seed=0
):
    """Kernel Inception Distance's estimator on any features (Bińkowski et
    al. 2018, "Demystifying MMD GANs").

    The squared maximum mean discrepancy with the cubic polynomial kernel
    `k(x, y) = (x . y / d + 1) ** 3` (`d` features), estimated without bias
    on `subsets` random subsets of `m = min(subset_size, n_real, n_fake)`
    samples from each set:
    `MMD² = [sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)] / (m (m - 1))
    - 2 sum_{i, j} k(x_i, y_j) / m²`. Unlike the Fréchet distance it has no
    bias in the sample size, so it is honest on small samples; it can be
    slightly negative when the sets match.

    Args:
        real_features, fake_features: arrays `(n, d)`, at least 2 rows each.
        subsets: int >= 1. Random subsets averaged.
        subset_size: int >= 2. Samples per subset (capped at the sets' sizes).
        seed: int. Seeds the subsets' draws.

    Returns:
        `{"mean": float, "std": float}`: the mean and the standard deviation
        of the subsets' estimates (KID's usual report; the standard error of
        the mean is `std / sqrt(subsets)`).
    """
    subsets = check_int("subsets", subsets, low=1)
    subset_size = check_int("subset_size", subset_size, low=2)
    seed = check_int("seed", seed)
    real, fake = _feature_pair(real_features, fake_features, 2)
    m = min(subset_size, len(real), len(fake))
    d = real.shape[1]
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for s in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        k_xx = (x @ x.T / d + 1) ** 3
        k_yy = (y @ y.T / d + 1) ** 3
        k_xy = (x @ y.T / d + 1) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (
            m * (m - 1)
        )
        estimates[s] = within - 2 * k_xy.sum() / m**2
    return {"mean": float(estimates.mean()), "std": float(estimates.std())}
