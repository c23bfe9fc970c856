"""The parts of `kgt.GAN` around its step: the optimizers as Keras sees them,
the stop at a non-finite loss, checks of the data given to `fit`, sampling,
and the config and random streams saved with the model."""

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
from keras_gan_tricks.architectures import ends_in_tanh, shape_mismatch
from keras_gan_tricks.layers import InstanceNoise, pack_samples
from keras_gan_tricks.losses import logits_shape_error
from keras_gan_tricks.tricks import EMA_GENERATOR, PenaltyTerm, Trick
from keras_gan_tricks.tricks.base import planned_steps

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
        for trick in gan._active_tricks():
            trick.fit_begin(gan, steps)


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
        if int(x.cardinality()) == 0:
            raise ValueError(
                f"`{arg}` is an empty dataset: there is nothing to train on. "
                f"Received: {arg}={x!r}"
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
    (instance noise, dropout, ...) and of its tricks (augmentation), in a
    fixed order."""
    streams, seen = [gan.seed_generator], {id(gan.seed_generator)}
    roots = (gan.generator, gan.discriminator, gan.instance_noise, *gan.tricks)
    for root in roots:
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


class SamplingMixin:
    """`kgt.GAN`'s sampling: latent vectors, samples, batch-norm statistics."""

    def sample_latent(self, n, seed=None):
        """Returns `n` latent vectors as a NumPy array.

        Drawn with NumPy from `seed`, so the same seed gives the same vectors
        on every backend and after saving and loading.

        Args:
            n: int >= 1. How many vectors.
            seed: int or None. None draws fresh entropy.
        """
        n = check_int("n", n, low=1)
        if seed is not None:
            seed = check_int("seed", seed, low=0)
        rng = np.random.default_rng(seed)
        shape = (n, self.latent_dim)
        if self.latent_distribution == "uniform":
            return rng.uniform(-1.0, 1.0, size=shape).astype("float32")
        return rng.standard_normal(shape).astype("float32")

    def generate(self, n, seed=None, labels=None, batch_size=256, use_ema=True):
        """Returns `n` generated samples as a float32 NumPy array (inference mode).

        Args:
            n: int >= 1. How many samples.
            seed: int or None. Seeds the latent vectors (see `sample_latent`):
                the same seed gives the same samples from the same weights.
            labels: array of `n` labels, for a conditional GAN (required
                there, rejected otherwise).
            batch_size: int >= 1. Samples per generator call.
            use_ema: bool. Sample from the moving average of the generator's
                weights when `kgt.callbacks.GeneratorEMA` keeps one.
        """
        batch_size = check_int("batch_size", batch_size, low=1)
        z = self.sample_latent(n, seed)
        labels = check_labels(self, labels, n)
        self.sync_state()
        generator = self._sampling_generator(use_ema)
        chunks = []
        for start in range(0, n, batch_size):
            chunk = z[start : start + batch_size]
            if self.conditional:
                chunk = [chunk, labels[start : start + batch_size]]
            samples = generator(chunk, training=False)
            # float32 even under mixed precision: NumPy has no bfloat16.
            chunks.append(ops.convert_to_numpy(ops.cast(samples, "float32")))
        return np.concatenate(chunks, axis=0)

    def recalibrate_batch_norm(
        self, batches=16, batch_size=256, labels=None, seed=0, use_ema=True
    ):
        """Recomputes the generator's batch-norm statistics from its own
        samples ("standing statistics", BigGAN).

        A batch-norm layer samples with moving averages of its training
        batches' statistics, which lag a generator whose weights keep moving,
        and do not belong to the weights of an averaged generator at all
        (`GeneratorEMA` copies the raw generator's). This runs the generator
        in training mode on `batches` batches of latents and sets each
        batch-norm layer's moving mean and variance to the average of its
        batch statistics over them; `generate()` then samples with the new
        statistics. The weights do not change, but the calls run in training
        mode, so dropout is active during them and a spectral-normalised
        layer takes its usual power-iteration step per call.
        `kgt.callbacks.GeneratorEMA` does this for the averaged generator
        when `fit` ends. Call it outside `fit` (or from `on_train_end`).

        Args:
            batches: int >= 1. Generator calls to average over.
            batch_size: int >= 2. Latents per call.
            labels: for a conditional GAN, an array of conditions (any
                number, shaped like `generate`'s labels); each call draws
                `batch_size` of them. Rejected for an unconditional GAN.
            seed: int >= 0. Seeds the latents (and the labels drawn), so a
                recalibration is repeatable.
            use_ema: bool. Recalibrate the averaged generator when
                `GeneratorEMA` keeps one, else the generator itself.

        Returns:
            The number of batch-norm layers recalibrated (0 when the
            generator has none: then nothing runs).
        """
        self.sync_state()
        return recalibrate_batch_norm(
            self, self._sampling_generator(use_ema), batches, batch_size, labels, seed
        )

    def _sampling_generator(self, use_ema):
        generator = self.trick_states.get(EMA_GENERATOR) if use_ema else None
        return self.generator if generator is None else generator


class ConfigMixin:
    """`kgt.GAN`'s construction checks, config and saved variables."""

    @staticmethod
    def _resolve_instance_noise(instance_noise, seed):
        if instance_noise is None or isinstance(instance_noise, InstanceNoise):
            return instance_noise
        if isinstance(instance_noise, dict):
            return keras.saving.deserialize_keras_object(instance_noise)
        if isinstance(instance_noise, bool) or not isinstance(
            instance_noise, (int, float)
        ):
            raise TypeError(
                "`instance_noise` must be a stddev (float >= 0), a "
                "kgt.layers.InstanceNoise or None. "
                f"Received: instance_noise={instance_noise!r}"
            )
        try:
            return InstanceNoise(instance_noise, seed=seed, name="instance_noise")
        except ValueError as error:
            raise ValueError(
                "`instance_noise` must be a stddev >= 0. "
                f"Received: instance_noise={instance_noise!r}"
            ) from error

    def _resolve_latent_dim(self, latent_dim):
        inputs = getattr(self.generator, "inputs", None)
        inferred = None
        if inputs:
            shape = static_shape(inputs[0])
            if len(shape) == 2 and shape[1] is not None:
                inferred = shape[1]
        if latent_dim is None:
            if inferred is None:
                raise ValueError(
                    "Could not read `latent_dim` from the generator (it has no "
                    "known `(batch, latent_dim)` input). Pass it: "
                    "kgt.GAN(generator, discriminator, latent_dim=...). "
                    "Received: latent_dim=None"
                )
            return inferred
        latent_dim = check_int("latent_dim", latent_dim, low=1)
        if inferred is not None and inferred != latent_dim:
            raise ValueError(
                f"`latent_dim` does not match the generator's input, which takes "
                f"vectors of size {inferred}. Received: latent_dim={latent_dim}"
            )
        return latent_dim

    def _resolve_condition(self, condition_shape, condition_dtype):
        inputs = getattr(self.generator, "inputs", None)
        if condition_shape is None:
            if inputs and len(inputs) == 2:
                spec = inputs[1]
                return static_shape(spec)[1:], keras.backend.standardize_dtype(
                    spec.dtype
                )
            if inputs and len(inputs) > 2:
                raise ValueError(
                    "The generator must take a latent vector and, if "
                    f"conditional, one label input; it has {len(inputs)} inputs."
                )
            return None, None
        if isinstance(condition_shape, int) and not isinstance(condition_shape, bool):
            condition_shape = (condition_shape,)
        if not isinstance(condition_shape, (tuple, list)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1
            for d in condition_shape
        ):
            raise TypeError(
                "`condition_shape` must be a tuple of positive ints (one label's "
                f"shape, no batch axis). Received: condition_shape={condition_shape!r}"
            )
        try:
            condition_dtype = keras.backend.standardize_dtype(condition_dtype)
        except ValueError as error:
            raise ValueError(
                f"`condition_dtype` is not a dtype. Received: "
                f"condition_dtype={condition_dtype!r}"
            ) from error
        return tuple(condition_shape), condition_dtype

    def save_own_variables(self, store):
        super().save_own_variables(store)
        save_streams(self, store)

    def load_own_variables(self, store):
        keys = load_streams(self, store)
        # The GAN's own variable is its batch values ("0"). 0.1.0 kept the
        # non-finite latch after it ("1"); the latch restarts with every
        # fit (now the `NonFiniteGuard`'s), so it is not carried over.
        super().load_own_variables({k: store[k] for k in keys if k != "1"})

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "latent_distribution": self.latent_distribution,
            "condition_shape": None
            if self.condition_shape is None
            else list(self.condition_shape),
            "condition_dtype": self.condition_dtype or "int32",
            "instance_noise": None
            if self.instance_noise is None
            else keras.saving.serialize_keras_object(self.instance_noise),
            "seed": self.seed,
            **({"pack": self.pack} if self.pack > 1 else {}),
            "trick_states": {
                name: keras.saving.serialize_keras_object(layer)
                for name, layer in self.trick_states.items()
            },
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if config.get("condition_shape") is not None:
            config["condition_shape"] = tuple(config["condition_shape"])
        trick_states = config.pop("trick_states", None) or {}
        gan = cls(**config)
        for name, layer_config in trick_states.items():
            layer = keras.saving.deserialize_keras_object(layer_config)
            if isinstance(layer, keras.Model) and not layer.built:
                layer.build_from_config(layer_config.get("build_config", {}))
            gan.attach_trick_state(name, layer)
        return gan

    def symbolic_generator_inputs(self):
        """Symbolic inputs of the generator: `z`, or `[z, labels]`."""
        z = keras.KerasTensor((None, self.latent_dim), dtype="float32")
        if not self.conditional:
            return z
        condition = keras.KerasTensor(
            (None, *self.condition_shape), dtype=self.condition_dtype
        )
        return [z, condition]

    def _build_networks(self):
        """Builds both networks symbolically and checks that they fit together."""
        inputs = self.symbolic_generator_inputs()
        z, condition = inputs if self.conditional else (inputs, None)
        try:
            fake = self.generator(self._g_inputs(z, condition))
        except Exception as error:
            labels = (
                f" with labels of shape (batch, *{self.condition_shape})"
                if self.conditional
                else ""
            )
            raise ValueError(
                "Could not call the generator on latent vectors of shape "
                f"(batch, {self.latent_dim}){labels}: {error}"
            ) from error
        if isinstance(fake, (list, tuple)):
            raise ValueError(
                f"The generator must return one tensor. It returned {len(fake)} outputs."
            )
        self.sample_shape = static_shape(fake)[1:]
        packed = pack_samples(fake, self.pack, fill=False)
        d_inputs = getattr(self.discriminator, "inputs", None)
        if d_inputs:
            mismatch = shape_mismatch(
                static_shape(packed)[1:], static_shape(d_inputs[0])[1:]
            )
            if mismatch and self.pack > 1:
                mismatch += (
                    f" With pack={self.pack}, D takes {self.pack} samples "
                    "concatenated on the last axis."
                )
            if mismatch:
                raise ValueError(mismatch)
        try:
            logits = self.discriminator(self._d_inputs(packed, condition))
        except Exception as error:
            raise ValueError(
                "The discriminator cannot take the generator's output of shape "
                f"{describe_shape(self.sample_shape)}: {error}"
            ) from error
        if isinstance(logits, (list, tuple)) or logits_shape_error(
            static_shape(logits)
        ):
            shape = (
                [static_shape(t) for t in logits]
                if isinstance(logits, (list, tuple))
                else static_shape(logits)
            )
            raise ValueError(
                "The discriminator must emit one logit per sample, of shape "
                "(batch,) or (batch, 1), or a map of logits with one channel, "
                f"(batch, ..., 1) (PatchGAN). It emits shape {shape}."
            )
        self.built = True

    @staticmethod
    def _check_tricks(tricks):
        if tricks is None:
            return []
        if isinstance(tricks, Trick) or not isinstance(tricks, (list, tuple)):
            raise TypeError(
                "`tricks` must be a list of kgt.tricks.Trick. "
                f"Received: tricks={tricks!r}"
            )
        tricks = [
            keras.saving.deserialize_keras_object(t) if isinstance(t, dict) else t
            for t in tricks
        ]
        for trick in tricks:
            if not isinstance(trick, Trick):
                raise TypeError(
                    "`tricks` must hold kgt.tricks.Trick objects. "
                    f"Received: {trick!r} (of type {type(trick).__name__}) in "
                    f"tricks={tricks!r}"
                )
        if len({id(t) for t in tricks}) != len(tricks):
            raise ValueError(
                f"`tricks` holds the same trick twice. Received: tricks={tricks!r}"
            )
        return tricks

    def _uses_float16(self):
        return any(
            net.dtype_policy.compute_dtype == "float16"
            for net in (self, self.generator, self.discriminator)
        )

    @staticmethod
    def _get_optimizer(arg, optimizer):
        if optimizer is None:
            return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
        try:
            return keras.optimizers.get(optimizer)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"`{arg}` must be a keras optimizer, its name or its config. "
                f"Received: {arg}={optimizer!r}"
            ) from error

    def get_compile_config(self):
        if not self.compiled:
            return {}
        serialize = keras.saving.serialize_keras_object
        config = {
            "d_optimizer": serialize(self.d_optimizer),
            "g_optimizer": serialize(self.g_optimizer),
            "loss": serialize(self.loss),
            "label_policy": None
            if self.label_policy is None
            else serialize(self.label_policy),
            "penalty": None
            if self.penalty is None
            else [serialize(p) for p in self.penalty]
            if isinstance(self.penalty, list)
            else serialize(self.penalty),
            "d_steps": self.d_steps,
            "d_batch": self.d_batch,
            **self._keras_compile_args,
        }
        given = self.penalty if isinstance(self.penalty, list) else []
        tricks = [
            t
            for t in self.tricks
            if not isinstance(t, PenaltyTerm) and all(t is not p for p in given)
        ]
        if tricks:
            config["tricks"] = [serialize(t) for t in tricks]
        return config

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        self.compile(**config)
