"""Instance noise on D's inputs: fixed, adaptive, and its decay."""

import keras
import numpy as np
from keras import ops

from keras_gan_tricks._backend import primitives
from keras_gan_tricks._utils import check_int, check_number, register, walk_layers
from keras_gan_tricks.tricks.alarms import Alarm, ahead
from keras_gan_tricks.tricks.base import Refs, Trick
from keras_gan_tricks.tricks.signals import adapt_knob, check_signal
from keras_gan_tricks.tricks.state import ScalarState

DECAY_KINDS = ("linear", "exponential", "cosine")


@register
class InstanceNoise(Trick):
    """Gaussian noise on the discriminator's inputs, in training only.

    Sønderby et al. 2017 ("Amortised MAP Inference for Image
    Super-resolution", sec. 3.2) and Arjovsky & Bottou 2017: adding the same
    noise to real and generated samples makes their distributions overlap,
    so the discriminator cannot separate them perfectly and its gradients
    stay informative. The noise is usually decayed to zero over training
    (`kgt.callbacks.InstanceNoiseDecay`).

    Put it first in any discriminator, pass `instance_noise=` to `kgt.GAN`,
    or list it in `GAN.compile(tricks=[...])` (it is a `kgt.tricks.Trick`):
    the GAN then applies this same layer to everything its discriminator
    sees. At inference (`training=False`) it is the identity.

    The standard deviation lives in a non-trainable variable, `.stddev`, so
    it is saved and restored with the model and can be changed while
    training (`layer.stddev.assign(0.05)`; `float(layer.stddev)` reads it).

    Args:
        stddev: float >= 0. The noise's standard deviation, in the units of
            the inputs (images in [-1, 1]: 0.1 to 0.3 is typical to start).
        seed: int or None. Seeds the layer's own random stream.

    Call arguments:
        inputs: Tensor of any shape.
        training: bool. Adds noise only when True.

    Example:

    >>> layer = kgt.layers.InstanceNoise(0.2)
    >>> x = keras.ops.zeros((2, 3))
    >>> bool(keras.ops.all(layer(x, training=False) == x))
    True
    """

    def __init__(self, stddev=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        stddev = check_number("stddev", stddev, low=0.0)
        if seed is not None:
            seed = check_int("seed", seed)
        self.seed = seed
        # On TensorFlow its draws differ between tf.distribute replicas.
        self.seed_generator = primitives.seed_generator(seed)
        self.stddev = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(stddev),
            trainable=False,
            name="stddev",
        )
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        noise = keras.random.normal(
            ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator
        )
        return inputs + ops.cast(self.stddev, inputs.dtype) * noise

    def discriminator_input(self, samples, training):
        return self(samples, training=training)

    def trace_key(self):
        return id(self)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "stddev": float(ops.convert_to_numpy(self.stddev)),
            "seed": self.seed,
        }


@register
class AdaptiveInstanceNoise(InstanceNoise):
    """Instance noise whose stddev follows how far D has run ahead.

    Instance noise (see `InstanceNoise`) with ADA's feedback rule (Karras
    et al. 2020, sec. 3) driving its stddev instead of a fixed decay: every
    `interval` steps, with D's signal averaged over them, the stddev moves
    by `sign(signal - target) * maximum * images / speed`, clipped to
    [0, `maximum`]: up while D separates real from fake better than
    `target`, down otherwise. A D that memorises a small dataset gets more
    noise; once G catches up the noise fades on its own.

    The signal is D's ranking accuracy (`kgt.tricks.ranking_accuracy`: how
    often D ranks a real sample above a fake one; the same under every loss
    and label policy), or ADA's `r_t = E[sign(D(x_real))]` with
    `signal="sign"`. The stddev and the feedback window are variables of
    the trick: saved, restored by `BackupAndRestore`; the stddev is logged
    as `noise_stddev`, the signal as `noise_signal`.

    Use it in `GAN.compile(tricks=[kgt.layers.AdaptiveInstanceNoise()])`
    (it needs the step's logits; as a plain layer it is `InstanceNoise`
    with a fixed stddev).

    Args:
        target: float in (0, 1). The signal aimed at.
        interval: int >= 1. Steps between adjustments.
        speed: int >= 1. Samples over which the stddev can go from 0 to
            `maximum`.
        maximum: float > 0. The largest stddev (in the units of the inputs).
        initial: float in [0, maximum]. The stddev at the start.
        signal: `"ranking"` or `"sign"`.
        seed: int or None. Seeds the noise.
    """

    def __init__(
        self,
        target=0.85,
        interval=4,
        speed=20_000,
        maximum=0.5,
        initial=0.0,
        signal="ranking",
        seed=None,
        **kwargs,
    ):
        kwargs.pop("stddev", None)
        self.maximum = check_number("maximum", maximum, low=0.0, low_open=True)
        self.initial = check_number("initial", initial, low=0.0, high=self.maximum)
        super().__init__(stddev=initial, seed=seed, **kwargs)
        self.target = check_number(
            "target", target, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.interval = check_int("interval", interval, low=1)
        self.speed = check_int("speed", speed, low=1)
        self.signal = check_signal(signal)
        # The feedback window: [weighted sum of the signal, samples, last mean]
        self.feedback = self.add_weight(
            shape=(3,), initializer="zeros", trainable=False, name="feedback"
        )

    def end_step(self, outcome):
        adapt_knob(
            self.stddev,
            self.feedback,
            outcome,
            self.signal,
            self.target,
            self.interval,
            self.speed,
            self.maximum,
        )

    def logs(self):
        return {"noise_stddev": self.stddev.value, "noise_signal": self.feedback[2]}

    def alarm(self, step, logs):
        """The stddev at its maximum while D's signal stays above target."""
        stddev, signal = logs.get("noise_stddev"), logs.get("noise_signal")
        if stddev is None or stddev < self.maximum * 0.999:
            return None
        if not ahead(signal, self.target):
            return None
        return Alarm(
            "noise_at_maximum",
            f"D's {self.signal} signal is {signal:.3f} (target {self.target}) with "
            f"the noise on its inputs at its maximum, stddev {self.maximum}",
            "AdaptiveInstanceNoise raised the noise as far as it may: it now "
            "blurs what D sees, and D is still ahead",
            "D's lead is more than noise can hide: lower D's learning rate or "
            "its capacity, or use the balancer or DiffAugment instead (failure "
            "atlas, D's rate 10x G's: balancer FD 14.5, DiffAugment 17.6, "
            "adaptive noise 23.3, vanilla 58.6); or raise `maximum`",
        )

    def get_config(self):
        config = super().get_config()
        config.pop("stddev")
        return {
            **config,
            "target": self.target,
            "interval": self.interval,
            "speed": self.speed,
            "maximum": self.maximum,
            "initial": self.initial,
            "signal": self.signal,
        }


def instance_noise_in(*roots):
    """Every `InstanceNoise` layer in `roots` and the layers inside them,
    each once, in the order found (not the adaptive ones: they set their
    own stddev)."""
    found = []
    for root in roots:
        for layer in walk_layers(root):
            fixed = not isinstance(layer, AdaptiveInstanceNoise)
            if (
                isinstance(layer, InstanceNoise)
                and fixed
                and all(layer is not f for f in found)
            ):
                found.append(layer)
    return found


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
                ScalarState(["start", "total"], name="noise_decay_range"),
            )

    def _fit_range(self):
        if self.refs.fit_range is None:  # a model that is not a kgt.GAN
            self.refs.fit_range = ScalarState(
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
