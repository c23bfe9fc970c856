"""Sampling from a `kgt.GAN`: latent vectors (one rule for NumPy and the
step), labels, samples, batch-norm statistics, and the random streams saved
with the model."""

import os
import warnings
import weakref

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._backend import primitives
from keras_gan_tricks._utils import check_int, walk_layers

LATENT_DISTRIBUTIONS = ("normal", "uniform")
SEED_STATE_KEY = "seed_generator_state"


def sample_latent(shape, distribution, seed=None):
    """Latent vectors of `shape` from `distribution`: `"normal"` (standard
    normal) or `"uniform"` (uniform in [-1, 1]).

    The one rule for the latent distribution. With a
    `keras.random.SeedGenerator` as `seed` the draw is a tensor from that
    stream (inside the training step); with an int or None it is a NumPy
    array drawn with NumPy from `seed` (the same vectors on every backend
    and after saving and loading; None draws fresh entropy).
    """
    if isinstance(seed, keras.random.SeedGenerator):
        if distribution == "uniform":
            return keras.random.uniform(shape, -1.0, 1.0, seed=seed)
        return keras.random.normal(shape, seed=seed)
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


_WARNED_IGNORED = weakref.WeakSet()


def labels_used(gan, given, argument, how, received=None):
    """The one rule for labels reaching a GAN, wherever they come from
    (`generate`'s `labels`, `fit`'s `y`, a batch of the data): a conditional
    GAN needs them, an unconditional one takes none.

    Returns whether the labels given are to be used. Raises a `ValueError`
    for a conditional GAN given none (`how`: how to pass them; `received`:
    what came instead, `argument=None` by default) and for labels given to
    an unconditional GAN as an argument (`labels`); the data's labels
    (`argument` of `x`, `y` or a batch) are ignored there, with one warning
    per GAN.
    """
    if gan.conditional and not given:
        raise ValueError(
            f"This GAN is conditional: pass its labels, {how}. "
            f"Received: {received or f'{argument}=None'}"
        )
    if gan.conditional or not given:
        return gan.conditional
    if argument == "labels":
        raise ValueError(
            f"This GAN is unconditional, so it takes no labels. Received: {received}"
        )
    if gan not in _WARNED_IGNORED:
        warnings.warn(
            "kgt.GAN is unconditional, so the labels in the data are "
            "ignored. Build a conditional GAN to use them.",
            stacklevel=4,
        )
        _WARNED_IGNORED.add(gan)
    return False


def check_labels(gan, labels, n=None):
    """`labels` for the generator as an array of shape `(n, *condition)`
    (any length when `n` is None), or None for an unconditional GAN."""
    how = "one per sample" if n is not None else "the conditions to draw from"
    shown = None if labels is None else f"labels of shape {np.shape(labels)}"
    if not labels_used(gan, labels is not None, "labels", how, shown):
        return None
    labels = np.asarray(labels)
    shape = gan.condition_shape
    if labels.ndim == 1 and len(shape) == 1 and shape[0] == 1:
        labels = labels[:, None]
    expected = (n, *shape)
    if (n is None and labels.shape[1:] != expected[1:]) or (
        n is not None and labels.shape != expected
    ):
        shown = ("any", *shape) if n is None else expected
        raise ValueError(
            f"`labels` must have shape {shown}. Received: labels of shape {labels.shape}"
        )
    if len(labels) == 0:
        raise ValueError(
            f"`labels` must hold at least one label. Received: labels of shape "
            f"{labels.shape}"
        )
    return labels


def generate(gan, generator, n, seed, labels, batch_size):
    """`n` samples of `generator` (the GAN's, or its average) as NumPy, on
    latents drawn from `seed`, in chunks of `batch_size` (see
    `kgt.GAN.generate`)."""
    batch_size = check_int("batch_size", batch_size, low=1)
    n = check_int("n", n, low=1)
    if seed is not None:
        seed = check_int("seed", seed, low=0)
    z = sample_latent((n, gan.latent_dim), gan.latent_distribution, seed)
    labels = check_labels(gan, labels, n)
    chunks = []
    for start in range(0, n, batch_size):
        chunk = z[start : start + batch_size]
        if gan.conditional:
            chunk = [chunk, labels[start : start + batch_size]]
        samples = generator(chunk, training=False)
        # float32 even under mixed precision: NumPy has no bfloat16.
        chunks.append(ops.convert_to_numpy(ops.cast(samples, "float32")))
    return np.concatenate(chunks, axis=0)


def recalibrate_batch_norm(gan, generator, batches, batch_size, labels, seed):
    """Sets each batch-norm layer of `generator` to the average of its batch
    statistics over `batches` training-mode calls on the GAN's latents (see
    `kgt.GAN.recalibrate_batch_norm`); returns how many layers it set."""
    batches = check_int("batches", batches, low=1)
    batch_size = check_int("batch_size", batch_size, low=2)
    seed = check_int("seed", seed, low=0)
    labels = check_labels(gan, labels)
    # A layer shared in two places is one layer: keyed by identity.
    norms = list(
        {
            id(layer): layer
            for layer in walk_layers(generator)
            if isinstance(layer, keras.layers.BatchNormalization)
        }.values()
    )
    if not norms:
        return 0
    rng = np.random.default_rng(seed)
    momenta = [layer.momentum for layer in norms]
    try:
        for k in range(batches):
            # Batch k enters with weight 1/(k+1): a plain average of all.
            for layer in norms:
                layer.momentum = k / (k + 1)
            inputs = sample_latent(
                (batch_size, gan.latent_dim), gan.latent_distribution, seed + k
            )
            if gan.conditional:
                chosen = rng.integers(0, len(labels), batch_size)
                inputs = [inputs, labels[chosen]]
            generator(inputs, training=True)
    finally:
        for layer, momentum in zip(norms, momenta, strict=True):
            layer.momentum = momentum
    return len(norms)


def random_streams(gan):
    """The GAN's seed generator, then those of the layers it trains
    (instance noise, dropout, ...) and of its tricks (augmentation), in a
    fixed order; then those of layers a trick holds as attributes (bCR's
    transform), which files before them did not save. (Attributes are read
    through `primitives.attribute_values`: on PyTorch `vars` misses layers.)"""
    streams, seen = [gan.seed_generator], {id(gan.seed_generator)}
    held = []
    roots = (gan.generator, gan.discriminator, gan.instance_noise, *gan.tricks)
    for root in roots:
        if root is None:
            continue
        for layer in walk_layers(root):
            for value in primitives.attribute_values(layer):
                if isinstance(value, keras.layers.Layer) and value is not layer:
                    held.append(value)
                elif isinstance(value, keras.random.SeedGenerator):
                    if id(value) not in seen:
                        seen.add(id(value))
                        streams.append(value)
    for layer in held:
        for value in primitives.attribute_values(layer):
            if isinstance(value, keras.random.SeedGenerator) and id(value) not in seen:
                seen.add(id(value))
                streams.append(value)
    return streams


def save_streams(gan, store):
    # Keras does not save seed generators; the random streams are part of
    # the training state, so a resumed run draws what the original would
    # have drawn (latents, label noise, instance noise, dropout masks).
    for i, stream in enumerate(random_streams(gan)):
        key = SEED_STATE_KEY if i == 0 else f"{SEED_STATE_KEY}_{i}"
        store[key] = ops.convert_to_numpy(stream.state)


def load_streams(gan, store):
    """Loads the saved streams; returns the other keys of `store`."""
    keys = list(store.keys())
    streams = random_streams(gan)
    ours = {SEED_STATE_KEY: streams[0]}
    ours.update({f"{SEED_STATE_KEY}_{i}": s for i, s in enumerate(streams)})
    saved = [key for key in keys if key.startswith(SEED_STATE_KEY)]
    # Files from before every stream was saved hold the GAN's alone.
    if len(saved) in (1, len(streams)):
        for key in saved:
            ours[key].state.assign(store[key])
    return [key for key in keys if key not in saved]


def export_generator(generator, filepath):
    """`generator` saved alone to `filepath` (a `.keras` file), returned."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(
            "`filepath` must end in .keras (Keras's format for a whole model). "
            f"Received: filepath={filepath!r}"
        )
    generator.save(filepath)
    return generator
