"""The callback faces of the tricks: `kgt.tricks.X` for `fit(callbacks=[...])`."""

import keras
from keras import ops

from keras_gan_tricks import tricks
from keras_gan_tricks.gan import GAN
from keras_gan_tricks.layers import instance_noise_in
from keras_gan_tricks.tricks.base import planned_steps


def training_step(model):
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
            else training_step(self.model)
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
        step = training_step(self.model)
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

    @property
    def ema_generator(self):
        """The averaged generator: the GAN's (`gan.trick_states`), or for
        another model the face's own copy."""
        return self.trick.average

    def bind(self, gan):
        trick = super().bind(gan)
        trick.setup(gan)
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
        elif self.trick.average is None:
            self.trick.follow(tricks.clone_generator(model), generator)
        else:
            self.trick.follow(self.trick.average, generator)

    def on_train_batch_end(self, batch, logs=None):
        if self._bound:  # a kgt.GAN updates the average in its step
            return
        model = self.model  # On JAX, reading it brings the weights up to date.
        self.trick.update(training_step(model))
