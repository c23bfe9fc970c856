"""The parts of `kgt.GAN` around its step: the optimizers as Keras sees them,
the stop at a non-finite loss, checks of the data given to `fit`, and the
random streams saved with the model."""

import warnings

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import (
    check_int,
    describe_shape,
    shapes_compatible,
    static_shape,
    walk_layers,
)
from keras_gan_tricks.architectures import ends_in_tanh

SEED_STATE_KEY = "seed_generator_state"


class GANOptimizers:
    """`GAN.optimizer`: the discriminator's and generator's optimizers, as
    Keras's trainers and callbacks see them.

    Keras's JAX trainer carries `model.optimizer.variables` through its train
    state; here they are both optimizers' variables, so neither optimizer's
    slots or step count is lost between steps. Keras callbacks that handle
    several optimizers (`LearningRateScheduler`, `ReduceLROnPlateau`) act on
    each of `optimizers`; `iterations` is the generator's step count, the
    number of GAN steps taken (TensorBoard logs against it).

    Not saved itself: the GAN saves `d_optimizer` and `g_optimizer`.
    """

    def __init__(self, d_optimizer, g_optimizer):
        self.optimizers = [d_optimizer, g_optimizer]
        self.name = "gan_optimizers"

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def iterations(self):
        return self.optimizers[1].iterations

    @property
    def built(self):
        return all(optimizer.built for optimizer in self.optimizers)

    def build(self, variables):
        # Each optimizer is built on its own network by `GAN.compile`.
        del variables

    def scale_loss(self, loss):
        return loss

    def __getattr__(self, name):
        # Only reached for attributes not defined above (`learning_rate`...).
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"A GAN has two optimizers, so `gan.optimizer.{name}` is ambiguous: "
            f"use `gan.d_optimizer.{name}` or `gan.g_optimizer.{name}`."
        )

    def __repr__(self):
        d, g = self.optimizers
        return f"GANOptimizers(d_optimizer={d!r}, g_optimizer={g!r})"


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` at the first non-finite loss (every `kgt.GAN.fit` has it).

    The step that produced it applied nothing (the backend glue skips
    non-finite updates and the GAN's `NonFiniteGuard` restores its running
    statistics), and neither do the later steps of the same `fit` (the
    guard's latch). So the GAN keeps the weights, optimizer state and
    statistics of its last finite step, and callbacks that save at the end of
    the epoch (`ModelCheckpoint`, `BackupAndRestore`) write that finite state.

    It reads only each batch's logs, so on JAX it lets Keras run it on its
    callback thread (`async_safe`): `fit` then never waits on a step's
    losses, and the steps dispatched before the flag lands are no-ops. The
    step number comes from the guard's counter at the end of the epoch.
    Keras's TensorFlow backend runs every callback in line; on PyTorch, whose
    step waits for its finiteness check anyway, the thread only added its
    hand-offs (`benchmarks/dispatch.py`), so it runs in line there too.
    """

    @property
    def async_safe(self):
        return keras.backend.backend() == "jax"

    def set_model(self, model):
        super().set_model(model)
        # Not `self.model`: on JAX that property syncs the train state, which
        # must not happen on the callback thread.
        self._gan = model

    def on_train_begin(self, logs=None):
        # After the user's callbacks' (this one is last): a state that
        # `BackupAndRestore` or a checkpoint brought back starts clean.
        self._gan.non_finite_guard.reset()

    def on_train_batch_end(self, batch, logs=None):
        if logs and any(
            name in logs and not np.isfinite(logs[name])
            for name in ("d_loss", "g_loss")
        ):
            self._gan.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self._report(logs, f" (epoch {epoch + 1})")

    def on_train_end(self, logs=None):
        self._report(logs, "")

    def _report(self, logs, where):
        gan = self._gan
        if gan.non_finite_step is not None:
            return
        gan.sync_state()
        step = gan.non_finite_guard.first_non_finite()
        if not step:
            return
        gan.non_finite_step = step
        gan.stop_training = True
        bad = {
            name: logs[name]
            for name in ("d_loss", "g_loss")
            if logs and name in logs and not np.isfinite(logs[name])
        }
        found = ", ".join(f"{name}={value}" for name, value in bad.items())
        found = f" ({found})" if found else ""
        warnings.warn(
            f"kgt.GAN: a non-finite loss{found} at step {step} of this fit"
            f"{where}; training stopped. The update of that step was not "
            "applied: the GAN keeps the weights of its last finite step. Common "
            "causes: NaN or infinite values in the data, a learning rate too "
            "high, a penalty weight too large, or float16 without loss scaling.",
            RuntimeWarning,
            stacklevel=2,
        )


def _is_tensor_dataset(x):
    """A `tf.data.Dataset`, recognised without importing TensorFlow."""
    return hasattr(x, "element_spec") and hasattr(x, "take")


def check_fit_data(gan, x, y, arg="x"):
    """Checks data given to `fit`/`evaluate` against the GAN, before any step."""
    if x is None:
        return
    expected = describe_shape(gan.sample_shape)
    if _is_tensor_dataset(x):
        spec = x.element_spec
        if isinstance(spec, tuple):
            spec = spec[0]
        if isinstance(spec, tuple):
            spec = spec[0]
        if hasattr(spec, "shape") and spec.shape.rank is not None:
            shape = tuple(spec.shape.as_list())
            if not shapes_compatible(shape[1:], gan.sample_shape):
                raise ValueError(
                    "The dataset's samples do not match the generator's output. "
                    f"Dataset element shape: {shape}; generator output: {expected}."
                )
        return
    if isinstance(x, (list, tuple)) and len(x) == 2 and y is None:
        x, y = x
    if not isinstance(x, np.ndarray) and not (
        hasattr(x, "shape") and hasattr(x, "dtype")
    ):
        return
    array = np.asarray(x)
    if array.ndim < 1 or not shapes_compatible(array.shape[1:], gan.sample_shape):
        raise ValueError(
            f"`{arg}` has shape {array.shape}, but the generator makes samples of "
            f"shape {expected}."
        )
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(array.size - np.count_nonzero(finite))
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(
                f"`{arg}` holds {bad} NaN or infinite value(s) (the first at index "
                f"{first}: {array[first]}). Clean or drop those samples before training."
            )
    elif not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"`{arg}` must hold numbers. Received: {arg} of dtype {array.dtype}"
        )
    if array.size and ends_in_tanh(gan.generator):
        low, high = float(array.min()), float(array.max())
        if low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
            warnings.warn(
                f"`{arg}` holds values in [{low:g}, {high:g}], but the "
                "generator ends in tanh, so its samples are in [-1, 1] and "
                "the discriminator can tell them from the data by range "
                "alone. Scale the data to [-1, 1] (images in [0, 255]: "
                "x / 127.5 - 1).",
                UserWarning,
                stacklevel=4,
            )
    if gan.conditional and y is None:
        raise ValueError(
            "This GAN is conditional: pass labels with the images, "
            "`fit(images, labels)`. Received: y=None"
        )
    if y is not None and hasattr(y, "shape") and len(y) != len(array):
        raise ValueError(
            f"`y` must hold one label per sample: {len(array)} samples but "
            f"{len(y)} labels."
        )


def check_batch_shape(gan, x):
    """Checks one batch's samples (in the step, on static shapes)."""
    if not shapes_compatible(static_shape(x)[1:], gan.sample_shape):
        raise ValueError(
            "The data's sample shape does not match the generator's output. "
            f"Data batch shape: {static_shape(x)}; generator output: "
            f"{describe_shape(gan.sample_shape)}."
        )


def check_labels(gan, labels, n=None):
    """`labels` for the generator as an array of shape `(n, *condition)`
    (any length when `n` is None), or None for an unconditional GAN."""
    if not gan.conditional:
        if labels is not None:
            raise ValueError(
                "This GAN is unconditional, so it takes no labels. "
                f"Received: labels of shape {np.shape(labels)}"
            )
        return None
    if labels is None:
        what = "one per sample" if n is not None else "the conditions to draw from"
        raise ValueError(
            f"This GAN is conditional: pass `labels`, {what}. Received: labels=None"
        )
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
            inputs = gan.sample_latent(batch_size, seed=seed + k)
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
    (instance noise, dropout, ...), in a fixed order."""
    streams, seen = [gan.seed_generator], {id(gan.seed_generator)}
    for root in (gan.generator, gan.discriminator, gan.instance_noise):
        if root is None:
            continue
        for layer in walk_layers(root):
            for value in vars(layer).values():
                if (
                    isinstance(value, keras.random.SeedGenerator)
                    and id(value) not in seen
                ):
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
