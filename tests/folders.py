"""Image folders written by the tests: the user's own pictures, made here."""

import contextlib
import os
import tempfile

import numpy as np
from PIL import Image


def write_image(path, pixels, mode=None):
    """`pixels` (uint8 `(h, w)` or `(h, w, c)`) saved at `path`, its format
    from the extension; `mode` converts first (e.g. "P", "RGBA", "CMYK")."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    pixels = np.asarray(pixels, "uint8")
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1:] == (1,) else pixels)
    if mode is not None:
        image = image.convert(mode)
    image.save(path)
    return path


def write_folder(root, files):
    """`files`: `{relative path: pixels, (pixels, mode) or bytes}`."""
    os.makedirs(root, exist_ok=True)
    for name, content in files.items():
        path = os.path.join(root, name)
        if isinstance(content, bytes):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
        elif isinstance(content, tuple):
            write_image(path, *content)
        else:
            write_image(path, content)
    return root


def digits_folder(root, n=100, size=32, classes=True, colour=False):
    """The first `n` of scikit-learn's digits, each 8x8 pixel upscaled to
    `size // 8` pixels (nearest), as PNGs in class subfolders `0` ... `9`
    (or flat). Returns `(images in [0, 255] uint8, labels)` in the sorted
    order of the files' paths, as `image_folder` reads them."""
    import keras_gan_tricks as kgt

    images, labels = kgt.datasets.digits()
    pixels = np.round((images[:n] + 1.0) * 127.5).astype("uint8")
    factor = size // 8
    pixels = pixels.repeat(factor, axis=1).repeat(factor, axis=2)
    if colour:  # tinted: a different colour per class
        tint = np.stack([labels[:n] % 3 == c for c in range(3)], -1)[:, None, None]
        pixels = np.where(tint, pixels, pixels // 2).astype("uint8")
    names = []
    for i in range(n):
        folder = f"{labels[i]}/" if classes else ""
        names.append(f"{folder}{i:05d}.png")
        write_image(os.path.join(root, names[-1]), pixels[i])
    order = np.argsort(names)
    return pixels[order], labels[:n][order]


@contextlib.contextmanager
def folder_here(files):
    """In a fresh working folder holding `photos/` with `files`, so that
    messages name the folder as the user would type it: 'photos'."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        write_folder("photos", files)
        yield "photos"
