"""Callbacks that carry the GAN tricks through `fit`.

| callback | does |
|---|---|
| `InstanceNoiseDecay` | decays every `InstanceNoise` stddev over training steps |
| `DiscriminatorLRBalancer` | lowers D's learning rate while D runs ahead, and settles |
| `GeneratorEMA` | keeps a moving average of the generator's weights for sampling |
| `SampleGrid` | writes a PNG grid of samples from a fixed latent batch (and TensorBoard images) |
| `QualityMonitor` | KID, precision/recall, density/coverage every few epochs, with a collapse alarm |

The first three are faces of the tricks of the same names in `kgt.tricks`:
in a `kgt.GAN.fit` the GAN runs the trick inside its compiled step (no
per-batch work in the callback, no wait on the step), and the trick's state
lives in the GAN (`GAN.trick_states`), so it is saved with the model and
restored by `keras.callbacks.BackupAndRestore`. With a model of your own,
the callback runs the same trick between batches: see each class for what
it needs from such a model.
"""

import os

import keras
import numpy as np
from keras import ops

from keras_gan_tricks import tricks
from keras_gan_tricks._utils import check_int, check_number
from keras_gan_tricks.gan import GAN
from keras_gan_tricks.images import check_images, image_grid, save_image_grid
from keras_gan_tricks.layers import instance_noise_in
from keras_gan_tricks.tricks import ScaledSchedule, update_average
from keras_gan_tricks.tricks.base import planned_steps

DECAY_KINDS = tricks.DECAY_KINDS

__all__ = [
    "DiscriminatorLRBalancer",
    "GeneratorEMA",
    "InstanceNoiseDecay",
    "QualityMonitor",
    "SampleGrid",
    "ScaledSchedule",
    "find_instance_noise",
    "update_average",
]


def _training_step(model):
    """Steps taken so far by a model that is not a `kgt.GAN`: its
    optimizer's iteration count."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(
            "The model has no optimizer to count training steps with: compile it first."
        )
    return int(ops.convert_to_numpy(optimizer.iterations))


def find_instance_noise(model):
    """Every `kgt.layers.InstanceNoise` a model applies to D's inputs.

    For a `kgt.GAN`: its `instance_noise` option, its instance-noise tricks
    and those inside its discriminator. For another model: those anywhere
    inside it.
    """
    if isinstance(model, GAN):
        return model.instance_noise_layers()
    return instance_noise_in(model)


class InstanceNoiseDecay(tricks.TrickCallback):
    """The callback face of `kgt.tricks.InstanceNoiseDecay`: the same
    arguments and decay (see it), for `fit(callbacks=[...])`.

    With a `kgt.GAN` and one of the kinds or a Keras schedule, the GAN's
    compiled step does it. With a plain Python callable `schedule` (it may
    not trace), or another model, the callback sets the stddev of every
    `kgt.layers.InstanceNoise` the model applies (`find_instance_noise`)
    before each batch, from the optimizer's iteration count, and logs it
    as `noise_stddev`.

    Example:

    ```python
    gan.fit(images, epochs=20, callbacks=[
        kgt.callbacks.InstanceNoiseDecay(initial=0.3, final=0.0)])
    ```
    """

    def __init__(
        self, initial=None, final=0.0, steps=None, kind="linear", schedule=None
    ):
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        super().__init__(
            tricks.InstanceNoiseDecay(
                initial, final, steps, kind, schedule, name="instance_noise_decay"
            )
        )
        self._current = None

    def value(self, step):
        """The stddev at training step `step`, as a float."""
        return self.trick.value(step)

    def bind(self, gan):
        # A plain Python callable may not trace inside the step: then the
        # batch hooks do the work.
        traceable = self.trick.kind is not None or isinstance(
            self.trick.schedule, keras.optimizers.schedules.LearningRateSchedule
        )
        return super().bind(gan) if traceable else None

    def set_model(self, model):
        super().set_model(model)
        if self._bound:
            return
        if isinstance(model, GAN):
            self.trick.setup(model)  # (a Python callable schedule)
        else:
            self.trick.use_layers(find_instance_noise(model))

    def _step(self):
        step = (
            self.model.g_optimizer.iterations
            if isinstance(self.model, GAN)
            else _training_step(self.model)
        )
        return int(ops.convert_to_numpy(step))

    def on_train_begin(self, logs=None):
        self._planned = False

    def on_epoch_begin(self, epoch, logs=None):
        # Between batches (another model): the fit's range is planned at its
        # first epoch, the fit's `initial_epoch`, which callbacks see only here.
        if not self._bound and not self._planned:
            steps = planned_steps(self.params, epoch)
            self.trick.begin_range(self._step(), steps)
            self._planned = True

    def on_train_batch_begin(self, batch, logs=None):
        if self._bound:
            return
        value = self.trick.apply(self._step())
        self._current = float(ops.convert_to_numpy(value))

    def on_train_batch_end(self, batch, logs=None):
        # In a kgt.GAN's step, the step itself logs `noise_stddev`.
        if logs is not None and not self._bound:
            logs["noise_stddev"] = self._current

    on_epoch_end = on_train_batch_end


class DiscriminatorLRBalancer(tricks.TrickCallback):
    """The callback face of `kgt.tricks.DiscriminatorLRBalancer`: the same
    arguments and rule (see it), for `fit(callbacks=[...])`.

    With a `kgt.GAN` the controller runs inside the GAN's step and its state
    is kept in the GAN. Each change is read at the end of each epoch,
    printed (with `verbose=1`) and recorded in `changes` (dicts with
    `step`, `old_lr`, `new_lr`, `cause`, `signal` and `reason`).

    For a model that is not a `kgt.GAN`, pass `optimizer=` (and `floor=`,
    else 0), and have its `train_step` return the batch's own adversarial
    losses as `d_loss` and `g_loss`: the callback runs the controller after
    each batch on the loss rule alone (it does not see D's logits), with
    `min_lr` 0 unless given.

    Args:
        optimizer: `keras.optimizers.Optimizer` or None. D's optimizer, for
            models that are not a `kgt.GAN`.
        verbose: int. 1 prints each change.
        **others: the trick's (`collapse_below`, `patience`, `factor`,
            `min_lr`, `recover`, `smoothing`, `floor`, `target`,
            `recover_below`, `warmup`).
    """

    face_config = ("verbose",)
    _STATE = tricks.DiscriminatorLRBalancer.STATE

    def __init__(
        self,
        collapse_below=0.1,
        patience=50,
        factor=0.5,
        min_lr=None,
        recover=2.0,
        smoothing=0.9,
        optimizer=None,
        floor=None,
        verbose=1,
        target=0.8,
        recover_below=0.65,
        warmup=100,
    ):
        super().__init__(
            tricks.DiscriminatorLRBalancer(
                collapse_below=collapse_below,
                patience=patience,
                factor=factor,
                min_lr=min_lr,
                recover=recover,
                smoothing=smoothing,
                floor=floor,
                target=target,
                recover_below=recover_below,
                warmup=warmup,
                name="lr_balancer_trick",
            )
        )
        if optimizer is not None and not isinstance(
            optimizer, keras.optimizers.Optimizer
        ):
            raise TypeError(
                "`optimizer` must be a keras optimizer or None. "
                f"Received: optimizer={optimizer!r}"
            )
        self.optimizer = optimizer
        self.verbose = verbose
        self.changes = []
        self._seen = None

    def bind(self, gan):
        if self.optimizer is not None and self.optimizer is not gan.d_optimizer:
            return None  # another optimizer: the batch hooks drive it
        return super().bind(gan)

    def set_model(self, model):
        super().set_model(model)
        if self._bound:
            return
        optimizer = self.optimizer
        if optimizer is None and isinstance(model, GAN):
            optimizer = model.d_optimizer
        if optimizer is None:
            raise ValueError(
                "DiscriminatorLRBalancer needs the discriminator's optimizer: use it "
                "with a compiled kgt.GAN, or pass optimizer=..."
            )
        if getattr(self, "_local", None) is None:
            self._local = self.trick.new_state()
        floor = 0.0 if self.floor is None else self.floor
        self.trick.bind_optimizer(optimizer, *self._local, floor)

    @property
    def _state(self):
        """The controller's state, `{name: float}` (a host read)."""
        return self.trick.refs.state.read()

    def on_train_begin(self, logs=None):
        self._seen, _ = self.trick.read_changes(since=10**12)

    def on_train_batch_end(self, batch, logs=None):
        if self._bound:
            return
        logs = logs or {}
        if "d_loss" not in logs:
            raise ValueError(
                "DiscriminatorLRBalancer needs the batch's D loss in the logs as "
                f"`d_loss`. Received logs with keys {sorted(logs)}"
            )
        step = _training_step(self.model)
        self.trick.control(
            step, float(logs["d_loss"]), float(logs.get("g_loss", 0.0)), True
        )
        logs["d_lr"] = self.current_lr()

    def on_epoch_end(self, epoch, logs=None):
        self._report()
        if logs is not None:
            logs["d_lr"] = self.current_lr()

    def on_train_end(self, logs=None):
        self._report()

    def _report(self):
        if isinstance(self.model, GAN):
            self.model.sync_state()
        count, found = self.trick.read_changes(since=self._seen)
        self._seen = count
        for change in found:
            reason = self.trick.describe(change)
            self.changes.append(
                {
                    "step": int(change["step"]),
                    "old_lr": change["old_lr"],
                    "new_lr": change["new_lr"],
                    "cause": change["reason"],
                    "signal": change["signal"],
                    "reason": reason,
                }
            )
            if self.verbose:
                print(
                    f"\nDiscriminatorLRBalancer: {reason}: D learning rate "
                    f"{change['old_lr']:.3g} -> {change['new_lr']:.3g}"
                )

    def current_lr(self):
        """D's learning rate now, as a float."""
        return self.trick.current_lr()


class GeneratorEMA(tricks.TrickCallback):
    """The callback face of `kgt.tricks.GeneratorEMA`: the same arguments
    and average (see it), for `fit(callbacks=[...])`.

    With a `kgt.GAN` the averaged generator is kept in the GAN (saved with
    it), the update runs inside the GAN's compiled step, and `generate()`
    samples from it (`generate(..., use_ema=False)` for the raw one). For
    another model with a `generator` attribute it is `callback.ema_generator`,
    updated after each batch (no batch-norm recalibration there).
    """

    def __init__(self, decay=0.999, warmup=True, recalibrate_batch_norm=None):
        super().__init__(
            tricks.GeneratorEMA(
                decay, warmup, recalibrate_batch_norm, name="generator_ema"
            )
        )
        self.ema_generator = None

    def bind(self, gan):
        trick = super().bind(gan)
        trick.setup(gan)
        self.ema_generator = gan.trick_states[tricks.EMA_GENERATOR]
        return trick

    def set_model(self, model):
        super().set_model(model)
        generator = getattr(model, "generator", None)
        if not isinstance(generator, keras.layers.Layer):
            raise ValueError(
                "`model` must have a `generator` attribute (a kgt.GAN) for "
                f"GeneratorEMA. Received: model of type {type(model).__name__}"
            )
        if self._bound:
            return
        if isinstance(model, GAN):  # outside its fit: the GAN keeps the average
            self.trick.setup(model)
            self.ema_generator = model.trick_states[tricks.EMA_GENERATOR]
            return
        if self.ema_generator is None:
            self.ema_generator = tricks.clone_generator(model)
        self.trick.follow(self.ema_generator, generator)

    def on_train_batch_end(self, batch, logs=None):
        if self._bound:  # a kgt.GAN updates the average in its step
            return
        model = self.model  # On JAX, reading it brings the weights up to date.
        self.trick.update(_training_step(model))


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid of generated images every `every` epochs.

    The samples come from the same latent vectors each time (`seed`), so the
    pictures show how the generator's output for fixed inputs evolves. Files
    are `directory/epoch_0001.png`, ... (images in [-1, 1] mapped to black
    to white; 1, 3 or 4 channels). With `tensorboard=` (a
    `keras.callbacks.TensorBoard` or its log directory) the grid is also
    written as an image summary under the run's `train` folder.

    Works with a `kgt.GAN` (via `generate`, from the EMA generator when one
    is kept) and with any model that has a `generator` with a
    `(batch, latent_dim)` input (latent vectors drawn from a standard normal).

    Args:
        directory: str or path-like. Where to write the PNGs.
        every: int >= 1. Epochs between grids.
        n: int >= 1. Images per grid.
        seed: int >= 0. Seeds the fixed latent batch.
        labels: array or None. For a conditional GAN, the `n` labels.
        columns: int or None. Images per row (about sqrt(n) when None).
        scale: int >= 1. Pixel enlargement in the PNG.
        tensorboard: `keras.callbacks.TensorBoard`, str or None.
    """

    def __init__(
        self,
        directory,
        every=1,
        n=64,
        seed=0,
        labels=None,
        columns=None,
        scale=4,
        tensorboard=None,
    ):
        super().__init__()
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(
                f"`directory` must be a path. Received: directory={directory!r}"
            )
        self.directory = os.fspath(directory)
        self.every = check_int("every", every, low=1)
        self.n = check_int("n", n, low=1)
        self.seed = check_int("seed", seed, low=0)
        self.labels = None if labels is None else np.asarray(labels)
        self.columns = None if columns is None else check_int("columns", columns, low=1)
        self.scale = check_int("scale", scale, low=1)
        if isinstance(tensorboard, keras.callbacks.TensorBoard):
            tensorboard = tensorboard.log_dir
        if tensorboard is not None and not isinstance(tensorboard, (str, os.PathLike)):
            raise TypeError(
                "`tensorboard` must be a keras.callbacks.TensorBoard, a log directory "
                f"or None. Received: tensorboard={tensorboard!r}"
            )
        self.tensorboard = None if tensorboard is None else os.fspath(tensorboard)
        self.paths = []
        self._writer = None

    def sample(self):
        """The grid's images, from the fixed latent batch, as a NumPy array."""
        if isinstance(self.model, GAN):
            return self.model.generate(self.n, seed=self.seed, labels=self.labels)
        generator = getattr(self.model, "generator", None)
        if generator is None:
            raise ValueError(
                "`model` must be a kgt.GAN or have a `generator` attribute for "
                f"SampleGrid. Received: model of type {type(self.model).__name__}"
            )
        latent_dim = generator.inputs[0].shape[-1]
        z = (
            np.random.default_rng(self.seed)
            .standard_normal((self.n, latent_dim))
            .astype("float32")
        )
        return ops.convert_to_numpy(generator(z, training=False))

    def on_train_begin(self, logs=None):
        check_images(self.sample()[:1], arg="generated samples")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = self.sample()
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        self.paths.append(
            save_image_grid(images, path, columns=self.columns, scale=self.scale)
        )
        if self.tensorboard is not None:
            self._write_summary(images, epoch)

    def _write_summary(self, images, epoch):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.tensorboard, "train")
            )
        grid = image_grid(images, columns=self.columns)
        with self._writer.as_default():
            tf.summary.image("generated_samples", grid[None], step=epoch)
        self._writer.flush()

    def get_config(self):
        return {
            "directory": self.directory,
            "every": self.every,
            "n": self.n,
            "seed": self.seed,
            "labels": None if self.labels is None else self.labels.tolist(),
            "columns": self.columns,
            "scale": self.scale,
            "tensorboard": self.tensorboard,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class QualityMonitor(keras.callbacks.Callback):
    """Quality figures while training, with a collapse alarm.

    Every `every` epochs it generates `samples` samples from a fixed latent
    batch (`seed`: the same inputs each time), takes their features and
    those of a fixed sample of the real data (drawn once) with `extractor`,
    and adds to the epoch's logs (so to the progress bar, `History` and a
    `keras.callbacks.TensorBoard` listed after it):

    - `quality_kid`: `kgt.evaluation.kernel_distance`'s mean (lower is better);
    - `quality_precision`, `quality_recall` (`precision_recall`, k=3);
    - `quality_density`, `quality_coverage` (`density_coverage`, k=5).

    Losses do not tell a collapsing GAN from a healthy one; recall and
    coverage do: when either falls below `1 - alarm_drop` times its best
    value so far, and that best reached `alarm_floor` (an untrained
    generator's blob has a coverage near 0 that wobbles by half from one
    epoch to the next: no collapse to report), it warns (a `UserWarning`, printed with `verbose=1`),
    records the epoch in `alarms`, and with `stop_on_collapse=True` stops
    training (`model.stop_training`).

    Works with a `kgt.GAN` (via `generate`, from the EMA generator when one
    is kept) and any model with a `generate(n, seed=...)` method.

    Args:
        real: array `(n, ...)`. Real samples (a held-out set if you have one).
        extractor: what `kgt.evaluation.features` takes: None (the digits
            classifier: 8x8 digits), a Keras model, a callable samples ->
            features (for 2D points, `lambda x: x`), or an object with a
            `features` method.
        every: int >= 1. Epochs between measurements.
        samples: int >= 6. Generated and real samples compared.
        seed: int. Seeds the latent batch and the real sample.
        alarm_drop: float in (0, 1). The fall (as a share of the best value)
            that raises the alarm.
        alarm_floor: float in [0, 1). The best value a figure must have
            reached for its fall to count.
        stop_on_collapse: bool. Stop training on the alarm.
        verbose: int. 1 prints each measurement and alarm.
    """

    KEYS = ("kid", "precision", "recall", "density", "coverage")

    def __init__(
        self,
        real,
        extractor=None,
        every=1,
        samples=1000,
        seed=0,
        alarm_drop=0.5,
        stop_on_collapse=False,
        verbose=0,
        alarm_floor=0.2,
    ):
        super().__init__()
        real = np.asarray(real)
        self.samples = check_int("samples", samples, low=6)
        if real.ndim < 2 or len(real) < 6:
            raise ValueError(
                "`real` must be an array of at least 6 samples (n, ...). "
                f"Received shape {real.shape}"
            )
        self.every = check_int("every", every, low=1)
        self.seed = check_int("seed", seed)
        self.alarm_drop = check_number(
            "alarm_drop", alarm_drop, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.alarm_floor = check_number(
            "alarm_floor", alarm_floor, low=0.0, high=1.0, high_open=True
        )
        if not isinstance(stop_on_collapse, bool):
            raise TypeError(
                "`stop_on_collapse` must be a bool. "
                f"Received: stop_on_collapse={stop_on_collapse!r}"
            )
        self.stop_on_collapse = stop_on_collapse
        self.extractor = extractor
        self.verbose = verbose
        picks = np.random.default_rng(seed).permutation(len(real))[: self.samples]
        self.real = real[picks]
        self.history = []
        self.alarms = []
        self._real_features = None
        self._best = {}

    def set_model(self, model):
        super().set_model(model)
        if not callable(getattr(model, "generate", None)):
            raise TypeError(
                "`model` must have a `generate(n, seed=...)` method (a kgt.GAN) "
                f"for QualityMonitor. Received: model of type {type(model).__name__}"
            )

    def measure(self):
        """The figures now, `{key: float}` (also usable outside `fit`)."""
        from keras_gan_tricks import evaluation

        if self._real_features is None:
            self._real_features = evaluation.features(self.real, self.extractor)
        fake = self.model.generate(len(self.real), seed=self.seed)
        fake_features = evaluation.features(fake, self.extractor)
        real_features = self._real_features
        kid = evaluation.kernel_distance(
            real_features, fake_features, subsets=20, subset_size=1000, seed=self.seed
        )
        figures = {"kid": kid["mean"]}
        figures.update(evaluation.precision_recall(real_features, fake_features))
        figures.update(evaluation.density_coverage(real_features, fake_features))
        return figures

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        figures = self.measure()
        self.history.append({"epoch": epoch + 1, **figures})
        if logs is not None:
            logs.update({f"quality_{k}": v for k, v in figures.items()})
        if self.verbose:
            shown = ", ".join(f"{k} {v:.3g}" for k, v in figures.items())
            print(f"\nQualityMonitor (epoch {epoch + 1}): {shown}")
        fallen = []
        for key in ("recall", "coverage"):
            best = max(self._best.get(key, 0.0), figures[key])
            self._best[key] = best
            floor = max(self.alarm_floor, 1e-12)
            if best >= floor and figures[key] < (1 - self.alarm_drop) * best:
                fallen.append(f"{key} {figures[key]:.3g} (best {best:.3g})")
        if fallen:
            import warnings

            message = (
                f"QualityMonitor: possible mode collapse at epoch {epoch + 1}: "
                + ", ".join(fallen)
            )
            self.alarms.append({"epoch": epoch + 1, "message": message})
            warnings.warn(message, stacklevel=2)
            if self.verbose:
                print(message)
            if self.stop_on_collapse:
                self.model.stop_training = True
