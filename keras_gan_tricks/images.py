"""Image grids: many generated images tiled into one picture."""

import math
import os

import numpy as np

from keras_gan_tricks._utils import check_int


def check_images(images, arg="images"):
    """Checks that `images` is a batch of images (n, H, W) or (n, H, W, C)
    with 1, 3 or 4 channels; returns them as float32 (n, H, W, C).

    Raises `ValueError` naming `arg` otherwise."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or len(images) == 0:
        raise ValueError(
            f"`{arg}` must be a non-empty batch of images, (n, height, width) "
            "or (n, height, width, channels) with 1, 3 or 4 channels. "
            f"Received: {arg} of shape {images.shape}"
        )
    return images.astype("float32")


def image_grid(images, columns=None, value_range=(-1.0, 1.0), padding=1):
    """Tiles a batch of images into one uint8 picture.

    Args:
        images: array `(n, height, width)` or `(n, height, width, channels)`
            with 1, 3 or 4 channels.
        columns: int or None. Images per row; about `sqrt(n)` when None.
        value_range: pair of floats. The range mapped to 0..255 (a `tanh`
            generator's [-1, 1] by default); values outside are clipped.
        padding: int >= 0. Black pixels between images.

    Returns:
        A uint8 array `(rows * (h + p) + p, columns * (w + p) + p, channels)`.
    """
    images = check_images(images)
    n, height, width, channels = images.shape
    columns = (
        math.ceil(math.sqrt(n))
        if columns is None
        else check_int("columns", columns, low=1)
    )
    padding = check_int("padding", padding, low=0)
    low, high = value_range
    if not high > low:
        raise ValueError(
            f"`value_range` must have high > low. Received: value_range={value_range!r}"
        )
    pixels = np.clip((images - low) / (high - low), 0.0, 1.0)
    pixels = np.rint(np.nan_to_num(pixels) * 255).astype("uint8")
    rows = math.ceil(n / columns)
    grid = np.zeros(
        (
            rows * (height + padding) + padding,
            columns * (width + padding) + padding,
            channels,
        ),
        "uint8",
    )
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        top = padding + r * (height + padding)
        left = padding + c * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_image_grid(images, path, columns=None, value_range=(-1.0, 1.0), scale=1):
    """Writes `image_grid(images, ...)` to `path` as a PNG (with Pillow).

    Args:
        images: array of images, as for `image_grid`.
        path: str or path-like. The PNG file; its folder is created.
        columns: int or None. Images per row.
        value_range: pair of floats. The range mapped to black..white.
        scale: int >= 1. Each pixel becomes a `scale` x `scale` block, so
            small images (8x8 digits) are visible.

    Returns:
        The path written, as a string.
    """
    from PIL import Image

    scale = check_int("scale", scale, low=1)
    grid = image_grid(images, columns=columns, value_range=value_range)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    picture = Image.fromarray(grid)
    if scale > 1:
        picture = picture.resize(
            (picture.width * scale, picture.height * scale), Image.NEAREST
        )
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    picture.save(path)
    return path
