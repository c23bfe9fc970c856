"""Data for GANs: your own image folders, embedded sets that need no
download, and Keras's loaders.

Images come scaled to [-1, 1] (the range of a `tanh` generator), float32
`(n, height, width, channels)`; the built-in sets as NumPy arrays that `fit`
takes directly, a folder as a `tf.data.Dataset` that streams from disk.

| function | data | download |
|---|---|---|
| `image_folder(path)` | your images: a folder of PNG, JPEG, BMP or GIF files, class subfolders optional | no |
| `digits()` | scikit-learn's 1,797 real 8x8 handwritten digits | no |
| `gaussian_ring()` | 8 Gaussians on the unit circle (PacGAN's ring) | no |
| `gaussian_grid()` | 25 Gaussians on a 5x5 grid (PacGAN's grid) | no |
| `stacked_digits()` | three digits as the channels of one image: 1,000 modes | no |
| `mnist()`, `fashion_mnist()`, `cifar10()` | `keras.datasets` | yes |
"""

from keras_gan_tricks.datasets.builtin import (
    CIFAR10_CLASSES,
    GRID_STD,
    RING_STD,
    DownloadError,
    cifar10,
    digits,
    fashion_mnist,
    gaussian_grid,
    gaussian_ring,
    mnist,
    stacked_digits,
)
from keras_gan_tricks.datasets.folder import image_folder

__all__ = [
    "CIFAR10_CLASSES",
    "GRID_STD",
    "RING_STD",
    "DownloadError",
    "cifar10",
    "digits",
    "fashion_mnist",
    "gaussian_grid",
    "gaussian_ring",
    "image_folder",
    "mnist",
    "stacked_digits",
]
