"""Features from any extractor, and the digits classifier that judges
8x8 digits: its features, Fréchet distance, class coverage and stacked
modes."""

import json
import os
import weakref

import numpy as np

from keras_gan_tricks._utils import check_int
from keras_gan_tricks.evaluation.figures import (
    frechet_distance_from_features,
    kl_to_uniform,
)

CLASSIFIER_VERSION = 1


FEATURES = "features"  # the layer whose output gives the features


_memo = {}


class ImageClassifier:
    """A CNN trained on labelled images in [-1, 1], for the quality figures.

    Made by `image_classifier` (on your images) and `digits_classifier`
    (`DigitsClassifier`). Works wherever an extractor is taken:
    `kgt.evaluation.features(images, classifier)`, `frechet_distance(...,
    classifier=...)`, `class_coverage(images, classifier)`, `summary(...,
    classifier=...)`, `kgt.callbacks.QualityMonitor(real, classifier)`.

    Attributes:
        model: `keras.Model` from images to one logit per class.
        accuracy: float. Accuracy on the held-out images (a fixed, stratified
            fifth of each class, never trained on).
        chance: float. The accuracy of always answering the most common
            class of the held-out images: what `accuracy` must clearly beat.
        classes: int. Number of classes.
        image_shape: tuple. `(height, width, channels)` of the images.
    """

    def __init__(self, model, accuracy, chance):
        import keras

        self.model = model
        self.accuracy = float(accuracy)
        self.chance = float(chance)
        self.classes = int(model.outputs[0].shape[-1])
        self.image_shape = tuple(model.inputs[0].shape[1:])
        self._features = keras.Model(model.inputs, model.get_layer(FEATURES).output)

    def _check(self, images):
        images = np.asarray(images, "float32")
        if images.ndim == 3 and self.image_shape[-1] == 1:
            images = images[..., None]
        if images.shape[1:] != self.image_shape:
            raise ValueError(
                "This classifier takes images of shape "
                f"(n, {', '.join(map(str, self.image_shape))}). Received: images "
                f"of shape {images.shape}"
            )
        return images

    def predict(self, images, batch_size=256):
        """Class ids, int `(n,)`."""
        logits = self.model.predict(
            self._check(images), batch_size=batch_size, verbose=0
        )
        return logits.argmax(axis=1)

    def features(self, images, batch_size=256):
        """Penultimate-layer features, float64 `(n, 128)`."""
        return self._features.predict(
            self._check(images), batch_size=batch_size, verbose=0
        ).astype("float64")


class DigitsClassifier(ImageClassifier):
    """A CNN over 8x8 digits in [-1, 1], for the quality figures: an
    `ImageClassifier` trained once on scikit-learn's digits.

    Attributes:
        model: `keras.Model` from images to 10 logits.
        accuracy: float. Held-out accuracy (20% of the digits, fixed split).
        chance: float. 0.1: the ten classes are balanced (178 to 183 images).
    """

    def __init__(self, model, accuracy):
        super().__init__(model, accuracy, chance=0.1)


def cache_folder(cache_dir):
    """Where trained classifiers are cached: `cache_dir`, else
    `$KGT_CACHE_DIR`, else `~/.cache/keras-gan-tricks`."""
    if cache_dir is not None:
        return os.fspath(cache_dir)
    base = os.environ.get("KGT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "keras-gan-tricks",
    )
    return base


def _train_classifier(seed=0):
    import keras

    from keras_gan_tricks.datasets.builtin import digits

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
                name=FEATURES,
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

    directory = cache_folder(cache_dir)
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


_extractors = weakref.WeakKeyDictionary()


def features(images, extractor=None, layer=None, batch_size=256):
    """Features of `images` from any extractor, float64 `(n, d)`.

    Every figure on features (`kernel_distance`, `precision_recall`,
    `density_coverage`, `frechet_distance`) then applies to any image size:
    no Inception weights needed, only a network that knows your data.

    Args:
        images: array `(n, ...)`.
        extractor: None (the digits classifier: 8x8 digits only); an object
            with a `features(images)` method (a `DigitsClassifier`, or your
            own); a `keras.Model`, whose layer `layer` gives the features
            (by default its last layer's input: a classifier's penultimate
            features, as FID takes Inception's pool layer); or any callable
            from a batch of images to features (NumPy arrays or tensors).
        layer: str or None. For a `keras.Model`: the name of the layer whose
            output is taken.
        batch_size: int >= 1. Images per call of a model or callable.

    Returns:
        float64 array `(n, d)` (feature maps flattened per sample).
    """
    import keras

    batch_size = check_int("batch_size", batch_size, low=1)
    images = np.asarray(images, "float32")
    if extractor is None:
        extractor = digits_classifier()
    if hasattr(extractor, "features") and not isinstance(extractor, keras.Model):
        out = extractor.features(images)
    elif isinstance(extractor, keras.Model):
        submodels = _extractors.setdefault(extractor, {})
        if layer not in submodels:
            if layer is None:
                output = extractor.layers[-1].input
            else:
                output = extractor.get_layer(layer).output
            submodels[layer] = keras.Model(extractor.inputs, output)
        out = submodels[layer].predict(images, batch_size=batch_size, verbose=0)
    elif callable(extractor):
        out = np.concatenate(
            [
                keras.ops.convert_to_numpy(extractor(images[i : i + batch_size]))
                for i in range(0, len(images), batch_size)
            ]
        )
    else:
        raise TypeError(
            "`extractor` must be None, a keras.Model, an object with a "
            "`features` method or a callable images -> features. "
            f"Received: extractor={extractor!r}"
        )
    out = np.asarray(out, "float64")
    return out.reshape(len(out), -1)


def frechet_distance(images_a, images_b, classifier=None):
    """Fréchet distance between two sets of images (8x8 digits by default).

    Computed in the digits classifier's penultimate features (or another
    extractor's: see `features`); lower is
    closer. Compare with the real-vs-real distance (two halves of the
    digits) as the floor.

    Args:
        images_a: array `(n, 8, 8, 1)` in [-1, 1] (any shape with another
            extractor).
        images_b: array `(m, 8, 8, 1)` in [-1, 1], likewise.
        classifier: `DigitsClassifier` or None (the cached one), or any
            extractor `features` takes (a Keras model, a callable).
    """
    return frechet_distance_from_features(
        features(images_a, classifier), features(images_b, classifier)
    )


def class_coverage(images, classifier=None, num_classes=None):
    """Which classes generated images fall in, by a classifier's predictions
    (the digits classifier by default, or an `ImageClassifier` trained on
    your labelled images).

    Args:
        images: array of images the classifier takes.
        classifier: None (the digits classifier) or an object with a
            `predict(images)` method giving class ids.
        num_classes: int or None. Number of classes (None: the classifier's
            `classes`, else 10).

    Returns:
        A dict with `classes` (how many of `num_classes` occur), `kl_to_uniform`
        (KL of the class histogram to uniform; 0 for perfectly balanced
        classes, log 10 = 2.30 for one class of ten) and `histogram`.
    """
    classifier = classifier or digits_classifier()
    if num_classes is None:
        num_classes = getattr(classifier, "classes", 10)
    counts = np.bincount(classifier.predict(images), minlength=num_classes)
    return {
        "classes": int(np.count_nonzero(counts)),
        "kl_to_uniform": kl_to_uniform(counts),
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
        "kl_to_uniform": kl_to_uniform(counts),
    }


def summary(images, real_images, classifier=None):
    """The demo's figures for generated digits against real ones, as a dict.

    `frechet_distance` compares all generated with all real images;
    `frechet_distance_matched` compares as many generated images as half the
    real ones with the second half, which is what `..._real_vs_real` (first
    half against second half) is the floor for; the halves are drawn in a
    fixed random order (seed 0), so real images sorted by class still give
    an honest floor.
    """
    classifier = classifier or digits_classifier()
    half = len(real_images) // 2
    # Halves of a fixed random order: real images in class order (as a
    # folder of class subfolders is read) would otherwise split by class.
    order = np.random.default_rng(0).permutation(len(real_images))
    real_images = np.asarray(real_images)[order]
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
