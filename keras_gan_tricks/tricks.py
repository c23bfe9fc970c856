"""The in-step trick protocol: small objects that act inside `kgt.GAN`'s step.

A trick is a `keras.layers.Layer` that implements only the hooks it needs;
`GAN.compile(tricks=[...])` runs them in the order given, like
`optax.chain`. Each hook is written in `keras.ops`, so one trick runs
unchanged on TensorFlow, JAX and PyTorch, inside the compiled step:

| hook | called | for |
|---|---|---|
| `start_step(step)` | before the step's updates | schedules (noise decay) |
| `discriminator_input(samples, training)` | on every batch D sees, real and fake, in both passes | instance noise, augmentation |
| `discriminator_fakes(fake, training)` | on the fakes of each D update | replay buffer |
| `discriminator_loss(context)` | after D's base loss, in each D update | penalties, LeCam, consistency |
| `generator_logits(fake_logits)` | before G's loss | top-k |
| `end_step(outcome)` | after the step, finite or not | EMA, controllers |
| `logs()` | after `end_step` | values for the progress bar |
| `setup(gan)` | when the GAN takes the trick (host side) | state that needs the GAN |
| `fit_begin(gan, steps)` | when `fit` starts, after the callbacks' `on_train_begin` (host side) | plans over the fit's length |
| `fit_end(gan)` | when `fit` ends (host side) | work on the trained model |

A trick owns its variables (`add_weight`): they are saved in `.keras` files
and by `keras.callbacks.BackupAndRestore`, and carried in JAX's train state.
Its config (`get_config`) makes it serialisable; register a class of your
own with `keras.saving.register_keras_serializable`.

| trick | does |
|---|---|
| `InstanceNoiseDecay` | sets every `kgt.layers.InstanceNoise` stddev from a schedule of the step |
| `GeneratorEMA` | keeps a moving average of the generator's weights |
| `DiscriminatorLRBalancer` | lowers D's learning rate while D runs ahead (its ranking accuracy), and settles |
| `PenaltyTerm` | adds a `kgt.penalties` penalty to D's loss (lazily, if asked) |
| `TopK` | G learns from the fakes D rates highest (Sinha et al. 2020) |
| `ReplayBuffer` | D sees past fakes among the new (TF-GAN's tensor pool) |

`kgt.layers.InstanceNoise` is itself a trick (its `discriminator_input`
adds the noise), and `kgt.layers.AdaptiveInstanceNoise` and
`kgt.augment.AdaptiveAugment` are feedback loops on the same signals as the
balancer (`ranking_accuracy`, `sign_of_real`, `feedback_window`,
`adaptive_step` here). `kgt.callbacks.InstanceNoiseDecay`, `GeneratorEMA` and
`DiscriminatorLRBalancer` are thin callback faces of the tricks here.
"""

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._utils import (
    check_int,
    check_number,
    check_scheduled,
    register,
    scheduled_config,
    scheduled_value,
)
from keras_gan_tricks.losses import per_sample

DECAY_KINDS = ("linear", "exponential", "cosine")
EMA_GENERATOR = "ema_generator"
BALANCER_STATE = "lr_balancer"
BALANCER_CHANGES = "lr_balancer_changes"
BALANCER_CONTROL = "lr_balancer_control"

HOOKS = (
    "start_step",
    "discriminator_input",
    "discriminator_fakes",
    "discriminator_loss",
    "generator_logits",
    "end_step",
    "logs",
)


class Trick(keras.layers.Layer):
    """Base class of the tricks that act inside `kgt.GAN`'s training step.

    Subclass it and override only the hooks your trick needs; the GAN calls
    a hook only on the tricks that override it. Every hook but `setup` and
    `fit_end` runs inside the compiled step: write it in `keras.ops`, create
    variables in `__init__` or `setup` (never in a hook), and change them
    with `assign`.

    Example: a consistency penalty, and noise on D's inputs.

    ```python
    class Consistency(kgt.tricks.Trick):
        loss_names = ("consistency",)

        def __init__(self, weight=1.0, **kwargs):
            super().__init__(**kwargs)
            self.weight = weight

        def discriminator_loss(self, context):
            shifted = context.real + 0.05
            gap = context.discriminate(shifted) - context.real_logits
            return {"consistency": self.weight * keras.ops.mean(gap**2)}

        def get_config(self):
            return {**super().get_config(), "weight": self.weight}

    gan.compile(tricks=[Consistency(10.0), kgt.layers.InstanceNoise(0.1)])
    ```
    """

    #: Names of the terms `discriminator_loss` returns (each a metric).
    loss_names = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A trick has no input shape to build on: its variables are made in
        # `__init__` or `setup`.
        self.built = True

    def setup(self, gan):
        """Called (host side) when `gan` takes the trick: at `compile`, or at
        the start of a `fit` for a callback's trick. Create state that
        depends on the GAN here; `gan.attach_trick_state` keeps a layer in
        the GAN (saved with it) whether or not the trick is active later."""
        del gan

    def start_step(self, step):
        """Before the step's updates. `step`: the GAN's step count (an int
        tensor: steps taken before this one)."""

    def discriminator_input(self, samples, training):
        """Returns the samples D sees: every batch, real and fake, in the D
        and the G update (and in `evaluate`, with `training=False`)."""
        return samples

    def discriminator_fakes(self, fake, training):
        """Returns the fakes one D update trains on (`fake`: fresh ones)."""
        return fake

    def discriminator_loss(self, context):
        """Returns extra terms of D's loss, `{name: scalar}` (names in
        `loss_names`), or None. See `DiscriminatorContext`."""

    def generator_logits(self, fake_logits):
        """Returns the fake logits G's loss is computed on."""
        return fake_logits

    def end_step(self, outcome):
        """After the step. See `StepOutcome`: `outcome.finite` is False when
        the step applied nothing (non-finite loss), so state should then
        usually be kept."""

    def logs(self):
        """Values to show in the progress bar and history, `{name: tensor}`."""
        return {}

    def fit_begin(self, gan, steps):
        """Called (host side) when a `fit` with this trick starts, after the
        callbacks' `on_train_begin` (so after `BackupAndRestore` restored
        the GAN). `steps`: the steps the fit plans (its epochs from
        `initial_epoch` times its batches per epoch), or None when Keras
        does not know them."""
        del gan, steps

    def fit_end(self, gan):
        """Called (host side) when a `fit` with this trick ends."""
        del gan

    def trace_key(self):
        """Tricks with equal keys may share a compiled step (default: the
        trick itself)."""
        return id(self)

    def hooks(self):
        """The names of the in-step hooks this trick overrides."""
        return tuple(
            name
            for name in HOOKS
            if getattr(type(self), name) is not getattr(Trick, name)
        )

    def call(self, inputs, training=False):
        return self.discriminator_input(inputs, training)

    def load_own_variables(self, store):
        # A trick that a file saved before its variables existed keeps its
        # initial values (its state starts afresh).
        if not len(store.keys()) and self.weights:
            return
        super().load_own_variables(store)


class Refs:
    """References a trick uses but does not own (layers, variables,
    optimizers of the GAN). Keras tracks the layers and variables a layer
    holds in its attributes, lists and tuples as its own; held here, they are
    not saved with the trick, nor counted among its weights."""

    def __init__(self, **items):
        self.__dict__.update(items)


class DiscriminatorContext:
    """What `Trick.discriminator_loss` sees of one discriminator update.

    Attributes:
        discriminate: callable. D as a function of a batch of samples (its
            inputs passed through every `discriminator_input` hook, the
            batch's conditions bound): D's logits.
        real, fake: the batch's real samples and the fakes D trains on.
        real_logits, fake_logits: D's logits on them.
        step: int tensor. The GAN's step count.
        d_step: int tensor. D's update count (its optimizer's iterations).
        training: bool.
        seed: `keras.random.SeedGenerator`. The GAN's random stream.
        input_gradient: callable `(fn, x) -> d sum(fn(x)) / dx`,
            differentiable (the backend's).
        run_if: callable `(pred, fn, otherwise)`: `fn()` where the boolean
            tensor `pred` holds, else `otherwise` (the backend's).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


class StepOutcome:
    """What `Trick.end_step` sees of a finished step.

    Attributes:
        step: int tensor. The GAN's step count after the step.
        finite: bool tensor. Whether the step was applied.
        d_loss: D's loss without the tricks' terms (the game's own).
        g_loss: G's loss.
        terms: dict of D's extra loss terms.
        real_logits, fake_logits: D's logits in its last update.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


SIGNALS = ("ranking", "sign")


def ranking_accuracy(real_logits, fake_logits):
    """How often D ranks a real sample above a fake one: the fraction of
    (real, fake) pairs of the batch with `D(x_r) > D(x_f)`, ties counting
    1/2 (the AUC of D's logits). 1/2 when D cannot tell them apart, 1 when
    it separates them completely. It depends only on the logits' order, so
    it means the same under every loss (the least-squares targets, hinge,
    Wasserstein) and label policy (smoothed or noisy targets)."""
    real = per_sample(real_logits)[:, None]
    fake = per_sample(fake_logits)[None, :]
    above = ops.cast(real > fake, "float32") + 0.5 * ops.cast(real == fake, "float32")
    return ops.mean(above)


def sign_of_real(real_logits):
    """ADA's overfitting heuristic `r_t = E[sign(D(x_r))]` (Karras et al.
    2020, eq. 1): 0 when D is unsure of the real samples, 1 when it calls
    every one real. It assumes a logit of 0 is D's boundary (the
    non-saturating and hinge losses with hard labels)."""
    return ops.mean(ops.sign(per_sample(real_logits)))


def discriminator_signal(name, real_logits, fake_logits):
    """The signal `name` (one of `SIGNALS`) of one D update's logits."""
    if name == "ranking":
        return ranking_accuracy(real_logits, fake_logits)
    return sign_of_real(real_logits)


def check_signal(signal):
    if signal not in SIGNALS:
        raise ValueError(
            f"`signal` must be one of {SIGNALS}. Received: signal={signal!r}"
        )
    return signal


def feedback_window(window, value, weight, step, interval):
    """One step of a feedback loop's measuring window (in-step).

    `window` is `(total, count, last)`: the weighted sum of the signal since
    the last decision, its weight, and the last decision's mean. `value` is
    this step's signal, `weight` its weight (0 for a step that was not
    applied). A decision is due on every `interval`-th step with something
    measured. Returns `(due, mean, weight, new_window)`: the mean over the
    window and its total weight (valid where `due`), and the window to keep
    (emptied where `due`, its `last` set to the mean).
    """
    total, count, last = window
    weight = ops.cast(weight, "float32")
    value = ops.where(weight > 0, ops.cast(value, "float32"), 0.0)
    total = total + weight * value
    count = count + weight
    step = ops.cast(step, "int32")
    due = ops.logical_and(ops.equal(ops.mod(step, interval), 0), count > 0)
    mean = total / ops.maximum(count, 1e-12)
    zero = ops.zeros((), "float32")
    new = (
        ops.where(due, zero, total),
        ops.where(due, zero, count),
        ops.where(due, mean, last),
    )
    return due, mean, count, new


def adapt_knob(knob, window, outcome, signal, target, interval, speed, high):
    """One step of an ADA-style loop (in-step): the signal of `outcome`'s
    logits, weighted by the batch's size, into the feedback window held in
    the variable `window`; on each `interval`-th step the variable `knob`
    (in [0, high]) moves by `adaptive_step`."""
    batch = ops.shape(per_sample(outcome.real_logits))[0]
    weight = ops.cast(outcome.finite, "float32") * ops.cast(batch, "float32")
    value = discriminator_signal(signal, outcome.real_logits, outcome.fake_logits)
    due, mean, count, new = feedback_window(
        ops.unstack(window.value), value, weight, outcome.step, interval
    )
    value = ops.cast(knob.value, "float32")
    knob.assign(adaptive_step(value, due, mean, target, count, speed, high))
    window.assign(ops.stack(new))


def adaptive_step(knob, due, mean, target, weight, speed, high):
    """ADA's update of a knob in [0, high] (Karras et al. 2020, sec. 3):
    where `due`, `knob + sign(mean - target) * high * weight / speed`,
    clipped; `weight` is the number of samples the mean was measured on, so
    the knob crosses its range in `speed` samples at the fastest."""
    move = ops.sign(mean - target) * high * weight / speed
    return ops.where(due, ops.clip(knob + move, 0.0, high), knob)


class TrickCallback(keras.callbacks.Callback):
    """A callback face of a trick. In a `kgt.GAN.fit` the GAN runs `trick`
    inside its step (`GAN.fit` calls `bind`, then `unbind`), so the
    callback's own batch hooks do nothing and Keras may run them on its
    callback thread (`async_safe`). With another model, its hooks do the
    trick's work between batches.

    The GAN holds such a trick for one fit without tracking it as one of
    its layers, so the trick must keep its state in layers it attaches
    with `gan.attach_trick_state` in `setup` (saved with the GAN, carried in
    JAX's train state), not in variables of its own: on JAX those would be
    outside the train state (the glue says so). A trick that owns its
    variables belongs in `compile(tricks=[...])`."""

    trick = None
    _bound = False

    @property
    def async_safe(self):
        return self._bound

    def bind(self, gan):
        """The GAN takes the callback's trick for this fit: returns it."""
        self._bound = True
        return self.trick

    def unbind(self):
        self._bound = False


def noise_schedule(initial, final, steps, kind):
    """The Keras schedule of `InstanceNoiseDecay`'s named kinds."""
    schedules = keras.optimizers.schedules
    if kind == "linear":
        return schedules.PolynomialDecay(initial, steps, final, power=1.0)
    if initial == 0.0 or initial == final:
        return lambda step: initial
    if kind == "exponential":
        if final == 0.0:
            raise ValueError(
                "An exponential decay never reaches 0: give `final` > 0 (e.g. 1e-3) "
                "or use kind='linear' or 'cosine'. Received: final=0.0"
            )
        return schedules.ExponentialDecay(initial, steps, final / initial)
    return schedules.CosineDecay(initial, steps, alpha=final / initial)


@register
class InstanceNoiseDecay(Trick):
    """Sets the stddev of every `kgt.layers.InstanceNoise` the GAN applies
    to D's inputs to a schedule's value at each step.

    The step is the GAN's step count (saved with it), so a resumed or
    continued run goes on where it was. The value is logged as
    `noise_stddev`. Kinds, for step `t` and `s = min(t / steps, 1)`:
    `"linear"` `initial + (final - initial) * s`; `"exponential"`
    `initial * (final / initial) ** s` (needs `final > 0`); `"cosine"`
    `final + (initial - final) * (1 + cos(pi * s)) / 2`. They are Keras's
    `PolynomialDecay`, `ExponentialDecay` and `CosineDecay`; `schedule=`
    takes any `keras.optimizers.schedules` schedule instead.

    With `steps=None` it decays over the whole of each `fit` (its epochs
    times its batches per epoch, `t` counted from the fit's first step):
    no arithmetic by hand. The fit's range is saved with the GAN, so a fit
    resumed by `BackupAndRestore` (the same `fit` call, rerun) goes on
    where it was; a later `fit` decays afresh.

    On a `kgt.GAN` without fixed instance noise it gives the GAN its own,
    the `instance_noise` option at `initial` (saved with the GAN), so
    `kgt.GAN(..., instance_noise=0.3)` need not repeat the value.

    Args:
        initial: float >= 0. The stddev at step 0.
        final: float >= 0. The stddev from `steps` on.
        steps: int >= 1, or None for the whole of each `fit` (whose length
            Keras must know: arrays, or a dataset of known size or with
            `steps_per_epoch`). Steps over which to decay.
        kind: str. `"linear"`, `"exponential"` or `"cosine"`.
        schedule: `keras.optimizers.schedules.LearningRateSchedule`, a
            callable of the step written in `keras.ops`, or None. Replaces
            `initial`, `final`, `steps`, `kind`.
    """

    #: The schedule's own step count for a decay over a fraction of a fit.
    FIT_STEPS = 1_000_000

    def __init__(
        self,
        initial=None,
        final=0.0,
        steps=None,
        kind="linear",
        schedule=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
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
            self.initial = self.final = self.steps = self.kind = None
            self.schedule = schedule
        else:
            if initial is None:
                raise ValueError(
                    "InstanceNoiseDecay needs `initial` (or a `schedule`). "
                    f"Received: initial={initial!r}"
                )
            self.initial = check_number("initial", initial, low=0.0)
            self.final = check_number("final", final, low=0.0)
            self.steps = None if steps is None else check_int("steps", steps, low=1)
            if kind not in DECAY_KINDS:
                raise ValueError(
                    f"`kind` must be one of {DECAY_KINDS}. Received: kind={kind!r}"
                )
            self.kind = kind
            self.schedule = noise_schedule(
                self.initial, self.final, self.steps or self.FIT_STEPS, kind
            )
        self.refs = Refs(targets=(), fit_range=None)
        self._value = None

    @property
    def over_fit(self):
        """Whether it decays over the whole of each `fit` (`steps=None`)."""
        return self.kind is not None and self.steps is None

    def value_tensor(self, step):
        """The stddev at step `step` (an int or an integer tensor), float32.
        With `steps=None`: at that step of the current fit's range."""
        if self.over_fit:
            start, total = ops.unstack(self._fit_range().values.value)
            done = (ops.cast(step, "float32") - start) / ops.maximum(total, 1.0)
            step = ops.clip(done, 0.0, 1.0) * self.FIT_STEPS
        value = ops.cast(self.schedule(step), "float32")
        # Within [final, initial] (rounding can take a float32 schedule a
        # hair past `final`, below 0 when decaying to 0); a stddev is >= 0.
        if self.kind is None:
            return ops.maximum(value, 0.0)
        low, high = sorted((self.initial, self.final))
        return ops.clip(value, low, high)

    def value(self, step):
        """The stddev at step `step`, as a float."""
        return float(ops.convert_to_numpy(self.value_tensor(step)))

    def setup(self, gan):
        layers = gan.instance_noise_layers()
        adaptive = gan.adaptive_instance_noise()
        if not layers and adaptive:
            raise ValueError(
                "InstanceNoiseDecay has no noise to decay: the GAN's instance "
                "noise is adaptive (it sets its own stddev). Use one or the "
                f"other. Received: {adaptive[0]!r}"
            )
        if not layers:
            gan.add_instance_noise(self.value(0) if self.kind is None else self.initial)
            layers = gan.instance_noise_layers()
        self.use_layers(layers)
        if self.over_fit:
            self.refs.fit_range = gan.attach_trick_state(
                "noise_decay_range",
                _ScalarState(["start", "total"], name="noise_decay_range"),
            )

    def _fit_range(self):
        if self.refs.fit_range is None:  # a model that is not a kgt.GAN
            self.refs.fit_range = _ScalarState(
                ["start", "total"], name="noise_decay_range"
            )
        return self.refs.fit_range

    def fit_begin(self, gan, steps):
        step = int(ops.convert_to_numpy(gan.g_optimizer.iterations))
        self.begin_range(step, steps)

    def begin_range(self, step, steps):
        """With `steps=None`: the fit's range to decay over, from `step` (the
        step count now) for `steps` (the fit's planned steps; None when
        unknown), unless a resumed run of the same fit is under way."""
        if not self.over_fit:
            return
        if steps is None:
            raise ValueError(
                "InstanceNoiseDecay(steps=None) decays over the whole fit, but "
                "this fit's length is unknown (a dataset of unknown size): pass "
                "`steps_per_epoch` to fit, or `steps` to InstanceNoiseDecay. "
                "Received: steps=None"
            )
        state = self._fit_range()
        saved = state.read()
        start, total = saved["start"], saved["total"]
        if not (total == steps and start <= step < start + total):
            state.values.assign(np.array([step, steps], "float32"))

    def use_layers(self, layers):
        """The `InstanceNoise` layers to set (found in the GAN by `setup`)."""
        if not layers:
            raise ValueError(
                "InstanceNoiseDecay found no kgt.layers.InstanceNoise to decay: put one "
                "at the front of the discriminator, or pass instance_noise=... to kgt.GAN."
            )
        self.refs.targets = tuple(layers)

    @property
    def targets(self):
        """The `InstanceNoise` layers it sets."""
        return self.refs.targets

    def start_step(self, step):
        self._value = self.apply(step)

    def apply(self, step):
        """Sets every target's stddev to the value at `step`; returns it."""
        value = self.value_tensor(step)
        for layer in self.targets:
            layer.stddev.assign(value)
        return value

    def logs(self):
        return {"noise_stddev": self._value}

    def trace_key(self):
        # Equal schedules on the same layers share a compiled step.
        if self.kind is None:
            schedule = ("schedule", id(self.schedule))
        else:
            schedule = (self.initial, self.final, self.steps, self.kind)
        layers = (*self.targets, self.refs.fit_range)
        return (type(self), schedule, tuple(id(layer) for layer in layers))

    def get_config(self):
        config = super().get_config()
        if self.kind is None:
            config["schedule"] = keras.saving.serialize_keras_object(self.schedule)
        else:
            config.update(
                initial=self.initial, final=self.final, steps=self.steps, kind=self.kind
            )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "schedule" in config:
            config["schedule"] = keras.saving.deserialize_keras_object(
                config["schedule"]
            )
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


def clone_generator(model):
    """A built structural copy of `model.generator`, with the same weights."""
    generator = model.generator
    clone = keras.models.clone_model(generator)
    if not clone.built:
        if hasattr(model, "symbolic_generator_inputs"):
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


@register
class GeneratorEMA(Trick):
    """An exponential moving average of the generator's weights.

    Yazıcı et al. 2019 ("The Unusual Effectiveness of Averaging in GAN
    Training"); ProGAN, StyleGAN and BigGAN sample from such an average.
    After every finite step each averaged weight becomes
    `d * average + (1 - d) * weight`, with `d = min(decay, (1 + t) / (10 + t))`
    at step `t` when `warmup` is on. Non-trainable weights (batch-norm
    statistics) are copied; when `fit` ends the averaged generator's
    batch-norm statistics are recomputed from its own samples
    (`kgt.GAN.recalibrate_batch_norm`). The average is kept in the GAN
    (`gan.trick_states["ema_generator"]`, saved with it), and `generate()`
    samples from it.

    Args:
        decay: float in [0, 1). Weight of the old average per step.
        warmup: bool. Use the smaller decay early on (see above).
        recalibrate_batch_norm: bool or None. Recompute the averaged
            generator's batch-norm statistics when `fit` ends. None: for an
            unconditional GAN, not for a conditional one (True there is an
            error: it needs labels).
    """

    def __init__(self, decay=0.999, warmup=True, recalibrate_batch_norm=None, **kw):
        super().__init__(**kw)
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
        self.refs = Refs(pairs=(), copies=())

    def setup(self, gan):
        if self.recalibrate_batch_norm is True and gan.conditional:
            raise ValueError(
                "GeneratorEMA cannot recalibrate a conditional generator's "
                "batch-norm statistics without labels: pass "
                "recalibrate_batch_norm=False and call "
                "gan.recalibrate_batch_norm(labels=...) after fit. Received: "
                "recalibrate_batch_norm=True"
            )
        average = gan.trick_states.get(EMA_GENERATOR)
        if average is None:
            average = gan.attach_trick_state(EMA_GENERATOR, clone_generator(gan))
        self.follow(average, gan.generator)

    def follow(self, average, generator):
        """Averages `generator`'s weights into `average` (a copy of it)."""
        self.refs.pairs = tuple(
            zip(average.trainable_weights, generator.trainable_weights, strict=True)
        )
        self.refs.copies = tuple(
            zip(
                average.non_trainable_weights,
                generator.non_trainable_weights,
                strict=True,
            )
        )

    def end_step(self, outcome):
        self.update(outcome.step, outcome.finite)

    def update(self, step, finite=None):
        """One update of the average (at step `step`, where `finite`)."""
        update_average(
            self.refs.pairs,
            self.refs.copies,
            self.decay,
            step if self.warmup else None,
            where=finite,
        )

    def fit_end(self, gan):
        if self.recalibrate_batch_norm is not False and not gan.conditional:
            gan.recalibrate_batch_norm(use_ema=True)

    def trace_key(self):
        return (
            type(self),
            self.decay,
            self.warmup,
            tuple(id(a) for a, _ in self.refs.pairs),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "decay": self.decay,
            "warmup": self.warmup,
            "recalibrate_batch_norm": self.recalibrate_batch_norm,
        }


@register
class PenaltyTerm(Trick):
    """Adds a `kgt.penalties` penalty to D's loss, reported as `penalty`.

    `kgt.GAN.compile(penalty=...)` makes one. With the penalty's `every=k`
    it is computed on every k-th D update only, times k (StyleGAN2's lazy
    regularisation); the updates in between add 0.

    With several penalties (`compile(penalty=[...])`) each has its own
    term, named after it (`penalty_r1`, `penalty_r2`, ...). A weight that
    follows a schedule is evaluated at the GAN's step count.

    Args:
        penalty: `kgt.penalties.Penalty`.
        term: str. The name of its term in D's loss and the logs.
    """

    def __init__(self, penalty, term="penalty", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(term, str) or not term:
            raise TypeError(f"`term` must be a name. Received: term={term!r}")
        self.term = term
        self.loss_names = (term,)
        if isinstance(penalty, dict):
            penalty = keras.saving.deserialize_keras_object(penalty)
        if not callable(penalty) or not hasattr(penalty, "every"):
            raise TypeError(
                "`penalty` must be a kgt.penalties.Penalty. "
                f"Received: penalty={penalty!r}"
            )
        self.penalty = penalty

    def discriminator_loss(self, context):
        def compute():
            return self.penalty(
                context.discriminate,
                context.real,
                context.fake,
                seed=context.seed,
                input_gradient=context.input_gradient,
                step=context.step,
            )

        every = self.penalty.every
        if every == 1 or not context.training:
            return {self.term: compute()}
        due = ops.equal(ops.mod(context.d_step, every), 0)
        zero = ops.zeros((), dtype="float32")
        return {self.term: context.run_if(due, lambda: compute() * float(every), zero)}

    def trace_key(self):
        return (type(self), self.penalty, self.term)

    def get_config(self):
        config = {
            **super().get_config(),
            "penalty": keras.saving.serialize_keras_object(self.penalty),
        }
        if self.term != "penalty":
            config["term"] = self.term
        return config


@register
class TopK(Trick):
    """Top-k generator updates: G learns from its most realistic samples.

    Sinha et al. 2020, "Top-k Training of GANs: Improving GAN Performance
    by Throwing Away Bad Samples": in each generator update only the `k`
    fakes D rates highest (a map of logits by its mean) contribute to G's
    gradient, `k = max(1, floor(max(fraction, minimum) * batch))`; the
    paper starts at the whole batch and multiplies the fraction by 0.99
    every epoch, down to `minimum` (0.5 to 0.75).

    The fakes outside the top `k` pass forward unchanged but carry no
    gradient, and the top `k` carry `batch / k` times theirs, so G's
    gradient is exactly that of the top `k`'s mean loss; the logged
    `g_loss` stays the whole batch's. Logged: `topk_fraction`.

    Args:
        fraction: float in (0, 1], or a `keras.optimizers.schedules`
            schedule of the step (the paper's decay:
            `ExponentialDecay(1.0, steps_per_epoch, 0.99)`).
        minimum: float in (0, 1]. The fraction never goes below it.
    """

    def __init__(self, fraction=1.0, minimum=0.5, **kwargs):
        super().__init__(**kwargs)
        self.fraction = check_scheduled(
            "fraction", fraction, low=0.0, high=1.0, low_open=True
        )
        self.minimum = check_number(
            "minimum", minimum, low=0.0, high=1.0, low_open=True
        )
        self._current = None

    def start_step(self, step):
        self._current = ops.maximum(
            ops.cast(scheduled_value("fraction", self.fraction, step), "float32"),
            self.minimum,
        )

    def generator_logits(self, fake_logits):
        fake_logits = ops.convert_to_tensor(fake_logits)
        fraction = self._current
        if fraction is None:  # outside a step
            fraction = ops.maximum(
                scheduled_value("fraction", self.fraction, 0), self.minimum
            )
        scores = per_sample(fake_logits)
        batch = ops.cast(ops.shape(scores)[0], "float32")
        k = ops.maximum(ops.floor(fraction * batch), 1.0)
        # Each fake's rank by D's score, 0 for the most realistic.
        ranks = ops.cast(ops.argsort(ops.argsort(-scores)), "float32")
        keep = ops.cast(ranks < k, fake_logits.dtype) * ops.cast(
            batch / k, fake_logits.dtype
        )
        keep = ops.reshape(keep, (-1,) + (1,) * (len(fake_logits.shape) - 1))
        frozen = ops.stop_gradient(fake_logits)
        return frozen + keep * (fake_logits - frozen)

    def logs(self):
        return {} if self._current is None else {"topk_fraction": self._current}

    def get_config(self):
        return {
            **super().get_config(),
            "fraction": scheduled_config(self.fraction),
            "minimum": self.minimum,
        }


@register
class ReplayBuffer(Trick):
    """A replay buffer of past fakes for the discriminator.

    ganhacks #8 ("experience replay"); TF-GAN's `tensor_pool`
    (Shrivastava et al. 2017's history of refined images): D is shown old
    fakes among the new, so it cannot forget the modes G left and G cannot
    cycle back to them. The buffer holds `size` fakes. While it fills, each
    D update's fakes go in and pass through; once full, each fake is
    swapped, with probability `probability`, for a random stored one, which
    it replaces. The buffer is the trick's state (saved, resumed), made
    when the GAN takes the trick (its sample shape). `size` must be at
    least the batch size.

    Args:
        size: int >= 1. Fakes kept (TF-GAN's default pool size is 50).
        probability: float in [0, 1]. The chance that a fake is swapped.
        seed: int or None.
    """

    def __init__(self, size=256, probability=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_int("size", size, low=1)
        self.probability = check_number("probability", probability, low=0.0, high=1.0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.stored = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="stored"
        )
        self.buffer = None

    def setup(self, gan):
        self.build_buffer(gan.sample_shape)

    def build_buffer(self, sample_shape):
        """Makes the buffer for samples of `sample_shape` (outside a GAN)."""
        if self.buffer is None:
            self.buffer = self.add_weight(
                shape=(self.size, *sample_shape),
                initializer="zeros",
                trainable=False,
                name="buffer",
            )

    def discriminator_fakes(self, fake, training):
        if not training:
            return fake
        batch = ops.shape(fake)[0]
        if isinstance(batch, int) and batch > self.size:
            raise ValueError(
                f"ReplayBuffer(size={self.size}) is smaller than the batch of "
                f"{batch} fakes: give it `size` >= the batch size."
            )
        fake = ops.stop_gradient(fake)
        pool = self.buffer.value
        stored = self.stored.value
        filling = stored < self.size
        slots = ops.arange(batch)
        fill_slots = ops.cast(
            ops.mod(ops.cast(stored, "int32") + slots, self.size), "int32"
        )
        shuffled = keras.random.shuffle(ops.arange(self.size), seed=self.seed_generator)
        swap_slots = ops.cast(shuffled[:batch], "int32")
        draw = keras.random.uniform((batch,), seed=self.seed_generator)
        swap = ops.logical_and(ops.logical_not(filling), draw < self.probability)
        index = ops.where(filling, fill_slots, swap_slots)
        old = ops.take(pool, index, axis=0)
        wide = (-1,) + (1,) * (len(fake.shape) - 1)
        swap_wide = ops.reshape(swap, wide)
        out = ops.where(swap_wide, ops.cast(old, fake.dtype), fake)
        written = ops.where(ops.reshape(ops.logical_or(filling, swap), wide), fake, old)
        self.buffer.assign(
            ops.scatter_update(
                pool, ops.expand_dims(index, 1), ops.cast(written, pool.dtype)
            )
        )
        self.stored.assign(
            ops.minimum(stored + ops.cast(batch, "float32"), float(self.size))
        )
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "probability": self.probability,
            "seed": self.seed,
        }


@register
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule times a factor.

    `DiscriminatorLRBalancer` wraps a discriminator optimizer's schedule in
    one, so it can lower and restore the rate while the schedule runs; the
    factor then comes from the balancer's state (`use_scale`).

    Args:
        schedule: `LearningRateSchedule`. The schedule to scale.
        scale: float. The factor (until `use_scale`).
    """

    def __init__(self, schedule, scale=1.0):
        self.schedule = schedule
        self.scale = float(scale)
        self._scale_fn = None

    def use_scale(self, fn):
        """Reads the factor from `fn()` (a float32 scalar tensor) from now on."""
        self._scale_fn = fn

    def current_scale(self):
        return self.scale if self._scale_fn is None else self._scale_fn()

    def __call__(self, step):
        return self.schedule(step) * ops.cast(self.current_scale(), "float32")

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "scale": float(ops.convert_to_numpy(self.current_scale())),
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            keras.saving.deserialize_keras_object(config["schedule"]), config["scale"]
        )


@register
class _ScalarState(keras.layers.Layer):
    """Named float scalars in one non-trainable vector (a trick's state).

    Saved in 0.1.0 files (`trick_states["lr_balancer"]`), so kept as is.
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
        self.built = True

    def read(self):
        """`{name: float}` (host side: one transfer)."""
        values = ops.convert_to_numpy(self.values)
        return {name: float(v) for name, v in zip(self.names, values, strict=True)}

    def unstack(self):
        """`{name: scalar tensor}` (in-step)."""
        values = ops.unstack(self.values.value)
        return dict(zip(self.names, values, strict=True))

    def assign_from(self, values):
        """Sets every value from `{name: scalar tensor}` (in-step)."""
        self.values.assign(
            ops.stack([ops.cast(values[name], "float32") for name in self.names])
        )

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "names": self.names}


def _label_floor(gan, samples=8192):
    """D's lowest reachable loss under the GAN's loss and label policy
    (`GANLoss.discriminator_floor`, estimated from `samples` draws)."""
    real = np.ones(samples, "float32")
    fake = np.zeros(samples, "float32")
    if gan.label_policy is not None:
        real, fake = gan.label_policy(real, fake, seed=keras.random.SeedGenerator(0))
        real, fake = ops.convert_to_numpy(real), ops.convert_to_numpy(fake)
    return gan.loss.discriminator_floor(real, fake)


@register
class DiscriminatorLRBalancer(Trick):
    """Lowers the discriminator's learning rate while D runs ahead of G, and
    settles at a rate that holds.

    The seeds' advice, "if the discriminator wins too easily, reduce its
    learning rate", as a feedback loop. Its signal is D's ranking accuracy
    (`ranking_accuracy`): how often D ranks a real sample of the batch
    above a fake one, averaged over windows of `patience` steps. It depends
    only on the order of D's logits, so it means the same under every loss
    and label policy, and it rises as soon as D runs ahead, long before D's
    loss nears its floor. On the digits DCGAN (`benchmarks/failures.py`)
    with D's rate 10x G's it climbs past 0.85 and stays there while D's
    loss sits near 0.8; with equal rates it stays at 0.6-0.77 after the
    first 100 steps (0.86 under the least-squares loss). At the end of each
    window, from `warmup` steps on:

    - D is ahead when the window's mean is above `target`, or when D's
      smoothed loss has stayed within `collapse_below` of its floor for
      `patience` steps while G's did not fall (the 0.1.0 rule). Then D's
      rate is multiplied by `factor` (never below `min_lr`: by default G's
      own rate, below which G would be the one running ahead). If the rate
      had held or risen since the last lowering, it is remembered as one
      that failed. D's lead outlasts a lowering by a few windows, so for
      two windows after one the signal lowers the rate again only if its
      mean still grew (lowerings in a row answer one failure). Once two
      lowerings in a row (by either rule) have left the signal where the
      first found it, neither rule lowers it further until the signal falls
      to `target`: D's rate is
      then not what keeps D ahead (G's own pace is, as when G's rate is
      tiny), and starving D only makes things worse.
    - D is calm when the mean is below `recover_below` (and the loss is
      off its floor). Then the rate is multiplied by `recover`, up to the
      starting rate, and never back to a rate that failed: at most to
      `sqrt(factor)` times the lowest one (the geometric midpoint between
      it and what its first lowering made of it). Each failure lowers that
      ceiling, so rounds of lowering and raising close in, from below, on a
      rate at which D stays between the two thresholds, and stop there.

    Between `recover_below` and `target` nothing moves (hysteresis).

    The floor is D's lowest reachable loss under the GAN's loss and label
    policy (0 with hard labels, the targets' entropy with smoothed or noisy
    ones; none under the Wasserstein loss, where only the signal is used).
    It all runs inside the step: the rate is D's optimizer's own variable
    (or a `ScaledSchedule` around its schedule); the state
    (`gan.trick_states["lr_balancer"]` and `["lr_balancer_control"]`) is
    saved with the GAN and restored by `BackupAndRestore`; the last changes
    are kept in `gan.trick_states["lr_balancer_changes"]` (read them with
    `read_changes`). The rate is logged as `d_lr`, the last window's mean
    as `d_rank`.

    Args:
        collapse_below: float > 0. How close to the floor D's smoothed loss
            must sit to count as collapsed.
        patience: int >= 1. Steps per window (each decision's evidence).
        factor: float in (0, 1). Multiplies the rate when D is ahead.
        min_lr: float >= 0, or None. The rate is never set below this;
            None: G's learning rate (0 without a GAN's `g_optimizer`).
        recover: float >= 1, or None. Multiplies the rate when D is calm,
            within the bounds above; None or 1 never raises it.
        smoothing: float in [0, 1). The loss averages' decay per step.
        floor: float or None. D's loss floor; computed from the GAN when None.
        target: float in (1/2, 1]. The ranking accuracy above which D is
            ahead (1 turns the signal off: only the loss rule acts).
        recover_below: float in [0, target). The ranking accuracy below
            which D is calm.
        warmup: int >= 0. Steps before the signal counts: a fresh
            generator's samples are noise that any D tells apart.
    """

    STATE = (
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
    #: The feedback loop's state: the window (sum and weight of the signal,
    #: the last window's mean), the lowest scale that failed (0: none),
    #: the last decision (1 lowered, -1 raised, 0 held),
    #: the windows since the last lowering, and the signal's lowerings in
    #: a row with the level the first of them found.
    CONTROL = ("total", "count", "signal", "upper", "last", "since", "run", "level")
    #: How far two lowerings in a row must bring the signal down from where
    #: the first found it for a third to be tried.
    FUTILE_BELOW = 0.01
    #: Windows after a lowering in which the signal lowers again only if
    #: it grew.
    COOLDOWN = 2
    #: Changes kept between reads: [count, then per slot the FIELDS].
    SLOTS = 32
    FIELDS = ("step", "old_lr", "new_lr", "reason", "signal", "excess")
    REASONS = {1.0: "ahead", 2.0: "floor", 3.0: "calm"}

    def __init__(
        self,
        collapse_below=0.1,
        patience=50,
        factor=0.5,
        min_lr=None,
        recover=2.0,
        smoothing=0.9,
        floor=None,
        target=0.8,
        recover_below=0.65,
        warmup=100,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.collapse_below = check_number(
            "collapse_below", collapse_below, low=0.0, low_open=True
        )
        self.patience = check_int("patience", patience, low=1)
        self.factor = check_number(
            "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.min_lr = (
            None if min_lr is None else check_number("min_lr", min_lr, low=0.0)
        )
        self.recover = (
            None if recover is None else check_number("recover", recover, low=1.0)
        )
        self.smoothing = check_number(
            "smoothing", smoothing, low=0.0, high=1.0, high_open=True
        )
        self.floor = None if floor is None else check_number("floor", floor)
        self.target = check_number("target", target, low=0.5, high=1.0, low_open=True)
        self.recover_below = check_number(
            "recover_below", recover_below, low=0.0, high=self.target, high_open=True
        )
        self.warmup = check_int("warmup", warmup, low=0)
        self.refs = Refs(
            optimizer=None,
            g_optimizer=None,
            state=None,
            changes=None,
            control=None,
            lr=None,
            schedule=None,
        )
        self._floor = 0.0

    # Binding to an optimizer (host side).

    def setup(self, gan):
        floor = self.floor
        if floor is None:
            floor = _label_floor(gan)  # None under the Wasserstein loss
        layers = [
            gan.attach_trick_state(layer.name, layer) for layer in self.new_state()
        ]
        self.bind_optimizer(gan.d_optimizer, *layers, floor, gan.g_optimizer)

    def new_state(self):
        """Fresh layers for the controller's state, its change log and its
        feedback loop."""
        names = [f"{f}_{i}" for i in range(self.SLOTS) for f in self.FIELDS]
        return (
            _ScalarState(self.STATE, name=BALANCER_STATE),
            _ScalarState(["count", *names], name=BALANCER_CHANGES),
            _ScalarState(self.CONTROL, name=BALANCER_CONTROL),
        )

    def bind_optimizer(
        self, optimizer, state, changes, control, floor, g_optimizer=None
    ):
        """Controls `optimizer`'s rate, keeping the controller's state in the
        `_ScalarState` layers from `new_state` (host side). `floor`: D's
        loss floor, or None to use the signal alone. `g_optimizer`: G's,
        whose rate is the lowest D's may take when `min_lr` is None."""
        refs = self.refs
        refs.optimizer, refs.state, refs.g_optimizer = optimizer, state, g_optimizer
        refs.changes, refs.control = changes, control
        self._floor = None if floor is None else float(floor)
        lr = optimizer.learning_rate
        if isinstance(lr, keras.Variable):
            refs.lr, refs.schedule = lr, None
        else:
            schedule = keras.optimizers.schedules.deserialize(
                optimizer.get_config()["learning_rate"]
            )
            if not isinstance(schedule, ScaledSchedule):
                schedule = ScaledSchedule(schedule)
                optimizer.learning_rate = schedule
            index = self.STATE.index("scale")
            values = state.values
            initialized = float(ops.convert_to_numpy(values[0]))
            if initialized:
                # The state's scale (restored) holds; else the schedule's.
                schedule.scale = float(ops.convert_to_numpy(values[index]))
            start = schedule.scale
            schedule.use_scale(lambda: ops.where(values[0] > 0, values[index], start))
            refs.lr, refs.schedule = None, schedule

    def current_lr(self):
        """D's learning rate now, as a float (host side)."""
        return float(ops.convert_to_numpy(self.refs.optimizer.learning_rate))

    # The controller, in keras.ops.

    def end_step(self, outcome):
        self.control(
            outcome.step,
            outcome.d_loss,
            outcome.g_loss,
            outcome.finite,
            outcome.real_logits,
            outcome.fake_logits,
        )

    def control(
        self, step, d_loss, g_loss, finite=True, real_logits=None, fake_logits=None
    ):
        """One step of the controller (in-step, or eagerly for other models).
        Without D's logits only the loss rule lowers the rate, and D is calm
        once its loss has stayed `2 * collapse_below` above the floor for
        `patience` steps."""
        refs = self.refs
        s = refs.state.unstack()
        c = refs.control.unstack()
        # A copy: on PyTorch the variable's tensor changes when it is assigned.
        lr_now = ops.copy(
            ops.cast(ops.convert_to_tensor(refs.optimizer.learning_rate), "float32")
        )
        scheduled = refs.schedule is not None
        # First step: the rate it starts from.
        fresh = ops.equal(s["initialized"], 0.0)
        unit = ops.ones((), "float32")
        no = ops.zeros((), "bool")
        base = ops.where(fresh, unit if scheduled else lr_now, s["base_lr"])
        scale = ops.where(fresh, unit, s["scale"])
        if scheduled:
            unscaled = lr_now / ops.where(fresh, unit, s["scale"])
            lr_now = unscaled * scale
        else:
            unscaled = base
        d_loss = ops.cast(d_loss, "float32")
        g_loss = ops.cast(g_loss, "float32")
        ok = ops.logical_and(
            ops.cast(finite, "bool"),
            ops.logical_and(ops.isfinite(d_loss), ops.isfinite(g_loss)),
        )
        smooth = ops.where(s["seen"] > 0, self.smoothing, 0.0)
        ema_d = smooth * s["ema_d"] + (1 - smooth) * d_loss
        ema_g = smooth * s["ema_g"] + (1 - smooth) * g_loss

        # The 0.1.0 rule: D's loss at its floor while G's does not fall.
        if self._floor is None:
            excess = ops.zeros((), "float32")
            collapsed = at_floor = no
            streak = g_reference = ops.zeros((), "float32")
        else:
            excess = ema_d - self._floor
            collapsed = excess < self.collapse_below
            streak = ops.where(collapsed, s["collapse_streak"] + 1, 0.0)
            g_reference = ops.where(
                ops.logical_and(collapsed, ops.equal(s["collapse_streak"], 0.0)),
                ema_g,
                s["g_reference"],
            )
            fire = ops.logical_and(collapsed, streak >= self.patience)
            # G's loss has not fallen meaningfully: G is not catching up.
            stuck = ema_g >= g_reference - 0.1 * ops.abs(g_reference)
            at_floor = ops.logical_and(fire, stuck)
            streak = ops.where(fire, 0.0, streak)

        # The signal: D's ranking accuracy over windows of `patience` steps.
        window = (c["total"], c["count"], c["signal"])
        balance = s["balance_streak"]
        if real_logits is not None and self.target < 1.0:
            value = ranking_accuracy(real_logits, fake_logits)
            # Not before `warmup` steps: D tells a fresh G's noise apart.
            counted = ops.logical_and(ok, ops.cast(step, "int32") > self.warmup)
            due, mean, _, window = feedback_window(
                window, value, ops.cast(counted, "float32"), step, self.patience
            )
            ahead = ops.logical_and(due, mean > self.target)
            # D's lead outlasts a lowering for a while: within `COOLDOWN`
            # windows of one, lower again only if the lead still grew.
            waited = c["since"] >= self.COOLDOWN
            ahead = ops.logical_and(ahead, ops.logical_or(waited, mean > c["signal"]))
            since = ops.where(due, c["since"] + 1, c["since"])
            # Two lowerings in a row (by either rule) that left the signal
            # where the first found it: D's rate is not what keeps D ahead
            # (G's own pace is); lowering further would only starve D.
            now = ops.where(due, mean, c["signal"])
            # (A level of 0: the run began before any window was measured.)
            level = ops.where(
                ops.logical_and(due, ops.equal(c["level"], 0.0)), mean, c["level"]
            )
            futile = ops.logical_and(c["run"] >= 2, level > 0.0)
            futile = ops.logical_and(futile, now >= level - self.FUTILE_BELOW)
            ahead = ops.logical_and(ahead, ops.logical_not(futile))
            at_floor = ops.logical_and(at_floor, ops.logical_not(futile))
            # A run of lowerings ends when the signal falls to the target.
            run = ops.where(ops.logical_and(due, mean <= self.target), 0.0, c["run"])
            lowers = ops.logical_or(ahead, at_floor)
            first = ops.logical_and(lowers, ops.equal(run, 0.0))
            level = ops.where(first, now, level)
            run = ops.where(lowers, run + 1, run)
            calm = ops.logical_and(due, mean < self.recover_below)
            calm = ops.logical_and(calm, ops.logical_not(collapsed))
        else:
            ahead = no
            since, run, level = c["since"], c["run"], c["level"]
            off_floor = ops.logical_and(
                ops.logical_not(collapsed), excess > 2 * self.collapse_below
            )
            balance = ops.where(off_floor, balance + 1, 0.0)
            calm = ops.logical_and(off_floor, balance >= self.patience)
            balance = ops.where(calm, 0.0, balance)
        if self.recover in (None, 1.0):
            calm = no
        reduce = ops.logical_or(ahead, at_floor)

        upper = c["upper"]
        lowered = ops.minimum(scale * self.factor, 1.0)
        floor_scale = ops.where(
            unscaled > 0, self._min_lr() / ops.maximum(unscaled, 1e-30), 0.0
        )
        lowered = ops.maximum(lowered, ops.minimum(scale, floor_scale))
        # A rate failed when D ran ahead at it after the rate had held or
        # risen; the lowerings that follow in a row answer the same failure
        # (D's lead outlasts the change). The rate never rises back to one
        # that failed: at most to the geometric midpoint between the lowest
        # one and what the first lowering made of it.
        failed = ops.logical_and(reduce, ops.not_equal(c["last"], 1.0))
        upper = ops.where(
            failed, ops.where(upper > 0, ops.minimum(upper, scale), scale), upper
        )
        raised = ops.minimum(scale * (self.recover or 1.0), 1.0)
        ceiling = upper * self.factor**0.5
        raised = ops.where(upper > 0, ops.minimum(raised, ceiling), raised)
        rise = ops.logical_and(calm, raised > scale * 1.01)
        new_scale = ops.where(reduce, lowered, ops.where(rise, raised, scale))
        decided = ops.logical_or(reduce, calm)
        last = ops.where(
            reduce, 1.0, ops.where(decided, ops.where(rise, -1.0, 0.0), c["last"])
        )
        changed = ops.logical_and(ok, ops.not_equal(new_scale, scale))
        new = {
            "initialized": unit,
            "base_lr": base,
            "scale": ops.where(ok, new_scale, scale),
            "ema_d": ops.where(ok, ema_d, s["ema_d"]),
            "ema_g": ops.where(ok, ema_g, s["ema_g"]),
            "g_reference": ops.where(ok, g_reference, s["g_reference"]),
            "collapse_streak": ops.where(ok, streak, s["collapse_streak"]),
            "balance_streak": ops.where(ok, balance, s["balance_streak"]),
            "seen": ops.where(ok, s["seen"] + 1, s["seen"]),
        }
        refs.state.assign_from(new)
        refs.control.assign_from(
            {
                "total": window[0],
                "count": window[1],
                "signal": window[2],
                "upper": ops.where(ok, upper, c["upper"]),
                "last": ops.where(ok, last, c["last"]),
                "since": ops.where(ok, ops.where(reduce, 0.0, since), c["since"]),
                "run": ops.where(ok, run, c["run"]),
                "level": ops.where(ok, level, c["level"]),
            }
        )
        if not scheduled:
            refs.lr.assign(ops.cast(base * new["scale"], refs.lr.dtype))
        new_lr = unscaled * new["scale"]
        reason = ops.where(ahead, 1.0, ops.where(at_floor, 2.0, 3.0))
        self._record(changed, (step, lr_now, new_lr, reason, window[2], excess))
        self._d_lr = new_lr
        self._signal = window[2]

    def _min_lr(self):
        if self.min_lr is not None:
            return self.min_lr
        g_optimizer = self.refs.g_optimizer
        if g_optimizer is None:
            return 0.0
        return ops.cast(ops.convert_to_tensor(g_optimizer.learning_rate), "float32")

    def _record(self, changed, entry):
        variable = self.refs.changes.values
        values = variable.value
        count = values[0]
        slot = ops.cast(ops.mod(count, self.SLOTS), "int32")
        entry = ops.stack([ops.cast(v, "float32") for v in entry])
        width = len(self.FIELDS)
        rows = ops.reshape(values[1:], (self.SLOTS, width))
        hit = ops.equal(ops.arange(self.SLOTS, dtype="int32"), slot)[:, None]
        rows = ops.where(ops.logical_and(hit, changed), entry[None, :], rows)
        count = count + ops.cast(changed, "float32")
        variable.assign(ops.concatenate([count[None], ops.reshape(rows, (-1,))]))

    def logs(self):
        return {"d_lr": self._d_lr, "d_rank": self._signal}

    def read_changes(self, since=0):
        """The changes made since the `since`-th (host side: one transfer):
        `(count, [dict of FIELDS])`, the oldest lost past `SLOTS`; each
        `reason` is `"ahead"`, `"floor"` or `"calm"`."""
        values = ops.convert_to_numpy(self.refs.changes.values)
        count = int(values[0])
        rows = values[1:].reshape(self.SLOTS, len(self.FIELDS))
        first = max(since, count - self.SLOTS)
        found = []
        for i in range(first, count):
            change = dict(
                zip(self.FIELDS, map(float, rows[i % self.SLOTS]), strict=True)
            )
            change["reason"] = self.REASONS.get(change["reason"], "calm")
            found.append(change)
        return count, found

    def describe(self, change):
        """A sentence for a change from `read_changes`."""
        if change["reason"] == "ahead":
            return (
                f"D ranked reals above fakes {change['signal']:.1%} of the time over "
                f"{self.patience} steps (target {self.target:.0%})"
            )
        if change["reason"] == "floor":
            return (
                f"D's loss within {change['excess']:.3g} of its floor "
                f"{self._floor:.3g} for {self.patience} steps while G's did not fall"
            )
        return (
            f"D calm (ranking accuracy {change['signal']:.1%}, below "
            f"{self.recover_below:.0%}); the rate rises, short of any that failed"
        )

    def trace_key(self):
        return (type(self), tuple(sorted(self.get_config().items())), self._floor)

    def get_config(self):
        return {
            **super().get_config(),
            "collapse_below": self.collapse_below,
            "patience": self.patience,
            "factor": self.factor,
            "min_lr": self.min_lr,
            "recover": self.recover,
            "smoothing": self.smoothing,
            "floor": self.floor,
            "target": self.target,
            "recover_below": self.recover_below,
            "warmup": self.warmup,
        }


@register
class NonFiniteGuard(keras.layers.Layer):
    """Keeps a GAN's last finite state when a step turns non-finite.

    Owns the latch `[steps of this fit, first non-finite step or 0]`: once a
    step is non-finite, the later steps of the same `fit` apply nothing, so
    `fit` may dispatch steps ahead of the callback that stops it and still
    keep the last finite state. `begin` snapshots the running statistics
    (batch norm, spectral norm's vector) that a forward pass assigns; `end`
    puts them back after a non-finite step (the glue skips the weights' and
    optimizers' updates itself).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.latch = self.add_weight(
            shape=(2,),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            name="non_finite",
        )
        self.built = True

    def begin(self, statistics):
        """Snapshots `statistics` (variables); returns a token for `end`
        whose `allowed` says whether this step may apply anything."""
        saved = [ops.copy(variable.value) for variable in statistics]
        steps, first = ops.unstack(self.latch.value)
        return {
            "statistics": list(statistics),
            "saved": saved,
            "steps": steps,
            "first": first,
            "allowed": ops.equal(first, 0),
        }

    def end(self, token, finite):
        for variable, value in zip(token["statistics"], token["saved"], strict=True):
            variable.assign(ops.where(finite, variable.value, value))
        steps = token["steps"] + 1
        first = ops.where(
            ops.logical_and(token["allowed"], ops.logical_not(finite)),
            steps,
            token["first"],
        )
        self.latch.assign(ops.cast(ops.stack([steps, first]), "int32"))

    def reset(self):
        self.latch.assign(ops.zeros((2,), "int32"))

    def first_non_finite(self):
        """The first non-finite step of this fit, or 0 (host side)."""
        return int(ops.convert_to_numpy(self.latch)[1])

    def load_own_variables(self, store):
        if len(store.keys()):  # 0.1.0 files kept the latch in the GAN
            super().load_own_variables(store)


def chain_hooks(tricks):
    """`{hook: [tricks overriding it]}`, in the tricks' order."""
    table = {name: [] for name in HOOKS}
    for trick in tricks:
        for name in trick.hooks():
            table[name].append(trick)
    return table
