"""`kgt.datasets.image_folder`: a folder of the user's own images, read as
written, scaled, resized and shuffled as documented, trained on by `fit`.

The folders are written here: scikit-learn's digits upscaled to 32 pixels
(grey, or tinted per class), in class subfolders, and small hand-made
pictures for the geometry and the formats. Bad input (and each warning) is
in `test_bad_input.py`, with its message in docs/errors.md.
"""

import os
import warnings

import keras
import numpy as np
import pytest

import keras_gan_tricks as kgt
from tests.folders import digits_folder, write_folder


def scaled(pixels):
    return np.asarray(pixels, "float32") / 127.5 - 1.0


def read(path, **kwargs):
    """`image_folder(..., as_arrays=True)`, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        return kgt.datasets.image_folder(path, as_arrays=True, **kwargs)


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    pixels, labels = digits_folder(str(root), n=120, size=32)
    return root, pixels, labels


def test_reads_every_image_exactly_with_labels_from_class_subfolders(digits_dir):
    root, pixels, labels = digits_dir
    images, got = read(root, labels="inferred")
    assert images.shape == (120, 32, 32, 1) and images.dtype == np.float32
    # PNG is lossless and no resize is asked: the pixels, scaled to [-1, 1].
    np.testing.assert_allclose(images, scaled(pixels), atol=1e-6)
    np.testing.assert_array_equal(got, labels)
    assert got.dtype == np.int32
    # Without labels: the same images, in the same (sorted) order.
    np.testing.assert_array_equal(read(root), images)


def test_dataset_streams_batches_shuffled_anew_each_epoch(digits_dir):
    root, pixels, labels = digits_dir
    data = kgt.datasets.image_folder(root, labels="inferred", batch_size=32, seed=3)
    assert data.class_names == [str(c) for c in range(10)]
    assert len(data.file_paths) == 120
    assert data.file_paths == sorted(data.file_paths)
    assert int(data.cardinality()) == 4  # 32 + 32 + 32 + 24
    assert data.element_spec[0].shape.as_list() == [None, 32, 32, 1]

    def epoch(dataset):
        images, got = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
        return np.concatenate(images), np.concatenate(got)

    first, first_labels = epoch(data)
    second, _ = epoch(data)
    # Every image once per epoch, each still with its own label.
    order = np.lexsort(first.reshape(120, -1).T)
    np.testing.assert_allclose(
        first[order], scaled(pixels)[np.lexsort(scaled(pixels).reshape(120, -1).T)]
    )
    for image, label in zip(first, first_labels, strict=True):
        (match,) = np.flatnonzero(
            (np.abs(scaled(pixels) - image) < 1e-6).all(axis=(1, 2, 3))
        )[:1]
        assert labels[match] == label
    assert not np.array_equal(first, second)  # a new order each epoch
    assert int(data.epoch.numpy()) == 2  # two passes begun
    # The same seed gives the same orders; shuffle=False the sorted one.
    again = kgt.datasets.image_folder(root, labels="inferred", batch_size=32, seed=3)
    np.testing.assert_array_equal(epoch(again)[0], first)
    # Epoch k's order is a function of (seed, k): a new process that resumes
    # at epoch 1 draws the second epoch's order, not the first's.
    resumed = kgt.datasets.image_folder(root, labels="inferred", batch_size=32, seed=3)
    resumed.epoch.assign(1)
    np.testing.assert_array_equal(epoch(resumed)[0], second)
    other = kgt.datasets.image_folder(root, labels="inferred", batch_size=32, seed=4)
    assert not np.array_equal(epoch(other)[0], first)
    plain = kgt.datasets.image_folder(root, batch_size=50, shuffle=False)
    np.testing.assert_allclose(np.concatenate(list(plain)), scaled(pixels), atol=1e-6)
    # cache=True: the same images, read from memory after the first epoch.
    cached = kgt.datasets.image_folder(root, batch_size=50, shuffle=False, cache=True)
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(list(cached)), read(root))


def test_class_names_order_the_labels(tmp_path):
    grey = np.full((4, 4), 9, "uint8")
    write_folder(str(tmp_path), {"cat/a.png": grey, "dog/b.png": grey * 2})
    _, labels = read(tmp_path, labels="inferred", class_names=["dog", "cat"])
    np.testing.assert_array_equal(labels, [1, 0])  # cat/a.png, dog/b.png
    data = kgt.datasets.image_folder(
        tmp_path, labels="inferred", class_names=["dog", "cat"]
    )
    assert data.class_names == ["dog", "cat"]


def test_formats_nested_folders_and_hidden_files(tmp_path):
    grey = np.arange(64, dtype="uint8").reshape(8, 8) * 3
    write_folder(
        str(tmp_path),
        {
            "a.png": grey,
            "B.PNG": grey,
            "deep/er/c.bmp": grey,
            "d.gif": grey,  # a GIF is stored with a palette: read as RGB
            "e.jpg": grey,
            "f.png": (grey, "P"),
            ".hidden.png": np.zeros((3, 3), "uint8"),  # ignored, as hidden
            ".ipynb_checkpoints/g.png": np.zeros((3, 3), "uint8"),
            "notes.txt": b"not an image, not a warning",
        },
    )
    images = read(tmp_path)
    # Sorted paths: B.PNG, a.png, d.gif, deep/er/c.bmp, e.jpg, f.png; all grey.
    assert images.shape == (6, 8, 8, 1)
    lossless = images[[0, 1, 2, 3, 5]]
    np.testing.assert_allclose(
        lossless, np.broadcast_to(scaled(grey)[..., None], lossless.shape), atol=1e-6
    )
    np.testing.assert_allclose(images[4, ..., 0], scaled(grey), atol=0.05)  # JPEG


def test_grey_and_colour_convert_both_ways(tmp_path):
    red = np.zeros((4, 4, 3), "uint8")
    red[..., 0] = 200
    grey = np.full((4, 4), 90, "uint8")
    write_folder(str(tmp_path), {"a.png": red, "b.png": grey})
    rgb = read(tmp_path, channels=3)
    np.testing.assert_allclose(rgb[0], scaled(red), atol=1e-6)
    np.testing.assert_allclose(rgb[1], scaled(np.dstack([grey] * 3)), atol=1e-6)
    mono = read(tmp_path, channels=1)
    # ITU-R 601 luma, as Pillow's convert("L") (which rounds to uint8).
    np.testing.assert_allclose(mono[0, ..., 0], scaled(0.299 * 200), atol=1e-5)
    assert abs((mono[0, 0, 0, 0] + 1) * 127.5 - 59.8) < 1e-3
    np.testing.assert_allclose(mono[1, ..., 0], scaled(grey), atol=1e-6)
    # An RGB file whose three channels are equal counts as grey.
    write_folder(str(tmp_path / "rgb_grey"), {"c.png": np.dstack([grey] * 3)})
    assert read(tmp_path / "rgb_grey").shape == (1, 4, 4, 1)
    # Transparency that hides nothing says nothing.
    write_folder(str(tmp_path / "opaque"), {"d.png": (red, "RGBA")})
    np.testing.assert_allclose(read(tmp_path / "opaque")[0], scaled(red), atol=1e-6)


def _bands(height, width):
    """White top quarter, grey middle half, black bottom quarter."""
    image = np.full((height, width), 128, "uint8")
    image[: height // 4] = 255
    image[height - height // 4 :] = 0
    return image


def test_aspect_crop_pad_and_stretch(tmp_path):
    tall = write_folder(str(tmp_path / "tall"), {"tall.png": _bands(40, 20)})
    # Crop: the centre 20x20 square, all grey.
    crop = read(tall, image_size=10)[0, ..., 0]
    np.testing.assert_allclose(crop, scaled(128), atol=1e-5)
    # Stretch: every band kept, squashed.
    stretch = read(tall, image_size=10, aspect="stretch")[0, ..., 0]
    assert stretch[0].min() > 0.99 and stretch[-1].max() < -0.99
    np.testing.assert_allclose(stretch[4:6], scaled(128), atol=1e-5)
    # Pad: black bars left and right of the whole (40x20) picture.
    write_folder(str(tmp_path / "wide"), {"wide.png": _bands(40, 20).T.copy()})
    pad = read(tmp_path / "wide", image_size=(20, 20), aspect="pad")[0, ..., 0]
    # The wide image is 20 high, 40 wide: bars above and below.
    assert pad.shape == (20, 20)
    np.testing.assert_allclose(pad[:4], -1.0, atol=1e-5)
    np.testing.assert_allclose(pad[-4:], -1.0, atol=1e-5)
    assert pad[6:14].max() > 0.99  # the white band survives, now a column
    # Non-square sizes and another interpolation.
    assert read(tall, image_size=(12, 6), interpolation="nearest").shape == (
        1,
        12,
        6,
        1,
    )


def test_corrupt_files_are_skipped_with_the_rest_kept(tmp_path):
    root = str(tmp_path)
    pixels, _ = digits_folder(root, n=10, size=16, classes=False)
    with open(os.path.join(root, "00003.png"), "r+b") as f:  # truncated
        f.truncate(40)
    with pytest.warns(UserWarning, match=r"skipped 1 .* of 10 .*'00003.png'"):
        images = kgt.datasets.image_folder(root, as_arrays=True)
    np.testing.assert_allclose(images, scaled(np.delete(pixels, 3, 0)), atol=1e-6)
    with pytest.raises(ValueError, match="strict=True"):
        kgt.datasets.image_folder(root, strict=True)


def test_fit_trains_on_a_folder_of_colour_digits(tmp_path):
    """`fit` on the folder's dataset, as a user would: 16x16 tinted digits
    in class subfolders (the labels ignored by an unconditional GAN, with
    its one warning), on every backend."""
    digits_folder(str(tmp_path), n=64, size=16, colour=True)
    data = kgt.datasets.image_folder(tmp_path, labels="inferred", batch_size=16, seed=0)
    assert data.element_spec[0].shape.as_list() == [None, 16, 16, 3]
    generator = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(4 * 4 * 8, activation="relu"),
            keras.layers.Reshape((4, 4, 8)),
            keras.layers.Conv2DTranspose(8, 4, strides=4, padding="same"),
            keras.layers.Conv2D(3, 3, padding="same", activation="tanh"),
        ]
    )
    discriminator = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(8, 4, strides=4, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    gan = kgt.GAN(generator, discriminator, seed=0)
    gan.compile()
    with pytest.warns(UserWarning, match="unconditional"):
        history = gan.fit(data, epochs=1, verbose=0)
    assert len(history.history["d_loss"]) == 1
    assert np.isfinite(history.history["d_loss"][0])
    assert int(gan.d_optimizer.iterations) == 4  # 64 images in batches of 16
    # fit set the data's epoch as each epoch began (so a fit resumed at
    # epoch 6 draws epoch 6's order): 6, then its pass advanced it to 7
    # (counting passes alone would give 4: the first-batch checks are passes).
    gan.fit(data, initial_epoch=6, epochs=7, verbose=0)  # warned once, above
    assert int(keras.ops.convert_to_numpy(data.epoch)) == 7


def test_fit_checks_a_datasets_first_batch(tmp_path):
    """A folder read by Keras's own loader is in [0, 255]: `fit` says so, as
    it does for arrays."""
    digits_folder(str(tmp_path), n=32, size=8, classes=False)
    data = keras.utils.image_dataset_from_directory(
        tmp_path, labels=None, image_size=(8, 8), color_mode="grayscale", batch_size=16
    )
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(64),
            keras.layers.Reshape((8, 8, 1)),
            keras.layers.Activation("tanh"),
        ]
    )
    discriminator = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    gan = kgt.GAN(generator, discriminator, seed=0)
    gan.compile()
    with pytest.warns(UserWarning, match=r"first batch` holds values in \[0, 2"):
        gan.fit(data, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        gan.fit(data.map(lambda x: x / 127.5 - 1), epochs=1, verbose=0)


def _photo_with_orientation(path, pixels, orientation):
    from PIL import Image

    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation  # EXIF Orientation, as a phone writes it
    image.save(path, quality=100, subsampling=0, exif=exif)


def test_photos_are_turned_as_their_exif_orientation_says(tmp_path):
    from PIL import Image, ImageOps

    # Lopsided: a bright block in one corner, a ramp across, so that each of
    # the eight orientations gives a different picture.
    pixels = np.zeros((12, 20, 3), "uint8")
    pixels[..., 0] = np.linspace(0, 250, 20, dtype="uint8")[None, :]
    pixels[:4, :6, 1] = 255
    for orientation in range(1, 9):
        os.makedirs(tmp_path / str(orientation))
        photo = tmp_path / str(orientation) / "photo.jpg"
        _photo_with_orientation(photo, pixels, orientation)
    images = [read(tmp_path / str(o))[0] for o in range(1, 9)]  # own sizes
    for orientation, image in zip(range(1, 9), images, strict=True):
        with Image.open(tmp_path / str(orientation) / "photo.jpg") as stored:
            shown = np.asarray(ImageOps.exif_transpose(stored))
        # The picture a viewer (Pillow's exif_transpose) shows: a quarter
        # turn for 5-8 (20x12), the stored way up for 1-4 (12x20).
        assert (
            image.shape[:2]
            == shown.shape[:2]
            == ((20, 12) if orientation > 4 else (12, 20))
        )
        # JPEG decoders differ by a few levels; a wrong turn or mirror by far more.
        assert np.abs(image - scaled(shown)).max() < 0.1, orientation
    # The eight are different pictures (the test would see a skipped turn).
    flat = {tuple(np.round(i, 1).ravel()) for i in images if i.shape == images[0].shape}
    assert len(flat) == 4
    # Sizes are checked as shown: a folder of both ways up needs image_size.
    with pytest.raises(ValueError, match="2 different sizes"):
        read(tmp_path)
    square = read(tmp_path, image_size=12)  # centre crops of what is shown
    np.testing.assert_allclose(square[0], images[0][:, 4:16], atol=1e-5)
    np.testing.assert_allclose(square[5], images[5][4:16], atol=1e-5)


def test_webp_is_read(tmp_path):
    from PIL import Image

    colour = np.zeros((6, 6, 3), "uint8")
    colour[:3, ..., 2] = 240
    Image.fromarray(colour).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_allclose(read(tmp_path)[0], scaled(colour), atol=1e-6)


def test_a_folder_is_decoded_again_only_when_its_files_change(tmp_path, monkeypatch):
    from keras_gan_tricks.datasets import decoding

    grey = np.arange(64, dtype="uint8").reshape(8, 8)
    write_folder(str(tmp_path), {"a.png": grey, "b.png": grey})
    decoded = []
    scan = decoding._scan
    monkeypatch.setattr(decoding, "_scan", lambda *a: decoded.append(1) or scan(*a))
    first = read(tmp_path)
    read(tmp_path, labels=None, channels=3)
    assert len(decoded) == 1  # the same files: the first scan's findings
    write_folder(str(tmp_path), {"b.png": np.zeros((9, 8), "uint8")})  # rewritten
    with pytest.raises(ValueError, match="2 different sizes"):
        read(tmp_path)
    assert len(decoded) == 2
    np.testing.assert_array_equal(first[1], scaled(grey)[..., None])
