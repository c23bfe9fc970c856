"""Reading image files with TensorFlow's decoders, for `image_folder`:
one pass that learns each file's size, colours and orientation (or why it
cannot be read), and the streaming pipeline that feeds `fit`."""

import os

import numpy as np

# ITU-R 601 luma, as Pillow's convert("L"); the weights sum to one, so grey
# stored as three equal channels keeps its values.
LUMA = (0.299, 0.587, 0.114)
PALETTED_BMP = "a paletted BMP, which TensorFlow reads as palette indices"
EXIF_ORIENTATION = 0x0112  # the EXIF tag cameras and phones set
_SCANS = {}  # (root, names, file stamps) -> scan(root, names): one per folder state


def paletted_bmps(root, names):
    """The BMPs among `names` that hold a palette: TensorFlow decodes
    their palette indices as pixels."""
    from PIL import Image

    found = set()
    for name in names:
        if os.path.splitext(name)[1].lower() == ".bmp":
            try:
                with Image.open(os.path.join(root, name)) as image:
                    if image.mode in ("P", "1"):
                        found.add(name)
            except Exception:
                pass  # unreadable: the decoder says why
    return found


def jpeg_orientations(root, names):
    """`{name: orientation}` of the JPEGs among `names` whose EXIF
    orientation (2-8) says that viewers turn or mirror them: TensorFlow's
    decoder returns the stored pixels, as they lie in the file. (Read from
    the file's header by Pillow, without decoding it.)"""
    from PIL import Image

    found = {}
    for name in names:
        if os.path.splitext(name)[1].lower() in (".jpg", ".jpeg"):
            try:
                with Image.open(os.path.join(root, name)) as image:
                    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            except Exception:
                continue  # unreadable: the decoder says why
            if orientation in range(2, 9):
                found[name] = int(orientation)
    return found


def orient(image, orientation):
    """`image` (height, width, channels) as a viewer shows it, given its EXIF
    `orientation` (1-8; others are taken as 1), as Pillow's
    `ImageOps.exif_transpose`: 2 mirrored, 3 turned 180 degrees, 4 flipped,
    5 transposed, 6 turned 90 degrees clockwise, 7 transversed, 8 turned 90
    degrees anticlockwise."""
    import tensorflow as tf

    def transposed():
        return tf.transpose(image, [1, 0, 2])

    branches = [
        lambda: image,
        lambda: image,
        lambda: tf.reverse(image, [1]),
        lambda: tf.reverse(image, [0, 1]),
        lambda: tf.reverse(image, [0]),
        transposed,
        lambda: tf.reverse(transposed(), [1]),
        lambda: tf.reverse(transposed(), [0, 1]),
        lambda: tf.reverse(transposed(), [0]),
    ]
    index = tf.where((orientation >= 1) & (orientation <= 8), orientation, 0)
    return tf.switch_case(tf.cast(index, "int32"), branches)


def _decode(path):
    import tensorflow as tf

    return tf.io.decode_image(
        tf.io.read_file(path), channels=0, expand_animations=False
    )


def probe(path):
    """`(height, width, colour, transparent)` of one image file, in graph
    ops (a corrupt file raises when the dataset is iterated)."""
    import tensorflow as tf

    image = _decode(path)
    shape = tf.shape(image)
    count = shape[2]
    colour = tf.cond(
        count >= 3,
        lambda: (
            tf.reduce_any(image[..., 0] != image[..., 1])
            | tf.reduce_any(image[..., 1] != image[..., 2])
        ),
        lambda: tf.constant(False),
    )
    transparent = tf.cond(
        count % 2 == 0,
        lambda: tf.reduce_min(image[..., -1]) < 255,
        lambda: tf.constant(False),
    )
    return shape[0], shape[1], colour, transparent


def decode_error(path):
    """Why TensorFlow cannot decode one file, in a few words."""
    try:
        _decode(path)
    except Exception as error:  # TensorFlow's InvalidArgumentError and kin
        message = getattr(error, "message", str(error)).split("\n")[0]
        message = message.split("}} ")[-1].split(" [Op:")[0]
        return message.split(". ")[0].strip().rstrip(".")
    return "unreadable"


def scan(root, names):
    """Each file decoded once, in parallel: `(infos, unreadable)`, `infos`
    `{name: (height, width, colour, transparent, orientation)}` of the
    readable files (height and width as a viewer shows the image, after its
    EXIF orientation) and `unreadable` `{name: reason or None}` of the
    others. A folder scanned before in this process, whose files have not
    changed since (same names, sizes and modification times), is not
    decoded again."""
    key = (root, tuple(names), tuple(_stamp(root, name) for name in names))
    if key not in _SCANS:
        _SCANS.clear()  # one folder's scan kept: enough for a run's reads
        _SCANS[key] = _scan(root, names)
    infos, unreadable = _SCANS[key]
    return dict(infos), dict(unreadable)


def _stamp(root, name):
    try:
        stat = os.stat(os.path.join(root, name))
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _scan(root, names):
    import tensorflow as tf

    paths = [os.path.join(root, name) for name in names]
    probes = (
        tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
        .map(
            lambda i, p: (i, *probe(p)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        .ignore_errors()
        .batch(1024)
    )
    infos = {}
    for batch in probes.as_numpy_iterator():
        for index, height, width, colour, transparent in zip(*batch, strict=True):
            infos[names[index]] = (
                int(height),
                int(width),
                bool(colour),
                bool(transparent),
                1,
            )
    palette = paletted_bmps(root, infos)
    turned = jpeg_orientations(root, infos)
    for name, orientation in turned.items():
        height, width, colour, transparent, _ = infos[name]
        if orientation >= 5:  # a quarter turn: the viewer's height is the width
            height, width = width, height
        infos[name] = (height, width, colour, transparent, orientation)
    unreadable = {}
    for name in names:
        if name in palette:
            unreadable[name] = PALETTED_BMP
            del infos[name]
        elif name not in infos:
            unreadable[name] = None
    return infos, unreadable


def loader(shape, image_size, aspect, interpolation):
    """One file's path and EXIF orientation to its float32 image of `shape`
    in [-1, 1], in graph ops: decoded, turned as a viewer shows it,
    converted to `shape`'s channels, resized to `image_size` (None: kept) by
    Keras's `Resizing`, scaled."""
    import keras
    import tensorflow as tf

    resize = None
    if image_size is not None:
        resize = keras.layers.Resizing(
            *image_size,
            interpolation=interpolation,
            crop_to_aspect_ratio=aspect == "crop",
            pad_to_aspect_ratio=aspect == "pad",
            antialias=True,
            data_format="channels_last",
            dtype="float32",
        )

    def load(path, orientation):
        image = orient(tf.cast(_decode(path), "float32"), orientation)
        count = tf.shape(image)[2]
        if shape[2] == 3:
            image = tf.cond(
                count >= 3,
                lambda: image[..., :3],
                lambda: tf.repeat(image[..., :1], 3, axis=-1),
            )
        else:
            image = tf.cond(
                count >= 3,
                lambda: tf.tensordot(image[..., :3], tf.constant(LUMA), 1)[..., None],
                lambda: image[..., :1],
            )
        image = tf.ensure_shape(image, (None, None, shape[2]))
        if resize is not None:
            image = resize(image)
        image = tf.ensure_shape(image, shape)
        return tf.clip_by_value(image, 0.0, 255.0) / 127.5 - 1.0

    return load


def pipeline(files, labels, load, batch_size, shuffle, seed, cache):
    """The `tf.data` pipeline: files (`(paths, orientations)`) and labels in
    an order drawn anew for each epoch, decoded in parallel (or once, then
    cached), batched, prefetched. Returns it and its epoch counter (None
    unshuffled)."""
    import tensorflow as tf

    paths, orientations = files
    orientations = np.asarray(orientations, "int32")
    if labels is not None:
        labels = np.asarray(labels, "int32")
        data = tf.data.Dataset.from_tensor_slices((paths, orientations, labels))
        mapping = lambda p, o, y: (load(p, o), y)  # noqa: E731
    else:
        data = tf.data.Dataset.from_tensor_slices((paths, orientations))
        mapping = load
    if cache:
        data = data.map(mapping, num_parallel_calls=tf.data.AUTOTUNE).cache()
    epoch = None
    if shuffle:
        data, epoch = _shuffled_by_epoch(data, len(paths), seed)
    if not cache:
        data = data.map(mapping, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size is not None:
        data = data.batch(batch_size)
    return data.prefetch(tf.data.AUTOTUNE), epoch


def _shuffled_by_epoch(data, n, seed):
    """`data` in an order that is a function of (seed, epoch), the epoch a
    variable that each pass advances and that `kgt.GAN.fit` sets at each
    epoch's start: a fit resumed at epoch k draws the order the
    uninterrupted fit drew for epoch k, in any process. (Paths are
    reordered; cached images, which fit in memory, too.)"""
    import tensorflow as tf

    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")

    def one_pass(_):
        this = epoch.assign_add(1) - 1
        key = tf.stack([tf.constant(seed, tf.int64), this])
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=key)
        reorder = lambda *whole: tuple(tf.gather(t, order) for t in whole)  # noqa: E731
        return data.batch(n).map(reorder).unbatch()

    passes = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
    shuffled = passes.flat_map(one_pass)
    if not isinstance(data.element_spec, tuple):
        shuffled = shuffled.map(lambda x: x)  # one tensor, not a 1-tuple
    return shuffled.apply(tf.data.experimental.assert_cardinality(n)), epoch


def arrays(dataset, with_labels):
    """A dataset of batches as NumPy arrays: images, or `(images, labels)`."""
    batches = list(dataset.as_numpy_iterator())
    if with_labels:
        images = np.concatenate([images for images, _ in batches])
        return images, np.concatenate([labels for _, labels in batches])
    return np.concatenate(batches)
