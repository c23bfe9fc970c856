"""A classifier trained on your own labelled images (class subfolders, for
example), so that figures need no network trained elsewhere: its
penultimate features give FD, KID, precision/recall and density/coverage,
its predictions class coverage. It is trusted only as far as its held-out
accuracy goes, and refused below a threshold."""

import hashlib
import json
import os

import numpy as np

from keras_gan_tricks._utils import check_int, check_number
from keras_gan_tricks.evaluation.classifier import (
    FEATURES,
    ImageClassifier,
    cache_folder,
)

IMAGE_CLASSIFIER_VERSION = 1
_memo = {}


class UntrustedClassifierError(ValueError):
    """A classifier's held-out accuracy is too low for its figures to mean
    anything; the message says what it reached and what to change."""


def _check_data(images, labels):
    images = np.asarray(images)
    if images.ndim != 4 or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            "`images` must be float images (n, height, width, channels) in "
            f"[-1, 1]. Received: images of shape {images.shape} and dtype "
            f"{images.dtype}"
        )
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"`labels` must hold one int class id per image ({len(images)}). "
            f"Received: labels of shape {labels.shape} and dtype {labels.dtype}"
        )
    if len(labels) and labels.min() < 0:
        raise ValueError(
            f"`labels` must be class ids >= 0. Received: labels with minimum {labels.min()}"
        )
    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 5:
        raise ValueError(
            "`labels` must name at least 2 classes with at least 5 images each "
            "(a fifth of each class is held out to measure the classifier). "
            f"Received: labels with counts per class {counts.tolist()}"
        )
    return images.astype("float32"), labels.astype("int32")


def _split(labels, seed):
    """A stratified split: a fifth of each class (at least one image) held
    out, the rest for training, in a seeded random order."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = max(1, len(members) // 5)
        test.extend(members[:held])
        train.extend(members[held:])
    return rng.permutation(train), np.array(sorted(test))


def _network(image_shape, classes, seed):
    """Conv stages halving the size down to at most 4 pixels (widths 32,
    64, 128, 256), a 128-wide feature layer and the class logits."""
    import keras

    init = keras.initializers.GlorotUniform
    layers = [keras.Input(image_shape)]
    width, size, k = 32, min(image_shape[:2]), 0
    layers.append(
        keras.layers.Conv2D(
            width, 3, padding="same", activation="relu", kernel_initializer=init(seed)
        )
    )
    while size > 4:
        width, size, k = min(2 * width, 256), -(-size // 2), k + 1
        layers.append(
            keras.layers.Conv2D(
                width,
                3,
                strides=2,
                padding="same",
                activation="relu",
                kernel_initializer=init(seed + k),
            )
        )
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(
            128, activation="relu", kernel_initializer=init(seed + 90), name=FEATURES
        ),
        keras.layers.Dense(classes, kernel_initializer=init(seed + 91)),
    ]
    return keras.Sequential(layers, name="image_classifier")


def _train(images, labels, epochs, seed):
    import keras

    train, test = _split(labels, seed)
    classes = int(labels.max()) + 1
    model = _network(images.shape[1:], classes, seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if epochs is None:  # about 1,500 steps of 64, 5 to 60 epochs
        epochs = int(np.clip(np.ceil(1500 / np.ceil(len(train) / 64)), 5, 60))
    model.fit(
        images[train],
        labels[train],
        batch_size=64,
        epochs=epochs,
        shuffle=False,
        verbose=0,
    )
    predicted = model.predict(images[test], verbose=0).argmax(axis=1)
    accuracy = float((predicted == labels[test]).mean())
    chance = float(np.bincount(labels[test]).max() / len(test))
    return model, accuracy, chance


def _digest(images, labels, epochs, seed):
    digest = hashlib.sha256()
    for part in (images, labels):
        digest.update(str((part.shape, part.dtype.str)).encode())
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(str((epochs, seed, IMAGE_CLASSIFIER_VERSION)).encode())
    return digest.hexdigest()[:20]


def _load_or_train(images, labels, epochs, seed, cache_dir, retrain):
    import keras

    directory = cache_folder(cache_dir)
    name = f"image_classifier_v{IMAGE_CLASSIFIER_VERSION}_{_digest(images, labels, epochs, seed)}"
    path = os.path.join(directory, name + ".keras")
    if not retrain and path in _memo:
        return _memo[path]
    classifier = None
    if not retrain and os.path.exists(path) and os.path.exists(path + ".json"):
        try:
            with open(path + ".json") as f:
                meta = json.load(f)
            model = keras.saving.load_model(path)
            classifier = ImageClassifier(model, meta["accuracy"], meta["chance"])
        except (OSError, ValueError, KeyError):
            classifier = None
    if classifier is None:
        classifier = ImageClassifier(*_train(images, labels, epochs, seed))
        try:
            os.makedirs(directory, exist_ok=True)
            classifier.model.save(path)
            with open(path + ".json", "w") as f:
                json.dump(
                    {"accuracy": classifier.accuracy, "chance": classifier.chance}, f
                )
        except OSError:
            pass  # an unwritable cache only costs training again
    _memo[path] = classifier
    return classifier


def image_classifier(
    images,
    labels,
    *,
    min_accuracy=None,
    epochs=None,
    seed=0,
    cache_dir=None,
    retrain=False,
):
    """A classifier trained on your labelled images, cached by the data's hash.

    Trained with a fixed seed on four fifths of each class; `accuracy` is
    measured on the other fifth, never trained on. The network (conv stages
    down to 4 pixels, a 128-wide feature layer)
    takes any image size. It is kept in memory and on disk (`cache_dir`,
    default `$KGT_CACHE_DIR`, else `~/.cache/keras-gan-tricks`) under a hash
    of the images, labels, `epochs` and `seed`, so the same data trains it
    once per machine.

    Its figures are only as good as it is: a classifier that barely beats
    chance gives distances that do not track quality. It is refused (an
    `UntrustedClassifierError`, a `ValueError`) when its held-out accuracy
    is below `min_accuracy`, by default halfway from chance (the most
    common class's share) to perfect: 0.55 for ten balanced classes, 0.75
    for two.

    Args:
        images: float array `(n, height, width, channels)` in [-1, 1], for
            example `kgt.datasets.image_folder(path, labels="inferred",
            as_arrays=True)`'s images.
        labels: int array `(n,)` of class ids; at least 2 classes, at
            least 5 images each.
        min_accuracy: float in [0, 1] or None. The held-out accuracy below
            which the classifier is refused (None: the default above; 0
            accepts any).
        epochs: int >= 1 or None. Training epochs (None: about 1,500 steps
            of 64 images, between 5 and 60 epochs).
        seed: int. Seeds the split, the initial weights and the order.
        cache_dir: str, path-like or None. Where to cache the model.
        retrain: bool. Train anew even if cached.

    Returns:
        An `ImageClassifier`.

    Example:

    ```python
    images, labels = kgt.datasets.image_folder(
        "photos/", image_size=32, labels="inferred", as_arrays=True
    )
    classifier = kgt.evaluation.image_classifier(images, labels)
    print(classifier.accuracy, classifier.chance)
    fake = gan.generate(len(images), seed=0)
    print(kgt.evaluation.summary(fake, images, classifier))
    ```
    """
    images, labels = _check_data(images, labels)
    if min_accuracy is not None:
        min_accuracy = check_number("min_accuracy", min_accuracy, low=0.0, high=1.0)
    if epochs is not None:
        epochs = check_int("epochs", epochs, low=1)
    seed = check_int("seed", seed)
    classifier = _load_or_train(images, labels, epochs, seed, cache_dir, retrain)
    threshold = (
        classifier.chance + 0.5 * (1.0 - classifier.chance)
        if min_accuracy is None
        else min_accuracy
    )
    if classifier.accuracy < threshold:
        raise UntrustedClassifierError(
            f"The classifier trained on these images reaches {classifier.accuracy:.3f} "
            f"held-out accuracy (chance: {classifier.chance:.3f}), below the "
            f"{threshold:.3f} its figures need to be trusted. Give it more images "
            "per class, more epochs, or classes that differ more; or pass "
            "min_accuracy= to accept it. Received: "
            f"{len(images)} images of {classifier.classes} classes, "
            f"min_accuracy={min_accuracy}"
        )
    return classifier
