"""Keras's InceptionV3 as a feature extractor for images of any size: the
network FID is defined with, as Keras ships it."""

import os

import numpy as np

from keras_gan_tricks._utils import check_int

INCEPTION_SIZE = 299  # the input size of the FID protocol
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + WEIGHTS_FILE
)
WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # Keras's own check of the file


class WeightsUnavailableError(OSError):
    """InceptionV3's ImageNet weights are neither cached nor downloadable;
    the message names the file and the folder to put it in."""


def weights_folder():
    """Where Keras keeps downloaded weights: `$KERAS_HOME/models`, else
    `~/.keras/models` (`/tmp/.keras/models` where `~/.keras` is not
    writable), as `keras.utils.get_file` decides."""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or "~/.keras")
    if not os.access(home, os.W_OK) and os.path.exists(home):
        home = os.path.join("/tmp", ".keras")
    return os.path.join(home, "models")


def _imagenet_weights():
    """The weights file's path, from Keras's cache or downloaded into it."""
    import keras

    try:
        return keras.utils.get_file(
            WEIGHTS_FILE, WEIGHTS_URL, cache_subdir="models", file_hash=WEIGHTS_MD5
        )
    except Exception as error:
        folder = weights_folder()
        raise WeightsUnavailableError(
            f"InceptionV3's ImageNet weights could not be downloaded "
            f"({type(error).__name__}: {error}). Without network, download "
            f"{WEIGHTS_URL} elsewhere and put {WEIGHTS_FILE} in {folder} (the "
            "folder Keras caches weights in), or pass its path as "
            "inception_v3(weights=PATH). Without InceptionV3, measure with a "
            "classifier of your labelled images (kgt.evaluation.image_classifier) "
            "or any network of yours (kgt.evaluation.features)."
        ) from error


class InceptionFeatures:
    """InceptionV3's 2048 pool features of images in [-1, 1], any size.

    Made by `inception_v3`. Works wherever an extractor is taken:
    `kgt.evaluation.features(images, extractor)` and every figure on
    features, `kgt.callbacks.QualityMonitor(real, extractor)`.

    The images are taken as FID's protocol takes them: grey images repeated
    to three channels, resized to 299x299 (bilinear), in [-1, 1] (the range
    Keras's InceptionV3 is trained on: its `preprocess_input` maps [0, 255]
    there), through the network to its global average pool.

    Attributes:
        model: `keras.Model` from `(n, 299, 299, 3)` to `(n, 2048)`:
            `keras.applications.InceptionV3(include_top=False, pooling="avg")`.
        weights: str. `"imagenet"`, the path given, or `"random"`.
        description: str. What the figures are measured with, for a report.
    """

    def __init__(self, model, weights):
        self.model = model
        self.weights = weights
        self.description = (
            f"keras.applications.InceptionV3 ({weights} weights), 2048 pool "
            "features of the images resized to 299x299: figures comparable "
            "between runs measured this way; not the numbers of the original "
            "FID code, whose Inception graph has other weights and resizes "
            "uint8 images"
        )

    @staticmethod
    def prepare(images):
        """`images` (n, h, w, 1 or 3) in [-1, 1] as the network takes them:
        three channels, 299x299 (bilinear, no antialiasing), float32."""
        import keras

        images = np.asarray(images, "float32")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(
                "InceptionV3 takes images (n, height, width, 1 or 3) in [-1, 1]. "
                f"Received: images of shape {images.shape}"
            )
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        resized = keras.ops.image.resize(
            images, (INCEPTION_SIZE, INCEPTION_SIZE), interpolation="bilinear"
        )
        return keras.ops.convert_to_numpy(resized).astype("float32")

    def features(self, images, batch_size=32):
        """Pool features, float64 `(n, 2048)`, computed `batch_size` images
        at a time (299x299 inputs are large: the resized batch is what
        memory holds)."""
        batch_size = check_int("batch_size", batch_size, low=1)
        images = np.asarray(images, "float32")
        out = [
            np.asarray(
                self.model.predict_on_batch(self.prepare(images[i : i + batch_size])),
                "float64",
            )
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, 2048))


def inception_v3(weights="imagenet"):
    """Keras's InceptionV3 as a feature extractor for figures on any images.

    FID (Heusel et al. 2017) is the Fréchet distance in the 2048 pool
    features of InceptionV3, images resized to 299x299. This is that network
    as `keras.applications` ships it, so its figures are FID's in kind but
    not the numbers of the original FID code (TTUR's `fid.py`, and
    `pytorch-fid` after it): their Inception graph (2015-12-05) has weights
    of its own, and they resize uint8 images where this resizes the float
    images you give it. Compare figures measured the same way, between your
    runs; do not compare them with published FIDs.

    For pictures far from ImageNet (digits, medical scans, spectrograms), a
    classifier of your own labelled images
    (`kgt.evaluation.image_classifier`) often sees more of what matters.

    Args:
        weights: `"imagenet"` (from Keras's cache, `~/.keras/models`, or
            downloaded into it on first use: 84 MB), the path of a copy of
            the weights file (`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`),
            or None for random weights (to test a pipeline offline; its
            figures mean nothing).

    Returns:
        An `InceptionFeatures` (its `features(images)` gives `(n, 2048)`).

    Raises:
        WeightsUnavailableError: the weights are not cached and cannot be
            downloaded; the message names the file and the folder to put it
            in.
    """
    import keras

    if weights == "imagenet":
        path, name = _imagenet_weights(), "imagenet"
    elif weights is None:
        path, name = None, "random"
    elif isinstance(weights, (str, os.PathLike)):
        path = name = os.fspath(weights)
        if not os.path.isfile(path):
            raise ValueError(
                "`weights` must be 'imagenet', None or the path of the weights "
                f"file, and there is no file there. Received: weights={weights!r}"
            )
    else:
        raise TypeError(
            "`weights` must be 'imagenet', None or the path of the weights file. "
            f"Received: weights={weights!r}"
        )
    model = keras.applications.InceptionV3(
        include_top=False,
        weights=path,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
        pooling="avg",
    )
    return InceptionFeatures(model, name)
