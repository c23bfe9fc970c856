"""Callbacks that carry the GAN tricks through `fit`.

| callback | does |
|---|---|
| `InstanceNoiseDecay` | decays every `InstanceNoise` stddev over training steps |
| `DiscriminatorLRBalancer` | lowers D's learning rate while D's loss sits at its floor, restores it after |
| `GeneratorEMA` | keeps a moving average of the generator's weights for sampling |
| `SampleGrid` | writes a PNG grid of samples from a fixed latent batch (and TensorBoard images) |

They work with `kgt.GAN` and with a user's own model: see each class for
what it needs from a model that is not a `kgt.GAN`. With `kgt.GAN` their
state lives in the GAN (`GAN.trick_states`), so it is saved with the model
and restored by `keras.callbacks.BackupAndRestore`.
"""

import math
import os

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import check_int, check_number, register, walk_layers
from keras_gan_tricks.images import _as_images, save_image_grid
from keras_gan_tricks.layers import InstanceNoise

DECAY_KINDS = ("linear", "exponential", "cosine")


def _is_gan(model):
    from keras_gan_tricks.gan import GAN

    return isinstance(model, GAN)


class _InStepCallback(keras.callbacks.Callback):
    """A callback whose per-batch work a `kgt.GAN` does inside its compiled
    step. In a `kgt.GAN.fit` its batch hooks do nothing, so they never wait
    for a step or, on JAX, pull the train state back into the model; and
    Keras may run them on its callback thread (`async_safe`), so `fit` does
    not wait on each step's logs either. `kgt.GAN.fit` hands it the GAN
    before Keras decides that (Keras reads `async_safe` before `set_model`),
    and clears it when `fit` ends."""

    _in_step = False

    @property
    def async_safe(self):
        return self._in_step


def _training_step(model):
    """Steps taken so far: the generator's optimizer's (a `kgt.GAN`) or the
    model's optimizer's iteration count, saved with the model either way."""
    optimizer = (
        model.g_optimizer if _is_gan(model) else getattr(model, "optimizer", None)
    )
    if optimizer is None:
        raise ValueError(
            "The model has no optimizer to count training steps with: compile it first."
        )
    return int(ops.convert_to_numpy(optimizer.iterations))


def find_instance_noise(model):
    """Every `kgt.layers.InstanceNoise` a model applies to D's inputs.

    For a `kgt.GAN`: its `instance_noise` option and those inside its
    discriminator. For another model: those anywhere inside it.
    """
    roots = [model.discriminator] if _is_gan(model) else [model]
    if _is_gan(model) and model.instance_noise is not None:
        roots.insert(0, model.instance_noise)
    found = []
    for root in roots:
        for layer in walk_layers(root):
            if isinstance(layer, InstanceNoise) and all(layer is not f for f in found):
                found.append(layer)
    return found


@register
class _ScalarState(keras.layers.Layer):
    """Named float scalars kept in one non-trainable vector (callback state).

    Reads come from a Python copy, loaded by `refresh()` (call it once the
    variable may have been restored, e.g. at the start of `fit`); writes go
    to the copy and reach the variable, in one assignment, at `flush()`.
    """

    def __init__(self, names, **kwargs):
        super().__init__(**kwargs)
        self.names = list(names)
        self.values = self.add_weight(
            shape=(len(self.names),),
            initializer="zeros",
            trainable=False,
            name="values",
        )
        self._copy = None
        self._dirty = False
        self.built = True

    def refresh(self):
        self._copy = [float(v) for v in ops.convert_to_numpy(self.values)]
        self._dirty = False

    def flush(self):
        if self._dirty:
            self.values.assign(np.asarray(self._copy, "float32"))
            self._dirty = False

    def __getitem__(self, name):
        if self._copy is None:
            self.refresh()
        return self._copy[self.names.index(name)]

    def __setitem__(self, name, value):
        if self._copy is None:
            self.refresh()
        self._copy[self.names.index(name)] = float(value)
        self._dirty = True

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "names": self.names}


def _state_for(model, key, names):
    """The callback's state layer: kept in a `kgt.GAN` (saved), else local."""
    state = _ScalarState(names, name=key)
    if _is_gan(model):
        state = model.attach_trick_state(key, state)
    return state


class InstanceNoiseDecay(_InStepCallback):
    """Decays the instance noise over training steps.

    At every training step it sets the stddev of every
    `kgt.layers.InstanceNoise` the model applies to its discriminator's
    inputs (see `find_instance_noise`) to the schedule's value at that step.
    The step is the optimizer's iteration count (a `kgt.GAN`'s generator
    optimizer), which is saved with the model, so a resumed or continued run
    goes on where it was. The current value is added to the logs as
    `noise_stddev`.

    With a `kgt.GAN` and one of the kinds below or a Keras schedule, the
    GAN's compiled step does this itself (`GAN.set_instance_noise_decay`):
    no per-batch Python work, no wait on the step count, and on JAX no pull
    of the train state into the model between steps. With a plain callable
    `schedule`, or another model, the callback sets it before each batch.

    Kinds, for step `t` and `s = min(t / steps, 1)` (all reach `final` at
    `steps` and stay there):

    - `"linear"`: `initial + (final - initial) * s`;
    - `"exponential"`: `initial * (final / initial) ** s` (needs
      `final > 0`);
    - `"cosine"`: `final + (initial - final) * (1 + cos(pi * s)) / 2`.

    They are Keras's own `PolynomialDecay`, `ExponentialDecay` and
    `CosineDecay`; `schedule=` takes any `keras.optimizers.schedules`
    schedule (or a callable of the step) instead.

    Args:
        initial: float >= 0. The stddev at step 0.
        final: float >= 0. The stddev from `steps` on.
        steps: int >= 1. Steps over which to decay.
        kind: str. `"linear"`, `"exponential"` or `"cosine"`.
        schedule: `keras.optimizers.schedules.LearningRateSchedule` or
            callable, or None. Replaces `initial`, `final`, `steps`, `kind`.

    Example:

    ```python
    gan = kgt.GAN(generator, discriminator, instance_noise=0.3)
    gan.compile()
    gan.fit(images, callbacks=[
        kgt.callbacks.InstanceNoiseDecay(initial=0.3, final=0.0, steps=5000)])
    ```
    """

    def __init__(
        self, initial=None, final=0.0, steps=None, kind="linear", schedule=None
    ):
        super().__init__()
        if schedule is not None:
            if initial is not None or steps is not None:
                raise ValueError(
                    "Pass either `schedule` or `initial`/`final`/`steps`, not both. "
                    f"Received: schedule={schedule!r}, initial={initial!r}, steps={steps!r}"
                )
            if not callable(schedule):
                raise TypeError(
                    "`schedule` must be a keras.optimizers.schedules schedule or a "
                    f"callable of the step. Received: schedule={schedule!r}"
                )
            self.initial = self.final = self.steps = None
            self.kind = None
            self.schedule = schedule
            return
        if initial is None or steps is None:
            raise ValueError(
                "InstanceNoiseDecay needs `initial` and `steps` (or a `schedule`). "
                f"Received: initial={initial!r}, steps={steps!r}"
            )
        self.initial = check_number("initial", initial, low=0.0)
        self.final = check_number("final", final, low=0.0)
        self.steps = check_int("steps", steps, low=1)
        if kind not in DECAY_KINDS:
            raise ValueError(
                f"`kind` must be one of {DECAY_KINDS}. Received: kind={kind!r}"
            )
        self.kind = kind
        schedules = keras.optimizers.schedules
        if kind == "linear":
            self.schedule = schedules.PolynomialDecay(
                self.initial, self.steps, self.final, power=1.0
            )
        elif self.initial == 0.0 or self.initial == self.final:
            self.schedule = lambda step: self.initial
        elif kind == "exponential":
            if self.final == 0.0:
                raise ValueError(
                    "An exponential decay never reaches 0: give `final` > 0 (e.g. 1e-3) "
                    "or use kind='linear' or 'cosine'. Received: final=0.0"
                )
            self.schedule = schedules.ExponentialDecay(
                self.initial, self.steps, self.final / self.initial
            )
        else:
            self.schedule = schedules.CosineDecay(
                self.initial, self.steps, alpha=self.final / self.initial
            )

    def value(self, step):
        """The stddev at training step `step`, as a float."""
        return float(ops.convert_to_numpy(self.value_tensor(step)))

    def value_tensor(self, step):
        """The stddev at training step `step` (an int or an integer tensor),
        as a float32 tensor; `kgt.GAN` calls it inside its step."""
        value = ops.cast(self.schedule(step), "float32")
        # Within [final, initial] (rounding can take a float32 schedule a
        # hair past `final`, below 0 when decaying to 0); a stddev is >= 0.
        if self.kind is None:
            return ops.maximum(value, 0.0)
        low, high = sorted((self.initial, self.final))
        return ops.clip(value, low, high)

    def set_model(self, model):
        super().set_model(model)
        self._layers = find_instance_noise(model)
        # A kgt.GAN sets the stddev inside its step when the schedule can be
        # traced there (Keras's schedules, the constant), from the step count
        # the step already holds: no per-batch read of the step count.
        self._in_step = (
            _is_gan(model)
            and bool(self._layers)
            and (
                self.kind is not None
                or isinstance(
                    self.schedule, keras.optimizers.schedules.LearningRateSchedule
                )
            )
        )
        if self._in_step:
            model.set_instance_noise_decay(
                self.value_tensor, self._layers, key=self._key()
            )

    def _key(self):
        # Two callbacks with the same schedule share the GAN's compiled step.
        if self.kind is None:
            return ("schedule", id(self.schedule))
        return (self.initial, self.final, self.steps, self.kind)

    def on_train_begin(self, logs=None):
        if not self._layers:
            raise ValueError(
                "InstanceNoiseDecay found no kgt.layers.InstanceNoise to decay: put one "
                "at the front of the discriminator, or pass instance_noise=... to kgt.GAN."
            )

    def on_train_batch_begin(self, batch, logs=None):
        if self._in_step:
            return
        self._current = self.value(_training_step(self.model))
        for layer in self._layers:
            layer.stddev.assign(self._current)

    def on_train_batch_end(self, batch, logs=None):
        # In a kgt.GAN's step, the step itself logs `noise_stddev`.
        if logs is not None and not self._in_step:
            logs["noise_stddev"] = self._current

    on_epoch_end = on_train_batch_end

    def get_config(self):
        if self.kind is None:
            return {"schedule": keras.saving.serialize_keras_object(self.schedule)}
        return {
            "initial": self.initial,
            "final": self.final,
            "steps": self.steps,
            "kind": self.kind,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "schedule" in config:
            config["schedule"] = keras.saving.deserialize_keras_object(
                config["schedule"]
            )
        return cls(**config)


@register
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule times a variable factor.

    `DiscriminatorLRBalancer` wraps a discriminator optimizer's schedule in
    one, so it can lower and restore the rate while the schedule runs.

    Args:
        schedule: `LearningRateSchedule`. The schedule to scale.
        scale: float. The initial factor.
    """

    def __init__(self, schedule, scale=1.0):
        self.schedule = schedule
        self.scale = keras.Variable(
            scale, trainable=False, dtype="float32", name="lr_scale"
        )

    def __call__(self, step):
        return self.schedule(step) * ops.cast(self.scale, "float32")

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "scale": float(ops.convert_to_numpy(self.scale)),
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            keras.saving.deserialize_keras_object(config["schedule"]), config["scale"]
        )


def _label_floor(model, samples=8192):
    """D's lowest reachable loss under the GAN's label policy.

    Label noise is independent of the samples, so even a perfect
    discriminator cannot predict it: its best loss is the loss's floor for
    the policy's label distributions (`GANLoss.discriminator_floor`),
    estimated here from `samples` draws of the policy.
    """
    real = np.ones(samples, "float32")
    fake = np.zeros(samples, "float32")
    if model.label_policy is not None:
        real, fake = model.label_policy(real, fake, seed=keras.random.SeedGenerator(0))
        real, fake = ops.convert_to_numpy(real), ops.convert_to_numpy(fake)
    return model.loss.discriminator_floor(real, fake)


class DiscriminatorLRBalancer(keras.callbacks.Callback):
    """Lowers the discriminator's learning rate while it wins too easily.

    The seeds' advice: "if the adversarial loss rises dramatically while the
    discriminator loss falls to zero, reduce the discriminator's learning
    rate". After every batch this callback updates exponential moving
    averages of that batch's own D and G losses (a `kgt.GAN` exposes them in
    `batch_values()`; Keras's batch logs hold running means instead). D has
    collapsed when its smoothed loss has stayed within `collapse_below` of
    its floor for `patience` batches while G's smoothed loss did not fall
    (by more than 10%). Then D's learning rate is multiplied by `factor`,
    never below `min_lr`.
    Once D's loss has stayed more than `2 * collapse_below` above the floor
    for `patience` batches, the rate is multiplied by `recover`, up to the
    rate it started at.

    The floor is the lowest loss D can reach under the GAN's loss and label
    policy: 0 with hard labels, the entropy of the targets with smoothed or
    noisy labels (0.325 for `OneSidedSmoothing(0.1)`), since no D can
    predict label noise. Judging against it makes the defaults fire on a
    real collapse whatever the label policy, and stay quiet in a balanced
    game (where the non-saturating D loss sits near 2 log 2 = 1.39).

    Works with a float learning rate (assigned) and with a schedule (scaled
    by a wrapping `ScaledSchedule`). Each change is printed (with
    `verbose=1`) and recorded in `changes`; the current rate is in the logs
    as `d_lr`. With a `kgt.GAN` the state is kept in the GAN, so it is saved
    and restored with it (`BackupAndRestore`, `ModelCheckpoint`).

    D's loss is judged without any gradient penalty. For a model that is
    not a `kgt.GAN`, pass `optimizer=` and `floor=`, and have its
    `train_step` return the batch's own adversarial losses (no penalty) as
    `d_loss` and `g_loss`.

    Args:
        collapse_below: float > 0. How close to the floor D's smoothed loss
            must sit to count as collapsed.
        patience: int >= 1. Batches of collapse before each reduction (and
            of balance before each recovery).
        factor: float in (0, 1). Multiplies the rate on collapse.
        min_lr: float >= 0. The rate is never set below this.
        recover: float >= 1, or None. Multiplies the rate after balance, up
            to the starting rate; None or 1 never raises it.
        smoothing: float in [0, 1). The moving averages' decay per batch.
        optimizer: `keras.optimizers.Optimizer` or None. D's optimizer, for
            models that are not a `kgt.GAN`.
        floor: float or None. D's loss floor; computed for a `kgt.GAN`, 0
            for other models when None.
        verbose: int. 1 prints each change.
    """

    _STATE = (
        "initialized",
        "base_lr",
        "scale",
        "ema_d",
        "ema_g",
        "g_reference",
        "collapse_streak",
        "balance_streak",
        "seen",
    )

    def __init__(
        self,
        collapse_below=0.1,
        patience=50,
        factor=0.5,
        min_lr=1e-6,
        recover=2.0,
        smoothing=0.9,
        optimizer=None,
        floor=None,
        verbose=1,
    ):
        super().__init__()
        self.collapse_below = check_number(
            "collapse_below", collapse_below, low=0.0, low_open=True
        )
        self.patience = check_int("patience", patience, low=1)
        self.factor = check_number(
            "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.min_lr = check_number("min_lr", min_lr, low=0.0)
        self.recover = (
            None if recover is None else check_number("recover", recover, low=1.0)
        )
        self.smoothing = check_number(
            "smoothing", smoothing, low=0.0, high=1.0, high_open=True
        )
        self.floor = None if floor is None else check_number("floor", floor)
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

    def set_model(self, model):
        super().set_model(model)
        self._optimizer = self._resolve_optimizer(model)
        self._state = _state_for(model, "lr_balancer", self._STATE)
        self._synced = False
        # Wrap a schedule now: the compiled step is built after `set_model`.
        lr = self._optimizer._learning_rate
        if isinstance(
            lr, keras.optimizers.schedules.LearningRateSchedule
        ) and not isinstance(lr, ScaledSchedule):
            self._optimizer.learning_rate = ScaledSchedule(lr)
            model.train_function = None

    def _resolve_optimizer(self, model):
        if self.optimizer is not None:
            return self.optimizer
        optimizer = model.d_optimizer if _is_gan(model) else None
        if optimizer is None:
            raise ValueError(
                "DiscriminatorLRBalancer needs the discriminator's optimizer: use it "
                "with a compiled kgt.GAN, or pass optimizer=..."
            )
        return optimizer

    def on_train_begin(self, logs=None):
        if self.floor is not None:
            self._floor = self.floor
        elif _is_gan(self.model):
            self._floor = _label_floor(self.model)
            if self._floor is None:
                raise ValueError(
                    f"The {type(self.model.loss).__name__} loss has no lowest value, so "
                    "a collapse of D's loss cannot be told from progress; the balancer "
                    "does not apply to it."
                )
        else:
            self._floor = 0.0

    @property
    def _scheduled(self):
        return isinstance(self._optimizer._learning_rate, ScaledSchedule)

    def _apply_scale(self):
        scale = self._state["scale"]
        if self._scheduled:
            self._optimizer._learning_rate.scale.assign(scale)
        else:
            self._optimizer.learning_rate = self._state["base_lr"] * scale

    def current_lr(self):
        """D's learning rate now, as a float."""
        return float(ops.convert_to_numpy(self._optimizer.learning_rate))

    def _sync(self):
        """Initialises the state, or re-applies a restored one, once per fit."""
        state = self._state
        state.refresh()  # BackupAndRestore may have restored it.
        if not state["initialized"]:
            state["base_lr"] = 1.0 if self._scheduled else self.current_lr()
            state["scale"] = 1.0
            state["initialized"] = 1.0
        self._apply_scale()
        state.flush()
        self._synced = True

    def _batch_losses(self, logs):
        if _is_gan(self.model):
            values = self.model.batch_values()
            # The penalty is no part of the game's balance.
            return values["d_loss"] - values["penalty"], values["g_loss"]
        logs = logs or {}
        if "d_loss" not in logs:
            raise ValueError(
                "DiscriminatorLRBalancer needs the batch's D loss in the logs as "
                f"`d_loss`. Received logs with keys {sorted(logs)}"
            )
        return float(logs["d_loss"]), float(logs.get("g_loss", 0.0))

    def on_train_batch_begin(self, batch, logs=None):
        if not self._synced:
            self._sync()

    def on_train_batch_end(self, batch, logs=None):
        d_loss, g_loss = self._batch_losses(logs)
        state = self._state
        if math.isfinite(d_loss) and math.isfinite(g_loss):
            s = self.smoothing if state["seen"] else 0.0
            state["seen"] += 1
            state["ema_d"] = s * state["ema_d"] + (1 - s) * d_loss
            state["ema_g"] = s * state["ema_g"] + (1 - s) * g_loss
            self._judge()
            state.flush()
        if logs is not None:
            logs["d_lr"] = self.current_lr()

    def _judge(self):
        state = self._state
        excess = state["ema_d"] - self._floor
        if excess < self.collapse_below:
            if state["collapse_streak"] == 0:
                state["g_reference"] = state["ema_g"]
            state["collapse_streak"] += 1
            state["balance_streak"] = 0
            if state["collapse_streak"] >= self.patience:
                # G's loss has not fallen meaningfully: G is not catching up.
                if state["ema_g"] >= state["g_reference"] - 0.1 * abs(
                    state["g_reference"]
                ):
                    self._rescale(
                        self.factor,
                        f"D's loss within {excess:.3g} of its floor "
                        f"{self._floor:.3g} for {self.patience} batches while G's loss "
                        f"rose to {state['ema_g']:.3g}",
                    )
                state["collapse_streak"] = 0
            return
        state["collapse_streak"] = 0
        if excess > 2 * self.collapse_below and self.recover not in (None, 1.0):
            state["balance_streak"] += 1
            if state["balance_streak"] >= self.patience and state["scale"] < 1.0:
                self._rescale(
                    self.recover,
                    f"D's loss {excess:.3g} above its floor for "
                    f"{self.patience} batches",
                )
                state["balance_streak"] = 0
        else:
            state["balance_streak"] = 0

    def _rescale(self, multiplier, reason):
        state = self._state
        old_lr = self.current_lr()
        scale = state["scale"]
        new_scale = min(scale * multiplier, 1.0)
        if multiplier < 1.0:
            unscaled_lr = old_lr / scale
            if unscaled_lr > 0:
                new_scale = max(new_scale, min(scale, self.min_lr / unscaled_lr))
        if new_scale == scale:
            return
        state["scale"] = new_scale
        self._apply_scale()
        new_lr = self.current_lr()
        step = _training_step(self.model) if _is_gan(self.model) else None
        self.changes.append(
            {"step": step, "old_lr": old_lr, "new_lr": new_lr, "reason": reason}
        )
        if self.verbose:
            print(
                f"\nDiscriminatorLRBalancer: {reason}: D learning rate {old_lr:.3g} -> {new_lr:.3g}"
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["d_lr"] = self.current_lr()

    def get_config(self):
        return {
            "collapse_below": self.collapse_below,
            "patience": self.patience,
            "factor": self.factor,
            "min_lr": self.min_lr,
            "recover": self.recover,
            "smoothing": self.smoothing,
            "floor": self.floor,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def update_average(pairs, copies, decay, step=None, where=None):
    """One EMA update: `average = d * average + (1 - d) * weight` for each
    `(average, weight)` pair, with `d = min(decay, (1 + step) / (10 + step))`
    when `step` (a number or a tensor) is given; `copy = weight` for each pair
    of `copies`. With `where` (a boolean tensor), only where it holds: else
    every average (of a finite weight) and copy keeps its value. Written in
    `keras.ops`, so it runs inside a compiled step."""
    if step is not None:
        step = ops.cast(step, "float32")
        decay = ops.minimum(decay, (1.0 + step) / (10.0 + step))
    if where is not None:
        # One scalar select, not one per weight: d = 1 keeps each average
        # exactly (1 * average + 0 * weight).
        decay = ops.where(where, decay, 1.0)
    for average, weight in pairs:
        average.assign(
            ops.cast(decay * average + (1.0 - decay) * weight, average.dtype)
        )
    for copy, weight in copies:
        # A copy, not the same buffer: JAX donates each state buffer once.
        value = ops.copy(weight)
        if where is not None:
            value = ops.where(where, value, copy.value)
        copy.assign(value)


def _clone_generator(model):
    """A built structural copy of `model.generator`, with the same weights."""
    generator = model.generator
    clone = keras.models.clone_model(generator)
    if not clone.built:
        if _is_gan(model):
            clone(model.symbolic_generator_inputs())
        elif getattr(generator, "inputs", None):
            clone(generator.inputs)
        else:
            raise ValueError(
                "GeneratorEMA cannot build a copy of this generator: use a kgt.GAN "
                "or a functional generator."
            )
    clone.set_weights(generator.get_weights())
    return clone


class GeneratorEMA(_InStepCallback):
    """An exponential moving average of the generator's weights.

    Yazıcı et al. 2019 ("The Unusual Effectiveness of Averaging in GAN
    Training"); ProGAN, StyleGAN and BigGAN sample from such an average.
    After every batch each averaged weight becomes
    `d * average + (1 - d) * weight`, with `d = min(decay, (1 + t) / (10 + t))`
    at step `t` when `warmup` is on, so early averages are not stuck at the
    random initialisation. Non-trainable weights (batch-norm statistics) are
    copied during training; they belong to the raw generator's weights, not
    the average's, so when `fit` ends the averaged generator's batch-norm
    statistics are recomputed from its own samples
    (`kgt.GAN.recalibrate_batch_norm`, BigGAN's "standing statistics"). On the
    grid-25 mixture this raised the averaged generator's high-quality samples
    from 38.9% to 52.4% (3 seeds; benchmarks/results/modes.md). A
    conditional GAN needs labels for that, so it is left to you there: call
    `gan.recalibrate_batch_norm(labels=...)` after `fit`.

    With a `kgt.GAN` the averaged generator is kept in the GAN (saved with
    it), the update runs inside the GAN's compiled step (no per-batch Python
    work), and `generate()` samples from it (`generate(..., use_ema=False)` for
    the raw one). For another model with a `generator` attribute it is
    `callback.ema_generator`.

    Args:
        decay: float in [0, 1). Weight of the old average per step.
        warmup: bool. Use the smaller decay early on (see above).
        recalibrate_batch_norm: bool or None. Recompute the averaged
            generator's batch-norm statistics when `fit` ends (a kgt.GAN
            only; nothing runs for a generator without batch norm). None:
            for an unconditional GAN, not for a conditional one (True there
            is an error: it needs labels).
    """

    def __init__(self, decay=0.999, warmup=True, recalibrate_batch_norm=None):
        super().__init__()
        self.decay = check_number("decay", decay, low=0.0, high=1.0, high_open=True)
        self.warmup = bool(warmup)
        if not (
            recalibrate_batch_norm is None or isinstance(recalibrate_batch_norm, bool)
        ):
            raise TypeError(
                "`recalibrate_batch_norm` must be True, False or None. Received: "
                f"recalibrate_batch_norm={recalibrate_batch_norm!r}"
            )
        self.recalibrate_batch_norm = recalibrate_batch_norm

    def set_model(self, model):
        super().set_model(model)
        generator = getattr(model, "generator", None)
        if not isinstance(generator, keras.layers.Layer):
            raise ValueError(
                "GeneratorEMA needs a model with a `generator` attribute (a kgt.GAN). "
                f"Received a model of type {type(model).__name__}"
            )
        if _is_gan(model):
            from keras_gan_tricks.gan import EMA_GENERATOR

            self.ema_generator = model.trick_states.get(EMA_GENERATOR)
            if self.ema_generator is None:
                self.ema_generator = model.attach_trick_state(
                    EMA_GENERATOR, _clone_generator(model)
                )
        elif getattr(self, "ema_generator", None) is None:
            self.ema_generator = _clone_generator(model)
        self._pairs = list(
            zip(
                self.ema_generator.trainable_weights,
                generator.trainable_weights,
                strict=True,
            )
        )
        self._copies = list(
            zip(
                self.ema_generator.non_trainable_weights,
                generator.non_trainable_weights,
                strict=True,
            )
        )

        self._in_step = _is_gan(model)
        if self._in_step:
            # kgt.GAN updates the average inside its compiled step.
            model.set_generator_ema(self.decay, self.warmup)
            if self.recalibrate_batch_norm is True and model.conditional:
                raise ValueError(
                    "GeneratorEMA cannot recalibrate a conditional generator's "
                    "batch-norm statistics without labels: pass "
                    "recalibrate_batch_norm=False and call "
                    "gan.recalibrate_batch_norm(labels=...) after fit. Received: "
                    "recalibrate_batch_norm=True"
                )

    def on_train_end(self, logs=None):
        model = self.model
        if (
            _is_gan(model)
            and self.recalibrate_batch_norm is not False
            and not model.conditional
        ):
            model.recalibrate_batch_norm(use_ema=True)

    def on_train_batch_end(self, batch, logs=None):
        if self._in_step:  # a kgt.GAN updates the average in its step
            return
        model = self.model  # On JAX, reading it brings the weights up to date.
        step = _training_step(model) if self.warmup else None
        update_average(self._pairs, self._copies, self.decay, step)

    def get_config(self):
        return {
            "decay": self.decay,
            "warmup": self.warmup,
            "recalibrate_batch_norm": self.recalibrate_batch_norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


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
        if _is_gan(self.model):
            return self.model.generate(self.n, seed=self.seed, labels=self.labels)
        generator = getattr(self.model, "generator", None)
        if generator is None:
            raise ValueError(
                "SampleGrid needs a kgt.GAN or a model with a `generator` attribute. "
                f"Received a model of type {type(self.model).__name__}"
            )
        latent_dim = generator.inputs[0].shape[-1]
        z = (
            np.random.default_rng(self.seed)
            .standard_normal((self.n, latent_dim))
            .astype("float32")
        )
        return ops.convert_to_numpy(generator(z, training=False))

    def on_train_begin(self, logs=None):
        _as_images(self.sample()[:1], arg="generated samples")

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

        from keras_gan_tricks.images import image_grid

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
