"""What every `kgt.GAN.fit` adds around Keras's: the two optimizers as Keras
sees them, the tricks' `fit_begin`, the stop at a non-finite loss, the
checks of the data given to `fit`, and `fit`'s arguments by name."""

import inspect
import warnings

import keras
import numpy as np

from keras_gan_tricks._sampling import labels_used
from keras_gan_tricks._utils import describe_shape, shapes_compatible, static_shape
from keras_gan_tricks.architectures import ends_in_tanh
from keras_gan_tricks.tricks.alarms import Alarms
from keras_gan_tricks.tricks.base import TrickCallback, planned_steps


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


class BeginFitTricks(keras.callbacks.Callback):
    """Calls each active trick's `fit_begin(gan, steps)` when `fit` starts
    (every `kgt.GAN.fit` has it, after the user's callbacks: after
    `BackupAndRestore` restored the GAN). `steps`: the fit's planned steps,
    its epochs from `initial_epoch` times its batches per epoch, or None
    when Keras does not know them."""

    def __init__(self, initial_epoch=0):
        super().__init__()
        self.initial_epoch = initial_epoch

    def on_train_begin(self, logs=None):
        gan = self.model
        steps = planned_steps(self.params, self.initial_epoch)
        for trick in gan.active_tricks():
            trick.fit_begin(gan, steps)


class FollowDataEpoch(keras.callbacks.Callback):
    """Sets a dataset's epoch counter (`kgt.datasets.image_folder`'s
    `epoch`) to each epoch's index as it begins, so the epoch's order is
    the one that index draws, in a resumed fit too."""

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_epoch_begin(self, epoch, logs=None):
        self.counter.assign(epoch)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` at the first non-finite loss (every `kgt.GAN.fit` has it),
    with a warning kept in `alarms` for the fit's history.

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

    def __init__(self):
        super().__init__()
        self.alarms, self._epoch = [], 0

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
        self.alarms, self._epoch = [], 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

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
        message = (
            f"kgt.GAN: a non-finite loss{found} at step {step} of this fit"
            f"{where}; training stopped. The update of that step was not "
            "applied: the GAN keeps the weights of its last finite step. Common "
            "causes: NaN or infinite values in the data, a learning rate too "
            "high, a penalty weight too large, or float16 without loss scaling."
        )
        self.alarms.append({"epoch": self._epoch + 1, "message": message})
        warnings.warn(message, RuntimeWarning, stacklevel=2)


def fit_arguments(method, model, args, kwargs):
    """`method`'s (`keras.Model.fit`'s) arguments by name, as given: a
    `inspect.BoundArguments` whose `callbacks` and `initial_epoch` can be
    read and set whatever the caller passed by position or keyword."""
    signature = inspect.signature(method)
    bound = signature.bind(model, *args, **kwargs)
    for name in ("callbacks", "initial_epoch"):
        bound.arguments.setdefault(name, signature.parameters[name].default)
    x = bound.arguments.get("x")
    if "shuffle" not in bound.arguments and (
        is_tensor_dataset(x) or inspect.isgenerator(x)
    ):
        # Such data shuffles itself: Keras ignores `shuffle` and warns
        # that its default, True, is ignored; the default is not a request.
        bound.arguments["shuffle"] = False
    return bound


def add_fit_callbacks(bound):
    """Adds what every `kgt.GAN.fit` runs to `fit`'s bound `callbacks`: the
    tricks' `fit_begin` after the user's callbacks (after
    `BackupAndRestore` restored the GAN), the non-finite stop, the alarms
    (unless the user's callbacks hold an `Alarms`), and for a dataset with
    an epoch counter the setting of it. Returns
    the callback faces of tricks among them."""
    callbacks = [
        *(bound.arguments["callbacks"] or []),
        BeginFitTricks(bound.arguments["initial_epoch"]),
        StopOnNonFinite(),
    ]
    # The alarms last (the user's, or one of ours): at the fit's end their
    # history entry sees every other callback's alarms.
    alarms = [cb for cb in callbacks if isinstance(cb, Alarms)] or [Alarms()]
    callbacks = [cb for cb in callbacks if not isinstance(cb, Alarms)] + alarms
    for listener in alarms:
        listener.watch(
            cb for cb in callbacks if isinstance(getattr(cb, "alarms", None), list)
        )
    x = bound.arguments.get("x")
    counter = getattr(x, "epoch", None)
    if is_tensor_dataset(x) and hasattr(counter, "assign"):
        callbacks.append(FollowDataEpoch(counter))
    bound.arguments["callbacks"] = callbacks
    return [cb for cb in callbacks if isinstance(cb, TrickCallback)]


def is_tensor_dataset(x):
    """A `tf.data.Dataset`, recognised without importing TensorFlow."""
    return hasattr(x, "element_spec") and hasattr(x, "take")


def check_fit_data(gan, x, y, arg="x"):
    """Checks data given to `fit`/`evaluate` against the GAN, before any step."""
    if x is None:
        return
    if is_tensor_dataset(x):
        check_dataset(gan, x, arg)
        return
    if isinstance(x, (list, tuple)) and len(x) == 2 and y is None:
        x, y = x
    if not isinstance(x, np.ndarray) and not (
        hasattr(x, "shape") and hasattr(x, "dtype")
    ):
        return
    array = np.asarray(x)
    check_array(gan, array, arg)
    labels_used(gan, y is not None, "y", "with the images, `fit(images, labels)`")
    if y is not None and hasattr(y, "shape") and len(y) != len(array):
        raise ValueError(
            f"`y` must hold one label per sample of `x` ({len(array)}). "
            f"Received: y of shape {np.shape(y)}"
        )


def check_dataset(gan, x, arg):
    """A `tf.data.Dataset`'s element shape and size."""
    spec = x.element_spec
    if isinstance(spec, tuple):
        spec = spec[0]
    if isinstance(spec, tuple):
        spec = spec[0]
    if hasattr(spec, "shape") and spec.shape.rank is not None:
        shape = tuple(spec.shape.as_list())
        if not shapes_compatible(shape[1:], gan.sample_shape):
            raise ValueError(
                f"`{arg}` must yield samples of the generator's output shape "
                f"{describe_shape(gan.sample_shape)}. Received: {arg} with "
                f"element shape {shape}"
            )
    if int(x.cardinality()) == 0:
        raise ValueError(
            f"`{arg}` is an empty dataset: there is nothing to train on. "
            f"Received: {arg}={x!r}"
        )
    first = first_samples(x)
    if first is not None:
        check_array(gan, first, f"{arg}'s first batch")


def first_samples(dataset):
    """The samples of a dataset's first element as a NumPy array, or None
    when it has none or they are not numbers: the data check `fit` gives
    arrays, given to a dataset's first batch (its range, above all)."""
    for element in dataset.take(1):
        while isinstance(element, (tuple, list)) and element:
            element = element[0]
        if isinstance(element, dict) or not hasattr(element, "dtype"):
            return None
        array = np.asarray(element)
        if np.issubdtype(array.dtype, np.number) and array.ndim >= 1:
            return array
    return None


def check_array(gan, array, arg):
    """An array's sample shape, size, values and range."""
    if array.ndim < 1 or not shapes_compatible(array.shape[1:], gan.sample_shape):
        raise ValueError(
            f"`{arg}` must hold samples of the generator's output shape "
            f"{describe_shape(gan.sample_shape)}. Received: {arg} of shape "
            f"{array.shape}"
        )
    if len(array) == 0:
        raise ValueError(
            f"`{arg}` holds no samples: there is nothing to train on. "
            f"Received: {arg} of shape {array.shape}"
        )
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(array.size - np.count_nonzero(finite))
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(
                f"`{arg}` must hold finite numbers: clean or drop the samples with "
                f"NaN or inf before training. Received: {arg} of shape "
                f"{array.shape} holding {bad} NaN or infinite value(s) (the first "
                f"at index {first}: {array[first]})"
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
                stacklevel=5,
            )


def check_batch_shape(gan, x):
    """Checks one batch's samples (in the step, on static shapes)."""
    if not shapes_compatible(static_shape(x)[1:], gan.sample_shape):
        raise ValueError(
            "The data's sample shape does not match the generator's output. "
            f"Data batch shape: {static_shape(x)}; generator output: "
            f"{describe_shape(gan.sample_shape)}."
        )


def split_batch(gan, data):
    """One batch of `fit` as `(samples, labels or None)`, checked against
    the GAN (in the step, on static shapes)."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if sample_weight is not None:
        raise ValueError(
            "kgt.GAN does not use sample weights; the data gave a third "
            "element (sample_weight). Pass (images,) or (images, labels)."
        )
    if isinstance(x, (list, tuple)):
        if len(x) == 2 and y is None:
            x, y = x
        else:
            raise ValueError(
                "Each batch must be images or (images, labels). "
                f"Received a batch x of {len(x)} tensors."
            )
    check_batch_shape(gan, x)
    return x, y


def unpack(gan, data):
    """One batch of `fit` as `(samples in the generator's dtype, labels or
    None)`: checked against the GAN, the labels of an unconditional GAN's
    data dropped (see `labels_used`)."""
    x, y = split_batch(gan, data)
    how = "with the images, a dataset of (images, labels)"
    if not labels_used(gan, y is not None, "batch", how, "a batch without labels"):
        y = None
    return keras.ops.cast(x, gan.generator.compute_dtype), y


def finalize_optimizers(gan):
    """Keras does this for `model.optimizer` only: an optimizer with
    `use_ema=True` swaps in its moving averages when training ends."""
    if gan.compiled:
        for optimizer, net in (
            (gan.d_optimizer, gan.discriminator),
            (gan.g_optimizer, gan.generator),
        ):
            optimizer.finalize_variable_values(net.trainable_variables)
