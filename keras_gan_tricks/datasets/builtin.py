"""The built-in data: embedded sets that need no download, and Keras's
loaders, as NumPy arrays (images float32 `(n, height, width, channels)` in
[-1, 1])."""

import os

import numpy as np

from keras_gan_tricks._utils import check_int, check_number

RING_STD = 0.01
GRID_STD = 0.05
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


class DownloadError(OSError):
    """A dataset could not be downloaded; the message says what to do."""


def _scale(images, high):
    """uint8-like pixels in [0, high] to float32 in [-1, 1]."""
    return (np.asarray(images, "float32") / (high / 2.0) - 1.0).astype("float32")


def digits():
    """scikit-learn's 8x8 handwritten digits, scaled to [-1, 1].

    1,797 real images (about 180 per class) that ship with scikit-learn, so
    nothing is downloaded.

    Returns:
        `(images, labels)`: float32 `(1797, 8, 8, 1)` in [-1, 1] and int32
        `(1797,)` class ids 0-9.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    images = _scale(data.images, 16.0)[..., None]
    return images, data.target.astype("int32")


def _mixture(centers, n, std, seed):
    n = check_int("n", n, low=1)
    std = check_number("std", std, low=0.0, low_open=True)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(centers), n)
    samples = centers[which] + std * rng.standard_normal((n, 2))
    return samples.astype("float32"), centers.astype("float32")


def gaussian_ring(n=100_000, std=RING_STD, radius=1.0, modes=8, seed=0):
    """Samples from a ring of Gaussians (PacGAN's 2D benchmark).

    Centres `(radius cos 2πi/modes, radius sin 2πi/modes)`, equal weights.

    Args:
        n: int >= 1. Number of samples.
        std: float > 0. Each Gaussian's standard deviation (0.01).
        radius: float > 0. The ring's radius (1).
        modes: int >= 1. Number of Gaussians (8).
        seed: int or None. Seeds the draw.

    Returns:
        `(samples, centers)`: float32 `(n, 2)` and `(modes, 2)`.
    """
    modes = check_int("modes", modes, low=1)
    radius = check_number("radius", radius, low=0.0, low_open=True)
    angles = 2 * np.pi * np.arange(modes) / modes
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _mixture(centers, n, std, seed)


def gaussian_grid(n=100_000, std=GRID_STD, seed=0):
    """Samples from a 5x5 grid of Gaussians (PacGAN's 2D benchmark).

    Centres `{-4, -2, 0, 2, 4}²`, equal weights.

    Args:
        n: int >= 1. Number of samples.
        std: float > 0. Each Gaussian's standard deviation (0.05).
        seed: int or None. Seeds the draw.

    Returns:
        `(samples, centers)`: float32 `(n, 2)` and `(25, 2)`.
    """
    axis = np.arange(-4.0, 5.0, 2.0)
    centers = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    return _mixture(centers, n, std, seed)


def stacked_digits(n=60_000, seed=0):
    """Three random digits stacked as the channels of one 8x8x3 image.

    The analogue of Stacked MNIST (Metz et al. 2017) on scikit-learn's
    digits: 10 x 10 x 10 = 1,000 modes, each image's mode being its three
    classes. `kgt.evaluation.stacked_mode_count` counts the modes a generator
    covers.

    Args:
        n: int >= 1. Number of images.
        seed: int or None. Seeds which digits are stacked.

    Returns:
        `(images, modes)`: float32 `(n, 8, 8, 3)` in [-1, 1] and int32 `(n,)`
        mode ids `100 * c0 + 10 * c1 + c2`.
    """
    n = check_int("n", n, low=1)
    images, labels = digits()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(images), (n, 3))
    stacked = np.concatenate([images[picks[:, c]] for c in range(3)], axis=-1)
    modes = 100 * labels[picks[:, 0]] + 10 * labels[picks[:, 1]] + labels[picks[:, 2]]
    return stacked, modes.astype("int32")


_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (32, 32, 3)}


def _keras_load(name, path=None):
    if path is not None:
        return _load_npz(name, path)
    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), _ = loader.load_data()
    except Exception as error:
        raise DownloadError(
            f"Could not load keras.datasets.{name} ({type(error).__name__}: {error}). "
            "It is downloaded on first use: check the network connection, put the "
            "file in ~/.keras/datasets/ by hand, or pass path= an .npz file with "
            f"x_train and y_train (kgt.datasets.{name}(path='{name}.npz')). Without "
            "a download, use kgt.datasets.digits() or the Gaussian mixtures."
        ) from error
    return x_train, y_train.reshape(-1)


def _load_npz(name, path):
    """`(x_train, y_train)` from a local .npz (keras.datasets' mnist.npz
    layout), checked against the dataset's image shape."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"`path` must be an existing .npz file. Received: path={path!r}"
        )
    with np.load(path) as data:
        missing = sorted({"x_train", "y_train"} - set(data.files))
        if missing:
            raise ValueError(
                f"`path` must be an .npz holding arrays x_train and y_train (as "
                f"keras.datasets' mnist.npz). Received: path={path!r}, which holds "
                f"{sorted(data.files)}"
            )
        x, y = data["x_train"], data["y_train"].reshape(-1)
    shape = _SHAPES[name]
    if x.shape[1:] == (*shape, 1):
        x = x[..., 0]
    if x.shape[1:] != shape or len(y) != len(x):
        raise ValueError(
            f"{name}'s x_train must be (n, {', '.join(map(str, shape))}) uint8 with "
            f"n labels in y_train. Received: x_train {x.shape}, y_train {y.shape} "
            f"from path={path!r}"
        )
    return x, y


def mnist(path=None):
    """MNIST's 60,000 training digits as `(images, labels)`, images `(n, 28, 28, 1)`
    in [-1, 1]. Downloads on first use (`DownloadError` if it cannot), or
    reads `path`: an .npz with `x_train` (n, 28, 28) uint8 and `y_train`
    (keras.datasets' `mnist.npz`)."""
    x, y = _keras_load("mnist", path)
    return _scale(x, 255.0)[..., None], y.astype("int32")


def fashion_mnist(path=None):
    """Fashion-MNIST's 60,000 training images as `(images, labels)`, images
    `(n, 28, 28, 1)` in [-1, 1]. Downloads on first use, or reads `path`: an
    .npz with `x_train` (n, 28, 28) uint8 and `y_train`."""
    x, y = _keras_load("fashion_mnist", path)
    return _scale(x, 255.0)[..., None], y.astype("int32")


def cifar10(class_name=None, path=None):
    """CIFAR-10's 50,000 training images as `(images, labels)` in [-1, 1].

    Args:
        class_name: str, int or None. Keep one class only, by name (e.g.
            `"frog"`, Chollet's DCGAN) or id; None keeps all ten.
        path: str or None. An .npz with `x_train` (n, 32, 32, 3) uint8 and
            `y_train`, read instead of downloading.
    """
    if class_name is not None:
        if isinstance(class_name, str):
            if class_name not in CIFAR10_CLASSES:
                raise ValueError(
                    f"`class_name` must be one of {CIFAR10_CLASSES} or an id 0-9. "
                    f"Received: class_name={class_name!r}"
                )
            class_id = CIFAR10_CLASSES.index(class_name)
        else:
            class_id = check_int("class_name", class_name, low=0)
            if class_id > 9:
                raise ValueError(
                    f"`class_name` id must be 0-9. Received: class_name={class_name!r}"
                )
    x, y = _keras_load("cifar10", path)
    if class_name is not None:
        keep = y == class_id
        x, y = x[keep], y[keep]
    return _scale(x, 255.0), y.astype("int32")
