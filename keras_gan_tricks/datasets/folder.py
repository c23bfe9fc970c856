"""A folder of your own images as a `tf.data` pipeline for `GAN.fit`.

The folder is indexed and every file decoded once before training (in
parallel, with TensorFlow's decoders), so that what would fail or surprise
during training is said first: unreadable files, grey and colour mixed,
sizes that differ, images smaller than the size asked for, transparency.
Training then streams the files from disk, batch by batch.
"""

import os
import warnings

import numpy as np

from keras_gan_tricks._utils import check_int
from keras_gan_tricks.datasets import decoding

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
ASPECTS = ("crop", "pad", "stretch")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")
# Image files this loader does not decode: named in a warning, never dropped
# silently.
OTHER_IMAGES = (
    ".tif",
    ".tiff",
    ".ppm",
    ".pgm",
    ".pbm",
    ".heic",
    ".heif",
    ".avif",
    ".jxl",
    ".jp2",
    ".ico",
    ".svg",
)
_SHOWN = 3  # file names shown in a message


def image_folder(
    path,
    image_size=None,
    channels=None,
    labels=None,
    batch_size=64,
    shuffle=True,
    seed=None,
    *,
    class_names=None,
    aspect="crop",
    interpolation="bilinear",
    strict=False,
    cache=False,
    as_arrays=False,
):
    """Every image under a folder, ready for `GAN.fit`, scaled to [-1, 1].

    Reads `.png`, `.jpg`/`.jpeg`, `.bmp`, `.gif` (the first frame of an
    animation) and `.webp` files anywhere under `path`, with TensorFlow's
    decoders (`tf.io.decode_image`) and Keras's `Resizing` layer, as
    `keras.utils.image_dataset_from_directory` does; unlike it, the folder
    is checked before training, photos are turned the way their EXIF
    orientation says (as viewers and Pillow's `ImageOps.exif_transpose` do:
    a phone's portrait photo is stored on its side), and images are scaled
    to the [-1, 1] of a `tanh` generator.

    Before returning, every file is decoded once (in parallel; about a
    second per thousand small images) to find what would otherwise fail or
    surprise during training. Each of these gets one warning or an early
    `ValueError`, so nothing is lost without a word:

    - unreadable or corrupt files (and paletted BMPs, which TensorFlow
      reads as palette indices) are skipped with a warning naming the
      first few, or raise with `strict=True`;
    - grey and colour images mixed, with `channels=None`, raise (pass
      `channels=1` or `channels=3`);
    - images of different sizes, with `image_size=None`, raise (pass
      `image_size`);
    - images smaller than `image_size` are upscaled, with a warning;
    - transparent pixels lose their alpha channel, with a warning;
    - files with other image extensions (`.tif`, `.heic`, ...) are named
      in a warning.

    Args:
        path: str or path-like. The folder; its subfolders are searched too.
            Hidden files and folders (names starting with ".") are ignored.
        image_size: None, int or `(height, width)`. The size the images are
            resized to; None keeps their size, which must then be the same
            for all.
        channels: None, 1 or 3. 1 gives grey images (colour ones converted
            with ITU-R 601 luma, as Pillow's `convert("L")`), 3 gives RGB
            (grey ones repeated); None takes 1 if every image is grey (one
            channel, or three equal ones) and 3 if every image is colour.
        labels: None or `"inferred"`. `"inferred"` yields `(images, labels)`
            with each image's label the index of its class subfolder (the
            folder directly under `path` it lies in), for a conditional GAN.
        batch_size: int >= 1 or None. Images per batch; None yields single
            images.
        shuffle: bool. Shuffle the files, in a new order each epoch; False
            keeps the sorted order of their paths.
        seed: int or None. Seeds the shuffle: epoch k's order is a function
            of the seed and k, so a fit resumed at epoch k (by
            `keras.callbacks.BackupAndRestore`) sees the batches the
            uninterrupted fit saw.
        class_names: list of str or None. With `labels="inferred"`, the
            class subfolders in the order of their labels (default: sorted
            by name); it must name every class subfolder.
        aspect: `"crop"` (default), `"pad"` or `"stretch"`. How an image
            whose aspect ratio differs from `image_size`'s is fitted: a
            centre crop, black bars, or a distorted resize.
        interpolation: `"bilinear"` (default), `"nearest"`, `"bicubic"`,
            `"lanczos3"` or `"lanczos5"`. Resizing's interpolation, with
            antialiasing when images are shrunk.
        strict: bool. Raise on unreadable or corrupt files instead of
            skipping them.
        cache: bool. Keep the decoded images in memory after the first
            epoch (faster epochs when the folder fits in memory).
        as_arrays: bool. Return NumPy arrays instead of a dataset: images
            `(n, height, width, channels)` float32, or `(images, labels)`.

    Returns:
        A `tf.data.Dataset` of float32 image batches `(batch, height, width,
        channels)` in [-1, 1], or of `(images, labels)` with int32 labels;
        its `class_names` attribute lists the classes (None without labels),
        `file_paths` the files in sorted order, and `epoch` (a `tf.Variable`,
        None unshuffled) the epoch whose order the next pass draws: each
        pass adds one, and `kgt.GAN.fit` sets it at each epoch's start. With `as_arrays=True`,
        arrays in the sorted order of the files.

    Example:

    ```python
    images = kgt.datasets.image_folder("photos/", image_size=64, seed=0)
    gan.fit(images, epochs=20)
    ```
    """
    path = _check_path(path)
    image_size = _check_image_size(image_size)
    _check_choices(channels, labels, class_names, aspect, interpolation)
    _check_flags(batch_size, seed, shuffle, strict, cache, as_arrays)
    files, classes = _index(path, labels, class_names)
    infos = _scan(path, [name for name, _ in files], strict)
    files = [(name, label) for name, label in files if name in infos]
    channels = _decide_channels(path, files, infos, channels)
    size = _check_sizes(path, files, infos, image_size)
    load = decoding.loader((*size, channels), image_size, aspect, interpolation)
    dataset, epoch = decoding.pipeline(
        (
            [os.path.join(path, name) for name, _ in files],
            [infos[name][4] for name, _ in files],
        ),
        None if labels is None else [label for _, label in files],
        load,
        256 if as_arrays else batch_size,  # arrays: gathered from batches
        shuffle and not as_arrays,
        seed,
        cache,
    )
    if as_arrays:
        return decoding.arrays(dataset, labels is not None)
    dataset.class_names = classes
    dataset.file_paths = [os.path.join(path, name) for name, _ in files]
    dataset.epoch = epoch
    return dataset


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "`path` must be a folder's path (str or os.PathLike). "
            f"Received: path={path!r} of type {type(path).__name__}"
        )
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(
            "`path` must be an existing folder of images. "
            f"Received: path={path!r}, which does not exist"
        )
    if not os.path.isdir(path):
        raise ValueError(
            "`path` must be a folder of images, not a file. "
            f"Received: path={path!r}, which is a file"
        )
    return path


def _check_choices(channels, labels, class_names, aspect, interpolation):
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise ValueError(
            "`channels` must be None (taken from the images), 1 (grey) or 3 "
            f"(RGB). Received: channels={channels!r}"
        )
    if labels not in (None, "inferred"):
        raise ValueError(
            "`labels` must be None (images only) or 'inferred' (each image's "
            f"class subfolder). Received: labels={labels!r}"
        )
    if class_names is not None and labels is None:
        raise ValueError(
            "`class_names` orders the classes of labels='inferred'. Received: "
            f"class_names={class_names!r} with labels=None"
        )
    for name, value, allowed in (
        ("aspect", aspect, ASPECTS),
        ("interpolation", interpolation, INTERPOLATIONS),
    ):
        if value not in allowed:
            raise ValueError(
                f"`{name}` must be one of {', '.join(map(repr, allowed))}. "
                f"Received: {name}={value!r}"
            )


def _check_flags(batch_size, seed, shuffle, strict, cache, as_arrays):
    if batch_size is not None:
        check_int("batch_size", batch_size, low=1)
    if seed is not None:
        check_int("seed", seed)
    for name, value in (
        ("shuffle", shuffle),
        ("strict", strict),
        ("cache", cache),
        ("as_arrays", as_arrays),
    ):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(
                f"`{name}` must be True or False. Received: {name}={value!r}"
            )


def _check_image_size(image_size):
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    if image_size is None:
        return None
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
    ):
        return tuple(size)
    raise ValueError(
        "`image_size` must be None (keep the images' size), an int >= 1 or "
        f"(height, width) of ints >= 1. Received: image_size={image_size!r}"
    )


def _kind(name):
    return os.path.splitext(name)[1].lower()


def _walk(folder):
    """Every file under `folder` (hidden ones aside) as sorted relative
    POSIX paths."""
    found = []
    for here, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(here, folder)
        for name in sorted(names):
            if not name.startswith("."):
                found.append(
                    name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                )
    return sorted(found)


def _index(path, labels, class_names):
    """`([(relative path, label or None)], class names or None)`."""
    everything = _walk(path)
    _warn_other_files(path, everything)
    images = [name for name in everything if _kind(name) in EXTENSIONS]
    if not images:
        raise ValueError(_no_images_message(path, everything))
    if labels is None:
        return [(name, None) for name in images], None
    loose = [name for name in images if "/" not in name]
    folders = sorted({name.split("/")[0] for name in images if "/" in name})
    if not folders:
        raise ValueError(
            "`labels='inferred'` takes each image's class from its subfolder "
            f"of path={path!r}, but the folder has no subfolders with images "
            f"({len(images)} image(s) lie directly in it). Put each class in "
            "its own subfolder, or pass labels=None. Received: labels='inferred'"
        )
    if loose:
        raise ValueError(
            f"`labels='inferred'` needs every image in a class subfolder, but "
            f"{len(loose)} image(s) lie directly in path={path!r} "
            f"({_names(loose)}). Move them into a class subfolder, or pass "
            "labels=None. Received: labels='inferred'"
        )
    if class_names is not None:
        names = list(class_names) if isinstance(class_names, (list, tuple)) else None
        if names is None or sorted(names) != folders:
            raise ValueError(
                "`class_names` must name each class subfolder of "
                f"path={path!r} once, in the order of their labels: a "
                f"permutation of {folders}. Received: class_names={class_names!r}"
            )
        folders = names
    label = {name: i for i, name in enumerate(folders)}
    return [(name, label[name.split("/")[0]]) for name in images], folders


def _names(names, count=_SHOWN):
    shown = ", ".join(repr(n) for n in names[:count])
    return shown + (", ..." if len(names) > count else "")


def _no_images_message(path, everything):
    kinds = {}
    for name in everything:
        kind = _kind(name) or "(no extension)"
        kinds[kind] = kinds.get(kind, 0) + 1
    found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return (
        f"`path` must hold images ({', '.join(EXTENSIONS)}), in it or in its "
        f"subfolders. Received: path={path!r}, which "
        + (f"holds none (found: {found})" if found else "is empty")
    )


def _warn_other_files(path, everything):
    other = [name for name in everything if _kind(name) in OTHER_IMAGES]
    if other:
        kinds = sorted({_kind(name) for name in other})
        warnings.warn(
            f"image_folder reads {', '.join(EXTENSIONS)} files; {len(other)} "
            f"other image file(s) under {path!r} are not read ({', '.join(kinds)}: "
            f"{_names(other)}). Convert them to PNG to train on them.",
            UserWarning,
            stacklevel=4,
        )


def _scan(path, names, strict):
    """`{name: (height, width, colour, transparent, orientation)}` of the readable
    files; the others skipped with a warning, or raised on with `strict`."""
    infos, unreadable = decoding.scan(path, names)
    if unreadable:
        _report_unreadable(path, names, list(unreadable), unreadable, strict)
        if not infos:
            raise ValueError(
                f"`path` holds no image that can be read: all {len(names)} "
                f"file(s) are unreadable or corrupt ({_reasons(path, unreadable)}). "
                f"Received: path={path!r}"
            )
    _warn_transparent(path, [n for n in names if n in infos and infos[n][3]])
    return infos


def _reasons(path, unreadable):
    shown = "; ".join(
        f"{name!r} ({reason or decoding.decode_error(os.path.join(path, name))})"
        for name, reason in list(unreadable.items())[:_SHOWN]
    )
    return shown + ("; ..." if len(unreadable) > _SHOWN else "")


def _report_unreadable(path, names, bad, unreadable, strict):
    if strict:
        raise ValueError(
            f"`path` holds {len(bad)} unreadable or corrupt image file(s) of "
            f"{len(names)}: {_reasons(path, unreadable)}. Fix or remove them, or "
            f"pass strict=False to skip them. Received: path={path!r}, strict=True"
        )
    if len(bad) < len(names):
        warnings.warn(
            f"image_folder skipped {len(bad)} unreadable or corrupt image "
            f"file(s) of {len(names)} under {path!r}: {_reasons(path, unreadable)}. "
            "Pass strict=True to raise instead.",
            UserWarning,
            stacklevel=4,
        )


def _warn_transparent(path, names):
    if names:
        warnings.warn(
            f"{len(names)} image(s) under {path!r} have transparent pixels "
            f"({_names(names)}); their alpha channel is dropped, so those "
            "pixels show the colour stored under the transparency.",
            UserWarning,
            stacklevel=4,
        )


def _decide_channels(path, files, infos, channels):
    if channels is not None:
        return channels
    grey = [name for name, _ in files if not infos[name][2]]
    colour = [name for name, _ in files if infos[name][2]]
    if grey and colour:
        raise ValueError(
            f"`path` mixes grey and colour images ({len(grey)} grey: "
            f"{_names(grey, 2)}; {len(colour)} colour: {_names(colour, 2)}). "
            "Pass channels=1 to train on grey images or channels=3 for "
            "colour (keras-gan-tricks train: --channels 1 or 3). Received: "
            f"path={path!r}, channels=None"
        )
    return 3 if colour else 1


def _check_sizes(path, files, infos, image_size):
    sizes = {}
    for name, _ in files:
        sizes.setdefault(infos[name][:2], []).append(name)
    if image_size is None:
        if len(sizes) > 1:
            common = sorted(sizes.items(), key=lambda item: -len(item[1]))
            listed = "; ".join(
                f"{h}x{w}: {len(names)} ({names[0]!r})" for (h, w), names in common[:4]
            )
            listed += "; ..." if len(common) > 4 else ""
            raise ValueError(
                f"`path` holds images of {len(sizes)} different sizes (height x "
                f"width: {listed}). Pass image_size (for example "
                f"image_size={common[0][0][0]}; keras-gan-tricks train: "
                f"--image-size {common[0][0][0]}) to resize them. Received: "
                f"path={path!r}, image_size=None"
            )
        return next(iter(sizes))
    small = [
        name
        for name, _ in files
        if infos[name][0] < image_size[0] or infos[name][1] < image_size[1]
    ]
    if small:
        h, w = min((infos[name][:2] for name in small), key=lambda s: s[0] * s[1])
        warnings.warn(
            f"{len(small)} image(s) under {path!r} are smaller than "
            f"image_size={image_size} (the smallest {h}x{w}; {_names(small)}) "
            "and are upscaled, which blurs them.",
            UserWarning,
            stacklevel=3,
        )
    return image_size
