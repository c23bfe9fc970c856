"""Quality figures for generated samples.

- `mode_coverage`: modes captured, high-quality fraction and reverse KL on
  the 2D Gaussian mixtures (PacGAN's protocol, Lin et al. 2018).
- `digits_classifier`: a small CNN trained once on scikit-learn's digits
  with a fixed seed and cached on disk; its held-out accuracy is reported.
- `frechet_distance`: the Fréchet distance between two sets of digit images
  in that classifier's penultimate features (FID's recipe with a digits
  network in place of Inception).
- `class_coverage`: classes generated and the KL of their histogram to
  uniform.
- `stacked_mode_count`: modes covered among stacked digits (1,000 possible).
"""

import json
import os
import warnings

import numpy as np

from keras_gan_tricks._utils import check_number

CLASSIFIER_VERSION = 1
_FEATURES = "features"
_memo = {}


def _kl_to_uniform(counts):
    """KL(p || uniform) of a histogram of counts (empty bins contribute 0)."""
    counts = np.asarray(counts, "float64")
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
        raise ValueError("`samples` holds NaN or infinite values.")
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] / std <= 3.0
    counts = np.bincount(nearest[good], minlength=len(centers))
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": float(good.mean()),
        "reverse_kl": _kl_to_uniform(counts),
    }


class DigitsClassifier:
    """A CNN over 8x8 digits in [-1, 1], for the quality figures.

    Attributes:
        model: `keras.Model` from images to 10 logits.
        accuracy: float. Held-out accuracy (20% of the digits, fixed split).
    """

    def __init__(self, model, accuracy):
        import keras

        self.model = model
        self.accuracy = float(accuracy)
        self._features = keras.Model(model.inputs, model.get_layer(_FEATURES).output)

    def _check(self, images):
        images = np.asarray(images, "float32")
        if images.ndim == 3:
            images = images[..., None]
        if images.shape[1:] != (8, 8, 1):
            raise ValueError(
                "The digits classifier takes 8x8 images, (n, 8, 8) or (n, 8, 8, 1). "
                f"Received: images of shape {images.shape}"
            )
        return images

    def predict(self, images, batch_size=1024):
        """Class ids, int `(n,)`."""
        logits = self.model.predict(
            self._check(images), batch_size=batch_size, verbose=0
        )
        return logits.argmax(axis=1)

    def features(self, images, batch_size=1024):
        """Penultimate-layer features, float64 `(n, 128)`."""
        return self._features.predict(
            self._check(images), batch_size=batch_size, verbose=0
        ).astype("float64")


def _cache_dir(cache_dir):
    if cache_dir is not None:
        return os.fspath(cache_dir)
    base = os.environ.get("KGT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "keras-gan-tricks",
    )
    return base


def _train_classifier(seed=0):
    import keras

    from keras_gan_tricks.datasets import digits

    images, labels = digits()
    order = np.random.default_rng(seed).permutation(len(images))
    split = int(0.8 * len(images))
    train, test = order[:split], order[split:]
    init = keras.initializers.GlorotUniform
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(
                32, 3, padding="same", activation="relu", kernel_initializer=init(seed)
            ),
            keras.layers.Conv2D(
                64,
                3,
                strides=2,
                padding="same",
                activation="relu",
                kernel_initializer=init(seed + 1),
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(
                128,
                activation="relu",
                kernel_initializer=init(seed + 2),
                name=_FEATURES,
            ),
            keras.layers.Dense(10, kernel_initializer=init(seed + 3)),
        ],
        name="digits_classifier",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        images[train], labels[train], batch_size=64, epochs=40, shuffle=False, verbose=0
    )
    logits = model.predict(images[test], verbose=0)
    accuracy = float((logits.argmax(axis=1) == labels[test]).mean())
    return model, accuracy


def digits_classifier(cache_dir=None, retrain=False):
    """The digits classifier, trained on first use and cached.

    Trained with a fixed seed on 80% of `kgt.datasets.digits()` (a fixed
    split); `accuracy` is measured on the other 20%. Kept in memory and in
    `cache_dir` (default `$KGT_CACHE_DIR`, else
    `~/.cache/keras-gan-tricks`), so it is trained once per machine.

    Args:
        cache_dir: str, path-like or None. Where to cache the model.
        retrain: bool. Train anew even if cached.

    Returns:
        A `DigitsClassifier`.
    """
    import keras

    directory = _cache_dir(cache_dir)
    path = os.path.join(directory, f"digits_classifier_v{CLASSIFIER_VERSION}.keras")
    meta = path + ".json"
    if not retrain and path in _memo:
        return _memo[path]
    classifier = None
    if not retrain and os.path.exists(path) and os.path.exists(meta):
        try:
            with open(meta) as f:
                accuracy = json.load(f)["accuracy"]
            classifier = DigitsClassifier(keras.saving.load_model(path), accuracy)
        except (OSError, ValueError, KeyError):
            classifier = None
    if classifier is None:
        model, accuracy = _train_classifier()
        classifier = DigitsClassifier(model, accuracy)
        try:
            os.makedirs(directory, exist_ok=True)
            model.save(path)
            with open(meta, "w") as f:
                json.dump({"accuracy": accuracy, "version": CLASSIFIER_VERSION}, f)
        except OSError:
            pass  # an unwritable cache only costs retraining next time
    _memo[path] = classifier
    return classifier


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
            "Feature sets must be (n, d) with the same d and n >= 2. "
            f"Received shapes {a.shape} and {b.shape}"
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


def frechet_distance(images_a, images_b, classifier=None):
    """Fréchet distance between two sets of 8x8 digit images.

    Computed in the digits classifier's penultimate features; lower is
    closer. Compare with the real-vs-real distance (two halves of the
    digits) as the floor.

    Args:
        images_a: array `(n, 8, 8, 1)` in [-1, 1].
        images_b: array `(m, 8, 8, 1)` in [-1, 1].
        classifier: `DigitsClassifier` or None (the cached one).
    """
    classifier = classifier or digits_classifier()
    return frechet_distance_from_features(
        classifier.features(images_a), classifier.features(images_b)
    )


def class_coverage(images, classifier=None, num_classes=10):
    """Which digit classes generated images fall in.

    Returns:
        A dict with `classes` (how many of `num_classes` occur), `kl_to_uniform`
        (KL of the class histogram to uniform; 0 for perfectly balanced
        classes, log 10 = 2.30 for a single class) and `histogram`.
    """
    classifier = classifier or digits_classifier()
    counts = np.bincount(classifier.predict(images), minlength=num_classes)
    return {
        "classes": int(np.count_nonzero(counts)),
        "kl_to_uniform": _kl_to_uniform(counts),
        "histogram": counts.tolist(),
    }


def stacked_mode_count(images, classifier=None):
    """Modes covered by stacked-digit images (`kgt.datasets.stacked_digits`).

    Each channel is classified; the three classes make the mode (of 1,000).

    Returns:
        A dict with `modes` (int) and `kl_to_uniform` over the 1,000 modes.
    """
    classifier = classifier or digits_classifier()
    images = np.asarray(images, "float32")
    if images.ndim != 4 or images.shape[1:] != (8, 8, 3):
        raise ValueError(
            f"Stacked digits are (n, 8, 8, 3). Received: images of shape {images.shape}"
        )
    digits = [classifier.predict(images[..., c : c + 1]) for c in range(3)]
    modes = 100 * digits[0] + 10 * digits[1] + digits[2]
    counts = np.bincount(modes, minlength=1000)
    return {
        "modes": int(np.count_nonzero(counts)),
        "kl_to_uniform": _kl_to_uniform(counts),
    }


def summary(images, real_images, classifier=None):
    """The demo's figures for generated digits against real ones, as a dict.

    `frechet_distance` compares all generated with all real images;
    `frechet_distance_matched` compares as many generated images as half the
    real ones with the second half, which is what `..._real_vs_real` (first
    half against second half) is the floor for.
    """
    classifier = classifier or digits_classifier()
    half = len(real_images) // 2
    real_a, real_b = real_images[:half], real_images[half:]
    coverage = class_coverage(images, classifier)
    # The Frechet distance is biased upwards at small sample sizes, so the
    # real-vs-real floor is only comparable at matched sizes.
    return {
        "frechet_distance": frechet_distance(images, real_images, classifier),
        "frechet_distance_matched": frechet_distance(images[:half], real_b, classifier),
        "frechet_distance_real_vs_real": frechet_distance(real_a, real_b, classifier),
        "matched_samples": int(half),
        "classes_covered": coverage["classes"],
        "class_kl_to_uniform": coverage["kl_to_uniform"],
        "class_histogram": coverage["histogram"],
        "classifier_accuracy": classifier.accuracy,
        "generated_samples": int(len(images)),
    }


__all__ = [
    "DigitsClassifier",
    "class_coverage",
    "digits_classifier",
    "frechet_distance",
    "frechet_distance_from_features",
    "mode_coverage",
    "stacked_mode_count",
    "summary",
]
